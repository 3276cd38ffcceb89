/* SPDX-License-Identifier: MIT */
/* local.c - local service connections and the keep-alive pool (see local.h). */
#include "local.h"

#include "tls.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

struct local_pool {
    conn_loop *loop;
    resolver *res;
    SSL_CTX *tls; /* borrowed: https:// local services; NULL for plain HTTP */
    char host[256];
    unsigned connect_timeout_ms;
    size_t read_ahead; /* conn_set_in_max of new connections */
    conn **idle;
    size_t nidle, max_idle;
    conn **linger; /* closed by their exchange, their last output still going out */
    size_t nlinger, linger_cap;
};

/* ---- idle connections in the pool ---- */

/* Frees k, which the n connections of set hold (the last one takes its place). */
static void set_remove(conn **set, size_t *n, conn *k)
{
    for (size_t i = 0; i < *n; i++) {
        if (set[i] == k) {
            set[i] = set[--*n];
            break;
        }
    }
    conn_free(k);
}

static void pool_remove(local_pool *p, conn *k)
{
    set_remove(p->idle, &p->nidle, k);
}

/* An idle connection that speaks or closes is useless (nothing may arrive on it). */
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

/* ---- connections closed with output still to go ----
 * An upgraded connection ends when both sides ended theirs; the client's last octets and its end
 * often come in one batch, and were dropped with the connection before the local service had
 * them. Such a connection stays here until its output and FIN are out, the service takes
 * nothing for LOCAL_LINGER_MS, or it fails; what it sends meanwhile is dropped. */
#define LOCAL_LINGER_MS 5000u

static void linger_remove(local_pool *p, conn *k)
{
    set_remove(p->linger, &p->nlinger, k);
}

static void linger_read(conn *k, void *ud)
{
    (void)ud;
    evbuffer_drain(conn_in(k), evbuffer_get_length(conn_in(k)));
}

static void linger_drain(conn *k, void *ud)
{
    if (conn_out_len(k) == 0)
        linger_remove(ud, k);
}

static void linger_event(conn *k, void *ud, int what)
{
    if (what & (CONN_EV_ERROR | CONN_EV_DEADLINE))
        linger_remove(ud, k);
}

static const conn_cbs linger_cbs = {linger_read, linger_drain, linger_event};

/* 0 when k lingers (the pool frees it), -1 without memory. */
static int linger_add(local_pool *p, conn *k)
{
    if (p->nlinger == p->linger_cap) {
        size_t cap = p->linger_cap ? 2 * p->linger_cap : 8;
        conn **a = realloc(p->linger, cap * sizeof(conn *));
        if (!a)
            return -1;
        p->linger = a;
        p->linger_cap = cap;
    }
    p->linger[p->nlinger++] = k;
    conn_set_cbs(k, &linger_cbs, p);
    conn_read(k, true);
    conn_set_deadline(k, LOCAL_LINGER_MS);
    return 0;
}

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

static void drop_addrs(lconn *c)
{
    resolve_addrs_unref(c->addrs);
    c->addrs = NULL;
}

static void on_event(conn *k, void *ud, int what)
{
    lconn *c = ud;
    if (what & CONN_EV_CONNECTED) {
        c->connected = true;
        drop_addrs(c); /* conn no longer walks the list */
        /* The kernel keeps at most LOCAL_UNSENT_MAX of request body that the local service has
         * not made room for: its writes then wake us as the service reads, a piece at a time,
         * instead of after a third of a send buffer autotuned to megabytes (a service reading an
         * upload at 150 KB/s moved nothing the tunnel could see for 9 s: 504 at ttf's and
         * ttfd's --request-timeout while it read). A fast service is not held back: on loopback
         * what it has room for is sent at once. Best effort (not a TCP socket: nothing). */
        conn_set_unsent_max(k, LOCAL_UNSENT_MAX);
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
        char buf[160];
        bool plain = !c->connected && conn_is_tls(k) && tls_error_plain_peer(conn_tls_error(k));
        snprintf(c->errmsg, sizeof c->errmsg, "%s%s", conn_strerror(k, buf, sizeof buf),
                 plain ? " (it does not speak TLS on this port: tunnel http://, not https://)"
                       : "");
        drop_addrs(c);
        c->cbs->on_event(c->ud, LOCAL_EV_ERROR);
    }
}

static const conn_cbs lconn_conn_cbs = {on_read, on_drain, on_event};

/* Fails an lconn that has no connection (resolution or socket failure), from the loop. */
static void fail_early(lconn *c, int err, const char *msg)
{
    c->failed = true;
    c->err = err;
    snprintf(c->errmsg, sizeof c->errmsg, "%s", msg);
    c->cbs->on_event(c->ud, LOCAL_EV_ERROR);
}

/* The addresses are known (or not): connect, and hand over what was written meanwhile. */
static void on_addrs(void *ud, resolve_addrs *addrs, const char *err)
{
    lconn *c = ud;
    c->resolving = false;
    if (!addrs) {
        fail_early(c, 0, err ? err : "cannot resolve the local host");
        return;
    }
    c->addrs = addrs;
    local_pool *p = c->pool;
    int e = 0;
    SSL *ssl = NULL;
    /* A local service's certificate is not verified (ngrok does not either: development servers
     * use self-signed ones); SNI names the host given. */
    if (p->tls && !(ssl = tls_client_ssl(p->tls, p->host, true))) {
        drop_addrs(c);
        fail_early(c, ENOMEM, "cannot set up TLS to the local service");
        return;
    }
    c->sk = conn_connect(p->loop, addrs->ai, ssl, p->connect_timeout_ms, &lconn_conn_cbs, c, &e);
    if (!c->sk) {
        drop_addrs(c);
        fail_early(c, e, strerror(e));
        return;
    }
    conn_set_in_max(c->sk, p->read_ahead);
    conn_set_out_low(c->sk, SIZE_MAX);
    /* an early answer (413 to an upload) is read whole even when the app then resets: the
     * exchange reads its local connection until the response ends or fails */
    conn_set_read_after_reset(c->sk, true);
    if (c->paused)
        conn_read(c->sk, false);
    evbuffer_add_buffer(conn_out(c->sk), c->early);
    if (c->shut)
        conn_shutdown(c->sk);
}

/* ---- pool ---- */

local_pool *local_pool_new(conn_loop *loop, const char *host, int port, SSL_CTX *tls,
                           size_t max_idle, unsigned connect_timeout_ms, char *err, size_t errcap)
{
    char hostbuf[256];
    bool dflt = !host;
    if (dflt)
        host = "127.0.0.1";
    /* Accept "[::1]" as well as "::1". */
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']' && hl - 2 < sizeof hostbuf) {
        memcpy(hostbuf, host + 1, hl - 2);
        hostbuf[hl - 2] = '\0';
        host = hostbuf;
    }
    local_pool *p = calloc(1, sizeof *p);
    if (p)
        p->idle = calloc(max_idle ? max_idle : 1, sizeof(conn *));
    if (p && p->idle)
        p->res = dflt ? resolver_new_default(conn_loop_base(loop), port)
                      : resolver_new(conn_loop_base(loop), host, port);
    if (!p || !p->idle || !p->res) {
        if (p)
            free(p->idle);
        free(p);
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    snprintf(p->host, sizeof p->host, "%s", host);
    p->loop = loop;
    p->tls = tls;
    p->max_idle = max_idle;
    p->connect_timeout_ms = connect_timeout_ms;
    p->read_ahead = LOCAL_IN_MAX;
    return p;
}

bool local_pool_tls(const local_pool *p)
{
    return p->tls != NULL;
}

void local_pool_set_read_ahead(local_pool *p, size_t bytes)
{
    p->read_ahead = bytes;
}

void local_pool_free(local_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nidle; i++)
        conn_free(p->idle[i]);
    free(p->idle);
    for (size_t i = 0; i < p->nlinger; i++)
        conn_free(p->linger[i]);
    free(p->linger);
    resolver_free(p->res);
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
        c->open = c->connected = c->reused = true;
        return 0;
    }
    c->early = evbuffer_new();
    if (!c->early || resolve_get(p->res, on_addrs, c) != 0) {
        if (c->early)
            evbuffer_free(c->early);
        c->early = NULL;
        c->err = ENOMEM;
        return -1;
    }
    c->open = c->resolving = true;
    return 0;
}

void lconn_close(lconn *c, bool reuse)
{
    if (!c->open)
        return;
    c->open = false;
    local_pool *p = c->pool;
    if (c->resolving)
        resolve_cancel(p->res, c);
    drop_addrs(c);
    if (c->early) {
        evbuffer_free(c->early);
        c->early = NULL;
    }
    conn *k = c->sk;
    c->sk = NULL;
    if (!k)
        return;
    if (reuse && c->connected && !c->eof && !c->failed && !c->shut && !conn_write_ended(k) &&
        p->nidle < p->max_idle && evbuffer_get_length(conn_in(k)) == 0 && conn_out_len(k) == 0) {
        /* Idle connections read too: any byte or EOF makes them useless. */
        conn_set_cbs(k, &idle_cbs, p);
        conn_read(k, true);
        p->idle[p->nidle++] = k;
        return;
    }
    if (c->shut && c->connected && !c->failed && conn_out_len(k) > 0 && !conn_write_ended(k) &&
        linger_add(p, k) == 0)
        return; /* its last octets and FIN go out first */
    conn_free(k);
}

struct evbuffer *lconn_in(const lconn *c)
{
    return conn_in(c->sk);
}

struct evbuffer *lconn_out(const lconn *c)
{
    return c->sk ? conn_out(c->sk) : c->early;
}

size_t lconn_pending(const lconn *c)
{
    if (c->sk)
        return conn_out_len(c->sk);
    return c->early ? evbuffer_get_length(c->early) : 0;
}

void lconn_pause(lconn *c, bool paused)
{
    c->paused = paused;
    if (c->sk)
        conn_read(c->sk, !paused);
}

void lconn_shutdown(lconn *c)
{
    c->shut = true;
    if (c->sk)
        conn_shutdown(c->sk);
}
