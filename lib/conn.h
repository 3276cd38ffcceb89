/* SPDX-License-Identifier: MIT */
/* conn.h - one connection over a non-blocking stream socket, plain or TLS, on a libevent loop:
 * the only code in ttfd and ttf that reads, writes, connects or handshakes a socket.
 *
 * Model: Redis (ae.c / networking.c: a pending-write list flushed once per loop pass before the
 * loop sleeps) and HAProxy (each connection owns its state).
 *
 * Loop. Every connection belongs to a conn_loop (one per event_base). The loop keeps ONE list of
 * connections with deferred work and runs it from ONE place, an event activated by the first
 * entry and run at the end of the loop pass: output added during the pass is written there with
 * one write(v) per connection (TLS: SSL_write of records as large as the bytes allow), and the
 * write event is armed only for what the socket did not take.
 *
 * Input. On readiness, one read of up to CONN_READ_MAX bytes (CONN_READ_BULK after a read that
 * filled its room) into conn_in() (plain: one read or readv, no FIONREAD ioctl; TLS: SSL_read until
 * that much or want-read, read-ahead on, so one read(2) fetches several records). Small reads land
 * in the loop's scratch buffer first, so an idle connection's input holds no large empty block; a
 * read that fills its room makes the next one go straight into the input buffer. Reading stops when
 * the owner says so (conn_read) and while the input holds in_max bytes or more (conn_set_in_max;
 * draining below resumes it).
 *
 * Output. Bytes added to conn_out() by any evbuffer call (or conn_write) go out at the end of the
 * pass, through TLS when the connection has it: callers never branch on TLS. Until a connect or
 * a TLS handshake completes, output waits.
 *
 * TLS. OpenSSL driven directly on the socket (no bufferevent_openssl): the handshake as a state
 * of the connection (want-read / want-write arm the matching event), SSL_MODE_ENABLE_PARTIAL_WRITE
 * and SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER (a write retried after want-write may start from moved
 * memory, never from fewer bytes), SSL_OP_IGNORE_UNEXPECTED_EOF (a peer that closes without
 * close_notify is an EOF, as for plain sockets), read-ahead, and buffers released while idle.
 *
 * Callbacks (conn_cbs). They run only from the event loop, never inside a conn_* call.
 *   on_read   new bytes in conn_in() (or buffered ones, after conn_trigger_read).
 *   on_drain  a write left conn_out() with out_low bytes or fewer (conn_set_out_low; 0 default).
 *   on_event  one of CONN_EV_*:
 *     CONNECTED  conn_connect: TCP connect and, with TLS, the handshake are done.
 *     EOF        the peer ended its side: no more input. Output may still be written (half-close).
 *     ERROR      the connection failed (conn_error, conn_tls_error, conn_strerror say why): it
 *                neither reads nor writes again. conn_connect reports a refusal or a timeout
 *                (ETIMEDOUT) this way.
 *     IDLE       no input for the idle time while reading was on (conn_set_idle); again after
 *                each further idle period. Input waiting unread when the time runs out (the
 *                process was stopped or starved) is read instead: not idle.
 *     DEADLINE   the time set with conn_set_deadline passed (once).
 *     RDHUP      with conn_watch_close on: the peer ended its side (FIN) while reading was off
 *                (conn_read off, or the input at in_max): nothing comes beyond what is buffered
 *                (conn_in) and queued (conn_queued_in). Once per connection; the EOF itself still
 *                comes after those bytes when reading resumes. A reset seen so is ERROR.
 *     STALLED    with conn_set_send_timeout: output waited that long and the peer took none of
 *                it (the owner decides: a server drops the connection).
 * Freeing: the owner may call conn_free at any time, inside any callback (of this connection or
 * another one) too; no callback of the connection follows it. After ERROR the owner should free.
 *
 * Owns: the socket (closed by conn_free), the SSL object handed to it, both buffers, its events.
 * conn_loop owns the pending list, the flush event and the read scratch buffer. */
#ifndef TUNNEL_CONN_H
#define TUNNEL_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

struct event_base;
struct evbuffer;
struct addrinfo;

typedef struct conn_loop conn_loop;
typedef struct conn conn;

/* Bytes read per readiness at most (one WebSocket DATA frame's worth and more). A read that fills
 * its room is followed by a second one, CONN_READ_BULK in all, and the next readiness reads that
 * much (a sender of 128 KiB plus frame headers per write, read 128 KiB at a time, left a few bytes
 * for a second loop pass, with its own wake-up, write and window credit): 512 KiB less
 * libevent's block header, so that a block for a whole read is a 512 KiB allocation (evbuffer
 * rounds a new block up to the next power of two). 512 KiB, not 256: ttf sends a 256 KiB read of
 * its local service as four DATA frames, 256 KiB and 80 bytes, which a 256 KiB read cut, leaving a
 * partial frame (a loop pass, a wake-up and a read of its own) at every batch (2026-11-30, binary
 * 100 MB downloads, 16 interleaved rounds: ttfd 30.2 -> 29.5 ms, ttf 38.5 -> 35.8 ms, curl 18.3 ->
 * 16.7 ms per 100 MB; ttfd 3.7 -> 3.3 sleeps per MB). TLS reads keep CONN_READ_BULK_TLS: OpenSSL
 * reads the socket 64 KiB at a time anyway (conn_tls.c), and a larger block is only memory. */
#define CONN_READ_MAX ((size_t)128 * 1024)
#define CONN_READ_BULK ((size_t)512 * 1024 - 256)
#define CONN_READ_BULK_TLS ((size_t)256 * 1024 - 256)

enum {
    CONN_EV_CONNECTED = 1 << 0,
    CONN_EV_EOF = 1 << 1,
    CONN_EV_ERROR = 1 << 2,
    CONN_EV_IDLE = 1 << 3,
    CONN_EV_DEADLINE = 1 << 4,
    CONN_EV_RDHUP = 1 << 5,
    CONN_EV_STALLED = 1 << 6,
};

typedef struct conn_cbs {
    void (*on_read)(conn *c, void *ud);
    void (*on_drain)(conn *c, void *ud); /* may be NULL */
    void (*on_event)(conn *c, void *ud, int what);
} conn_cbs;

/* ---- the process ---- */

/* Once per process, before the loop: SIGPIPE ignored (a write to a closed peer is an error
 * return, not a signal), and glibc's heap kept between loop passes (M_TRIM_THRESHOLD 4 MiB,
 * M_MMAP_THRESHOLD 1 MiB): a bulk transfer allocates and frees 64-256 KiB buffers every pass,
 * and a heap top trimmed each time is faulted back in page by page (measured over TLS: 220 ->
 * 150 ms of ttfd CPU per 100 MB). The thread's locale becomes glibc's static "C" object
 * (newlocale(LC_ALL_MASK, "C", 0)): the same C locale the program had, but json-c's parser,
 * which switches LC_NUMERIC to "C" around every text (duplocale, newlocale, uselocale,
 * freelocale), then copies and frees nothing (2,000 instructions a JSON message otherwise). */
void conn_process_init(void);

/* ---- the loop ---- */

/* An event_base for the program's loop: epoll with libevent's changelist, so that reading turned
 * off and on again within one loop pass (backpressure that clears in the same pass) costs no
 * epoll_ctl (measured in a binary 100 MB download: 24 epoll_ctl per MB in ttf before). Falls back
 * to event_base_new() where the flag is refused. NULL on failure. */
struct event_base *conn_base_new(void);

/* NULL on ENOMEM. */
conn_loop *conn_loop_new(struct event_base *base);
/* Frees the loop; every connection on it must be freed first. NULL is allowed. */
void conn_loop_free(conn_loop *l);
struct event_base *conn_loop_base(const conn_loop *l);
/* fn(ud) runs each time a connection of the loop closes its socket (from conn_free): a listener
 * that stopped accepting at EMFILE may try again. NULL fn: none. */
void conn_loop_on_release(conn_loop *l, void (*fn)(void *ud), void *ud);
/* Runs the pending list now (it also runs by itself at the end of every loop pass). */
void conn_loop_flush(conn_loop *l);
/* At most this many octets (CONN_TLS_AHEAD_MAX by default) decrypted ahead at TLS peers' FINs
 * (conn_queued_in) over all of l's connections at once: past it, a connection's queue stays
 * ciphertext, judged as before (an upper bound, no peek). The kernel held those octets under
 * its global limit (tcp_mem); decrypted, they are the process's, so they are bounded here. */
#define CONN_TLS_AHEAD_MAX ((size_t)64 << 20)
void conn_loop_set_tls_ahead_max(conn_loop *l, size_t bytes);

/* ---- creating ---- */

/* Wraps a connected (accepted) non-blocking socket. ssl: NULL for plain; else an SSL object the
 * connection takes over, whose server-side handshake runs first (failures come as ERROR).
 * Reading is on. NULL on ENOMEM (fd and ssl stay the caller's). */
conn *conn_new(conn_loop *l, int fd, SSL *ssl, const conn_cbs *cbs, void *ud);

/* Connects to the first address of addrs that accepts (a refused or failed TCP connect moves on
 * to the next; addrs must stay valid until CONNECTED or ERROR), then, when ssl is given (taken
 * over; SNI and verification already set, see tls_client_ssl), runs the client handshake.
 * timeout_ms > 0 bounds connect + handshake (ERROR with ETIMEDOUT). Output written meanwhile
 * waits. Reports CONNECTED or ERROR. NULL when no socket could be created (errno in *err).
 * On NULL, ssl is freed. */
conn *conn_connect(conn_loop *l, const struct addrinfo *addrs, SSL *ssl, unsigned timeout_ms,
                   const conn_cbs *cbs, void *ud, int *err);

/* Frees the connection now (socket closed, SSL freed, pending output dropped). NULL is allowed. */
void conn_free(conn *c);

/* Hands the connection to another owner: later callbacks go to cbs/ud. */
void conn_set_cbs(conn *c, const conn_cbs *cbs, void *ud);

/* ---- data ---- */

struct evbuffer *conn_in(const conn *c);
struct evbuffer *conn_out(const conn *c);
/* evbuffer_add to conn_out(c); -1 on ENOMEM. */
int conn_write(conn *c, const void *data, size_t len);
/* Bytes not yet taken by the socket (for TLS connections: plain text not yet encrypted plus
 * ciphertext in the write buffer). */
size_t conn_out_len(const conn *c);

/* Reading on or off (backpressure). On by default. */
void conn_read(conn *c, bool on);
/* Whether the owner has reading on (conn_read), whatever in_max, EOF or a handshake do. */
bool conn_reading(const conn *c);
/* How many reads brought input so far: a peer heard from between two looks when it changed. */
uint64_t conn_reads(const conn *c);
/* Calls on_read from the loop for the input already buffered (a pipelined request after the
 * previous one ended), without waiting for new bytes. */
void conn_trigger_read(conn *c);
/* Reading pauses while the input holds this many bytes or more (0: no limit, the default). */
void conn_set_in_max(conn *c, size_t bytes);
/* on_drain fires when a write leaves this many bytes or fewer in conn_out() (default 0). */
void conn_set_out_low(conn *c, size_t bytes);

/* Half-close: once conn_out() is written, no more output (TLS: close_notify, then the TCP FIN).
 * Input is still read; bytes added to conn_out() afterwards are dropped. */
void conn_shutdown(conn *c);

/* A write that fails because the peer reset (EPIPE, ECONNRESET) while bytes it sent are still
 * queued in our socket ends the write side alone, instead of ERROR at once: output is dropped
 * from then on (on_drain still reports room) and the owner reads those bytes at its own pace
 * (an early answer of any size to an upload the peer did not read, RFC 9112 §9.6); the reset
 * comes after them as ERROR. For owners that keep reading until they are done with the input
 * (an owner that stops reading but goes on writing would write into the void): off by default.
 * Plain sockets only; TLS connections fail at once. */
void conn_set_read_after_reset(conn *c, bool on);
/* Whether no more output can go: conn_shutdown's FIN was sent, or the write side ended as
 * above. */
bool conn_write_ended(const conn *c);

/* Watching for the peer's close while reading is off (off by default): a connection that does
 * not read (backpressure: a window shut, an input cap) notices neither the peer's FIN nor its
 * reset until it reads again. With the watch on, the FIN is reported as RDHUP and a reset as
 * ERROR (conn_error: ECONNRESET) as they come, whatever waits unread, as nginx notices a client
 * that leaves (EPOLLRDHUP; conn_watch.c). Bytes waiting are no close: RDHUP says only that the
 * peer sends no more, which a half-close (shutdown(SHUT_WR) after a whole request) says too;
 * the owner judges from what it still expects. Linux epoll; costs one epoll_ctl the first time
 * the connection stops reading. */
void conn_watch_close(conn *c, bool on);
/* Bytes received and not yet in conn_in(): queued in the socket (FIONREAD) and, for TLS, held by
 * the read BIO or OpenSSL (ciphertext counted as it is: an upper bound of the plain bytes). Once
 * RDHUP was reported for a TLS connection, what the peer sent before its end was decrypted then
 * (conn_tls.c, up to 16 MiB): they are counted exactly, as plain ones. */
size_t conn_queued_in(const conn *c);
/* A look at those queued octets without taking them (MSG_PEEK): up to cap of them into buf, in
 * order; 0 when none. TLS: after RDHUP, the octets decrypted then (all the peer sent); before,
 * or past 16 MiB, -1 (the queue holds ciphertext). -1 on an error. */
ssize_t conn_peek_queued(const conn *c, void *buf, size_t cap);

/* At most about this many octets wait unsent in the socket (TCP_NOTSENT_LOWAT); the rest stays
 * in conn_out(): a peer that does not read costs the kernel this instead of a send buffer grown
 * to 4 MiB. 0: the system's default again (net.ipv4.tcp_notsent_lowat). Not TCP: nothing. */
void conn_set_unsent_max(conn *c, size_t bytes);
/* Our octets in the socket that the peer has not taken (TCP: not acknowledged; a unix socket:
 * not read), SIOCOUTQ; SIZE_MAX when unknown. 0: a close now loses nothing of what was sent. */
size_t conn_unacked(const conn *c);
/* The receive window the peer advertises (TCP_INFO tcpi_snd_wnd, Linux 6.0+): a peer that does
 * not read closes it. SIZE_MAX when unknown (not TCP, an older kernel). */
size_t conn_peer_window(const conn *c);

/* ---- timers ---- */

/* IDLE after ms without input while reading is on (0: off). Restarts the period. */
void conn_set_idle(conn *c, unsigned ms);
/* DEADLINE once, ms from now (0: cancel). Replaces a connect timeout once connected. */
void conn_set_deadline(conn *c, unsigned ms);
/* STALLED once output waited ms and the peer took none of it: the socket took no octet and the
 * peer acknowledged (TCP) or read (unix) none of those it holds (SIOCOUTQ), checked every ms/2,
 * so reported between ms and 1.5 ms after its last progress (nginx's send_timeout is the write
 * event's timer too). 0: off (the default). */
void conn_set_send_timeout(conn *c, unsigned ms);

/* ---- state ---- */

bool conn_is_tls(const conn *c);
SSL *conn_ssl(const conn *c); /* NULL for plain connections */
/* Whether the TLS handshake is still under way (an accepted connection before its first
 * application data can be read; conn_set_deadline bounds it). */
bool conn_handshaking(const conn *c);
/* Whether that handshake is under way past the peer's first message (its ClientHello read, our
 * answer sent): the peer is in the middle of something, not idle (nginx keeps such connections
 * out of its reusable ones). */
bool conn_handshake_begun(const conn *c);
/* Whether an accepted TLS connection failed its handshake because the client spoke plain HTTP
 * (its first bytes are a token, a method, up to a space, a line end or the end of what came,
 * or OpenSSL said so): the server may answer with conn_tls_answer_plain before freeing it, as
 * nginx and Go's net/http do. */
bool conn_tls_plain_http(const conn *c);
/* Answers such a client in plain text: reads what it sent (so that the close sends a FIN, not a
 * reset that could destroy the answer), one non-blocking send of msg (len bytes), then shuts the
 * write side. Best effort on a socket that took nothing else; len 0 sends nothing. Returns the
 * bytes sent (0 or len). */
size_t conn_tls_answer_plain(conn *c, const char *msg, size_t len);
int conn_fd(const conn *c);
/* errno of the failure (0: none, or a TLS-level failure). */
int conn_error(const conn *c);
/* OpenSSL error code of a TLS failure (0: none); SSL_get_verify_result(conn_ssl(c)) tells a
 * certificate verification failure. */
unsigned long conn_tls_error(const conn *c);
/* A short reason for the failure ("connection refused", "TLS: certificate verify failed",
 * "closed during the TLS handshake"); buf holds it when needed. */
const char *conn_strerror(const conn *c, char *buf, size_t cap);

#endif
