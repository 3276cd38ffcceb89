/* SPDX-License-Identifier: MIT */
/* http_handler.h - a public request from the HTTP API (payload 2.0): route it to a tunnel, post
 * it to the agent (the head, then 93 KiB body pieces; docs/protocol.md §2), wait for the answer
 * (answer.h) and return the 2.0 response; cancel the request at the agent when giving up.
 * Owns nothing beyond one invocation. */
#ifndef LAMBDA_HTTP_HANDLER_H
#define LAMBDA_HTTP_HANDLER_H

#include <jansson.h>
#include <stddef.h>

#include "lambda_ctx.h"
#include "events.h"
#include "http1.h"

/* Returns the Lambda response document (malloc'd JSON text), NULL only when out of memory. */
char *http_handle(lambda_ctx *ctx, const json_t *ev, size_t *len);

/* The header list forwarded to the agent for request e: the request rules of lib/proxy.h
 * (hop-by-hop removed, X-Forwarded-* set, content-length made exact). prefix is "/<id>" in path
 * mode, NULL in subdomain mode; authority an absolute-form target's (it replaces Host), else NULL;
 * loop_mark the deployment's CDN-Loop mark for the tunnel (proxy_loop_mark), appended, or NULL.
 * out is replaced. 0 or -1. */
int http_forward_headers(const http_event *e, const char *prefix, const char *authority,
                         const char *loop_mark, http_headers *out);

/* Frees the route cache's copies of access policies (at exit). */
void http_routes_free(lambda_ctx *ctx);

#endif
