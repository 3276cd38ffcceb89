/* SPDX-License-Identifier: MIT */
/* mux_bin.c - the mux over ttf.bin.v2 (docs/protocol.md §3): a stream per public exchange, OPEN
 * with the request head, DATA with body bytes within the agent's window, WINDOW credit as the
 * client takes response bytes, RESPONSE heads parsed strictly here, TRAILERS, RESET both ways.
 * An agent that breaks the protocol on a stream (a frame out of place, a bad head, more than its
 * window) gets that stream reset with protocol_error and a warning naming its tunnel; the other
 * streams go on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"
#include "hmap.h"
#include "mux.h"
#include "proto_bin.h"
#include "proxy.h"
#include "spare_list.h"

/* A response body that outlives its first credit (a bulk download) to a client that reads
 * (mux_client_reads) gets a window of TTF_BIN_INITIAL_WINDOW + BULK_EXTRA, credited per CREDIT_MIN:
 * half as many WINDOW frames per MB as 256 KiB credited per 64 KiB gave (7 for 14; the agent's
 * wake-ups for them fell only from 7.1 to 6.5 per MB, two used to share a write) (perf, 100 MB
 * download, medians of 5 interleaved, load 3: ttfd 38 -> 29 ms per 100 MB in binary mode, 85 -> 81
 * over TLS). A 1 KiB answer never gets a credit. What ttfd holds for a slow client stays bounded by
 * this window (credit waits for the client's backlog). */
#define CREDIT_MIN ((size_t)128 << 10)
#define BULK_EXTRA ((int64_t)256 << 10)
#define MAX_WINDOW ((int64_t)1 << 30)
#define ROOM_MAX ((size_t)256 << 10) /* body bytes taken per room() answer */

typedef struct bin_mux {
    mux base;
    mux_link link;
    hmap *streams; /* stream id -> bin_stream */
    uint32_t next_sid;
    spare_list spare;    /* ended streams kept for the next ones (SPARE_MAX at most) */
    uint32_t req_window; /* request DATA a stream starts with (mux_bin_set_request_window) */
} bin_mux;

/* One allocation fewer per request: ended streams wait for the next OPEN. */
#define SPARE_MAX 64

typedef struct bin_stream {
    mux_stream base;
    uint32_t sid;
    int64_t win;     /* request DATA bytes we may still send */
    flow_window rw;  /* response DATA bytes the agent may still send, and their credit */
    bool req_fin;    /* our FIN went out */
    bool resp_final; /* the final RESPONSE (or a 101) came */
    bool resp_fin;   /* the agent's FIN came */
    bool upgrade;    /* the request asked for an upgrade */
    bool bulk;       /* BULK_EXTRA was granted */
    void *spare;     /* the next spare while this one is one (spare_list.h) */
} bin_stream;

#define SPARE_LINK offsetof(bin_stream, spare)

static bin_mux *bm_of(mux *m)
{
    return (bin_mux *)m;
}

static bin_stream *bs_of(mux_stream *s)
{
    return (bin_stream *)s;
}

/* ---- sending ---- */

static int send_frame(bin_mux *bm, uint8_t type, uint8_t flags, uint32_t sid, const void *data,
                      size_t len)
{
    uint8_t hdr[TTF_BIN_HDR];
    ttf_frame_header(hdr, type, flags, sid);
    return bm->link.send_binary(bm->link.ud, hdr, sizeof hdr, data, len);
}

static void send_reset(bin_mux *bm, uint32_t sid, uint8_t code, const char *why)
{
    uint8_t buf[TTF_BIN_HDR + 1 + TTF_BIN_RESET_REASON_MAX];
    size_t n = ttf_frame_reset(buf, sizeof buf, sid, code, why ? why : "");
    if (n)
        bm->link.send_binary(bm->link.ud, buf, n, NULL, 0);
}

/* A zeroed stream: a spare one, or a new one (NULL on ENOMEM). */
static bin_stream *stream_alloc(bin_mux *bm)
{
    bin_stream *s = spare_take(&bm->spare, SPARE_LINK);
    if (!s)
        return calloc(1, sizeof *s);
    memset(s, 0, sizeof *s);
    return s;
}

static void stream_release(bin_mux *bm, bin_stream *s)
{
    if (!spare_keep(&bm->spare, s, SPARE_LINK, SPARE_MAX))
        free(s);
}

static void forget(bin_mux *bm, bin_stream *s)
{
    hmap_del_u32(bm->streams, s->sid);
    mux_stream_gone(&bm->base);
    stream_release(bm, s);
}

/* The agent broke the protocol on s: RESET protocol_error, a warning naming the tunnel and what,
 * and the owner told (502 with text; the stream is gone when fail runs). */
static void protocol_error_as(bin_mux *bm, bin_stream *s, const char *what, const char *text)
{
    MUX_WARN(&bm->base.id, "tunnel %s (agent %s): stream %u: %s: stream reset (protocol_error)",
             bm->base.id.tunnel[0] ? bm->base.id.tunnel : "-", bm->base.id.agent, (unsigned)s->sid,
             what);
    send_reset(bm, s->sid, TTF_RST_PROTOCOL_ERROR, what);
    const mux_upcalls *up = s->base.up;
    void *ud = s->base.ud;
    forget(bm, s);
    up->fail(ud, 502, text, true);
}

static void protocol_error(bin_mux *bm, bin_stream *s, const char *what)
{
    protocol_error_as(bm, s, what, "the tunnel agent sent a bad response");
}

/* ---- ops ---- */

static mux_stream *bin_open(mux *m, const mux_request *rq, const mux_upcalls *up, void *ud,
                            int *status, const char **why)
{
    bin_mux *bm = bm_of(m);
    *status = 502;
    *why = "could not reach the tunnel agent";
    bin_stream *s = stream_alloc(bm);
    if (!s) {
        *status = 500;
        *why = "out of memory";
        return NULL;
    }
    for (int tries = 0; tries < 1000 && !s->sid; tries++) {
        uint32_t id = bm->next_sid++;
        if (id != 0 && !hmap_get_u32(bm->streams, id))
            s->sid = id;
    }
    size_t hlen = 0;
    char *head =
        s->sid ? http_format_request_head(rq->method, rq->target, rq->headers, &hlen) : NULL;
    if (!head || hmap_put_u32(bm->streams, s->sid, s) != 0) {
        free(head);
        stream_release(bm, s);
        *status = 500;
        *why = "out of memory";
        return NULL;
    }
    mux_stream_added(m);
    s->base = (mux_stream){.m = m, .up = up, .ud = ud};
    s->win = (int64_t)bm->req_window;
    s->rw.left = (int64_t)TTF_BIN_INITIAL_WINDOW;
    s->req_fin = !rq->body;
    s->upgrade = rq->upgrade;
    uint8_t hdr[TTF_BIN_OPEN_HDR];
    ttf_frame_open_header(hdr, rq->body ? 0 : TTF_FLAG_FIN, s->sid, rq->tunnel);
    int rc = bm->link.send_binary(bm->link.ud, hdr, sizeof hdr, head, hlen);
    free(head);
    if (rc != 0) {
        forget(bm, s);
        return NULL;
    }
    return &s->base;
}

static int bin_send_body(mux_stream *ms, const void *data, size_t len)
{
    bin_stream *s = bs_of(ms);
    bin_mux *bm = bm_of(ms->m);
    const uint8_t *p = data;
    while (len > 0) {
        size_t max = (size_t)TTF_BIN_MAX_DATA;
        size_t n = len < max ? len : max;
        if (send_frame(bm, TTF_DATA, 0, s->sid, p, n) != 0)
            return -1;
        s->win -= (int64_t)n;
        p += n;
        len -= n;
    }
    return 0;
}

static int bin_end_body(mux_stream *ms, const http_headers *trailers)
{
    bin_stream *s = bs_of(ms);
    bin_mux *bm = bm_of(ms->m);
    if (s->req_fin)
        return 0;
    s->req_fin = true;
    if (!trailers || trailers->n == 0)
        return send_frame(bm, TTF_DATA, TTF_FLAG_FIN, s->sid, NULL, 0);
    size_t n = 0;
    char *last = http1_chunk_last(trailers, &n); /* "0\r\n" fields "\r\n" */
    if (!last)
        return -1;
    int rc = send_frame(bm, TTF_TRAILERS, TTF_FLAG_FIN, s->sid, last + 3, n - 3);
    free(last);
    return rc;
}

static void bin_flush(mux_stream *ms)
{
    (void)ms;
}

static size_t bin_room(const mux_stream *ms)
{
    const bin_stream *s = (const bin_stream *)ms;
    const bin_mux *bm = (const bin_mux *)ms->m;
    if (s->req_fin || s->win <= 0)
        return 0;
    if (bm->link.pending(bm->link.ud) > bm->link.high_water)
        return 0;
    return (uint64_t)s->win < ROOM_MAX ? (size_t)s->win : ROOM_MAX;
}

static void bin_credit(mux_stream *ms, size_t backlog)
{
    bin_stream *s = bs_of(ms);
    size_t credit = s->resp_fin ? 0 : flow_window_credit(&s->rw, backlog, CREDIT_MIN);
    if (!credit)
        return;
    if (!s->bulk && mux_client_reads(&s->base)) { /* else it keeps the first window */
        s->bulk = true;
        credit += flow_window_grow(&s->rw, (size_t)BULK_EXTRA);
    }
    uint8_t buf[10];
    size_t n = ttf_frame_window(buf, s->sid, (uint32_t)credit);
    bin_mux *bm = bm_of(ms->m);
    bm->link.send_binary(bm->link.ud, buf, n, NULL, 0);
}

static void bin_close(mux_stream *ms, mux_end how, const char *why)
{
    bin_stream *s = bs_of(ms);
    bin_mux *bm = bm_of(ms->m);
    if (!(how == MUX_DONE && s->req_fin && s->resp_fin)) {
        uint8_t code = how == MUX_TIMEOUT       ? TTF_RST_TIMEOUT
                       : how == MUX_BAD_REQUEST ? TTF_RST_INVALID_REQUEST
                       : how == MUX_PROTOCOL    ? TTF_RST_PROTOCOL_ERROR
                                                : TTF_RST_CANCEL;
        if (how == MUX_PROTOCOL)
            MUX_WARN(&bm->base.id,
                     "tunnel %s (agent %s): stream %u: %s: stream reset "
                     "(protocol_error)",
                     bm->base.id.tunnel[0] ? bm->base.id.tunnel : "-", bm->base.id.agent,
                     (unsigned)s->sid, why ? why : "");
        send_reset(bm, s->sid, code, why);
    }
    forget(bm, s);
}

static const mux_ops bin_ops = {bin_open, bin_send_body, bin_end_body, bin_flush,
                                bin_room, bin_credit,    bin_close};

/* ---- frames from the agent ---- */

/* A RESPONSE head: parsed strictly (RFC 9112 response rules), interim or final. */
static void on_response(bin_mux *bm, bin_stream *s, const ttf_frame *f)
{
    if (s->resp_final) {
        protocol_error(bm, s, "a response after the final response");
        return;
    }
    http1_head h;
    http1_head_init(&h);
    http1_err err = {0};
    size_t used = 0;
    /* the agent applied its --max-response-header-size; ttfd's own bound is HTTP1_AGENT_MAX_HEAD
     * and HTTP1_AGENT_MAX_FIELDS, checked before a field is kept */
    http1_limits lim = {.max_head = HTTP1_AGENT_MAX_HEAD, .max_fields = HTTP1_AGENT_MAX_FIELDS};
    http1_head_result hr =
        f->len > HTTP1_AGENT_MAX_HEAD
            ? HTTP1_HEAD_ERROR
            : http1_parse_head(&h, (const char *)f->payload, f->len, false, &lim, &used, &err);
    if (f->len > HTTP1_AGENT_MAX_HEAD || (hr == HTTP1_HEAD_ERROR && http1_err_over_limit(&err))) {
        http1_head_free(&h);
        char why[160];
        snprintf(why, sizeof why, "response head over %zu bytes or %zu field lines (%zu bytes)",
                 HTTP1_AGENT_MAX_HEAD, HTTP1_AGENT_MAX_FIELDS, (size_t)f->len);
        protocol_error_as(bm, s, why, edge_answer_of(EDGE_AGENT_HEAD_TOO_LARGE)->text);
        return;
    }
    if (hr != HTTP1_HEAD_DONE || used != f->len) {
        http1_head_free(&h);
        char why[160];
        snprintf(why, sizeof why, "bad response head: %s",
                 err.reason ? err.reason : "trailing bytes");
        protocol_error(bm, s, why);
        return;
    }
    bool fin = (f->flags & TTF_FLAG_FIN) != 0;
    int status = h.status;
    bool interim = proxy_status_interim(status) && status != 101;
    if ((interim && fin) || (status == 101 && !s->upgrade)) {
        http1_head_free(&h);
        protocol_error(bm, s, interim ? "FIN on an interim response" : "101 without an upgrade");
        return;
    }
    uint32_t sid = s->sid;
    if (!interim) {
        s->resp_final = true;
        if (fin)
            s->resp_fin = true;
    }
    const mux_upcalls *up = s->base.up;
    void *ud = s->base.ud;
    /* the reason-phrase as the app sent it, an empty one included (RFC 9112 §4: it is optional;
     * JSON mode keeps it too) */
    up->head(ud, status, h.reason, &h.headers, fin ? 0 : -1, fin);
    http1_head_free(&h);
    if (fin && hmap_get_u32(bm->streams, sid) == s)
        up->end(ud, NULL);
}

static void on_data(bin_mux *bm, bin_stream *s, const ttf_frame *f)
{
    if (!s->resp_final) {
        protocol_error(bm, s, "DATA before the response head");
        return;
    }
    if (s->resp_fin) {
        protocol_error(bm, s, "DATA after FIN");
        return;
    }
    if (!flow_window_spend(&s->rw, f->len)) {
        protocol_error(bm, s, "DATA beyond the window");
        return;
    }
    bool fin = (f->flags & TTF_FLAG_FIN) != 0;
    if (fin)
        s->resp_fin = true;
    uint32_t sid = s->sid;
    const mux_upcalls *up = s->base.up;
    void *ud = s->base.ud;
    if (f->len)
        up->body(ud, f->payload, f->len);
    if (fin && hmap_get_u32(bm->streams, sid) == s)
        up->end(ud, NULL);
}

static void on_trailers(bin_mux *bm, bin_stream *s, const ttf_frame *f)
{
    if (!s->resp_final || s->resp_fin) {
        protocol_error(bm, s, "TRAILERS out of place");
        return;
    }
    /* parsed by the strict chunked decoder as the trailer section of a last chunk */
    http1_chunked c;
    http1_limits lim = {.max_trailer = HTTP1_AGENT_MAX_TRAILER};
    http1_chunked_init(&c, &lim);
    char *buf = malloc(f->len + 3);
    size_t used = 0, dl = 0;
    const char *d = NULL;
    http1_chunked_result r = HTTP1_CHUNKED_ERROR;
    if (buf) {
        memcpy(buf, "0\r\n", 3);
        memcpy(buf + 3, f->payload, f->len);
        r = http1_chunked_decode(&c, buf, f->len + 3, &used, &d, &dl);
    }
    http_headers tr;
    http_headers_init(&tr);
    bool ok = r == HTTP1_CHUNKED_END && used == f->len + 3 && http1_chunked_trailers(&c, &tr) == 0;
    free(buf);
    http1_chunked_free(&c);
    if (!ok) {
        http_headers_free(&tr);
        protocol_error(bm, s, "bad trailer section");
        return;
    }
    s->resp_fin = true;
    s->base.up->end(s->base.ud, &tr);
    http_headers_free(&tr);
}

static void on_reset(bin_mux *bm, bin_stream *s, const ttf_frame *f)
{
    const mux_upcalls *up = s->base.up;
    void *ud = s->base.ud;
    TLOG_D(bm->base.id.log, "tunnel %s: stream %u reset by the agent: %s", bm->base.id.tunnel,
           (unsigned)s->sid, ttf_reset_name(f->reset_code));
    /* the agent's reason is the public body ("response head from the local service exceeds
     * ttf's --max-response-header-size (65536 bytes)") */
    char why[TTF_BIN_RESET_REASON_MAX + 1];
    edge_reason_text(why, sizeof why, f->payload + 1, f->len > 0 ? f->len - 1 : 0,
                     edge_fault_text(f->reset_code));
    forget(bm, s);
    up->fail(ud, ttf_reset_status(f->reset_code), why, false);
}

static void bin_on_binary(mux *m, const uint8_t *data, size_t len)
{
    bin_mux *bm = bm_of(m);
    ttf_frame f;
    if (ttf_frame_decode(data, len, &f) != 0) {
        /* A malformed DATA frame (over 64 KiB, an unknown flag) of a stream whose response body
         * is under way ends that stream: dropped alone, it would leave a hole in a body that
         * then ends as if whole. Before the head nothing was relayed: it is dropped. */
        bin_stream *bad = f.type == TTF_DATA ? hmap_get_u32(bm->streams, f.stream_id) : NULL;
        if (bad && bad->resp_final && !bad->resp_fin) {
            protocol_error(bm, bad, "malformed DATA frame in a response body");
            return;
        }
        MUX_WARN(&m->id, "tunnel %s (agent %s): malformed binary frame dropped",
                 m->id.tunnel[0] ? m->id.tunnel : "-", m->id.agent);
        return;
    }
    bin_stream *s = hmap_get_u32(bm->streams, f.stream_id);
    if (!s) {
        /* a stream we ended (frames cross) or one that never was: tell the agent to stop */
        if (f.type == TTF_DATA || f.type == TTF_RESPONSE || f.type == TTF_TRAILERS)
            send_reset(bm, f.stream_id, TTF_RST_CANCEL, "no such stream");
        return;
    }
    switch (f.type) {
    case TTF_RESPONSE:
        on_response(bm, s, &f);
        break;
    case TTF_DATA:
        on_data(bm, s, &f);
        break;
    case TTF_TRAILERS:
        on_trailers(bm, s, &f);
        break;
    case TTF_WINDOW:
        s->win += f.window;
        if (s->win > MAX_WINDOW)
            s->win = MAX_WINDOW;
        if (bin_room(&s->base) > 0)
            s->base.up->resume(s->base.ud);
        break;
    case TTF_RESET:
        on_reset(bm, s, &f);
        break;
    default: /* OPEN goes from the server to the agent only */
        protocol_error(bm, s, "OPEN from the agent");
        break;
    }
}

static void bin_on_message(mux *m, tmsg *msg)
{
    TLOG_D(m->id.log, "tunnel %s: %s dropped (binary mode)", m->id.tunnel,
           tmsg_type_name(msg->type));
}

typedef struct ids {
    uint32_t *v;
    size_t n, cap;
} ids;

static void collect(void *ud, const void *key, size_t klen, void *value)
{
    (void)klen;
    (void)value;
    ids *c = ud;
    if (c->n < c->cap)
        memcpy(&c->v[c->n++], key, sizeof(uint32_t));
}

/* The ids of every stream: handlers may end streams (and so edit the map) while we walk. */
static ids snapshot(bin_mux *bm)
{
    ids c = {0};
    c.cap = hmap_count(bm->streams);
    c.v = c.cap ? malloc(c.cap * sizeof *c.v) : NULL;
    if (!c.v)
        c.cap = 0;
    hmap_each(bm->streams, collect, &c);
    return c;
}

static void bin_on_drain(mux *m)
{
    bin_mux *bm = bm_of(m);
    ids c = snapshot(bm);
    for (size_t i = 0; i < c.n; i++) {
        bin_stream *s = hmap_get_u32(bm->streams, c.v[i]);
        if (s && bin_room(&s->base) > 0)
            s->base.up->resume(s->base.ud);
    }
    free(c.v);
}

static size_t bin_streams(const mux *m)
{
    return hmap_count(((const bin_mux *)m)->streams);
}

static void bin_free(mux *m, const char *why)
{
    bin_mux *bm = bm_of(m);
    ids c = snapshot(bm);
    for (size_t i = 0; i < c.n; i++) {
        bin_stream *s = hmap_get_u32(bm->streams, c.v[i]);
        if (!s)
            continue;
        const mux_upcalls *up = s->base.up;
        void *ud = s->base.ud;
        forget(bm, s);
        up->fail(ud, edge_answer_of(EDGE_AGENT_GONE)->status,
                 why ? why : edge_answer_of(EDGE_AGENT_GONE)->text, false);
    }
    free(c.v);
    hmap_free(bm->streams);
    bin_stream *s;
    while ((s = spare_take(&bm->spare, SPARE_LINK)))
        free(s);
    free(bm);
}

static const mux_vt bin_vt = {bin_on_binary, bin_on_message, NULL,
                              bin_on_drain,  bin_streams,    bin_free};

mux *mux_bin_new(const mux_link *link, const mux_ident *id)
{
    bin_mux *bm = calloc(1, sizeof *bm);
    if (!bm)
        return NULL;
    bm->streams = hmap_new();
    if (!bm->streams) {
        free(bm);
        return NULL;
    }
    bm->base.ops = &bin_ops;
    bm->base.vt = &bin_vt;
    bm->base.id = *id;
    bm->link = *link;
    bm->next_sid = 1;
    bm->req_window = TTF_BIN_INITIAL_WINDOW;
    return &bm->base;
}

void mux_bin_set_request_window(mux *m, uint32_t window)
{
    bm_of(m)->req_window = window;
    m->first_room = window;
}
