/* SPDX-License-Identifier: MIT */
/* local.h - connections to the local service: its addresses (agent/resolve.h: never blocking
 * the loop, every address tried in order by lib/conn's connect), a keep-alive pool of idle
 * connections, and lconn, one connection in use by an exchange. The socket work (reads of up to
 * CONN_READ_MAX, output written once at the end of the loop pass, half-close) is lib/conn's.
 * An lconn can be written to at once: while the name resolves and the connect runs, its output
 * waits (lconn_out).
 * Owns: the pool owns its idle and lingering connections and the resolver; an lconn owns its
 * connection (and the output waiting for it) until lconn_close hands it back to the pool or frees
 * it. */
#ifndef TTF_LOCAL_H
#define TTF_LOCAL_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"
#include "resolve.h"

typedef struct local_pool local_pool;

/* Output below this mark counts as "handed to the local service" (window credit is returned). */
#define LOCAL_OUT_MARK ((size_t)64 * 1024)
/* Input read ahead of what the tunnel can take, per connection, and so the most one read of the
 * local service brings: 256 KiB, one batch of four DATA frames (one write to the link, one
 * wake-up of ttfd) where 128 KiB made two (2026-11-30, binary 100 MB downloads, 16 interleaved
 * rounds, with ttfd reading 512 KiB at a time (lib/conn.h): ttf 42.7 -> 35.8 ms per 100 MB,
 * 4.5 -> 3.2 sleeps per MB). What a slow client's connection holds doubles to 256 KiB. */
#define LOCAL_IN_MAX ((size_t)256 * 1024)
/* Request bytes the kernel holds unsent for a local service that has no room for them
 * (TCP_NOTSENT_LOWAT): the rest waits in the connection's output, where the tunnel's windows see
 * it, and the service's reading is noticed every half of this. 128 KiB cost binary uploads 40 %
 * more ttf CPU (36.2 -> 51.7 ms per 100 MB into bench/echo_server.c, medians of 25 interleaved
 * rounds; JSON 207 -> 216 ms), 512 KiB nothing measurable (36.9 and 214 ms); 1 MiB let a
 * service reading 160 KB/s go unnoticed for over 3 s again. */
#define LOCAL_UNSENT_MAX ((size_t)512 * 1024)

/* What on_event reports. */
#define LOCAL_EV_EOF 0x10
#define LOCAL_EV_ERROR 0x20

/* host: a name, an IPv4 or an IPv6 address (brackets allowed); resolution starts at once in the
 * background. NULL: no host was given, 127.0.0.1 then ::1 (resolver_new_default). tls (borrowed,
 * outliving the pool): connections speak TLS to the service (an https:// one), SNI set to host,
 * its certificate not verified; NULL: plain HTTP. max_idle bounds the pool; connect_timeout_ms
 * bounds one connect (all addresses, and the TLS handshake). NULL with a reason in err. */
local_pool *local_pool_new(conn_loop *loop, const char *host, int port, SSL_CTX *tls,
                           size_t max_idle, unsigned connect_timeout_ms, char *err, size_t errcap);
void local_pool_free(local_pool *p); /* closes the idle connections */
/* True when the pool's connections speak TLS (an https:// local service). */
bool local_pool_tls(const local_pool *p);
/* Input read ahead per connection, for connections made from now on (LOCAL_IN_MAX unless set):
 * also the most one read of the local service brings. */
void local_pool_set_read_ahead(local_pool *p, size_t bytes);

typedef struct lconn_cbs {
    void (*on_read)(void *ud);              /* input arrived */
    void (*on_write)(void *ud);             /* output written (every write; lconn_pending) */
    void (*on_event)(void *ud, short what); /* LOCAL_EV_EOF or LOCAL_EV_ERROR (err/errmsg say
                                               why) */
} lconn_cbs;

/* Callbacks come from the event loop only, never from inside an lconn_* call, and each is the
 * last thing the connection does: the owner may close it inside. */
typedef struct lconn {
    local_pool *pool;
    conn *sk;               /* NULL while resolving, and once closed */
    struct evbuffer *early; /* output written before the connection exists */
    resolve_addrs *addrs;   /* held while the connect walks the list */
    bool open;              /* between lconn_open and lconn_close */
    bool resolving;         /* waiting for the addresses */
    bool connected;         /* the TCP connect is done (reused connections: always) */
    bool reused;            /* taken from the pool */
    bool eof;               /* the local service ended its side */
    bool failed;            /* the connection failed */
    bool paused;            /* lconn_pause(true) */
    bool shut;              /* lconn_shutdown asked */
    int err;                /* errno of the last failure, 0 when unknown */
    char errmsg[200];       /* the failure in words (resolution, connect) */
    const lconn_cbs *cbs;
    void *ud;
} lconn;

/* Takes an idle connection (unless fresh) or starts a new one (resolve, then connect; the caller
 * may write at once). 0, or -1 (ENOMEM). A failure to reach the service comes as
 * LOCAL_EV_ERROR from the loop. */
int lconn_open(lconn *c, local_pool *p, const lconn_cbs *cbs, void *ud, bool fresh);
/* A reused connection that ended before any answer byte was probably closed by the local service
 * while idle (keep-alive race): a bodiless request may be sent again on a fresh one. */
static inline bool lconn_stale(const lconn *c, bool answered)
{
    return c->reused && !answered;
}
/* reuse: the exchange completed cleanly and the connection may serve another request. A
 * connection whose end was asked (lconn_shutdown) with output still unwritten stays with the pool
 * until that output and the FIN are out (at most 5 s; the pool frees it). */
void lconn_close(lconn *c, bool reuse);
/* The input (c->sk must be set: before the connection exists nothing was read). Draining it
 * below LOCAL_IN_MAX resumes reading. */
struct evbuffer *lconn_in(const lconn *c);
/* The output: bytes added go out at the end of the loop pass (or once connected). c->open. */
struct evbuffer *lconn_out(const lconn *c);
/* Output not yet taken by the socket. */
size_t lconn_pending(const lconn *c);
void lconn_pause(lconn *c, bool paused); /* stop / resume reading */
/* Half-close once the output is written (the local service sees the end of the request). */
void lconn_shutdown(lconn *c);

#endif
