/* SPDX-License-Identifier: MIT */
/* ws.c - WebSocket framing over a lib/conn connection.
 * Input: frames are parsed here (lib/ws_frame: header rules and unmasking; lib/utf8: UTF-8; eight
 * bytes at a time) straight from the connection's input buffer: a whole frame is unmasked in place
 * and a message of one frame is handed to its handler from there, fragments are joined in one
 * buffer; pings are answered, a close is answered and reported, a protocol breach is answered with
 * a close (1002, 1007 for bad UTF-8, 1009 for a message over the limit). wslay's reader unmasked
 * and UTF-8-checked byte by byte and copied each message twice: it was the largest cost of
 * ttfd's bulk paths (perf: 44% of ttfd's samples in a binary download).
 * Output: data messages (text, binary) are encoded here, RFC 6455 §5.2-5.3, straight into the
 * connection's output: header and payload (masked 8 bytes at a time by a client) in one copy;
 * with a frame limit (ws_set_frame_limit) a longer message leaves as a first frame and
 * continuation frames (§5.4), all in the output at once.
 * wslay's encoder masks byte by byte and copies a message three times on its way out, which was
 * the largest cost of a bulk transfer after TLS itself. Control frames (ping, pong, close) still
 * go through wslay; its send callback takes whole frames at once, so wslay never holds half a
 * frame and the two sources never interleave inside a frame. lib/conn writes the output once at
 * the end of the loop pass, through TLS when the connection has it.
 * Re-entrancy: every entry from the loop holds `busy`; ws_conn_free inside a handler only marks
 * the connection dead and the last exit frees it. Work that must not run inside a caller's
 * ws_* call (reporting a failure) is deferred with conn_trigger_read: its on_read runs from the
 * loop. */
#include "ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <wslay/wslay.h>

#include "rand_pool.h"
#include "utf8.h"
#include "ws_frame.h"

#define HIGH_WATER ((size_t)1 << 20)
#define LOW_WATER ((size_t)256 << 10) /* on_drain once pending falls below this */
#define CLOSE_WAIT_MS 2000u           /* ws_close gives up flushing after this */
#define HOLD_MAX ((size_t)4 << 20)    /* server: a peer not taking this much is not read */
#define CLOSE_REASON_MAX 123          /* RFC 6455 §5.5: control payloads <= 125 bytes */
#define MSG_MAX_DEFAULT (((size_t)1 << 31) - 1) /* max_msg 0: wslay's default bound */

struct ws_conn {
    conn *c;
    wslay_event_context_ptr ctx;
    ws_handlers h;
    void *ud;
    rand_pool *mask_pool; /* client only: masking keys */
    size_t frame_limit;   /* data frames carry at most this many payload bytes; 0 = no limit */
    size_t max_msg;       /* a received message's bytes */
    uint8_t *msg;         /* fragments of the message being received */
    size_t msg_len, msg_cap;
    mem_budget *budget;               /* NULL: no shared budget */
    size_t share;                     /* bytes of a received message not counted in budget */
    size_t charged;                   /* what this connection counts in budget->used */
    char group[MEM_BUDGET_GROUP_MAX]; /* the budget's group it counts in (its peer's address) */
    uint8_t msg_op;                   /* its opcode (text, binary); 0 = none in progress */
    uint16_t close_code_rcvd;         /* the peer's close code (1005 when its close had none) */
    const char *rx_why;               /* why we stopped reading (a protocol breach), for on_close */
    int busy;
    bool server;     /* unmasked frames out */
    bool paused;     /* ws_pause_read */
    bool held;       /* server: reading stopped until the peer takes our output (HOLD_MAX) */
    bool closing;    /* ws_close called: no more messages */
    bool dead;       /* ws_conn_free was called while busy */
    bool reported;   /* on_close was called */
    bool failed;     /* transport error or EOF: report 1006 (or the peer's code) */
    bool timed_out;  /* the conn's idle timer: a dead link */
    bool want_drain; /* pending went above LOW_WATER since the last on_drain */
    bool close_rcvd; /* the peer's close frame arrived */
    bool rx_done;    /* no more frames are read (close received, or a breach answered) */
};

/* Counts what a message of held bytes takes beyond the share; false (nothing changed) when the
 * budget cannot cover it. */
static bool charge(ws_conn *w, size_t held)
{
    return mem_budget_charge(w->budget, w->group, &w->charged, w->share, held);
}

static void ws_destroy(ws_conn *w)
{
    charge(w, 0);
    conn_free(w->c);
    if (w->ctx)
        wslay_event_context_free(w->ctx);
    free(w->mask_pool);
    free(w->msg);
    free(w);
}

static void enter(ws_conn *w)
{
    w->busy++;
}

static void leave(ws_conn *w)
{
    if (--w->busy == 0 && w->dead)
        ws_destroy(w);
}

static void report_close(ws_conn *w)
{
    if (w->reported || w->dead)
        return;
    w->reported = true;
    conn_read(w->c, false);
    conn_set_deadline(w->c, 0);
    uint16_t code = 1006;
    const char *reason = w->timed_out ? "no data from the peer in time" : "connection lost";
    if (w->close_rcvd) {
        code = w->close_code_rcvd;
        reason = "closed by peer";
    } else if (!w->failed && wslay_event_get_close_sent(w->ctx)) {
        code = wslay_event_get_status_code_sent(w->ctx);
        reason = w->rx_why ? w->rx_why : "closed";
    }
    if (w->h.on_close)
        w->h.on_close(w->ud, code, reason);
}

/* Decides whether the connection is finished; runs from the loop with busy held. */
static void check_state(ws_conn *w)
{
    if (w->reported || w->dead)
        return;
    if (w->failed) {
        report_close(w);
        return;
    }
    if (!wslay_event_get_close_sent(w->ctx))
        return;
    /* Our close frame went out: done once it is written, or at once when the peer's close
     * already arrived (nothing more is expected from either side). */
    if (conn_out_len(w->c) == 0 || w->close_rcvd)
        report_close(w);
}

/* Control frames wslay holds (pongs, close replies, our pings and close) -> the connection's
 * output, whole. Never calls handlers. */
static void pump_send(ws_conn *w)
{
    if (w->reported || w->dead || w->failed)
        return;
    if (wslay_event_want_write(w->ctx) && wslay_event_send(w->ctx) != 0)
        w->failed = true;
}

/* Reading resumes once a held peer took our backlog down to LOW_WATER. */
static void maybe_release(ws_conn *w)
{
    if (!w->held || w->dead || w->reported || ws_pending(w) > LOW_WATER)
        return;
    w->held = false;
    conn_read(w->c, !w->paused);
    if (!w->paused && evbuffer_get_length(conn_in(w->c)) > 0)
        conn_trigger_read(w->c); /* frames read before the hold */
}

static void maybe_drain(ws_conn *w)
{
    if (!w->dead && !w->reported && w->want_drain && ws_pending(w) <= LOW_WATER) {
        w->want_drain = false;
        if (w->h.on_drain)
            w->h.on_drain(w->ud);
    }
}

static void parse_input(ws_conn *w);

static void pump_recv(ws_conn *w)
{
    if (w->reported || w->dead || w->failed)
        return;
    parse_input(w);
    pump_send(w); /* pongs, close replies, whatever the handlers queued */
}

/* ---- wslay callbacks ---- */

/* wslay only writes control frames here (its reader is not used): nothing to read. */
static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    (void)buf;
    (void)len;
    (void)flags;
    (void)ud;
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *ud)
{
    (void)flags;
    ws_conn *w = ud;
    if (conn_write(w->c, data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

/* Masking keys (RFC 6455 §5.3: fresh and unpredictable per frame) come from a pool filled by
 * the CSPRNG (lib/rand_pool: one RAND_bytes per 1024 frames). 0 or -1. */
static int new_mask(ws_conn *w, uint8_t *buf, size_t len)
{
    return rand_pool_bytes(w->mask_pool, buf, len);
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    if (new_mask(ud, buf, len) == 0)
        return 0;
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

/* ---- input ---- */

/* A breach of the protocol by the peer (RFC 6455 §7.1.7): our close frame with code goes out,
 * reading stops, on_close follows once it is written. */
static void rx_fail(ws_conn *w, uint16_t code, const char *why)
{
    w->rx_done = true;
    w->rx_why = why;
    conn_read(w->c, false);
    if (!wslay_event_get_close_sent(w->ctx)) {
        size_t n = strlen(why);
        wslay_event_queue_close(w->ctx, code, (const uint8_t *)why,
                                n > CLOSE_REASON_MAX ? CLOSE_REASON_MAX : n);
    }
}

/* A whole message to its handler. */
static void deliver(ws_conn *w, uint8_t op, const uint8_t *p, size_t n)
{
    if (op == WS_OP_TEXT && !utf8_valid(p, n)) {
        rx_fail(w, 1007, "invalid UTF-8 in a text message");
        return;
    }
    if (op == WS_OP_TEXT && w->h.on_text)
        w->h.on_text(w->ud, p, n);
    else if (op == WS_OP_BINARY && w->h.on_binary)
        w->h.on_binary(w->ud, p, n);
}

/* The peer's close frame (§5.5.1): answered with its code (none when it had none), reported by
 * check_state. */
static void on_close_frame(ws_conn *w, const uint8_t *p, size_t n)
{
    uint16_t code = 1005; /* §7.1.5: no status code present */
    if (n == 1) {
        rx_fail(w, 1002, "close frame with a one-byte payload");
        return;
    }
    if (n >= 2) {
        code = (uint16_t)(p[0] << 8 | p[1]);
        if (!ws_close_code_valid(code)) {
            rx_fail(w, 1002, "invalid close code");
            return;
        }
        if (!utf8_valid(p + 2, n - 2)) {
            rx_fail(w, 1007, "invalid UTF-8 in a close reason");
            return;
        }
    }
    w->close_rcvd = true;
    w->close_code_rcvd = code;
    w->rx_done = true;
    conn_read(w->c, false);
    if (!wslay_event_get_close_sent(w->ctx))
        wslay_event_queue_close(w->ctx, code == 1005 ? 0 : code, NULL, 0);
}

/* Appends a fragment to the message being received. 0 or -1 (ENOMEM). */
static int msg_append(ws_conn *w, const uint8_t *p, size_t n)
{
    if (w->msg_len + n > w->msg_cap) {
        size_t cap = w->msg_cap ? w->msg_cap : 4096;
        while (cap < w->msg_len + n)
            cap *= 2;
        uint8_t *m = realloc(w->msg, cap);
        if (!m)
            return -1;
        w->msg = m;
        w->msg_cap = cap;
    }
    if (n)
        memcpy(w->msg + w->msg_len, p, n);
    w->msg_len += n;
    return 0;
}

/* One whole, unmasked frame. */
static void on_frame(ws_conn *w, const ws_frame_hdr *h, const uint8_t *p, size_t n)
{
    switch (h->opcode) {
    case WS_OP_PING:
        if (!wslay_event_get_close_sent(w->ctx)) {
            struct wslay_event_msg m = {.opcode = WSLAY_PONG, .msg = p, .msg_length = n};
            wslay_event_queue_msg(w->ctx, &m); /* a copy is taken */
        }
        return;
    case WS_OP_PONG:
        return;
    case WS_OP_CLOSE:
        on_close_frame(w, p, n);
        return;
    default:
        break;
    }
    if (h->opcode != WS_OP_CONT && h->fin) { /* the common case: zero copies */
        deliver(w, h->opcode, p, n);
        return;
    }
    if (h->opcode != WS_OP_CONT)
        w->msg_op = h->opcode;
    if (msg_append(w, p, n) != 0) {
        w->failed = true;
        return;
    }
    if (!h->fin)
        return;
    uint8_t op = w->msg_op;
    uint8_t *m = w->msg;
    size_t len = w->msg_len;
    w->msg_op = 0;
    w->msg = NULL; /* a large buffer is not kept by an idle connection */
    w->msg_len = w->msg_cap = 0;
    deliver(w, op, m, len);
    free(m);
}

/* Parses and hands on every whole frame in the connection's input (frames already read are
 * delivered even when reading is paused). */
static void parse_input(ws_conn *w)
{
    uint8_t empty[1] = {0}; /* where a frame without payload points (no shared state) */
    struct evbuffer *in = conn_in(w->c);
    while (!w->rx_done && !w->dead && !w->reported && !w->failed) {
        if (w->server && ws_pending(w) > HOLD_MAX) {
            /* A peer that sends without reading what its messages make us send (pongs,
             * answers, resets): we stop reading it, or that output grows without bound. */
            w->held = true;
            conn_read(w->c, false);
            return;
        }
        size_t have = evbuffer_get_length(in);
        uint8_t hb[14];
        size_t hn = have < sizeof hb ? have : sizeof hb;
        if (hn < 2)
            return;
        if (evbuffer_copyout(in, hb, hn) != (ev_ssize_t)hn) {
            w->failed = true;
            return;
        }
        ws_frame_hdr h;
        const char *why = NULL;
        int r = ws_frame_header(hb, hn, w->server, &h, &why);
        if (r == 0)
            return;
        if (r < 0) {
            rx_fail(w, 1002, why);
            return;
        }
        if (!(h.opcode & 0x8)) {
            if (h.opcode == WS_OP_CONT && !w->msg_op) {
                rx_fail(w, 1002, "continuation frame outside a message");
                return;
            }
            if (h.opcode != WS_OP_CONT && w->msg_op) {
                rx_fail(w, 1002, "new message inside a fragmented one");
                return;
            }
            if (h.len > w->max_msg || w->msg_len + h.len > w->max_msg) {
                rx_fail(w, 1009, "message too big");
                return;
            }
            if (!charge(w, w->msg_len + (size_t)h.len)) {
                rx_fail(w, 1009,
                        "messages in progress over the server's memory for them (or its "
                        "address's part): try again later");
                return;
            }
        }
        if (have - h.hdrlen < h.len)
            return; /* the whole frame first (bounded by max_msg and the budget) */
        size_t n = (size_t)h.len;
        evbuffer_drain(in, h.hdrlen);
        uint8_t *p = n ? evbuffer_pullup(in, (ev_ssize_t)n) : empty;
        if (!p) {
            w->failed = true;
            return;
        }
        if (h.masked)
            ws_unmask(p, n, h.key, 0);
        on_frame(w, &h, p, n);
        evbuffer_drain(in, n);
        charge(w, w->msg_len); /* what is left of the message: less than before, never refused */
    }
}

/* ---- connection callbacks ---- */

static void on_read(conn *c, void *ud)
{
    (void)c;
    ws_conn *w = ud;
    enter(w);
    pump_recv(w);
    check_state(w);
    leave(w);
}

static void on_drain(conn *c, void *ud)
{
    (void)c;
    ws_conn *w = ud;
    enter(w);
    maybe_release(w);
    maybe_drain(w);
    check_state(w);
    leave(w);
}

static void on_event(conn *c, void *ud, int what)
{
    (void)c;
    ws_conn *w = ud;
    enter(w);
    /* EOF, ERROR, IDLE (a dead link), DEADLINE (a close that never flushed): all final */
    w->failed = true;
    w->timed_out = (what & CONN_EV_IDLE) != 0;
    check_state(w);
    leave(w);
}

static const conn_cbs ws_conn_cbs = {on_read, on_drain, on_event};

/* ---- public API ---- */

ws_conn *ws_conn_new(conn *c, bool is_server, const ws_handlers *h, void *ud, size_t max_msg)
{
    ws_conn *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    struct wslay_event_callbacks cbs = {
        .recv_callback = recv_cb,
        .send_callback = send_cb,
        .genmask_callback = is_server ? NULL : genmask_cb,
        .on_msg_recv_callback = NULL,
    };
    int rc = is_server ? wslay_event_context_server_init(&w->ctx, &cbs, w)
                       : wslay_event_context_client_init(&w->ctx, &cbs, w);
    if (rc != 0) {
        free(w);
        return NULL;
    }
    w->server = is_server;
    if (!is_server && (w->mask_pool = malloc(sizeof *w->mask_pool)) != NULL)
        rand_pool_init(w->mask_pool); /* without it masks are drawn one by one */
    w->max_msg = max_msg ? max_msg : MSG_MAX_DEFAULT;
    w->c = c;
    w->h = *h;
    w->ud = ud;
    conn_set_cbs(c, &ws_conn_cbs, w);
    conn_set_out_low(c, LOW_WATER);
    conn_read(c, true);
    if (evbuffer_get_length(conn_in(c)) > 0)
        conn_trigger_read(c); /* frames that followed the handshake */
    return w;
}

void ws_set_budget(ws_conn *w, mem_budget *b, size_t share, const char *group)
{
    charge(w, 0);
    w->budget = b;
    w->share = share;
    snprintf(w->group, sizeof w->group, "%s", group ? group : "");
}

void ws_conn_free(ws_conn *w)
{
    if (!w || w->dead)
        return;
    if (w->busy > 0) {
        /* Inside one of our callbacks: stop everything now, free on the way out. */
        w->dead = true;
        conn_read(w->c, false);
        return;
    }
    ws_destroy(w);
}

/* A frame header (RFC 6455 §5.2): FIN as given, no extension bits, the payload length in 7, 16
 * or 64 bits, then the masking key when mask is given. Returns its length (2 to 14). */
static size_t frame_header(uint8_t out[14], bool fin, uint8_t opcode, uint64_t len,
                           const uint8_t *mask)
{
    size_t n = 0;
    out[n++] = (uint8_t)((fin ? 0x80u : 0) | opcode);
    uint8_t m = mask ? 0x80u : 0;
    if (len < 126) {
        out[n++] = (uint8_t)(m | len);
    } else if (len <= 0xffff) {
        out[n++] = m | 126u;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = m | 127u;
        for (int i = 7; i >= 0; i--)
            out[n++] = (uint8_t)(len >> (8 * i));
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

/* The most bytes frame_header writes for a payload of len bytes. */
static size_t frame_header_max(uint64_t len)
{
    return (len < 126 ? 2 : len <= 0xffff ? 4 : 10) + 4;
}

/* A message's payload: a then b, as one sequence of bytes. */
typedef struct payload {
    const uint8_t *a, *b;
    size_t alen, blen;
} payload;

/* dst = n payload bytes from byte off on, masked with key when given (the key's offset counts
 * from the frame's first payload byte). */
static void payload_copy(uint8_t *dst, const payload *pl, size_t off, size_t n, const uint8_t *key)
{
    size_t na = off < pl->alen ? pl->alen - off : 0;
    if (na > n)
        na = n;
    const uint8_t *sa = na ? pl->a + off : NULL;
    const uint8_t *sb = n > na ? pl->b + (off + na - pl->alen) : NULL;
    if (key) {
        if (na)
            ws_mask_copy(dst, sa, na, key, 0);
        if (n > na)
            ws_mask_copy(dst + na, sb, n - na, key, na);
    } else {
        if (na)
            memcpy(dst, sa, na);
        if (n > na)
            memcpy(dst + na, sb, n - na);
    }
}

/* One data message of a then b, straight into the connection's output: one frame, or with a
 * frame limit a first frame (opcode, FIN clear) and continuation frames (opcode 0, FIN on the
 * last), each carrying at most frame_limit payload bytes (RFC 6455 §5.4). A client masks every
 * frame with a key of its own. The whole message is in conn_out() on return (ws_pending counts
 * it until the socket takes it). */
static int send_data(ws_conn *w, uint8_t opcode, const void *a, size_t alen, const void *b,
                     size_t blen)
{
    if (!w || w->dead || w->reported || w->failed || w->closing ||
        wslay_event_get_close_sent(w->ctx) || w->close_rcvd)
        return -1;
    pump_send(w); /* control frames wslay holds go first, whole */
    const payload pl = {a, b, alen, blen};
    size_t len = alen + blen;
    size_t step = w->frame_limit && len > w->frame_limit ? w->frame_limit : len;
    size_t nframes = step ? (len + step - 1) / step : 1;
    size_t room = len + nframes * frame_header_max(step);
    struct evbuffer *out = conn_out(w->c);
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(out, (ev_ssize_t)room, &v, 1) != 1)
        return -1;
    uint8_t *p = v.iov_base;
    size_t off = 0;
    do {
        size_t n = len - off < step ? len - off : step;
        uint8_t key[4];
        if (!w->server && new_mask(w, key, sizeof key) != 0)
            return -1; /* nothing committed: the output is as before */
        p += frame_header(p, off + n == len, off ? 0 : opcode, n, w->server ? NULL : key);
        payload_copy(p, &pl, off, n, w->server ? NULL : key);
        p += n;
        off += n;
    } while (off < len);
    v.iov_len = (size_t)(p - (uint8_t *)v.iov_base);
    if (evbuffer_commit_space(out, &v, 1) != 0)
        return -1;
    if (ws_pending(w) > LOW_WATER)
        w->want_drain = true;
    return 0;
}

int ws_send_text(ws_conn *w, const void *data, size_t len)
{
    return send_data(w, WSLAY_TEXT_FRAME, data, len, NULL, 0);
}

int ws_send_binary(ws_conn *w, const void *data, size_t len)
{
    return send_data(w, WSLAY_BINARY_FRAME, data, len, NULL, 0);
}

int ws_send_binary2(ws_conn *w, const void *hdr, size_t hlen, const void *data, size_t len)
{
    return send_data(w, WSLAY_BINARY_FRAME, hdr, hlen, data, len);
}

int ws_send_ping(ws_conn *w)
{
    if (!w || w->dead || w->reported || w->failed || w->closing)
        return -1;
    struct wslay_event_msg m = {.opcode = WSLAY_PING, .msg = NULL, .msg_length = 0};
    if (wslay_event_queue_msg(w->ctx, &m) != 0)
        return -1;
    pump_send(w);
    if (w->failed)
        conn_trigger_read(w->c); /* report from the loop, not under the caller */
    return 0;
}

size_t ws_pending(const ws_conn *w)
{
    if (!w)
        return 0;
    return wslay_event_get_queued_msg_length(w->ctx) + conn_out_len(w->c);
}

void ws_set_frame_limit(ws_conn *w, size_t limit)
{
    if (w)
        w->frame_limit = limit;
}

size_t ws_high_water(void)
{
    return HIGH_WATER;
}

void ws_pause_read(ws_conn *w, bool paused)
{
    if (!w || w->dead || w->reported || w->paused == paused)
        return;
    w->paused = paused;
    conn_read(w->c, !paused && !w->held);
}

void ws_close(ws_conn *w, uint16_t code, const char *reason)
{
    if (!w || w->dead || w->reported || w->closing)
        return;
    w->closing = true;
    if (!wslay_event_get_close_sent(w->ctx)) {
        /* the messages sent so far are in the output already: the close frame follows them */
        size_t rlen = reason ? strlen(reason) : 0;
        if (rlen > CLOSE_REASON_MAX)
            rlen = CLOSE_REASON_MAX;
        wslay_event_queue_close(w->ctx, code, (const uint8_t *)reason, rlen);
    }
    conn_set_deadline(w->c, CLOSE_WAIT_MS); /* a peer that never reads */
    pump_send(w);
    /* report from the loop: at once when the peer's close came already, else once flushed */
    conn_trigger_read(w->c);
}

/* ---- handshake helpers ---- */

int ws_accept_key(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    if (!key)
        return -1;
    size_t klen = strlen(key);
    if (klen == 0 || klen > 128)
        return -1;
    char buf[128 + sizeof guid];
    memcpy(buf, key, klen); // NOLINT(bugprone-not-null-terminated-result): bytes, not a string
    memcpy(buf + klen, guid, sizeof guid - 1);
    unsigned char md[SHA_DIGEST_LENGTH];
    if (!SHA1((const unsigned char *)buf, klen + sizeof guid - 1, md))
        return -1;
    return EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH) == 28 ? 0 : -1;
}

int ws_client_key(char out[25])
{
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    return EVP_EncodeBlock((unsigned char *)out, raw, sizeof raw) == 24 ? 0 : -1;
}
