/* SPDX-License-Identifier: MIT */
/* agent_tunnels.c - ttf --config's tunnels in the agent (see agent_int.h): the ids remembered per
 * tunnel, connection_established for several tunnels (each URL printed with its name and local
 * service, each access policy confirmed), the access log line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "agent_int.h"
#include "qr.h"

/* What the server enforces, as the server reads it (lib/access.h), for the log. name: the
 * tunnel's (ttf --config), NULL for the command line's one. */
void agent_log_access(agent *a, const char *json, const char *name)
{
    access_policy *p = NULL;
    char desc[600];
    if (access_policy_from_request(json, strlen(json), &p, desc, sizeof desc) == 0)
        access_policy_describe(p, desc, sizeof desc);
    access_policy_free(p);
    TLOG_I(a->log, "Access control at the server%s%s: %s", name ? " for tunnel " : "",
           name ? name : "", desc);
}

/* "web@127.0.0.1:3000": a config tunnel's key in the id store (its name and local service). */
void agent_tunnel_key(const agent_tunnel *t, char *out, size_t cap)
{
    char hp[300];
    agent_tunnel_hostport(t, hp, sizeof hp);
    snprintf(out, cap, "%s@%s", t->name, hp);
}

/* ttf --config's connection_established: tunnels[] in ready's order, or (one tunnel) the
 * top-level fields alone. Whether it answers for every tunnel asked for. */
static bool answers_every_tunnel(const agent_config *cfg, const tmsg *m)
{
    return m->ntunnels == cfg->ntunnels || (cfg->ntunnels == 1 && m->ntunnels == 0);
}

/* Tunnel i's id in that answer (NULL when none). */
static const char *answered_id(const tmsg *m, size_t i)
{
    return m->ntunnels ? m->tunnels[i].tunnel_id : m->tunnel_id;
}

/* Whether that answer confirms tunnel i's access policy (the top-level one is the first's). */
static bool answered_access(const tmsg *m, size_t i)
{
    return (m->ntunnels && m->tunnels[i].access_applied) || (i == 0 && m->access_applied);
}

/* ttf --config: connection_established names every tunnel (tunnels[], in ready's order). Each
 * URL is printed (or shown by the terminal view) with its name and local service. false when
 * the agent gives up. */
bool agent_established_several(agent *a, const tmsg *m)
{
    const agent_config *cfg = a->cfg;
    if (!answers_every_tunnel(cfg, m)) {
        agent_give_up(a, "the server does not serve several tunnels on one connection (its answer "
                         "lists fewer tunnels than ttf --config asked for)");
        return false;
    }
    for (size_t i = 0; i < cfg->ntunnels; i++) {
        const agent_tunnel *t = &cfg->tunnels[i];
        const char *id = answered_id(m, i);
        if (t->subdomain && (!id || strcmp(id, t->subdomain) != 0)) {
            char why[300];
            snprintf(why, sizeof why,
                     "tunnel %s: the server gave '%.63s' instead of the subdomain '%s': it does "
                     "not support chosen names",
                     t->name, id ? id : "", t->subdomain);
            agent_give_up(a, why);
            return false;
        }
        if (t->access_json && !answered_access(m, i)) {
            char why[300];
            snprintf(why, sizeof why,
                     "tunnel %s: the server did not confirm the access control asked for "
                     "(basic_auth, allow_cidr, deny_cidr, rate_limit): it does not support it; "
                     "not exposing the local service unprotected",
                     t->name);
            agent_give_up(a, why);
            return false;
        }
    }
    for (size_t i = 0; i < cfg->ntunnels; i++) {
        const agent_tunnel *t = &cfg->tunnels[i];
        const tmsg_tunnel *mt = m->ntunnels ? &m->tunnels[i] : NULL;
        const char *id = answered_id(m, i);
        const char *pub = mt ? mt->public_url : m->public_url;
        const char *path = mt && mt->path_based_url   ? mt->path_based_url
                           : !mt && m->path_based_url ? m->path_based_url
                                                      : pub;
        if (a->held && id && tunnel_name_valid(id, strlen(id))) {
            if (a->held[i][0] && strcmp(a->held[i], id) != 0)
                TLOG_W(a->log,
                       "tunnel %s: the server gave a new id (%s); the previous URL (id "
                       "%s) no longer reaches this ttf",
                       t->name, id, a->held[i]);
            snprintf(a->held[i], sizeof a->held[i], "%s", id);
            char key[400];
            agent_tunnel_key(t, key, sizeof key);
            agent_remember(a, key, id);
        }
        if (i == 0 && id)
            snprintf(a->tunnel_id, sizeof a->tunnel_id, "%s", id);
        char local[300];
        agent_tunnel_hostport(t, local, sizeof local);
        if (!a->tv) {
            fprintf(a->out, "Tunnel %s: %s -> %s://%s\nPath URL %s: %s\n", t->name, pub ? pub : "",
                    agent_tunnel_scheme(t), local, t->name, path ? path : "");
            char *code = cfg->qr && pub && *pub ? qr_render(pub, false, NULL, NULL) : NULL;
            if (code)
                fprintf(a->out, "%s\n", code);
            free(code);
        }
        if (t->access_json)
            agent_log_access(a, t->access_json, t->name);
        termview_tunnel_url(a->tv, i, pub);
        inspector_set_tunnel_url(a->insp, i, pub);
        if (i == 0) {
            termview_session(a->tv, "online", pub, path);
            inspector_set_tunnel(a->insp, "online", pub, path);
        }
    }
    fflush(a->out);
    return true;
}

bool agent_move_granted(const agent *a, const tmsg *m)
{
    const agent_config *cfg = a->cfg;
    if (!m->tunnel_id || strcmp(m->tunnel_id, a->tunnel_id) != 0)
        return false;
    if (!cfg->config_file || !a->held)
        return !cfg->access_json || m->access_applied;
    if (!answers_every_tunnel(cfg, m))
        return false;
    for (size_t i = 0; i < cfg->ntunnels; i++) {
        const char *id = answered_id(m, i);
        if (!id || strcmp(id, a->held[i]) != 0 ||
            (cfg->tunnels[i].access_json && !answered_access(m, i)))
            return false;
    }
    return true;
}

/* ttf --config: each tunnel's remembered id, under "NAME@HOST:PORT" (tunnel_key); the agent
 * key is the first tunnel's record's. */
void agent_load_tunnel_ids(agent *a)
{
    const agent_config *cfg = a->cfg;
    a->held = calloc(cfg->ntunnels, sizeof *a->held);
    a->held_ptr = calloc(cfg->ntunnels, sizeof *a->held_ptr);
    if (!a->held || !a->held_ptr) {
        free(a->held);
        free(a->held_ptr);
        a->held = NULL;
        a->held_ptr = NULL;
        return;
    }
    for (size_t i = 0; i < cfg->ntunnels; i++) {
        a->held_ptr[i] = a->held[i];
        char key[400], other_key[IDSTORE_KEY_LEN + 1] = "", err[512] = "";
        agent_tunnel_key(&cfg->tunnels[i], key, sizeof key);
        if (a->ids && idstore_load(a->ids, a->ids_endpoint, key, a->held[i],
                                   i == 0 ? a->agent_key : other_key, err, sizeof err) != 0) {
            TLOG_W(a->log, "tunnel %s: its id will not be remembered: %s", cfg->tunnels[i].name,
                   err);
            a->held[i][0] = '\0';
        }
        if (cfg->tunnels[i].subdomain)
            snprintf(a->held[i], sizeof a->held[i], "%s", cfg->tunnels[i].subdomain);
    }
    snprintf(a->tunnel_id, sizeof a->tunnel_id, "%s", a->held[0]);
}
