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
    conn_rec c;
    int rc = store_get_connection(&ctx->st, other, &c, err, sizeof err);
    if (rc == 1 || (rc == 0 && strcmp(c.tunnel_id, tid) != 0))
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
    if (store_set_connection_tunnel(&ctx->st, cid, name, err, sizeof err) != 0) {
        TLOG_E(ctx->log, "ready %s: %s", cid, err);
        return -1;
    }
    return 0;
}

names_result names_on_ready(lambda_ctx *ctx, const char *cid, const conn_rec *c, const tmsg *m,
                            names_answer *ans)
{
    memset(ans, 0, sizeof *ans);
    snprintf(ans->name, sizeof ans->name, "%s", c->tunnel_id); /* the fresh id of $connect */
    int64_t now = clock_wall_ms() / 1000;
    char owner[TUNNEL_OWNER_MAX + 1], chosen[TUNNEL_NAME_MAX + 1], err[ERRCAP];
    if (tunnel_owner(owner, sizeof owner, ctx->cfg->require_auth, c->sub, m->agent_key) != 0)
        return NAMES_ERROR;
    const char *want = NULL;
    bool is_chosen = m->subdomain != NULL;
    if (is_chosen) {
        const char *why = NULL;
        if (tunnel_name_normalize(m->subdomain, chosen, &why) != 0) {
            ans->code = "name_invalid";
            snprintf(ans->message, sizeof ans->message, "subdomain '%.63s' is not allowed: %s",
                     m->subdomain, why);
            return NAMES_REFUSED;
        }
        want = chosen;
    } else if (m->tunnel_id && *m->tunnel_id) {
        size_t n = strlen(m->tunnel_id);
        if (!tunnel_name_valid(m->tunnel_id, n) || tunnel_name_reserved(m->tunnel_id, n)) {
            ans->code = "name_invalid";
            snprintf(ans->message, sizeof ans->message, "tunnel id '%.63s' is not allowed",
                     m->tunnel_id);
        } else {
            want = m->tunnel_id;
        }
    }
    if (want && strcmp(want, c->tunnel_id) != 0) {
        int rc = take(ctx, cid, owner, want, is_chosen, now, ans);
        if (rc == 0) {
            snprintf(ans->name, sizeof ans->name, "%s", want);
            store_delete_owner(&ctx->st, c->tunnel_id, err, sizeof err); /* the fresh id */
            return NAMES_OK;
        }
        if (is_chosen)
            return rc < 0 ? NAMES_ERROR : NAMES_REFUSED;
        /* a remembered id that cannot be had: the fresh one, with the reason */
    }
    /* The fresh id was recorded at $connect, before the agent's key was known. */
    if (!ctx->cfg->require_auth && owner[0] &&
        store_claim_owner(&ctx->st, c->tunnel_id, cid, owner, false,
                          names_held_ttl(ctx->cfg, owner, now), names_keep(ctx->cfg, owner), cid,
                          err, sizeof err) != 0)
        TLOG_W(ctx->log, "ready %s: owner of %s not updated: %s", cid, c->tunnel_id, err);
    return NAMES_OK;
}
