/* SPDX-License-Identifier: MIT */
/* The binary-mode mux (server/mux_bin.c) against a fake link: what goes out for a request (OPEN,
 * DATA within the window, TRAILERS, RESET), what comes back to the stream's owner (heads parsed
 * strictly, bodies, trailers, the end), and every protocol violation of a hostile agent resetting
 * only its stream with protocol_error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "fake_link.h"

typedef struct fixture {
    fake_link link;
    mux *m;
    owner own;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    mux_link l = fake_link_of(&f->link);
    mux_ident id = {.log = NULL, .agent = "127.0.0.1", .tunnel = "t1"}; /* NULL: not logged */
    f->m = mux_bin_new(&l, &id);
    assert_non_null(f->m);
    f->own.ops = f->m->ops;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->m)
        f->m->vt->free(f->m, NULL);
    fake_clear(&f->link);
    free(f);
    return 0;
}

static mux_stream *open_req(fixture *f, const char *method, bool body, bool upgrade)
{
    http_headers h;
    http_headers_init(&h);
    http_headers_add(&h, "Host", 4, "x.localhost", 11);
    mux_request rq = {.tunnel = 0,
                      .method = method,
                      .target = "/p?q=1",
                      .headers = &h,
                      .body = body,
                      .upgrade = upgrade};
    int status = 0;
    const char *why = NULL;
    mux_stream *s = f->m->ops->open(f->m, &rq, &owner_upcalls, &f->own, &status, &why);
    http_headers_free(&h);
    return s;
}

/* Feeds one frame from the agent. */
static void agent(fixture *f, uint8_t type, uint8_t flags, uint32_t sid, const char *payload,
                  size_t len)
{
    uint8_t buf[70000];
    ttf_frame_header(buf, type, flags, sid);
    memcpy(buf + TTF_BIN_HDR, payload, len);
    f->m->vt->on_binary(f->m, buf, TTF_BIN_HDR + len);
}

static void agent_s(fixture *f, uint8_t type, uint8_t flags, uint32_t sid, const char *payload)
{
    agent(f, type, flags, sid, payload, strlen(payload));
}

static void opens(void **state)
{
    fixture *f = *state;
    mux_stream *s = open_req(f, "GET", false, false);
    assert_non_null(s);
    assert_int_equal(f->link.n, 1);
    assert_int_equal(fake_type(&f->link, 0), TTF_OPEN);
    assert_int_equal(fake_flags(&f->link, 0), TTF_FLAG_FIN);
    assert_int_equal(f->link.msgs[0].data[6], 0); /* tunnel index */
    assert_string_equal((char *)f->link.msgs[0].data + 7,
                        "GET /p?q=1 HTTP/1.1\r\nHost: x.localhost\r\n\r\n");
    assert_int_equal(f->m->ops->room(s), 0); /* FIN sent: no body */
    mux_stream *s2 = open_req(f, "POST", true, false);
    assert_int_equal(fake_flags(&f->link, 1), 0);
    assert_true(fake_sid(&f->link, 1) != fake_sid(&f->link, 0));
    assert_int_equal(f->m->vt->streams(f->m), 2);
    f->m->ops->close(s, MUX_CANCEL, "gone");
    f->m->ops->close(s2, MUX_CANCEL, "gone");
    assert_int_equal(fake_type(&f->link, 2), TTF_RESET);
    assert_int_equal(f->link.msgs[2].data[6], TTF_RST_CANCEL);
    assert_int_equal(f->m->vt->streams(f->m), 0);
}

/* An ended stream is kept and taken by the next open, in its new state only: its own id, its
 * own window, no leftover of the one before. */
static void stream_reused(void **state)
{
    fixture *f = *state;
    mux_stream *s1 = open_req(f, "POST", true, false);
    size_t room = f->m->ops->room(s1);
    assert_true(room > 0);
    uint32_t sid1 = fake_sid(&f->link, 0);
    f->m->ops->close(s1, MUX_CANCEL, "gone");
    mux_stream *s2 = open_req(f, "GET", false, false);
    assert_ptr_equal(s2, s1); /* the spare */
    assert_true(fake_sid(&f->link, f->link.n - 1) != sid1);
    assert_int_equal(f->m->ops->room(s2), 0); /* FIN sent: no body */
    f->m->ops->close(s2, MUX_CANCEL, "gone");
    mux_stream *s3 = open_req(f, "POST", true, false);
    assert_int_equal(f->m->ops->room(s3), room);
    assert_int_equal(f->m->vt->streams(f->m), 1);
    f->m->ops->close(s3, MUX_CANCEL, "gone");
}

static void request_body(void **state)
{
    fixture *f = *state;
    mux_stream *s = open_req(f, "POST", true, false);
    size_t room = f->m->ops->room(s);
    assert_int_equal(room, 256 * 1024);
    static char big[200000];
    memset(big, 'a', sizeof big);
    assert_int_equal(f->m->ops->send_body(s, big, sizeof big), 0);
    /* 64 KiB frames at most */
    assert_int_equal(f->link.n, 1 + 4);
    for (size_t i = 1; i < f->link.n; i++) {
        assert_int_equal(fake_type(&f->link, i), TTF_DATA);
        assert_true(f->link.msgs[i].len - TTF_BIN_HDR <= TTF_BIN_MAX_DATA);
    }
    assert_int_equal(f->m->ops->room(s), 256 * 1024 - sizeof big);
    /* the link above its high water: no room */
    f->link.pending = 2u << 20;
    assert_int_equal(f->m->ops->room(s), 0);
    f->link.pending = 0;
    /* WINDOW from the agent: room again and a resume */
    char w[4] = {0, 1, 0, 0};
    agent(f, TTF_WINDOW, 0, fake_sid(&f->link, 0), w, 4);
    assert_int_equal(f->own.resumes, 1);
    assert_int_equal(f->m->ops->room(s), 256 * 1024 - sizeof big + 65536);
    /* trailers end the body */
    http_headers tr;
    http_headers_init(&tr);
    http_headers_add(&tr, "X-Sum", 5, "42", 2);
    assert_int_equal(f->m->ops->end_body(s, &tr), 0);
    size_t last = f->link.n - 1;
    assert_int_equal(fake_type(&f->link, last), TTF_TRAILERS);
    assert_int_equal(fake_flags(&f->link, last), TTF_FLAG_FIN);
    assert_string_equal((char *)f->link.msgs[last].data + TTF_BIN_HDR, "X-Sum: 42\r\n\r\n");
    http_headers_free(&tr);
    assert_int_equal(f->m->ops->room(s), 0);
}

/* An agent that asked for a smaller first request window (ready.request_window): streams opened
 * from then on start with it, take no more body before they open (first_room), and grow with the
 * agent's WINDOW credit. */
static void agent_request_window(void **state)
{
    fixture *f = *state;
    mux_stream *s0 = open_req(f, "POST", true, false);
    assert_int_equal(f->m->ops->room(s0), 256 * 1024); /* opened before: the protocol's */
    assert_int_equal(f->m->first_room, 0);
    mux_bin_set_request_window(f->m, 64 * 1024);
    assert_int_equal(f->m->first_room, 64 * 1024);
    mux_stream *s = open_req(f, "POST", true, false);
    assert_int_equal(f->m->ops->room(s), 64 * 1024);
    static char big[64 * 1024];
    assert_int_equal(f->m->ops->send_body(s, big, sizeof big), 0);
    assert_int_equal(f->m->ops->room(s), 0);
    char w[4] = {0, 4, 0, 0}; /* 256 KiB: the window grows past its first size */
    agent(f, TTF_WINDOW, 0, fake_sid(&f->link, 1), w, 4);
    assert_int_equal(f->m->ops->room(s), 256 * 1024);
    f->m->ops->close(s0, MUX_CANCEL, "gone");
    f->m->ops->close(s, MUX_CANCEL, "gone");
}

static void response(void **state)
{
    fixture *f = *state;
    mux_stream *s = open_req(f, "GET", false, false);
    uint32_t sid = fake_sid(&f->link, 0);
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
    assert_int_equal(f->own.heads, 1);
    assert_int_equal(f->own.status, 103);
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
    assert_int_equal(f->own.heads, 2);
    assert_int_equal(f->own.status, 200);
    assert_int_equal(f->own.known_len, -1);
    agent_s(f, TTF_DATA, 0, sid, "hel");
    agent_s(f, TTF_DATA, TTF_FLAG_FIN, sid, "lo");
    assert_int_equal(f->own.body_len, 5);
    assert_memory_equal(f->own.body, "hello", 5);
    assert_int_equal(f->own.ends, 1);
    /* both directions ended: closing sends nothing */
    size_t n = f->link.n;
    f->m->ops->close(s, MUX_DONE, NULL);
    assert_int_equal(f->link.n, n);
    /* FIN on the head: no body, known length 0 */
    s = open_req(f, "GET", false, false);
    sid = fake_sid(&f->link, f->link.n - 1);
    agent_s(f, TTF_RESPONSE, TTF_FLAG_FIN, sid, "HTTP/1.1 204 No Content\r\n\r\n");
    assert_int_equal(f->own.status, 204);
    assert_int_equal(f->own.known_len, 0);
    assert_true(f->own.fin);
    assert_int_equal(f->own.ends, 2);
    f->m->ops->close(s, MUX_DONE, NULL);
    /* trailers end a response */
    s = open_req(f, "GET", false, false);
    sid = fake_sid(&f->link, f->link.n - 1);
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\n\r\n");
    agent_s(f, TTF_TRAILERS, TTF_FLAG_FIN, sid, "X-Checksum: abc\r\n\r\n");
    assert_int_equal(f->own.ends, 3);
    assert_string_equal(f->own.trailers, "X-Checksum=abc;");
    f->m->ops->close(s, MUX_DONE, NULL);
}

/* Each violation resets its stream with protocol_error and reports fail(protocol); a second
 * stream of the same agent is untouched. */
/* A fresh owner and link, and two GET streams: the other one and the one a case is about. */
static void open_two(fixture *f, mux_stream **other, uint32_t *other_sid, mux_stream **s,
                     uint32_t *sid)
{
    memset(&f->own, 0, sizeof f->own);
    f->own.ops = f->m->ops;
    fake_clear(&f->link);
    *other = open_req(f, "GET", false, false);
    *other_sid = fake_sid(&f->link, 0);
    *s = open_req(f, "GET", false, false);
    *sid = fake_sid(&f->link, 1);
}

/* The stream sid failed as a protocol error: the owner got 502, the agent RESET protocol_error. */
static void assert_protocol_reset(fixture *f, const char *what, uint32_t sid)
{
    if (f->own.fails != 1 || !f->own.fail_protocol || f->own.fail_status != 502)
        fail_msg("%s: fails %d protocol %d status %d", what, f->own.fails, f->own.fail_protocol,
                 f->own.fail_status);
    size_t last = f->link.n - 1;
    assert_int_equal(fake_type(&f->link, last), TTF_RESET);
    assert_int_equal(fake_sid(&f->link, last), sid);
    assert_int_equal(f->link.msgs[last].data[6], TTF_RST_PROTOCOL_ERROR);
}

/* The other stream, the only one left, still takes its answer. */
static void assert_other_works(fixture *f, mux_stream *other, uint32_t other_sid)
{
    assert_int_equal(f->m->vt->streams(f->m), 1);
    agent_s(f, TTF_RESPONSE, TTF_FLAG_FIN, other_sid, "HTTP/1.1 204 No Content\r\n\r\n");
    assert_int_equal(f->own.status, 204);
    f->m->ops->close(other, MUX_DONE, NULL);
}

static void hostile(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *name;
        uint8_t type, flags;
        const char *first; /* a RESPONSE sent before (NULL: none) */
        const char *payload;
    } cases[] = {
        {"DATA before RESPONSE", TTF_DATA, 0, NULL, "x"},
        {"second final", TTF_RESPONSE, 0, "HTTP/1.1 200 OK\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n"},
        {"FIN on 1xx", TTF_RESPONSE, TTF_FLAG_FIN, NULL, "HTTP/1.1 100 Continue\r\n\r\n"},
        {"101 without upgrade", TTF_RESPONSE, 0, NULL, "HTTP/1.1 101 Switching Protocols\r\n\r\n"},
        {"bad head", TTF_RESPONSE, 0, NULL, "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"},
        {"bare LF", TTF_RESPONSE, 0, NULL, "HTTP/1.1 200 OK\nX: y\r\n\r\n"},
        {"trailing bytes", TTF_RESPONSE, 0, NULL, "HTTP/1.1 200 OK\r\n\r\nGET / HTTP/1.1\r\n"},
        {"status 600", TTF_RESPONSE, 0, NULL, "HTTP/1.1 600 Odd\r\n\r\n"},
        {"DATA after FIN", TTF_DATA, 0, NULL, NULL},
        {"TRAILERS before head", TTF_TRAILERS, TTF_FLAG_FIN, NULL, "X: y\r\n\r\n"},
        {"bad trailers", TTF_TRAILERS, TTF_FLAG_FIN, "HTTP/1.1 200 OK\r\n\r\n", "X y\r\n\r\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mux_stream *other, *s;
        uint32_t other_sid, sid;
        open_two(f, &other, &other_sid, &s, &sid);
        if (cases[i].first)
            agent_s(f, TTF_RESPONSE, 0, sid, cases[i].first);
        if (!cases[i].payload) { /* DATA after FIN */
            agent_s(f, TTF_RESPONSE, TTF_FLAG_FIN, sid, "HTTP/1.1 200 OK\r\n\r\n");
            agent_s(f, TTF_DATA, 0, sid, "forged");
        } else {
            agent_s(f, cases[i].type, cases[i].flags, sid, cases[i].payload);
        }
        assert_protocol_reset(f, cases[i].name, sid);
        assert_other_works(f, other, other_sid);
    }
}

/* A RESPONSE head of `fields` lines "a: b" (the first Content-Length: 0) and one more of vlen
 * bytes when vlen, as one frame with FIN. */
static void agent_head(fixture *f, uint32_t sid, size_t fields, size_t vlen)
{
    size_t cap = TTF_BIN_HDR + 64 + fields * 6 + vlen + 8, k = TTF_BIN_HDR;
    uint8_t *buf = malloc(cap);
    ttf_frame_header(buf, TTF_RESPONSE, TTF_FLAG_FIN, sid);
    k += (size_t)snprintf((char *)buf + k, cap - k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n");
    for (size_t i = 1; i < fields; i++)
        k += (size_t)snprintf((char *)buf + k, cap - k, "a: b\r\n");
    if (vlen) {
        k += (size_t)snprintf((char *)buf + k, cap - k, "y: ");
        memset(buf + k, 'v', vlen);
        k += vlen;
        k += (size_t)snprintf((char *)buf + k, cap - k, "\r\n");
    }
    k += (size_t)snprintf((char *)buf + k, cap - k, "\r\n");
    f->m->vt->on_binary(f->m, buf, k);
    free(buf);
}

/* A response head over HTTP1_AGENT_MAX_FIELDS lines or HTTP1_AGENT_MAX_HEAD bytes: 502 "too big
 * a response head" and RESET protocol_error, the other stream goes on; at the limit it passes. */
static void head_limits(void **state)
{
    fixture *f = *state;
    static const struct {
        size_t fields, vlen;
    } cases[] = {{HTTP1_AGENT_MAX_FIELDS, 0},
                 {HTTP1_AGENT_MAX_FIELDS + 1, 0},
                 {1, HTTP1_AGENT_MAX_HEAD},
                 {1, HTTP1_AGENT_MAX_HEAD - 64}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mux_stream *other, *s;
        uint32_t other_sid, sid;
        open_two(f, &other, &other_sid, &s, &sid);
        agent_head(f, sid, cases[i].fields, cases[i].vlen);
        if (i == 0 || i == 3) { /* at the limits */
            assert_int_equal(f->own.fails, 0);
            assert_int_equal(f->own.status, 200);
            assert_int_equal(f->own.ends, 1);
            f->m->ops->close(s, MUX_DONE, NULL);
        } else {
            char name[32];
            snprintf(name, sizeof name, "case %zu", i);
            assert_protocol_reset(f, name, sid);
            assert_string_equal(f->own.fail_why, "the tunnel agent sent too big a response head");
        }
        assert_other_works(f, other, other_sid);
    }
}

/* A TRAILERS frame within HTTP1_AGENT_MAX_TRAILER (16 KiB as ttf read it, a space added after
 * each colon) ends the stream; one byte more resets it. */
static void trailer_limit(void **state)
{
    fixture *f = *state;
    static char tr[HTTP1_AGENT_MAX_TRAILER + 16];
    for (int over = 0; over < 2; over++) {
        memset(&f->own, 0, sizeof f->own);
        f->own.ops = f->m->ops;
        fake_clear(&f->link);
        mux_stream *s = open_req(f, "GET", false, false);
        uint32_t sid = fake_sid(&f->link, 0);
        agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\n\r\n");
        /* "X: vvv...\r\n" of HTTP1_AGENT_MAX_TRAILER (+1) octets, then the empty line */
        size_t n = HTTP1_AGENT_MAX_TRAILER + 2 + (size_t)over;
        memcpy(tr, "X: ", 3);
        memset(tr + 3, 'v', n - 7);
        memcpy(tr + n - 4, "\r\n\r\n", 4);
        agent(f, TTF_TRAILERS, TTF_FLAG_FIN, sid, tr, n);
        if (!over) {
            assert_int_equal(f->own.fails, 0);
            assert_int_equal(f->own.ends, 1);
            f->m->ops->close(s, MUX_DONE, NULL);
        } else {
            assert_int_equal(f->own.fails, 1);
            assert_int_equal(fake_type(&f->link, f->link.n - 1), TTF_RESET);
        }
        assert_int_equal(f->m->vt->streams(f->m), 0);
    }
}

static void window_exceeded(void **state)
{
    fixture *f = *state;
    open_req(f, "GET", false, false);
    uint32_t sid = fake_sid(&f->link, 0);
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\n\r\n");
    static char chunk[TTF_BIN_MAX_DATA];
    memset(chunk, 'z', sizeof chunk);
    for (int i = 0; i < 4; i++) /* exactly the initial window */
        agent(f, TTF_DATA, 0, sid, chunk, sizeof chunk);
    assert_int_equal(f->own.fails, 0);
    agent(f, TTF_DATA, 0, sid, chunk, 1);
    assert_int_equal(f->own.fails, 1);
    assert_true(f->own.fail_protocol);
}

static void credit(void **state)
{
    fixture *f = *state;
    mux_stream *s = open_req(f, "GET", false, false);
    uint32_t sid = fake_sid(&f->link, 0);
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\n\r\n");
    static char chunk[TTF_BIN_MAX_DATA];
    agent(f, TTF_DATA, 0, sid, chunk, sizeof chunk);
    size_t n = f->link.n;
    f->m->ops->credit(s, 0); /* 64 KiB handed on: credit waits for 128 KiB */
    assert_int_equal(f->link.n, n);
    agent(f, TTF_DATA, 0, sid, chunk, sizeof chunk);
    f->m->ops->credit(s, 1u << 20); /* the client is slow: no credit yet */
    assert_int_equal(f->link.n, n);
    f->m->ops->credit(s, 0);
    assert_int_equal(f->link.n, n + 1);
    assert_int_equal(fake_type(&f->link, n), TTF_WINDOW);
    /* the first credit of a body also grows its window by 256 KiB: 128 + 256 KiB */
    const fake_msg *w = &f->link.msgs[n];
    assert_int_equal(w->len, TTF_BIN_HDR + 4);
    const uint8_t *v = w->data + TTF_BIN_HDR;
    assert_int_equal((uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3],
                     384u << 10);
    f->m->ops->credit(s, 0); /* nothing more to credit */
    assert_int_equal(f->link.n, n + 1);
    /* 128 KiB still allowed of the first 256, and the 384 KiB credited: 512 KiB, not a byte more */
    for (int i = 0; i < 8; i++)
        agent(f, TTF_DATA, 0, sid, chunk, sizeof chunk);
    assert_int_equal(f->own.fails, 0);
    agent(f, TTF_DATA, 0, sid, chunk, 1);
    assert_int_equal(f->own.fails, 1);
    assert_true(f->own.fail_protocol);
}

static uint32_t window_of(const fake_msg *w)
{
    const uint8_t *v = w->data + TTF_BIN_HDR;
    return (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
}

/* A client that reads nothing (its receive window shut, the kernel holding what it was sent)
 * gets no BULK_EXTRA: its stream stays at 256 KiB, what ttfd holds for it once it stalls. Once
 * it reads, the next credit grows the window. */
static void no_bulk_for_a_client_that_does_not_read(void **state)
{
    fixture *f = *state;
    f->own.reads_nothing = true;
    mux_stream *s = open_req(f, "GET", false, false);
    uint32_t sid = fake_sid(&f->link, 0);
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\n\r\n");
    static char chunk[TTF_BIN_MAX_DATA];
    agent(f, TTF_DATA, 0, sid, chunk, sizeof chunk);
    agent(f, TTF_DATA, 0, sid, chunk, sizeof chunk);
    size_t n = f->link.n;
    f->m->ops->credit(s, 0);
    assert_int_equal(f->link.n, n + 1);
    assert_int_equal(window_of(&f->link.msgs[n]), 128u << 10); /* the bytes taken, no more */
    for (int i = 0; i < 4; i++) /* 256 KiB in flight: the whole window */
        agent(f, TTF_DATA, 0, sid, chunk, sizeof chunk);
    agent(f, TTF_DATA, 0, sid, chunk, 1);
    assert_int_equal(f->own.fails, 1); /* one octet past it is an overrun */
    s = open_req(f, "GET", false, false);
    sid = fake_sid(&f->link, f->link.n - 1);
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\n\r\n");
    agent(f, TTF_DATA, 0, sid, chunk, sizeof chunk);
    agent(f, TTF_DATA, 0, sid, chunk, sizeof chunk);
    f->m->ops->credit(s, 0);
    f->own.reads_nothing = false; /* it reads now */
    agent(f, TTF_DATA, 0, sid, chunk, sizeof chunk);
    agent(f, TTF_DATA, 0, sid, chunk, sizeof chunk);
    n = f->link.n;
    f->m->ops->credit(s, 0);
    assert_int_equal(window_of(&f->link.msgs[n]), 384u << 10);
}

static void unknown_and_reset(void **state)
{
    fixture *f = *state;
    /* frames for a stream that never was: answered with RESET cancel, nothing else happens */
    agent_s(f, TTF_DATA, 0, 77, "x");
    assert_int_equal(f->link.n, 1);
    assert_int_equal(fake_type(&f->link, 0), TTF_RESET);
    assert_int_equal(fake_sid(&f->link, 0), 77);
    agent_s(f, TTF_RESPONSE, 0, 78, "HTTP/1.1 200 OK\r\n\r\n");
    assert_int_equal(f->link.n, 2);
    /* the agent resets a stream: its status */
    open_req(f, "GET", false, false);
    uint32_t sid = fake_sid(&f->link, 2);
    char rst[] = {TTF_RST_TIMEOUT, 'l', 'a', 't', 'e'};
    agent(f, TTF_RESET, 0, sid, rst, sizeof rst);
    assert_int_equal(f->own.fails, 1);
    assert_int_equal(f->own.fail_status, 504);
    assert_false(f->own.fail_protocol);
    assert_int_equal(f->m->vt->streams(f->m), 0);
    /* a malformed frame is dropped */
    uint8_t junk[3] = {9, 9, 9};
    f->m->vt->on_binary(f->m, junk, sizeof junk);
}

static void close_inside_upcall(void **state)
{
    fixture *f = *state;
    mux_stream *s = open_req(f, "GET", false, false);
    uint32_t sid = fake_sid(&f->link, 0);
    f->own.close_on_head = s;
    agent_s(f, TTF_RESPONSE, TTF_FLAG_FIN, sid, "HTTP/1.1 200 OK\r\n\r\n");
    assert_int_equal(f->own.heads, 1);
    assert_int_equal(f->own.ends, 0); /* closed: no more upcalls */
    assert_int_equal(f->m->vt->streams(f->m), 0);
}

static void upgrade_pipe(void **state)
{
    fixture *f = *state;
    mux_stream *s = open_req(f, "GET", true, true);
    uint32_t sid = fake_sid(&f->link, 0);
    agent_s(
        f, TTF_RESPONSE, 0, sid,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    assert_int_equal(f->own.status, 101);
    agent_s(f, TTF_DATA, 0, sid, "\x81\x02hi");
    assert_int_equal(f->own.body_len, 4);
    assert_int_equal(f->m->ops->send_body(s, "raw", 3), 0);
    assert_int_equal(f->m->ops->end_body(s, NULL), 0);
    agent_s(f, TTF_DATA, TTF_FLAG_FIN, sid, "");
    assert_int_equal(f->own.ends, 1);
    size_t n = f->link.n;
    f->m->ops->close(s, MUX_DONE, NULL);
    assert_int_equal(f->link.n, n);
}

/* mux_set_max_streams: one stream more than the limit is refused (answered 503) before anything
 * reaches the agent; a stream that ends (closed by its owner, reset by the agent) frees its
 * place at once. */
static void stream_limit(void **state)
{
    fixture *f = *state;
    mux_set_max_streams(f->m, 2);
    mux_stream *a = open_req(f, "GET", false, false);
    mux_stream *b = open_req(f, "GET", false, false);
    assert_non_null(a);
    assert_non_null(b);
    assert_agent_full(f->m, &f->link);
    assert_int_equal(f->m->vt->streams(f->m), 2);
    a->m->ops->close(a, MUX_CANCEL, "client went away");
    mux_stream *c = open_req(f, "GET", false, false);
    assert_non_null(c);
    /* the agent resets b: its place is free too */
    agent(f, TTF_RESET, 0, fake_sid(&f->link, 1), "\x03", 1);
    assert_int_equal(f->m->vt->streams(f->m), 1);
    assert_non_null(open_req(f, "GET", false, false));
    assert_agent_full(f->m, &f->link);
    mux_set_max_streams(f->m, 0); /* no limit */
    assert_int_equal(mux_admit_stream(f->m), MUX_ADMIT_OK);
}

static void link_gone(void **state)
{
    fixture *f = *state;
    open_req(f, "GET", false, false);
    open_req(f, "POST", true, false);
    f->m->vt->free(f->m, "the tunnel agent went away");
    f->m = NULL;
    assert_int_equal(f->own.fails, 2);
    assert_int_equal(f->own.fail_status, 502);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(opens, setup, teardown),
        cmocka_unit_test_setup_teardown(stream_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(request_body, setup, teardown),
        cmocka_unit_test_setup_teardown(response, setup, teardown),
        cmocka_unit_test_setup_teardown(hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(head_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(trailer_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(window_exceeded, setup, teardown),
        cmocka_unit_test_setup_teardown(agent_request_window, setup, teardown),
        cmocka_unit_test_setup_teardown(credit, setup, teardown),
        cmocka_unit_test_setup_teardown(no_bulk_for_a_client_that_does_not_read, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_and_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(close_inside_upcall, setup, teardown),
        cmocka_unit_test_setup_teardown(upgrade_pipe, setup, teardown),
        cmocka_unit_test_setup_teardown(stream_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(link_gone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
