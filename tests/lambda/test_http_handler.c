/* lambda/http_handler against the fakes: a public request through the HTTP function, the
 * scripted agent answering through the WebSocket function, and the answer the client gets.
 * The response rules (the Lambda frames responses itself, issue 12 item 1): a Content-Length is
 * exact (more bytes, fewer bytes, pieces past the last one: 502 and a log line naming the
 * tunnel, never the extra bytes), bodiless statuses and HEAD carry no body, interim responses
 * are not forwarded; an early answer (403 while the upload is still being posted) is returned
 * at once; errors from API Gateway (gone, busy) map to 502 / 503. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "proxy.h"

#define CID "agentConnA="

typedef struct fixture {
    harness h;
    char tid[16];
    /* what the scripted agent saw */
    char rid[64];
    char method[16];
    char uri[512];
    unsigned requests, pieces_seen;
    size_t body_seen;
    int mode; /* which script the agent plays (per test) */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || harness_init(&f->h, NULL) < 0 || harness_agent_connect(&f->h, CID, f->tid) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    harness_free(&f->h);
    free(f);
    return 0;
}

/* ---- the agent's messages ---- */

static void response(harness *h, const char *rid, int status, const char *const *hdrs,
                     const char *body, size_t len, bool more, bool later)
{
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_RESPONSE);
    m.request_id = strdup(rid);
    m.status_code = status;
    for (size_t i = 0; hdrs && hdrs[i]; i += 2)
        http_headers_add(&m.headers, hdrs[i], strlen(hdrs[i]), hdrs[i + 1], strlen(hdrs[i + 1]));
    m.body = len ? malloc(len) : NULL;
    if (len)
        memcpy(m.body, body, len);
    m.body_len = len;
    m.more = more;
    char *text = harness_encode(&m);
    tmsg_free(&m);
    if (later)
        harness_agent_later(h, CID, text);
    else
        json_decref(harness_agent_send(h, CID, text));
    free(text);
}

static void piece(harness *h, const char *rid, uint32_t seq, const char *body, size_t len,
                  bool more, bool later)
{
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_RESPONSE_BODY);
    m.request_id = strdup(rid);
    m.seq = seq;
    m.body = len ? malloc(len) : NULL;
    if (len)
        memcpy(m.body, body, len);
    m.body_len = len;
    m.more = more;
    char *text = harness_encode(&m);
    tmsg_free(&m);
    if (later)
        harness_agent_later(h, CID, text);
    else
        json_decref(harness_agent_send(h, CID, text));
    free(text);
}

/* ---- scripts ---- */

enum {
    PLAIN,        /* 200, Content-Length 5, "hello" */
    CL_OVER_HEAD, /* Content-Length 5, 11 bytes in the head's piece */
    CL_OVER_PIECES,
    CL_SHORT,
    NO_CL_PIECES, /* no Content-Length, body in the head and two pieces */
    BODY_204,
    BODY_304,
    HEAD_WITH_BODY,
    HEAD_PLAIN, /* HEAD: Content-Length 1234, no body */
    PIECE_AFTER_LAST,
    SECOND_RESPONSE,
    INTERIM_THEN_FINAL,
    EARLY_403,
    FOREIGN_ANSWER,
};

static const char *const CL5[] = {"Content-Type", "text/plain", "Content-Length", "5", NULL};
static const char *const CL10[] = {"Content-Length", "10", NULL};

static void agent(harness *h, const char *cid, const tmsg *m, void *ud)
{
    fixture *f = ud;
    (void)cid;
    if (m->type == TMSG_HTTP_REQUEST_BODY) {
        f->pieces_seen++;
        f->body_seen += m->body_len;
        return;
    }
    if (m->type != TMSG_HTTP_REQUEST)
        return;
    f->requests++;
    f->body_seen += m->body_len;
    snprintf(f->rid, sizeof f->rid, "%s", m->request_id);
    snprintf(f->method, sizeof f->method, "%s", m->method);
    snprintf(f->uri, sizeof f->uri, "%s", m->uri);
    const char *rid = m->request_id;
    switch (f->mode) {
    case PLAIN:
        response(h, rid, 200, CL5, "hello", 5, false, true);
        break;
    case CL_OVER_HEAD:
        response(h, rid, 200, CL5, "hello world", 11, false, true);
        break;
    case CL_OVER_PIECES:
        response(h, rid, 200, CL10, "12345", 5, true, true);
        piece(h, rid, 1, "6789012345", 10, false, true);
        break;
    case CL_SHORT:
        response(h, rid, 200, CL10, "12345", 5, false, true);
        break;
    case NO_CL_PIECES:
        response(h, rid, 200, NULL, "ab", 2, true, true);
        piece(h, rid, 2, "ef", 2, false, true);
        piece(h, rid, 1, "cd", 2, true, true);
        break;
    case BODY_204:
        response(h, rid, 204, NULL, "x", 1, false, true);
        break;
    case BODY_304:
        response(h, rid, 304, NULL, "", 0, true, true);
        piece(h, rid, 1, "stale", 5, false, true);
        break;
    case HEAD_WITH_BODY:
        response(h, rid, 200, CL5, "hello", 5, false, true);
        break;
    case HEAD_PLAIN: {
        static const char *const cl[] = {"Content-Length", "1234", NULL};
        response(h, rid, 200, cl, "", 0, false, true);
        break;
    }
    case PIECE_AFTER_LAST:
        response(h, rid, 200, NULL, "ab", 2, true, true);
        piece(h, rid, 1, "cd", 2, false, true);
        piece(h, rid, 2, "FORGED", 6, false, true);
        break;
    case SECOND_RESPONSE:
        response(h, rid, 200, NULL, "ab", 2, true, true);
        response(h, rid, 200, NULL, "FORGED", 6, false, true);
        piece(h, rid, 1, "cd", 2, false, true);
        break;
    case INTERIM_THEN_FINAL: {
        static const char *const link[] = {"Link", "</s.css>; rel=preload", NULL};
        response(h, rid, 103, link, "", 0, false, true);
        response(h, rid, 200, CL5, "hello", 5, false, true);
        break;
    }
    case EARLY_403:
        /* answered while the Lambda is still posting the upload's pieces */
        response(h, rid, 403, NULL, "no", 2, false, false);
        break;
    case FOREIGN_ANSWER: {
        /* another agent's connection answers first: ignored */
        tmsg r;
        tmsg_init(&r, TMSG_HTTP_RESPONSE);
        r.request_id = strdup(rid);
        r.status_code = 200;
        r.body = (uint8_t *)strdup("FORGED");
        r.body_len = 6;
        char *text = harness_encode(&r);
        tmsg_free(&r);
        json_decref(harness_agent_send(h, "otherConn=", text));
        free(text);
        response(h, rid, 200, CL5, "hello", 5, false, true);
        break;
    }
    default:
        break;
    }
}

static json_t *request(fixture *f, int mode, const char *method, const char *path, const void *body,
                       size_t len)
{
    f->mode = mode;
    f->h.agent = agent;
    f->h.agent_ud = f;
    return harness_request(&f->h, f->tid, method, path, NULL, body, len);
}

static int status_of(const json_t *a)
{
    return (int)json_integer_value(json_object_get(a, "statusCode"));
}

static void expect_body(const json_t *a, const char *want, size_t n)
{
    size_t len;
    unsigned char *b = harness_body(a, &len);
    assert_int_equal(len, n);
    if (n)
        assert_memory_equal(b, want, n);
    free(b);
}

/* A 502 of the tunnel's own making: never the agent's bytes, a log line naming the tunnel. */
static void expect_overrun(fixture *f, json_t *a, const char *what)
{
    assert_int_equal(status_of(a), 502);
    size_t len;
    unsigned char *b = harness_body(a, &len);
    assert_non_null(b);
    assert_null(strstr((char *)b, "FORGED"));
    assert_null(strstr((char *)b, "world"));
    free(b);
    assert_true(harness_log_has(&f->h, f->tid, what));
}

/* ---- tests ---- */

static void plain_answer(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, PLAIN, "GET", "/x?y=1", NULL, 0);
    assert_int_equal(status_of(a), 200);
    expect_body(a, "hello", 5);
    assert_string_equal(harness_header(a, "content-type"), "text/plain");
    assert_string_equal(f->method, "GET");
    assert_string_equal(f->uri, "/x?y=1");
    json_decref(a);
    /* the request's items are gone once answered */
    json_t *keys = fake_ddb_keys(f->h.db, H_PEND_TABLE, f->rid);
    assert_int_equal(json_array_size(keys), 0);
    json_decref(keys);
}

static void pieces_out_of_order(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, NO_CL_PIECES, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    expect_body(a, "abcdef", 6);
    json_decref(a);
}

static void content_length_overrun_in_head(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, CL_OVER_HEAD, "GET", "/", NULL, 0);
    expect_overrun(f, a, "Content-Length");
    json_decref(a);
}

static void content_length_overrun_in_pieces(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, CL_OVER_PIECES, "GET", "/", NULL, 0);
    expect_overrun(f, a, "Content-Length");
    json_decref(a);
}

static void content_length_short(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, CL_SHORT, "GET", "/", NULL, 0);
    expect_overrun(f, a, "Content-Length");
    json_decref(a);
}

static void bodiless_statuses(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, BODY_204, "GET", "/", NULL, 0);
    expect_overrun(f, a, "no body");
    json_decref(a);
    a = request(f, BODY_304, "GET", "/", NULL, 0);
    expect_overrun(f, a, "no body");
    json_decref(a);
    a = request(f, HEAD_WITH_BODY, "HEAD", "/", NULL, 0);
    expect_overrun(f, a, "no body");
    json_decref(a);
}

static void head_keeps_content_length(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, HEAD_PLAIN, "HEAD", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    expect_body(a, "", 0);
    assert_string_equal(harness_header(a, "content-length"), "1234");
    assert_string_equal(f->method, "HEAD");
    json_decref(a);
}

static void piece_after_the_last(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, PIECE_AFTER_LAST, "GET", "/", NULL, 0);
    expect_overrun(f, a, "after the end");
    json_decref(a);
}

static void second_response(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, SECOND_RESPONSE, "GET", "/", NULL, 0);
    expect_overrun(f, a, "second response");
    json_decref(a);
}

static void interim_not_forwarded(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, INTERIM_THEN_FINAL, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    expect_body(a, "hello", 5);
    assert_null(harness_header(a, "link"));
    json_decref(a);
}

static void early_answer_stops_the_upload(void **state)
{
    fixture *f = *state;
    size_t n = 6 * TTF_JSON_CHUNK; /* the head's piece and 5 more to post */
    char *body = malloc(n);
    memset(body, 'u', n);
    json_t *a = request(f, EARLY_403, "POST", "/upload", body, n);
    free(body);
    assert_int_equal(status_of(a), 403);
    expect_body(a, "no", 2);
    /* the agent answered on the head: the rest of the upload was not posted */
    assert_true(f->body_seen < n);
    assert_true(f->pieces_seen <= 1);
    json_decref(a);
}

static void foreign_answer_ignored(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, FOREIGN_ANSWER, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    expect_body(a, "hello", 5);
    json_decref(a);
}

static void gone_and_busy(void **state)
{
    fixture *f = *state;
    fake_mgmt_limit(f->h.mgmt, 1000);
    json_t *a = request(f, PLAIN, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 503);
    assert_string_equal(harness_header(a, "retry-after"), "1");
    json_decref(a);
    fake_mgmt_limit(f->h.mgmt, 0);
    fake_mgmt_close(f->h.mgmt, CID);
    a = request(f, PLAIN, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 502);
    json_decref(a);
    /* the stale connection record went with the 410 */
    assert_null(fake_ddb_get(f->h.db, H_CONN_TABLE, CID));
    a = request(f, PLAIN, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 404);
    json_decref(a);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(plain_answer),
        T(pieces_out_of_order),
        T(content_length_overrun_in_head),
        T(content_length_overrun_in_pieces),
        T(content_length_short),
        T(bodiless_statuses),
        T(head_keeps_content_length),
        T(piece_after_the_last),
        T(second_response),
        T(interim_not_forwarded),
        T(early_answer_stops_the_upload),
        T(foreign_answer_ignored),
        T(gone_and_busy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
