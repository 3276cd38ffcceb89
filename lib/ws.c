/* SPDX-License-Identifier: MIT */
/* ws.c - WebSocket framing (wslay event API) over a libevent bufferevent.
 * Input: the bufferevent's input evbuffer feeds wslay's recv callback. Plain sockets fill it
 * from our own read event (one readv of up to 64 KiB, no ioctl(FIONREAD) per read).
 * Output: wslay's send callback appends to the output evbuffer up to OUT_CAP, then reports
 * WOULDBLOCK; the write callback (fired when the output drains below OUT_LOW) resumes it.
 * Plain sockets are written directly: messages queued during one loop pass go out in one
 * write at its end (the kick event), and the write event is only armed for what the socket did
 * not take, which saves two epoll_ctl calls per pass. TLS bufferevents write themselves.
 * Re-entrancy: every entry from libevent holds `busy`; ws_conn_free inside a handler only marks
 * the connection dead and the last exit frees it. */
#include "ws.h"
#include "bev_io.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <wslay/wslay.h>

#define OUT_CAP ((size_t)256 << 10) /* bytes handed to the socket buffer before WOULDBLOCK */
#define OUT_LOW ((size_t)64 << 10)  /* write callback fires below this: refill */
#define HIGH_WATER ((size_t)1 << 20)
#define LOW_WATER ((size_t)256 << 10) /* on_drain once pending falls below this */
#define CLOSE_WAIT_SEC 2              /* ws_close gives up flushing after this */
#define MAX_SINGLE_IO ((ev_ssize_t)256 << 10)
#define MASK_POOL 256               /* random bytes fetched at once for client frame masks */
#define READ_MAX ((size_t)64 << 10) /* plain sockets: bytes asked for per read */

/* A message sent as several frames (ws_set_frame_limit): our copy, read by wslay frame by frame. */
typedef struct frag_src {
    uint8_t *data;
    size_t len, off;
    struct frag_src *next;
} frag_src;

struct ws_conn {
    struct bufferevent *bev;
    struct event *rd; /* plain sockets: our read event (the bufferevent only writes); TLS: NULL */
    wslay_event_context_ptr ctx;
    ws_handlers h;
    void *ud;
    struct event *kick;  /* deferred work: first parse, error reports from user calls */
    struct event *timer; /* ws_close deadline */
    uint8_t *scratch;    /* joins header + payload for ws_send_binary2 */
    size_t scratch_cap;
    uint8_t mask_pool[MASK_POOL];
    size_t mask_left;
    size_t frame_limit;  /* messages longer than this go out fragmented; 0 = never */
    frag_src *frags;     /* fragmented messages queued, not yet read to their end by wslay */
    size_t frag_pending; /* their bytes wslay has not read yet (wslay does not count them) */
    int busy;
    bool direct;        /* plain socket: we write the output ourselves */
    bool paused;        /* ws_pause_read */
    bool close_pending; /* ws_close called: the close frame follows the queued messages */
    uint16_t close_code;
    uint8_t close_rlen;
    char close_reason[124];
    bool dead;       /* ws_conn_free was called while busy */
    bool reported;   /* on_close was called */
    bool failed;     /* transport error or EOF: report 1006 (or the peer's code) */
    bool want_drain; /* pending went above LOW_WATER since the last on_drain */
};

static void frag_unlink(ws_conn *c, frag_src *f)
{
    for (frag_src **pp = &c->frags; *pp; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    c->frag_pending -= f->len - f->off;
    free(f->data);
    free(f);
}

static void conn_destroy(ws_conn *c)
{
    while (c->frags)
        frag_unlink(c, c->frags);
    if (c->rd)
        event_free(c->rd);
    if (c->kick)
        event_free(c->kick);
    if (c->timer)
        event_free(c->timer);
    if (c->bev)
        bufferevent_free(c->bev);
    if (c->ctx)
        wslay_event_context_free(c->ctx);
    free(c->scratch);
    free(c);
}

static void enter(ws_conn *c)
{
    c->busy++;
}

/* Returns true when c was freed. */
static bool leave(ws_conn *c)
{
    if (--c->busy == 0 && c->dead) {
        conn_destroy(c);
        return true;
    }
    return false;
}

static void read_on(ws_conn *c, bool on)
{
    if (!c->rd) {
        if (on)
            bufferevent_enable(c->bev, EV_READ);
        else
            bufferevent_disable(c->bev, EV_READ);
    } else if (on) {
        event_add(c->rd, NULL);
    } else {
        event_del(c->rd);
    }
}

static size_t out_len(const ws_conn *c)
{
    return evbuffer_get_length(bufferevent_get_output(c->bev));
}

static void report_close(ws_conn *c)
{
    if (c->reported || c->dead)
        return;
    c->reported = true;
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    read_on(c, false);
    bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
    if (c->timer)
        event_del(c->timer);
    uint16_t code = 1006;
    const char *reason = "connection lost";
    if (wslay_event_get_close_received(c->ctx)) {
        code = wslay_event_get_status_code_received(c->ctx);
        reason = "closed by peer";
    } else if (!c->failed && wslay_event_get_close_sent(c->ctx)) {
        code = wslay_event_get_status_code_sent(c->ctx);
        reason = code == 1009 ? "message too big" : "closed";
    }
    if (c->h.on_close)
        c->h.on_close(c->ud, code, reason);
}

/* Decides whether the connection is finished; must run with busy held. */
static void check_state(ws_conn *c)
{
    if (c->reported || c->dead)
        return;
    if (c->failed) {
        report_close(c);
        return;
    }
    if (!wslay_event_get_close_sent(c->ctx))
        return;
    /* Our close frame went out: done once it is flushed, or at once when the peer's close
     * already arrived (nothing more is expected from either side). */
    if (out_len(c) == 0 || wslay_event_get_close_received(c->ctx)) {
        report_close(c);
    } else if (!evtimer_pending(c->timer, NULL)) {
        struct timeval tv = {CLOSE_WAIT_SEC, 0}; /* a peer that never reads */
        evtimer_add(c->timer, &tv);
    }
}

static void pump_send(ws_conn *c)
{
    for (;;) {
        if (c->reported || c->dead || c->failed)
            return;
        /* wslay sends control frames ahead of queued messages: hold our close back until the
         * messages queued before ws_close are out */
        if (c->close_pending && wslay_event_get_queued_msg_count(c->ctx) == 0) {
            c->close_pending = false;
            wslay_event_queue_close(c->ctx, c->close_code, (const uint8_t *)c->close_reason,
                                    c->close_rlen);
        }
        if (wslay_event_want_write(c->ctx) && wslay_event_send(c->ctx) != 0) {
            c->failed = true;
            return;
        }
        if (!c->close_pending || wslay_event_get_queued_msg_count(c->ctx) != 0)
            return;
    }
}

/* Frames wslay holds -> output buffer -> socket. Direct mode writes here; what the socket does
 * not take arms the write event (write_cb continues and disarms it once empty). */
static void pump_out(ws_conn *c)
{
    for (;;) {
        pump_send(c);
        if (!c->direct || c->failed || c->reported || c->dead)
            return;
        struct evbuffer *out = bufferevent_get_output(c->bev);
        if (evbuffer_get_length(out) == 0 || (bufferevent_get_enabled(c->bev) & EV_WRITE))
            return;
        int err;
        if (bev_write_direct(c->bev, &err) < 0 && !bev_io_transient(err)) {
            c->failed = true;
            return;
        }
        if (evbuffer_get_length(out) > 0) {
            bufferevent_enable(c->bev, EV_WRITE);
            return;
        }
        if (!wslay_event_want_write(c->ctx))
            return;
    }
}

static void maybe_drain(ws_conn *c)
{
    if (!c->dead && !c->reported && c->want_drain && ws_pending(c) <= LOW_WATER) {
        c->want_drain = false;
        if (c->h.on_drain)
            c->h.on_drain(c->ud);
    }
}

static void pump_recv(ws_conn *c)
{
    if (c->reported || c->dead || c->failed)
        return;
    if (wslay_event_want_read(c->ctx) && wslay_event_recv(c->ctx) != 0)
        c->failed = true;
    pump_out(c); /* pongs, close replies, whatever the handlers queued */
}

/* ---- wslay callbacks ---- */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    (void)flags;
    ws_conn *c = ud;
    if (c->dead || c->reported) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    int n = evbuffer_remove(bufferevent_get_input(c->bev), buf, len);
    if (n <= 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    return n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *ud)
{
    (void)flags;
    ws_conn *c = ud;
    if (out_len(c) >= OUT_CAP) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (evbuffer_add(bufferevent_get_output(c->bev), data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

/* Masks come from a pool filled by the CSPRNG (one RAND_bytes per MASK_POOL/4 frames). */
static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    ws_conn *c = ud;
    if (len > MASK_POOL) {
        if (RAND_bytes(buf, (int)len) != 1)
            goto fail;
        return 0;
    }
    if (c->mask_left < len) {
        if (RAND_bytes(c->mask_pool, MASK_POOL) != 1)
            goto fail;
        c->mask_left = MASK_POOL;
    }
    memcpy(buf, c->mask_pool + MASK_POOL - c->mask_left, len);
    c->mask_left -= len;
    return 0;
fail:
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

/* The next frame of a fragmented message: wslay asks for at most len bytes (4 KiB in wslay 1.1)
 * per frame, which is within any frame limit we are given. */
static ssize_t frag_read_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
                            const union wslay_event_msg_source *source, int *eof, void *ud)
{
    (void)ctx;
    ws_conn *c = ud;
    frag_src *f = source->data;
    size_t n = f->len - f->off;
    if (n > len)
        n = len;
    if (c->frame_limit && n > c->frame_limit)
        n = c->frame_limit;
    memcpy(buf, f->data + f->off, n);
    f->off += n;
    c->frag_pending -= n;
    if (f->off == f->len) {
        *eof = 1;
        frag_unlink(c, f); /* wslay holds no pointer into it once the last bytes are read */
    }
    return (ssize_t)n;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *ud)
{
    (void)ctx;
    ws_conn *c = ud;
    if (c->dead || c->reported)
        return;
    if (arg->opcode == WSLAY_TEXT_FRAME && c->h.on_text)
        c->h.on_text(c->ud, arg->msg, arg->msg_length);
    else if (arg->opcode == WSLAY_BINARY_FRAME && c->h.on_binary)
        c->h.on_binary(c->ud, arg->msg, arg->msg_length);
    /* ping/pong/close are handled by wslay itself */
}

/* ---- libevent callbacks ---- */

static void read_cb(struct bufferevent *bev, void *ud)
{
    (void)bev;
    ws_conn *c = ud;
    enter(c);
    pump_recv(c);
    check_state(c);
    leave(c);
}

static void write_cb(struct bufferevent *bev, void *ud)
{
    (void)bev;
    ws_conn *c = ud;
    enter(c);
    pump_send(c);
    if (c->direct && !c->reported && !c->dead &&
        evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        bufferevent_disable(c->bev, EV_WRITE); /* back to direct writes */
    maybe_drain(c);
    pump_out(c); /* what on_drain queued */
    check_state(c);
    leave(c);
}

static void event_cb(struct bufferevent *bev, short what, void *ud)
{
    (void)bev;
    ws_conn *c = ud;
    enter(c);
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        /* Frames that arrived with the EOF still count (a close frame, say). */
        if (what & BEV_EVENT_EOF)
            pump_recv(c);
        c->failed = true;
        check_state(c);
    }
    leave(c);
}

/* Plain sockets: one readv of up to READ_MAX straight into the input buffer per readiness,
 * without the ioctl(FIONREAD) and the 4 KiB cap of libevent's own reads; then what the
 * bufferevent would do (read callback, or event callback on EOF or error). */
static void rd_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd; /* bev_read_direct reads the bufferevent's own socket */
    (void)what;
    ws_conn *c = ud;
    int err;
    ssize_t n = bev_read_direct(c->bev, READ_MAX, &err);
    if (n < 0 && bev_io_transient(err))
        return;
    if (n <= 0) {
        event_del(c->rd);
        event_cb(c->bev, BEV_EVENT_READING | (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR), c);
        return;
    }
    read_cb(c->bev, c);
}

static void kick_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    ws_conn *c = ud;
    enter(c);
    pump_recv(c);
    pump_out(c);
    maybe_drain(c);
    pump_out(c);
    check_state(c);
    leave(c);
}

static void timer_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    ws_conn *c = ud;
    enter(c);
    c->failed = true; /* the close never flushed */
    check_state(c);
    leave(c);
}

/* Schedules check/pump work from the loop (never calls handlers synchronously). */
static void kick(ws_conn *c)
{
    if (!c->reported && !c->dead)
        event_active(c->kick, EV_TIMEOUT, 0);
}

/* ---- public API ---- */

ws_conn *ws_conn_new(struct bufferevent *bev, bool is_server, const ws_handlers *h, void *ud,
                     size_t max_msg)
{
    ws_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    struct wslay_event_callbacks cbs = {
        .recv_callback = recv_cb,
        .send_callback = send_cb,
        .genmask_callback = is_server ? NULL : genmask_cb,
        .on_msg_recv_callback = msg_cb,
    };
    int rc = is_server ? wslay_event_context_server_init(&c->ctx, &cbs, c)
                       : wslay_event_context_client_init(&c->ctx, &cbs, c);
    if (rc != 0) {
        free(c);
        return NULL;
    }
    struct event_base *base = bufferevent_get_base(bev);
    c->kick = event_new(base, -1, 0, kick_cb, c);
    c->timer = evtimer_new(base, timer_cb, c);
    if (!c->kick || !c->timer) {
        c->bev = NULL; /* the caller keeps bev on failure */
        conn_destroy(c);
        return NULL;
    }
    if (max_msg)
        wslay_event_config_set_max_recv_msg_length(c->ctx, max_msg);
    c->bev = bev;
    c->h = *h;
    c->ud = ud;
    bufferevent_set_max_single_read(bev, MAX_SINGLE_IO);
    bufferevent_set_max_single_write(bev, MAX_SINGLE_IO);
    bufferevent_setwatermark(bev, EV_WRITE, OUT_LOW, 0);
    bufferevent_setwatermark(bev, EV_READ, 0, 0);
    c->direct = bufferevent_openssl_get_ssl(bev) == NULL && bufferevent_getfd(bev) >= 0;
    if (c->direct) {
        c->rd = event_new(base, bufferevent_getfd(bev), EV_READ | EV_PERSIST, rd_cb, c);
        if (!c->rd || event_add(c->rd, NULL) != 0) {
            c->bev = NULL; /* the caller keeps bev on failure */
            conn_destroy(c);
            return NULL;
        }
    }
    bufferevent_setcb(bev, read_cb, write_cb, event_cb, c);
    /* TLS: the bufferevent reads and writes; plain: c->rd reads, direct writes (the
     * bufferevent's EV_WRITE only for leftovers). */
    if (c->direct)
        bufferevent_disable(bev, EV_READ | EV_WRITE);
    else
        bufferevent_enable(bev, EV_READ | EV_WRITE);
    if (evbuffer_get_length(bufferevent_get_input(bev)) > 0 ||
        evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        kick(c);
    return c;
}

void ws_conn_free(ws_conn *c)
{
    if (!c)
        return;
    if (c->busy > 0) {
        /* Inside one of our callbacks: stop everything now, free on the way out. */
        c->dead = true;
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
        read_on(c, false);
        bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
        event_del(c->kick);
        event_del(c->timer);
        return;
    }
    conn_destroy(c);
}

static int queue(ws_conn *c, uint8_t opcode, const void *data, size_t len)
{
    if (!c || c->dead || c->reported || c->failed || c->close_pending)
        return -1;
    if (c->frame_limit && len > c->frame_limit && opcode < 0x8) {
        frag_src *f = calloc(1, sizeof *f);
        uint8_t *copy = f ? malloc(len) : NULL;
        if (!copy) {
            free(f);
            return -1;
        }
        memcpy(copy, data, len);
        f->data = copy;
        f->len = len;
        struct wslay_event_fragmented_msg fm = {
            .opcode = opcode, .source = {.data = f}, .read_callback = frag_read_cb};
        if (wslay_event_queue_fragmented_msg(c->ctx, &fm) != 0) {
            free(copy);
            free(f);
            return -1;
        }
        f->next = c->frags;
        c->frags = f;
        c->frag_pending += len;
    } else {
        struct wslay_event_msg m = {.opcode = opcode, .msg = data, .msg_length = len};
        if (wslay_event_queue_msg(c->ctx, &m) != 0)
            return -1;
    }
    if (c->direct)
        kick(c); /* one write for everything queued in this loop pass */
    else
        pump_send(c);
    if (c->failed)
        kick(c); /* report from the loop, not under the caller */
    if (ws_pending(c) > LOW_WATER)
        c->want_drain = true;
    return 0;
}

int ws_send_text(ws_conn *c, const void *data, size_t len)
{
    return queue(c, WSLAY_TEXT_FRAME, data, len);
}

int ws_send_binary(ws_conn *c, const void *data, size_t len)
{
    return queue(c, WSLAY_BINARY_FRAME, data, len);
}

int ws_send_binary2(ws_conn *c, const void *hdr, size_t hlen, const void *data, size_t len)
{
    if (!c)
        return -1;
    size_t total = hlen + len;
    if (total > c->scratch_cap) {
        uint8_t *p = realloc(c->scratch, total);
        if (!p)
            return -1;
        c->scratch = p;
        c->scratch_cap = total;
    }
    if (hlen)
        memcpy(c->scratch, hdr, hlen);
    if (len)
        memcpy(c->scratch + hlen, data, len);
    return queue(c, WSLAY_BINARY_FRAME, c->scratch, total);
}

int ws_send_ping(ws_conn *c)
{
    return queue(c, WSLAY_PING, NULL, 0);
}

size_t ws_pending(const ws_conn *c)
{
    if (!c)
        return 0;
    return wslay_event_get_queued_msg_length(c->ctx) + c->frag_pending + out_len(c);
}

void ws_set_frame_limit(ws_conn *c, size_t limit)
{
    if (c)
        c->frame_limit = limit;
}

size_t ws_high_water(void)
{
    return HIGH_WATER;
}

void ws_pause_read(ws_conn *c, bool paused)
{
    if (!c || c->dead || c->reported || c->paused == paused)
        return;
    c->paused = paused;
    read_on(c, !paused);
}

void ws_close(ws_conn *c, uint16_t code, const char *reason)
{
    if (!c || c->dead || c->reported)
        return;
    size_t rlen = reason ? strlen(reason) : 0;
    if (rlen > 120)
        rlen = 120;
    if (!c->close_pending && !wslay_event_get_close_sent(c->ctx)) {
        c->close_pending = true;
        c->close_code = code;
        c->close_rlen = (uint8_t)rlen;
        if (rlen)
            memcpy(c->close_reason, reason, rlen);
    }
    struct timeval tv = {CLOSE_WAIT_SEC, 0};
    evtimer_add(c->timer, &tv);
    kick(c);
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
