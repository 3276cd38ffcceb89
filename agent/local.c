/* local.c - local service connections and the keep-alive pool (see local.h). */
#include "local.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

struct local_pool {
    struct event_base *base;
    struct addrinfo *ai;
    struct addrinfo **addrs;
    size_t naddr;
    struct bufferevent **idle;
    size_t nidle, max_idle;
};

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
        p->idle = calloc(max_idle ? max_idle : 1, sizeof(struct bufferevent *));
    }
    if (!p || !p->addrs || !p->idle) {
        if (p) {
            free(p->addrs);
            free(p->idle);
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
        bufferevent_free(p->idle[i]);
    free(p->idle);
    free(p->addrs);
    freeaddrinfo(p->ai);
    free(p);
}

size_t local_pool_idle(const local_pool *p)
{
    return p->nidle;
}

static void pool_remove(local_pool *p, struct bufferevent *bev)
{
    for (size_t i = 0; i < p->nidle; i++) {
        if (p->idle[i] == bev) {
            p->idle[i] = p->idle[--p->nidle];
            bufferevent_free(bev);
            return;
        }
    }
}

/* An idle connection that speaks or closes is useless: drop it. */
static void idle_read_cb(struct bufferevent *bev, void *ud)
{
    pool_remove(ud, bev);
}

static void idle_event_cb(struct bufferevent *bev, short what, void *ud)
{
    (void)what;
    pool_remove(ud, bev);
}

/* ---- lconn ---- */

static void lc_read_cb(struct bufferevent *bev, void *ud)
{
    (void)bev;
    lconn *c = ud;
    c->cbs->on_read(c->ud);
}

static void lc_write_cb(struct bufferevent *bev, void *ud)
{
    (void)bev;
    lconn *c = ud;
    c->cbs->on_write(c->ud);
}

static int start_connect(lconn *c);

static void lc_event_cb(struct bufferevent *bev, short what, void *ud)
{
    (void)bev;
    lconn *c = ud;
    if (what & BEV_EVENT_CONNECTED) {
        c->connected = true;
        /* Heads and bodies often go out as separate small writes: do not let Nagle hold them. */
        int one = 1;
        setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return;
    }
    int e = EVUTIL_SOCKET_ERROR();
    if (what & BEV_EVENT_ERROR)
        c->err = e ? e : EIO;
    /* A fresh connect refused: try the next address of the host (localhost -> ::1, 127.0.0.1). */
    if (!c->connected && !c->reused && (what & BEV_EVENT_ERROR) &&
        c->addr_idx + 1 < c->pool->naddr) {
        struct bufferevent *old = c->bev;
        c->addr_idx++;
        c->bev = NULL;
        if (start_connect(c) == 0) {
            evbuffer_add_buffer(bufferevent_get_output(c->bev), bufferevent_get_output(old));
            bufferevent_free(old);
            return;
        }
        c->bev = old;
    }
    c->cbs->on_event(c->ud, what);
}

static void setup(lconn *c)
{
    bufferevent_setcb(c->bev, lc_read_cb, lc_write_cb, lc_event_cb, c);
    bufferevent_setwatermark(c->bev, EV_WRITE, LOCAL_OUT_MARK, 0);
    bufferevent_setwatermark(c->bev, EV_READ, 0, LOCAL_IN_MAX);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static int start_connect(lconn *c)
{
    local_pool *p = c->pool;
    while (c->addr_idx < p->naddr) {
        struct addrinfo *a = p->addrs[c->addr_idx];
        struct bufferevent *bev = bufferevent_socket_new(p->base, -1, BEV_OPT_CLOSE_ON_FREE);
        if (!bev) {
            c->err = ENOMEM;
            return -1;
        }
        c->bev = bev;
        setup(c);
        if (bufferevent_socket_connect(bev, a->ai_addr, (int)a->ai_addrlen) == 0)
            return 0;
        c->err = EVUTIL_SOCKET_ERROR();
        bufferevent_free(bev);
        c->bev = NULL;
        c->addr_idx++;
    }
    if (!c->err)
        c->err = ECONNREFUSED;
    return -1;
}

int lconn_open(lconn *c, local_pool *p, const lconn_cbs *cbs, void *ud, bool fresh)
{
    memset(c, 0, sizeof *c);
    c->pool = p;
    c->cbs = cbs;
    c->ud = ud;
    if (p->nidle > 0 && !fresh) {
        c->bev = p->idle[--p->nidle];
        c->connected = true;
        c->reused = true;
        setup(c);
        return 0;
    }
    return start_connect(c);
}

void lconn_close(lconn *c, bool reuse)
{
    if (!c->bev)
        return;
    struct bufferevent *bev = c->bev;
    c->bev = NULL;
    local_pool *p = c->pool;
    if (reuse && c->connected && p->nidle < p->max_idle &&
        evbuffer_get_length(bufferevent_get_input(bev)) == 0 &&
        evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        bufferevent_setcb(bev, idle_read_cb, NULL, idle_event_cb, p);
        bufferevent_setwatermark(bev, EV_READ, 0, 0);
        bufferevent_enable(bev, EV_READ);
        p->idle[p->nidle++] = bev;
        return;
    }
    bufferevent_free(bev);
}

struct evbuffer *lconn_in(const lconn *c)
{
    return bufferevent_get_input(c->bev);
}

struct evbuffer *lconn_out(const lconn *c)
{
    return bufferevent_get_output(c->bev);
}

void lconn_pause(lconn *c, bool paused)
{
    if (!c->bev)
        return;
    if (paused)
        bufferevent_disable(c->bev, EV_READ);
    else
        bufferevent_enable(c->bev, EV_READ);
}
