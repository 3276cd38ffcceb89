/* SPDX-License-Identifier: MIT */
/* test_ws.c - lib/ws over lib/conn connections on a socketpair: messages both ways, large
 * messages, limits, close, freeing inside a handler, a dead link (idle timer), fragmented sends
 * (frame limit), and the handshake helpers. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/util.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "ws.h"
#include "ws_frame.h"

typedef struct side {
    struct test_ctx *t;
    ws_conn *ws;
    uint8_t *last; /* last message received */
    size_t last_len;
    int texts, binaries, closes, drains;
    uint16_t close_code;
    bool free_on_text;
    bool free_on_close;
} side;

typedef struct test_ctx {
    struct event_base *base;
    conn_loop *loop;
    struct event *deadline;
    bool timed_out;
    side a, b; /* a: client, b: server */
    int raw;   /* setup_raw: our end of b's socket, speaking raw frames; else -1 */
    int want_closes;
    int want_msgs; /* loop stops once b+a received this many messages */
} test_ctx;

static void maybe_stop(test_ctx *t)
{
    int msgs = t->a.texts + t->a.binaries + t->b.texts + t->b.binaries;
    int closes = t->a.closes + t->b.closes;
    if ((t->want_msgs && msgs >= t->want_msgs) || (t->want_closes && closes >= t->want_closes))
        event_base_loopbreak(t->base);
}

static void keep(side *s, const uint8_t *d, size_t n)
{
    free(s->last);
    s->last = malloc(n ? n : 1);
    assert_non_null(s->last);
    if (n)
        memcpy(s->last, d, n);
    s->last_len = n;
}

static void on_text(void *ud, const uint8_t *d, size_t n)
{
    side *s = ud;
    s->texts++;
    keep(s, d, n);
    if (s->free_on_text) {
        ws_conn_free(s->ws);
        s->ws = NULL;
    }
    maybe_stop(s->t);
}

static void on_binary(void *ud, const uint8_t *d, size_t n)
{
    side *s = ud;
    s->binaries++;
    keep(s, d, n);
    maybe_stop(s->t);
}

static void on_drain(void *ud)
{
    side *s = ud;
    s->drains++;
}

static void on_close(void *ud, uint16_t code, const char *reason)
{
    (void)reason;
    side *s = ud;
    s->closes++;
    s->close_code = code;
    if (s->free_on_close) {
        ws_conn_free(s->ws);
        s->ws = NULL;
    }
    maybe_stop(s->t);
}

static const ws_handlers H = {on_text, on_binary, on_drain, on_close};

static void deadline_cb(evutil_socket_t fd, short w, void *ud)
{
    (void)fd;
    (void)w;
    test_ctx *t = ud;
    t->timed_out = true;
    event_base_loopbreak(t->base);
}

/* The connections' callbacks until ws_conn_new takes them over. */
static void no_read(conn *c, void *ud)
{
    (void)c;
    (void)ud;
}
static void no_event(conn *c, void *ud, int what)
{
    (void)c;
    (void)ud;
    (void)what;
}
static const conn_cbs NO_CBS = {no_read, NULL, no_event};

/* A pair; idle_b_ms > 0 sets the server connection's idle timer (a dead-link detector). */
static test_ctx *setup_pair_idle(size_t max_a, size_t max_b, unsigned idle_b_ms)
{
    test_ctx *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->base = event_base_new();
    assert_non_null(t->base);
    /* real sockets, so write buffers, EOF and back-pressure behave as in production */
    evutil_socket_t fds[2];
    assert_int_equal(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    evutil_make_socket_nonblocking(fds[0]);
    evutil_make_socket_nonblocking(fds[1]);
    t->loop = conn_loop_new(t->base);
    assert_non_null(t->loop);
    conn *pair[2] = {
        conn_new(t->loop, fds[0], NULL, &NO_CBS, NULL),
        conn_new(t->loop, fds[1], NULL, &NO_CBS, NULL),
    };
    assert_non_null(pair[0]);
    assert_non_null(pair[1]);
    if (idle_b_ms)
        conn_set_idle(pair[1], idle_b_ms);
    t->a.t = t->b.t = t;
    t->a.ws = ws_conn_new(pair[0], false, &H, &t->a, max_a);
    t->b.ws = ws_conn_new(pair[1], true, &H, &t->b, max_b);
    assert_non_null(t->a.ws);
    assert_non_null(t->b.ws);
    t->deadline = evtimer_new(t->base, deadline_cb, t);
    return t;
}

static test_ctx *setup_pair(size_t max_a, size_t max_b)
{
    return setup_pair_idle(max_a, max_b, 0);
}

static void run(test_ctx *t)
{
    /* a deadline, not a duration: generous for ASan builds on a loaded 2-core machine */
    struct timeval tv = {120, 0};
    t->timed_out = false;
    evtimer_add(t->deadline, &tv);
    event_base_dispatch(t->base);
    evtimer_del(t->deadline);
    assert_false(t->timed_out);
}

/* b alone (server or client side) and a raw socket for the test to write frames to. */
static test_ctx *setup_raw(bool server, size_t max)
{
    test_ctx *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->base = event_base_new();
    assert_non_null(t->base);
    evutil_socket_t fds[2];
    assert_int_equal(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    evutil_make_socket_nonblocking(fds[1]);
    t->loop = conn_loop_new(t->base);
    assert_non_null(t->loop);
    conn *c = conn_new(t->loop, fds[1], NULL, &NO_CBS, NULL);
    assert_non_null(c);
    t->a.t = t->b.t = t;
    t->b.ws = ws_conn_new(c, server, &H, &t->b, max);
    assert_non_null(t->b.ws);
    t->raw = fds[0];
    t->deadline = evtimer_new(t->base, deadline_cb, t);
    return t;
}

/* One frame as the peer sends it (masked with a fixed key when mask). */
static void send_raw_frame(test_ctx *t, uint8_t b0, const void *payload, size_t n, bool mask)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t *f = malloc(n + 14);
    assert_non_null(f);
    size_t h = 0;
    f[h++] = b0;
    uint8_t m = mask ? 0x80 : 0;
    if (n < 126) {
        f[h++] = (uint8_t)(m | n);
    } else {
        assert_true(n <= 0xffff);
        f[h++] = m | 126;
        f[h++] = (uint8_t)(n >> 8);
        f[h++] = (uint8_t)n;
    }
    if (mask) {
        memcpy(f + h, key, 4);
        h += 4;
    }
    for (size_t i = 0; i < n; i++)
        f[h + i] = ((const uint8_t *)payload)[i] ^ (mask ? key[i % 4] : 0);
    assert_int_equal(write(t->raw, f, h + n), (ssize_t)(h + n));
    free(f);
}

/* The bytes b wrote to the raw socket so far. */
static size_t raw_read(test_ctx *t, uint8_t *buf, size_t cap)
{
    size_t got = 0;
    ssize_t n;
    while (got < cap && (n = recv(t->raw, buf + got, cap - got, MSG_DONTWAIT)) > 0)
        got += (size_t)n;
    return got;
}

static void teardown_pair(test_ctx *t)
{
    if (t->raw > 0)
        close(t->raw);
    ws_conn_free(t->a.ws);
    ws_conn_free(t->b.ws);
    free(t->a.last);
    free(t->b.last);
    event_free(t->deadline);
    conn_loop_free(t->loop);
    event_base_free(t->base);
    free(t);
}

static void test_messages_both_ways(void **state)
{
    (void)state;
    test_ctx *t = setup_pair(0, 0);
    assert_int_equal(ws_send_text(t->a.ws, "hello", 5), 0);
    t->want_msgs = 1;
    run(t);
    assert_int_equal(t->b.texts, 1);
    assert_int_equal(t->b.last_len, 5);
    assert_memory_equal(t->b.last, "hello", 5);

    uint8_t hdr[3] = {1, 2, 3};
    assert_int_equal(ws_send_binary2(t->b.ws, hdr, 3, "xyz", 3), 0);
    t->want_msgs = 2;
    run(t);
    assert_int_equal(t->a.binaries, 1);
    assert_int_equal(t->a.last_len, 6);
    assert_memory_equal(t->a.last, "\x01\x02\x03xyz", 6);

    /* empty binary, and a ping (answered by wslay, no handler call) */
    assert_int_equal(ws_send_ping(t->a.ws), 0);
    assert_int_equal(ws_send_binary(t->a.ws, "", 0), 0);
    t->want_msgs = 3;
    run(t);
    assert_int_equal(t->b.binaries, 1);
    assert_int_equal(t->b.last_len, 0);
    teardown_pair(t);
}

static void test_large_messages(void **state)
{
    (void)state;
    const size_t n = 6u * 1024u * 1024u;
    test_ctx *t = setup_pair(8u << 20, 8u << 20);
    uint8_t *big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)(i * 31u + (i >> 11));
    /* client -> server (masked) and server -> client at once */
    assert_int_equal(ws_send_binary(t->a.ws, big, n), 0);
    assert_int_equal(ws_send_binary(t->b.ws, big, n), 0);
    assert_true(ws_pending(t->a.ws) > ws_high_water());
    t->want_msgs = 2;
    run(t);
    assert_int_equal(t->b.last_len, n);
    assert_memory_equal(t->b.last, big, n);
    assert_int_equal(t->a.last_len, n);
    assert_memory_equal(t->a.last, big, n);
    assert_true(t->a.drains >= 1);
    assert_true(ws_pending(t->a.ws) < ws_high_water());

    /* many small messages keep their order */
    for (int i = 0; i < 1000; i++) {
        char m[16];
        int len = snprintf(m, sizeof m, "m%d", i);
        assert_int_equal(ws_send_text(t->a.ws, m, (size_t)len), 0);
    }
    t->want_msgs = 1002;
    run(t);
    assert_int_equal(t->b.texts, 1000);
    assert_memory_equal(t->b.last, "m999", 4);
    free(big);
    teardown_pair(t);
}

static void test_too_big_closes(void **state)
{
    (void)state;
    test_ctx *t = setup_pair(0, 1000);
    uint8_t buf[2000] = {0};
    assert_int_equal(ws_send_binary(t->a.ws, buf, sizeof buf), 0);
    t->want_closes = 2;
    run(t);
    assert_int_equal(t->b.binaries, 0);
    assert_int_equal(t->b.closes, 1);
    assert_int_equal(t->b.close_code, 1009);
    assert_int_equal(t->a.closes, 1);
    assert_int_equal(t->a.close_code, 1009);
    assert_int_equal(ws_send_text(t->a.ws, "x", 1), -1);
    teardown_pair(t);
}

/* A few loop passes: enough for frames already in the socket. */
static void spin(test_ctx *t)
{
    for (int i = 0; i < 8; i++)
        event_base_loop(t->base, EVLOOP_NONBLOCK);
}

/* A shared budget counts a message in progress beyond the share, gives it back when the message
 * is whole or the connection goes, and closes (1009) a connection whose message would pass it. */
static void test_budget(void **state)
{
    (void)state;
    uint8_t buf[300];
    memset(buf, 'x', sizeof buf);
    mem_budget b = {.limit = 150};
    test_ctx *t = setup_raw(true, 0);
    ws_set_budget(t->b.ws, &b, 100, NULL);
    send_raw_frame(t, 0x02, buf, 200, true); /* binary, FIN clear: 100 beyond the share */
    spin(t);
    assert_int_equal(b.used, 100);
    send_raw_frame(t, 0x80, buf, 40, true); /* its end: 140 beyond, then none */
    t->want_msgs = 1;
    run(t);
    assert_int_equal(t->b.binaries, 1);
    assert_int_equal(t->b.last_len, 240);
    assert_int_equal(b.used, 0);
    send_raw_frame(t, 0x82, buf, 90, true); /* within the share: never counted */
    t->want_msgs = 2;
    run(t);
    assert_int_equal(b.used, 0);
    send_raw_frame(t, 0x02, buf, 200, true);
    spin(t);
    assert_int_equal(b.used, 100);
    teardown_pair(t); /* the connection goes: its part comes back */
    assert_int_equal(b.used, 0);

    t = setup_raw(true, 0);
    ws_set_budget(t->b.ws, &b, 100, NULL);
    b.used = 100;                            /* another connection's */
    send_raw_frame(t, 0x02, buf, 200, true); /* 100 beyond: past what is left (50) */
    t->want_closes = 1;
    run(t);
    assert_int_equal(t->b.close_code, 1009);
    assert_int_equal(t->b.binaries, 0);
    assert_int_equal(b.used, 100);
    teardown_pair(t);
    assert_int_equal(b.used, 100);
}

/* A ping is answered with a pong carrying its payload; a message in fragments with a ping
 * between them arrives whole. */
static void test_ping_and_fragments_raw(void **state)
{
    (void)state;
    test_ctx *t = setup_raw(true, 0);
    send_raw_frame(t, 0x89, "abc", 3, true);
    send_raw_frame(t, 0x01, "hel", 3, true);     /* text, FIN clear */
    send_raw_frame(t, 0x89, "", 0, true);        /* a control frame between fragments */
    send_raw_frame(t, 0x00, "lo \xc3", 4, true); /* a character split across fragments */
    send_raw_frame(t, 0x80, "\xa9", 1, true);    /* continuation, FIN */
    t->want_msgs = 1;
    run(t);
    assert_int_equal(t->b.texts, 1);
    assert_int_equal(t->b.last_len, 8);
    assert_memory_equal(t->b.last, "hello \xc3\xa9", 8);
    for (int i = 0; i < 4; i++) /* the end of the loop pass writes the pongs */
        event_base_loop(t->base, EVLOOP_NONBLOCK);
    uint8_t buf[64];
    size_t n = raw_read(t, buf, sizeof buf);
    assert_int_equal(n, 7);
    assert_memory_equal(buf,
                        "\x8a\x03"
                        "abc"
                        "\x8a\x00",
                        7); /* unmasked pongs from a server */
    assert_int_equal(t->b.closes, 0);
    teardown_pair(t);
}

/* Each breach of RFC 6455 by the peer: our close frame with the code, then on_close. */
static void breach(bool server, const uint8_t *frames, size_t len, uint16_t want)
{
    test_ctx *t = setup_raw(server, 1000);
    assert_int_equal(write(t->raw, frames, len), (ssize_t)len);
    t->want_closes = 1;
    run(t);
    assert_int_equal(t->b.closes, 1);
    assert_int_equal(t->b.close_code, want);
    assert_int_equal(t->b.texts + t->b.binaries, 0);
    uint8_t buf[256];
    size_t n = raw_read(t, buf, sizeof buf);
    assert_true(n >= 4);
    assert_int_equal(buf[0], 0x88);
    size_t h = (buf[1] & 0x80) ? 6 : 2; /* a client masks its close frame */
    uint8_t code[2] = {buf[h], buf[h + 1]};
    if (buf[1] & 0x80) {
        code[0] ^= buf[2];
        code[1] ^= buf[3];
    }
    assert_int_equal(code[0] << 8 | code[1], want);
    teardown_pair(t);
}

static void test_protocol_breaches_raw(void **state)
{
    (void)state;
    /* masked: key 0, so the payload bytes are as written */
    static const struct {
        bool server;
        const char *bytes;
        size_t len;
        uint16_t code;
    } cases[] = {
        {true, "\x81\x01x", 3, 1002},                           /* unmasked frame from a client */
        {false, "\x81\x81\0\0\0\0x", 7, 1002},                  /* masked frame from a server */
        {true, "\xc1\x81\0\0\0\0x", 7, 1002},                   /* RSV1 without an extension */
        {true, "\x83\x81\0\0\0\0x", 7, 1002},                   /* reserved opcode */
        {true, "\x80\x81\0\0\0\0x", 7, 1002},                   /* continuation outside a message */
        {true, "\x01\x81\0\0\0\0x\x82\x81\0\0\0\0y", 14, 1002}, /* new message inside one */
        {true, "\x09\x80\0\0\0\0", 6, 1002},                    /* fragmented ping */
        {true, "\x82\xfe\0\x05\0\0\0\0abcde", 13, 1002},        /* length not in shortest form */
        {true, "\x88\x81\0\0\0\0\x03", 7, 1002},                /* close with a one-byte payload */
        {true, "\x88\x82\0\0\0\0\x03\xed", 8, 1002},            /* close code 1005 on the wire */
        {true, "\x81\x82\0\0\0\0\xc0\xaf", 8, 1007},            /* overlong UTF-8 in text */
        {true, "\x81\x83\0\0\0\0\xed\xa0\x80", 9, 1007},        /* a surrogate in text */
        {true, "\x88\x83\0\0\0\0\x03\xe8\xff", 9, 1007},        /* bad UTF-8 in a close reason */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        breach(cases[i].server, (const uint8_t *)cases[i].bytes, cases[i].len, cases[i].code);
}

static void test_close_handshake(void **state)
{
    (void)state;
    test_ctx *t = setup_pair(0, 0);
    t->a.free_on_close = true;
    t->b.free_on_close = true;
    assert_int_equal(ws_send_text(t->a.ws, "bye", 3), 0);
    ws_close(t->a.ws, 1000, "done");
    assert_int_equal(ws_send_text(t->a.ws, "late", 4), -1);
    t->want_closes = 2;
    run(t);
    assert_int_equal(t->b.texts, 1);
    assert_int_equal(t->a.closes, 1);
    assert_int_equal(t->b.closes, 1);
    assert_int_equal(t->a.close_code, 1000);
    assert_int_equal(t->b.close_code, 1000);
    assert_null(t->a.ws);
    assert_null(t->b.ws);
    teardown_pair(t);
}

static void test_free_inside_handler(void **state)
{
    (void)state;
    test_ctx *t = setup_pair(0, 0);
    t->b.free_on_text = true;
    /* two messages arrive in one read: the second must not reach a freed connection */
    assert_int_equal(ws_send_text(t->a.ws, "one", 3), 0);
    assert_int_equal(ws_send_text(t->a.ws, "two", 3), 0);
    t->want_msgs = 1;
    run(t);
    assert_int_equal(t->b.texts, 1);
    assert_null(t->b.ws);
    /* the peer sees the connection end */
    t->want_msgs = 0;
    t->want_closes = 1;
    run(t);
    assert_int_equal(t->a.closes, 1);
    assert_int_equal(t->a.close_code, 1006);
    teardown_pair(t);
}

static void unpause_cb(evutil_socket_t fd, short w, void *ud)
{
    (void)fd;
    (void)w;
    test_ctx *t = ud;
    assert_int_equal(t->b.texts, 0); /* nothing delivered while paused */
    ws_pause_read(t->b.ws, false);
}

static void test_pause_read(void **state)
{
    (void)state;
    test_ctx *t = setup_pair(0, 0);
    ws_pause_read(t->b.ws, true);
    assert_int_equal(ws_send_text(t->a.ws, "held", 4), 0);
    struct event *ev = evtimer_new(t->base, unpause_cb, t);
    struct timeval tv = {0, 100000};
    evtimer_add(ev, &tv);
    t->want_msgs = 1;
    run(t);
    assert_int_equal(t->b.texts, 1);
    assert_memory_equal(t->b.last, "held", 4);
    event_free(ev);
    teardown_pair(t);
}

static void test_preexisting_input(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    conn_loop *loop = conn_loop_new(base);
    evutil_socket_t fds[2];
    assert_int_equal(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    evutil_make_socket_nonblocking(fds[0]);
    conn *c = conn_new(loop, fds[0], NULL, &NO_CBS, NULL);
    /* an unmasked server text frame "hi" already waiting in the client's input, as after the
     * 101 answer of a handshake */
    const uint8_t frame[] = {0x81, 0x02, 'h', 'i'};
    evbuffer_add(conn_in(c), frame, sizeof frame);
    test_ctx t = {.base = base};
    t.a.t = &t;
    t.want_msgs = 1;
    t.deadline = evtimer_new(base, deadline_cb, &t);
    t.a.ws = ws_conn_new(c, false, &H, &t.a, 0);
    assert_non_null(t.a.ws);
    assert_int_equal(t.a.texts, 0); /* not parsed under the caller */
    run(&t);
    assert_int_equal(t.a.texts, 1);
    assert_memory_equal(t.a.last, "hi", 2);
    ws_conn_free(t.a.ws);
    evutil_closesocket(fds[1]);
    free(t.a.last);
    event_free(t.deadline);
    conn_loop_free(loop);
    event_base_free(base);
}

/* The conn's idle timer is a dead-link detector: a peer that sends nothing ends the session. */
static void test_dead_link(void **state)
{
    (void)state;
    test_ctx *t = setup_pair_idle(0, 0, 100);
    ws_pause_read(t->a.ws, true); /* a neither sends nor answers */
    t->want_closes = 1;
    run(t);
    assert_int_equal(t->b.closes, 1);
    assert_int_equal(t->b.close_code, 1006);
    assert_int_equal(t->a.closes, 0);
    teardown_pair(t);
}

/* Frames on the wire, from raw bytes: opcode, FIN, payload (unmasked). */
typedef struct raw_frame {
    uint8_t opcode;
    bool fin;
    size_t len;
} raw_frame;

static size_t parse_frames(const uint8_t *p, size_t n, raw_frame *out, size_t max, uint8_t *payload,
                           size_t *plen)
{
    size_t nf = 0, off = 0;
    *plen = 0;
    while (off + 2 <= n && nf < max) {
        uint8_t b0 = p[off], b1 = p[off + 1];
        size_t len = b1 & 0x7f, h = 2;
        if (len == 126) {
            len = ((size_t)p[off + 2] << 8) | p[off + 3];
            h = 4;
        } else if (len == 127) {
            len = 0;
            for (int i = 0; i < 8; i++)
                len = (len << 8) | p[off + 2 + i];
            h = 10;
        }
        const uint8_t *mask = (b1 & 0x80) ? p + off + h : NULL;
        h += mask ? 4 : 0;
        assert_true(off + h + len <= n);
        for (size_t i = 0; i < len; i++)
            payload[(*plen)++] = (uint8_t)(p[off + h + i] ^ (mask ? mask[i % 4] : 0));
        out[nf++] = (raw_frame){.opcode = b0 & 0x0f, .fin = (b0 & 0x80) != 0, .len = len};
        off += h + len;
    }
    assert_int_equal(off, n);
    return nf;
}

/* ws_set_frame_limit: a message longer than the limit leaves as a first frame and continuation
 * frames, none over the limit (API Gateway closes with 1009 on a frame over 32 KB); shorter ones
 * stay one frame; a server ws_conn reassembles them. */
static void test_frame_limit(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    conn_loop *loop = conn_loop_new(base);
    assert_non_null(loop);
    evutil_socket_t fds[2];
    assert_int_equal(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    evutil_make_socket_nonblocking(fds[0]);
    conn *c = conn_new(loop, fds[0], NULL, &NO_CBS, NULL);
    assert_non_null(c);
    side a = {0};
    ws_conn *ws = ws_conn_new(c, false, &H, &a, 0);
    assert_non_null(ws);
    ws_set_frame_limit(ws, 32 * 1024);
    const size_t n = 100000;
    uint8_t *msg = malloc(n);
    assert_non_null(msg);
    for (size_t i = 0; i < n; i++)
        msg[i] = (uint8_t)('a' + i % 26);
    assert_int_equal(ws_send_text(ws, msg, n), 0);
    assert_true(ws_pending(ws) >= n); /* counted while queued, so producers pause */
    assert_int_equal(ws_send_text(ws, "small", 5), 0);
    /* collect what reaches the peer socket */
    size_t cap = 2 * n, got = 0;
    uint8_t *wire = malloc(cap);
    assert_non_null(wire);
    for (int spins = 0; spins < 1000 && got < n + 200; spins++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        ssize_t r = recv(fds[1], wire + got, cap - got, MSG_DONTWAIT);
        if (r > 0)
            got += (size_t)r;
    }
    raw_frame fr[200];
    uint8_t *payload = malloc(cap);
    size_t plen = 0;
    size_t nf = parse_frames(wire, got, fr, 200, payload, &plen);
    assert_true(nf >= 5);
    assert_int_equal(fr[0].opcode, 1); /* text */
    size_t total = 0, i;
    for (i = 0; i < nf - 1; i++) {
        assert_true(fr[i].len <= 32 * 1024);
        if (i > 0)
            assert_int_equal(fr[i].opcode, 0); /* continuation */
        total += fr[i].len;
        if (fr[i].fin)
            break;
    }
    assert_int_equal(total, n);
    assert_memory_equal(payload, msg, n);
    assert_int_equal(fr[nf - 1].opcode, 1); /* the small one: one frame of its own */
    assert_true(fr[nf - 1].fin);
    assert_int_equal(fr[nf - 1].len, 5);
    assert_int_equal(ws_pending(ws), 0);
    ws_conn_free(ws);
    close(fds[1]);
    free(a.last);
    free(wire);
    free(payload);

    /* and a peer ws_conn reassembles it; one still queued when the connection is freed is
     * released (no leak under ASan) */
    test_ctx *t = setup_pair(0, 200000);
    ws_set_frame_limit(t->a.ws, 32 * 1024);
    assert_int_equal(ws_send_text(t->a.ws, msg, n), 0);
    t->want_msgs = 1;
    run(t);
    assert_int_equal(t->b.texts, 1);
    assert_int_equal(t->b.last_len, n);
    assert_memory_equal(t->b.last, msg, n);
    /* a header and a payload whose frames cut across their boundary, both directions (masked
     * and not) */
    ws_set_frame_limit(t->a.ws, 1000);
    ws_set_frame_limit(t->b.ws, 1000);
    assert_int_equal(ws_send_binary2(t->a.ws, msg, 1500, msg + 1500, 3001), 0);
    assert_int_equal(ws_send_binary2(t->b.ws, msg, 999, msg + 999, 1), 0);
    t->want_msgs = 3;
    run(t);
    assert_int_equal(t->b.binaries, 1);
    assert_int_equal(t->b.last_len, 4501);
    assert_memory_equal(t->b.last, msg, 4501);
    assert_int_equal(t->a.binaries, 1);
    assert_int_equal(t->a.last_len, 1000);
    assert_memory_equal(t->a.last, msg, 1000);
    assert_int_equal(ws_send_text(t->a.ws, msg, n), 0);
    teardown_pair(t);
    free(msg);
    conn_loop_free(loop);
    event_base_free(base);
}

/* ws_mask_copy against the byte-by-byte rule of RFC 6455 §5.3 (octet i XOR key[(off+i) % 4]):
 * every length around the 32-byte steps, every key offset, in place and into another buffer,
 * from unaligned addresses. */
static void test_mask_copy_matches_rfc(void **state)
{
    (void)state;
    const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t src[200], dst[200], want[200];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 7 + 3);
    for (size_t n = 0; n <= 130; n++) {
        for (uint64_t off = 0; off < 8; off++) {
            for (size_t i = 0; i < n; i++)
                want[i] = src[i + 1] ^ key[(off + i) % 4];
            memset(dst, 0, sizeof dst);
            ws_mask_copy(dst + 3, src + 1, n, key, off);
            assert_memory_equal(dst + 3, want, n);
            assert_int_equal(dst[3 + n], 0); /* nothing past n */
            uint8_t inplace[200];
            memcpy(inplace, src + 1, n);
            ws_unmask(inplace, n, key, off);
            assert_memory_equal(inplace, want, n);
        }
    }
}

static void test_handshake_keys(void **state)
{
    (void)state;
    char out[29];
    assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(ws_accept_key("", out), -1);
    assert_int_equal(ws_accept_key(NULL, out), -1);
    char k1[25], k2[25];
    assert_int_equal(ws_client_key(k1), 0);
    assert_int_equal(ws_client_key(k2), 0);
    assert_int_equal(strlen(k1), 24);
    assert_string_not_equal(k1, k2);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as in the programs: a write to a closed peer is an error */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages_both_ways),
        cmocka_unit_test(test_large_messages),
        cmocka_unit_test(test_too_big_closes),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_close_handshake),
        cmocka_unit_test(test_free_inside_handler),
        cmocka_unit_test(test_pause_read),
        cmocka_unit_test(test_preexisting_input),
        cmocka_unit_test(test_handshake_keys),
        cmocka_unit_test(test_mask_copy_matches_rfc),
        cmocka_unit_test(test_dead_link),
        cmocka_unit_test(test_frame_limit),
        cmocka_unit_test(test_ping_and_fragments_raw),
        cmocka_unit_test(test_protocol_breaches_raw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
