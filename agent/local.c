/* SPDX-License-Identifier: MIT */
/* local.c - local service connections and the keep-alive pool (see local.h). */
#include "local.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/event.h>

struct local_pool {
    struct event_base *base;
    struct addrinfo *ai;
    struct addrinfo **addrs;
    size_t naddr;
    lsock **idle;
    size_t nidle, max_idle;
    struct event *flush_ev; /* end of the loop pass: write the dirty sockets */
    lsock *dirty;           /* sockets with output added this pass */
    char *scratch;          /* LOCAL_READ_MAX bytes: small reads land here first */
};

/* One socket to the local service. */
struct lsock {
    local_pool *pool;
    lconn *owner; /* NULL while idle in the pool */
    evutil_socket_t fd;
    struct event *rd, *wr; /* persistent; added only while wanted */
    struct evbuffer *in, *out;
    lsock *dirty_prev, *dirty_next;
    bool dirty;
    bool connecting; /* wr reports the end of the connect */
    bool reading;    /* rd added */
    bool writing;    /* wr added: a backlog the socket did not take */
    bool paused;     /* lconn_pause */
    bool eof;        /* the peer closed its side: nothing more to read */
    bool dead;       /* failed: neither read nor written again */
    bool bulk;       /* the last read filled its piece: read into the buffer directly */
    int connect_err; /* an immediate connect failure, reported from the loop */
};

/* ---- sockets ---- */

static void dirty_unlink(lsock *k)
{
    if (!k->dirty)
        return;
    if (k->dirty_prev)
        k->dirty_prev->dirty_next = k->dirty_next;
    else
        k->pool->dirty = k->dirty_next;
    if (k->dirty_next)
        k->dirty_next->dirty_prev = k->dirty_prev;
    k->dirty_prev = k->dirty_next = NULL;
    k->dirty = false;
}

static void mark_dirty(lsock *k)
{
    if (k->dirty)
        return;
    k->dirty = true;
    k->dirty_prev = NULL;
    k->dirty_next = k->pool->dirty;
    if (k->pool->dirty)
        k->pool->dirty->dirty_prev = k;
    k->pool->dirty = k;
    event_active(k->pool->flush_ev, EV_TIMEOUT, 0);
}

static void set_writing(lsock *k, bool on)
{
    if (k->writing == on)
        return;
    k->writing = on;
    if (on)
        event_add(k->wr, NULL);
    else
        event_del(k->wr);
}

/* Reading is on unless paused, full, finished or still connecting. Idle sockets read too: any
 * byte or EOF makes them useless. */
static void update_reading(lsock *k)
{
    bool want = !k->connecting && !k->eof && !k->dead &&
                (!k->owner || (!k->paused && evbuffer_get_length(k->in) < LOCAL_IN_MAX));
    if (want == k->reading)
        return;
    k->reading = want;
    if (want)
        event_add(k->rd, NULL);
    else
        event_del(k->rd);
}

static void sock_free(lsock *k)
{
    dirty_unlink(k);
    if (k->rd)
        event_free(k->rd);
    if (k->wr)
        event_free(k->wr);
    if (k->in)
        evbuffer_free(k->in);
    if (k->out)
        evbuffer_free(k->out);
    if (k->fd >= 0)
        close(k->fd);
    free(k);
}

static void pool_remove(local_pool *p, lsock *k)
{
    for (size_t i = 0; i < p->nidle; i++) {
        if (p->idle[i] == k) {
            p->idle[i] = p->idle[--p->nidle];
            break;
        }
    }
    sock_free(k);
}

/* The socket failed: tell the owner (last action), or drop it from the pool. */
static void sock_fail(lsock *k, int err, short what)
{
    k->dead = true;
    dirty_unlink(k);
    set_writing(k, false);
    update_reading(k);
    lconn *c = k->owner;
    if (!c) {
        pool_remove(k->pool, k);
        return;
    }
    c->err = err;
    c->cbs->on_event(c->ud, (short)(LOCAL_EV_ERROR | what));
}

/* Writes the output now; what the socket does not take waits for the write event. */
static void sock_flush(lsock *k)
{
    if (k->connecting || k->dead || evbuffer_get_length(k->out) == 0)
        return;
    int n = evbuffer_write(k->out, k->fd);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        sock_fail(k, errno, LOCAL_EV_WRITING);
        return;
    }
    size_t left = evbuffer_get_length(k->out);
    set_writing(k, left > 0);
    if (n > 0 && left <= LOCAL_OUT_MARK && k->owner)
        k->owner->cbs->on_write(k->owner->ud);
}

static void flush_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    local_pool *p = ud;
    while (p->dirty) {
        lsock *k = p->dirty;
        dirty_unlink(k);
        if (!k->writing)
            sock_flush(k);
    }
}

/* Bytes added to the output: write them at the end of this pass. */
static void out_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *ud)
{
    (void)b;
    lsock *k = ud;
    if (info->n_added > 0 && !k->connecting && !k->writing && !k->dead)
        mark_dirty(k);
}

/* Input drained: reading may resume. */
static void in_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *ud)
{
    (void)b;
    lsock *k = ud;
    if (info->n_deleted > 0 && !k->reading)
        update_reading(k);
}

/* Reads up to room bytes into k->in. Small answers (most requests) go through the pool's
 * scratch buffer, so the input buffer is sized to them; a socket whose last read filled the
 * piece (a download) reads into reserved space directly, saving the copy. */
static ssize_t sock_read(lsock *k, size_t room)
{
    if (!k->bulk) {
        ssize_t n = read(k->fd, k->pool->scratch, room);
        if (n > 0 && evbuffer_add(k->in, k->pool->scratch, (size_t)n) != 0) {
            errno = ENOMEM;
            return -1;
        }
        k->bulk = n > 0 && (size_t)n == room;
        return n;
    }
    struct evbuffer_iovec v[2];
    int nv = evbuffer_reserve_space(k->in, (ev_ssize_t)room, v, 2);
    if (nv <= 0) {
        errno = ENOMEM;
        return -1;
    }
    struct iovec iov[2];
    size_t want = room;
    for (int i = 0; i < nv; i++) {
        iov[i].iov_base = v[i].iov_base;
        iov[i].iov_len = v[i].iov_len < want ? v[i].iov_len : want;
        want -= iov[i].iov_len;
    }
    ssize_t n = readv(k->fd, iov, nv);
    int e = errno;
    size_t got = n > 0 ? (size_t)n : 0;
    int used = 0;
    for (int i = 0; i < nv && got > 0; i++, used++) {
        v[i].iov_len = got < iov[i].iov_len ? got : iov[i].iov_len;
        got -= v[i].iov_len;
    }
    evbuffer_commit_space(k->in, v, used);
    k->bulk = n > 0 && (size_t)n == room;
    errno = e;
    return n;
}

static void read_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    lsock *k = ud;
    if (!k->owner) {
        pool_remove(k->pool, k); /* an idle connection that speaks or closes is useless */
        return;
    }
    size_t have = evbuffer_get_length(k->in);
    if (have >= LOCAL_IN_MAX || k->paused) {
        update_reading(k);
        return;
    }
    size_t room = LOCAL_IN_MAX - have;
    if (room > LOCAL_READ_MAX)
        room = LOCAL_READ_MAX;
    ssize_t n = sock_read(k, room);
    if (n < 0) {
        int e = errno;
        if (e != EAGAIN && e != EWOULDBLOCK && e != EINTR)
            sock_fail(k, e, LOCAL_EV_READING);
        return;
    }
    if (n == 0) {
        k->eof = true;
        update_reading(k);
        k->owner->cbs->on_event(k->owner->ud, LOCAL_EV_EOF | LOCAL_EV_READING);
        return;
    }
    if (evbuffer_get_length(k->in) >= LOCAL_IN_MAX)
        update_reading(k);
    k->owner->cbs->on_read(k->owner->ud);
}

static int connect_next(lconn *c);

/* A fresh connect failed: try the next address of the host (localhost -> ::1, 127.0.0.1). */
static void connect_failed(lsock *k, int err)
{
    lconn *c = k->owner;
    if (c && !c->reused && c->addr_idx + 1 < c->pool->naddr) {
        c->addr_idx++;
        c->sk = NULL;
        c->err = err;
        if (connect_next(c) == 0) {
            evbuffer_add_buffer(c->sk->out, k->out);
            sock_free(k);
            return;
        }
        c->sk = k;
    }
    sock_fail(k, err, 0);
}

static void write_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)what;
    lsock *k = ud;
    if (!k->connecting) {
        sock_flush(k);
        return;
    }
    int err = k->connect_err;
    socklen_t len = sizeof err;
    if (!err && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err == EINPROGRESS || err == EINTR)
        return;
    k->connecting = false;
    set_writing(k, false);
    if (err) {
        connect_failed(k, err);
        return;
    }
    if (k->owner)
        k->owner->connected = true;
    /* Heads and bodies often go out as separate small writes: do not let Nagle hold them. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    update_reading(k);
    sock_flush(k);
}

static lsock *sock_new(local_pool *p, lconn *owner, int fd)
{
    lsock *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->pool = p;
    k->owner = owner;
    k->fd = fd;
    k->rd = event_new(p->base, fd, EV_READ | EV_PERSIST, read_cb, k);
    k->wr = event_new(p->base, fd, EV_WRITE | EV_PERSIST, write_cb, k);
    k->in = evbuffer_new();
    k->out = evbuffer_new();
    if (!k->rd || !k->wr || !k->in || !k->out || !evbuffer_add_cb(k->in, in_cb, k) ||
        !evbuffer_add_cb(k->out, out_cb, k)) {
        k->fd = -1; /* the caller closes it */
        sock_free(k);
        return NULL;
    }
    return k;
}

/* Starts a non-blocking connect to the current address or the next ones that can be tried.
 * A refusal is reported from the loop through write_cb, as for an asynchronous one. */
static int connect_next(lconn *c)
{
    local_pool *p = c->pool;
    for (; c->addr_idx < p->naddr; c->addr_idx++) {
        struct addrinfo *a = p->addrs[c->addr_idx];
        int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            c->err = errno;
            continue;
        }
        int rc = connect(fd, a->ai_addr, a->ai_addrlen);
        int e = rc == 0 ? 0 : errno;
        if (rc != 0 && e != EINPROGRESS && e != ECONNREFUSED) {
            c->err = e;
            close(fd);
            continue;
        }
        lsock *k = sock_new(p, c, fd);
        if (!k) {
            close(fd);
            c->err = ENOMEM;
            return -1;
        }
        /* Even an immediate answer goes through write_cb: callbacks only come from the loop. */
        k->connecting = true;
        k->connect_err = e == EINPROGRESS ? 0 : e;
        if (e == EINPROGRESS)
            set_writing(k, true);
        else
            event_active(k->wr, EV_WRITE, 0);
        c->sk = k;
        return 0;
    }
    if (!c->err)
        c->err = ECONNREFUSED;
    return -1;
}

/* ---- pool ---- */

local_pool *local_pool_new(struct event_base *base, const char *host, int port, size_t max_idle,
                           char *err, size_t errcap)
{
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    char hostbuf[256];
    /* Accept "[::1]" as well as "::1". */
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']' && hl - 2 < sizeof hostbuf) {
        memcpy(hostbuf, host + 1, hl - 2);
        hostbuf[hl - 2] = '\0';
        host = hostbuf;
    }
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, portstr, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errcap, "cannot resolve local host %s: %s", host, gai_strerror(rc));
        return NULL;
    }
    local_pool *p = calloc(1, sizeof *p);
    size_t n = 0;
    for (struct addrinfo *a = ai; a; a = a->ai_next)
        n++;
    if (p) {
        p->addrs = calloc(n ? n : 1, sizeof(struct addrinfo *));
        p->idle = calloc(max_idle ? max_idle : 1, sizeof(lsock *));
        p->flush_ev = event_new(base, -1, 0, flush_cb, p);
        p->scratch = malloc(LOCAL_READ_MAX);
    }
    if (!p || !p->addrs || !p->idle || !p->flush_ev || !p->scratch) {
        if (p) {
            free(p->addrs);
            free(p->idle);
            free(p->scratch);
            if (p->flush_ev)
                event_free(p->flush_ev);
        }
        free(p);
        freeaddrinfo(ai);
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    p->base = base;
    p->ai = ai;
    for (struct addrinfo *a = ai; a; a = a->ai_next)
        p->addrs[p->naddr++] = a;
    p->max_idle = max_idle;
    return p;
}

void local_pool_free(local_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nidle; i++)
        sock_free(p->idle[i]);
    free(p->idle);
    free(p->addrs);
    freeaddrinfo(p->ai);
    event_free(p->flush_ev);
    free(p->scratch);
    free(p);
}

size_t local_pool_idle(const local_pool *p)
{
    return p->nidle;
}

/* ---- lconn ---- */

int lconn_open(lconn *c, local_pool *p, const lconn_cbs *cbs, void *ud, bool fresh)
{
    memset(c, 0, sizeof *c);
    c->pool = p;
    c->cbs = cbs;
    c->ud = ud;
    if (p->nidle > 0 && !fresh) {
        lsock *k = p->idle[--p->nidle];
        k->owner = c;
        k->paused = false;
        c->sk = k;
        c->connected = true;
        c->reused = true;
        return 0;
    }
    return connect_next(c);
}

void lconn_close(lconn *c, bool reuse)
{
    lsock *k = c->sk;
    if (!k)
        return;
    c->sk = NULL;
    local_pool *p = c->pool;
    if (reuse && c->connected && !k->connecting && !k->eof && !k->dead && !k->writing &&
        p->nidle < p->max_idle && evbuffer_get_length(k->in) == 0 &&
        evbuffer_get_length(k->out) == 0) {
        k->owner = NULL;
        k->paused = false;
        k->bulk = false;
        dirty_unlink(k);
        update_reading(k);
        p->idle[p->nidle++] = k;
        return;
    }
    sock_free(k);
}

struct evbuffer *lconn_in(const lconn *c)
{
    return c->sk->in;
}

struct evbuffer *lconn_out(const lconn *c)
{
    return c->sk->out;
}

void lconn_pause(lconn *c, bool paused)
{
    lsock *k = c->sk;
    if (!k || k->paused == paused)
        return;
    k->paused = paused;
    update_reading(k);
}
