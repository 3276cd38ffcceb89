/* SPDX-License-Identifier: MIT */
/* conn_fixture.h - the fixture shared by test_conn.c and test_conn_tls.c: two conn sides with
 * recording callbacks, two self-signed test certificates (group_setup, cert_fixture.h), socketpair
 * and loopback TCP pairs (plain or TLS), loop drivers with deadlines, and the
 * transfer/backpressure/half-close scenarios both files run. Compiled once in the unit tests'
 * support library (conn_fixture.c). */
#ifndef TTF_TEST_CONN_FIXTURE_H
#define TTF_TEST_CONN_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "cert_fixture.h"
#include "clock.h"
#include "conn.h"

/* Every wait's deadline. It only bounds a hang (a wait that ends sooner costs nothing): a machine
 * under load, ctest's three slots a core beside other suites, stretches the waits, and 10 s was
 * passed once under double load (test_conn_watch). Doubled in sanitizer builds, as the e2e tests'
 * TUNNEL_TEST_SLOW is (tests/e2e/tunnelkit.py). */
#ifdef __SANITIZE_ADDRESS__
#define WAIT_MS 120000
#else
#define WAIT_MS 60000
#endif

typedef struct side {
    conn *c;
    struct evbuffer *got; /* every byte read */
    int events;           /* CONN_EV_* seen */
    int drains;
    int reads;
    bool keep_input;    /* leave the input in conn_in (backpressure tests) */
    bool free_on_read;  /* conn_free(c) inside on_read */
    bool free_on_event; /* conn_free(c) inside on_event */
    bool free_on_drain; /* conn_free(c) inside on_drain */
    conn **free_other;  /* conn_free(*free_other) inside on_read */
    size_t max_in_seen; /* largest conn_in length seen in on_read */
} side;

typedef struct fixture {
    struct event_base *base;
    conn_loop *loop;
    struct event *tick;
    side a, b;
    SSL_CTX *srv_ctx, *cli_ctx, *other_ctx;
} fixture;

/* ---- callbacks ---- */

void on_read(conn *c, void *ud);

void on_drain(conn *c, void *ud);

void on_event(conn *c, void *ud, int what);

extern const conn_cbs CBS;

/* ---- fixture ---- */

void tick_cb(evutil_socket_t fd, short w, void *ud);

extern EVP_PKEY *g_key;
extern X509 *g_cert, *g_other_cert;
extern EVP_PKEY *g_other_key;

int group_setup(void **state);

int group_teardown(void **state);

/* A client context trusting trusted (the test certificate or another one). */
SSL_CTX *client_ctx(X509 *trusted);

int setup(void **state);

int teardown(void **state);

typedef bool (*pred_fn)(fixture *f);

/* Runs the loop until pred holds; fails the test at the deadline. */
void run_until(fixture *f, pred_fn pred);

/* Runs the loop for ms (for "nothing happens" checks). */
void run_for(fixture *f, unsigned ms);

void nonblock(int fd);

/* A plain pair over a socketpair. */
void plain_pair(fixture *f);

/* A listening TCP socket on 127.0.0.1; its address in *ai (static storage). */
int listener(struct addrinfo *ai, struct sockaddr_in *sin);

bool a_connected(fixture *f);

/* A pair over loopback TCP: a connects (conn_connect, TLS when tls), b is accepted. */
void tcp_pair(fixture *f, bool tls, SSL_CTX *cli);

/* A raw TCP socket (returned; the test closes it) connected over loopback to b, a plain conn on
 * the accepted socket. peer_rcvbuf, b_rcvbuf: the two ends' SO_RCVBUF in bytes, set before the
 * connection is made (0: the default). */
int raw_peer(fixture *f, int peer_rcvbuf, int b_rcvbuf);

/* Closes a raw socket with a reset (SO_LINGER 0): an RST, not a FIN. */
void reset_close(int fd);

void fill_pattern(uint8_t *p, size_t n, unsigned seed);

void check_pattern(struct evbuffer *b, size_t n, unsigned seed);

/* ---- conditions ---- */

extern size_t g_want;
bool b_got_want(fixture *f);
bool a_got_want(fixture *f);
bool b_eof(fixture *f);
bool a_eof(fixture *f);
bool b_error(fixture *f);
bool a_idle(fixture *f);
bool a_deadline(fixture *f);
bool a_freed(fixture *f);
bool b_freed(fixture *f);
bool b_read_once(fixture *f);

/* 8 MB one way through small socket buffers: partial writes, the write event, on_drain. */
void big_transfer(fixture *f);

/* Reading off: the sender's output backs up; reading on again delivers everything. */
void backpressure(fixture *f);

/* conn_shutdown: the peer reads everything, then EOF; it may still answer (half-close). */
void half_close(fixture *f);

/* conn_set_in_max(b, 10000) while a sends n bytes of pattern seed: b's input never holds more;
 * consuming it (as an owner would later on) resumes reading, and every byte arrives. */
void in_max(fixture *f, size_t n, unsigned seed);

#endif
