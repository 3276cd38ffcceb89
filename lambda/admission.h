/* SPDX-License-Identifier: MIT */
/* admission.h - at most MAX_WAITING_REQUESTS public requests wait for their answers at once,
 * across every execution environment of the HTTP function (docs/serverless.md "Admission"):
 * each waiting request holds one of the function's environments for up to 25 s, and once all
 * of its reserved concurrency is taken Lambda throttles and API Gateway answers 500. So the
 * function admits fewer than its concurrency and answers the rest itself, at once, with a 503
 * and Retry-After, from the environments left over.
 * A request holds a lease in one DynamoDB item (store.h "admission leases"): taken by a
 * conditional UpdateItem on the map's size, released after the response has been posted to
 * the Runtime API (no latency for the client), and expiring at the invocation's deadline or 1 s
 * after the request's own wait bound (answer_wait_bound), whichever is sooner, so that an
 * invocation that dies (timeout, crash) holds its place no longer than a live one could;
 * expired leases are removed when a request would be refused.
 * Per agent: at most MAX_WAITING_PER_AGENT of them wait for the same agent connection (one item
 * per connection, the same leases), so that one tunnel's flood leaves room for the others: the
 * rest get ttfd's answer to a busy agent (503 "tunnel agent busy: try again", Retry-After: 1).
 * Owns: the current invocation's leases (ctx->lease_held, ctx->agent_lease). */
#ifndef LAMBDA_ADMISSION_H
#define LAMBDA_ADMISSION_H

#include "lambda_ctx.h"

typedef enum {
    ADMIT_OK = 0, /* admitted (a lease is held until admission_leave), or no limit set */
    ADMIT_FULL,   /* MAX_WAITING_REQUESTS requests wait already: answer 503 */
    ADMIT_ERROR,  /* the table could not be read or written (logged): answer 503 too */
} admit_result;

/* Takes a lease for the current invocation (ctx->invocation_id, until ctx->deadline_ms or 1 s
 * after its request's wait bound ctx->wait_until_ms, whichever is sooner), once:
 * a second call while it is held admits at once. */
admit_result admission_enter(lambda_ctx *ctx);
/* Takes the invocation's lease among the requests waiting for agent connection cid
 * (MAX_WAITING_PER_AGENT; 0: admitted, no item). A lease held for another connection is given
 * back first (the request moves on to the tunnel's next connection). */
admit_result admission_enter_agent(lambda_ctx *ctx, const char *cid);
/* Releases the agent connection's lease, if one is held. */
void admission_leave_agent(lambda_ctx *ctx);
/* Releases both leases, those held (after the response was posted). */
void admission_leave(lambda_ctx *ctx);

#endif
