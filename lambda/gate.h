/* SPDX-License-Identifier: MIT */
/* gate.h - access control on the Lambda path (docs/serverless.md "Access control"), the same
 * rules as ttfd's (lib/access.h):
 * - at ready, each tunnel's `access` is checked (a bad one is refused with tunnel_refused
 *   "access_invalid") and its stored form (no password: an HMAC under a random key) is written
 *   on the connection record (the first tunnel) or the tunnel's item (the others, store.h)
 *   before its name points at the connection (ready.c);
 * - each public request is decided against the record of the connection it would be sent to,
 *   with the client address API Gateway saw (requestContext.http.sourceIp); until the record
 *   has a policy (ready not handled yet) the answer is 503 with Retry-After;
 * - the rate limit counts requests per client address (IPv6 per /64) in fixed windows of
 *   per_sec seconds, shared by every Lambda instance: one DynamoDB atomic ADD per request on
 *   a "rate#<tunnel>#<client>#<window>" item of the pending table, expiring with its window.
 *   (A fixed window lets up to twice the limit through around a window's edge; ttfd's token
 *   bucket does not. A failed count lets the request through and is logged.)
 * Owns nothing beyond a call. */
#ifndef LAMBDA_GATE_H
#define LAMBDA_GATE_H

#include <stddef.h>

#include "access.h"
#include "events.h"
#include "lambda_ctx.h"
#include "proto_json.h"

/* One tunnel's ready access (JSON text, NULL: none) in the form stored on its connection record
 * or tunnel item (*stored, malloc'd; "{}" for none; *applied: a policy is in force): 0, 1 refused
 * (why for the agent), -1 out of memory. */
int gate_prepare(const char *json, char **stored, bool *applied, char *why, size_t cap);

typedef enum { GATE_ALLOW = 0, GATE_REFUSED, GATE_NOT_READY, GATE_ERROR } gate_result;

/* Decides request e for tunnel tid over a connection whose record's access attribute is
 * access_text (NULL: a record written before access control existed, no policy). fwd: the
 * header list to forward, from which Authorization is removed when it carried the tunnel's
 * credentials. On GATE_REFUSED, v says why. */
gate_result gate_check(lambda_ctx *ctx, const char *tid, const char *access_text,
                       const http_event *e, http_headers *fwd, access_verdict *v);

/* The 2.0 response for a refusal (401/403/429 with their headers) or, v NULL, the 503 of a
 * tunnel not ready yet. NULL when out of memory. */
char *gate_response(const access_verdict *v, const char *tid, size_t *len);

#endif
