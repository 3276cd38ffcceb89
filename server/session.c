/* SPDX-License-Identifier: MIT */
/* session.c - agent sessions (see session.h): the WebSocket upgrade on /_tunnel, ready ->
 * connection_established (names, takeover), ping/pong, and the hand-off of exchange messages to
 * the session's mux. */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "proto_bin.h"
#include "proto_json.h"
#include "ws.h"

struct session {
    server *srv;
    session *prev, *next;
    ws_conn *ws;
    mux *mux;
    bool bin;                   /* ttf.bin.v2, else JSON mode */
    bool established;           /* a tunnel was given (counted by the metrics) */
    bool several;               /* ready carried tunnels[]: answer with tunnels[] */
    char sub[AUTH_SUB_MAX + 1]; /* token subject ("" without auth) */
    char takeover[65];          /* secret for the agent's next connection (protocol.md §1) */
    char ip[64];
    struct event *ready_timer; /* an agent that never sends ready is dropped */
    tunnel tun;                /* its one tunnel (index 0; several per session: phase 3) */
};

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

static int send_msg(session *s, const tmsg *m)
{
    size_t len = 0;
    char *js = tmsg_encode(m, &len);
    if (!js)
        return -1;
    int rc = ws_send_text(s->ws, js, len);
    free(js);
    return rc;
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

/* Ends the session: its streams fail (502 before a response, closed after), the name is let go. */
static void destroy(session *s)
{
    server *srv = s->srv;
    char err[256];
    if (s->tun.ready &&
        registry_release(srv->reg, s->tun.name, &s->tun, (int64_t)time(NULL), err, sizeof err) != 0)
        TLOG_E(srv->log, "tunnel %s: release not recorded: %s", s->tun.name, err);
    if (s->established && srv->metrics)
        metrics_on_agent_disconnect(srv->metrics);
    if (s->mux)
        s->mux->vt->free(s->mux, "the tunnel agent went away");
    tunnel_access_free(s->tun.access);
    if (s->ready_timer)
        event_free(s->ready_timer);
    ws_conn_free(s->ws);
    unlink_session(s);
    free(s);
}

/* ---- ready ---- */

/* notice: why the name asked for was not given (NULL: nothing to say). */
static void send_established(session *s, const char *notice)
{
    server *srv = s->srv;
    char conn_id[33], sub_url[512], path_url[512];
    random_hex(conn_id, 16);
    snprintf(sub_url, sizeof sub_url, "%s://%s.%s", srv->scheme, s->tun.name, srv->url_host);
    snprintf(path_url, sizeof path_url, "%s://%s/%s", srv->scheme, srv->url_host, s->tun.name);
    tmsg m;
    tmsg_init(&m, TMSG_CONNECTION_ESTABLISHED);
    m.connection_id = conn_id;
    m.tunnel_id = s->tun.name;
    m.public_url = sub_url;
    m.subdomain_url = sub_url;
    m.path_based_url = path_url;
    m.message = (char *)notice;
    random_hex(s->takeover, 32); /* a new secret each time: the previous one is used up */
    m.takeover = s->takeover;
    m.access_applied = s->tun.access != NULL; /* the agent stops unless its policy is enforced */
    tmsg_tunnel t = {.name = (char *)"",
                     .tunnel_id = s->tun.name,
                     .public_url = sub_url,
                     .subdomain_url = sub_url,
                     .path_based_url = path_url};
    if (s->several) {
        m.tunnels = &t;
        m.ntunnels = 1;
    }
    if (send_msg(s, &m) != 0)
        TLOG_W(srv->log, "agent %s: could not send connection_established", s->ip);
    /* the strings belong to this frame: nothing to free */
}

/* A name that cannot be given, or an access policy that cannot be enforced: say why, then close
 * (the agent stops; docs/protocol.md). */
static void refuse_name(session *s, const char *code, const char *message)
{
    TLOG_W(s->srv->log, "agent %s%s%s: %s", s->ip, s->sub[0] ? " sub=" : "", s->sub, message);
    tmsg m;
    tmsg_init(&m, TMSG_TUNNEL_REFUSED);
    m.refusal = (char *)code;
    m.message = (char *)message;
    send_msg(s, &m);
    ws_close(s->ws, 1008, code);
}

/* returning: the name's record was already this owner's (a reconnect; the metrics). */
static void named(session *s, const char *name, bool returning)
{
    snprintf(s->tun.name, sizeof s->tun.name, "%s", name);
    s->tun.ready = true;
    mux_set_tunnel(s->mux, name);
    evtimer_del(s->ready_timer);
    s->established = true;
    if (s->srv->metrics)
        metrics_on_agent_connect(s->srv->metrics, returning);
}

/* The agent moving its tunnel to this new connection while its old one is still open: granted
 * for the secret the holder was given and the same subject (docs/protocol.md §1). */
static bool take_over(session *s, const tmsg *m)
{
    server *srv = s->srv;
    if (!m->tunnel_id || !m->takeover)
        return false;
    tunnel *t = registry_lookup(srv->reg, m->tunnel_id, strlen(m->tunnel_id));
    session *holder = t ? t->sess : NULL;
    if (!holder || holder == s || !holder->takeover[0] ||
        strcmp(holder->takeover, m->takeover) != 0 || strcmp(holder->sub, s->sub) != 0 ||
        registry_move(srv->reg, m->tunnel_id, &holder->tun, &s->tun) != 0)
        return false;
    holder->takeover[0] = '\0'; /* it keeps its requests in flight, no longer the name */
    holder->tun.ready = false;
    named(s, m->tunnel_id, true);
    TLOG_I(srv->log, "agent %s: tunnel %s moved to a new connection", s->ip, s->tun.name);
    send_established(s, NULL);
    return true;
}

static void on_ready(session *s, const tmsg *m)
{
    server *srv = s->srv;
    if (s->tun.ready) {
        send_established(s, NULL); /* repeated ready: same answer */
        return;
    }
    const char *subdomain = m->subdomain;
    if (m->ntunnels > 1) {
        refuse_name(s, "name_invalid", "several tunnels on one connection are not served yet");
        return;
    }
    if (m->ntunnels == 1) {
        s->several = true;
        if (m->tunnels[0].subdomain)
            subdomain = m->tunnels[0].subdomain;
    }
    /* The tunnel's access policy (tunnel_access.h), in force before the name is routable here
     * (also when the tunnel moves to this connection). */
    access_policy *pol = NULL;
    char why[300];
    if (m->access &&
        access_policy_from_request(m->access, strlen(m->access), &pol, why, sizeof why) != 0) {
        refuse_name(s, "access_invalid", why);
        return;
    }
    tunnel_access_free(s->tun.access); /* a ready refused before may have left one */
    s->tun.access = NULL;
    if (tunnel_access_new(pol, &s->tun.access) != 0) {
        ws_close(s->ws, 1011, "server error");
        return;
    }
    if (take_over(s, m))
        return;
    char owner[STATE_OWNER_MAX + 1], chosen[TUNNEL_NAME_MAX + 1];
    if (tunnel_owner(owner, sizeof owner, srv->auth != NULL, s->sub, m->agent_key) != 0) {
        ws_close(s->ws, 1011, "server error");
        return;
    }
    registry_ask ask = {.name = m->tunnel_id, .chosen = false, .owner = owner};
    if (subdomain) {
        const char *why = NULL;
        if (tunnel_name_normalize(subdomain, chosen, &why) != 0) {
            char msg[200];
            snprintf(msg, sizeof msg, "subdomain '%.63s' is not allowed: %s", subdomain, why);
            refuse_name(s, "name_invalid", msg);
            return;
        }
        ask.name = chosen;
        ask.chosen = true;
    }
    registry_answer ans;
    registry_claim_result r = registry_claim(srv->reg, &ask, (int64_t)time(NULL), &s->tun, &ans);
    if (r == REG_ERROR) {
        TLOG_E(srv->log, "agent %s: no tunnel name: %s", s->ip, ans.message);
        ws_close(s->ws, 1011, "server error");
        return;
    }
    if (r == REG_REFUSED) {
        refuse_name(s, ans.code, ans.message);
        return;
    }
    named(s, ans.name, ans.returning);
    TLOG_I(srv->log, "agent %s%s%s: tunnel %s (%s, %s mode)%s%s", s->ip, s->sub[0] ? " sub=" : "",
           s->sub, s->tun.name, r == REG_GRANTED ? (ask.chosen ? "chosen" : "reclaimed") : "new",
           s->bin ? "binary" : "json", ans.code ? ": " : "", ans.code ? ans.message : "");
    if (s->tun.access) {
        char desc[600];
        access_policy_describe(tunnel_access_policy(s->tun.access), desc, sizeof desc);
        TLOG_I(srv->log, "tunnel %s: access %s", s->tun.name, desc);
    }
    if (ans.code) {
        char notice[300];
        snprintf(notice, sizeof notice, "%s; this tunnel has a new id", ans.message);
        send_established(s, notice);
    } else {
        send_established(s, NULL);
    }
}

/* ---- WebSocket handlers ---- */

static void on_text(void *ud, const uint8_t *data, size_t len)
{
    session *s = ud;
    tmsg m;
    const char *err = NULL;
    if (tmsg_decode((const char *)data, len, &m, &err) != 0) {
        TLOG_W(s->srv->log, "agent %s: bad message dropped: %s", s->ip, err ? err : "?");
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
        if (s->tun.ready || m.request_id) /* a moved session still answers its exchanges */
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
    TLOG_I(srv->log, "agent %s disconnected%s%s (%u %s)", s->ip, s->tun.ready ? ": tunnel " : "",
           s->tun.ready ? s->tun.name : "", (unsigned)code, reason ? reason : "");
    destroy(s);
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
    s->tun.sess = s;
    s->tun.json = !bin;
    s->ready_timer = evtimer_new(srv->base, ready_timeout_cb, s);
    mux_ident id = {.log = srv->log};
    snprintf(id.agent, sizeof id.agent, "%s", ip);
    mux_link link = {s,         link_send_binary, link_send_text, link_pending, ws_high_water(),
                     link_pause};
    s->mux = bin ? mux_bin_new(&link, &id) : mux_json_new(&link, &id);
    s->tun.mux = s->mux;
    if (!s->ready_timer || !s->mux) {
        if (s->mux)
            s->mux->vt->free(s->mux, NULL);
        if (s->ready_timer)
            event_free(s->ready_timer);
        free(s);
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
    conn_set_idle(c, 0); /* an idle tunnel is fine; the agent pings */
    conn_set_deadline(c, 0);
    conn_read(c, true);
    s->ws = ws_conn_new(c, true, &handlers, s, TTFD_AGENT_MAX_MSG);
    if (!s->ws) {
        s->mux->vt->free(s->mux, NULL);
        event_free(s->ready_timer);
        free(s);
        return refuse(status, why, cap, 500, "out of memory");
    }
    /* queued before any frame the session may send */
    conn_write(c, resp, (size_t)n);
    if (!bin) /* JSON mode keeps API Gateway's frames: messages over 32 KB leave in frames */
        ws_set_frame_limit(s->ws, TTF_JSON_MAX_FRAME);
    struct timeval tv = {TTFD_READY_SEC, 0};
    evtimer_add(s->ready_timer, &tv);
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

void session_close_all(server *srv)
{
    for (session *s = srv->sessions; s; s = s->next)
        ws_close(s->ws, 1001, "server shutting down");
}

void session_free_all(server *srv)
{
    while (srv->sessions)
        destroy(srv->sessions); // NOLINT(clang-analyzer-unix.Malloc): it unlinks itself
}

size_t session_count(const server *srv)
{
    size_t n = 0;
    for (const session *s = srv->sessions; s; s = s->next)
        n++;
    return n;
}

size_t session_streams(const server *srv)
{
    size_t n = 0;
    for (const session *s = srv->sessions; s; s = s->next)
        n += s->mux->vt->streams(s->mux);
    return n;
}
