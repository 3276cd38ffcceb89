/* SPDX-License-Identifier: MIT */
/* rewrite.h - what the agent changes in HTTP heads (docs/protocol.md §4): Host towards the local
 * service, hop-by-hop headers on the way back, and the heads built for JSON-mode exchanges.
 * Pure functions over http1 header lists; every returned head is malloc'd and the caller's. */
#ifndef TTF_REWRITE_H
#define TTF_REWRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "http1.h"

/* Request head for the local service: Host set to hostport unless keep_host. Modifies h. */
char *rewrite_request_head(const char *method, const char *target, http_headers *h,
                           const char *hostport, bool keep_host, size_t *len);

/* Binary mode response head: the response rules of lib/proxy.h with the body relayed raw
 * (Transfer-Encoding kept; Connection/Upgrade kept on a 101). Modifies h. */
char *rewrite_response_head_bin(int status, http_headers *h, size_t *len);

/* JSON mode: request headers from the tunnel. Removes hop-by-hop headers (the body arrives
 * decoded), sets Host, and picks the framing: the given Content-Length when there is one, else
 * chunked when more pieces follow (*chunked set), else Content-Length = body_len (omitted for an
 * empty body of a method that normally has none). Returns the head. Modifies h. */
char *rewrite_json_request_head(const char *method, const char *target, http_headers *h,
                                const char *hostport, bool keep_host, size_t body_len, bool more,
                                bool *chunked, size_t *len);

/* JSON mode response headers: the response rules of lib/proxy.h with the body decoded
 * (hop-by-hop and Transfer-Encoding removed; Content-Length kept unless Transfer-Encoding framed
 * the body or the status has no body). 0 or -1 (ENOMEM). Modifies h. */
int rewrite_json_response_headers(int status, http_headers *h);

#endif
