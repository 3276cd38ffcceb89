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

/* Time after the request's wait bound (lambda_ctx.wait_until_ms) to post its answer and give
 * the lease back. */
#define LEASE_MARGIN_MS 1000

/* The lease's id: the Lambda request id of the invocation, unique per invocation. */
static const char *lease_id(lambda_ctx *ctx)
{
    if (!ctx->invocation_id[0] && proxy_request_id(ctx->invocation_id, NULL) < 0)
        snprintf(ctx->invocation_id, sizeof ctx->invocation_id, "no-id");
    return ctx->invocation_id;
}

/* Removes the expired leases of item key's map m (at now_ms): 1 when some were, 0 when none, -1. */
static int prune(lambda_ctx *ctx, const char *key, json_t *m, int64_t now_ms, char *err)
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
    TLOG_I(ctx->log,
           "admission: %zu lease(s) of invocations that ended without releasing expired (%s)", n,
           key);
    return store_lease_drop(&ctx->st, key, ids, n, err, ERRCAP) == 0 ? 1 : -1;
}

/* Takes the invocation's lease in item key, whose map admits max: take, then (refused) read and
 * create the map or remove expired leases, ADMIT_ROUNDS times. */
static admit_result take(lambda_ctx *ctx, const char *key, int max)
{
    char err[ERRCAP];
    const char *id = lease_id(ctx);
    for (int round = 0; round < ADMIT_ROUNDS; round++) {
        int64_t now = clock_wall_ms();
        /* the lease ends with the invocation: Lambda stops it at its deadline at the latest */
        int64_t expiry = ctx->deadline_ms > now
                             ? ctx->deadline_ms
                             : now + ((int64_t)ctx->cfg->request_timeout_s + 5) * 1000;
        /* and a live invocation waits no longer than its request's own bound: past it (and a
         * margin for posting the answer), a lease left behind is a crashed invocation's */
        if (ctx->wait_until_ms > now && ctx->wait_until_ms + LEASE_MARGIN_MS < expiry)
            expiry = ctx->wait_until_ms + LEASE_MARGIN_MS;
        int rc = store_lease_take(&ctx->st, key, id, expiry, max, now / 1000, err, sizeof err);
        if (rc == 0)
            return ADMIT_OK;
        if (rc != DDB_CONDITION)
            goto failed;
        json_t *m;
        rc = store_lease_read(&ctx->st, key, &m, err, sizeof err);
        if (rc < 0)
            goto failed;
        if (rc == 1) { /* no map yet (first use, or the cleanup deleted an idle one) */
            if (store_lease_init(&ctx->st, key, now / 1000, err, sizeof err) < 0)
                goto failed;
            continue;
        }
        /* room now: the map was made, or a lease released, since the take (another invocation
         * that met no map at once made it first); else only expired leases make room */
        rc = json_object_size(m) < (size_t)max ? 1 : prune(ctx, key, m, clock_wall_ms(), err);
        json_decref(m);
        if (rc < 0)
            goto failed;
        if (rc == 0)
            return ADMIT_FULL;
    }
    return ADMIT_FULL;
failed:
    TLOG_E(ctx->log, "admission (%s): %s", key, err);
    return ADMIT_ERROR;
}

static void drop(lambda_ctx *ctx, const char *key)
{
    char err[ERRCAP];
    const char *ids[1] = {ctx->invocation_id};
    if (store_lease_drop(&ctx->st, key, ids, 1, err, sizeof err) < 0)
        TLOG_W(ctx->log, "admission: lease %s of %s not released (it expires): %s",
               ctx->invocation_id, key, err);
}

admit_result admission_enter(lambda_ctx *ctx)
{
    int max = ctx->cfg->max_waiting;
    if (max <= 0 || ctx->lease_held)
        return ADMIT_OK;
    admit_result r = take(ctx, STORE_ADMISSION_KEY, max);
    ctx->lease_held = r == ADMIT_OK;
    return r;
}

admit_result admission_enter_agent(lambda_ctx *ctx, const char *cid)
{
    int max = ctx->cfg->max_waiting_agent;
    if (max <= 0)
        return ADMIT_OK;
    char key[STORE_ADMISSION_KEY_SIZE];
    snprintf(key, sizeof key, "%s%s", STORE_ADMISSION_CONN_PREFIX, cid);
    if (strcmp(key, ctx->agent_lease) == 0)
        return ADMIT_OK;
    admission_leave_agent(ctx);
    admit_result r = take(ctx, key, max);
    if (r == ADMIT_OK)
        snprintf(ctx->agent_lease, sizeof ctx->agent_lease, "%s", key);
    return r;
}

void admission_leave_agent(lambda_ctx *ctx)
{
    if (!ctx->agent_lease[0])
        return;
    drop(ctx, ctx->agent_lease);
    ctx->agent_lease[0] = '\0';
}

void admission_leave(lambda_ctx *ctx)
{
    admission_leave_agent(ctx);
    if (!ctx->lease_held)
        return;
    ctx->lease_held = false;
    drop(ctx, STORE_ADMISSION_KEY);
}
