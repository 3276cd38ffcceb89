/* SPDX-License-Identifier: MIT */
/* stream.c - binary-mode streams (see stream.h).
 * Request direction: OPEN head (Host rewritten) and DATA go to the local socket; WINDOW credit
 * goes back once the bytes left our output buffer (below LOCAL_OUT_MARK).
 * Response direction: the local bytes are parsed only to find the head and the end of the message;
 * the head goes out as RESPONSE (rewritten), the body as raw DATA within the server's window. */
#include "stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "proto_bin.h"
#include "rewrite.h"

/* The protocol constants, widened once. */
static const size_t max_data = (size_t)TTF_BIN_MAX_DATA;
static const uint64_t initial_window = (uint64_t)TTF_BIN_INITIAL_WINDOW;

#define CREDIT_MIN ((uint32_t)16 * 1024) /* batch WINDOW frames */

typedef struct stream {
    session *s;
    uint32_t id;
    char idtext[12];
    lconn lc;
    http1_parser req;  /* the OPEN head (kept for the observer) */
    http1_parser resp; /* the local response */
    struct event *timer;
    uint32_t send_window; /* DATA we may still send */
    uint32_t unacked;     /* DATA received and not yet credited back */
    uint64_t t0, t_head;
    uint64_t req_bytes, resp_bytes;
    bool is_head;     /* HEAD request: the response has no body */
    bool got_head;    /* RESPONSE sent */
    bool resp_done;   /* our FIN sent */
    bool req_fin;     /* the server's FIN received */
    bool upgraded;    /* 101: raw pipe */
    bool local_eof;   /* the local service closed its side */
    bool local_dead;  /* the local connection failed: never reuse */
    bool no_reuse;    /* extra bytes after the response: do not reuse */
    char *retry_head; /* a bodiless request on a reused connection: kept to send it again */
    size_t retry_len;
    bool paused;      /* reading stopped for lack of window or WebSocket room */
    bool until_close; /* the response body ends with the connection */
    bool notified;
    bool obs_req_off; /* the observer's copy of a chunked request body stopped (end or error) */
    obs_exchange obs;
} stream;

static void send_frame(stream *st, uint8_t type, uint8_t flags, const void *p, size_t n)
{
    uint8_t hdr[TTF_BIN_HDR];
    ttf_frame_header(hdr, type, flags, st->id);
    ws_send_binary2(st->s->ws, hdr, sizeof hdr, p, n);
}

static void notify(stream *st, const char *error)
{
    if (st->notified)
        return;
    st->notified = true;
    uint64_t now = session_now_ms(st->s);
    exchange_info x = {
        .mode = "bin",
        .id = st->idtext,
        .method = st->req.head.method,
        .target = st->req.head.target,
        .req_headers = &st->req.head.headers,
        .status = st->got_head ? st->resp.head.status : 0,
        .resp_headers = st->got_head ? &st->resp.head.headers : NULL,
        .req_bytes = st->req_bytes,
        .resp_bytes = st->resp_bytes,
        .head_ms = st->got_head ? st->t_head - st->t0 : 0,
        .total_ms = now - st->t0,
        .error = error,
        .upgraded = st->upgraded,
    };
    obs_end(&st->obs, st->s->obs, &x);
}

/* Decoded response body bytes (http1's on_body) for the observer. */
static void resp_body_cb(void *ud, const char *at, size_t len)
{
    stream *st = ud;
    obs_response_body(&st->obs, at, len);
}

/* Request body bytes as relayed (v1 DATA carries the client's framing): decoded for the
 * observer when chunked. */
static void observe_request_body(stream *st, const uint8_t *p, size_t n)
{
    if (!st->req.head.chunked) {
        obs_request_body(&st->obs, p, n);
        return;
    }
    size_t off = 0;
    while (off < n && !st->obs_req_off) {
        size_t used = 0;
        http1_event ev = http1_execute(&st->req, (const char *)p + off, n - off, &used);
        off += used;
        if (ev == HTTP1_ERROR || ev == HTTP1_MSG_END)
            st->obs_req_off = true;
        else if (ev == HTTP1_NONE)
            break;
    }
}

static void req_body_cb(void *ud, const char *at, size_t len)
{
    stream *st = ud;
    obs_request_body(&st->obs, at, len);
}

static void stream_free(stream *st, bool reuse)
{
    hmap_del_u32(st->s->streams, st->id);
    if (st->timer)
        event_free(st->timer);
    lconn_close(&st->lc, reuse);
    free(st->retry_head);
    http1_free(&st->req);
    http1_free(&st->resp);
    free(st);
}

/* Ends the stream with RESET (code) towards the server. */
static void stream_reset(stream *st, uint8_t code, const char *reason)
{
    uint8_t buf[256];
    size_t n = ttf_frame_reset(buf, sizeof buf, st->id, code, reason);
    ws_send_binary(st->s->ws, buf, n);
    notify(st, ttf_reset_name(code));
    TLOG_D(st->s->log, "stream %u: reset %s (%s)", st->id, ttf_reset_name(code), reason);
    stream_free(st, false);
}

/* Ends the stream when both directions are done. Returns true when st was freed. */
static bool maybe_finish(stream *st)
{
    bool alive = st->lc.sk && !st->local_dead;
    size_t out = alive ? evbuffer_get_length(lconn_out(&st->lc)) : 0;
    /* Upgraded pipe: the server's FIN, once flushed, closes the local side and ends ours. */
    if (st->upgraded && st->req_fin && !st->resp_done && out == 0) {
        send_frame(st, TTF_DATA, TTF_FLAG_FIN, NULL, 0);
        st->resp_done = true;
    }
    if (!st->resp_done || !st->req_fin)
        return false;
    if (out > 0)
        return false; /* the rest of the request is still being written */
    bool reuse = alive && !st->no_reuse && !st->upgraded && !st->local_eof && !st->until_close &&
                 st->resp.head.keep_alive && evbuffer_get_length(lconn_in(&st->lc)) == 0;
    notify(st, NULL);
    stream_free(st, reuse);
    return true;
}

static void send_credit(stream *st)
{
    if (st->req_fin)
        st->unacked = 0; /* nothing more will come: no credit needed */
    if (st->unacked == 0 || !st->lc.sk)
        return;
    if (evbuffer_get_length(lconn_out(&st->lc)) > LOCAL_OUT_MARK)
        return;
    /* Batched: holding back less than CREDIT_MIN never stalls the sender, whose window is far
     * larger (the output is written every loop pass, so "empty" says nothing). */
    if (st->unacked < CREDIT_MIN)
        return;
    uint8_t buf[10];
    size_t n = ttf_frame_window(buf, st->id, st->unacked);
    ws_send_binary(st->s->ws, buf, n);
    st->unacked = 0;
}

static void set_paused(stream *st, bool paused)
{
    if (st->paused == paused)
        return;
    st->paused = paused;
    lconn_pause(&st->lc, paused);
}

static bool no_body_status(int status)
{
    return (status >= 100 && status < 200) || status == 204 || status == 304;
}

/* Sends the RESPONSE frame for the head the parser holds. Returns false on failure (st freed). */
static bool send_response_head(stream *st, bool fin)
{
    size_t hlen = 0;
    int status = st->resp.head.status;
    /* The observer sees the head as received; format a rewritten copy for the tunnel. */
    http_headers copy;
    if (http_headers_copy(&copy, &st->resp.head.headers) != 0) {
        stream_reset(st, TTF_RST_INTERNAL, "out of memory");
        return false;
    }
    obs_response_head(&st->obs, status, &st->resp.head.headers, false);
    char *head = rewrite_response_head_bin(status, &copy, &hlen);
    http_headers_free(&copy);
    if (!head) {
        stream_reset(st, TTF_RST_INTERNAL, "out of memory");
        return false;
    }
    send_frame(st, TTF_RESPONSE, fin ? TTF_FLAG_FIN : 0, head, hlen);
    free(head);
    st->got_head = true;
    st->t_head = session_now_ms(st->s);
    if (st->timer)
        event_del(st->timer);
    if (fin)
        st->resp_done = true;
    return true;
}

/* Handles the end of the local input (EOF seen and every byte consumed). Returns true if freed. */
static bool on_local_end(stream *st)
{
    if (st->upgraded || (st->got_head && st->until_close)) {
        if (!st->upgraded && http1_finish(&st->resp) == HTTP1_ERROR) {
            stream_reset(st, TTF_RST_INTERNAL, "bad response body");
            return true;
        }
        send_frame(st, TTF_DATA, TTF_FLAG_FIN, NULL, 0);
        st->resp_done = true;
        if (st->upgraded && !st->req_fin) {
            /* Our side is finished; the server's FIN ends the stream. */
            return false;
        }
        if (!st->upgraded) {
            /* Nothing more can be written to a closed connection. */
            st->req_fin = true;
        }
        st->local_dead = true; /* closed: drop unwritten request bytes */
        return maybe_finish(st);
    }
    if (st->got_head)
        stream_reset(st, TTF_RST_INTERNAL, "local service closed the connection mid-response");
    else
        stream_reset(st, TTF_RST_LOCAL_UNAVAILABLE, "local service closed the connection");
    return true;
}

/* Moves local input to the tunnel as far as windows allow. Returns true when st was freed. */
static bool pump(stream *st)
{
    while (!st->resp_done && st->lc.sk) {
        struct evbuffer *in = lconn_in(&st->lc);
        size_t avail = evbuffer_get_length(in);
        if (avail == 0)
            break;
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        if (!st->got_head) {
            size_t used = 0;
            http1_event ev = http1_execute(&st->resp, v.iov_base, v.iov_len, &used);
            if (ev == HTTP1_ERROR) {
                char why[160];
                snprintf(why, sizeof why, "unparsable response from the local service: %s",
                         st->resp.err.reason ? st->resp.err.reason : "?");
                TLOG_W(st->s->log, "stream %u: %s", st->id, why);
                stream_reset(st, TTF_RST_INTERNAL, why);
                return true;
            }
            evbuffer_drain(in, used);
            if (ev == HTTP1_NONE)
                continue;
            int status = st->resp.head.status;
            if (status >= 100 && status < 200 && status != 101) {
                /* Interim (100 Continue): not relayed; parse the final response next. */
                obs_response_head(&st->obs, status, &st->resp.head.headers, true);
                http1_free(&st->resp);
                http1_init(&st->resp, false, 0);
                st->resp.on_body = resp_body_cb;
                st->resp.ud = st;
                if (st->is_head)
                    http1_expect_no_body(&st->resp);
                continue;
            }
            st->upgraded = status == 101;
            bool bodyless =
                !st->upgraded && (ev == HTTP1_MSG_END || st->is_head || no_body_status(status) ||
                                  (st->resp.head.content_length == 0 && !st->resp.head.chunked));
            st->until_close = !st->upgraded && !bodyless && http1_body_until_close(&st->resp);
            if (!send_response_head(st, bodyless))
                return true;
            if (bodyless) {
                /* Anything after a complete bodiless response is not ours to relay. */
                if (evbuffer_get_length(in) > 0)
                    st->no_reuse = true;
                break;
            }
            continue;
        }
        if (session_congested(st->s) || st->send_window == 0) {
            set_paused(st, true);
            return false;
        }
        /* One DATA frame as large as the window allows, even when the input spans chunks. */
        size_t take = avail;
        if (take > st->send_window)
            take = st->send_window;
        if (take > max_data)
            take = max_data;
        const char *data = (const char *)evbuffer_pullup(in, (ev_ssize_t)take);
        if (!data) {
            stream_reset(st, TTF_RST_INTERNAL, "out of memory");
            return true;
        }
        uint8_t flags = 0;
        if (!st->upgraded) {
            size_t used = 0;
            http1_event ev = http1_execute(&st->resp, data, take, &used);
            if (ev == HTTP1_ERROR) {
                char why[160];
                snprintf(why, sizeof why, "bad response body from the local service: %s",
                         st->resp.err.reason ? st->resp.err.reason : "?");
                TLOG_W(st->s->log, "stream %u: %s", st->id, why);
                stream_reset(st, TTF_RST_INTERNAL, why);
                return true;
            }
            take = used;
            if (ev == HTTP1_MSG_END)
                flags = TTF_FLAG_FIN;
        }
        if (take > 0 || flags) {
            send_frame(st, TTF_DATA, flags, data, take);
            evbuffer_drain(in, take);
            st->send_window -= (uint32_t)take;
            st->resp_bytes += take;
        }
        if (flags & TTF_FLAG_FIN) {
            st->resp_done = true;
            if (evbuffer_get_length(in) > 0)
                st->no_reuse = true;
        }
    }
    if (!st->resp_done && st->local_eof &&
        (!st->lc.sk || evbuffer_get_length(lconn_in(&st->lc)) == 0))
        return on_local_end(st);
    if (st->paused && st->send_window > 0 && !session_congested(st->s))
        set_paused(st, false);
    return maybe_finish(st);
}

static const lconn_cbs local_cbs;

/* The local service closed a kept-alive connection before answering: send the (bodiless)
 * request again on a fresh connection. Returns true when it did. */
static bool retry_fresh(stream *st)
{
    if (!st->retry_head || st->got_head || st->resp.head_bytes > 0 ||
        !lconn_stale(&st->lc, evbuffer_get_length(lconn_in(&st->lc)) > 0))
        return false;
    lconn_close(&st->lc, false);
    st->local_eof = st->local_dead = false;
    if (lconn_open(&st->lc, st->s->pool, &local_cbs, st, true) != 0) {
        free(st->retry_head);
        st->retry_head = NULL;
        return false;
    }
    evbuffer_add(lconn_out(&st->lc), st->retry_head, st->retry_len);
    free(st->retry_head);
    st->retry_head = NULL;
    TLOG_D(st->s->log, "stream %u: idle local connection was closed; sent again", st->id);
    return true;
}

/* ---- local connection callbacks ---- */

static void local_read(void *ud)
{
    pump(ud);
}

static void local_write(void *ud)
{
    stream *st = ud;
    send_credit(st);
    maybe_finish(st);
}

static void local_event(void *ud, short what)
{
    stream *st = ud;
    if (retry_fresh(st))
        return;
    if (what & LOCAL_EV_ERROR) {
        char reason[400];
        snprintf(reason, sizeof reason, "local service %s: %s", st->s->hostport,
                 strerror(st->lc.err ? st->lc.err : EIO));
        st->local_dead = true;
        if (!st->got_head) {
            bool refused = !st->lc.connected;
            if (refused)
                TLOG_W(st->s->log, "%s", reason);
            stream_reset(st, refused ? TTF_RST_LOCAL_UNAVAILABLE : TTF_RST_INTERNAL, reason);
            return;
        }
        /* Whatever was read still goes out; then the stream ends as after an EOF. */
        st->local_eof = true;
        if (st->resp_done) {
            maybe_finish(st);
            return;
        }
        pump(st);
        return;
    }
    if (what & LOCAL_EV_EOF) {
        st->local_eof = true;
        pump(st);
    }
}

static const lconn_cbs local_cbs = {local_read, local_write, local_event};

/* ---- frames from the server ---- */

static void on_timeout(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    stream *st = ud;
    char reason[96];
    snprintf(reason, sizeof reason, "no response from the local service within %d s",
             st->s->cfg->request_timeout);
    stream_reset(st, TTF_RST_TIMEOUT, reason);
}

static void on_open(session *s, const ttf_frame *f)
{
    if (hmap_get_u32(s->streams, f->stream_id)) {
        uint8_t buf[64];
        ws_send_binary(s->ws, buf,
                       ttf_frame_reset(buf, sizeof buf, f->stream_id, TTF_RST_INVALID_REQUEST,
                                       "stream id in use"));
        return;
    }
    stream *st = calloc(1, sizeof *st);
    if (!st) {
        uint8_t buf[64];
        ws_send_binary(s->ws, buf,
                       ttf_frame_reset(buf, sizeof buf, f->stream_id, TTF_RST_INTERNAL, "ENOMEM"));
        return;
    }
    st->s = s;
    st->id = f->stream_id;
    snprintf(st->idtext, sizeof st->idtext, "%u", f->stream_id);
    st->send_window = TTF_BIN_INITIAL_WINDOW;
    st->t0 = session_now_ms(s);
    st->req_fin = (f->flags & TTF_FLAG_FIN) != 0;
    /* the OPEN payload is the head ttfd accepted (under its --max-header-size): all of it */
    http1_init(&st->req, true, f->len > HTTP1_DEFAULT_MAX_HEAD ? f->len : 0);
    http1_init(&st->resp, false, 0);
    st->resp.on_body = resp_body_cb;
    st->resp.ud = st;
    if (hmap_put_u32(s->streams, st->id, st) != 0) {
        http1_free(&st->req);
        http1_free(&st->resp);
        free(st);
        return;
    }
    size_t used = 0;
    http1_event ev = http1_execute(&st->req, (const char *)f->payload, f->len, &used);
    if ((ev != HTTP1_HEAD && ev != HTTP1_MSG_END) || !st->req.head.method) {
        stream_reset(st, TTF_RST_INVALID_REQUEST, "bad request head in OPEN");
        return;
    }
    st->is_head = strcmp(st->req.head.method, "HEAD") == 0;
    if (st->is_head)
        http1_expect_no_body(&st->resp);
    /* Rewrite a copy so the observer sees what the local service got. */
    size_t hlen = 0;
    char *head =
        rewrite_request_head(st->req.head.method, st->req.head.target, &st->req.head.headers,
                             s->hostport, s->cfg->host_header, &hlen);
    if (!head) {
        stream_reset(st, TTF_RST_INTERNAL, "out of memory");
        return;
    }
    obs_request orq = {"bin", st->idtext, st->req.head.method, st->req.head.target,
                       &st->req.head.headers};
    obs_begin(&st->obs, s->obs, &orq);
    st->req.on_body = req_body_cb;
    st->req.ud = st;
    if (ev == HTTP1_MSG_END)
        st->obs_req_off = true;
    if (lconn_open(&st->lc, s->pool, &local_cbs, st, false) != 0) {
        free(head);
        char reason[400];
        snprintf(reason, sizeof reason, "local service %s: %s", s->hostport,
                 strerror(st->lc.err ? st->lc.err : ECONNREFUSED));
        TLOG_W(s->log, "%s", reason);
        stream_reset(st, TTF_RST_LOCAL_UNAVAILABLE, reason);
        return;
    }
    evbuffer_add(lconn_out(&st->lc), head, hlen);
    if (st->lc.reused && st->req_fin && used == f->len) {
        st->retry_head = head; /* owned by the stream now */
        st->retry_len = hlen;
    } else {
        free(head);
    }
    /* Body bytes that came in the same message (there should be none) are relayed too. */
    if (used < f->len) {
        evbuffer_add(lconn_out(&st->lc), f->payload + used, f->len - used);
        st->req_bytes += f->len - used;
        observe_request_body(st, f->payload + used, f->len - used);
    }
    st->timer = evtimer_new(s->base, on_timeout, st);
    if (st->timer) {
        struct timeval tv = {s->cfg->request_timeout, 0};
        evtimer_add(st->timer, &tv);
    }
    TLOG_D(s->log, "stream %u: %s %s", st->id, st->req.head.method, st->req.head.target);
}

static void on_data(session *s, stream *st, const ttf_frame *f)
{
    if (st->req_fin) {
        stream_reset(st, TTF_RST_INVALID_REQUEST, "DATA after FIN");
        return;
    }
    if ((uint64_t)st->unacked + f->len > initial_window) {
        stream_reset(st, TTF_RST_INVALID_REQUEST, "window exceeded");
        return;
    }
    if (f->flags & TTF_FLAG_FIN)
        st->req_fin = true;
    if (f->len > 0 && !st->got_head && st->timer) {
        /* The request is still moving: the wait for the answer starts again. */
        struct timeval tv = {s->cfg->request_timeout, 0};
        evtimer_add(st->timer, &tv);
    }
    if (f->len > 0) {
        st->unacked += (uint32_t)f->len;
        st->req_bytes += f->len;
        observe_request_body(st, f->payload, f->len);
        if (st->lc.sk && !st->local_dead)
            evbuffer_add(lconn_out(&st->lc), f->payload, f->len);
    }
    if (!st->lc.sk || st->local_dead) {
        /* Nowhere to write: keep the server's window open so it can finish. */
        st->unacked = 0;
    } else {
        send_credit(st);
    }
    maybe_finish(st);
}

void stream_on_message(session *s, const uint8_t *msg, size_t len)
{
    ttf_frame f;
    if (ttf_frame_decode(msg, len, &f) != 0) {
        TLOG_D(s->log, "dropping a malformed binary frame (%zu bytes)", len);
        return;
    }
    if (f.type == TTF_OPEN) {
        on_open(s, &f);
        return;
    }
    stream *st = hmap_get_u32(s->streams, f.stream_id);
    if (!st) {
        if (f.type == TTF_DATA) {
            uint8_t buf[64];
            ws_send_binary(
                s->ws, buf,
                ttf_frame_reset(buf, sizeof buf, f.stream_id, TTF_RST_CANCEL, "unknown stream"));
        }
        return;
    }
    switch (f.type) {
    case TTF_DATA:
        on_data(s, st, &f);
        break;
    case TTF_WINDOW:
        if ((uint64_t)st->send_window + f.window > UINT32_MAX) {
            stream_reset(st, TTF_RST_INVALID_REQUEST, "window overflow");
            break;
        }
        st->send_window += f.window;
        if (st->paused)
            pump(st);
        break;
    case TTF_RESET:
        TLOG_D(s->log, "stream %u: reset by the server (%s)", st->id, ttf_reset_name(f.reset_code));
        notify(st, "cancelled");
        stream_free(st, false);
        break;
    default: /* RESPONSE is ours to send */
        stream_reset(st, TTF_RST_INVALID_REQUEST, "unexpected frame");
        break;
    }
}

/* hmap_each must not modify the map: collect first, then act. */
typedef struct collect {
    uint32_t *ids;
    size_t n, cap;
    bool paused_only;
} collect;

static void collect_fn(void *ud, const void *key, size_t klen, void *value)
{
    (void)klen;
    collect *c = ud;
    const stream *st = value;
    if (c->paused_only && !st->paused)
        return;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        uint32_t *p = realloc(c->ids, nc * sizeof *p);
        if (!p)
            return;
        c->ids = p;
        c->cap = nc;
    }
    memcpy(&c->ids[c->n++], key, sizeof(uint32_t));
}

void stream_resume_all(session *s)
{
    collect c = {.paused_only = true};
    hmap_each(s->streams, collect_fn, &c);
    for (size_t i = 0; i < c.n && !session_congested(s); i++) {
        stream *st = hmap_get_u32(s->streams, c.ids[i]);
        if (st && st->paused && st->send_window > 0) {
            set_paused(st, false);
            pump(st);
        }
    }
    free(c.ids);
}

void stream_free_all(session *s)
{
    collect c = {.paused_only = false};
    hmap_each(s->streams, collect_fn, &c);
    for (size_t i = 0; i < c.n; i++) {
        stream *st = hmap_get_u32(s->streams, c.ids[i]);
        if (st) {
            notify(st, "tunnel closed");
            stream_free(st, false);
        }
    }
    free(c.ids);
}
