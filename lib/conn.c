/* SPDX-License-Identifier: MIT */
/* conn.c - connections over non-blocking sockets, plain or TLS (see conn.h).
 * Re-entrancy: every entry from the loop holds `busy`; conn_free inside a callback only marks the
 * connection dead and stops its events, and the outermost exit frees it. Code after a callback
 * checks `dead` before touching the connection again. */
#include "conn_int.h"

#include <errno.h>
#include <locale.h>
#include <malloc.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* ---- callbacks ---- */

bool conn_emit_event(conn *c, int what)
{
    if (c->dead)
        return false;
    c->cbs->on_event(c, c->ud, what);
    return !c->dead;
}

static bool emit_read(conn *c)
{
    if (c->dead)
        return false;
    c->cbs->on_read(c, c->ud);
    return !c->dead;
}

static bool emit_drain(conn *c)
{
    if (c->dead)
        return false;
    if (c->cbs->on_drain)
        c->cbs->on_drain(c, c->ud);
    return !c->dead;
}

/* ---- the pending list ---- */

static void unlink_pending(conn *c)
{
    if (!c->linked)
        return;
    conn_loop *l = c->loop;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
    c->linked = false;
}

void conn_schedule(conn *c, unsigned what)
{
    if (c->dead)
        return;
    c->pend |= what;
    if (c->linked)
        return;
    conn_loop *l = c->loop;
    c->linked = true;
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
    event_active(l->flush_ev, EV_TIMEOUT, 0);
}

/* ---- events ---- */

static bool in_full(const conn *c)
{
    return c->in_max && evbuffer_get_length(c->in) >= c->in_max;
}

/* Adds or removes the read and write events to match the state. */
void conn_update_io(conn *c)
{
    bool r = false, w = false;
    switch ((conn_state)c->state) {
    case CS_CONNECTING:
        w = c->fd >= 0;
        break;
    case CS_HANDSHAKE:
        r = c->hs_want == WANT_READ;
        w = c->hs_want == WANT_WRITE;
        break;
    case CS_OPEN:
        r = c->tls_w_wants_r || (c->want_read && !c->eof && !in_full(c));
        w = c->wr_blocked || c->tls_r_wants_w;
        break;
    case CS_FAILED:
        break;
    }
    if (c->dead)
        r = w = false;
    if (c->watch && !r && c->state == CS_OPEN && !c->eof && !c->dead)
        conn_watch_paused(c);
    bool idle = r && c->idle_ms > 0;
    if (r != c->rd_on || (r && idle != c->rd_idle)) {
        if (r) {
            struct timeval tv = clock_timeval_ms(c->idle_ms);
            event_add(&c->rd, idle ? &tv : NULL);
        } else {
            event_del(&c->rd);
        }
        c->rd_on = r;
        c->rd_idle = idle;
    }
    if (w != c->wr_on) {
        if (w)
            conn_send_watch(c); /* the write event, with the send timeout while open */
        else
            event_del(&c->wr);
        c->wr_on = w;
    }
}

/* The caller reports the failure (emit_event, or PEND_FAIL from outside the loop). */
void conn_fail(conn *c, int err, unsigned long tls_err)
{
    if (c->state == CS_FAILED)
        return;
    c->state = CS_FAILED;
    c->err = err;
    c->tls_err = tls_err;
    conn_update_io(c);
    if (c->timer)
        event_del(c->timer);
}

/* ---- reading ---- */

/* Reads up to room bytes into c->in: plain, one read/readv; TLS, SSL_read until room or
 * want-read. Returns bytes added; *eof at the end of input; fails c on an error. */
static size_t pull(conn *c, size_t room, bool *eof)
{
    *eof = false;
    uint8_t *scratch = c->loop->scratch;
    struct evbuffer_iovec v[2];
    int nv;
    if (!c->bulk && scratch) {
        v[0].iov_base = scratch;
        v[0].iov_len = room;
        nv = 1;
    } else {
        nv = evbuffer_reserve_space(c->in, (ev_ssize_t)room, v, 2);
        if (nv <= 0) {
            conn_fail(c, ENOMEM, 0);
            return 0;
        }
        size_t want = room;
        for (int i = 0; i < nv; i++) {
            if (v[i].iov_len > want)
                v[i].iov_len = want;
            want -= v[i].iov_len;
        }
    }
    size_t got = 0;
    if (!c->ssl) {
        ssize_t n;
        if (nv == 1) {
            n = read(c->fd, v[0].iov_base, v[0].iov_len);
        } else {
            struct iovec iov[2] = {{v[0].iov_base, v[0].iov_len}, {v[1].iov_base, v[1].iov_len}};
            n = readv(c->fd, iov, nv);
        }
        if (n > 0)
            got = (size_t)n;
        else if (n == 0 && c->reset_err) /* the queued bytes are read: now the reset */
            conn_fail(c, c->reset_err, 0);
        else if (n == 0)
            *eof = true;
        else if (!conn_transient(errno))
            conn_fail(c, errno, 0);
    } else {
        got = conn_tls_read(c, v, nv, eof);
    }
    if (v[0].iov_base == scratch) {
        if (got > 0 && evbuffer_add(c->in, scratch, got) != 0)
            conn_fail(c, ENOMEM, 0);
    } else {
        int used = 0;
        for (size_t left = got; used < nv && left > 0; used++) {
            if (v[used].iov_len > left)
                v[used].iov_len = left;
            left -= v[used].iov_len;
        }
        evbuffer_commit_space(c->in, v, used);
    }
    c->bulk = got == room;
    return got;
}

/* One read (two when the first fills its room, CONN_READ_BULK in all: see conn.h) and its report:
 * on_read for new bytes, then EOF or ERROR. */
static void read_and_report(conn *c)
{
    if (c->state != CS_OPEN || c->eof || !c->want_read || in_full(c))
        return;
    size_t limit = conn_read_bulk(c), have = evbuffer_get_length(c->in);
    if (c->in_max && c->in_max - have < limit)
        limit = c->in_max - have;
    size_t room = c->bulk ? limit : limit < CONN_READ_MAX ? limit : CONN_READ_MAX;
    bool eof = false;
    size_t got = pull(c, room, &eof);
    bool full = got == room; /* stopped by the room, not by the socket (or OpenSSL) */
    if (full && got < limit && !eof && c->state == CS_OPEN) {
        size_t more = pull(c, limit - got, &eof);
        full = more == limit - got;
        got += more;
    }
    c->bulk = got >= CONN_READ_MAX || full;
    if (got > 0)
        c->reads++;
    if (eof)
        c->eof = true;
    bool failed = c->state == CS_FAILED;
    /* events after on_read: input that fills in_max and is taken at once costs no epoll_ctl */
    if (got > 0 && !emit_read(c))
        return;
    conn_update_io(c);
    if (failed) {
        conn_emit_event(c, CONN_EV_ERROR);
        return;
    }
    if (eof) {
        conn_emit_event(c, CONN_EV_EOF);
        return;
    }
    /* What SSL_read wrote (a KeyUpdate answer, an alert) waits in the write buffer. */
    if (c->ssl && conn_tls_wpending(c) > 0)
        conn_schedule(c, PEND_WRITE);
    /* Bytes OpenSSL already decrypted or read ahead are invisible to epoll: read them next. */
    if (c->ssl && full && conn_tls_pending(c))
        conn_schedule(c, PEND_PULL);
}

/* ---- writing ---- */

/* Sends our FIN (after close_notify with TLS) once the output is out. */
static void do_shutdown(conn *c)
{
    if (c->ssl && !conn_tls_shutdown(c))
        return;
    shutdown(c->fd, SHUT_WR);
    c->shut_done = true;
}

/* A write failed with EPIPE or ECONNRESET while the peer's last bytes are still queued in our
 * socket (an early answer, then a reset: RFC 9112 §9.6; Linux hands them to read(2) first). For
 * an owner that asked (conn_set_read_after_reset, see conn.h), the write side alone ends: output
 * dropped from now on, with on_drain; the bytes are read at the owner's pace, then ERROR. Plain
 * sockets only. Returns true when the write side alone ended. */
static bool end_write_side(conn *c, int err)
{
    if (!c->keep_read || c->ssl || c->eof || conn_queued_in(c) == 0)
        return false;
    evbuffer_drain(c->out, evbuffer_get_length(c->out));
    c->shut_done = true;
    c->reset_err = err; /* read(2) gives the bytes, then 0: ERROR then */
    return true;
}

/* Writes the output once; arms the write event for what the socket did not take. Reports
 * on_drain after progress down to out_low, ERROR on failure (a reset with the peer's bytes still
 * unread ends the write side alone, see end_write_side). */
static void write_out(conn *c)
{
    if (c->state != CS_OPEN)
        return;
    if (c->shut_done) {
        size_t dropped = evbuffer_get_length(c->out);
        evbuffer_drain(c->out, dropped);
        if (dropped > 0)
            emit_drain(c); /* an owner that waits for room must not wait forever */
        return;
    }
    size_t wrote = 0;
    bool write_side_ended = false;
    if (evbuffer_get_length(c->out) > 0 || conn_tls_wpending(c) > 0) {
        if (c->ssl) {
            wrote = conn_tls_write(c);
        } else {
            int n = evbuffer_write(c->out, c->fd);
            if (n > 0) {
                wrote = (size_t)n;
            } else if (n < 0 && !conn_transient(errno)) {
                int e = errno;
                write_side_ended = (e == EPIPE || e == ECONNRESET) && end_write_side(c, e);
                if (!write_side_ended)
                    conn_fail(c, e, 0);
            }
            c->wr_blocked = evbuffer_get_length(c->out) > 0;
        }
    } else {
        c->wr_blocked = false;
    }
    if (c->state == CS_FAILED) {
        conn_emit_event(c, CONN_EV_ERROR);
        return;
    }
    size_t left = evbuffer_get_length(c->out) + conn_tls_wpending(c);
    if (left == 0 && c->shut_wanted && !c->shut_done)
        do_shutdown(c);
    conn_update_io(c);
    c->writes += wrote > 0; /* the send timeout's progress (conn_timer.c) */
    if ((wrote > 0 || write_side_ended) && left <= c->out_low)
        emit_drain(c);
}

/* ---- handshake and connect ---- */

/* The connection is open: report it (client side) and start what waited. */
void conn_opened(conn *c)
{
    c->state = CS_OPEN;
    c->hs_want = WANT_NONE;
    c->next_addr = NULL; /* the caller may free its address list now */
    conn_cancel_connect_timer(c);
    conn_update_io(c);
    if (evbuffer_get_length(c->out) > 0 || conn_tls_wpending(c) > 0 || c->shut_wanted)
        conn_schedule(c, PEND_WRITE);
    if (c->ssl && c->want_read)
        conn_schedule(c, PEND_PULL); /* application data may have come with the last flight */
    if (c->client)
        conn_emit_event(c, CONN_EV_CONNECTED);
}

static void rd_cb(evutil_socket_t fd, short what, void *ud);
static void wr_cb(evutil_socket_t fd, short what, void *ud);

/* Points both events at fd (they must not be pending). */
int conn_assign_fd(conn *c, int fd)
{
    c->fd = fd;
    struct event_base *base = c->loop->base;
    if (event_assign(&c->rd, base, fd, EV_READ | EV_PERSIST, rd_cb, c) != 0 ||
        event_assign(&c->wr, base, fd, EV_WRITE | EV_PERSIST, wr_cb, c) != 0)
        return -1;
    return 0;
}

void conn_set_nodelay(int fd)
{
    int one = 1; /* output goes out once per loop pass: Nagle would only delay it */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ---- loop callbacks ---- */

static void rd_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    conn *c = ud;
    conn_enter(c);
    /* A timeout with input waiting is not idleness: the process was stopped or starved past the
     * idle time, and when the timer and the input come due in one loop pass, libevent reports
     * the timeout alone. The input is read instead (the timer starts again). */
    if ((what & EV_TIMEOUT) && !(c->state == CS_OPEN && conn_queued_in(c) > 0)) {
        conn_emit_event(c, CONN_EV_IDLE);
    } else if (c->state == CS_HANDSHAKE) {
        conn_handshake(c);
    } else if (c->state == CS_OPEN) {
        if (c->tls_w_wants_r)
            write_out(c);
        if (!c->dead)
            read_and_report(c);
    }
    conn_leave(c);
}

static void wr_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    conn *c = ud;
    conn_enter(c);
    if ((what & EV_TIMEOUT) && c->state == CS_OPEN && conn_send_stalled(c)) {
        conn_emit_event(c, CONN_EV_STALLED);
    } else if (c->state == CS_CONNECTING) {
        conn_connect_done(c);
    } else if (c->state == CS_HANDSHAKE) {
        conn_handshake(c);
    } else if (c->state == CS_OPEN) {
        if (c->tls_r_wants_w) {
            c->tls_r_wants_w = false;
            read_and_report(c);
        }
        if (!c->dead && c->state == CS_OPEN)
            write_out(c);
    }
    conn_leave(c);
}

/* Runs one connection's deferred work. */
static void run_pending(conn *c)
{
    unsigned pend = c->pend;
    c->pend = 0;
    if (pend & PEND_FAIL) {
        conn_emit_event(c, CONN_EV_ERROR);
        return;
    }
    if (pend & PEND_HUP) {
        conn_watch_report(c); /* only while reading is still off */
        if (c->state == CS_FAILED)
            return;
    }
    if ((pend & PEND_PULL) && !c->dead && c->state == CS_OPEN)
        read_and_report(c);
    if ((pend & PEND_DELIVER) && !c->dead && evbuffer_get_length(c->in) > 0)
        emit_read(c);
    if ((pend & PEND_WRITE) && !c->dead && !c->wr_blocked)
        write_out(c);
}

void conn_loop_flush(conn_loop *l)
{
    while (l->head) {
        conn *c = l->head;
        unlink_pending(c); // NOLINT(clang-analyzer-unix.Malloc): a freed conn is off the list
        conn_enter(c);
        run_pending(c);
        conn_leave(c);
    }
}

static void flush_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    conn_loop_flush(ud);
}

/* Bytes added to the output: write them at the end of this pass. */
static void out_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *ud)
{
    (void)b;
    conn *c = ud;
    if (info->n_added > 0 && c->state == CS_OPEN && !c->wr_blocked)
        conn_schedule(c, PEND_WRITE);
}

/* Input drained below in_max: reading resumes. */
static void in_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *ud)
{
    (void)b;
    conn *c = ud;
    if (info->n_deleted > 0 && !c->rd_on && !c->dead)
        conn_resume_input(c);
}

/* ---- public API ---- */

void conn_process_init(void)
{
    signal(SIGPIPE, SIG_IGN);
    mallopt(M_TRIM_THRESHOLD, 4 << 20);
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    /* The C locale, as before (no setlocale anywhere), but as glibc's static C object */
    locale_t c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (c_locale)
        uselocale(c_locale);
}

struct event_base *conn_base_new(void)
{
    struct event_config *cfg = event_config_new();
    struct event_base *base = NULL;
    if (cfg && event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == 0)
        base = event_base_new_with_config(cfg);
    if (cfg)
        event_config_free(cfg);
    return base ? base : event_base_new();
}

conn_loop *conn_loop_new(struct event_base *base)
{
    conn_loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->base = base;
    l->tls_ahead_max = CONN_TLS_AHEAD_MAX;
    l->flush_ev = event_new(base, -1, 0, flush_cb, l);
    l->scratch = malloc(CONN_READ_MAX);
    if (!l->flush_ev || !l->scratch) {
        conn_loop_free(l);
        return NULL;
    }
    return l;
}

void conn_loop_free(conn_loop *l)
{
    if (!l)
        return;
    if (l->flush_ev)
        event_free(l->flush_ev);
    free(l->scratch);
    BIO_meth_free(l->rbio_meth);
    conn_watch_loop_free(l);
    free(l);
}

struct event_base *conn_loop_base(const conn_loop *l)
{
    return l->base;
}

void conn_loop_set_tls_ahead_max(conn_loop *l, size_t bytes)
{
    l->tls_ahead_max = bytes;
}

void conn_loop_on_release(conn_loop *l, void (*fn)(void *ud), void *ud)
{
    l->on_release = fn;
    l->release_ud = ud;
}

conn *conn_alloc(conn_loop *l, const conn_cbs *cbs, void *ud)
{
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->loop = l;
    c->fd = -1;
    c->cbs = cbs;
    c->ud = ud;
    c->want_read = true;
    c->in = evbuffer_new();
    c->out = evbuffer_new();
    if (!c->in || !c->out || !evbuffer_add_cb(c->out, out_cb, c)) {
        if (c->in)
            evbuffer_free(c->in);
        if (c->out)
            evbuffer_free(c->out);
        free(c);
        return NULL;
    }
    return c;
}

conn *conn_new(conn_loop *l, int fd, SSL *ssl, const conn_cbs *cbs, void *ud)
{
    conn *c = conn_alloc(l, cbs, ud);
    if (!c)
        return NULL;
    if (conn_assign_fd(c, fd) != 0 || (ssl && conn_tls_set_fd(c, ssl) != 0)) {
        c->fd = -1; /* the caller keeps fd and ssl */
        conn_destroy(c);
        return NULL;
    }
    conn_set_nodelay(fd);
    if (ssl) {
        c->ssl = ssl;
        conn_tls_setup(ssl);
        SSL_set_accept_state(ssl);
        c->state = CS_HANDSHAKE;
        c->hs_want = WANT_READ; /* the client speaks first */
    } else {
        c->state = CS_OPEN;
    }
    conn_update_io(c);
    return c;
}

void conn_destroy(conn *c)
{
    conn_loop *l = c->loop;
    unlink_pending(c);
    if (c->fd >= 0) {
        event_del(&c->rd);
        event_del(&c->wr);
    }
    if (c->timer)
        event_free(c->timer);
    conn_watch_forget(c);
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->tls_ahead) {
        c->loop->tls_ahead_held -= evbuffer_get_length(c->tls_ahead);
        evbuffer_free(c->tls_ahead);
    }
    bool released = c->fd >= 0;
    if (c->fd >= 0)
        close(c->fd);
    evbuffer_free(c->in);
    evbuffer_free(c->out);
    free(c);
    if (released && l->on_release)
        l->on_release(l->release_ud);
}

void conn_free(conn *c)
{
    if (!c || c->dead)
        return;
    if (c->busy > 0) {
        /* Inside one of its callbacks: stop everything now, free on the way out. */
        c->dead = true;
        unlink_pending(c);
        c->pend = 0;
        if (c->fd >= 0) {
            event_del(&c->rd);
            event_del(&c->wr);
        }
        c->rd_on = c->wr_on = false;
        if (c->timer)
            event_del(c->timer);
        return;
    }
    conn_destroy(c);
}

void conn_set_cbs(conn *c, const conn_cbs *cbs, void *ud)
{
    c->cbs = cbs;
    c->ud = ud;
}

struct evbuffer *conn_in(const conn *c)
{
    return c->in;
}

struct evbuffer *conn_out(const conn *c)
{
    return c->out;
}

int conn_write(conn *c, const void *data, size_t len)
{
    return len ? evbuffer_add(c->out, data, len) : 0;
}

size_t conn_out_len(const conn *c)
{
    return evbuffer_get_length(c->out) + conn_tls_wpending(c);
}

void conn_read(conn *c, bool on)
{
    if (c->want_read == on)
        return;
    c->want_read = on;
    conn_update_io(c);
    /* TLS: records OpenSSL holds already will not wake epoll */
    if (on && c->ssl && c->state == CS_OPEN && conn_tls_pending(c))
        conn_schedule(c, PEND_PULL);
}

bool conn_reading(const conn *c)
{
    return c->want_read;
}

uint64_t conn_reads(const conn *c)
{
    return c->reads;
}

void conn_trigger_read(conn *c)
{
    conn_schedule(c, PEND_DELIVER);
}

void conn_set_in_max(conn *c, size_t bytes)
{
    c->in_max = bytes;
    if (bytes && !c->in_cb) {
        if (!evbuffer_add_cb(c->in, in_cb, c))
            c->in_max = 0; /* no memory for the callback: no limit rather than a stall */
        else
            c->in_cb = true;
    }
    conn_resume_input(c);
}

void conn_set_out_low(conn *c, size_t bytes)
{
    c->out_low = bytes;
}

void conn_set_read_after_reset(conn *c, bool on)
{
    c->keep_read = on;
}

bool conn_write_ended(const conn *c)
{
    return c->shut_done;
}

void conn_shutdown(conn *c)
{
    if (c->shut_wanted)
        return;
    c->shut_wanted = true;
    if (c->state == CS_OPEN && !c->wr_blocked)
        conn_schedule(c, PEND_WRITE);
}

int conn_fd(const conn *c)
{
    return c->fd;
}

int conn_error(const conn *c)
{
    return c->err;
}

unsigned long conn_tls_error(const conn *c)
{
    return c->tls_err;
}

const char *conn_strerror(const conn *c, char *buf, size_t cap)
{
    if (c->tls_err)
        return conn_tls_reason(c, buf, cap);
    if (c->err)
        return strerror(c->err);
    if (c->state == CS_FAILED && c->ssl)
        return "closed during the TLS handshake";
    return c->state == CS_FAILED ? "connection failed" : "no error";
}
