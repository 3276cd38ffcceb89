/* SPDX-License-Identifier: MIT */
/* test_http1.c - the incremental parser (offsets of head and body ends, split input, keep-alive,
 * limits, upgrade, EOF bodies, header values, decoded bodies through the driver). Header lists
 * and serialisation are in test_http1_headers.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

/* ---------------------------------------------------------------- parser */

typedef struct body_sink {
    char buf[4096];
    size_t n;
} body_sink;

static void sink(void *ud, const char *at, size_t len)
{
    body_sink *b = ud;
    assert_true(b->n + len <= sizeof b->buf);
    memcpy(b->buf + b->n, at, len);
    b->n += len;
}

static void test_request_offsets(void **state)
{
    (void)state;
    const char *msg = "POST /up?a=1&b=%20 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                      "X-Multi: 1\r\nX-Multi: 2\r\n\r\nhello"
                      "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t head1 = strstr(msg, "hello") - msg;
    http1_parser p;
    body_sink b = {.n = 0};
    http1_init(&p, true, 0);
    p.on_body = sink;
    p.ud = &b;
    size_t used = 0, off = 0, len = strlen(msg);
    assert_int_equal(http1_execute(&p, msg, len, &used), HTTP1_HEAD);
    /* The head ends exactly after the blank line. */
    assert_int_equal(used, head1);
    assert_string_equal(p.head.method, "POST");
    assert_string_equal(p.head.target, "/up?a=1&b=%20");
    assert_int_equal(p.head.content_length, 5);
    assert_false(p.head.chunked);
    assert_true(p.head.keep_alive);
    assert_false(p.head.upgrade);
    assert_int_equal(p.head.headers.n, 4);
    assert_string_equal(p.head.headers.v[2].name, "X-Multi");
    assert_string_equal(p.head.headers.v[3].value, "2");
    assert_true(p.in_body);
    off += used;
    assert_int_equal(http1_execute(&p, msg + off, len - off, &used), HTTP1_MSG_END);
    assert_int_equal(used, 5);
    assert_int_equal(b.n, 5);
    assert_memory_equal(b.buf, "hello", 5);
    /* The previous head stays readable until the next message starts. */
    assert_string_equal(p.head.method, "POST");
    off += used;
    assert_int_equal(http1_execute(&p, msg + off, len - off, &used), HTTP1_HEAD);
    assert_string_equal(p.head.method, "GET");
    assert_string_equal(p.head.target, "/next");
    assert_int_equal(p.head.headers.n, 1);
    assert_int_equal(p.head.content_length, -1);
    off += used;
    assert_int_equal(off, len);
    /* No body: the message ends without more bytes. */
    assert_int_equal(http1_execute(&p, msg + off, 0, &used), HTTP1_MSG_END);
    assert_int_equal(used, 0);
    http1_free(&p);
}

/* Feeds msg one byte at a time and records the offsets of each event. */
static void bytewise(const char *msg, bool is_request, size_t *head_end, size_t *msg_end)
{
    http1_parser p;
    http1_init(&p, is_request, 0);
    size_t len = strlen(msg), off = 0;
    *head_end = *msg_end = (size_t)-1;
    while (off < len) {
        size_t used = 0;
        http1_event ev = http1_execute(&p, msg + off, 1, &used);
        off += used;
        if (ev == HTTP1_HEAD) {
            *head_end = off;
            /* Bytes given later may complete the message with zero consumed. */
            ev = http1_execute(&p, msg + off, 0, &used);
        }
        if (ev == HTTP1_MSG_END) {
            *msg_end = off;
            break;
        }
        assert_int_not_equal(ev, HTTP1_ERROR);
    }
    if (*msg_end == (size_t)-1 && off == len) {
        size_t used = 0;
        if (http1_execute(&p, "", 0, &used) == HTTP1_MSG_END)
            *msg_end = off;
    }
    http1_free(&p);
}

static void test_split_input(void **state)
{
    (void)state;
    const char *msg = "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\nabc\r\n0\r\n\r\n";
    size_t head = strstr(msg, "3\r\n") - msg, end = 0, hend = 0;
    bytewise(msg, true, &hend, &end);
    assert_int_equal(hend, head);
    assert_int_equal(end, strlen(msg));

    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    bytewise(resp, false, &hend, &end);
    assert_int_equal(hend, strlen(resp) - 2);
    assert_int_equal(end, strlen(resp));

    const char *nobody = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    bytewise(nobody, true, &hend, &end);
    assert_int_equal(hend, strlen(nobody));
    assert_int_equal(end, strlen(nobody));

    /* Split header names/values and URL are joined. */
    const char *req =
        "GET /long/path?q=1 HTTP/1.1\r\nX-Long-Header: some value here\r\nHost: h\r\n\r\n";
    http1_parser p;
    http1_init(&p, true, 0);
    size_t off = 0, used = 0;
    http1_event ev = HTTP1_NONE;
    while (ev == HTTP1_NONE && off < strlen(req)) {
        ev = http1_execute(&p, req + off, 3 < strlen(req) - off ? 3 : strlen(req) - off, &used);
        off += used;
    }
    assert_int_equal(ev, HTTP1_HEAD);
    assert_string_equal(p.head.target, "/long/path?q=1");
    assert_string_equal(p.head.headers.v[0].name, "X-Long-Header");
    assert_string_equal(p.head.headers.v[0].value, "some value here");
    http1_free(&p);
}

static void test_chunked_response_and_trailers(void **state)
{
    (void)state;
    const char *msg = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a=1\r\n"
                      "Set-Cookie: b=2\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n";
    http1_parser p;
    body_sink b = {.n = 0};
    http1_init(&p, false, 0);
    p.on_body = sink;
    p.ud = &b;
    size_t used, len = strlen(msg);
    assert_int_equal(http1_execute(&p, msg, len, &used), HTTP1_HEAD);
    assert_int_equal(p.head.status, 200);
    assert_true(p.head.chunked);
    assert_false(http1_body_until_close(&p));
    assert_int_equal(p.head.headers.n, 3);
    size_t off = used;
    assert_int_equal(http1_execute(&p, msg + off, len - off, &used), HTTP1_MSG_END);
    assert_int_equal(off + used, len);
    assert_int_equal(b.n, 5);
    /* Trailers are not mixed into the head. */
    assert_int_equal(p.head.headers.n, 3);
    http1_free(&p);
}

static void test_response_head_and_bodiless(void **state)
{
    (void)state;
    /* Response to HEAD: Content-Length but no body; the next response follows directly. */
    const char *msg = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
                      "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n"
                      "HTTP/1.1 204 No Content\r\n\r\n";
    http1_parser p;
    http1_init(&p, false, 0);
    http1_expect_no_body(&p);
    size_t used, off = 0, len = strlen(msg);
    assert_int_equal(http1_execute(&p, msg, len, &used), HTTP1_HEAD);
    assert_int_equal(p.head.content_length, 100);
    assert_false(http1_body_until_close(&p));
    off += used;
    assert_int_equal(http1_execute(&p, msg + off, len - off, &used), HTTP1_MSG_END);
    assert_int_equal(used, 0);
    assert_int_equal(http1_execute(&p, msg + off, len - off, &used), HTTP1_HEAD);
    assert_int_equal(p.head.status, 304);
    off += used;
    assert_int_equal(http1_execute(&p, msg + off, len - off, &used), HTTP1_MSG_END);
    assert_int_equal(http1_execute(&p, msg + off, len - off, &used), HTTP1_HEAD);
    assert_int_equal(p.head.status, 204);
    off += used;
    assert_int_equal(off, len);
    assert_int_equal(http1_execute(&p, msg + off, 0, &used), HTTP1_MSG_END);
    http1_free(&p);
}

static void test_body_until_close(void **state)
{
    (void)state;
    const char *msg = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome bytes";
    http1_parser p;
    body_sink b = {.n = 0};
    http1_init(&p, false, 0);
    p.on_body = sink;
    p.ud = &b;
    size_t used, len = strlen(msg);
    assert_int_equal(http1_execute(&p, msg, len, &used), HTTP1_HEAD);
    assert_true(http1_body_until_close(&p));
    assert_false(p.head.keep_alive);
    size_t off = used;
    assert_int_equal(http1_execute(&p, msg + off, len - off, &used), HTTP1_NONE);
    assert_int_equal(used, len - off);
    assert_int_equal(http1_finish(&p), HTTP1_MSG_END);
    assert_int_equal(b.n, 10);
    http1_free(&p);

    /* EOF right after the head: the pending byte is handed over first. */
    http1_init(&p, false, 0);
    assert_int_equal(http1_execute(&p, msg, off, &used), HTTP1_HEAD);
    assert_int_equal(used, off);
    assert_int_equal(http1_finish(&p), HTTP1_MSG_END);
    http1_free(&p);

    /* EOF in the middle of a sized body is an error. */
    const char *cut = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    http1_init(&p, false, 0);
    assert_int_equal(http1_execute(&p, cut, strlen(cut), &used), HTTP1_HEAD);
    off = used;
    assert_int_equal(http1_execute(&p, cut + off, strlen(cut) - off, &used), HTTP1_NONE);
    assert_int_equal(http1_finish(&p), HTTP1_ERROR);
    http1_free(&p);

    /* EOF between messages is fine. */
    http1_init(&p, true, 0);
    assert_int_equal(http1_finish(&p), HTTP1_NONE);
    http1_free(&p);
}

static void test_head_too_big(void **state)
{
    (void)state;
    char big[600];
    strcpy(big, "GET / HTTP/1.1\r\nX: ");
    memset(big + 19, 'a', sizeof big - 19 - 5);
    memcpy(big + sizeof big - 5, "\r\n\r\n", 5);
    http1_parser p;
    http1_init(&p, true, 256);
    size_t used;
    assert_int_equal(http1_execute(&p, big, strlen(big), &used), HTTP1_ERROR);
    assert_int_equal(p.err.kind, HTTP1_ERR_HEAD_TOO_BIG);
    assert_true(used <= 257);
    /* Errors are sticky. */
    assert_int_equal(http1_execute(&p, "x", 1, &used), HTTP1_ERROR);
    http1_free(&p);

    /* Exactly at the limit is accepted; byte by byte too. */
    const char *ok = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    http1_init(&p, true, strlen(ok));
    size_t off = 0;
    http1_event ev = HTTP1_NONE;
    while (ev == HTTP1_NONE && off < strlen(ok)) {
        ev = http1_execute(&p, ok + off, 1, &used);
        off += used;
    }
    assert_int_equal(ev, HTTP1_HEAD);
    http1_free(&p);
    http1_init(&p, true, strlen(ok) - 1);
    assert_int_equal(http1_execute(&p, ok, strlen(ok), &used), HTTP1_ERROR);
    assert_int_equal(p.err.kind, HTTP1_ERR_HEAD_TOO_BIG);
    http1_free(&p);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    const char *bad[] = {
        "GET / HTTP/1.1\r\nBad Header\r\n\r\n",        /* no colon */
        "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", /* bad length */
        "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", /* unframed request body */
        "\x01\x02\x03",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http1_parser p;
        http1_init(&p, true, 0);
        size_t used;
        http1_event ev = http1_execute(&p, bad[i], strlen(bad[i]), &used);
        assert_int_equal(ev, HTTP1_ERROR);
        assert_int_equal(p.err.kind, HTTP1_ERR_SYNTAX);
        http1_free(&p);
    }
    /* Responses with a status code of fewer than 3 digits (found by fuzzing). */
    const char *bad_resp[] = {"HTTP/1.1 1\r\n\r\n", "HTTP/1.1 99 X\r\n\r\n",
                              "HTTP/1.1 099 X\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad_resp / sizeof bad_resp[0]; i++) {
        http1_parser p;
        http1_init(&p, false, 0);
        size_t used;
        assert_int_equal(http1_execute(&p, bad_resp[i], strlen(bad_resp[i]), &used), HTTP1_ERROR);
        assert_int_equal(p.err.kind, HTTP1_ERR_SYNTAX);
        http1_free(&p);
    }
    /* Any token is a method (RFC 9110 §9.1), not only a fixed table. */
    const char *methods[] = {"PROPFIND", "PATCH", "MKCOL", "DELETE",   "OPTIONS",         "PURGE",
                             "LIST",     "QUERY", "BREW",  "M-SEARCH", "x!#$%&'*+-.^_`|~"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        char req[128];
        snprintf(req, sizeof req, "%s /m HTTP/1.1\r\nHost: h\r\n\r\n", methods[i]);
        http1_parser p;
        http1_init(&p, true, 0);
        size_t used;
        assert_int_equal(http1_execute(&p, req, strlen(req), &used), HTTP1_HEAD);
        assert_string_equal(p.head.method, methods[i]);
        http1_free(&p);
    }
}

static void test_upgrade(void **state)
{
    (void)state;
    const char *req = "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n\x81\x05hello";
    size_t head = strstr(req, "\x81") - req;
    http1_parser p;
    http1_init(&p, true, 0);
    size_t used;
    assert_int_equal(http1_execute(&p, req, head + 7, &used), HTTP1_HEAD);
    assert_int_equal(used, head);
    assert_true(p.head.upgrade);
    assert_int_equal(http1_execute(&p, req + head, 7, &used), HTTP1_MSG_END);
    assert_int_equal(used, 0);
    http1_free(&p);

    const char *resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\n\r\nraw";
    http1_init(&p, false, 0);
    assert_int_equal(http1_execute(&p, resp, strlen(resp), &used), HTTP1_HEAD);
    assert_int_equal(used, strlen(resp) - 3);
    assert_true(p.head.upgrade);
    assert_int_equal(p.head.status, 101);
    assert_int_equal(http1_execute(&p, resp + used, 3, &used), HTTP1_MSG_END);
    assert_int_equal(used, 0);
    http1_free(&p);

    /* A 200 with Upgrade headers is not an upgrade. */
    const char *no = "HTTP/1.1 200 OK\r\nUpgrade: h2\r\nConnection: Upgrade\r\n"
                     "Content-Length: 0\r\n\r\n";
    http1_init(&p, false, 0);
    assert_int_equal(http1_execute(&p, no, strlen(no), &used), HTTP1_HEAD);
    assert_false(p.head.upgrade);
    http1_free(&p);
}

/* Event trace of a whole stream fed in pieces of step bytes: (event, absolute offset) pairs. */
typedef struct trace {
    int ev[32];
    size_t at[32];
    size_t n;
    body_sink body;
} trace;

static void run_stream(const char *msg, size_t len, bool is_request, size_t step, trace *t)
{
    http1_parser p;
    http1_init(&p, is_request, 0);
    p.on_body = sink;
    p.ud = &t->body;
    size_t off = 0;
    t->n = 0;
    t->body.n = 0;
    for (int guard = 0; guard < 100000; guard++) {
        size_t n = len - off < step ? len - off : step;
        size_t used = 0;
        http1_event ev = http1_execute(&p, msg + off, n, &used);
        off += used;
        if (ev != HTTP1_NONE) {
            assert_true(t->n < 32);
            t->ev[t->n] = ev;
            t->at[t->n++] = off;
        }
        if (ev == HTTP1_ERROR || (ev == HTTP1_NONE && off == len))
            break;
    }
    if (http1_finish(&p) == HTTP1_MSG_END) {
        t->ev[t->n] = HTTP1_MSG_END;
        t->at[t->n++] = off;
    }
    http1_free(&p);
}

static void test_any_split_same_result(void **state)
{
    (void)state;
    const char *req = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                      "PUT /b?x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "2;ext=1\r\nde\r\n1\r\nf\r\n0\r\nT: 1\r\n\r\n"
                      "\r\nGET /c HTTP/1.1\r\nHost: h\r\n\r\n";
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                       "HTTP/1.1 204 No Content\r\n\r\n"
                       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n"
                       "HTTP/1.0 200 OK\r\n\r\ntail until close";
    const char *streams[] = {req, resp};
    for (int k = 0; k < 2; k++) {
        size_t len = strlen(streams[k]);
        trace ref, t;
        run_stream(streams[k], len, k == 0, len, &ref);
        assert_int_equal(ref.n, k == 0 ? 6 : 8);
        assert_int_equal(ref.ev[ref.n - 1], HTTP1_MSG_END);
        for (size_t step = 1; step < len; step++) {
            run_stream(streams[k], len, k == 0, step, &t);
            assert_int_equal(t.n, ref.n);
            for (size_t i = 0; i < t.n; i++) {
                assert_int_equal(t.ev[i], ref.ev[i]);
                assert_int_equal(t.at[i], ref.at[i]);
            }
            assert_int_equal(t.body.n, ref.body.n);
            assert_memory_equal(t.body.buf, ref.body.buf, t.body.n);
        }
    }
}

static void test_header_values(void **state)
{
    (void)state;
    const char *m =
        "GET / HTTP/1.1\r\nX:   v  w \t \r\nEmpty:\r\nCookie: a=1; b=2\r\nHost: h\r\n\r\n";
    http1_parser p;
    http1_init(&p, true, 0);
    size_t used;
    assert_int_equal(http1_execute(&p, m, strlen(m), &used), HTTP1_HEAD);
    assert_int_equal(p.head.headers.n, 4);
    assert_string_equal(p.head.headers.v[0].value, "v  w"); /* OWS around the value dropped */
    assert_string_equal(p.head.headers.v[1].name, "Empty");
    assert_string_equal(p.head.headers.v[1].value, "");
    assert_string_equal(p.head.headers.v[2].value, "a=1; b=2");
    http1_free(&p);
}

static void test_keep_alive_flags(void **state)
{
    (void)state;
    http1_parser p;
    size_t used;
    const char *r10 = "GET / HTTP/1.0\r\n\r\n";
    http1_init(&p, true, 0);
    assert_int_equal(http1_execute(&p, r10, strlen(r10), &used), HTTP1_HEAD);
    assert_false(p.head.keep_alive);
    assert_int_equal(p.head.http_minor, 0);
    http1_free(&p);
    const char *close = "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    http1_init(&p, true, 0);
    assert_int_equal(http1_execute(&p, close, strlen(close), &used), HTTP1_HEAD);
    assert_false(p.head.keep_alive);
    http1_free(&p);
    /* Interim 100 Continue, then the real response. */
    const char *cont =
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
    http1_init(&p, false, 0);
    assert_int_equal(http1_execute(&p, cont, strlen(cont), &used), HTTP1_HEAD);
    assert_int_equal(p.head.status, 100);
    size_t off = used;
    assert_int_equal(http1_execute(&p, cont + off, strlen(cont) - off, &used), HTTP1_MSG_END);
    assert_int_equal(http1_execute(&p, cont + off, strlen(cont) - off, &used), HTTP1_HEAD);
    assert_int_equal(p.head.status, 201);
    off += used;
    assert_int_equal(http1_execute(&p, cont + off, strlen(cont) - off, &used), HTTP1_MSG_END);
    assert_int_equal(off, strlen(cont));
    http1_free(&p);
}

/* Decoded bodies and trailers through the driver; a bad body is 400 (request) or 502
 * (response); nothing after the end of a message counts as its body. */
static void test_driver_bodies(void **state)
{
    (void)state;
    const char *req = "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3;x=y\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n";
    http1_parser p;
    body_sink b = {.n = 0};
    http1_init(&p, true, 0);
    p.on_body = sink;
    p.ud = &b;
    size_t used, off = 0, len = strlen(req);
    assert_int_equal(http1_execute(&p, req, len, &used), HTTP1_HEAD);
    off += used;
    assert_int_equal(http1_execute(&p, req + off, len - off, &used), HTTP1_MSG_END);
    off += used;
    assert_memory_equal(req + off, "GET /b", 6);
    assert_int_equal(b.n, 3);
    assert_memory_equal(b.buf, "abc", 3);
    assert_int_equal(p.body.ch.trailer_len, strlen("X-Sum: 1\r\n"));
    assert_int_equal(http1_execute(&p, req + off, len - off, &used), HTTP1_HEAD);
    assert_string_equal(p.head.target, "/b");
    http1_free(&p);

    /* a smuggling attempt in a chunk extension stops at the bare LF */
    const char *smug = "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "0;x\n\nGET /other HTTP/1.1\r\nHost: h\r\n\r\n";
    http1_init(&p, true, 0);
    len = strlen(smug);
    assert_int_equal(http1_execute(&p, smug, len, &used), HTTP1_HEAD);
    off = used;
    assert_int_equal(http1_execute(&p, smug + off, len - off, &used), HTTP1_ERROR);
    assert_int_equal(p.err.status, 400);
    assert_true(off + used < (size_t)(strstr(smug, "GET /other") - smug));
    assert_int_equal(http1_execute(&p, "x", 1, &used), HTTP1_ERROR); /* sticky */
    http1_free(&p);

    const char *resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX";
    http1_init(&p, false, 0);
    len = strlen(resp);
    assert_int_equal(http1_execute(&p, resp, len, &used), HTTP1_HEAD);
    off = used;
    assert_int_equal(http1_execute(&p, resp + off, len - off, &used), HTTP1_ERROR);
    assert_int_equal(p.err.status, 502);
    http1_free(&p);

    /* EOF inside a head */
    http1_init(&p, true, 0);
    assert_int_equal(http1_execute(&p, "GET / HT", 8, &used), HTTP1_NONE);
    assert_int_equal(http1_finish(&p), HTTP1_ERROR);
    http1_free(&p);
    http1_init(&p, true, 0);
    assert_int_equal(http1_execute(&p, "\r\n", 2, &used), HTTP1_NONE);
    assert_int_equal(http1_finish(&p), HTTP1_NONE);
    http1_free(&p);

    /* the HEAD hint holds across an interim response: 103, then a bodiless 200 */
    const char *hints = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                        "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"
                        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
    http1_init(&p, false, 0);
    http1_expect_no_body(&p);
    len = strlen(hints);
    off = 0;
    int heads = 0;
    while (off < len) {
        http1_event ev = http1_execute(&p, hints + off, len - off, &used);
        off += used;
        if (ev == HTTP1_HEAD)
            heads++;
        if (ev == HTTP1_HEAD && heads == 2) {
            assert_int_equal(p.head.status, 200);
            assert_int_equal(p.head.framing, HTTP1_FRAMING_NONE);
            assert_true(p.head.keep_alive);
        }
        if (ev == HTTP1_HEAD && heads == 3)
            assert_int_equal(p.head.framing, HTTP1_FRAMING_LENGTH); /* the hint was used */
        assert_int_not_equal(ev, HTTP1_ERROR);
    }
    assert_int_equal(heads, 3);
    http1_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_offsets),
        cmocka_unit_test(test_split_input),
        cmocka_unit_test(test_chunked_response_and_trailers),
        cmocka_unit_test(test_response_head_and_bodiless),
        cmocka_unit_test(test_body_until_close),
        cmocka_unit_test(test_head_too_big),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_upgrade),
        cmocka_unit_test(test_any_split_same_result),
        cmocka_unit_test(test_header_values),
        cmocka_unit_test(test_keep_alive_flags),
        cmocka_unit_test(test_driver_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
