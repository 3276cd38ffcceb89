/* SPDX-License-Identifier: MIT */
/* answer.h - the agent's answer to one public request, as the HTTP function waits for it: the
 * response head, then its body pieces as they land in the pending table (store.h), judged by the
 * response rules of lib/resp_frame (those ttfd frames responses by) before anything reaches
 * the client (issue 12 item 1, the Lambda path): bodiless statuses and answers to HEAD carry no
 * body; a Content-Length is exact; pieces past the last one, a second response or a body where none
 * may be make the answer a 502 of the tunnel's own, logged naming the tunnel; interim responses
 * never reach it (ws_handlers drops them). The whole body is assembled (payload format 2.0 returns
 * one document). Owns nothing beyond one call. */
#ifndef LAMBDA_ANSWER_H
#define LAMBDA_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lambda_ctx.h"
#include "route.h"

typedef struct answer_req {
    const char *rid;        /* the request id (proxy_request_id) */
    const char *cid;        /* the connection it was posted to */
    const route_result *rr; /* the tunnel and how it was routed (path mode rewrites) */
    bool head_request;      /* HEAD: no body whatever the head says */
    int64_t start;          /* Unix ms the budget runs from (API Gateway's timeEpoch) */
    bool *lost;             /* set when the connection went away before any answer (may be NULL) */
} answer_req;

/* Waits until the answer is complete, failed, or out of time, and returns the 2.0 response
 * document (malloc'd; NULL when out of memory) with its status in *status. The request's items
 * are deleted after the response is sent (ctx->defer_*). */
char *answer_wait(lambda_ctx *ctx, const answer_req *r, int *status, size_t *len);
/* The latest time (Unix ms) answer_wait waits for a request API Gateway got at start (Unix ms):
 * its body deadline, start + 27 s or the request timeout, whichever is later, and 0.5 s before
 * the invocation's deadline at the latest. */
int64_t answer_wait_bound(const lambda_ctx *ctx, int64_t start);

/* Deletes the items of the request answer_wait last finished (ctx->defer_*: the request item,
 * its pieces and head continuations) and forgets it; nothing when there is none. A failure is
 * logged (the items' TTL expires them). */
void answer_cleanup(lambda_ctx *ctx);

/* Tells the agent on cid to drop request rid (docs/protocol.md §2 "Cancel"): the Lambda gave up
 * on it (out of time, too large, a breach of the response rules) or will not send the rest of
 * its body. The HTTP API never tells a Lambda that its client left, so that is the only cancel
 * this side sends. Best effort: one post, a failure is logged. */
void answer_cancel(lambda_ctx *ctx, const char *cid, const char *rid, const char *reason);

/* The reasons a response never reaches the client (public body texts; the log says which). */
#define ANSWER_OVER_LENGTH "the tunnel agent sent a body longer than its Content-Length"
#define ANSWER_SHORT "the tunnel agent ended a body shorter than its Content-Length"
#define ANSWER_BODILESS "the tunnel agent sent a body for a response that has no body"
#define ANSWER_AFTER_END "the tunnel agent sent data after the end of its response"
#define ANSWER_SECOND "the tunnel agent sent a second response"
#define ANSWER_BAD_LENGTH "the tunnel agent sent an invalid Content-Length"

#endif
