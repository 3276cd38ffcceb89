/* SPDX-License-Identifier: MIT */
/* session_claim.c - the names of a ready's tunnels (see session_int.h): claimed in the registry
 * all or none, moved from the holder on a takeover, or given back from a silent holder of the
 * same owner; each tunnel's CDN-Loop mark worked out with its name. */
#include "session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Names t, its CDN-Loop mark with it (proxy_loop_mark under the server's key: pconn.c reads
 * it). -1 when the HMAC failed. */
static int name_tunnel(const server *srv, tunnel *t, const char *name)
{
    snprintf(t->name, sizeof t->name, "%s", name);
    return proxy_loop_mark(t->loop_mark, srv->loop_key, sizeof srv->loop_key, t->name);
}

/* What ready asks for tunnel i: its entry in tunnels[] (the first one falls back to the
 * top-level fields, which an agent that knows one tunnel sends). */
static void asked(const tmsg *m, size_t i, const char **held, const char **subdomain)
{
    const tmsg_tunnel *e = m->ntunnels ? &m->tunnels[i] : NULL;
    *held = e ? e->tunnel_id : NULL;
    *subdomain = e ? e->subdomain : NULL;
    if (i == 0 && !*held && !*subdomain) {
        *held = m->tunnel_id;
        *subdomain = m->subdomain;
    }
}

/* The name ready asks for tunnel i: its tunnel_id, or its subdomain lower-cased (buf); NULL when
 * none, or a subdomain that is no name. */
static const char *asked_name(const tmsg *m, size_t i, char *buf)
{
    const char *held = NULL, *subdomain = NULL, *why = NULL;
    asked(m, i, &held, &subdomain);
    if (subdomain)
        return tunnel_name_normalize(subdomain, buf, &why) == 0 ? buf : NULL;
    return held;
}

bool sess_take_over(session *s, const tmsg *m)
{
    server *srv = s->srv;
    if (!m->tunnel_id || !m->takeover)
        return false;
    tunnel *first = registry_lookup(srv->reg, m->tunnel_id, strlen(m->tunnel_id));
    session *holder = first ? first->sess : NULL;
    if (!holder || holder == s || holder->ntun != s->ntun || !holder->takeover[0] ||
        strcmp(holder->takeover, m->takeover) != 0 || strcmp(holder->sub, s->sub) != 0)
        return false;
    tunnel **from = calloc(s->ntun, sizeof(tunnel *)); /* the holder's tunnel each one asks for */
    bool ok = from != NULL;
    for (size_t i = 0; ok && i < s->ntun; i++) {
        char buf[TUNNEL_NAME_MAX + 1];
        const char *name = asked_name(m, i, buf);
        tunnel *t = name ? registry_lookup(srv->reg, name, strlen(name)) : NULL;
        ok = t && t->sess == holder && t->ready;
        for (size_t j = 0; ok && j < i; j++)
            ok = from[j] != t;
        from[i] = t;
    }
    for (size_t i = 0; ok && i < s->ntun; i++) {
        if (name_tunnel(srv, &s->tun[i], from[i]->name) != 0 ||
            registry_move(srv->reg, from[i]->name, from[i], &s->tun[i]) != 0) {
            for (size_t j = i; j-- > 0;) /* all or none */
                registry_move(srv->reg, from[j]->name, &s->tun[j], from[j]);
            ok = false;
        }
    }
    if (ok) {
        holder->takeover[0] = '\0'; /* it keeps its requests in flight, no longer the names */
        for (size_t i = 0; i < s->ntun; i++)
            from[i]->ready = false;
        sess_all_named(s, true);
        TLOG_I(srv->log, "agent %s: tunnel%s %s%s moved to a new connection", s->ip,
               s->ntun > 1 ? "s" : "", s->tun[0].name, s->ntun > 1 ? " and the others" : "");
    }
    free(from);
    return ok;
}

int sess_claim_all(session *s, const tmsg *m, char *notice, size_t cap, bool *returning)
{
    server *srv = s->srv;
    notice[0] = '\0';
    /* per tunnel: 0 not claimed, 1 claimed, 2 claimed with a new owner record */
    unsigned char *claimed = calloc(s->ntun, sizeof *claimed);
    if (!claimed) {
        ws_close(s->ws, 1011, "server error");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < s->ntun && rc == 0; i++) {
        tunnel *t = &s->tun[i];
        const char *label = m->ntunnels > 1 && m->tunnels[i].name ? m->tunnels[i].name : NULL;
        char chosen[TUNNEL_NAME_MAX + 1], msg[400];
        const char *held = NULL, *subdomain = NULL;
        asked(m, i, &held, &subdomain);
        registry_ask ask = {.name = held, .chosen = false, .owner = s->owner};
        if (subdomain) {
            const char *why = NULL;
            if (tunnel_name_normalize(subdomain, chosen, &why) != 0) {
                snprintf(msg, sizeof msg, "%s%s%ssubdomain '%.63s' is not allowed: %s",
                         label ? "tunnel " : "", label ? label : "", label ? ": " : "", subdomain,
                         why);
                sess_refuse_name(s, "name_invalid", msg);
                rc = -1;
                break;
            }
            ask.name = chosen;
            ask.chosen = true;
        }
        registry_answer ans;
        registry_claim_result r = registry_claim(srv->reg, &ask, (int64_t)time(NULL), t, &ans);
        if (r == REG_ERROR) {
            TLOG_E(srv->log, "agent %s: no tunnel name: %s", s->ip, ans.message);
            ws_close(s->ws, 1011, "server error");
            rc = -1;
        } else if (r == REG_REFUSED) {
            snprintf(msg, sizeof msg, "%s%s%s%s", label ? "tunnel " : "", label ? label : "",
                     label ? ": " : "", ans.message);
            sess_refuse_name(s, ans.code, msg);
            rc = -1;
        } else {
            claimed[i] = ans.created ? 2 : 1;
            if (i == 0)
                *returning = ans.returning;
            if (name_tunnel(srv, t, ans.name) != 0) {
                TLOG_E(srv->log, "agent %s: tunnel %s: no CDN-Loop mark (HMAC failed)", s->ip,
                       t->name);
                ws_close(s->ws, 1011, "server error");
                rc = -1;
                continue; /* its claim is let go below */
            }
            TLOG_I(srv->log, "agent %s%s%s: tunnel %s (%s, %s mode)%s%s", s->ip,
                   s->sub[0] ? " sub=" : "", s->sub, t->name,
                   r == REG_GRANTED ? (ask.chosen ? "chosen" : "reclaimed") : "new",
                   s->bin ? "binary" : "json", ans.code ? ": " : "", ans.code ? ans.message : "");
            if (t->access) {
                char desc[600];
                access_policy_describe(tunnel_access_policy(t->access), desc, sizeof desc);
                TLOG_I(srv->log, "tunnel %s: access %s", t->name, desc);
            }
            if (ans.code && !notice[0])
                snprintf(notice, cap, "%s%s%s%s; this tunnel has a new id", label ? "tunnel " : "",
                         label ? label : "", label ? ": " : "", ans.message);
        }
    }
    for (size_t i = 0; rc != 0 && i < s->ntun; i++) { /* all or none: undo the claims */
        char err[256];
        if (claimed[i] && registry_unclaim(srv->reg, s->tun[i].name, &s->tun[i], claimed[i] == 2,
                                           (int64_t)time(NULL), err, sizeof err) != 0)
            TLOG_E(srv->log, "tunnel %s: release not recorded: %s", s->tun[i].name, err);
    }
    free(claimed);
    return rc;
}

/* ---- a link gone silent (--agent-timeout) ---- */

/* Heard nothing from the agent over the last two beats while reading it (half the timeout at
 * least): a live agent answers each of our pings within its round trip. */
static bool silent(const session *s)
{
    return s->silent_beats >= 2;
}

void sess_end_silent_holders(session *s, const tmsg *m)
{
    server *srv = s->srv;
    for (size_t i = 0; s->owner[0] && i < s->ntun; i++) {
        char chosen[TUNNEL_NAME_MAX + 1];
        const char *held = asked_name(m, i, chosen);
        tunnel *t = held ? registry_lookup(srv->reg, held, strlen(held)) : NULL;
        session *h = t ? t->sess : NULL;
        if (!h || h == s || !silent(h) || strcmp(h->owner, s->owner) != 0)
            continue;
        TLOG_W(srv->log,
               "agent %s: tunnel %s is back over a new link; its previous one (from %s) sent "
               "nothing for %u s: closed",
               s->ip, held, h->ip, h->silent_beats * (unsigned)srv->cfg->agent_timeout / 4);
        sess_destroy(h);
    }
}
