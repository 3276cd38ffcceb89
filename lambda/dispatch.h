/* SPDX-License-Identifier: MIT */
/* dispatch.h - one invocation: parse the event, route it to its handler, produce the response
 * document; then the work deferred until after the response (deleting finished requests).
 * Owns nothing beyond one invocation. */
#ifndef LAMBDA_DISPATCH_H
#define LAMBDA_DISPATCH_H

#include <stddef.h>

#include "lambda_ctx.h"

/* Returns the response document (malloc'd), or NULL with an error type and message for the
 * Runtime API's error endpoint (unknown event, unparsable event). */
char *dispatch_event(lambda_ctx *ctx, const char *event, size_t n, size_t *len, const char **etype,
                     char *emsg, size_t emsgcap);
/* Runs and clears the deferred work: releases the admission lease, deletes finished items. */
void dispatch_after(lambda_ctx *ctx);

#endif
