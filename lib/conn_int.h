/* SPDX-License-Identifier: MIT */
/* conn_int.h - lib/conn's internals, shared by conn.c (the loop, the pending list, sockets,
 * callbacks), conn_tls.c (what OpenSSL does for a connection), conn_connect.c (the client
 * connect), conn_timer.c (the idle period, the connect timeout and the deadline) and
 * conn_watch.c (the peer's close while reading is off). Other modules use conn.h.
 * Owns nothing: it declares the structures conn.c allocates. */
#ifndef TUNNEL_CONN_INT_H
#define TUNNEL_CONN_INT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <openssl/ssl.h>

#include "clock.h"
#include "conn.h"

#define TLS_RECORD ((size_t)16 * 1024)     /* TLS plaintext record limit (RFC 8446 §5.1) */
#define TLS_WRITE_MAX ((size_t)256 * 1024) /* plaintext handed to one SSL_write */
/* Ciphertext read from the socket at once (conn_tls.c, "the read BIO"): 64 KiB, four records.
 * 128 KiB measured the same CPU per 100 MB (within 2 %) and 0.1-0.5 MB more peak RSS for ttf,
 * which is near its 16 MB target over TLS. */
#define TLS_READ_BUF ((size_t)64 * 1024)
/* Ciphertext gathered before it goes to the socket: records of 16 KiB leave in writes of up to
 * this size (one write() per record costs a system call and a TCP push each). */
#define TLS_WRITE_BUF ((size_t)144 * 1024)

typedef enum { CS_CONNECTING, CS_HANDSHAKE, CS_OPEN, CS_FAILED } conn_state;

/* Deferred work, run by the loop's flush. */
enum {
    PEND_WRITE = 1 << 0,   /* write the output */
    PEND_DELIVER = 1 << 1, /* on_read for buffered input (conn_trigger_read) */
    PEND_PULL = 1 << 2,    /* read what OpenSSL already holds, then deliver */
    PEND_FAIL = 1 << 3,    /* report the recorded failure */
    PEND_HUP = 1 << 4,     /* reading stopped after the peer's close was noted (conn_watch.c) */
};

enum { WANT_NONE, WANT_READ, WANT_WRITE };

struct conn_loop {
    struct event_base *base;
    struct event *flush_ev;
    conn *head, *tail;     /* connections with deferred work (pend != 0) */
    uint8_t *scratch;      /* CONN_READ_MAX bytes: small reads land here first */
    BIO_METHOD *rbio_meth; /* conn_tls.c's read BIO, made with the first TLS connection */
    void (*on_release)(void *ud);
    void *release_ud;
    struct event *watch_ev; /* conn_watch.c's epoll set, readable: made when first needed */
    int watch_fd;
    size_t tls_ahead_held; /* octets in all connections' tls_ahead (conn_tls.c) */
    size_t tls_ahead_max;  /* conn_loop_set_tls_ahead_max */
};

struct conn {
    conn_loop *loop;
    int fd;
    SSL *ssl;
    struct evbuffer *in, *out;
    struct evbuffer *tls_ahead; /* the peer's last octets, decrypted at its FIN (conn_tls.c) */
    struct event rd, wr;
    struct event *timer;  /* connect timeout, then the deadline (created when first needed) */
    uint64_t deadline_at; /* conn_set_deadline's time (clock_now_ms), 0: none */
    uint64_t timer_at;    /* the deadline the armed timer was set for (it may be earlier) */
    conn *prev, *next;    /* in the loop's pending list */
    const conn_cbs *cbs;
    void *ud;
    const struct addrinfo *next_addr; /* conn_connect: addresses still to try */
    size_t in_max, out_low;
    unsigned idle_ms;
    int err;
    int reset_err; /* errno of the write that ended the write side alone (end_write_side) */
    unsigned long tls_err;
    unsigned send_ms;     /* conn_set_send_timeout (0: off) */
    uint64_t writes;      /* writes that moved output */
    uint64_t reads;       /* reads that brought input (conn_reads) */
    uint64_t send_writes; /* the send timeout's last check (conn_timer.c): writes then, */
    size_t send_outq;     /* our octets the peer had not taken then (SIOCOUTQ; SIZE_MAX: none), */
    uint8_t send_idle;    /* and checks since that found no progress */
    int busy;
    unsigned pend;
    uint8_t state;
    uint8_t hs_want;     /* handshake: WANT_READ / WANT_WRITE */
    bool linked;         /* in the pending list */
    bool rd_on, wr_on;   /* events added */
    bool rd_idle;        /* rd added with the idle timeout */
    bool want_read;      /* the owner's conn_read */
    bool eof;            /* the peer ended its side */
    bool wr_blocked;     /* the socket did not take everything: wr armed */
    bool tls_w_wants_r;  /* SSL_write needs the socket readable */
    bool tls_r_wants_w;  /* SSL_read needs the socket writable */
    bool shut_wanted;    /* conn_shutdown */
    bool shut_done;      /* our FIN (and close_notify) sent, or the write side reset */
    bool keep_read;      /* conn_set_read_after_reset */
    bool tls_close_sent; /* SSL_shutdown wrote our close_notify (maybe still in the buffer) */
    bool tls_wbuf;       /* the write buffer BIO is attached (conn_tls.c) */
    bool tls_ahead_all;  /* tls_ahead holds all the peer sent: its end came after it */
    bool bulk;           /* the last read filled its room: read into the input buffer directly */
    bool client;         /* conn_connect: CONNECTED is reported */
    bool timer_connects; /* the timer is the connect timeout */
    bool in_cb;          /* evbuffer callback on the input (in_max) installed */
    bool dead;           /* conn_free was called while busy */
    bool watch;          /* conn_watch_close */
    bool watch_added;    /* in the loop's watch set (conn_watch.c) */
    bool peer_hup;       /* the watch saw the peer's FIN or reset */
    bool hup_told;       /* RDHUP reported */
};

/* The most one readiness reads (conn.h: CONN_READ_BULK, CONN_READ_BULK_TLS). */
static inline size_t conn_read_bulk(const conn *c)
{
    return c->ssl ? CONN_READ_BULK_TLS : CONN_READ_BULK;
}

/* ---- conn.c, for its siblings ---- */

/* A system call that failed with e may succeed later (the socket is full or empty, a signal). */
static inline bool conn_transient(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

/* Re-entrancy: every entry from the loop holds `busy`; conn_free inside a callback only marks the
 * connection dead, and the outermost conn_leave frees it. */
static inline void conn_enter(conn *c)
{
    c->busy++;
}

void conn_destroy(conn *c);

static inline void conn_leave(conn *c)
{
    if (--c->busy == 0 && c->dead)
        conn_destroy(c);
}

/* Records a failure (state FAILED, events off); the caller reports it. */
void conn_fail(conn *c, int err, unsigned long tls_err);
/* A connection with its buffers and callbacks, no socket yet; conn_destroy frees it now. */
conn *conn_alloc(conn_loop *l, const conn_cbs *cbs, void *ud);
/* Points the read and write events at fd (they must not be pending). 0 or -1. */
int conn_assign_fd(conn *c, int fd);
void conn_set_nodelay(int fd);
/* Adds or removes the read and write events to match the state. */
void conn_update_io(conn *c);
/* Queues deferred work (PEND_*) on the loop's pending list. */
void conn_schedule(conn *c, unsigned what);
/* Calls on_event; false when the owner freed the connection inside. */
bool conn_emit_event(conn *c, int what);
/* The connection is open (after connect or handshake): report it and start what waited. */
void conn_opened(conn *c);

/* ---- conn_timer.c ---- */

/* Creates the timer (connect timeout, deadline) when first needed. 0 or -1. */
int conn_ensure_timer(conn *c);
/* Adds the write event, with the send timeout's check period while open (conn_timer.c). */
void conn_send_watch(conn *c);
/* The write event's period passed without the socket taking output: true when the peer also
 * acknowledged nothing for the whole send timeout (STALLED is due). */
bool conn_send_stalled(conn *c);
/* The connect timeout is over (the connection opened, or a deadline replaces it). */
void conn_cancel_connect_timer(conn *c);

/* ---- conn_watch.c ---- */

/* Reading stopped on a watched connection: into the loop's watch set (once), or a close already
 * noted is reported from the loop. */
void conn_watch_paused(conn *c);
/* Reports the peer's close to the owner now, when reading is still off: a pending socket error
 * (the reset) fails the connection (ERROR), else RDHUP (once). */
void conn_watch_report(conn *c);
/* Out of the watch set (before the socket closes). */
void conn_watch_forget(conn *c);
void conn_watch_loop_free(conn_loop *l);

/* ---- conn_connect.c ---- */

/* The write event of a connecting socket fired: connected, refused (next address), or failed. */
void conn_connect_done(conn *c);

/* ---- conn_tls.c ---- */

/* Gives ssl c's socket (SSL_set_fd) and the read BIO over it. 0 or -1. */
int conn_tls_set_fd(conn *c, SSL *ssl);
/* The read BIO's method (conn_loop owns it: BIO_meth_free). NULL without memory. */
BIO_METHOD *conn_tls_rbio_method(void);
/* Bytes that wait for SSL_read and will not wake epoll: decrypted or read ahead by OpenSSL, or in
 * the read BIO. */
bool conn_tls_pending(const conn *c);
/* The input cap eased (drained below in_max, or raised): the events follow (conn_update_io), and
 * with TLS what OpenSSL or the read BIO already holds is read from the loop, since no readiness
 * will report it. */
void conn_resume_input(conn *c);
/* Modes and options every connection's SSL gets (partial writes, moving write buffer, buffers
 * released while idle, an EOF without close_notify read as an EOF, read-ahead). */
void conn_tls_setup(SSL *ssl);
/* Ciphertext waiting in the write buffer (0 without TLS). */
size_t conn_tls_wpending(const conn *c);
/* Records the failure of an SSL call (errno for SSL_ERROR_SYSCALL, else OpenSSL's code). */
void conn_tls_fail(conn *c, int ssl_err);
/* SSL_read into the nv extents of v until they are full or OpenSSL wants more bytes. Returns the
 * bytes read; *eof at the peer's close_notify (or a bare EOF); sets tls_r_wants_w or fails c. */
size_t conn_tls_read(conn *c, struct evbuffer_iovec *v, int nv, bool *eof);
/* c->out through SSL_write. Returns the bytes the output lost: the plaintext bytes taken or,
 * when there was none left, the buffered ciphertext written (both are progress for on_drain);
 * sets wr_blocked or tls_w_wants_r when the socket or the TLS layer needs to wait, or fails c. */
size_t conn_tls_write(conn *c);
/* The peer ended its side (its FIN seen while reading is off): what it sent before is all in the
 * socket and the read BIO, and is decrypted into c->tls_ahead (TLS_AHEAD_MAX octets at most), so
 * that conn_queued_in counts plain octets and conn_peek_queued shows them as for a plain socket;
 * reading hands them out first. Once per connection; a TLS failure in them fails c. */
void conn_tls_read_ahead(conn *c);
/* Sends close_notify. true once it is out (or cannot be: the FIN may follow anyway), false when
 * it waits for room in the socket (wr_blocked set). */
bool conn_tls_shutdown(conn *c);
/* One TLS handshake step, and its report when it ends (conn_opened, or ERROR). */
void conn_handshake(conn *c);
/* One handshake step: 1 done, 0 waiting (hs_want says for what), -1 failed (recorded). */
int conn_tls_handshake(conn *c);
/* The reason of a TLS failure, in buf. */
const char *conn_tls_reason(const conn *c, char *buf, size_t cap);

#endif
