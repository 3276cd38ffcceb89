/* SPDX-License-Identifier: MIT */
/* session.c - agent sessions (see session.h): the WebSocket upgrade on /_tunnel, ready ->
 * connection_established (its names: session_claim.c), ping/pong, and the hand-off of exchange
 * messages to the session's mux. */
#include "session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "clock.h"
#include "proto_bin.h"
#include "proto_json.h"
#include "ws.h"

static void random_hex(char *out, size_t nbytes)
{
    unsigned char raw[32];
    if (nbytes > sizeof raw)
        nbytes = sizeof raw;
    if (RAND_bytes(raw, (int)nbytes) != 1)
        memset(raw, 0, sizeof raw);
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* ---- the link the mux sends on ---- */

static int link_send_binary(void *ud, const void *hdr, size_t hlen, const void *data, size_t len)
{
    return ws_send_binary2(((session *)ud)->ws, hdr, hlen, data, len);
}

static int link_send_text(void *ud, const void *data, size_t len)
{
    return ws_send_text(((session *)ud)->ws, data, len);
}

static size_t link_pending(void *ud)
{
    return ws_pending(((session *)ud)->ws);
}

static void link_pause(void *ud, bool on)
{
    ws_pause_read(((session *)ud)->ws, on);
}

static int send_text(void *ud, const char *text, size_t len)
{
    return ws_send_text(((session *)ud)->ws, text, len);
}

static int send_msg(session *s, const tmsg *m)
{
    return tmsg_encode_to(m, send_text, s);
}

/* ---- the session's end ---- */

void session_maybe_exit(server *srv)
{
    if (srv->stopping && !srv->sessions)
        event_base_loopexit(srv->base, NULL);
}

static void unlink_session(session *s)
{
    server *srv = s->srv;
    if (s->prev)
        s->prev->next = s->next;
    else if (srv->sessions == s)
        srv->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

/* The registry lets go of the session's names. */
static void release_all(session *s)
{
    server *srv = s->srv;
    char err[256];
    for (size_t i = 0; i < s->ntun; i++) {
        tunnel *t = &s->tun[i];
        if (!t->ready)
            continue;
        if (registry_release(srv->reg, t->name, t, (int64_t)time(NULL), err, sizeof err) != 0)
            TLOG_E(srv->log, "tunnel %s: release not recorded: %s", t->name, err);
        t->ready = false;
    }
}

void sess_destroy(session *s)
{
    server *srv = s->srv;
    release_all(s);
    if (s->established && srv->metrics)
        metrics_on_agent_disconnect(srv->metrics);
    if (s->mux)
        s->mux->vt->free(s->mux, edge_answer_of(EDGE_AGENT_GONE)->text);
    if (s->ready_timer)
        event_free(s->ready_timer);
    if (s->beat)
        event_free(s->beat);
    ws_conn_free(s->ws);
    tmsg_decoder_free(s->dec);
    unlink_session(s);
    for (size_t i = 0; s->tun && i < s->ntun; i++)
        tunnel_access_free(s->tun[i].access);
    free(s->tun);
    free(s);
}

/* ---- ready ---- */

/* One URL of a tunnel name: subdomain or path form. malloc'd (NULL on ENOMEM). */
static char *tunnel_url(const server *srv, const char *name, bool path)
{
    char buf[512];
    if (path)
        snprintf(buf, sizeof buf, "%s://%s/%s", srv->scheme, srv->url_host, name);
    else
        snprintf(buf, sizeof buf, "%s://%s.%s", srv->scheme, name, srv->url_host);
    return strdup(buf);
}

/* notice: why a name asked for was not given (NULL: nothing to say). names: ready's tunnels[]
 * names, echoed (NULL when ready had none). With several tunnels the top-level fields are the
 * first tunnel's (docs/protocol.md §1). */
static void send_established(session *s, const char *notice, char *const *names)
{
    server *srv = s->srv;
    char conn_id[33];
    random_hex(conn_id, 16);
    tmsg_tunnel *tl = calloc(s->ntun, sizeof *tl);
    bool ok = tl != NULL;
    for (size_t i = 0; ok && i < s->ntun; i++) {
        tl[i].name = names && names[i] ? names[i] : (char *)"";
        tl[i].tunnel_id = s->tun[i].name;
        tl[i].public_url = tunnel_url(srv, s->tun[i].name, false);
        tl[i].path_based_url = tunnel_url(srv, s->tun[i].name, true);
        tl[i].subdomain_url = tl[i].public_url;
        tl[i].access_applied = s->tun[i].access != NULL; /* the agent stops unless enforced */
        ok = tl[i].public_url && tl[i].path_based_url;
    }
    tmsg m;
    tmsg_init(&m, TMSG_CONNECTION_ESTABLISHED);
    if (ok) {
        m.connection_id = conn_id;
        m.tunnel_id = s->tun[0].name;
        m.public_url = tl[0].public_url;
        m.subdomain_url = tl[0].public_url;
        m.path_based_url = tl[0].path_based_url;
        m.message = (char *)notice;
        m.access_applied = s->tun[0].access != NULL; /* the agent stops unless it is enforced */
        random_hex(s->takeover, 32); /* a new secret each time: the previous one is used up */
        m.takeover = s->takeover;
        m.stream_window = s->stream_window;
        m.request_window = s->request_window;
        m.relay_interim = s->relay_interim;
        m.relay_trailers = s->relay_trailers;
        m.header_strings = s->header_strings;
        if (s->several) {
            m.tunnels = tl;
            m.ntunnels = s->ntun;
        }
    }
    if (!ok || send_msg(s, &m) != 0)
        TLOG_W(srv->log, "agent %s: could not send connection_established", s->ip);
    for (size_t i = 0; tl && i < s->ntun; i++) {
        free(tl[i].public_url);
        free(tl[i].path_based_url);
    }
    free(tl);
}

void sess_refuse_name(session *s, const char *code, const char *message)
{
    TLOG_W(s->srv->log, "agent %s%s%s: %s", s->ip, s->sub[0] ? " sub=" : "", s->sub, message);
    tmsg m;
    tmsg_init(&m, TMSG_TUNNEL_REFUSED);
    m.refusal = (char *)code;
    m.message = (char *)message;
    send_msg(s, &m);
    ws_close(s->ws, 1008, code);
}

void sess_all_named(session *s, bool returning)
{
    char label[64] = "";
    size_t n = 0;
    for (size_t i = 0; i < s->ntun; i++) {
        s->tun[i].ready = true;
        int w = snprintf(label + n, sizeof label - n, "%s%s", i ? "," : "", s->tun[i].name);
        n = w < 0 || (size_t)w >= sizeof label - n ? sizeof label - 1 : n + (size_t)w;
    }
    mux_set_tunnel(s->mux, label);
    evtimer_del(s->ready_timer);
    s->established = true;
    if (s->srv->metrics)
        metrics_on_agent_connect(s->srv->metrics, returning);
}

/* Each tunnel's gate from its ready entry's access (the first one falls back to the top-level
 * field). A policy this server cannot enforce refuses the ready (access_invalid). 0 or -1. */
static int set_access(session *s, const tmsg *m)
{
    for (size_t i = 0; i < s->ntun; i++) {
        tunnel *t = &s->tun[i];
        const char *json = m->ntunnels ? m->tunnels[i].access : NULL;
        const char *label = m->ntunnels > 1 && m->tunnels[i].name ? m->tunnels[i].name : NULL;
        if (i == 0 && !json)
            json = m->access;
        access_policy *pol = NULL;
        char why[300], msg[400];
        if (json && access_policy_from_request(json, strlen(json), &pol, why, sizeof why) != 0) {
            snprintf(msg, sizeof msg, "%s%s%s%s", label ? "tunnel " : "", label ? label : "",
                     label ? ": " : "", why);
            sess_refuse_name(s, "access_invalid", msg);
            return -1;
        }
        tunnel_access_free(t->access); /* a ready refused before may have left one */
        t->access = NULL;
        if (tunnel_access_new(pol, &t->access) != 0) {
            ws_close(s->ws, 1011, "server error");
            return -1;
        }
    }
    return 0;
}

static void on_ready(session *s, const tmsg *m)
{
    if (s->tun[0].ready) {
        send_established(s, NULL, NULL); /* repeated ready: same answer */
        return;
    }
    /* JSON mode: an agent that honours windows gets one per request (docs/protocol.md §2
     * "Flow control"), and one that credits request bodies a request window; others keep the
     * link pause for a slow client and for a slow local service */
    s->stream_window = !s->bin && m->stream_windows ? (uint32_t)TTF_JSON_STREAM_WINDOW_FIRST : 0;
    s->request_window = !s->bin && m->request_windows ? (uint32_t)TTF_JSON_REQUEST_WINDOW : 0;
    /* an agent that asks for a smaller request window (ready.request_window) gets it, in both
     * modes: it grows each stream's window with its credit as its memory allows */
    uint32_t ours = s->bin ? TTF_BIN_INITIAL_WINDOW : s->request_window;
    if (m->request_window && ours && m->request_window < ours)
        s->request_window = (uint32_t)m->request_window;
    else if (s->bin)
        s->request_window = 0; /* not asked: TTF_BIN_INITIAL_WINDOW, not announced */
    /* JSON mode: an agent that can send interim responses and trailer sections (and take
     * request trailers) gets them relayed, as binary mode does; header_strings both ways */
    s->relay_interim = !s->bin && m->relay_interim;
    s->relay_trailers = !s->bin && m->relay_trailers;
    s->header_strings = !s->bin && m->header_strings;
    if (!s->bin) {
        mux_json_set_window(s->mux, s->stream_window, (uint32_t)TTF_JSON_STREAM_WINDOW);
        mux_json_set_request_window(s->mux, s->request_window);
        mux_json_set_relays(s->mux, s->relay_interim, s->relay_trailers);
        mux_json_set_header_strings(s->mux, s->header_strings);
    } else if (s->request_window) {
        mux_bin_set_request_window(s->mux, s->request_window);
    }
    size_t n = m->ntunnels ? m->ntunnels : 1;
    for (size_t i = 0; i < m->ntunnels; i++)
        for (size_t j = 0; j < i; j++)
            if (m->tunnels[i].subdomain && m->tunnels[j].subdomain &&
                strcasecmp(m->tunnels[i].subdomain, m->tunnels[j].subdomain) == 0) {
                sess_refuse_name(s, "name_invalid", "two tunnels ask for the same subdomain");
                return;
            }
    if (n != s->ntun) { /* nothing points at the tunnels yet: the array may move */
        tunnel *grown = realloc(s->tun, n * sizeof *s->tun);
        if (!grown) {
            ws_close(s->ws, 1011, "server error");
            return;
        }
        s->tun = grown;
        for (size_t i = s->ntun; i < n; i++)
            s->tun[i] = (tunnel){.sess = s, .mux = s->mux, .index = (uint8_t)i, .json = !s->bin};
        s->ntun = n;
    }
    for (size_t i = 0; i < n; i++) {
        s->tun[i].interim = s->bin || s->relay_interim;
        s->tun[i].trailers = s->bin || s->relay_trailers;
    }
    s->several = m->ntunnels > 0;
    /* Each tunnel's access policy (tunnel_access.h), in force before its name is routable here
     * (also when the tunnel moves to this connection). */
    if (set_access(s, m) != 0)
        return;
    if (tunnel_owner(s->owner, sizeof s->owner, s->srv->auth != NULL, s->sub, m->agent_key) != 0) {
        ws_close(s->ws, 1011, "server error");
        return;
    }
    char notice[400] = "";
    if (!sess_take_over(s, m)) {
        sess_end_silent_holders(s, m);
        bool returning = false;
        if (sess_claim_all(s, m, notice, sizeof notice, &returning) != 0)
            return;
        sess_all_named(s, returning);
    }
    char **names = NULL;
    if (m->ntunnels) {
        names = calloc(m->ntunnels, sizeof *names);
        for (size_t i = 0; names && i < m->ntunnels; i++)
            names[i] = m->tunnels[i].name;
    }
    send_established(s, notice[0] ? notice : NULL, names);
    free(names);
}

/* ---- WebSocket handlers ---- */

/* An exchange message that did not decode still names its exchange: that exchange fails at
 * once (protocol_error), not after --request-timeout. One of more tokens than any message of the
 * protocol holds is read no further: the agent's link closes (1009, RFC 6455 §7.4.1: a message
 * too big to process), its exchanges with it. */
static void on_text(void *ud, const uint8_t *data, size_t len)
{
    session *s = ud;
    tmsg m;
    const char *err = NULL;
    int rc = tmsg_decode_with(s->dec, (const char *)data, len, &m, &err);
    if (rc == TMSG_TOO_MANY_TOKENS) {
        TLOG_W(s->srv->log, "agent %s%s%s: a message of %zu bytes with %s: closing the link", s->ip,
               s->tun[0].ready ? " tunnel " : "", s->tun[0].ready ? s->tun[0].name : "", len,
               TMSG_ERR_TOO_MANY_TOKENS);
        ws_close(s->ws, 1009, TMSG_ERR_TOO_MANY_TOKENS);
        return;
    }
    if (rc != 0) {
        tmsg_type t = TMSG_UNKNOWN;
        char *rid = tmsg_request_id_of((const char *)data, len, &t);
        if (t == TMSG_READY && !s->tun[0].ready) {
            /* the handshake fails now, saying why, not at TTFD_READY_SEC's "ready expected" */
            char why[200];
            snprintf(why, sizeof why, "bad ready: %s", err ? err : "unreadable");
            free(rid);
            sess_refuse_name(s, "ready_invalid", why);
            return;
        }
        MUX_WARN(&s->mux->id, "agent %s: bad message dropped: %s", s->ip, err ? err : "?");
        /* a bad message about one of our exchanges fails that exchange now, not at its timeout */
        if (s->bin) { /* exchange messages are binary frames there */
            free(rid);
            rid = NULL;
        }
        bool exchange = t == TMSG_HTTP_RESPONSE || t == TMSG_HTTP_RESPONSE_HEADERS ||
                        t == TMSG_HTTP_RESPONSE_BODY || t == TMSG_ERROR || t == TMSG_CANCEL ||
                        t == TMSG_WINDOW;
        if (rid && exchange && s->mux && s->mux->vt->on_bad_message)
            s->mux->vt->on_bad_message(s->mux, rid, err);
        free(rid);
        return;
    }
    switch (m.type) {
    case TMSG_READY:
        on_ready(s, &m);
        break;
    case TMSG_PING: {
        tmsg pong;
        tmsg_init(&pong, TMSG_PONG);
        send_msg(s, &pong);
        break;
    }
    case TMSG_PONG:
        break;
    default:
        if (s->tun[0].ready || m.request_id) /* a moved session still answers its exchanges */
            s->mux->vt->on_message(s->mux, &m);
        break;
    }
    tmsg_free(&m);
}

static void on_binary(void *ud, const uint8_t *data, size_t len)
{
    session *s = ud;
    s->mux->vt->on_binary(s->mux, data, len);
}

static void on_drain(void *ud)
{
    session *s = ud;
    s->mux->vt->on_drain(s->mux);
}

static void on_close(void *ud, uint16_t code, const char *reason)
{
    session *s = ud;
    server *srv = s->srv;
    bool named = s->tun[0].ready;
    TLOG_I(srv->log, "agent %s disconnected%s%s%s (%u %s)", s->ip, named ? ": tunnel " : "",
           named ? s->tun[0].name : "", named && s->ntun > 1 ? " and others" : "", (unsigned)code,
           reason ? reason : "");
    sess_destroy(s);
    session_maybe_exit(srv);
}

static void ready_timeout_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    session *s = ud;
    TLOG_W(s->srv->log, "agent %s sent no ready message in %d s: closing", s->ip, TTFD_READY_SEC);
    ws_close(s->ws, 1008, "ready expected");
}

static const ws_handlers handlers = {on_text, on_binary, on_drain, on_close};

/* Every quarter of --agent-timeout: a ping (an agent that pings rarely, as upstream's every
 * 5 min, answers it: the link's idle time never ends a live one), and the count of beats with
 * nothing new from it: nothing read, and nothing more waiting in its socket while we do not read
 * (a client that takes nothing pauses an agent without per-stream windows: its silence counts
 * all the same). The idle time (conn_set_idle) closes a link silent for the whole of it while
 * reading; the beats close it while paused. */
static void beat_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    session *s = ud;
    uint64_t reads = conn_reads(s->c);
    size_t queued = conn_queued_in(s->c);
    if (reads != s->heard_reads || queued != s->heard_queued) {
        s->heard_reads = reads;
        s->heard_queued = queued;
        s->silent_beats = 0;
    } else if (++s->silent_beats >= 4 && !conn_reading(s->c)) {
        server *srv = s->srv;
        TLOG_W(srv->log,
               "agent %s: nothing from it for %d s (--agent-timeout), its link paused: "
               "closing",
               s->ip, srv->cfg->agent_timeout);
        sess_destroy(s);
        session_maybe_exit(srv);
        return;
    }
    ws_send_ping(s->ws);
}

/* ---- the upgrade ---- */

static int refuse(int *status, char *why, size_t cap, int code, const char *text)
{
    *status = code;
    snprintf(why, cap, "%s", text);
    return -1;
}

int session_accept(server *srv, conn *c, const http1_head *h, const char *ip, int *status,
                   char *why, size_t cap)
{
    const http_headers *hd = &h->headers;
    if (strcmp(h->method, "GET") != 0 || !h->upgrade ||
        !http_headers_has_token(hd, "Upgrade", "websocket"))
        return refuse(status, why, cap, 400, "WebSocket upgrade required");
    const char *key = http_headers_get(hd, "Sec-WebSocket-Key");
    const char *ver = http_headers_get(hd, "Sec-WebSocket-Version");
    char accept[29];
    if (!key || !ver || strcmp(ver, "13") != 0 || ws_accept_key(key, accept) != 0)
        return refuse(status, why, cap, 400, "bad WebSocket handshake");
    char sub[AUTH_SUB_MAX + 1] = "";
    if (srv->auth) {
        const char *q = strchr(h->target, '?');
        char *token =
            auth_token_from_request(http_headers_get(hd, "Authorization"), q ? q + 1 : NULL);
        const char *err = "missing token";
        int ok =
            token ? auth_verify(srv->auth, token, (int64_t)time(NULL), sub, sizeof sub, &err) : -1;
        free(token);
        if (ok != 0) {
            *status = 401;
            snprintf(why, cap, "authentication failed: %s", err ? err : "invalid token");
            return -1;
        }
    }
    bool bin = http_headers_has_token(hd, "Sec-WebSocket-Protocol", TTF_SUBPROTO_BIN);
    bool json = !bin && http_headers_has_token(hd, "Sec-WebSocket-Protocol", TTF_SUBPROTO_JSON);

    session *s = calloc(1, sizeof *s);
    if (!s)
        return refuse(status, why, cap, 500, "out of memory");
    s->srv = srv;
    s->bin = bin;
    snprintf(s->ip, sizeof s->ip, "%s", ip);
    snprintf(s->sub, sizeof s->sub, "%s", sub);
    s->tun = calloc(1, sizeof *s->tun);
    s->ntun = s->tun ? 1 : 0;
    if (s->tun)
        s->tun[0] = (tunnel){.sess = s, .json = !bin};
    s->ready_timer = evtimer_new(srv->base, ready_timeout_cb, s);
    s->dec = tmsg_decoder_new();
    s->c = c;
    if (srv->cfg->agent_timeout > 0)
        s->beat = event_new(srv->base, -1, EV_PERSIST, beat_cb, s);
    mux_ident id = {.log = srv->log};
    snprintf(id.agent, sizeof id.agent, "%s", ip);
    mux_link link = {s,         link_send_binary, link_send_text, link_pending, ws_high_water(),
                     link_pause};
    s->mux = bin ? mux_bin_new(&link, &id) : mux_json_new(&link, &id);
    if (s->mux) {
        mux_set_max_streams(s->mux, srv->cfg->max_streams);
        mux_set_budget(s->mux, &srv->streams);
        mux_set_held_budget(s->mux, &srv->agent_held, TTFD_AGENT_HEAD_SHARE);
    }
    if (s->tun)
        s->tun[0].mux = s->mux;
    if (!s->tun || !s->ready_timer || !s->dec || !s->mux ||
        (srv->cfg->agent_timeout > 0 && !s->beat)) {
        sess_destroy(s); /* not linked yet, no ws: c stays the caller's */
        return refuse(status, why, cap, 500, "out of memory");
    }
    char resp[512];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                     accept, bin || json ? "Sec-WebSocket-Protocol: " : "",
                     bin    ? TTF_SUBPROTO_BIN
                     : json ? TTF_SUBPROTO_JSON
                            : "",
                     bin || json ? "\r\n" : "");
    /* Bytes after the head are already WebSocket frames: the ws_conn parses them. */
    /* an idle tunnel is fine, a silent link is not: nothing from the agent for --agent-timeout
     * (our pings unanswered too) closes it, its requests failing at once (502) instead of each at
     * --request-timeout or, once answering, never */
    conn_set_idle(c, (unsigned)srv->cfg->agent_timeout * 1000u);
    conn_set_deadline(c, 0);
    conn_read(c, true);
    s->ws = ws_conn_new(c, true, &handlers, s, TTFD_AGENT_MAX_MSG);
    if (!s->ws) {
        sess_destroy(s);
        return refuse(status, why, cap, 500, "out of memory");
    }
    ws_set_budget(s->ws, &srv->agent_msgs, TTFD_AGENT_MSG_SHARE, s->ip);
    /* queued before any frame the session may send */
    conn_write(c, resp, (size_t)n);
    if (!bin) /* JSON mode keeps API Gateway's frames: messages over 32 KB leave in frames */
        ws_set_frame_limit(s->ws, TTF_JSON_MAX_FRAME);
    struct timeval tv = {TTFD_READY_SEC, 0};
    evtimer_add(s->ready_timer, &tv);
    s->upgraded_ms = clock_now_ms();
    if (s->beat) {
        struct timeval beat = clock_timeval_ms((uint64_t)srv->cfg->agent_timeout * 250u);
        event_add(s->beat, &beat);
    }
    s->next = srv->sessions;
    if (srv->sessions)
        srv->sessions->prev = s;
    srv->sessions = s;
    TLOG_D(srv->log, "agent %s connected (%s)", s->ip,
           bin    ? TTF_SUBPROTO_BIN
           : json ? TTF_SUBPROTO_JSON
                  : "no subprotocol: json");
    return 0;
}

void session_each(server *srv, session_fn fn, void *ud)
{
    uint64_t now = clock_now_ms(), grace = srv->cfg->head_grace_ms;
    for (session *s = srv->sessions, *next; s; s = next) {
        next = s->next;
        bool unready = evtimer_pending(s->ready_timer, NULL) && s->mux->vt->streams(s->mux) == 0;
        fn(ud, s, &(session_info){s->ip, s->upgraded_ms, unready && now - s->upgraded_ms >= grace});
    }
}

void session_drop(session *s, const char *cap)
{
    server *srv = s->srv;
    TLOG_D(srv->log, "agent %s: no ready yet, closed to make room (%s)", s->ip, cap);
    sess_destroy(s);
    session_maybe_exit(srv);
}

void session_close_all(server *srv)
{
    for (session *s = srv->sessions; s; s = s->next)
        ws_close(s->ws, 1001, "server shutting down");
}

void session_free_all(server *srv)
{
    while (srv->sessions)
        sess_destroy(srv->sessions); // NOLINT(clang-analyzer-unix.Malloc): it unlinks itself
}

size_t session_streams(const server *srv)
{
    size_t n = 0;
    for (const session *s = srv->sessions; s; s = s->next)
        n += s->mux->vt->streams(s->mux);
    return n;
}

size_t session_count(const server *srv)
{
    size_t n = 0;
    for (const session *s = srv->sessions; s; s = s->next)
        n++;
    return n;
}
