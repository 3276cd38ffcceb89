/* SPDX-License-Identifier: MIT */
/* cleanup.h - the scheduled (EventBridge) cleanup: deletes expired items of both tables, every
 * Scan page, as a backstop to DynamoDB's own TTL expiry (which may lag up to days).
 * Owns nothing beyond one invocation. */
#ifndef LAMBDA_CLEANUP_H
#define LAMBDA_CLEANUP_H

#include <stddef.h>

#include "lambda_ctx.h"

/* Returns {"connectionsDeleted":n,"requestsDeleted":m,"timestamp":now} (malloc'd), or NULL
 * with a reason in err when a table could not be scanned. */
char *cleanup_run(lambda_ctx *ctx, size_t *len, char *err, size_t errcap);

#endif
