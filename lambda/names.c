/* SPDX-License-Identifier: MIT */
/* names.c - tunnel names over DynamoDB owner records (see names.h). */
#include "names.h"

#include "clock.h"
#include <stdio.h>
#include <string.h>

#define ERRCAP 256

int64_t names_keep(const lambda_config *cfg, const char *owner)
{
    bool by_sub = owner && strncmp(owner, "sub:", 4) == 0;
    return cfg->require_auth && by_sub ? cfg->name_retention_s : cfg->name_grace_s;
}

int64_t names_held_ttl(const lambda_config *cfg, const char *owner, int64_t now)
{
    int64_t keep = names_keep(cfg, owner);
    return keep < 0 ? 0 : now + STORE_CONN_TTL_S + keep;
}

/* Is connection other still connected with tunnel tid? Stale records of gone agents are
 * removed. When it cannot tell, it says yes (a name is never handed out on a guess). */
static bool live_elsewhere(lambda_ctx *ctx, const char *other, const char *tid)
{
    char err[ERRCAP];
    int rc = store_connection_serves(&ctx->st, other, tid, err, sizeof err);
    if (rc == 0)
        return false;
    if (rc < 0)
        return true;
    rc = mgmt_get(&ctx->mgmt, other, err, sizeof err);
    if (rc == MGMT_GONE) {
        store_delete_connection(&ctx->st, other, err, sizeof err);
        return false;
    }
    return true;
}

/* Is name held by a live connection other than cid (its owner record's holder, or any
 * connection record naming it)? */
static bool in_use(lambda_ctx *ctx, const char *cid, const char *name, const owner_rec *o)
{
    if (o && o->holder[0] && strcmp(o->holder, cid) != 0 && live_elsewhere(ctx, o->holder, name))
        return true;
    char err[ERRCAP];
    char cids[STORE_MAX_TUNNEL_CONNS][STORE_CONN_ID_SIZE];
    size_t n = 0;
    if (store_find_tunnel(&ctx->st, name, cids, STORE_MAX_TUNNEL_CONNS, &n, NULL, err, sizeof err) <
        0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (strcmp(cids[i], cid) != 0 && live_elsewhere(ctx, cids[i], name))
            return true;
    return false;
}

/* Tries to give name to cid (owner). 0 granted, 1 not (ans->code/message), -1 storage error. */
static int take(lambda_ctx *ctx, const char *cid, const char *owner, const char *name, bool chosen,
                int64_t now, names_answer *ans)
{
    const char *what = chosen ? "subdomain" : "tunnel id";
    char err[ERRCAP];
    owner_rec o;
    int rc = store_get_owner(&ctx->st, name, &o, err, sizeof err);
    if (rc < 0) {
        TLOG_E(ctx->log, "ready %s: owner of %s: %s", cid, name, err);
        return -1;
    }
    bool found = rc == 0;
    bool expired = found && o.ttl > 0 && o.ttl <= now;
    if (in_use(ctx, cid, name, found ? &o : NULL)) {
        ans->code = "name_in_use";
        snprintf(ans->message, sizeof ans->message, "%s '%s' is in use by another agent", what,
                 name);
        return 1;
    }
    if (found && !expired && o.owner[0] && strcmp(o.owner, owner) != 0) {
        ans->code = "name_owned";
        if (strncmp(o.owner, "sub:", 4) == 0 && ctx->cfg->require_auth)
            snprintf(ans->message, sizeof ans->message, "%s '%s' belongs to another user", what,
                     name);
        else
            snprintf(ans->message, sizeof ans->message,
                     "%s '%s' is held for the agent that had it until %lld s after it "
                     "disconnected",
                     what, name, (long long)ctx->cfg->name_grace_s);
        return 1;
    }
    rc = store_claim_owner(&ctx->st, name, cid, owner, chosen, names_held_ttl(ctx->cfg, owner, now),
                           names_keep(ctx->cfg, owner), found ? o.holder : NULL, err, sizeof err);
    if (rc == DDB_CONDITION) { /* another Lambda claimed it between our read and write */
        ans->code = "name_in_use";
        snprintf(ans->message, sizeof ans->message, "%s '%s' is in use by another agent", what,
                 name);
        return 1;
    }
    if (rc != 0) {
        TLOG_E(ctx->log, "ready %s: claiming %s: %s", cid, name, err);
        return -1;
    }
    ans->created = !found;
    return 0;
}

int names_fresh(lambda_ctx *ctx, const char *cid, const char *owner, int64_t now,
                char tid[TUNNEL_ID_LEN + 1], char *err, size_t cap)
{
    int rc = -1;
    snprintf(err, cap, "no randomness");
    for (int attempt = 0; attempt < 4; attempt++) {
        if (tunnel_id_generate(tid) < 0)
            break;
        rc = store_claim_owner(&ctx->st, tid, cid, owner, false,
                               names_held_ttl(ctx->cfg, owner, now), names_keep(ctx->cfg, owner),
                               NULL, err, cap);
        if (rc != DDB_CONDITION)
            break;
    }
    return rc == 0 ? 0 : -1;
}

/* A fresh id for cid (owner) into ans, recorded: 0, or -1 on a storage error. */
static int draw_fresh(lambda_ctx *ctx, const char *cid, const char *owner, int64_t now,
                      names_answer *ans)
{
    char err[ERRCAP], tid[TUNNEL_ID_LEN + 1];
    if (names_fresh(ctx, cid, owner, now, tid, err, sizeof err) != 0) {
        TLOG_E(ctx->log, "ready %s: no fresh tunnel id: %s", cid, err);
        return -1;
    }
    snprintf(ans->name, sizeof ans->name, "%s", tid);
    ans->created = true;
    return 0;
}

names_result names_claim(lambda_ctx *ctx, const char *cid, const char *owner, const names_ask *ask,
                         names_answer *ans)
{
    memset(ans, 0, sizeof *ans);
    if (ask->fresh)
        snprintf(ans->name, sizeof ans->name, "%s", ask->fresh);
    int64_t now = clock_wall_ms() / 1000;
    char chosen[TUNNEL_NAME_MAX + 1], err[ERRCAP];
    const char *want = NULL;
    bool is_chosen = ask->subdomain != NULL;
    if (is_chosen) {
        const char *why = NULL;
        if (tunnel_name_normalize(ask->subdomain, chosen, &why) != 0) {
            ans->code = "name_invalid";
            snprintf(ans->message, sizeof ans->message, "subdomain '%.63s' is not allowed: %s",
                     ask->subdomain, why);
            return NAMES_REFUSED;
        }
        want = chosen;
    } else if (ask->held && *ask->held) {
        size_t n = strlen(ask->held);
        if (!tunnel_name_valid(ask->held, n) || tunnel_name_reserved(ask->held, n)) {
            ans->code = "name_invalid";
            snprintf(ans->message, sizeof ans->message, "tunnel id '%.63s' is not allowed",
                     ask->held);
        } else {
            want = ask->held;
        }
    }
    if (want && (!ask->fresh || strcmp(want, ask->fresh) != 0)) {
        names_answer got = *ans;
        int rc = take(ctx, cid, owner, want, is_chosen, now, &got);
        if (rc == 0) {
            snprintf(got.name, sizeof got.name, "%s", want);
            *ans = got;
            return NAMES_OK;
        }
        if (is_chosen || rc < 0) {
            *ans = got;
            return rc < 0 ? NAMES_ERROR : NAMES_REFUSED;
        }
        /* a remembered id that cannot be had: a fresh one, with the reason */
        ans->code = got.code;
        snprintf(ans->message, sizeof ans->message, "%s", got.message);
    }
    if (!ask->fresh)
        return draw_fresh(ctx, cid, owner, now, ans) == 0 ? NAMES_OK : NAMES_ERROR;
    /* The fresh id was recorded at $connect, before the agent's key was known. */
    if (!ctx->cfg->require_auth && owner[0] &&
        store_claim_owner(&ctx->st, ask->fresh, cid, owner, false,
                          names_held_ttl(ctx->cfg, owner, now), names_keep(ctx->cfg, owner), cid,
                          err, sizeof err) != 0)
        TLOG_W(ctx->log, "ready %s: owner of %s not updated: %s", cid, ask->fresh, err);
    return NAMES_OK;
}

void names_unclaim(lambda_ctx *ctx, const char *cid, const names_answer *ans)
{
    char err[ERRCAP];
    int rc = ans->created ? store_delete_owner(&ctx->st, ans->name, err, sizeof err)
                          : store_release_owner(&ctx->st, ans->name, cid, clock_wall_ms() / 1000,
                                                err, sizeof err);
    if (rc != 0 && rc != DDB_CONDITION)
        TLOG_E(ctx->log, "ready %s: %s not let go: %s", cid, ans->name, err);
}
