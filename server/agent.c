/* SPDX-License-Identifier: MIT */
/* agent.c - agent sessions: the WebSocket upgrade on /_tunnel (auth, subprotocol choice), the
 * control messages (ready -> connection_established, ping/pong), the stream table, and the end
 * of a session (every open stream answered 502 or closed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/rand.h>

#include "proto_bin.h"
#include "proxy.h"
#include "server.h"

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

/* ---- sending ---- */

int agent_send_frame(agent *ag, uint8_t type, uint8_t flags, uint32_t sid, const void *data,
                     size_t len)
{
    uint8_t hdr[TTF_BIN_HDR];
    ttf_frame_header(hdr, type, flags, sid);
    return ws_send_binary2(ag->ws, hdr, sizeof hdr, data, len);
}

int agent_send_msg(agent *ag, const tmsg *m)
{
    size_t len = 0;
    char *js = tmsg_encode(m, &len);
    if (!js)
        return -1;
    int rc = ws_send_text(ag->ws, js, len);
    free(js);
    return rc;
}

/* ---- stream table ---- */

int agent_attach(agent *ag, pconn *pc)
{
    if (ag->bin) {
        for (int tries = 0; tries < 1000; tries++) {
            uint32_t id = ag->next_sid++;
            if (id == 0)
                continue;
            if (hmap_get_u32(ag->streams, id))
                continue;
            pc->sid = id;
            return hmap_put_u32(ag->streams, id, pc);
        }
        return -1;
    }
    if (proxy_request_id(pc->rid) != 0)
        return -1;
    return hmap_put(ag->streams, pc->rid, strlen(pc->rid), pc);
}

void agent_detach(agent *ag, pconn *pc)
{
    if (ag->bin)
        hmap_del_u32(ag->streams, pc->sid);
    else
        hmap_del(ag->streams, pc->rid, strlen(pc->rid));
}

typedef struct collect {
    pconn **v;
    size_t n, cap;
} collect;

static void collect_fn(void *ud, const void *key, size_t klen, void *value)
{
    (void)key;
    (void)klen;
    collect *c = ud;
    if (c->n < c->cap)
        c->v[c->n++] = value;
}

/* Snapshot of the streams: handlers may end streams (and so edit the map) while we walk. */
static collect snapshot(agent *ag)
{
    collect c = {0};
    c.cap = hmap_count(ag->streams);
    if (c.cap)
        c.v = malloc(c.cap * sizeof(pconn *));
    if (!c.v)
        c.cap = 0;
    hmap_each(ag->streams, collect_fn, &c);
    return c;
}

void agent_resume_streams(agent *ag)
{
    collect c = snapshot(ag);
    for (size_t i = 0; i < c.n; i++) {
        pconn *pc = c.v[i];
        /* an earlier one in the list cannot free this one; re-check it is still ours */
        if (pc->ag != ag || (pc->st != PC_BODY && pc->st != PC_PIPE))
            continue;
        pc_process(pc);
        pc_settle(pc);
    }
    free(c.v);
}

/* ---- session ---- */

static void agent_unlink(agent *ag)
{
    server *srv = ag->srv;
    if (ag->prev)
        ag->prev->next = ag->next;
    else
        srv->agents = ag->next;
    if (ag->next)
        ag->next->prev = ag->prev;
    ag->prev = ag->next = NULL;
}

/* Ends the session: streams get 502 or are closed, the id is released. */
static void agent_destroy(agent *ag)
{
    server *srv = ag->srv;
    char err[256];
    if (ag->ready &&
        registry_release(srv->reg, ag->tunnel_id, ag, (int64_t)time(NULL), err, sizeof err) != 0)
        TLOG_E(srv->log, "tunnel %s: release not recorded: %s", ag->tunnel_id, err);
    collect c = snapshot(ag);
    for (size_t i = 0; i < c.n; i++) {
        pconn *pc = c.v[i];
        agent_detach(ag, pc);
        pc->ag = NULL;
    }
    for (size_t i = 0; i < c.n; i++)
        pc_agent_gone(c.v[i]);
    free(c.v);
    hmap_free(ag->streams);
    if (ag->ready_timer)
        event_free(ag->ready_timer);
    ws_conn_free(ag->ws);
    agent_unlink(ag);
    free(ag);
}

/* notice: why the name asked for was not given (NULL: nothing to say). */
static void send_established(agent *ag, const char *notice)
{
    server *srv = ag->srv;
    char conn_id[33], sub_url[512], path_url[512];
    random_hex(conn_id, 16);
    snprintf(sub_url, sizeof sub_url, "%s://%s.%s", srv->scheme, ag->tunnel_id, srv->url_host);
    snprintf(path_url, sizeof path_url, "%s://%s/%s", srv->scheme, srv->url_host, ag->tunnel_id);
    tmsg m;
    tmsg_init(&m, TMSG_CONNECTION_ESTABLISHED);
    m.connection_id = conn_id;
    m.tunnel_id = ag->tunnel_id;
    m.public_url = sub_url;
    m.subdomain_url = sub_url;
    m.path_based_url = path_url;
    m.message = (char *)notice;
    random_hex(ag->takeover, 32); /* a new secret each time: the previous one is used up */
    m.takeover = ag->takeover;
    if (agent_send_msg(ag, &m) != 0)
        TLOG_W(srv->log, "agent %s: could not send connection_established", ag->ip);
    /* the strings belong to this frame: nothing to free */
}

/* A chosen name that cannot be given: say why, then close (the agent stops; docs/protocol.md). */
static void refuse_name(agent *ag, const char *code, const char *message)
{
    TLOG_W(ag->srv->log, "agent %s%s%s: %s", ag->ip, ag->sub[0] ? " sub=" : "", ag->sub, message);
    tmsg m;
    tmsg_init(&m, TMSG_TUNNEL_REFUSED);
    m.refusal = (char *)code;
    m.message = (char *)message;
    agent_send_msg(ag, &m);
    ws_close(ag->ws, 1008, code);
}

static void on_ready(agent *ag, const tmsg *m)
{
    server *srv = ag->srv;
    if (ag->ready) {
        send_established(ag, NULL); /* repeated ready: same answer */
        return;
    }
    /* The agent moving its tunnel to this new connection, its old one still open: granted for
     * the secret the holder was given, and the same subject (docs/protocol.md §1). */
    agent *holder = m->tunnel_id && m->takeover
                        ? registry_lookup(srv->reg, m->tunnel_id, strlen(m->tunnel_id))
                        : NULL;
    if (holder && holder != ag && holder->takeover[0] &&
        strcmp(holder->takeover, m->takeover) == 0 && strcmp(holder->sub, ag->sub) == 0 &&
        registry_move(srv->reg, m->tunnel_id, holder, ag) == 0) {
        holder->takeover[0] = '\0'; /* it keeps its requests in flight, no longer the id */
        snprintf(ag->tunnel_id, sizeof ag->tunnel_id, "%s", m->tunnel_id);
        ag->ready = true;
        evtimer_del(ag->ready_timer);
        TLOG_I(srv->log, "agent %s: tunnel %s moved to a new connection", ag->ip, ag->tunnel_id);
        send_established(ag, NULL);
        return;
    }
    char owner[STATE_OWNER_MAX + 1], chosen[TUNNEL_NAME_MAX + 1];
    if (tunnel_owner(owner, sizeof owner, srv->auth != NULL, ag->sub, m->agent_key) != 0) {
        ws_close(ag->ws, 1011, "server error");
        return;
    }
    registry_ask ask = {.name = m->tunnel_id, .chosen = false, .owner = owner};
    if (m->subdomain) {
        const char *why = NULL;
        if (tunnel_name_normalize(m->subdomain, chosen, &why) != 0) {
            char msg[200];
            snprintf(msg, sizeof msg, "subdomain '%.63s' is not allowed: %s", m->subdomain, why);
            refuse_name(ag, "name_invalid", msg);
            return;
        }
        ask.name = chosen;
        ask.chosen = true;
    }
    registry_answer ans;
    registry_claim_result r = registry_claim(srv->reg, &ask, (int64_t)time(NULL), ag, &ans);
    if (r == REG_ERROR) {
        TLOG_E(srv->log, "agent %s: no tunnel name: %s", ag->ip, ans.message);
        ws_close(ag->ws, 1011, "server error");
        return;
    }
    if (r == REG_REFUSED) {
        refuse_name(ag, ans.code, ans.message);
        return;
    }
    snprintf(ag->tunnel_id, sizeof ag->tunnel_id, "%s", ans.name);
    ag->ready = true;
    evtimer_del(ag->ready_timer);
    TLOG_I(srv->log, "agent %s%s%s: tunnel %s (%s, %s mode)%s%s", ag->ip, ag->sub[0] ? " sub=" : "",
           ag->sub, ag->tunnel_id, r == REG_GRANTED ? (ask.chosen ? "chosen" : "reclaimed") : "new",
           ag->bin ? "binary" : "json", ans.code ? ": " : "", ans.code ? ans.message : "");
    if (ans.code) {
        char notice[300];
        snprintf(notice, sizeof notice, "%s; this tunnel has a new id", ans.message);
        send_established(ag, notice);
    } else {
        send_established(ag, NULL);
    }
}

static void ag_on_text(void *ud, const uint8_t *data, size_t len)
{
    agent *ag = ud;
    tmsg m;
    const char *err = NULL;
    if (tmsg_decode((const char *)data, len, &m, &err) != 0) {
        TLOG_W(ag->srv->log, "agent %s: bad message dropped: %s", ag->ip, err ? err : "?");
        return;
    }
    switch (m.type) {
    case TMSG_READY:
        on_ready(ag, &m);
        break;
    case TMSG_PING: {
        tmsg pong;
        tmsg_init(&pong, TMSG_PONG);
        agent_send_msg(ag, &pong);
        break;
    }
    case TMSG_PONG:
        break;
    case TMSG_HTTP_RESPONSE:
    case TMSG_HTTP_RESPONSE_BODY:
    case TMSG_ERROR:
        if (ag->ready && !ag->bin)
            json_on_message(ag, &m);
        else if (m.type == TMSG_ERROR)
            TLOG_W(ag->srv->log, "agent %s error: %s", ag->ip, m.message ? m.message : "");
        break;
    default:
        TLOG_D(ag->srv->log, "agent %s: %s dropped", ag->ip, tmsg_type_name(m.type));
        break;
    }
    tmsg_free(&m);
}

static void ag_on_binary(void *ud, const uint8_t *data, size_t len)
{
    agent *ag = ud;
    if (!ag->bin || !ag->ready)
        return;
    bin_on_frame(ag, data, len);
}

static void ag_on_drain(void *ud)
{
    agent_resume_streams(ud);
}

static void ag_on_close(void *ud, uint16_t code, const char *reason)
{
    agent *ag = ud;
    server *srv = ag->srv;
    TLOG_I(srv->log, "agent %s disconnected%s%s (%u %s)", ag->ip, ag->ready ? ": tunnel " : "",
           ag->ready ? ag->tunnel_id : "", (unsigned)code, reason ? reason : "");
    agent_destroy(ag);
    server_maybe_exit(srv);
}

static void ready_timeout_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    agent *ag = ud;
    TLOG_W(ag->srv->log, "agent %s sent no ready message in %d s: closing", ag->ip, TTFD_READY_SEC);
    ws_close(ag->ws, 1008, "ready expected");
}

static const ws_handlers agent_handlers = {ag_on_text, ag_on_binary, ag_on_drain, ag_on_close};

/* ---- the upgrade ---- */

static void refuse(pconn *pc, int status, const char *why)
{
    TLOG_W(pc->srv->log, "agent upgrade from %s refused: %s", pc->ip, why);
    pc_fail(pc, status, why);
}

void agent_handshake(pconn *pc)
{
    server *srv = pc->srv;
    const http1_head *p = &pc->p.head;
    const http_headers *h = &p->headers;
    if (pc->log_path) /* the query may carry the token: never log it */
        pc->log_path[strcspn(pc->log_path, "?")] = '\0';
    if (strcmp(p->method, "GET") != 0 || !p->upgrade ||
        !http_headers_has_token(h, "Upgrade", "websocket")) {
        refuse(pc, 400, "WebSocket upgrade required");
        return;
    }
    const char *key = http_headers_get(h, "Sec-WebSocket-Key");
    const char *ver = http_headers_get(h, "Sec-WebSocket-Version");
    char accept[29];
    if (!key || !ver || strcmp(ver, "13") != 0 || ws_accept_key(key, accept) != 0) {
        refuse(pc, 400, "bad WebSocket handshake");
        return;
    }
    char sub[AUTH_SUB_MAX + 1] = "";
    if (srv->auth) {
        const char *q = strchr(p->target, '?');
        char *token =
            auth_token_from_request(http_headers_get(h, "Authorization"), q ? q + 1 : NULL);
        const char *err = "missing token";
        int ok =
            token ? auth_verify(srv->auth, token, (int64_t)time(NULL), sub, sizeof sub, &err) : -1;
        free(token);
        if (ok != 0) {
            char why[200];
            snprintf(why, sizeof why, "authentication failed: %s", err ? err : "invalid token");
            refuse(pc, 401, why);
            return;
        }
    }
    bool bin = http_headers_has_token(h, "Sec-WebSocket-Protocol", TTF_SUBPROTO_BIN);
    bool json = !bin && http_headers_has_token(h, "Sec-WebSocket-Protocol", TTF_SUBPROTO_JSON);

    agent *ag = calloc(1, sizeof *ag);
    if (ag) {
        ag->streams = hmap_new();
        ag->ready_timer = evtimer_new(srv->base, ready_timeout_cb, ag);
    }
    if (!ag || !ag->streams || !ag->ready_timer) {
        if (ag && ag->streams)
            hmap_free(ag->streams);
        if (ag && ag->ready_timer)
            event_free(ag->ready_timer);
        free(ag);
        pc_fail(pc, 500, "out of memory");
        return;
    }
    ag->srv = srv;
    ag->bin = bin;
    ag->next_sid = 1;
    snprintf(ag->ip, sizeof ag->ip, "%s", pc->ip);
    snprintf(ag->sub, sizeof ag->sub, "%s", sub);

    char resp[512];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                     accept, bin || json ? "Sec-WebSocket-Protocol: " : "",
                     bin    ? TTF_SUBPROTO_BIN
                     : json ? TTF_SUBPROTO_JSON
                            : "",
                     bin || json ? "\r\n" : "");
    struct bufferevent *bev = pc->bev;
    evbuffer_add(bufferevent_get_output(bev), resp, (size_t)n);
    pc->status = 101;
    pc_log(pc);
    /* Hand the connection over: bytes after the head are already WebSocket frames. */
    pc_read(pc, false); /* the WebSocket reads from now on */
    bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
    bufferevent_set_timeouts(bev, NULL, NULL);
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    pc->bev = NULL;
    pc->st = PC_GONE;
    ag->ws = ws_conn_new(bev, true, &agent_handlers, ag, TTFD_AGENT_MAX_MSG);
    if (!ag->ws) {
        bufferevent_free(bev);
        hmap_free(ag->streams);
        event_free(ag->ready_timer);
        free(ag);
        return;
    }
    if (!bin) /* JSON mode keeps API Gateway's frames: messages over 32 KB leave in frames */
        ws_set_frame_limit(ag->ws, TTF_JSON_MAX_FRAME);
    struct timeval tv = {TTFD_READY_SEC, 0};
    evtimer_add(ag->ready_timer, &tv);
    ag->next = srv->agents;
    if (srv->agents)
        srv->agents->prev = ag;
    srv->agents = ag;
    TLOG_D(srv->log, "agent %s connected (%s)", ag->ip,
           bin    ? TTF_SUBPROTO_BIN
           : json ? TTF_SUBPROTO_JSON
                  : "no subprotocol: json");
}

void agent_close_all(server *srv)
{
    for (agent *ag = srv->agents; ag; ag = ag->next)
        ws_close(ag->ws, 1001, "server shutting down");
}

void agent_free_all(server *srv)
{
    while (srv->agents)
        agent_destroy(srv->agents); // NOLINT(clang-analyzer-unix.Malloc): it unlinks itself
}
