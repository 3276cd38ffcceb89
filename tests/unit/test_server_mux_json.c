/* SPDX-License-Identifier: MIT */
/* The JSON-mode mux (server/mux_json.c) against a fake link: http_request in the pass of its head
 * (with the first body bytes), body pieces per flush, heads split over continuation messages,
 * cancel, the response head/pieces/continuations handed on, errors and cancels from the agent,
 * protocol violations, the backlog pause of the link, and per-request windows (response and
 * request bodies). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "b64.h"
#include "fake_link.h"
#include "proto_json.h"

typedef struct fixture {
    fake_link link;
    mux *m;
    owner own;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->m = fake_mux_json(&f->link);
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

/* The i-th message sent, decoded (the caller frees). */
static tmsg sent(fixture *f, size_t i)
{
    tmsg m;
    const char *err = NULL;
    assert_true(i < f->link.n);
    assert_true(f->link.msgs[i].text);
    if (tmsg_decode((const char *)f->link.msgs[i].data, f->link.msgs[i].len, &m, &err) != 0)
        fail_msg("message %zu does not decode: %s: %s", i, err, (char *)f->link.msgs[i].data);
    return m;
}

/* The one exchange so far failed as a bad message: the owner was told (protocol error) and the
 * agent got a cancel saying protocol_error. */
static void assert_failed_with_protocol_error(fixture *f)
{
    assert_int_equal(f->own.fails, 1);
    assert_true(f->own.fail_protocol);
    tmsg m = sent(f, f->link.n - 1);
    assert_int_equal(m.type, TMSG_CANCEL);
    assert_non_null(strstr(m.reason, "protocol_error"));
    tmsg_free(&m);
}

static mux_stream *open_req(fixture *f, bool body, size_t extra_header)
{
    http_headers h;
    http_headers_init(&h);
    http_headers_add(&h, "Host", 4, "x.localhost", 11);
    char *big = NULL;
    if (extra_header) {
        big = malloc(extra_header);
        memset(big, 'c', extra_header);
        for (int i = 0; i < 8; i++) /* several fields, each within a message */
            http_headers_add(&h, "Cookie", 6, big, extra_header / 8);
    }
    mux_request rq = {.method = "POST", .target = "/up", .headers = &h, .body = body};
    int status = 0;
    const char *why = NULL;
    mux_stream *s = f->m->ops->open(f->m, &rq, &owner_upcalls, &f->own, &status, &why);
    http_headers_free(&h);
    free(big);
    return s;
}

static void agent_msg(fixture *f, const char *json)
{
    tmsg m;
    const char *err = NULL;
    if (tmsg_decode(json, strlen(json), &m, &err) != 0)
        fail_msg("test message does not decode: %s", err);
    f->m->vt->on_message(f->m, &m);
    tmsg_free(&m);
}

static const char *rid_of(fixture *f)
{
    static char rid[64];
    tmsg m = sent(f, 0);
    snprintf(rid, sizeof rid, "%s", m.request_id);
    tmsg_free(&m);
    return rid;
}

static void request_streams(void **state)
{
    fixture *f = *state;
    mux_stream *s = open_req(f, true, 0);
    assert_int_equal(f->link.n, 0); /* the head leaves at the pass's flush */
    assert_int_equal(f->m->ops->send_body(s, "hello", 5), 0);
    f->m->ops->flush(s);
    assert_int_equal(f->link.n, 1);
    tmsg m = sent(f, 0);
    assert_int_equal(m.type, TMSG_HTTP_REQUEST);
    assert_string_equal(m.method, "POST");
    assert_string_equal(m.uri, "/up");
    assert_int_equal(m.body_len, 5);
    assert_true(m.more);
    tmsg_free(&m);
    /* the next pass: one piece with what came */
    f->m->ops->send_body(s, " world", 6);
    f->m->ops->flush(s);
    m = sent(f, 1);
    assert_int_equal(m.type, TMSG_HTTP_REQUEST_BODY);
    assert_int_equal(m.seq, 1);
    assert_int_equal(m.body_len, 6);
    assert_true(m.more);
    tmsg_free(&m);
    /* nothing staged: nothing sent */
    f->m->ops->flush(s);
    assert_int_equal(f->link.n, 2);
    f->m->ops->end_body(s, NULL);
    f->m->ops->flush(s);
    m = sent(f, 2);
    assert_int_equal(m.seq, 2);
    assert_int_equal(m.body_len, 0);
    assert_false(m.more);
    tmsg_free(&m);
    assert_int_equal(f->m->ops->room(s), 0);
}

static void bodiless_and_big_pass(void **state)
{
    fixture *f = *state;
    mux_stream *s = open_req(f, false, 0);
    f->m->ops->flush(s);
    tmsg m = sent(f, 0);
    assert_false(m.more);
    assert_int_equal(m.body_len, 0);
    tmsg_free(&m);
    f->m->ops->close(s, MUX_CANCEL, "gone"); /* the request is out: a cancel goes */
    m = sent(f, 1);
    assert_int_equal(m.type, TMSG_CANCEL);
    tmsg_free(&m);
    /* a pass with more than a piece: several pieces, none over TTF_JSON_CHUNK */
    fake_clear(&f->link);
    s = open_req(f, true, 0);
    size_t room = f->m->ops->room(s);
    assert_true(room >= 2 * TTF_JSON_CHUNK - 1);
    char *big = calloc(1, room);
    assert_int_equal(f->m->ops->send_body(s, big, room), 0);
    f->m->ops->end_body(s, NULL);
    f->m->ops->flush(s);
    size_t total = 0;
    for (size_t i = 0; i < f->link.n; i++) {
        m = sent(f, i);
        assert_true(m.body_len <= TTF_JSON_CHUNK);
        assert_true(f->link.msgs[i].len <= TTF_JSON_MAX_MSG);
        total += m.body_len;
        assert_int_equal(m.more, i + 1 < f->link.n);
        tmsg_free(&m);
    }
    assert_int_equal(total, room);
    free(big);
    /* closing after both ends sends nothing */
    agent_msg(f, "{\"type\":\"http_response\",\"request_id\":\"x\",\"status_code\":200}");
}

static void big_head(void **state)
{
    fixture *f = *state;
    mux_stream *s = open_req(f, false, 200 * 1000); /* 200 KB of Cookie fields */
    f->m->ops->flush(s);
    assert_true(f->link.n >= 2);
    tmsg m = sent(f, 0);
    assert_int_equal(m.type, TMSG_HTTP_REQUEST);
    assert_true(m.headers_more);
    tmsg_free(&m);
    for (size_t i = 0; i < f->link.n; i++) {
        assert_true(f->link.msgs[i].len <= TTF_JSON_MAX_MSG);
        if (i > 0) {
            m = sent(f, i);
            assert_int_equal(m.type, TMSG_HTTP_REQUEST_HEADERS);
            assert_int_equal(m.seq, i);
            assert_int_equal(m.headers_more, i + 1 < f->link.n);
            tmsg_free(&m);
        }
    }
    f->m->ops->close(s, MUX_CANCEL, "x");
}

static void response_flow(void **state)
{
    fixture *f = *state;
    mux_stream *s = open_req(f, false, 0);
    f->m->ops->flush(s);
    char buf[1024];
    const char *rid = rid_of(f);
    snprintf(buf, sizeof buf,
             "{\"type\":\"http_response\",\"request_id\":\"%s\",\"status_code\":200,"
             "\"headers\":{\"content-type\":[\"text/plain\"]},\"body\":\"aGVs\",\"more\":true}",
             rid);
    agent_msg(f, buf);
    assert_int_equal(f->own.heads, 1);
    assert_int_equal(f->own.known_len, -1);
    assert_int_equal(f->own.body_len, 3);
    snprintf(buf, sizeof buf,
             "{\"type\":\"http_response_body\",\"request_id\":\"%s\",\"seq\":1,\"body\":\"bG8=\","
             "\"more\":false}",
             rid);
    agent_msg(f, buf);
    assert_int_equal(f->own.body_len, 5);
    assert_memory_equal(f->own.body, "hello", 5);
    assert_int_equal(f->own.ends, 1);
    size_t n = f->link.n;
    f->m->ops->close(s, MUX_DONE, NULL);
    assert_int_equal(f->link.n, n); /* both ends done: no cancel */
    /* a whole body with the head but no Content-Length: framed by ttfd as in binary mode
     * (chunked to HTTP/1.1, close-delimited to 1.0), not given the length it happened to have */
    memset(&f->own, 0, sizeof f->own);
    fake_clear(&f->link);
    s = open_req(f, false, 0);
    f->m->ops->flush(s);
    rid = rid_of(f);
    snprintf(buf, sizeof buf,
             "{\"type\":\"http_response\",\"request_id\":\"%s\",\"status_code\":201,"
             "\"headers\":{},\"body\":\"aGk=\"}",
             rid);
    agent_msg(f, buf);
    assert_int_equal(f->own.known_len, -1);
    assert_int_equal(f->own.body_len, 2);
    assert_int_equal(f->own.ends, 1);
    f->m->ops->close(s, MUX_DONE, NULL);
    /* a head in continuation messages */
    memset(&f->own, 0, sizeof f->own);
    fake_clear(&f->link);
    s = open_req(f, false, 0);
    f->m->ops->flush(s);
    rid = rid_of(f);
    snprintf(buf, sizeof buf,
             "{\"type\":\"http_response\",\"request_id\":\"%s\",\"status_code\":200,"
             "\"headers\":{\"a\":[\"1\"]},\"headers_more\":true,\"more\":true}",
             rid);
    agent_msg(f, buf);
    assert_int_equal(f->own.heads, 0);
    snprintf(buf, sizeof buf,
             "{\"type\":\"http_response_headers\",\"request_id\":\"%s\",\"seq\":1,"
             "\"headers\":{\"b\":[\"2\"]},\"headers_more\":false}",
             rid);
    agent_msg(f, buf);
    assert_int_equal(f->own.heads, 1);
    assert_int_equal(f->own.status, 200);
    f->m->ops->close(s, MUX_CANCEL, "client left");
    tmsg m = sent(f, f->link.n - 1);
    assert_int_equal(m.type, TMSG_CANCEL);
    tmsg_free(&m);
}

static void agent_ends(void **state)
{
    fixture *f = *state;
    mux_stream *s = open_req(f, false, 0);
    (void)s;
    f->m->ops->flush(s);
    char buf[512];
    snprintf(buf, sizeof buf,
             "{\"type\":\"error\",\"request_id\":\"%s\",\"code\":\"timeout\",\"message\":\"slow\"}",
             rid_of(f));
    agent_msg(f, buf);
    assert_int_equal(f->own.fails, 1);
    assert_int_equal(f->own.fail_status, 504);
    assert_int_equal(f->m->vt->streams(f->m), 0);
    fake_clear(&f->link);
    s = open_req(f, false, 0);
    f->m->ops->flush(s);
    snprintf(buf, sizeof buf, "{\"type\":\"cancel\",\"request_id\":\"%s\",\"reason\":\"x\"}",
             rid_of(f));
    agent_msg(f, buf);
    assert_int_equal(f->own.fails, 2);
    assert_int_equal(f->own.fail_status, 502);
    /* unknown ids: dropped */
    agent_msg(f, "{\"type\":\"http_response\",\"request_id\":\"nope\",\"status_code\":200}");
    assert_int_equal(f->own.heads, 0);
}

static void hostile(void **state)
{
    fixture *f = *state;
    static const char *const cases[] = {
        /* a piece before the head */
        "{\"type\":\"http_response_body\",\"request_id\":\"%s\",\"seq\":1,\"body\":\"\"}",
        /* an interim status */
        "{\"type\":\"http_response\",\"request_id\":\"%s\",\"status_code\":103}",
        /* a continuation without a head */
        "{\"type\":\"http_response_headers\",\"request_id\":\"%s\",\"seq\":1,\"headers\":{}}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&f->own, 0, sizeof f->own);
        fake_clear(&f->link);
        mux_stream *s = open_req(f, false, 0);
        f->m->ops->flush(s);
        char buf[512];
        snprintf(buf, sizeof buf, cases[i], rid_of(f));
        agent_msg(f, buf);
        assert_failed_with_protocol_error(f);
    }
    /* a second final head, and pieces out of order */
    memset(&f->own, 0, sizeof f->own);
    fake_clear(&f->link);
    mux_stream *s = open_req(f, false, 0);
    f->m->ops->flush(s);
    char buf[512];
    const char *rid = rid_of(f);
    snprintf(buf, sizeof buf,
             "{\"type\":\"http_response\",\"request_id\":\"%s\",\"status_code\":200,\"more\":true}",
             rid);
    agent_msg(f, buf);
    snprintf(buf, sizeof buf,
             "{\"type\":\"http_response_body\",\"request_id\":\"%s\",\"seq\":2,\"body\":\"\"}",
             rid);
    agent_msg(f, buf);
    assert_int_equal(f->own.fails, 1);
    assert_true(f->own.fail_protocol);
}

/* An http_response (or http_response_headers when seq > 0) for rid with lines field lines of
 * name x; with tlines, the last body piece (seq 1) with a trailer section of tlines lines of
 * tlen-byte values instead. */
static char *head_msg(const char *rid, uint32_t seq, size_t lines, bool more, size_t tlines,
                      size_t tlen)
{
    size_t cap = 512 + lines * 4 + tlines * (tlen + 8);
    char *s = malloc(cap);
    size_t k = tlines ? (size_t)snprintf(s, cap,
                                         "{\"type\":\"http_response_body\",\"request_id\":"
                                         "\"%s\",\"seq\":1,\"body\":\"\",\"headers\":{\"x\":[",
                                         rid)
               : seq  ? (size_t)snprintf(s, cap,
                                         "{\"type\":\"http_response_headers\",\"request_id\":\"%s\","
                                          "\"seq\":%u,\"headers_more\":%s,\"headers\":{\"x\":[",
                                         rid, (unsigned)seq, more ? "true" : "false")
                      : (size_t)snprintf(s, cap,
                                         "{\"type\":\"http_response\",\"request_id\":\"%s\","
                                          "\"status_code\":200,\"headers_more\":%s,\"headers\":{"
                                          "\"content-length\":[\"0\"],\"x\":[",
                                         rid, more ? "true" : "false");
    for (size_t i = 0; i < lines; i++)
        k += (size_t)snprintf(s + k, cap - k, i ? ",\"a\"" : "\"a\"");
    k += (size_t)snprintf(s + k, cap - k, "]}");
    if (tlines) {
        k += (size_t)snprintf(s + k, cap - k, ",\"trailers\":{\"t\":[");
        for (size_t i = 0; i < tlines; i++) {
            k += (size_t)snprintf(s + k, cap - k, "%s\"", i ? "," : "");
            memset(s + k, 'v', tlen);
            k += tlen;
            s[k++] = '"';
        }
        k += (size_t)snprintf(s + k, cap - k, "]}");
    }
    snprintf(s + k, cap - k, "}");
    return s;
}

/* A response head over HTTP1_AGENT_MAX_FIELDS lines (in one message or across continuations) or
 * HTTP1_AGENT_MAX_HEAD bytes, or a trailer section over HTTP1_AGENT_MAX_TRAILER bytes: 502
 * "too big a response head" and a cancel, while another exchange of the link goes on; a head of
 * exactly the limit passes. */
static void head_limits(void **state)
{
    fixture *f = *state;
    mux_json_set_relays(f->m, false, true);
    mux_stream *other = open_req(f, false, 0);
    f->m->ops->flush(other);
    char orid[64];
    snprintf(orid, sizeof orid, "%s", rid_of(f));
    static const char text[] = "the tunnel agent sent too big a response head";
    for (int c = 0; c < 5; c++) {
        memset(&f->own, 0, sizeof f->own);
        fake_clear(&f->link);
        mux_stream *s = open_req(f, false, 0);
        f->m->ops->flush(s);
        char rid[64];
        snprintf(rid, sizeof rid, "%s", rid_of(f));
        char *m1 = NULL, *m2 = NULL;
        if (c == 0) /* content-length and 65535 x: at the limit */
            m1 = head_msg(rid, 0, HTTP1_AGENT_MAX_FIELDS - 1, false, 0, 0);
        else if (c == 1)
            m1 = head_msg(rid, 0, HTTP1_AGENT_MAX_FIELDS, false, 0, 0);
        else if (c == 2) { /* one line too many across a continuation */
            m1 = head_msg(rid, 0, 1000, true, 0, 0);
            m2 = head_msg(rid, 1, HTTP1_AGENT_MAX_FIELDS - 1000, false, 0, 0);
        } else if (c == 3) { /* a trailer section a few bytes over HTTP1_AGENT_MAX_TRAILER */
            m1 = malloc(256);
            snprintf(m1, 256,
                     "{\"type\":\"http_response\",\"request_id\":\"%s\",\"status_code\":200,"
                     "\"more\":true}",
                     rid);
            m2 = head_msg(rid, 0, 0, false, 2, HTTP1_AGENT_MAX_TRAILER / 2);
        } else { /* a head over 1 MiB in a continuation of one line */
            m1 = head_msg(rid, 0, 1, true, 0, 0);
            m2 = malloc(HTTP1_AGENT_MAX_HEAD + 512);
            size_t k = (size_t)snprintf(m2, 512,
                                        "{\"type\":\"http_response_headers\",\"request_id\":"
                                        "\"%s\",\"seq\":1,\"headers\":{\"y\":\"",
                                        rid);
            memset(m2 + k, 'v', HTTP1_AGENT_MAX_HEAD);
            snprintf(m2 + k + HTTP1_AGENT_MAX_HEAD, 16, "\"}}");
        }
        agent_msg(f, m1);
        if (m2)
            agent_msg(f, m2);
        free(m1);
        free(m2);
        if (c == 0) {
            assert_int_equal(f->own.fails, 0);
            assert_int_equal(f->own.heads, 1);
            assert_int_equal(f->own.ends, 1);
            continue;
        }
        if (f->own.fails != 1)
            fail_msg("case %d: not failed (%d heads)", c, f->own.heads);
        assert_failed_with_protocol_error(f);
        assert_int_equal(f->own.fail_status, 502);
        assert_string_equal(f->own.fail_why, text);
        assert_int_equal(f->own.heads, c == 3);
    }
    /* the other exchange of the link still takes its answer */
    memset(&f->own, 0, sizeof f->own);
    char buf[256];
    snprintf(buf, sizeof buf,
             "{\"type\":\"http_response\",\"request_id\":\"%s\",\"status_code\":204}", orid);
    agent_msg(f, buf);
    assert_int_equal(f->own.heads, 1);
    assert_int_equal(f->own.status, 204);
    assert_int_equal(f->own.fails, 0);
}

static void backlog_pauses_link(void **state)
{
    fixture *f = *state;
    mux_stream *a = open_req(f, false, 0);
    mux_stream *b = open_req(f, false, 0);
    f->m->ops->credit(a, 2u << 20);
    assert_true(f->link.paused);
    f->m->ops->credit(b, 2u << 20);
    f->m->ops->credit(a, 0);
    assert_true(f->link.paused); /* b still blocks */
    f->m->ops->close(b, MUX_CANCEL, "x");
    assert_false(f->link.paused);
    f->m->ops->close(a, MUX_CANCEL, "x");
}

/* An agent message with n body bytes ('w'): the head (seq 0) or a piece. */
static void agent_body(fixture *f, const char *rid, uint32_t seq, size_t n, bool more)
{
    uint8_t *raw = malloc(n);
    memset(raw, 'w', n);
    char *b = malloc(b64_encoded_len(n) + 1);
    b64_encode(raw, n, b);
    size_t cap = strlen(b) + 512;
    char *json = malloc(cap);
    if (seq == 0)
        snprintf(json, cap,
                 "{\"type\":\"http_response\",\"request_id\":\"%s\",\"status_code\":200,"
                 "\"headers\":{},\"body\":\"%s\",\"more\":%s}",
                 rid, b, more ? "true" : "false");
    else
        snprintf(json, cap,
                 "{\"type\":\"http_response_body\",\"request_id\":\"%s\",\"seq\":%u,"
                 "\"body\":\"%s\",\"more\":%s}",
                 rid, seq, b, more ? "true" : "false");
    agent_msg(f, json);
    free(json);
    free(b);
    free(raw);
}

/* A windowed agent: a slow client never pauses the link; window messages credit what the
 * client took (batched, only while its backlog is low); body beyond the window fails that
 * request with protocol_error. */
static void window_credit(void **state)
{
    fixture *f = *state;
    mux_json_set_window(f->m, 40000, 0);
    mux_stream *s = open_req(f, false, 0);
    f->m->ops->flush(s);
    const char *rid = rid_of(f);
    agent_body(f, rid, 0, 20000, true);
    assert_int_equal(f->own.heads, 1);
    size_t n = f->link.n;
    f->m->ops->credit(s, 2u << 20); /* the client is slow */
    assert_false(f->link.paused);   /* other requests go on */
    assert_int_equal(f->link.n, n); /* and it gets no credit */
    f->m->ops->credit(s, 0);
    assert_int_equal(f->link.n, n + 1);
    tmsg m = sent(f, n);
    assert_int_equal(m.type, TMSG_WINDOW);
    assert_string_equal(m.request_id, rid);
    assert_int_equal(m.increment, 20000);
    tmsg_free(&m);
    f->m->ops->credit(s, 0); /* nothing new taken: no message */
    assert_int_equal(f->link.n, n + 1);
    agent_body(f, rid, 1, 30000, true); /* 40000 - 20000 + 20000: 30000 fit */
    assert_int_equal(f->own.fails, 0);
    agent_body(f, rid, 2, 9000, true);
    f->m->ops->credit(s, 0);
    m = sent(f, f->link.n - 1);
    assert_int_equal(m.type, TMSG_WINDOW);
    assert_int_equal(m.increment, 39000);
    tmsg_free(&m);
    agent_body(f, rid, 3, 40001, true); /* one byte over */
    assert_failed_with_protocol_error(f);
    assert_false(f->link.paused);
}

/* Growth: a stream starts at the announced window; at its first credit, when its client reads,
 * it grows to the larger one (the credit carries the difference); a client that reads nothing
 * (its receive window shut) keeps the first window, all ttfd will hold for it. */
static void window_grows_for_a_client_that_reads(void **state)
{
    fixture *f = *state;
    mux_json_set_window(f->m, 40000, 80000);
    f->own.reads_nothing = true;
    mux_stream *slow = open_req(f, false, 0);
    f->m->ops->flush(slow);
    char rid[64];
    snprintf(rid, sizeof rid, "%s", rid_of(f));
    agent_body(f, rid, 0, 20000, true);
    size_t n = f->link.n;
    f->m->ops->credit(slow, 0);
    tmsg m = sent(f, n);
    assert_int_equal(m.increment, 20000); /* what it took, no more */
    tmsg_free(&m);
    agent_body(f, rid, 1, 40000, true);
    assert_int_equal(f->own.fails, 0);
    agent_body(f, rid, 2, 1, true); /* the first window is all it has */
    assert_int_equal(f->own.fails, 1);
    f->own.reads_nothing = false;
    mux_stream *s = open_req(f, false, 0);
    f->m->ops->flush(s);
    tmsg o = sent(f, f->link.n - 1);
    snprintf(rid, sizeof rid, "%s", o.request_id);
    tmsg_free(&o);
    agent_body(f, rid, 0, 20000, true);
    n = f->link.n;
    f->m->ops->credit(s, 0);
    m = sent(f, n);
    assert_int_equal(m.increment, 20000 + 40000); /* grown to 80000 */
    tmsg_free(&m);
    agent_body(f, rid, 1, 80000, true);
    assert_int_equal(f->own.fails, 1);
    agent_body(f, rid, 2, 1, true);
    assert_int_equal(f->own.fails, 2);
}

/* The request-body window (ready.request_windows): room never exceeds the credit, a stream out
 * of it stops (its client alone: the link is not paused, another stream still has room) until the
 * agent's window credits more; a window for a stream without a request window, or for an unknown
 * request, is ignored; one past 2^32-1 fails that exchange. */
static void request_window_credit(void **state)
{
    fixture *f = *state;
    mux_json_set_request_window(f->m, 100000);
    mux_stream *s = open_req(f, true, 0);
    mux_stream *other = open_req(f, true, 0);
    const mux_ops *ops = f->m->ops;
    size_t sent_total = 0;
    for (int pass = 0; pass < 10; pass++) { /* the client sends as fast as room allows */
        size_t room = ops->room(s);
        if (room == 0)
            break;
        uint8_t *b = calloc(1, room);
        assert_int_equal(ops->send_body(s, b, room), 0);
        free(b);
        ops->flush(s);
        sent_total += room;
    }
    assert_int_equal(sent_total, 100000); /* exactly the window */
    assert_int_equal(ops->room(s), 0);
    assert_true(ops->room(other) > 0); /* the other client is still read */
    assert_false(f->link.paused);
    const char *rid = rid_of(f);
    char json[200];
    snprintf(json, sizeof json, "{\"type\":\"window\",\"request_id\":\"%s\",\"increment\":30000}",
             rid);
    int resumes = f->own.resumes;
    agent_msg(f, json);
    assert_int_equal(f->own.resumes, resumes + 1);
    assert_int_equal(ops->room(s), 30000);
    agent_msg(f, "{\"type\":\"window\",\"request_id\":\"unknown\",\"increment\":5}");
    assert_int_equal(ops->room(s), 30000);
    assert_int_equal(f->own.fails, 0);
    /* a credit that would pass 2^32-1 bytes: that exchange fails with protocol_error */
    snprintf(json, sizeof json,
             "{\"type\":\"window\",\"request_id\":\"%s\",\"increment\":4294967295}", rid);
    agent_msg(f, json);
    assert_failed_with_protocol_error(f);
    ops->close(other, MUX_CANCEL, NULL);
}

/* Without the request window (an older or upstream agent, the default) room is not held to a
 * credit and a window from the agent changes nothing. */
static void no_request_window(void **state)
{
    fixture *f = *state;
    mux_stream *s = open_req(f, true, 0);
    size_t room = f->m->ops->room(s);
    assert_true(room > 0);
    f->m->ops->flush(s);
    const char *rid = rid_of(f);
    char json[200];
    snprintf(json, sizeof json, "{\"type\":\"window\",\"request_id\":\"%s\",\"increment\":7}", rid);
    agent_msg(f, json);
    assert_int_equal(f->m->ops->room(s), room);
    assert_int_equal(f->own.fails, 0);
    assert_int_equal(f->own.resumes, 0);
}

/* A body without Content-Length (chunked) that came whole before the first flush still ends in
 * a piece of its own, so that ttf sends it on chunked as binary mode does (the head alone said
 * nothing of its length); with Content-Length the head carries it all. Only to agents that
 * take pieces (request windows); upstream's agent keeps one message. */
static void unknown_length_ends_in_a_piece(void **state)
{
    fixture *f = *state;
    for (int agent = 0; agent < 3; agent++) {
        if (agent > 0)
            mux_json_set_request_window(f->m, 100000);
        fake_clear(&f->link);
        mux_stream *s = open_req(f, true, 0); /* no Content-Length */
        if (agent == 2) {                     /* with Content-Length */
            f->m->ops->close(s, MUX_CANCEL, NULL);
            fake_clear(&f->link);
            http_headers h;
            http_headers_init(&h);
            http_headers_add(&h, "Content-Length", 14, "2", 1);
            mux_request rq = {.method = "POST", .target = "/up", .headers = &h, .body = true};
            int status = 0;
            const char *why = NULL;
            s = f->m->ops->open(f->m, &rq, &owner_upcalls, &f->own, &status, &why);
            http_headers_free(&h);
        }
        assert_int_equal(f->m->ops->send_body(s, "hi", 2), 0);
        assert_int_equal(f->m->ops->end_body(s, NULL), 0);
        f->m->ops->flush(s);
        tmsg h = sent(f, 0);
        assert_int_equal(h.body_len, 2);
        assert_int_equal(h.more, agent == 1);
        assert_int_equal(f->link.n, agent == 1 ? 2 : 1);
        if (agent == 1) {
            tmsg p = sent(f, 1);
            assert_int_equal(p.type, TMSG_HTTP_REQUEST_BODY);
            assert_int_equal(p.body_len, 0);
            assert_false(p.more);
            tmsg_free(&p);
        }
        tmsg_free(&h);
        f->m->ops->close(s, MUX_CANCEL, NULL);
    }
}

/* Interim responses and trailer sections (docs/protocol.md §2 "Interim responses and
 * trailers"): once agreed (mux_json_set_relays) a 1xx goes on as an interim head, the request's
 * trailers end it in a piece of their own and the agent's last piece's trailers reach the
 * owner; before, a 1xx is the agent's protocol error and trailers are dropped. */
static void relays_interim_and_trailers(void **state)
{
    fixture *f = *state;
    char buf[512];
    mux_stream *s = open_req(f, false, 0);
    f->m->ops->flush(s);
    const char *rid = rid_of(f);
    snprintf(buf, sizeof buf,
             "{\"type\":\"http_response\",\"request_id\":\"%s\",\"status_code\":103,"
             "\"headers\":{\"Link\":[\"</a.css>\"]}}",
             rid);
    agent_msg(f, buf);
    assert_failed_with_protocol_error(f);

    mux_json_set_relays(f->m, true, true);
    memset(&f->own, 0, sizeof f->own);
    fake_clear(&f->link);
    s = open_req(f, true, 0);
    http_headers tr;
    http_headers_init(&tr);
    http_headers_add(&tr, "X-Sum", 5, "42", 2);
    assert_int_equal(f->m->ops->send_body(s, "ab", 2), 0);
    assert_int_equal(f->m->ops->end_body(s, &tr), 0);
    http_headers_free(&tr);
    f->m->ops->flush(s);
    assert_int_equal(f->link.n, 2);
    tmsg h = sent(f, 0), p = sent(f, 1);
    assert_int_equal(h.body_len, 2);
    assert_true(h.more);
    assert_int_equal(p.type, TMSG_HTTP_REQUEST_BODY);
    assert_false(p.more);
    assert_int_equal(p.body_len, 0);
    assert_int_equal(p.trailers.n, 1);
    assert_string_equal(p.trailers.v[0].name, "X-Sum");
    tmsg_free(&h);
    tmsg_free(&p);
    rid = rid_of(f);
    snprintf(buf, sizeof buf,
             "{\"type\":\"http_response\",\"request_id\":\"%s\",\"status_code\":103,"
             "\"headers\":{\"Link\":[\"</a.css>\"]}}",
             rid);
    agent_msg(f, buf);
    assert_int_equal(f->own.heads, 1);
    assert_int_equal(f->own.status, 103);
    assert_int_equal(f->own.fails, 0);
    snprintf(buf, sizeof buf,
             "{\"type\":\"http_response\",\"request_id\":\"%s\",\"status_code\":200,"
             "\"headers\":{},\"more\":true}",
             rid);
    agent_msg(f, buf);
    assert_int_equal(f->own.heads, 2);
    snprintf(buf, sizeof buf,
             "{\"type\":\"http_response_body\",\"request_id\":\"%s\",\"seq\":1,"
             "\"body\":\"aGk=\",\"more\":false,\"trailers\":{\"X-Check\":[\"1\"]}}",
             rid);
    agent_msg(f, buf);
    assert_int_equal(f->own.ends, 1);
    assert_string_equal(f->own.trailers, "X-Check=1;");
    f->m->ops->close(s, MUX_DONE, NULL);
}

/* mux_set_max_streams: as in binary mode, the stream over the limit is a 503 and no message. */
static void stream_limit(void **state)
{
    fixture *f = *state;
    mux_set_max_streams(f->m, 1);
    mux_stream *a = open_req(f, false, 0);
    assert_non_null(a);
    f->m->ops->flush(a);
    size_t sent = f->link.n;
    assert_agent_full(f->m, &f->link);
    a->m->ops->close(a, MUX_CANCEL, "client went away"); /* the agent gets its cancel */
    assert_int_equal(f->link.n, sent + 1);
    mux_stream *b = open_req(f, false, 0);
    assert_non_null(b);
    b->m->ops->close(b, MUX_CANCEL, NULL);
}

static void link_gone(void **state)
{
    fixture *f = *state;
    open_req(f, false, 0);
    open_req(f, true, 0);
    f->m->vt->free(f->m, "the tunnel agent went away");
    f->m = NULL;
    assert_int_equal(f->own.fails, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(request_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(bodiless_and_big_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(big_head, setup, teardown),
        cmocka_unit_test_setup_teardown(response_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(agent_ends, setup, teardown),
        cmocka_unit_test_setup_teardown(hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(head_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(backlog_pauses_link, setup, teardown),
        cmocka_unit_test_setup_teardown(window_credit, setup, teardown),
        cmocka_unit_test_setup_teardown(request_window_credit, setup, teardown),
        cmocka_unit_test_setup_teardown(no_request_window, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_length_ends_in_a_piece, setup, teardown),
        cmocka_unit_test_setup_teardown(relays_interim_and_trailers, setup, teardown),
        cmocka_unit_test_setup_teardown(window_grows_for_a_client_that_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(stream_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(link_gone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
