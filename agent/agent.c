/* SPDX-License-Identifier: MIT */
/* agent.c - connect / session / reconnect loop of ttf (see agent.h). */
#include "agent.h"
#include "agent_int.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "backoff.h"
#include "clock.h"
#include "idstore.h"
#include "inspect.h"
#include "local.h"
#include "logbuf.h"
#include "observer.h"
#include "qr.h"
#include "session.h"
#include "statedir.h"
#include "termview.h"
#include "tls.h"
#include "tunnel_id.h"
#include "ws_client.h"

static void attempt(agent *a);

static void schedule_retry(agent *a)
{
    if (a->stopping)
        return;
    evtimer_del(a->connect_timer);
    uint32_t ms = backoff_next(&a->bo);
    TLOG_W(a->log, "Reconnecting in %.1fs (attempt %u)", ms / 1000.0, a->bo.attempt);
    char state[64];
    snprintf(state, sizeof state, "reconnecting in %.1fs (attempt %u)", ms / 1000.0, a->bo.attempt);
    termview_session(a->tv, state, NULL, NULL);
    struct timeval tv = clock_timeval_ms(ms);
    evtimer_add(a->retry_timer, &tv);
}

static void stop_now(agent *a)
{
    event_base_loopexit(a->base, NULL);
}

/* ---- session callbacks ---- */

/* A failure retrying cannot fix: say why and stop with AGENT_EXIT_FAIL. */
void agent_give_up(agent *a, const char *why)
{
    TLOG_E(a->log, "%s", why);
    a->exit_code = AGENT_EXIT_FAIL;
    a->stopping = true;
    if (a->sess && !a->sess->closed)
        session_close(a->sess); /* on_closed ends the loop */
    else
        stop_now(a);
}

void agent_remember(agent *a, const char *local, const char *name)
{
    char err[256];
    if (a->ids && idstore_save(a->ids, a->ids_endpoint, local, name, (int64_t)time(NULL), err,
                               sizeof err) != 0)
        TLOG_W(a->log, "cannot remember the tunnel id: %s", err);
}

/* Before the server's limit, less a margin: a fifth of the lifetime, 1 s to 5 min. The limit
 * counts from the connection's opening (API Gateway's clock starts at $connect), not from
 * connection_established, which a loaded server may send seconds later. */
static void schedule_rotation(agent *a)
{
    evtimer_del(a->rotate_timer);
    if (!a->max_lifetime_s || !a->takeover[0] || !a->sess)
        return;
    uint64_t life = a->max_lifetime_s * 1000;
    uint64_t margin = life / 5;
    margin = margin < 1000 ? 1000 : margin > 300000 ? 300000 : margin;
    uint64_t at = a->sess->opened_ms + (life > margin ? life - margin : 0);
    uint64_t now = clock_now_ms();
    uint64_t after = at > now ? at - now : 0;
    struct timeval tv = clock_timeval_ms(after);
    evtimer_add(a->rotate_timer, &tv);
}

static void note_lifetime(agent *a, const tmsg *m)
{
    snprintf(a->takeover, sizeof a->takeover, "%s", m->takeover ? m->takeover : "");
    a->max_lifetime_s = m->max_lifetime_s;
    schedule_rotation(a);
}

static void on_established(void *ud, const tmsg *m)
{
    agent *a = ud;
    evtimer_del(a->connect_timer);
    a->established = true;
    note_lifetime(a, m);
    a->ever_established = true;
    const char *sub = a->cfg->subdomain;
    if (m->message)
        TLOG_W(a->log, "%s", m->message);
    if (a->cfg->config_file) {
        if (agent_established_several(a, m))
            TLOG_I(a->log, "%zu tunnels established (%s mode, connection %s)", a->cfg->ntunnels,
                   a->sess && a->sess->binary ? "binary" : "json",
                   m->connection_id ? m->connection_id : "-");
        return;
    }
    if (sub && (!m->tunnel_id || strcmp(m->tunnel_id, sub) != 0)) {
        char why[300];
        snprintf(why, sizeof why,
                 "the server gave tunnel '%.63s' instead of the subdomain '%s': it does not "
                 "support chosen names",
                 m->tunnel_id ? m->tunnel_id : "", sub);
        agent_give_up(a, why);
        return;
    }
    if (a->cfg->access_json && !m->access_applied) {
        agent_give_up(a, "the server did not confirm the access control asked for (--basic-auth, "
                         "--allow-cidr, --deny-cidr, --rate-limit): it does not support it; not "
                         "exposing the local service unprotected");
        return;
    }
    if (m->tunnel_id && tunnel_name_valid(m->tunnel_id, strlen(m->tunnel_id))) {
        if (a->tunnel_id[0] && strcmp(a->tunnel_id, m->tunnel_id) != 0)
            TLOG_W(
                a->log,
                "the server gave a new tunnel id (%s); the previous URL (id %s) no longer reaches "
                "this ttf",
                m->tunnel_id, a->tunnel_id);
        snprintf(a->tunnel_id, sizeof a->tunnel_id, "%s", m->tunnel_id);
        agent_remember(a, a->ids_local, a->tunnel_id);
    }
    const char *pub = m->public_url ? m->public_url : "";
    const char *path = m->path_based_url ? m->path_based_url : pub;
    if (a->tv) {
        termview_session(a->tv, "online", pub, path);
    } else {
        fprintf(a->out, "Tunnel established: %s\nPath URL: %s\n", pub, path);
        char *code = a->cfg->qr && *pub ? qr_render(pub, false, NULL, NULL) : NULL;
        if (code)
            fprintf(a->out, "%s\n", code);
        free(code);
        fflush(a->out);
    }
    inspector_set_tunnel(a->insp, "online", pub, path);
    TLOG_I(a->log, "Tunnel established (%s mode, connection %s)",
           a->sess && a->sess->binary ? "binary" : "json",
           m->connection_id ? m->connection_id : "-");
    if (a->cfg->access_json)
        agent_log_access(a, a->cfg->access_json, NULL);
}

static void on_refused(void *ud, const char *code, const char *message)
{
    agent *a = ud;
    a->refused = true;
    /* Our own previous connection may still hold the name while the server has not noticed it
     * died: worth retrying. Anything else stays refused. */
    a->retry_refusal = a->ever_established && code && strcmp(code, "name_in_use") == 0;
    if (a->retry_refusal) {
        TLOG_W(a->log, "%s (probably our previous connection, not yet timed out): retrying",
               message ? message : "the name is in use");
        return;
    }
    char why[600];
    /* without a token a name is held for an agent key, which the user cannot see: one run of
     * ttf with the same local service written another way is "the agent that had it" too */
    bool keyed = code && strcmp(code, "name_owned") == 0 && !a->cfg->token;
    snprintf(why, sizeof why, "%s%s", message && *message ? message : "the server refused the name",
             keyed ? " (without a token a name is held for ttf's agent key, one per endpoint and "
                     "local service as written: ttf 3000 and ttf http://localhost:3000 are two; "
                     "run ttf as it was run before to get the name back)"
                   : "");
    agent_give_up(a, why);
}

static void on_closed(void *ud, uint16_t code, const char *reason)
{
    agent *a = ud;
    session_free(a->sess);
    a->sess = NULL;
    evtimer_del(a->rotate_timer);
    if (!a->stopping && !a->refused && a->established && (a->next || a->next_wsc)) {
        /* the server's limit came while the next connection was being opened (a slow start:
         * under load, or a short limit): that connection carries the move on and takes the
         * tunnel over; no reconnection from scratch (and no new URL) */
        TLOG_W(a->log, "Connection lost: %s (%u); the next connection takes the tunnel over",
               reason ? reason : "closed", code);
        a->established = false;
        a->moving = true;
        struct timeval tv = {a->cfg->connect_timeout, 0};
        evtimer_add(a->connect_timer, &tv);
        inspector_set_tunnel(a->insp, "reconnecting", NULL, NULL);
        return;
    }
    if (a->next_wsc) {
        ws_client_free(a->next_wsc);
        a->next_wsc = NULL;
    }
    if (a->next) {
        session_free(a->next);
        a->next = NULL;
    }
    if (a->stopping) {
        stop_now(a);
        return;
    }
    if (!a->refused)
        TLOG_W(a->log, "Connection lost: %s (%u)", reason ? reason : "closed", code);
    a->refused = false;
    inspector_set_tunnel(a->insp, "reconnecting", NULL, NULL);
    if (a->established)
        backoff_reset(&a->bo); /* a healthy session: start again from 1 s */
    a->established = false;
    schedule_retry(a);
}

static const session_cbs sess_cbs = {on_established, on_closed, on_refused};

/* ---- moving to a new connection (docs/protocol.md §1) ---- */

static void retry_rotation(agent *a, const char *why)
{
    if (a->moving) { /* the current one is gone already: connect as after any loss */
        a->moving = false;
        TLOG_W(a->log, "Could not open the next connection (%s)", why);
        schedule_retry(a);
        return;
    }
    TLOG_W(a->log, "Could not open the next connection (%s): trying again in 5 s", why);
    struct timeval tv = {5, 0};
    evtimer_add(a->rotate_timer, &tv);
}

static void old_closed(void *ud, uint16_t code, const char *reason)
{
    agent *a = ud;
    (void)code;
    (void)reason;
    evtimer_del(a->drain_timer);
    session_free(a->old);
    a->old = NULL;
    TLOG_D(a->log, "previous connection closed");
    if (a->stopping && !a->sess)
        stop_now(a);
}

static void old_established(void *ud, const tmsg *m)
{
    (void)ud;
    (void)m;
}

static void ignore_refused(void *ud, const char *code, const char *message)
{
    (void)ud;
    (void)code;
    (void)message;
}

static const session_cbs old_cbs = {old_established, old_closed, ignore_refused};

static void drain_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    agent *a = ud;
    if (!a->old)
        return;
    /* its exchanges are done (or it has had 30 s): close it; the server closes it anyway */
    if (session_busy(a->old) == 0 || clock_now_ms() - a->drain_started_ms > 30000) {
        if (!a->old->closed)
            session_close(a->old);
        return;
    }
    struct timeval tv = {0, 200000};
    evtimer_add(a->drain_timer, &tv);
}

static void next_established(void *ud, const tmsg *m)
{
    agent *a = ud;
    session *n = a->next;
    a->next = NULL;
    if (!agent_move_granted(a, m) || (!a->sess && !a->moving)) {
        /* refused (or not under our access policy): keep the current connection; the server's
         * close reconnects as usual */
        TLOG_W(a->log, "the server did not move tunnel %s to the new connection", a->tunnel_id);
        session_free(n); /* allowed inside its callbacks */
        if (a->moving) {
            a->moving = false;
            schedule_retry(a);
        }
        return;
    }
    if (a->moving) { /* the previous connection is gone already: this one is the current one */
        a->moving = false;
        evtimer_del(a->connect_timer);
        a->sess = n;
        n->cbs = &sess_cbs;
        a->established = true;
        TLOG_I(a->log, "Tunnel %s moved to a new connection (%s) after the previous one closed",
               a->tunnel_id, m->connection_id ? m->connection_id : "-");
        note_lifetime(a, m);
        const char *pub = m->public_url ? m->public_url : "";
        inspector_set_tunnel(a->insp, "online", pub, m->path_based_url ? m->path_based_url : pub);
        return;
    }
    if (a->old) { /* a rotation that overlapped the previous drain: close that one at once */
        session_free(a->old);
        a->old = NULL;
    }
    a->old = a->sess;
    a->old->cbs = &old_cbs;
    a->sess = n;
    n->cbs = &sess_cbs;
    a->drain_started_ms = clock_now_ms();
    TLOG_I(a->log, "Tunnel %s moved to a new connection (%s) before the server's %u s limit",
           a->tunnel_id, m->connection_id ? m->connection_id : "-", (unsigned)a->max_lifetime_s);
    note_lifetime(a, m);
    struct timeval tv = {0, 0};
    evtimer_add(a->drain_timer, &tv);
}

static void next_closed(void *ud, uint16_t code, const char *reason)
{
    agent *a = ud;
    session_free(a->next);
    a->next = NULL;
    if (!a->stopping) {
        char why[160];
        snprintf(why, sizeof why, "closed: %s (%u)", reason ? reason : "-", code);
        retry_rotation(a, why);
    }
}

/* The server would not give the name to the new connection: keep the current one (its close
 * reconnects as usual). */
static void next_refused(void *ud, const char *code, const char *message)
{
    agent *a = ud;
    TLOG_W(a->log, "the server did not move tunnel %s to the new connection: %s (%s)", a->tunnel_id,
           message ? message : "", code ? code : "");
    if (a->moving) {           /* nothing left to keep: connect as after any loss */
        session_free(a->next); /* allowed inside its callbacks */
        a->next = NULL;
        a->moving = false;
        schedule_retry(a);
    }
}

static const session_cbs next_cbs = {next_established, next_closed, next_refused};

static void next_open(void *ud, conn *c, bool binary)
{
    agent *a = ud;
    ws_client_free(a->next_wsc);
    a->next_wsc = NULL;
    if (a->stopping || (!a->sess && !a->moving)) {
        conn_free(c);
        return;
    }
    session_ready ready = {.tunnel_id = a->tunnel_id,
                           .agent_key = a->agent_key,
                           .takeover = a->takeover,
                           .tunnel_ids = a->held_ptr,
                           .access = a->cfg->access_json};
    a->next =
        session_new(a->base, c, binary, a->cfg, a->log, a->pools, &a->obs, &ready, &next_cbs, a);
    if (!a->next)
        retry_rotation(a, "out of memory");
}

/* Why the server refused the token, in the user's terms when the token says it expired. */
static void token_refused(const agent *a, const char *msg, char *out, size_t cap)
{
    char hint[200];
    token_end_hint(a->tok, (int64_t)time(NULL), hint, sizeof hint);
    snprintf(out, cap, "%s; %s", msg, hint[0] ? hint : "check the token (--token / TUNNEL_TOKEN)");
}

static void next_fail(void *ud, ws_client_error kind, const char *msg)
{
    agent *a = ud;
    ws_client_free(a->next_wsc);
    a->next_wsc = NULL;
    if (kind == WSC_ERR_AUTH) {
        /* the same token again in 5 s gets the same answer: keep this connection to its end,
         * then the reconnection's refusal stops ttf (exit 2) */
        char why[600];
        token_refused(a, msg, why, sizeof why);
        TLOG_E(a->log,
               "the server refused the token for the next connection (%s); the tunnel stays "
               "up until the server closes this connection, then ttf stops",
               why);
        if (a->moving) { /* closed already: the reconnection says it and stops */
            a->moving = false;
            schedule_retry(a);
        }
        return;
    }
    retry_rotation(a, msg);
}

static const ws_client_cbs next_wsc_cbs = {next_open, next_fail};

static void rotate_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    agent *a = ud;
    if (a->stopping || !a->sess || !a->established || a->next || a->next_wsc)
        return;
    char err[256];
    TLOG_I(a->log, "Opening the next connection before the server's %u s limit",
           (unsigned)a->max_lifetime_s);
    a->next_wsc = ws_client_start(a->loop, a->cfg, a->ssl_ctx, &next_wsc_cbs, a, err, sizeof err);
    if (!a->next_wsc)
        retry_rotation(a, err);
}

/* ---- connect callbacks ---- */

static void on_open(void *ud, conn *c, bool binary)
{
    agent *a = ud;
    ws_client_free(a->wsc);
    a->wsc = NULL;
    TLOG_I(a->log, "WebSocket connected (%s mode), sending ready", binary ? "binary" : "json");
    a->established = false;
    /* A reconnection presents the secret of the connection it replaces: when that one died
     * without a FIN the server still holds the names on it (API Gateway until its 10 min idle
     * time, ttfd until --agent-timeout), and the secret moves them here at once, as before the
     * server's limit, instead of new ids (a server with no such holder ignores it); the move
     * names the tunnel by its id, a chosen name too */
    bool move = a->takeover[0] != '\0';
    session_ready ready = {.tunnel_id = a->cfg->subdomain && !move ? NULL : a->tunnel_id,
                           .subdomain = a->cfg->subdomain,
                           .agent_key = a->agent_key,
                           .takeover = move ? a->takeover : NULL,
                           .tunnel_ids = a->held_ptr,
                           .access = a->cfg->access_json};
    a->refused = false;
    a->sess =
        session_new(a->base, c, binary, a->cfg, a->log, a->pools, &a->obs, &ready, &sess_cbs, a);
    if (!a->sess) {
        TLOG_E(a->log, "cannot start the session (out of memory)");
        schedule_retry(a);
    }
}

static void on_fail(void *ud, ws_client_error kind, const char *msg)
{
    agent *a = ud;
    ws_client_free(a->wsc);
    a->wsc = NULL;
    if (kind == WSC_ERR_AUTH) {
        char why[600];
        token_refused(a, msg, why, sizeof why);
        TLOG_E(a->log, "%s", why);
        termview_session(a->tv, "failed: the server refused the token", NULL, NULL);
        a->exit_code = AGENT_EXIT_AUTH;
        a->stopping = true;
        stop_now(a);
        return;
    }
    bool permanent = kind == WSC_ERR_TLS || kind == WSC_ERR_NOT_FOUND || kind == WSC_ERR_SCHEME ||
                     kind == WSC_ERR_REJECTED;
    if (permanent && !a->ever_established) {
        agent_give_up(a, msg); /* the same answer would come back on every retry */
        return;
    }
    if (permanent)
        TLOG_E(a->log, "%s", msg);
    else
        TLOG_W(a->log, "Connection to %s failed: %s", a->cfg->endpoint_log, msg);
    schedule_retry(a);
}

static const ws_client_cbs wsc_cbs = {on_open, on_fail};

static void attempt(agent *a)
{
    char err[256];
    TLOG_D(a->log, "Connecting to %s%s", a->cfg->endpoint_log,
           a->cfg->token ? " with a token (Authorization header)" : "");
    struct timeval tv = {a->cfg->connect_timeout, 0};
    evtimer_add(a->connect_timer, &tv);
    termview_session(a->tv, "connecting", NULL, NULL);
    a->wsc = ws_client_start(a->loop, a->cfg, a->ssl_ctx, &wsc_cbs, a, err, sizeof err);
    if (!a->wsc) {
        TLOG_W(a->log, "Connection to %s failed: %s", a->cfg->endpoint_log, err);
        schedule_retry(a);
    }
}

static void retry_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    attempt(ud);
}

static void connect_timeout_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    agent *a = ud;
    TLOG_W(a->log, "Connection to %s timed out after %d s", a->cfg->endpoint_log,
           a->cfg->connect_timeout);
    if (a->wsc) {
        ws_client_free(a->wsc);
        a->wsc = NULL;
    }
    if (a->sess) {
        session_free(a->sess);
        a->sess = NULL;
    }
    if (a->moving) { /* the next connection did not take the tunnel over in time */
        a->moving = false;
        ws_client_free(a->next_wsc);
        a->next_wsc = NULL;
        session_free(a->next);
        a->next = NULL;
    }
    a->established = false;
    schedule_retry(a);
}

static void stop_timer_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    stop_now(ud);
}

static void signal_cb(evutil_socket_t sig, short what, void *ud)
{
    (void)what;
    agent *a = ud;
    if (a->stopping) {
        stop_now(a); /* second signal: do not wait */
        return;
    }
    TLOG_I(a->log, "Received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    termview_session(a->tv, "stopping", NULL, NULL);
    a->stopping = true;
    evtimer_del(a->retry_timer);
    evtimer_del(a->connect_timer);
    if (a->wsc) {
        ws_client_free(a->wsc);
        a->wsc = NULL;
    }
    evtimer_del(a->rotate_timer);
    if (a->next_wsc) {
        ws_client_free(a->next_wsc);
        a->next_wsc = NULL;
    }
    if (a->next) {
        session_free(a->next);
        a->next = NULL;
    }
    if (a->old) {
        session_free(a->old);
        a->old = NULL;
    }
    if (a->sess && !a->sess->closed) {
        session_close(a->sess); /* on_closed ends the loop */
        struct timeval tv = {STOP_GRACE_SEC, 0};
        evtimer_add(a->stop_timer, &tv);
        return;
    }
    stop_now(a);
}

static const char *env_get(const char *name)
{
    return getenv(name);
}

/* The remembered id and agent key for this endpoint and local service (idstore.h). Without a
 * usable store (or with --forget) the key is made up for this run only. */
static void load_memory(agent *a)
{
    const agent_config *cfg = a->cfg;
    const tunnel_url *u = &cfg->url;
    bool v6 = strchr(u->host, ':') != NULL;
    snprintf(a->ids_endpoint, sizeof a->ids_endpoint, v6 ? "%s://[%s]:%d%.*s" : "%s://%s:%d%.*s",
             u->tls ? "wss" : "ws", u->host, u->port, (int)strcspn(u->path, "?"), u->path);
    agent_config_local_hostport(cfg, a->ids_local, sizeof a->ids_local);
    char path[4200], err[512];
    if (!cfg->forget) {
        if (statedir_path(path, sizeof path, env_get, "ttf", "state.db", false, err, sizeof err) !=
                0 ||
            !(a->ids = idstore_open(path, err, sizeof err)) ||
            (!cfg->config_file && idstore_load(a->ids, a->ids_endpoint, a->ids_local, a->tunnel_id,
                                               a->agent_key, err, sizeof err) != 0)) {
            TLOG_W(a->log, "the tunnel id will not be remembered: %s", err);
            idstore_close(a->ids);
            a->ids = NULL;
            a->tunnel_id[0] = '\0';
        }
    }
    if (cfg->config_file)
        agent_load_tunnel_ids(a);
    if (!a->ids && idstore_new_key(a->agent_key) != 0)
        a->agent_key[0] = '\0';
    if (cfg->subdomain) /* the name asked for; a remembered other one is not a "previous URL" */
        snprintf(a->tunnel_id, sizeof a->tunnel_id, "%s", cfg->subdomain);
    else if (a->tunnel_id[0])
        TLOG_D(a->log, "asking for the last tunnel id, %s", a->tunnel_id);
}

int agent_run(const agent_config *cfg, const tlog *lg0, FILE *out)
{
    agent a;
    memset(&a, 0, sizeof a);
    a.cfg = cfg;
    a.out = out;
    backoff_init(&a.bo, NULL, NULL);
    int rc = 1;
    char err[256];

    a.base = conn_base_new();
    a.loop = a.base ? conn_loop_new(a.base) : NULL;
    if (!a.loop) {
        TLOG_E(lg0, "cannot create the event loop");
        if (a.base)
            event_base_free(a.base);
        return 1;
    }
    /* On a TTY (unless --log-format or -v say otherwise): the live status block on stdout. */
    bool term = cfg->log_format == LOGFMT_TERM ||
                (cfg->log_format == LOGFMT_AUTO && !cfg->verbose && isatty(fileno(out)));
    if (term) {
        fflush(out);
        a.tv = termview_new(a.base, fileno(out), cfg);
        if (!a.tv && cfg->log_format == LOGFMT_TERM)
            TLOG_W(lg0, "--log-format term: stdout is not a terminal; plain lines instead");
    }
    tlog batched = *lg0;
    tlog_stamp stamp = {0};
    batched.stamp = &stamp;
    logbuf *lb = NULL;
    if (a.tv && lg0->out && isatty(fileno(lg0->out))) {
        batched.out = termview_log_file(a.tv); /* log lines show inside the block */
    } else {
        /* One line per request: gathered and written once per loop pass (lg0 if that fails). */
        lb = lg0->out ? logbuf_new(a.base, fileno(lg0->out)) : NULL;
        if (lb) {
            fflush(lg0->out);
            batched.out = logbuf_file(lb);
            batched.sink = logbuf_add;
            batched.sink_ud = lb;
        }
    }
    const tlog *lg = &batched;
    a.log = lg;
    load_memory(&a);
    observer_fanout_init(&a.fan);
    observer_fanout_add(&a.fan, a.tv ? termview_observer(a.tv) : observer_log(lg));
    if ((a.hint = hosthint_new(cfg, lg)))
        observer_fanout_add(&a.fan, hosthint_observer(a.hint));
    if (cfg->inspect_addr) {
        a.insp = inspector_new(a.base, cfg, lg, err, sizeof err);
        if (a.insp) {
            observer_fanout_add(&a.fan, inspector_observer(a.insp));
            inspector_set_tunnel(a.insp, "connecting", NULL, NULL);
            termview_inspector(a.tv, inspector_url(a.insp));
            if (!a.tv) {
                fprintf(out, "Inspector: %s\n", inspector_url(a.insp));
                fflush(out);
            }
        } else {
            TLOG_W(lg, "inspector not started: %s; going on without it", err);
        }
    }
    a.obs = observer_fanout_observer(&a.fan);
    if (cfg->url.tls) {
        char terr[600];
        a.ssl_ctx = tls_client_ctx(cfg->ca_file, cfg->insecure, terr, sizeof terr);
        if (!a.ssl_ctx) {
            TLOG_E(lg, "TLS setup failed: %s", terr);
            goto out;
        }
    }
    a.pools = calloc(cfg->ntunnels, sizeof(local_pool *));
    if (!a.pools) {
        TLOG_E(lg, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < cfg->ntunnels; i++) {
        const agent_tunnel *t = &cfg->tunnels[i];
        if (t->local_tls && !a.local_ssl_ctx &&
            !(a.local_ssl_ctx = tls_client_ctx(NULL, true, err, sizeof err))) {
            TLOG_E(lg, "TLS setup for the local service failed: %s", err);
            goto out;
        }
        a.pools[i] =
            local_pool_new(a.loop, t->local_host_default ? NULL : t->local_host, t->local_port,
                           t->local_tls ? a.local_ssl_ctx : NULL, POOL_MAX_IDLE,
                           (unsigned)cfg->connect_timeout * 1000u, err, sizeof err);
        if (!a.pools[i]) {
            TLOG_E(lg, "%s%s%s", t->name ? t->name : "", t->name ? ": " : "", err);
            goto out;
        }
    }
    a.retry_timer = evtimer_new(a.base, retry_cb, &a);
    a.connect_timer = evtimer_new(a.base, connect_timeout_cb, &a);
    a.stop_timer = evtimer_new(a.base, stop_timer_cb, &a);
    a.rotate_timer = evtimer_new(a.base, rotate_cb, &a);
    a.drain_timer = evtimer_new(a.base, drain_cb, &a);
    a.sigint = evsignal_new(a.base, SIGINT, signal_cb, &a);
    a.sigterm = evsignal_new(a.base, SIGTERM, signal_cb, &a);
    if (!a.retry_timer || !a.connect_timer || !a.stop_timer || !a.rotate_timer || !a.drain_timer ||
        !a.sigint || !a.sigterm || evsignal_add(a.sigint, NULL) != 0 ||
        evsignal_add(a.sigterm, NULL) != 0) {
        TLOG_E(lg, "cannot set up timers and signals");
        goto out;
    }
    a.tok = token_end_new(a.base, cfg->token, lg);
    attempt(&a);
    event_base_dispatch(a.base);
    rc = a.exit_code;

out:
    if (a.wsc)
        ws_client_free(a.wsc);
    if (a.sess)
        session_free(a.sess);
    if (a.next_wsc)
        ws_client_free(a.next_wsc);
    if (a.next)
        session_free(a.next);
    if (a.old)
        session_free(a.old);
    for (size_t i = 0; a.pools && i < cfg->ntunnels; i++)
        local_pool_free(a.pools[i]);
    free(a.pools);
    free(a.held);
    free(a.held_ptr);
    if (a.rotate_timer)
        event_free(a.rotate_timer);
    if (a.drain_timer)
        event_free(a.drain_timer);
    token_end_free(a.tok);
    inspector_free(a.insp); /* after the session: every exchange has ended */
    hosthint_free(a.hint);
    observer_fanout_free(&a.fan);
    if (a.retry_timer)
        event_free(a.retry_timer);
    if (a.connect_timer)
        event_free(a.connect_timer);
    if (a.stop_timer)
        event_free(a.stop_timer);
    if (a.sigint)
        event_free(a.sigint);
    if (a.sigterm)
        event_free(a.sigterm);
    if (a.ssl_ctx)
        SSL_CTX_free(a.ssl_ctx);
    if (a.local_ssl_ctx) /* after the pools */
        SSL_CTX_free(a.local_ssl_ctx);
    idstore_close(a.ids);
    logbuf_free(lb);               /* writes the last lines */
    termview_free(a.tv, lg0->out); /* restores the screen, then shows the last log lines */
    conn_loop_free(a.loop);
    event_base_free(a.base);
    return rc;
}
