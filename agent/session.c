/* SPDX-License-Identifier: MIT */
/* session.c - one WebSocket session with the server (see session.h). */
#include "session.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "proto_bin.h"
#include "wire_bin.h"
#include "wire_json.h"

/* A message tmsg_decode refused. A request we cannot use (an invalid request-target, a header
 * that cannot be sent, a bad header_order, bad base64, an integer beyond int64), in its head,
 * a continuation or a body piece, is answered at once with invalid_request when it names its
 * request_id, instead of leaving the visitor to wait for the server's timeout. */
static void reject_or_ignore(session *s, const uint8_t *data, size_t len, const char *why)
{
    json_t *j = json_loadb((const char *)data, len, 0, NULL);
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *gw = json_string_value(json_object_get(j, "message"));
    if (!type && gw && strcmp(gw, "Internal server error") == 0) {
        /* API Gateway: one of our messages reached no Lambda (throttled, or it failed); which
         * one it does not say: what has been in flight a while goes again */
        TLOG_D(s->log, "API Gateway reports a failed integration");
        acks_resend_older(s->acks, clock_now_ms(), 100);
        json_decref(j);
        return;
    }
    json_decref(j);
    /* read by its structure alone: a text refused for a lexical fault still names its request */
    tmsg_type t = TMSG_UNKNOWN;
    char *rid = tmsg_request_id_of((const char *)data, len, &t);
    bool request =
        t == TMSG_HTTP_REQUEST || t == TMSG_HTTP_REQUEST_HEADERS || t == TMSG_HTTP_REQUEST_BODY;
    if (request && rid && strcspn(rid, "\"\\\r\n") == strlen(rid))
        wire_json_reject(s, rid, why);
    else
        TLOG_D(s->log, "ignoring a message: %s", why);
    free(rid);
}

/* Fails the stalest exchanges of a windowless session (hold.h) in its wire mode. */
static void shed(session *s)
{
    if (s->binary)
        wire_bin_shed(s);
    else
        wire_json_shed(s);
}

/* After each message: past the hard bound, at once, in both wire modes (the timer may wait for a
 * loop pass that does not end while the link keeps bringing messages). */
static void shed_past_max(session *s)
{
    if (s->hold_shed && s->hold.held > HOLD_AGENT_MAX)
        shed(s);
}

static void on_text(void *ud, const uint8_t *data, size_t len)
{
    session *s = ud;
    tmsg m;
    const char *err = NULL;
    int rc = tmsg_decode_with(s->dec, (const char *)data, len, &m, &err);
    if (rc == TMSG_TOO_MANY_TOKENS) { /* names no request; never built (4 MiB of [] took 190 MB) */
        TLOG_W(s->log, "a message of %zu bytes with %s dropped", len, err);
        return;
    }
    if (rc != 0) {
        reject_or_ignore(s, data, len, err ? err : "unparsable");
        return;
    }
    switch (m.type) {
    case TMSG_CONNECTION_ESTABLISHED:
        if (!s->established) {
            if (m.ntunnels && m.ntunnels != s->ntun) {
                TLOG_E(s->log, "the server answered for %zu tunnels, not the %zu asked for",
                       m.ntunnels, s->ntun);
                session_close(s);
                break;
            }
            s->established = true;
            s->stream_window = s->binary ? 0 : (uint32_t)m.stream_window;
            s->relay_interim = !s->binary && m.relay_interim;
            s->relay_trailers = !s->binary && m.relay_trailers;
            s->header_strings = !s->binary && m.header_strings;
            /* our request window (hold.h), or the server's own: then the old hard bound */
            s->request_window = (uint32_t)m.request_window;
            s->hold_shed = !s->request_window || s->request_window > HOLD_WINDOW_FIRST;
            if (s->binary && !s->request_window)
                s->request_window = TTF_BIN_INITIAL_WINDOW;
            snprintf(s->tunnel_id, sizeof s->tunnel_id, "%s", m.tunnel_id);
            for (size_t i = 0; i < s->ntun; i++)
                snprintf(s->tun[i].tunnel_id, sizeof s->tun[i].tunnel_id, "%s",
                         m.ntunnels ? m.tunnels[i].tunnel_id : m.tunnel_id);
            if (s->cbs->on_established)
                s->cbs->on_established(s->ud, &m);
        } else {
            TLOG_D(s->log, "extra connection_established ignored");
        }
        break;
    case TMSG_TUNNEL_REFUSED:
        if (!s->established && s->cbs->on_refused)
            s->cbs->on_refused(s->ud, m.refusal, m.message);
        break;
    case TMSG_PING: {
        tmsg pong;
        tmsg_init(&pong, TMSG_PONG);
        session_send_msg(s, &pong);
        break;
    }
    case TMSG_PONG:
        TLOG_D(s->log, "pong received");
        break;
    case TMSG_HTTP_REQUEST:
    case TMSG_HTTP_REQUEST_HEADERS:
    case TMSG_HTTP_REQUEST_BODY:
    case TMSG_CANCEL:
    case TMSG_WINDOW:
        if (s->closing && m.type == TMSG_HTTP_REQUEST) {
            TLOG_D(s->log, "closing: a new request dropped");
            break;
        }
        wire_json_on_message(s, &m);
        shed_past_max(s);
        break;
    case TMSG_ACK:
        acks_on_ack(s->acks, &m, clock_now_ms());
        if (!session_congested(s))
            wire_json_resume_all(s);
        break;
    default:
        TLOG_D(s->log, "ignoring a %s message", tmsg_type_name(m.type));
        break;
    }
    tmsg_free(&m);
}

static void on_binary(void *ud, const uint8_t *data, size_t len)
{
    session *s = ud;
    if (s->closing && len > 0 && data[0] == TTF_OPEN)
        return; /* closing (e.g. the server did not confirm our access policy): no new stream */
    wire_bin_on_message(s, data, len);
    shed_past_max(s);
}

static void on_drain(void *ud)
{
    session *s = ud;
    wire_bin_resume_all(s);
    wire_json_resume_all(s);
}

static void on_close(void *ud, uint16_t code, const char *reason)
{
    session *s = ud;
    if (s->closed)
        return;
    s->closed = true;
    if (s->heartbeat)
        event_del(s->heartbeat);
    if (s->ack_timer)
        event_del(s->ack_timer);
    s->cbs->on_closed(s->ud, code, reason);
}

static void heartbeat_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    session *s = ud;
    s->ticks++;
    ws_send_ping(s->ws);
    if (s->ticks % (SESSION_JSON_PING_SEC / SESSION_WS_PING_SEC) == 0) {
        tmsg ping;
        tmsg_init(&ping, TMSG_PING);
        session_send_msg(s, &ping);
        TLOG_D(s->log, "heartbeat sent");
    }
}

static void ack_timer_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    session *s = ud;
    if (!acks_enabled(s->acks) || acks_in_flight(s->acks) == 0)
        return;
    acks_tick(s->acks, clock_now_ms());
    if (!session_congested(s))
        wire_json_resume_all(s);
}

static int ack_send(void *ud, const char *text, size_t len)
{
    session *s = ud;
    return ws_send_text(s->ws, text, len);
}

static const ws_handlers handlers = {on_text, on_binary, on_drain, on_close};

session_tunnel *session_tunnel_at(session *s, unsigned index)
{
    return index < s->ntun ? &s->tun[index] : NULL;
}

session_tunnel *session_tunnel_named(session *s, const char *tunnel_id)
{
    if (!tunnel_id)
        return &s->tun[0];
    for (size_t i = 0; i < s->ntun; i++)
        if (strcmp(s->tun[i].tunnel_id, tunnel_id) == 0 ||
            (!s->established && s->tun[i].asked[0] && strcmp(s->tun[i].asked, tunnel_id) == 0))
            return &s->tun[i];
    return NULL;
}

/* ready: the top-level fields (the first tunnel's), and with a config file tunnels[]. */
static int send_ready(session *s, const session_ready *ready)
{
    const agent_config *cfg = s->cfg;
    tmsg m;
    tmsg_init(&m, TMSG_READY);
    /* the strings stay the caller's: nothing is freed */
    m.tunnel_id = ready->tunnel_id && *ready->tunnel_id ? (char *)ready->tunnel_id : NULL;
    m.subdomain = ready->subdomain && *ready->subdomain ? (char *)ready->subdomain : NULL;
    m.agent_key = ready->agent_key && *ready->agent_key ? (char *)ready->agent_key : NULL;
    m.takeover =
        m.tunnel_id && ready->takeover && *ready->takeover ? (char *)ready->takeover : NULL;
    m.access = ready->access ? (char *)ready->access : NULL; /* the first tunnel's */
    m.stream_windows = !s->binary;        /* JSON mode: we honour per-request windows */
    m.request_windows = !s->binary;       /* and credit request bodies (docs/protocol.md §2) */
    m.request_window = HOLD_WINDOW_FIRST; /* a small first one, grown by credit (hold.h) */
    m.relay_interim = !s->binary;         /* JSON mode: we send interim responses and */
    m.relay_trailers = !s->binary;        /* trailer sections where the server relays them */
    m.header_strings = !s->binary;        /* single header values as plain strings both ways */
    const char *why = NULL;
    for (size_t i = 0; i < s->ntun; i++) { /* what each tunnel asks for */
        const char *held = i == 0 ? m.tunnel_id : ready->tunnel_ids ? ready->tunnel_ids[i] : NULL;
        const char *sub = i == 0 ? ready->subdomain : cfg->tunnels[i].subdomain;
        if (held && *held)
            snprintf(s->tun[i].asked, sizeof s->tun[i].asked, "%s", held);
        else if (!sub || !*sub || tunnel_name_normalize(sub, s->tun[i].asked, &why) != 0)
            s->tun[i].asked[0] = '\0';
    }
    tmsg_tunnel *tl = NULL;
    if (cfg->config_file) {
        tl = calloc(cfg->ntunnels, sizeof *tl);
        if (!tl)
            return -1;
        for (size_t i = 0; i < cfg->ntunnels; i++) {
            const char *held = ready->tunnel_ids ? ready->tunnel_ids[i] : NULL;
            tl[i].name = cfg->tunnels[i].name;
            tl[i].subdomain = cfg->tunnels[i].subdomain;
            tl[i].tunnel_id = !tl[i].subdomain && held && *held ? (char *)held : NULL;
            tl[i].access = cfg->tunnels[i].access_json;
        }
        m.tunnels = tl;
        m.ntunnels = cfg->ntunnels;
    }
    int rc = session_send_msg(s, &m);
    free(tl);
    return rc;
}

session *session_new(struct event_base *base, conn *c, bool binary, const agent_config *cfg,
                     const tlog *lg, local_pool *const *pools, const exchange_observer *obs,
                     const session_ready *ready, const session_cbs *cbs, void *ud)
{
    session *s = calloc(1, sizeof *s);
    if (s)
        s->tun = calloc(cfg->ntunnels, sizeof *s->tun);
    if (!s || !s->tun) {
        free(s);
        conn_free(c);
        return NULL;
    }
    s->base = base;
    s->cfg = cfg;
    s->log = lg;
    s->ntun = cfg->ntunnels;
    for (size_t i = 0; i < s->ntun; i++) {
        session_tunnel *t = &s->tun[i];
        t->cfg = &cfg->tunnels[i];
        rewrite_host_init(&t->host, t->cfg->host_header, t->cfg->host_header_name,
                          t->cfg->local_host, t->cfg->local_port);
        t->env = (exchange_env){
            .base = base,
            .pool = pools[i],
            .obs = obs,
            .log = lg,
            .host = &t->host,
            .request_timeout_ms = (unsigned)cfg->request_timeout * 1000u,
            .max_response_head = cfg->max_response_head,
            .tunnel = t->cfg->name,
        };
    }
    s->binary = binary;
    s->hold_shed = true; /* until the server announces our window (connection_established) */
    s->cbs = cbs;
    s->ud = ud;
    s->streams = hmap_new();
    s->exchanges = hmap_new();
    s->heartbeat = event_new(base, -1, EV_PERSIST, heartbeat_cb, s);
    s->acks = acks_new(ack_send, s);
    s->ack_timer = event_new(base, -1, EV_PERSIST, ack_timer_cb, s);
    s->dec = tmsg_decoder_new();
    if (!s->streams || !s->exchanges || !s->heartbeat || !s->acks || !s->ack_timer || !s->dec) {
        conn_free(c);
        session_free(s);
        return NULL;
    }
    /* No byte at all (frames, pongs) for this long: the link is dead. ws reports the timeout
     * through on_close. */
    conn_set_idle(c, SESSION_DEAD_SEC * 1000u);
    s->ws = ws_conn_new(c, false, &handlers, s, SESSION_MAX_MSG);
    if (!s->ws) {
        conn_free(c);
        session_free(s);
        return NULL;
    }
    if (!binary) /* JSON mode may meet API Gateway: messages over one frame leave in frames */
        ws_set_frame_limit(s->ws, TTF_JSON_MAX_FRAME);
    s->opened_ms = clock_now_ms();
    struct timeval beat = {SESSION_WS_PING_SEC, 0};
    event_add(s->heartbeat, &beat);
    struct timeval tick = {0, 250000};
    event_add(s->ack_timer, &tick);

    send_ready(s, ready);
    return s;
}

void session_free(session *s)
{
    if (!s)
        return;
    if (s->streams) {
        wire_bin_free_all(s);
        hmap_free(s->streams);
    }
    if (s->exchanges) {
        wire_json_free_all(s);
        hmap_free(s->exchanges);
    }
    if (s->heartbeat)
        event_free(s->heartbeat);
    if (s->ack_timer)
        event_free(s->ack_timer);
    if (s->hold_timer)
        event_free(s->hold_timer);
    ws_conn_free(s->ws);
    acks_free(s->acks);
    tmsg_decoder_free(s->dec);
    free(s->tun);
    free(s);
}

static void hold_timer_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    shed(ud);
}

void session_shed_later(session *s, unsigned ms)
{
    if (!s->hold_timer)
        s->hold_timer = evtimer_new(s->base, hold_timer_cb, s);
    uint64_t due = clock_now_ms() + ms;
    if (!s->hold_timer || (evtimer_pending(s->hold_timer, NULL) && s->hold_due_ms <= due))
        return; /* due already, as soon */
    s->hold_due_ms = due;
    struct timeval tv = clock_timeval_ms(ms);
    evtimer_add(s->hold_timer, &tv);
}

void session_hold_credited(session *s, const hold_entry *e, size_t normal)
{
    long ms = s->hold_shed ? -1 : hold_scan_in(&s->hold, e, normal);
    if (ms >= 0)
        session_shed_later(s, (unsigned)ms);
}

void session_close(session *s)
{
    if (s)
        s->closing = true;
    if (s && s->ws && !s->closed)
        ws_close(s->ws, 1000, "agent shutting down");
}

size_t session_busy(const session *s)
{
    return hmap_count(s->exchanges) + hmap_count(s->streams);
}

bool session_congested(const session *s)
{
    return ws_pending(s->ws) > ws_high_water() || acks_waiting(s->acks) > 0;
}

int session_send_answer(session *s, const tmsg *m)
{
    if (!s->header_strings)
        return acks_send(s->acks, m, clock_now_ms());
    tmsg c = *m; /* a view with the agreed form: the strings stay m's */
    c.header_strings = true;
    return acks_send(s->acks, &c, clock_now_ms());
}

int session_send_text(session *s, const char *json, size_t len)
{
    return ws_send_text(s->ws, json, len);
}

static int send_text(void *ud, const char *json, size_t len)
{
    return session_send_text(ud, json, len);
}

int session_send_msg(session *s, const tmsg *m)
{
    return tmsg_encode_to(m, send_text, s);
}
