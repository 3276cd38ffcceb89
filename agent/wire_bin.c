/* SPDX-License-Identifier: MIT */
/* wire_bin.c - binary-mode streams (see wire_bin.h). Only frames here: every HTTP rule of the
 * local leg is the exchange's. */
#include "wire_bin.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "clock.h"
#include "exchange.h"
#include "hold.h"
#include "proto_bin.h"

#define CREDIT_MIN ((size_t)16 << 10) /* WINDOW frames are batched */

typedef struct stream {
    session *s;
    uint32_t id;
    char idtext[12];
    exchange *x;
    struct evbuffer *out; /* response octets of this batch, not yet in DATA frames */
    uint32_t send_window; /* DATA octets we may still send */
    bool req_fin;         /* the server ended its direction */
    bool resp_fin;        /* we ended ours */
    bool paused;          /* the exchange waits for room */
    bool pipe;            /* 101: raw pipe */
    char *held;           /* the final head's RESPONSE payload, sent at the batch's end or
                             before its first DATA (JSON mode's head waits so too): a fault
                             later in the same read is still answered 502, in both modes */
    size_t held_len;
    hold_entry hold;  /* request octets unwritten and window left (in s->hold) */
    void *spare_link; /* the next spare while this one is spare (spare_list.h) */
} stream;

/* Ended streams kept for reuse (with their emptied buffer): one allocation and one buffer set-up
 * fewer per request. */
#define SPARE_STREAMS_MAX 64
#define SPARE_LINK offsetof(stream, spare_link)

static const size_t max_data = (size_t)TTF_BIN_MAX_DATA;

static void send_frame(session *s, uint32_t id, uint8_t type, uint8_t flags, const void *p,
                       size_t n)
{
    uint8_t hdr[TTF_BIN_HDR];
    ttf_frame_header(hdr, type, flags, id);
    ws_send_binary2(s->ws, hdr, sizeof hdr, p, n);
}

static void send_reset(session *s, uint32_t id, uint8_t code, const char *reason)
{
    uint8_t buf[TTF_BIN_HDR + 1 + TTF_BIN_RESET_REASON_MAX];
    ws_send_binary(s->ws, buf, ttf_frame_reset(buf, sizeof buf, id, code, reason));
}

/* A zeroed stream with an empty output buffer: a spare one, or a new one. NULL on ENOMEM. */
static stream *stream_alloc(session *s)
{
    stream *st = spare_take(&s->spare_streams, SPARE_LINK);
    if (st) {
        struct evbuffer *out = st->out;
        memset(st, 0, sizeof *st);
        st->out = out;
        return st;
    }
    st = calloc(1, sizeof *st);
    if (st)
        st->out = evbuffer_new();
    if (st && !st->out) {
        free(st);
        st = NULL;
    }
    return st;
}

/* Keeps st as a spare (its buffer emptied) or frees it. */
static void stream_release(session *s, stream *st)
{
    free(st->held);
    st->held = NULL;
    if (spare_keep(&s->spare_streams, st, SPARE_LINK, SPARE_STREAMS_MAX)) {
        evbuffer_drain(st->out, evbuffer_get_length(st->out));
        return;
    }
    evbuffer_free(st->out);
    free(st);
}

static void stream_free(stream *st, const char *error)
{
    session *s = st->s;
    hold_forget(&s->hold, &st->hold);
    hmap_del_u32(s->streams, st->id);
    exchange_free(st->x, error);
    stream_release(s, st);
}

/* Ends the stream with RESET toward the server. */
static void stream_reset(stream *st, uint8_t code, const char *reason)
{
    TLOG_D(st->s->log, "stream %u: reset %s (%s)", st->id, ttf_reset_name(code), reason);
    send_reset(st->s, st->id, code, reason);
    stream_free(st, ttf_reset_name(code));
}

/* The held final head goes out (before any DATA of the stream). */
static void release_head(stream *st)
{
    if (!st->held)
        return;
    send_frame(st->s, st->id, TTF_RESPONSE, 0, st->held, st->held_len);
    free(st->held);
    st->held = NULL;
}

/* Response octets of the batch as DATA frames; fin on the last one. */
static void send_data(stream *st, bool fin)
{
    release_head(st);
    size_t left = evbuffer_get_length(st->out);
    while (left > 0) {
        size_t n = left < max_data ? left : max_data;
        const uint8_t *p = evbuffer_pullup(st->out, (ev_ssize_t)n);
        if (!p)
            break;
        left -= n;
        send_frame(st->s, st->id, TTF_DATA, fin && left == 0 ? TTF_FLAG_FIN : 0, p, n);
        evbuffer_drain(st->out, n);
    }
}

/* WINDOW credit as the session's hold allows (hold_credit): what the local service did not take
 * yet counts against the stream's window. */
static void send_credit(stream *st)
{
    if (!st->x)
        return;
    session *s = st->s;
    if (hold_note(&s->hold, &st->hold, exchange_pending_body(st->x), clock_now_ms()))
        session_shed_later(s, 0); /* not here: the caller (maybe the exchange) goes on */
    if (st->req_fin)
        return;
    size_t n = hold_credit(&s->hold, &st->hold, (size_t)TTF_BIN_INITIAL_WINDOW, CREDIT_MIN);
    session_hold_credited(s, &st->hold, (size_t)TTF_BIN_INITIAL_WINDOW);
    if (!n)
        return;
    uint8_t buf[10];
    ws_send_binary(s->ws, buf, ttf_frame_window(buf, st->id, (uint32_t)n));
}

/* ---- the exchange's upcalls ---- */

static size_t up_room(void *ud)
{
    stream *st = ud;
    size_t buffered = evbuffer_get_length(st->out);
    st->paused = session_congested(st->s) || st->send_window <= buffered;
    if (st->paused)
        return 0;
    return st->send_window - buffered;
}

/* hold: a final head with a body to come waits for release_head. */
static void send_head(stream *st, int status, const char *reason, const http_headers *h, bool fin,
                      bool hold)
{
    size_t len = 0;
    char *head = http_format_response_head(status, reason, h, &len);
    if (!head) {
        stream_reset(st, TTF_RST_INTERNAL, "out of memory");
        return;
    }
    if (hold) {
        st->held = head;
        st->held_len = len;
        return;
    }
    send_frame(st->s, st->id, TTF_RESPONSE, fin ? TTF_FLAG_FIN : 0, head, len);
    free(head);
}

static void up_interim(void *ud, int status, const char *reason, const http_headers *h)
{
    send_head(ud, status, reason, h, false, false);
}

static void up_head(void *ud, const exchange_head *h)
{
    stream *st = ud;
    st->pipe = h->upgraded;
    if (h->fin)
        st->resp_fin = true; /* `end` follows at once and sends nothing more */
    send_head(st, h->status, h->reason, h->headers, h->fin, !h->fin && !h->upgraded);
}

/* Response octets: whole DATA frames go to the link at once, straight from the exchange's bytes
 * (the WebSocket layer masks them into its output: one copy); a shorter rest waits in st->out for
 * more octets or the batch's end (up_flush). Buffering every octet first cost a second copy of
 * each (perf, binary download: ttf's largest user-space cost after the masking). */
static void up_body(void *ud, const uint8_t *data, size_t len)
{
    stream *st = ud;
    st->send_window -= (uint32_t)len;
    size_t have = evbuffer_get_length(st->out);
    if (have > 0 && have + len >= max_data) {
        size_t take = max_data - have; /* top the waiting octets up to one frame */
        evbuffer_add(st->out, data, take);
        send_data(st, false);
        data += take;
        len -= take;
    }
    if (evbuffer_get_length(st->out) == 0) {
        if (len >= max_data)
            release_head(st);
        for (; len >= max_data; data += max_data, len -= max_data)
            send_frame(st->s, st->id, TTF_DATA, 0, data, max_data);
    }
    if (len > 0)
        evbuffer_add(st->out, data, len);
}

static void up_flush(void *ud)
{
    send_data(ud, false);
}

static void up_end(void *ud, const http_headers *trailers, bool request_done)
{
    stream *st = ud;
    release_head(st);
    if (!st->resp_fin) {
        if (trailers) {
            send_data(st, false);
            size_t n = 0;
            char *sect = http1_chunk_last(trailers, &n); /* "0\r\n" fields "\r\n" */
            if (sect && n > 3)
                send_frame(st->s, st->id, TTF_TRAILERS, TTF_FLAG_FIN, sect + 3, n - 3);
            else
                send_frame(st->s, st->id, TTF_DATA, TTF_FLAG_FIN, NULL, 0);
            free(sect);
        } else if (evbuffer_get_length(st->out) > 0) {
            send_data(st, true);
        } else {
            send_frame(st->s, st->id, TTF_DATA, TTF_FLAG_FIN, NULL, 0);
        }
        st->resp_fin = true;
    }
    if (request_done) {
        stream_free(st, NULL);
    } else if (!st->pipe) {
        /* An early answer (403 after 5 bytes): the rest of the request is not wanted. As an
         * HTTP/2 server does (RFC 9113 §8.1), the complete response is followed by a RESET. */
        send_reset(st->s, st->id, TTF_RST_CANCEL, "response complete; request body not needed");
        stream_free(st, NULL);
    }
    /* a pipe whose local side ended waits for the server's FIN */
}

static void up_fail(void *ud, exchange_fail why, const char *message, bool started)
{
    stream *st = ud;
    uint8_t code = TTF_RST_INTERNAL;
    if (st->held) { /* the head never went: the server answers the failure itself */
        free(st->held);
        st->held = NULL;
        started = false;
    }
    if (!started) {
        switch (why) {
        case XFAIL_UNAVAILABLE:
            code = TTF_RST_LOCAL_UNAVAILABLE;
            break;
        case XFAIL_TIMEOUT:
            code = TTF_RST_TIMEOUT;
            break;
        case XFAIL_BAD_REQUEST:
            code = TTF_RST_INVALID_REQUEST;
            break;
        default:
            break;
        }
    }
    stream_reset(st, code, message);
}

static void up_drained(void *ud)
{
    send_credit(ud);
}

static const exchange_sink sink = {up_room,  up_interim, up_head, up_body,
                                   up_flush, up_end,     up_fail, up_drained};

/* ---- frames from the server ---- */

/* The stream id in decimal (for the observer and logs), without printf: once per request. */
static void id_decimal(char out[11], uint32_t id)
{
    char d[10], *p = d + sizeof d;
    do {
        *--p = (char)('0' + id % 10);
        id /= 10;
    } while (id);
    size_t n = (size_t)(d + sizeof d - p);
    memcpy(out, p, n);
    out[n] = '\0';
}

static void on_open(session *s, const ttf_frame *f)
{
    if (hmap_get_u32(s->streams, f->stream_id)) {
        send_reset(s, f->stream_id, TTF_RST_PROTOCOL_ERROR, "stream id in use");
        return;
    }
    session_tunnel *tun = session_tunnel_at(s, f->tunnel);
    if (!tun) {
        send_reset(s, f->stream_id, TTF_RST_INVALID_REQUEST, "no such tunnel on this session");
        return;
    }
    /* the head ttfd accepted under its --max-header-size and field-line limit, and its
     * forwarding fields after: all of it, whatever its size and however many lines (no head
     * holds more lines than octets) */
    http1_limits lim = {.max_head = f->len, .max_fields = f->len};
    http1_head head;
    http1_head_init(&head);
    http1_err err = {0};
    size_t used = 0;
    if (http1_parse_head(&head, (const char *)f->payload, f->len, true, &lim, &used, &err) !=
            HTTP1_HEAD_DONE ||
        used != f->len || head.chunked || (!head.path && head.form != HTTP1_TARGET_ASTERISK)) {
        http1_head_free(&head);
        TLOG_W(s->log, "stream %u: OPEN with an unusable head (%s)", f->stream_id,
               err.reason ? err.reason : "Transfer-Encoding, trailing octets or no path");
        send_reset(s, f->stream_id, TTF_RST_PROTOCOL_ERROR, "bad request head in OPEN");
        return;
    }
    stream *st = stream_alloc(s);
    if (!st || hmap_put_u32(s->streams, f->stream_id, st) != 0) {
        if (st)
            stream_release(s, st);
        http1_head_free(&head);
        send_reset(s, f->stream_id, TTF_RST_INTERNAL, "out of memory");
        return;
    }
    st->s = s;
    st->id = f->stream_id;
    id_decimal(st->idtext, f->stream_id);
    st->send_window = TTF_BIN_INITIAL_WINDOW;
    hold_start(&st->hold, clock_now_ms());
    st->req_fin = (f->flags & TTF_FLAG_FIN) != 0;
    if (!st->req_fin) /* the server's first window: ours (ready.request_window), or its own */
        hold_window(&s->hold, &st->hold,
                    s->request_window ? s->request_window : TTF_BIN_INITIAL_WINDOW);
    exchange_request req = {
        .mode = "bin",
        .id = st->idtext,
        .method = head.method,
        .target = head.path ? head.path : head.target, /* origin-form, or "*" (OPTIONS) */
        .headers = &head.headers,
        .content_length = head.framing == HTTP1_FRAMING_LENGTH ? head.content_length : -1,
        .body = !st->req_fin,
        .interim = true,
        .upgrade = true,
        .trailers = true,
    };
    st->x = exchange_new(&tun->env, &req, &sink, st);
    http1_head_free(&head);
    if (!st->x) {
        hold_forget(&s->hold, &st->hold);
        hmap_del_u32(s->streams, st->id);
        stream_release(s, st);
        send_reset(s, f->stream_id, TTF_RST_INTERNAL, "out of memory");
    }
}

static void on_data(stream *st, const ttf_frame *f)
{
    if (st->req_fin) {
        stream_reset(st, TTF_RST_PROTOCOL_ERROR, "DATA after FIN");
        return;
    }
    if (!hold_spend(&st->s->hold, &st->hold, f->len)) {
        stream_reset(st, TTF_RST_PROTOCOL_ERROR, "window exceeded");
        return;
    }
    if (f->flags & TTF_FLAG_FIN) {
        st->req_fin = true;
        hold_body_done(&st->s->hold, &st->hold);
    }
    /* the exchange's upcalls may free the stream: keep what is needed on the stack */
    session *s = st->s;
    uint32_t id = st->id;
    exchange_body(st->x, f->payload, f->len);
    if (hmap_get_u32(s->streams, id) != st)
        return;
    if (f->flags & TTF_FLAG_FIN) {
        exchange_end_body(st->x, NULL);
        if (hmap_get_u32(s->streams, id) != st)
            return;
        if (st->pipe && st->resp_fin) { /* both sides of the pipe ended */
            stream_free(st, NULL);
            return;
        }
    }
    send_credit(st);
}

/* TRAILERS: field lines, each ending in CRLF, then CRLF (checked by the decoder). */
static void on_trailers(stream *st, const ttf_frame *f)
{
    if (st->req_fin) {
        stream_reset(st, TTF_RST_PROTOCOL_ERROR, "TRAILERS after FIN");
        return;
    }
    st->req_fin = true;
    hold_body_done(&st->s->hold, &st->hold);
    http_headers tr;
    http_headers_init(&tr);
    const char *p = (const char *)f->payload, *end = p + f->len - 2;
    while (p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p) + 1);
        http1_field fl;
        const char *why = NULL;
        if (!eol || eol[1] != '\n' || http1_field_split(p, (size_t)(eol - p), &fl, &why) != 0 ||
            http_headers_add(&tr, fl.name, fl.nlen, fl.value, fl.vlen) != 0) {
            http_headers_free(&tr);
            stream_reset(st, TTF_RST_PROTOCOL_ERROR, "bad TRAILERS");
            return;
        }
        p = eol + 2;
    }
    exchange_end_body(st->x, &tr);
    http_headers_free(&tr);
}

static void on_frame(session *s, const uint8_t *msg, size_t len)
{
    ttf_frame f;
    if (ttf_frame_decode(msg, len, &f) != 0) {
        TLOG_W(s->log, "dropping a malformed binary frame (%zu bytes)", len);
        return;
    }
    if (f.type == TTF_OPEN) {
        on_open(s, &f);
        return;
    }
    stream *st = hmap_get_u32(s->streams, f.stream_id);
    if (!st) {
        if (f.type == TTF_DATA || f.type == TTF_TRAILERS)
            send_reset(s, f.stream_id, TTF_RST_CANCEL, "unknown stream");
        return;
    }
    switch (f.type) {
    case TTF_DATA:
        on_data(st, &f);
        break;
    case TTF_TRAILERS:
        on_trailers(st, &f);
        break;
    case TTF_WINDOW:
        if ((uint64_t)st->send_window + f.window > UINT32_MAX) {
            stream_reset(st, TTF_RST_PROTOCOL_ERROR, "window overflow");
            break;
        }
        st->send_window += f.window;
        if (st->paused) {
            st->paused = false;
            exchange_resume(st->x);
        }
        break;
    case TTF_RESET:
        TLOG_D(s->log, "stream %u: reset by the server (%s)", st->id, ttf_reset_name(f.reset_code));
        stream_free(st, "cancelled");
        break;
    default: /* RESPONSE is ours to send */
        stream_reset(st, TTF_RST_PROTOCOL_ERROR, "unexpected frame");
        break;
    }
}

void wire_bin_on_message(session *s, const uint8_t *msg, size_t len)
{
    on_frame(s, msg, len);
}

static void shed_one(void *exchange, uint64_t idle_ms, void *ud)
{
    stream *st = exchange;
    const session *s = ud;
    TLOG_W(s->log,
           "stream %u: its local service took none of its body for %llu ms while this agent "
           "holds %zu KiB of request bodies: reset (timeout)",
           st->id, (unsigned long long)idle_ms, s->hold.held >> 10);
    stream_reset(st, TTF_RST_TIMEOUT, "the local service did not take the request body in time");
}

/* hmap_each must not modify the map: collect first, then act. */
typedef struct collect {
    uint32_t *ids;
    size_t n, cap;
    enum { ALL, PAUSED, CREDIT_WAIT } which;
} collect;

static void collect_fn(void *ud, const void *key, size_t klen, void *value)
{
    (void)klen;
    collect *c = ud;
    const stream *st = value;
    if ((c->which == PAUSED && !st->paused) || (c->which == CREDIT_WAIT && st->hold.want == 0))
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

void wire_bin_shed(session *s)
{
    size_t normal = s->hold_shed ? 0 : (size_t)TTF_BIN_INITIAL_WINDOW;
    bool later = false;
    size_t n = hold_shed(&s->hold, s->streams, offsetof(stream, hold), normal, shed_one, s, &later);
    if (normal && n) { /* marked or failed: room, or larger shares, for those waiting */
        collect c = {.which = CREDIT_WAIT};
        hmap_each(s->streams, collect_fn, &c);
        for (size_t i = 0; i < c.n; i++) {
            stream *st = hmap_get_u32(s->streams, c.ids[i]);
            if (st)
                send_credit(st);
        }
        free(c.ids);
    }
    if (later)
        session_shed_later(s, HOLD_RETRY_MS); /* some may stall by then */
}

void wire_bin_resume_all(session *s)
{
    collect c = {.which = PAUSED};
    hmap_each(s->streams, collect_fn, &c);
    for (size_t i = 0; i < c.n && !session_congested(s); i++) {
        stream *st = hmap_get_u32(s->streams, c.ids[i]);
        if (st && st->paused && st->send_window > evbuffer_get_length(st->out)) {
            st->paused = false;
            exchange_resume(st->x);
        }
    }
    free(c.ids);
}

void wire_bin_free_all(session *s)
{
    collect c = {.which = ALL};
    hmap_each(s->streams, collect_fn, &c);
    for (size_t i = 0; i < c.n; i++) {
        stream *st = hmap_get_u32(s->streams, c.ids[i]);
        if (st)
            stream_free(st, "tunnel closed");
    }
    free(c.ids);
    stream *st;
    while ((st = spare_take(&s->spare_streams, SPARE_LINK))) {
        evbuffer_free(st->out);
        free(st);
    }
}
