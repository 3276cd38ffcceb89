/* SPDX-License-Identifier: MIT */
/* admission.c - leases of waiting public requests (admission.h). */
#include "admission.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "proxy.h"

#define ERRCAP 256
/* Rounds of take, then (refused) read and create the map or remove expired leases. */
#define ADMIT_ROUNDS 3

/* The lease's id: the Lambda request id of the invocation, unique per invocation. */
static const char *lease_id(lambda_ctx *ctx)
{
    if (!ctx->invocation_id[0] && proxy_request_id(ctx->invocation_id, NULL) < 0)
        snprintf(ctx->invocation_id, sizeof ctx->invocation_id, "no-id");
    return ctx->invocation_id;
}

/* Removes the expired leases of map m (at now_ms): 1 when some were, 0 when none, -1. */
static int prune(lambda_ctx *ctx, json_t *m, int64_t now_ms, char *err)
{
    const char *ids[STORE_LEASE_DROP_MAX];
    size_t n = 0;
    const char *id;
    json_t *v;
    json_object_foreach(m, id, v)
    {
        int64_t exp;
        if (n < STORE_LEASE_DROP_MAX && ddb_get_n(m, id, &exp) == 0 && exp <= now_ms)
            ids[n++] = id;
    }
    (void)v;
    if (n == 0)
        return 0;
    TLOG_I(ctx->log, "admission: %zu lease(s) of invocations that ended without releasing expired",
           n);
    return store_lease_drop(&ctx->st, ids, n, err, ERRCAP) == 0 ? 1 : -1;
}

admit_result admission_enter(lambda_ctx *ctx)
{
    int max = ctx->cfg->max_waiting;
    if (max <= 0 || ctx->lease_held)
        return ADMIT_OK;
    char err[ERRCAP];
    const char *id = lease_id(ctx);
    for (int round = 0; round < ADMIT_ROUNDS; round++) {
        int64_t now = clock_wall_ms();
        /* the lease ends with the invocation: Lambda stops it at its deadline at the latest */
        int64_t expiry = ctx->deadline_ms > now
                             ? ctx->deadline_ms
                             : now + ((int64_t)ctx->cfg->request_timeout_s + 5) * 1000;
        int rc = store_lease_take(&ctx->st, id, expiry, max, now / 1000, err, sizeof err);
        if (rc == 0) {
            ctx->lease_held = true;
            return ADMIT_OK;
        }
        if (rc != DDB_CONDITION)
            goto failed;
        json_t *m;
        rc = store_lease_read(&ctx->st, &m, err, sizeof err);
        if (rc < 0)
            goto failed;
        if (rc == 1) { /* no map yet (first use, or the cleanup deleted an idle one) */
            if (store_lease_init(&ctx->st, now / 1000, err, sizeof err) < 0)
                goto failed;
            continue;
        }
        rc = prune(ctx, m, clock_wall_ms(), err);
        json_decref(m);
        if (rc < 0)
            goto failed;
        if (rc == 0)
            return ADMIT_FULL;
    }
    return ADMIT_FULL;
failed:
    TLOG_E(ctx->log, "admission: %s", err);
    return ADMIT_ERROR;
}

void admission_leave(lambda_ctx *ctx)
{
    if (!ctx->lease_held)
        return;
    ctx->lease_held = false;
    char err[ERRCAP];
    const char *ids[1] = {ctx->invocation_id};
    if (store_lease_drop(&ctx->st, ids, 1, err, sizeof err) < 0)
        TLOG_W(ctx->log, "admission: lease %s not released (it expires): %s", ctx->invocation_id,
               err);
}
