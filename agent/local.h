/* SPDX-License-Identifier: MIT */
/* local.h - connections to the local service: one resolved address list, a keep-alive pool of
 * idle connections, and lconn, a connection that falls back to the next address when a fresh
 * connect is refused.
 * The sockets are driven directly rather than through bufferevents (this is the hot path of
 * every request): input is read with one readv of up to LOCAL_READ_MAX bytes per readiness
 * event, and output added during a loop pass is written once at its end, the write event being
 * armed only for what the socket did not take.
 * Owns: the pool owns its idle sockets and the flush event; an lconn owns its socket until
 * lconn_close hands it back to the pool or closes it. */
#ifndef TTF_LOCAL_H
#define TTF_LOCAL_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;

typedef struct local_pool local_pool;
typedef struct lsock lsock;

/* Output below this mark counts as "handed to the local service" (window credit is returned). */
#define LOCAL_OUT_MARK ((size_t)64 * 1024)
/* Input read ahead of what the tunnel can take, per connection. */
#define LOCAL_IN_MAX ((size_t)128 * 1024)
/* At most this much is read per readiness event (one DATA frame's worth). */
#define LOCAL_READ_MAX ((size_t)64 * 1024)

/* What on_event reports (the values of libevent's BEV_EVENT_*). */
#define LOCAL_EV_READING 0x01
#define LOCAL_EV_WRITING 0x02
#define LOCAL_EV_EOF 0x10
#define LOCAL_EV_ERROR 0x20

/* Resolves host:port once. NULL with a reason in err. max_idle bounds the pool. */
local_pool *local_pool_new(struct event_base *base, const char *host, int port, size_t max_idle,
                           char *err, size_t errcap);
void local_pool_free(local_pool *p); /* closes the idle connections */
size_t local_pool_idle(const local_pool *p);

typedef struct lconn_cbs {
    void (*on_read)(void *ud);              /* input arrived */
    void (*on_write)(void *ud);             /* output written, LOCAL_OUT_MARK or less left */
    void (*on_event)(void *ud, short what); /* LOCAL_EV_EOF / LOCAL_EV_ERROR (|READING/WRITING) */
} lconn_cbs;

/* Callbacks come from the event loop only, never from inside an lconn_* call, and each is the
 * last thing the connection does: the owner may close it inside. */
typedef struct lconn {
    local_pool *pool;
    lsock *sk; /* NULL when closed */
    size_t addr_idx;
    bool connected;
    bool reused;
    int err; /* errno of the last failure, 0 when unknown */
    const lconn_cbs *cbs;
    void *ud;
} lconn;

/* Takes an idle connection (unless fresh) or starts a new one (the caller may write at once;
 * bytes wait for the connect). 0, or -1 with c->err set. */
int lconn_open(lconn *c, local_pool *p, const lconn_cbs *cbs, void *ud, bool fresh);
/* A reused connection that ended before any answer byte was probably closed by the local service
 * while idle (keep-alive race): a bodiless request may be sent again on a fresh one. */
static inline bool lconn_stale(const lconn *c, bool answered)
{
    return c->reused && !answered;
}
/* reuse: the exchange completed cleanly and the connection may serve another request. */
void lconn_close(lconn *c, bool reuse);
/* The connection's buffers (c->sk must be set). Bytes added to the output go out at the end of
 * the loop pass; draining the input below LOCAL_IN_MAX resumes reading. */
struct evbuffer *lconn_in(const lconn *c);
struct evbuffer *lconn_out(const lconn *c);
void lconn_pause(lconn *c, bool paused); /* stop / resume reading */

#endif
