/* SPDX-License-Identifier: MIT */
/* ready.c - ready: names, access policies and the moves of a connection's tunnels (see
 * ready.h). */
#include "ready.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "clock.h"
#include "gate.h"
#include "names.h"

#define ERRCAP 256

/* One tunnel of the ready being handled. */
typedef struct rtunnel {
    const char *label;            /* its tunnels[].name with several, else NULL */
    const char *held, *subdomain; /* what it asks for */
    char *stored;                 /* its access policy, stored form (gate.h) */
    bool applied;                 /* a policy is in force */
    bool claimed;                 /* ans holds a granted claim */
    names_answer ans;             /* its name */
} rtunnel;

void ready_public_urls(const lambda_config *cfg, const char *tid, char *pub, char *sub, char *path)
{
    snprintf(path, 512, "%s://%s/%s", cfg->url_scheme, cfg->domain, tid);
    if (cfg->subdomain_routing) {
        snprintf(sub, 512, "%s://%s.%s", cfg->url_scheme, tid, cfg->domain);
        snprintf(pub, 512, "%s", sub);
    } else {
        sub[0] = '\0';
        snprintf(pub, 512, "%s", path);
    }
}

/* Posts text to the agent, retrying briefly: right after $connect the connection may not be
 * usable yet (GoneException / "dispatch failure"). */
static int post_retry(lambda_ctx *ctx, const char *cid, const char *text, size_t n, char *err)
{
    long delay = 50;
    int rc = MGMT_ERR;
    for (int attempt = 0; attempt < 6; attempt++) {
        rc = mgmt_post(&ctx->mgmt, cid, text, n, err, ERRCAP);
        if (rc == MGMT_OK || rc == MGMT_TOO_BIG)
            return rc;
        clock_sleep_ms(delay);
        delay *= 2;
    }
    return rc;
}

/* A name that cannot be had (or an access policy that cannot be enforced): say why, naming the
 * tunnel (label, NULL for a one-tunnel ready), then close the connection (the agent stops). */
static void refuse(lambda_ctx *ctx, const char *cid, const char *code, const char *label,
                   const char *why)
{
    char err[ERRCAP], msg[400];
    snprintf(msg, sizeof msg, "%s%s%s%s", label ? "tunnel " : "", label ? label : "",
             label ? ": " : "", why);
    TLOG_W(ctx->log, "ready %s: %s", cid, msg);
    tmsg r;
    tmsg_init(&r, TMSG_TUNNEL_REFUSED);
    r.refusal = (char *)code;
    r.message = msg;
    size_t n;
    char *text = tmsg_encode(&r, &n); /* the strings are borrowed: no tmsg_free */
    if (!text || post_retry(ctx, cid, text, n, err) != MGMT_OK)
        TLOG_E(ctx->log, "ready %s: tunnel_refused not delivered", cid);
    free(text);
    if (mgmt_delete(&ctx->mgmt, cid, err, sizeof err) != MGMT_OK)
        TLOG_W(ctx->log, "ready %s: closing the connection: %s", cid, err);
}

/* A fresh takeover secret: 32 random bytes as 64 hex characters. */
static int new_secret(char out[65])
{
    uint8_t r[32];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return -1;
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
    return 0;
}

/* What ready asks for tunnel i: its entry in tunnels[] (the first one falls back to the
 * top-level fields, which an agent that knows one tunnel sends), as ttfd reads it. */
static void asked(const tmsg *m, size_t i, rtunnel *t)
{
    const tmsg_tunnel *e = m->ntunnels ? &m->tunnels[i] : NULL;
    t->label = m->ntunnels > 1 && e->name ? e->name : NULL;
    t->held = e ? e->tunnel_id : NULL;
    t->subdomain = e ? e->subdomain : NULL;
    if (i == 0 && !t->held && !t->subdomain) {
        t->held = m->tunnel_id;
        t->subdomain = m->subdomain;
    }
}

/* The name tunnel t held on the agent's previous connection: "" when none. */
static void held_name(const rtunnel *t, char out[TUNNEL_NAME_MAX + 1])
{
    const char *why;
    out[0] = '\0';
    if (t->subdomain && tunnel_name_normalize(t->subdomain, out, &why) != 0)
        out[0] = '\0';
    else if (!t->subdomain && t->held && strlen(t->held) <= TUNNEL_NAME_MAX)
        snprintf(out, TUNNEL_NAME_MAX + 1, "%s", t->held);
}

/* The agent moves its tunnels to its new connection cid before API Gateway closes the old one
 * (docs/protocol.md §1 "Moving to a new connection"): granted, for all of them or none, when
 * each name's secret is the one given to its holder (and, with auth, its owner is this
 * connection's subject). The names' records then name cid as holder; the caller points cid's
 * records at them and marks the old connection's (moved_away). */
static bool take_over(lambda_ctx *ctx, const char *cid, const conn_rec *c, const tmsg *m,
                      rtunnel *t, size_t n)
{
    char err[ERRCAP], owner[TUNNEL_OWNER_MAX + 1];
    if (!m->takeover ||
        tunnel_owner(owner, sizeof owner, ctx->cfg->require_auth, c->sub, m->agent_key) != 0)
        return false;
    char(*holders)[STORE_CONN_ID_SIZE] = calloc(n, sizeof *holders);
    if (!holders)
        return false;
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        owner_rec o;
        held_name(&t[i], t[i].ans.name);
        ok = t[i].ans.name[0] &&
             store_get_owner(&ctx->st, t[i].ans.name, &o, err, sizeof err) == 0 && o.takeover[0] &&
             strcmp(o.takeover, m->takeover) == 0 &&
             (!ctx->cfg->require_auth || strcmp(o.owner, owner) == 0);
        for (size_t j = 0; ok && j < i; j++) /* one name for two tunnels is no move */
            ok = strcmp(t[i].ans.name, t[j].ans.name) != 0;
        if (ok)
            snprintf(holders[i], sizeof holders[i], "%s", o.holder);
    }
    /* the records last as a held name's again: a reconnection moves names from a connection
     * that may have disconnected (its record then ends at its keep) */
    int64_t ttl = names_held_ttl(ctx->cfg, owner, clock_wall_ms() / 1000);
    for (size_t i = 0; ok && i < n; i++)
        if (store_move_owner(&ctx->st, t[i].ans.name, holders[i], cid, m->takeover, ttl, err,
                             sizeof err) != 0) {
            TLOG_W(ctx->log, "ready %s: takeover of tunnel %s failed: %s", cid, t[i].ans.name, err);
            ok = false;
        }
    free(holders);
    if (!ok)
        TLOG_W(ctx->log, "ready %s: takeover of tunnel %s refused", cid,
               m->tunnel_id ? m->tunnel_id : t[0].ans.name);
    return ok;
}

/* The connections that served the tunnels before they moved to cid: their records and items
 * are marked moved (out of the GSI: new requests go to cid); they stay live for the answers to
 * the requests already sent to them. */
static void moved_away(lambda_ctx *ctx, const char *cid, const rtunnel *t, size_t n)
{
    char err[ERRCAP];
    char cids[STORE_MAX_TUNNEL_CONNS][STORE_CONN_ID_SIZE];
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        if (store_find_tunnel(&ctx->st, t[i].ans.name, cids, STORE_MAX_TUNNEL_CONNS, &k, NULL, err,
                              sizeof err) != 0)
            continue;
        for (size_t j = 0; j < k; j++)
            if (strcmp(cids[j], cid) != 0)
                store_mark_moved(&ctx->st, cids[j], t[i].ans.name, err, sizeof err);
    }
}

/* Gives every tunnel its name, all or none: when one cannot be had, the claims made for the
 * others are undone and the ready refused naming the tunnel. 0, 1 refused, -1 storage error
 * (claims undone too). */
static int claim_all(lambda_ctx *ctx, const char *cid, const conn_rec *c, const tmsg *m, rtunnel *t,
                     size_t n)
{
    char owner[TUNNEL_OWNER_MAX + 1];
    if (tunnel_owner(owner, sizeof owner, ctx->cfg->require_auth, c->sub, m->agent_key) != 0)
        return -1;
    int rc = 0;
    size_t i;
    for (i = 0; i < n && rc == 0; i++) {
        names_ask ask = {
            .held = t[i].held, .subdomain = t[i].subdomain, .fresh = i == 0 ? c->tunnel_id : NULL};
        char want[TUNNEL_NAME_MAX + 1];
        held_name(&t[i], want);
        for (size_t j = 0; want[0] && j < i; j++)
            if (strcmp(want, t[j].ans.name) == 0) { /* another tunnel of this ready has it */
                if (t[i].subdomain) {
                    refuse(ctx, cid, "name_invalid", t[i].label,
                           "two tunnels ask for the same name");
                    rc = 1;
                }
                ask.held = NULL;
            }
        if (rc != 0)
            break;
        names_result r = names_claim(ctx, cid, owner, &ask, &t[i].ans);
        if (r == NAMES_REFUSED) {
            refuse(ctx, cid, t[i].ans.code, t[i].label, t[i].ans.message);
            rc = 1;
        } else if (r == NAMES_ERROR) {
            rc = -1;
        } else {
            t[i].claimed = i > 0 || strcmp(t[i].ans.name, c->tunnel_id) != 0;
        }
    }
    for (size_t j = 0; rc != 0 && j < n; j++) /* all or none */
        if (t[j].claimed)
            names_unclaim(ctx, cid, &t[j].ans);
    return rc;
}

/* Points cid's record (the first tunnel) and items (the others) at the names granted, each
 * item with its access policy. 0, or -1 when the connection went away meanwhile or storage
 * failed. */
static int publish(lambda_ctx *ctx, const char *cid, const conn_rec *c, const rtunnel *t, size_t n)
{
    char err[ERRCAP];
    char *names = NULL; /* the other tunnels' names, space-separated (store.h) */
    if (n > 1) {
        size_t cap = n * (TUNNEL_NAME_MAX + 1) + 1, len = 0;
        if (!(names = malloc(cap)))
            return -1;
        names[0] = '\0';
        for (size_t i = 1; i < n; i++)
            len +=
                (size_t)snprintf(names + len, cap - len, "%s%s", i > 1 ? " " : "", t[i].ans.name);
    }
    if (strcmp(t[0].ans.name, c->tunnel_id) != 0) {
        if (store_set_connection_tunnel(&ctx->st, cid, t[0].ans.name, err, sizeof err) != 0)
            goto fail;
        store_delete_owner(&ctx->st, c->tunnel_id, err, sizeof err); /* the fresh id */
    }
    if (!names)
        return 0;
    /* the list first: a $disconnect from now on deletes the items */
    int rc = store_set_connection_tunnels(&ctx->st, cid, names, err, sizeof err);
    if (rc != 0)
        goto fail;
    int64_t now = clock_wall_ms() / 1000;
    for (size_t i = 1; i < n; i++)
        if (store_put_tunnel(&ctx->st, cid, t[i].ans.name, c->sub, t[i].stored, now, err,
                             sizeof err) != 0)
            goto fail;
    /* a $disconnect that read the record before the list was written left these items behind */
    conn_rec again;
    rc = store_get_connection(&ctx->st, cid, &again, err, sizeof err);
    if (rc == 0) {
        free(names);
        return 0;
    }
    if (rc == 1)
        snprintf(err, sizeof err, "the connection closed");
fail:
    TLOG_E(ctx->log, "ready %s: tunnels not recorded: %s", cid, err);
    if (names) {
        char e2[ERRCAP];
        store_delete_tunnels(&ctx->st, cid, names, e2, sizeof e2);
    }
    free(names);
    return -1;
}

/* connection_established listing every tunnel (tunnels[] when ready had it; the first one at
 * the top level too), with one takeover secret recorded on each name. */
static void establish(lambda_ctx *ctx, const char *cid, const tmsg *m, const rtunnel *t, size_t n,
                      const char *notice)
{
    char err[ERRCAP];
    char pub[512], sub[512], path[512];
    ready_public_urls(ctx->cfg, t[0].ans.name, pub, sub, path);
    tmsg r;
    tmsg_init(&r, TMSG_CONNECTION_ESTABLISHED);
    r.connection_id = strdup(cid);
    r.tunnel_id = strdup(t[0].ans.name);
    r.public_url = strdup(pub);
    r.subdomain_url = sub[0] ? strdup(sub) : NULL;
    r.path_based_url = strdup(path);
    r.message = notice[0] ? strdup(notice) : NULL;
    /* the secret for the next move, recorded with each name's holder (only it may set it) */
    char secret[65] = "";
    bool have = new_secret(secret) == 0;
    for (size_t i = 0; have && i < n; i++)
        have = store_set_takeover(&ctx->st, t[i].ans.name, cid, secret, err, sizeof err) == 0;
    if (!have)
        TLOG_W(ctx->log, "ready %s: no takeover secret recorded: %s", cid, err);
    r.takeover = have ? strdup(secret) : NULL;
    r.max_lifetime_s = (uint64_t)ctx->cfg->max_lifetime_s;
    r.access_applied = t[0].applied;
    if (m->ntunnels > 0) { /* answered in the same shape */
        r.tunnels = calloc(n, sizeof *r.tunnels);
        r.ntunnels = r.tunnels ? n : 0;
        for (size_t i = 0; i < r.ntunnels; i++) {
            tmsg_tunnel *e = &r.tunnels[i];
            ready_public_urls(ctx->cfg, t[i].ans.name, pub, sub, path);
            e->name = m->tunnels[i].name ? strdup(m->tunnels[i].name) : NULL;
            e->tunnel_id = strdup(t[i].ans.name);
            e->public_url = strdup(pub);
            e->subdomain_url = sub[0] ? strdup(sub) : NULL;
            e->path_based_url = strdup(path);
            e->access_applied = t[i].applied;
        }
    }
    size_t len;
    char *text = tmsg_encode(&r, &len);
    tmsg_free(&r);
    if (!text) {
        TLOG_E(ctx->log, "ready %s: cannot encode connection_established", cid);
        return;
    }
    int rc = post_retry(ctx, cid, text, len, err);
    free(text);
    if (rc != MGMT_OK)
        TLOG_E(ctx->log, "ready %s: connection_established not delivered: %s", cid, err);
    else
        for (size_t i = 0; i < n; i++)
            TLOG_I(ctx->log, "ready %s: tunnel %s%s%s established", cid, t[i].ans.name,
                   t[i].label ? " for " : "", t[i].label ? t[i].label : "");
}

/* ready's policies: each checked (a bad one refuses the ready), the first recorded on the
 * connection record before any name points at the connection. 0, 1 refused, -1 error. */
static int policies(lambda_ctx *ctx, const char *cid, const tmsg *m, rtunnel *t, size_t n)
{
    char why[300], err[ERRCAP];
    for (size_t i = 0; i < n; i++) {
        const char *json = m->ntunnels ? m->tunnels[i].access : NULL;
        if (i == 0 && !json)
            json = m->access;
        int rc = gate_prepare(json, &t[i].stored, &t[i].applied, why, sizeof why);
        if (rc > 0)
            refuse(ctx, cid, "access_invalid", t[i].label, why);
        if (rc != 0)
            return rc;
    }
    if (store_set_connection_access(&ctx->st, cid, t[0].stored, err, sizeof err) != 0) {
        TLOG_E(ctx->log, "ready %s: access policy not recorded: %s", cid, err);
        return -1;
    }
    return 0;
}

static void handle(lambda_ctx *ctx, const char *cid, const conn_rec *c, const tmsg *m, rtunnel *t,
                   size_t n)
{
    char err[ERRCAP];
    for (size_t i = 0; i < n; i++)
        asked(m, i, &t[i]);
    for (size_t i = 0; i < m->ntunnels; i++)
        for (size_t j = 0; j < i; j++)
            if (m->tunnels[i].subdomain && m->tunnels[j].subdomain &&
                strcasecmp(m->tunnels[i].subdomain, m->tunnels[j].subdomain) == 0) {
                refuse(ctx, cid, "name_invalid", NULL, "two tunnels ask for the same subdomain");
                return;
            }
    /* The access policies first: in force before any name points at this connection. */
    int rc = policies(ctx, cid, m, t, n);
    if (rc != 0) {
        if (rc < 0) /* storage: the agent reconnects and tries again */
            mgmt_delete(&ctx->mgmt, cid, err, sizeof err);
        return;
    }
    bool moved = take_over(ctx, cid, c, m, t, n);
    if (moved) {
        TLOG_I(ctx->log, "ready %s: %zu tunnel%s taken over from the agent's previous connection",
               cid, n, n > 1 ? "s" : "");
    } else {
        for (size_t i = 0; i < n; i++)
            memset(&t[i].ans, 0, sizeof t[i].ans);
        rc = claim_all(ctx, cid, c, m, t, n);
        if (rc > 0)
            return;
    }
    if (rc < 0 || publish(ctx, cid, c, t, n) != 0) {
        TLOG_E(ctx->log, "ready %s: no tunnel names (storage error): closing", cid);
        for (size_t i = 0; rc == 0 && i < n; i++)
            if (t[i].claimed)
                names_unclaim(ctx, cid, &t[i].ans);
        mgmt_delete(&ctx->mgmt, cid, err, sizeof err);
        return;
    }
    if (moved)
        moved_away(ctx, cid, t, n);
    char notice[400] = "";
    for (size_t i = 0; i < n && !notice[0]; i++)
        if (t[i].ans.code) {
            TLOG_I(ctx->log, "ready %s: %s", cid, t[i].ans.message);
            snprintf(notice, sizeof notice, "%s%s%s%s; this tunnel has a new id",
                     t[i].label ? "tunnel " : "", t[i].label ? t[i].label : "",
                     t[i].label ? ": " : "", t[i].ans.message);
        }
    establish(ctx, cid, m, t, n, notice);
}

void ready_invalid(lambda_ctx *ctx, const char *cid, const char *why)
{
    char err[ERRCAP], msg[200];
    conn_rec c;
    int rc = store_get_connection(&ctx->st, cid, &c, err, sizeof err);
    if (rc != 0 || !c.pending) {
        TLOG_W(ctx->log, "ready %s: bad ready dropped: %s", cid, why);
        return;
    }
    snprintf(msg, sizeof msg, "bad ready: %s", why);
    refuse(ctx, cid, "ready_invalid", NULL, msg);
}

void ready_handle(lambda_ctx *ctx, const char *cid, const tmsg *m)
{
    char err[ERRCAP];
    conn_rec c;
    int rc = store_get_connection(&ctx->st, cid, &c, err, sizeof err);
    if (rc != 0) {
        TLOG_E(ctx->log, "ready %s: no connection record (%s)", cid, rc == 1 ? "not found" : err);
        return;
    }
    size_t n = m->ntunnels ? m->ntunnels : 1;
    rtunnel *t = calloc(n, sizeof *t);
    if (!t) {
        TLOG_E(ctx->log, "ready %s: out of memory", cid);
        mgmt_delete(&ctx->mgmt, cid, err, sizeof err);
        return;
    }
    handle(ctx, cid, &c, m, t, n);
    for (size_t i = 0; i < n; i++)
        free(t[i].stored);
    free(t);
}
