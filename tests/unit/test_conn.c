/* SPDX-License-Identifier: MIT */
/* test_conn.c - lib/conn over socketpairs and loopback TCP, plain and TLS (a certificate made
 * here): output waits for the end of the loop pass, large transfers with partial writes,
 * backpressure (conn_read, in_max), EOF and half-close, write errors, freeing from inside
 * callbacks (itself and another connection), idle and deadline timers, trigger_read, connect
 * (refusal, fallback to the next address, timeout), TLS handshake failures. */
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

#include "clock.h"
#include "conn.h"

#define WAIT_MS 10000 /* every wait has this deadline */

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

static void on_read(conn *c, void *ud)
{
    side *s = ud;
    s->reads++;
    size_t n = evbuffer_get_length(conn_in(c));
    if (n > s->max_in_seen)
        s->max_in_seen = n;
    if (!s->keep_input)
        evbuffer_add_buffer(s->got, conn_in(c));
    if (s->free_on_read) {
        conn_free(c);
        s->c = NULL;
    }
}

static void on_drain(conn *c, void *ud)
{
    side *s = ud;
    s->drains++;
    if (s->free_other && *s->free_other) {
        conn_free(*s->free_other);
        *s->free_other = NULL;
    }
    if (s->free_on_drain) {
        conn_free(c);
        s->c = NULL;
    }
}

static void on_event(conn *c, void *ud, int what)
{
    side *s = ud;
    s->events |= what;
    if (s->free_on_event) {
        conn_free(c);
        s->c = NULL;
    }
}

static const conn_cbs CBS = {on_read, on_drain, on_event};

/* ---- fixture ---- */

static void tick_cb(evutil_socket_t fd, short w, void *ud)
{
    (void)fd;
    (void)w;
    (void)ud; /* wakes the loop so run_until checks its condition and deadline */
}

static EVP_PKEY *g_key;
static X509 *g_cert, *g_other_cert;
static EVP_PKEY *g_other_key;

static X509 *self_signed(EVP_PKEY *key, const char *cn)
{
    X509 *c = X509_new();
    assert_non_null(c);
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), 1);
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), 3600);
    X509_set_pubkey(c, key);
    X509_NAME *name = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(c, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, c, c, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
    assert_non_null(ext);
    X509_add_ext(c, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(c, key, EVP_sha256()) > 0);
    return c;
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    g_key = EVP_EC_gen("P-256");
    g_other_key = EVP_EC_gen("P-256");
    g_cert = self_signed(g_key, "conn test");
    g_other_cert = self_signed(g_other_key, "someone else");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    X509_free(g_cert);
    X509_free(g_other_cert);
    EVP_PKEY_free(g_key);
    EVP_PKEY_free(g_other_key);
    return 0;
}

/* A client context trusting trusted (the test certificate or another one). */
static SSL_CTX *client_ctx(X509 *trusted)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), trusted);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->base = event_base_new();
    f->loop = conn_loop_new(f->base);
    assert_non_null(f->loop);
    f->tick = event_new(f->base, -1, EV_PERSIST, tick_cb, NULL);
    struct timeval tv = {0, 10000};
    event_add(f->tick, &tv);
    f->a.got = evbuffer_new();
    f->b.got = evbuffer_new();
    f->srv_ctx = SSL_CTX_new(TLS_server_method());
    assert_int_equal(SSL_CTX_use_certificate(f->srv_ctx, g_cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(f->srv_ctx, g_key), 1);
    f->cli_ctx = client_ctx(g_cert);
    f->other_ctx = client_ctx(g_other_cert);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    conn_free(f->a.c);
    conn_free(f->b.c);
    evbuffer_free(f->a.got);
    evbuffer_free(f->b.got);
    event_free(f->tick);
    conn_loop_free(f->loop);
    event_base_free(f->base);
    SSL_CTX_free(f->srv_ctx);
    SSL_CTX_free(f->cli_ctx);
    SSL_CTX_free(f->other_ctx);
    free(f);
    return 0;
}

typedef bool (*pred_fn)(fixture *f);

/* Runs the loop until pred holds; fails the test at the deadline. */
static void run_until(fixture *f, pred_fn pred)
{
    uint64_t end = clock_now_ms() + WAIT_MS;
    while (!pred(f)) {
        assert_true(clock_now_ms() < end);
        event_base_loop(f->base, EVLOOP_ONCE);
    }
}

/* Runs the loop for ms (for "nothing happens" checks). */
static void run_for(fixture *f, unsigned ms)
{
    uint64_t end = clock_now_ms() + ms;
    while (clock_now_ms() < end)
        event_base_loop(f->base, EVLOOP_ONCE);
}

static void nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* A plain pair over a socketpair. */
static void plain_pair(fixture *f)
{
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    nonblock(fds[0]);
    nonblock(fds[1]);
    f->a.c = conn_new(f->loop, fds[0], NULL, &CBS, &f->a);
    f->b.c = conn_new(f->loop, fds[1], NULL, &CBS, &f->b);
    assert_non_null(f->a.c);
    assert_non_null(f->b.c);
}

/* A listening TCP socket on 127.0.0.1; its address in *ai (static storage). */
static int listener(struct addrinfo *ai, struct sockaddr_in *sin)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)sin, sizeof *sin), 0);
    assert_int_equal(listen(fd, 16), 0);
    socklen_t len = sizeof *sin;
    getsockname(fd, (struct sockaddr *)sin, &len);
    memset(ai, 0, sizeof *ai);
    ai->ai_family = AF_INET;
    ai->ai_socktype = SOCK_STREAM;
    ai->ai_addr = (struct sockaddr *)sin;
    ai->ai_addrlen = sizeof *sin;
    return fd;
}

static bool a_connected(fixture *f)
{
    return (f->a.events & (CONN_EV_CONNECTED | CONN_EV_ERROR)) != 0;
}

/* A pair over loopback TCP: a connects (conn_connect, TLS when tls), b is accepted. */
static void tcp_pair(fixture *f, bool tls, SSL_CTX *cli)
{
    struct addrinfo ai;
    struct sockaddr_in sin;
    int lfd = listener(&ai, &sin);
    int err = 0;
    SSL *cssl = tls ? SSL_new(cli) : NULL;
    f->a.c = conn_connect(f->loop, &ai, cssl, 5000, &CBS, &f->a, &err);
    assert_non_null(f->a.c);
    int sfd = accept(lfd, NULL, NULL);
    assert_true(sfd >= 0);
    close(lfd);
    nonblock(sfd);
    f->b.c = conn_new(f->loop, sfd, tls ? SSL_new(f->srv_ctx) : NULL, &CBS, &f->b);
    assert_non_null(f->b.c);
}

static void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((i * 31 + seed) % 251);
}

static void check_pattern(struct evbuffer *b, size_t n, unsigned seed)
{
    assert_int_equal(evbuffer_get_length(b), n);
    const uint8_t *p = evbuffer_pullup(b, -1);
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)((i * 31 + seed) % 251))
            fail_msg("byte %zu differs", i);
}

/* ---- conditions ---- */

static size_t g_want;
static bool b_got_want(fixture *f)
{
    return evbuffer_get_length(f->b.got) >= g_want;
}
static bool a_got_want(fixture *f)
{
    return evbuffer_get_length(f->a.got) >= g_want;
}
static bool b_eof(fixture *f)
{
    return (f->b.events & (CONN_EV_EOF | CONN_EV_ERROR)) != 0;
}
static bool a_eof(fixture *f)
{
    return (f->a.events & (CONN_EV_EOF | CONN_EV_ERROR)) != 0;
}
static bool b_error(fixture *f)
{
    return (f->b.events & CONN_EV_ERROR) != 0;
}
static bool a_idle(fixture *f)
{
    return (f->a.events & CONN_EV_IDLE) != 0;
}
static bool a_deadline(fixture *f)
{
    return (f->a.events & CONN_EV_DEADLINE) != 0;
}
static bool a_freed(fixture *f)
{
    return f->a.c == NULL;
}
static bool b_freed(fixture *f)
{
    return f->b.c == NULL;
}
static bool b_read_once(fixture *f)
{
    return f->b.reads > 0;
}

/* ---- tests ---- */

static void test_output_waits_for_end_of_pass(void **state)
{
    fixture *f = *state;
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    nonblock(fds[0]);
    nonblock(fds[1]);
    f->a.c = conn_new(f->loop, fds[0], NULL, &CBS, &f->a);
    conn_write(f->a.c, "hello ", 6);
    evbuffer_add_printf(conn_out(f->a.c), "world");
    char buf[64];
    assert_int_equal(read(fds[1], buf, sizeof buf), -1); /* nothing written yet */
    assert_int_equal(errno, EAGAIN);
    conn_loop_flush(f->loop); /* what the end of the pass does */
    ssize_t n = read(fds[1], buf, sizeof buf);
    assert_int_equal(n, 11); /* both pieces in one write */
    assert_memory_equal(buf, "hello world", 11);
    assert_int_equal(conn_out_len(f->a.c), 0);
    close(fds[1]);
}

/* 8 MB one way through small socket buffers: partial writes, the write event, on_drain. */
static void big_transfer(fixture *f)
{
    size_t n = (size_t)1 << 20;
    uint8_t *data = malloc(n);
    fill_pattern(data, n, 7);
    conn_write(f->a.c, data, n);
    free(data);
    g_want = n;
    run_until(f, b_got_want);
    check_pattern(f->b.got, n, 7);
    assert_true(f->a.drains >= 1);
    assert_int_equal(conn_out_len(f->a.c), 0);
}

static void test_big_transfer_plain(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    int small = 4096;
    setsockopt(conn_fd(f->a.c), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    big_transfer(f);
}

static void test_big_transfer_tls(void **state)
{
    fixture *f = *state;
    tcp_pair(f, true, f->cli_ctx);
    big_transfer(f);
    assert_true(f->a.events & CONN_EV_CONNECTED);
    assert_true(conn_is_tls(f->a.c) && conn_is_tls(f->b.c));
    /* the write buffer that gathered the records is gone once empty: an idle connection keeps
     * no 128 KiB buffer */
    assert_int_equal(BIO_method_type(SSL_get_wbio(conn_ssl(f->a.c))), BIO_TYPE_SOCKET);
    assert_int_equal(BIO_method_type(SSL_get_wbio(conn_ssl(f->b.c))), BIO_TYPE_SOCKET);
}

/* Reading off: the sender's output backs up; reading on again delivers everything. */
static void backpressure(fixture *f)
{
    conn_read(f->b.c, false);
    assert_false(conn_reading(f->b.c));
    size_t n = (size_t)16 << 20;
    uint8_t *data = malloc(n);
    fill_pattern(data, n, 3);
    conn_write(f->a.c, data, n);
    free(data);
    run_for(f, 300);
    assert_int_equal(evbuffer_get_length(f->b.got), 0);
    assert_true(conn_out_len(f->a.c) > 0); /* the socket buffers are full */
    conn_read(f->b.c, true);
    g_want = n;
    run_until(f, b_got_want);
    check_pattern(f->b.got, n, 3);
}

static void test_backpressure_plain(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    backpressure(f);
}

static void test_backpressure_tls(void **state)
{
    fixture *f = *state;
    tcp_pair(f, true, f->cli_ctx);
    backpressure(f);
}

/* in_max: the input never holds more; consuming it resumes reading. */
static void test_in_max(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    f->b.keep_input = true;
    conn_set_in_max(f->b.c, 10000);
    size_t n = 200000;
    uint8_t *data = malloc(n);
    fill_pattern(data, n, 5);
    conn_write(f->a.c, data, n);
    free(data);
    run_until(f, b_read_once);
    run_for(f, 100);
    assert_int_equal(evbuffer_get_length(conn_in(f->b.c)), 10000);
    /* the test drains the input as an owner would later on: reading resumes */
    f->b.keep_input = false;
    evbuffer_add_buffer(f->b.got, conn_in(f->b.c));
    g_want = n;
    run_until(f, b_got_want);
    check_pattern(f->b.got, n, 5);
    assert_true(f->b.max_in_seen <= 10000);
}

/* conn_shutdown: the peer reads everything, then EOF; it may still answer (half-close). */
static void half_close(fixture *f)
{
    conn_write(f->a.c, "request", 7);
    conn_shutdown(f->a.c);
    g_want = 7;
    run_until(f, b_eof);
    assert_true(f->b.events & CONN_EV_EOF);
    assert_false(f->b.events & CONN_EV_ERROR);
    assert_int_equal(evbuffer_get_length(f->b.got), 7);
    conn_write(f->b.c, "answer", 6);
    conn_shutdown(f->b.c);
    g_want = 6;
    run_until(f, a_got_want);
    run_until(f, a_eof);
    assert_true(f->a.events & CONN_EV_EOF);
    assert_memory_equal(evbuffer_pullup(f->a.got, -1), "answer", 6);
}

static void test_half_close_plain(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    half_close(f);
}

static void test_half_close_tls(void **state)
{
    fixture *f = *state;
    tcp_pair(f, true, f->cli_ctx);
    half_close(f);
}

/* A shutdown behind output the peer is not reading yet, with TLS: the socket is full and the
 * last records wait in the write buffer while the plain-text output is empty. The output is not
 * empty (conn_out_len counts them), and close_notify and the FIN leave after the last byte. */
static void test_shutdown_behind_buffered_ciphertext_tls(void **state)
{
    fixture *f = *state;
    tcp_pair(f, true, f->cli_ctx);
    conn_read(f->b.c, false);
    size_t cap = (size_t)64 << 20, n = 0;
    uint8_t *data = malloc(cap);
    fill_pattern(data, cap, 7);
    /* 64 KiB at a time, each once the previous one is out of the process: a piece always fits
     * the empty write buffer, so when the socket stops taking bytes the plain-text output is
     * empty and the rest of the piece waits as ciphertext in the buffer */
    bool seen = false;
    for (int i = 0; i < 4000 && n + ((size_t)64 << 10) <= cap; i++) {
        size_t out = conn_out_len(f->a.c), plain = evbuffer_get_length(conn_out(f->a.c));
        if (out > 0 && plain == 0) {
            seen = true;
            break;
        }
        if (out == 0) {
            conn_write(f->a.c, data + n, (size_t)64 << 10);
            n += (size_t)64 << 10;
        }
        run_for(f, 5);
    }
    assert_true(seen);
    free(data);
    conn_shutdown(f->a.c);
    run_for(f, 100);
    conn_read(f->b.c, true);
    g_want = n;
    run_until(f, b_eof);
    assert_false(f->b.events & CONN_EV_ERROR);
    assert_int_equal(conn_out_len(f->a.c), 0);
    check_pattern(f->b.got, n, 7);
}

/* A peer that closes without a word (plain close, or no close_notify with TLS) is an EOF. */
static void test_dirty_close_is_eof_tls(void **state)
{
    fixture *f = *state;
    tcp_pair(f, true, f->cli_ctx);
    conn_write(f->a.c, "x", 1);
    g_want = 1;
    run_until(f, b_got_want);
    shutdown(conn_fd(f->a.c), SHUT_RDWR); /* under OpenSSL: no close_notify */
    run_until(f, b_eof);
    assert_true(f->b.events & CONN_EV_EOF);
}

static void test_write_error(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    conn_free(f->b.c);
    f->b.c = NULL;
    conn_write(f->a.c, "into the void", 13);
    run_until(f, a_eof);
    assert_true(f->a.events & CONN_EV_ERROR);
    assert_int_equal(conn_error(f->a.c), EPIPE);
    char buf[64];
    assert_non_null(strstr(conn_strerror(f->a.c, buf, sizeof buf), "pipe"));
}

static void test_free_inside_on_read(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    f->b.free_on_read = true;
    conn_write(f->a.c, "bye", 3);
    run_until(f, b_read_once);
    assert_null(f->b.c);
    /* the other end sees the socket closed */
    run_until(f, a_eof);
}

static void test_free_inside_on_drain(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    f->a.free_on_drain = true;
    conn_write(f->a.c, "data", 4);
    run_until(f, a_freed);
    g_want = 4;
    run_until(f, b_got_want);
    run_until(f, b_eof);
}

static void test_free_inside_on_event(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    f->a.free_on_event = true;
    conn_free(f->b.c);
    f->b.c = NULL;
    run_until(f, a_freed);
    assert_true(f->a.events & CONN_EV_EOF);
}

/* Freeing another connection that waits on the pending list, from a callback that runs earlier
 * in the same flush: the flush goes on without it, and its output is never written. */
static void test_free_other_pending(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    nonblock(fds[0]);
    side third = {.got = evbuffer_new()};
    conn *c3 = conn_new(f->loop, fds[0], NULL, &CBS, &third);
    conn_write(f->a.c, "go", 2);      /* a is first on the pending list */
    conn_write(c3, "never sent", 10); /* c3 after it */
    f->a.free_other = &c3;            /* a's on_drain frees c3 */
    conn_loop_flush(f->loop);
    assert_null(c3);
    assert_int_equal(f->a.drains, 1);
    char buf[16];
    assert_int_equal(read(fds[1], buf, sizeof buf), 0); /* closed, nothing written */
    g_want = 2;
    run_until(f, b_got_want);
    close(fds[1]);
    evbuffer_free(third.got);
}

static void test_idle_timer(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    conn_set_idle(f->a.c, 50);
    run_until(f, a_idle);
    /* reading off: no idle report */
    f->a.events = 0;
    conn_read(f->a.c, false);
    run_for(f, 200);
    assert_false(f->a.events & CONN_EV_IDLE);
    /* input keeps it from firing */
    conn_read(f->a.c, true);
    conn_set_idle(f->a.c, 300);
    for (int i = 0; i < 6; i++) {
        conn_write(f->b.c, "k", 1);
        run_for(f, 100);
    }
    assert_false(f->a.events & CONN_EV_IDLE);
    run_until(f, a_idle);
}

static void test_deadline(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    conn_set_deadline(f->a.c, 50);
    run_until(f, a_deadline);
    f->a.events = 0;
    conn_set_deadline(f->a.c, 50);
    conn_set_deadline(f->a.c, 0); /* cancelled */
    run_for(f, 200);
    assert_false(f->a.events & CONN_EV_DEADLINE);
}

static void test_trigger_read(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    f->b.keep_input = true;
    conn_write(f->a.c, "two requests", 12);
    run_until(f, b_read_once);
    conn_read(f->b.c, false);
    int before = f->b.reads;
    run_for(f, 50);
    assert_int_equal(f->b.reads, before);
    f->b.keep_input = false;
    conn_trigger_read(f->b.c);            /* buffered input, no new bytes */
    assert_int_equal(f->b.reads, before); /* never inside the call */
    run_until(f, b_got_want);
    assert_int_equal(f->b.reads, before + 1);
    assert_int_equal(evbuffer_get_length(f->b.got), 12);
}

static void test_connect_refused(void **state)
{
    fixture *f = *state;
    struct addrinfo ai;
    struct sockaddr_in sin;
    int lfd = listener(&ai, &sin);
    close(lfd); /* nobody listens there now */
    int err = 0;
    f->a.c = conn_connect(f->loop, &ai, NULL, 5000, &CBS, &f->a, &err);
    assert_non_null(f->a.c);
    assert_int_equal(f->a.events, 0); /* reported from the loop only */
    run_until(f, a_connected);
    assert_int_equal(f->a.events, CONN_EV_ERROR);
    assert_int_equal(conn_error(f->a.c), ECONNREFUSED);
}

static void test_connect_falls_back(void **state)
{
    fixture *f = *state;
    struct addrinfo dead, live;
    struct sockaddr_in dsin, lsin;
    close(listener(&dead, &dsin));
    int lfd = listener(&live, &lsin);
    dead.ai_next = &live;
    int err = 0;
    f->a.c = conn_connect(f->loop, &dead, NULL, 5000, &CBS, &f->a, &err);
    assert_non_null(f->a.c);
    conn_write(f->a.c, "early", 5); /* waits for the connect */
    run_until(f, a_connected);
    assert_int_equal(f->a.events, CONN_EV_CONNECTED);
    int sfd = accept(lfd, NULL, NULL);
    nonblock(sfd);
    f->b.c = conn_new(f->loop, sfd, NULL, &CBS, &f->b);
    g_want = 5;
    run_until(f, b_got_want);
    assert_memory_equal(evbuffer_pullup(f->b.got, -1), "early", 5);
    close(lfd);
}

/* A TLS server that never answers: the connect timeout covers the handshake. */
static void test_connect_timeout(void **state)
{
    fixture *f = *state;
    struct addrinfo ai;
    struct sockaddr_in sin;
    int lfd = listener(&ai, &sin);
    int err = 0;
    f->a.c = conn_connect(f->loop, &ai, SSL_new(f->cli_ctx), 100, &CBS, &f->a, &err);
    run_until(f, a_connected);
    assert_int_equal(f->a.events, CONN_EV_ERROR);
    assert_int_equal(conn_error(f->a.c), ETIMEDOUT);
    close(lfd);
}

/* A certificate the client does not trust: ERROR on both sides, with a TLS reason. */
static void test_tls_verification_failure(void **state)
{
    fixture *f = *state;
    tcp_pair(f, true, f->other_ctx);
    conn_write(f->a.c, "secret", 6);
    run_until(f, a_connected);
    run_until(f, b_error);
    assert_int_equal(f->a.events, CONN_EV_ERROR);
    assert_int_not_equal(SSL_get_verify_result(conn_ssl(f->a.c)), X509_V_OK);
    assert_int_not_equal(conn_tls_error(f->a.c), 0);
    char buf[256];
    assert_non_null(strstr(conn_strerror(f->a.c, buf, sizeof buf), "certificate"));
    assert_int_equal(evbuffer_get_length(f->b.got), 0);
}

/* A plain client talking to a TLS server: the handshake fails, no crash, no data. */
static void test_tls_garbage(void **state)
{
    fixture *f = *state;
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    nonblock(fds[0]);
    f->b.c = conn_new(f->loop, fds[0], SSL_new(f->srv_ctx), &CBS, &f->b);
    const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(write(fds[1], junk, sizeof junk - 1), (ssize_t)sizeof junk - 1);
    run_until(f, b_error);
    assert_int_equal(evbuffer_get_length(f->b.got), 0);
    close(fds[1]);
}

/* Data both ways at once over TLS (reads and writes interleave in one connection). */
static void test_tls_both_ways(void **state)
{
    fixture *f = *state;
    tcp_pair(f, true, f->cli_ctx);
    size_t n = (size_t)4 << 20;
    uint8_t *data = malloc(n);
    fill_pattern(data, n, 11);
    conn_write(f->a.c, data, n);
    fill_pattern(data, n, 13);
    conn_write(f->b.c, data, n);
    free(data);
    g_want = n;
    run_until(f, b_got_want);
    run_until(f, a_got_want);
    check_pattern(f->b.got, n, 11);
    check_pattern(f->a.got, n, 13);
}

static void count_release(void *ud)
{
    (*(int *)ud)++;
}

/* The loop's release hook runs once per closed socket (a paused listener resumes on it). */
static void test_release_hook(void **state)
{
    fixture *f = *state;
    int released = 0;
    conn_loop_on_release(f->loop, count_release, &released);
    plain_pair(f);
    conn_free(f->a.c);
    f->a.c = NULL;
    assert_int_equal(released, 1);
    f->b.free_on_event = true; /* freed inside its EOF callback */
    run_until(f, b_freed);
    assert_int_equal(released, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_output_waits_for_end_of_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_transfer_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_transfer_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_close_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_close_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirty_close_is_eof_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_behind_buffered_ciphertext_tls, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_inside_on_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_inside_on_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_inside_on_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_other_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trigger_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_verification_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_hook, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
