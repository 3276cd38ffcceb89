/* SPDX-License-Identifier: MIT */
/* local.c - local service connections and the keep-alive pool (see local.h). */
#include "local.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

struct local_pool {
    conn_loop *loop;
    struct addrinfo *ai; /* the local service's addresses, in getaddrinfo's order */
    conn **idle;
    size_t nidle, max_idle;
};

/* ---- idle connections in the pool ---- */

static void pool_remove(local_pool *p, conn *k)
{
    for (size_t i = 0; i < p->nidle; i++) {
        if (p->idle[i] == k) {
            p->idle[i] = p->idle[--p->nidle];
            break;
        }
    }
    conn_free(k);
}

/* An idle connection that speaks or closes is useless. */
static void idle_read(conn *k, void *ud)
{
    pool_remove(ud, k);
}

static void idle_event(conn *k, void *ud, int what)
{
    (void)what;
    pool_remove(ud, k);
}

static const conn_cbs idle_cbs = {idle_read, NULL, idle_event};

/* ---- an lconn's connection ---- */

static void on_read(conn *k, void *ud)
{
    (void)k;
    lconn *c = ud;
    c->cbs->on_read(c->ud);
}

static void on_drain(conn *k, void *ud)
{
    (void)k;
    lconn *c = ud;
    c->cbs->on_write(c->ud);
}

static void on_event(conn *k, void *ud, int what)
{
    lconn *c = ud;
    if (what & CONN_EV_CONNECTED) {
        c->connected = true;
        return;
    }
    if (what & CONN_EV_EOF) {
        c->eof = true;
        c->cbs->on_event(c->ud, LOCAL_EV_EOF);
        return;
    }
    if (what & CONN_EV_ERROR) {
        c->failed = true;
        c->err = conn_error(k);
        c->cbs->on_event(c->ud, LOCAL_EV_ERROR);
    }
}

static const conn_cbs lconn_conn_cbs = {on_read, on_drain, on_event};

/* ---- pool ---- */

local_pool *local_pool_new(conn_loop *loop, const char *host, int port, size_t max_idle, char *err,
                           size_t errcap)
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
    if (p)
        p->idle = calloc(max_idle ? max_idle : 1, sizeof(conn *));
    if (!p || !p->idle) {
        free(p);
        freeaddrinfo(ai);
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    p->loop = loop;
    p->ai = ai;
    p->max_idle = max_idle;
    return p;
}

void local_pool_free(local_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nidle; i++)
        conn_free(p->idle[i]);
    free(p->idle);
    freeaddrinfo(p->ai);
    free(p);
}

/* ---- lconn ---- */

int lconn_open(lconn *c, local_pool *p, const lconn_cbs *cbs, void *ud, bool fresh)
{
    memset(c, 0, sizeof *c);
    c->pool = p;
    c->cbs = cbs;
    c->ud = ud;
    if (p->nidle > 0 && !fresh) {
        conn *k = p->idle[--p->nidle];
        conn_set_cbs(k, &lconn_conn_cbs, c);
        conn_read(k, true);
        c->sk = k;
        c->connected = true;
        c->reused = true;
        return 0;
    }
    /* A fresh connect tries each address in turn (localhost -> ::1, then 127.0.0.1); a refusal
     * is reported from the loop, as ERROR, like any later failure. */
    int e = 0;
    c->sk = conn_connect(p->loop, p->ai, NULL, 0, &lconn_conn_cbs, c, &e);
    if (!c->sk) {
        c->err = e;
        return -1;
    }
    conn_set_in_max(c->sk, LOCAL_IN_MAX);
    conn_set_out_low(c->sk, LOCAL_OUT_MARK);
    return 0;
}

void lconn_close(lconn *c, bool reuse)
{
    conn *k = c->sk;
    if (!k)
        return;
    c->sk = NULL;
    local_pool *p = c->pool;
    if (reuse && c->connected && !c->eof && !c->failed && p->nidle < p->max_idle &&
        evbuffer_get_length(conn_in(k)) == 0 && conn_out_len(k) == 0) {
        /* Idle connections read too: any byte or EOF makes them useless. */
        conn_set_cbs(k, &idle_cbs, p);
        conn_read(k, true);
        p->idle[p->nidle++] = k;
        return;
    }
    conn_free(k);
}

struct evbuffer *lconn_in(const lconn *c)
{
    return conn_in(c->sk);
}

struct evbuffer *lconn_out(const lconn *c)
{
    return conn_out(c->sk);
}

void lconn_pause(lconn *c, bool paused)
{
    if (c->sk)
        conn_read(c->sk, !paused);
}
