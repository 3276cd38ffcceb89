/* SPDX-License-Identifier: MIT */
/* ws_handlers.h - the WebSocket API routes: $connect (auth, tunnel record, subprotocol
 * selection), $default (the agent's messages: ready, ping, http_response[_body], error) and
 * $disconnect. Each returns the Lambda response document (malloc'd JSON text).
 * Owns nothing beyond one invocation. */
#ifndef LAMBDA_WS_HANDLERS_H
#define LAMBDA_WS_HANDLERS_H

#include <jansson.h>
#include <stddef.h>

#include "lambda_ctx.h"

char *ws_handle_connect(lambda_ctx *ctx, const json_t *ev, size_t *len);
char *ws_handle_message(lambda_ctx *ctx, const json_t *ev, size_t *len);
char *ws_handle_disconnect(lambda_ctx *ctx, const json_t *ev, size_t *len);

/* Picks ttf.json.v1 from a Sec-WebSocket-Protocol offer ("ttf.bin.v1, ttf.json.v1"); NULL when
 * it is not offered. */
const char *ws_select_subprotocol(const char *offer);

#endif
