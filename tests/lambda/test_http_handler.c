/* SPDX-License-Identifier: MIT */
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

#include "clock.h"
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
    unsigned requests, pieces_seen, head_parts_seen;
    size_t body_seen, headers_seen;
    char tunnel_seen[16];
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

struct collector {
    char **texts;
    size_t *n;
};

static int collect(void *ud, const tmsg *m)
{
    struct collector *c = ud;
    size_t len;
    c->texts[(*c->n)++] = tmsg_encode(m, &len);
    return *c->n < 16 ? 0 : -1;
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
    BIG_HEAD,         /* 20 Set-Cookie of 1 KB: one message */
    HUGE_HEAD,        /* 200 fields of 1 KB: the head over several messages */
    OBS_TEXT,         /* a header value that is not UTF-8 */
    AGENT_CANCELS,    /* the local service fails after the head: cancel */
    CANCEL_AFTER_END, /* a cancel once the whole response is in (the app closed early) */
    CANCEL_FIRST,     /* ... whose $default invocation ran before the response's */
    SILENT,           /* never answers */
    RESENT,           /* every message sent twice (acks lost: the agent sends again) */
    MOVED,            /* the connection goes away unanswered; the tunnel is on another one */
};

static const char *const CL5[] = {"Content-Type", "text/plain", "Content-Length", "5", NULL};
static const char *const CL10[] = {"Content-Length", "10", NULL};

/* MOVED: connection CID goes away with the request unanswered (its record deleted, as
 * $disconnect does) and the tunnel is on "B=", which answers. */
static void moved(harness *h, fixture *f, const char *cid, const char *rid)
{
    char err[256];
    if (strcmp(cid, CID) == 0) {
        store_delete_connection(&h->ws.st, CID, err, sizeof err);
        store_put_connection(&h->ws.st, "B=", f->tid, "", clock_wall_ms() / 1000, err, sizeof err);
        store_set_connection_access(&h->ws.st, "B=", "{}", err, sizeof err); /* its ready done */
        fake_mgmt_open(h->mgmt, "B=");
        return;
    }
    tmsg r;
    tmsg_init(&r, TMSG_HTTP_RESPONSE);
    r.request_id = strdup(rid);
    r.status_code = 200;
    r.body = (uint8_t *)strdup("on B");
    r.body_len = 4;
    char *text = harness_encode(&r);
    tmsg_free(&r);
    harness_agent_later(h, "B=", text);
    free(text);
}

static void agent(harness *h, const char *cid, const tmsg *m, void *ud)
{
    fixture *f = ud;
    if (m->type == TMSG_HTTP_REQUEST_HEADERS) {
        f->head_parts_seen++;
        f->headers_seen += m->headers.n;
        return;
    }
    if (m->type == TMSG_HTTP_REQUEST_BODY) {
        f->pieces_seen++;
        f->body_seen += m->body_len;
        return;
    }
    if (m->type != TMSG_HTTP_REQUEST)
        return;
    f->requests++;
    f->body_seen += m->body_len;
    f->headers_seen += m->headers.n;
    snprintf(f->tunnel_seen, sizeof f->tunnel_seen, "%s", m->tunnel_id ? m->tunnel_id : "");
    snprintf(f->rid, sizeof f->rid, "%s", m->request_id);
    snprintf(f->method, sizeof f->method, "%s", m->method);
    snprintf(f->uri, sizeof f->uri, "%s", m->uri);
    const char *rid = m->request_id;
    switch (f->mode) {
    case MOVED:
        moved(h, f, cid, rid);
        break;
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
    case RESENT:
        for (int i = 0; i < 2; i++)
            response(h, rid, 200, CL5, "hel", 3, true, true);
        for (int i = 0; i < 2; i++)
            piece(h, rid, 1, "lo", 2, false, true);
        break;
    case BIG_HEAD:
    case HUGE_HEAD: {
        tmsg r;
        tmsg_init(&r, TMSG_HTTP_RESPONSE);
        r.request_id = strdup(rid);
        r.status_code = 200;
        char v[1024];
        memset(v, 'c', sizeof v - 1);
        v[sizeof v - 1] = '\0';
        for (int i = 0; i < (f->mode == BIG_HEAD ? 20 : 200); i++) {
            char name[32];
            snprintf(name, sizeof name, f->mode == BIG_HEAD ? "Set-Cookie" : "X-Field-%d", i);
            v[0] = (char)('A' + i % 26);
            http_headers_add(&r.headers, name, strlen(name), v, strlen(v));
        }
        http_headers_add(&r.headers, "Content-Length", 14, "2", 1);
        r.body = (uint8_t *)strdup("ok");
        r.body_len = 2;
        /* as ttf sends it: one message, or fields over several when they do not fit */
        char *texts[16];
        size_t nt = 0;
        int sent = tmsg_send_head(&r, collect, &(struct collector){texts, &nt});
        for (size_t i = 0; i < nt; i++) {
            harness_agent_later(h, CID, texts[i]);
            free(texts[i]);
        }
        if (sent == 0)
            piece(h, rid, 1, "ok", 2, false, true);
        tmsg_free(&r);
        break;
    }
    case OBS_TEXT: {
        static const char *const cd[] = {"Content-Disposition",
                                         "attachment; filename=\"caf\xe9.txt\"",
                                         "X-Utf8",
                                         "J\xc3\xb6rg",
                                         "Content-Length",
                                         "1",
                                         NULL};
        response(h, rid, 200, cd, "x", 1, false, true);
        break;
    }
    case CANCEL_AFTER_END:
    case CANCEL_FIRST: {
        if (f->mode == CANCEL_AFTER_END)
            response(h, rid, 403, CL5, "nope!", 5, false, true);
        tmsg c;
        tmsg_init(&c, TMSG_CANCEL);
        c.request_id = strdup(rid);
        char *text = harness_encode(&c);
        tmsg_free(&c);
        if (f->mode == CANCEL_FIRST)
            json_decref(harness_agent_send(h, CID, text)); /* taken before the response */
        else
            harness_agent_later(h, CID, text);
        free(text);
        if (f->mode == CANCEL_FIRST)
            response(h, rid, 403, CL5, "nope!", 5, false, true);
        break;
    }
    case AGENT_CANCELS: {
        response(h, rid, 200, NULL, "partial", 7, true, true);
        tmsg c;
        tmsg_init(&c, TMSG_CANCEL);
        c.request_id = strdup(rid);
        c.reason = strdup("local service closed the connection");
        char *text = harness_encode(&c);
        tmsg_free(&c);
        harness_agent_later(h, CID, text);
        free(text);
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

static void messages_sent_again(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, RESENT, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    expect_body(a, "hello", 5);
    json_decref(a);
}

static void idempotent_request_sent_again_when_its_connection_goes(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, MOVED, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    expect_body(a, "on B", 4);
    assert_int_equal(f->requests, 2);
    json_decref(a);
    assert_true(harness_log_has(&f->h, "went away before answering", "sent again"));
}

static void other_request_not_sent_again(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, MOVED, "POST", "/", "x", 1);
    assert_int_equal(status_of(a), 502);
    assert_int_equal(f->requests, 1);
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

static void tunnel_id_in_request(void **state)
{
    fixture *f = *state;
    json_decref(request(f, PLAIN, "GET", "/", NULL, 0));
    assert_string_equal(f->tunnel_seen, f->tid);
}

static void large_response_heads(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, BIG_HEAD, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "cookies")), 20);
    expect_body(a, "ok", 2);
    json_decref(a);
    /* 200 KB of fields: http_response with headers_more, then http_response_headers */
    a = request(f, HUGE_HEAD, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    for (int i = 0; i < 200; i++) {
        char name[32];
        snprintf(name, sizeof name, "x-field-%d", i);
        const char *v = harness_header(a, name);
        assert_non_null(v);
        assert_int_equal(strlen(v), 1023);
        assert_int_equal(v[0], 'A' + i % 26);
    }
    expect_body(a, "ok", 2);
    json_decref(a);
    /* every item of both requests is gone, head continuations included */
    assert_int_equal(fake_ddb_count(f->h.db, H_PEND_TABLE), 0);
}

static void large_request_head(void **state)
{
    fixture *f = *state;
    json_t *hdrs = json_object();
    char v[1024];
    memset(v, 'r', sizeof v - 1);
    v[sizeof v - 1] = '\0';
    for (int i = 0; i < 200; i++) {
        char name[32];
        snprintf(name, sizeof name, "x-big-%d", i);
        json_object_set_new(hdrs, name, json_string(v));
    }
    f->mode = PLAIN;
    f->h.agent = agent;
    f->h.agent_ud = f;
    json_t *a = harness_request(&f->h, f->tid, "GET", "/", hdrs, NULL, 0);
    assert_int_equal(status_of(a), 200);
    assert_true(f->head_parts_seen >= 1);
    assert_true(f->headers_seen >= 200);
    json_decref(a);
}

static void octets_that_are_not_utf8(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, OBS_TEXT, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    /* the ISO-8859-1 reading, sent to API Gateway as UTF-8 (it cannot carry the octet) */
    assert_string_equal(harness_header(a, "content-disposition"),
                        "attachment; filename=\"caf\xc3\xa9.txt\"");
    assert_string_equal(harness_header(a, "x-utf8"), "J\xc3\xb6rg");
    json_decref(a);
}

static void agent_cancel_after_head(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, AGENT_CANCELS, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 502);
    size_t len;
    unsigned char *b = harness_body(a, &len);
    assert_non_null(strstr((char *)b, "local service failed during its response"));
    assert_null(strstr((char *)b, "partial"));
    free(b);
    json_decref(a);
}

static void agent_cancel_after_the_end(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, CANCEL_AFTER_END, "POST", "/", "x", 1);
    assert_int_equal(status_of(a), 403);
    expect_body(a, "nope!", 5);
    json_decref(a);
    /* the cancel's $default invocation ran first: the complete response still wins */
    a = request(f, CANCEL_FIRST, "POST", "/", "x", 1);
    assert_int_equal(status_of(a), 403);
    expect_body(a, "nope!", 5);
    json_decref(a);
}

/* The last message posted to the agent is a cancel for rid. */
static bool cancelled(fixture *f, const char *rid)
{
    json_t *posts = fake_mgmt_posts(f->h.mgmt, CID);
    const char *text = json_string_value(json_array_get(posts, json_array_size(posts) - 1));
    tmsg m;
    const char *err;
    if (!text || tmsg_decode(text, strlen(text), &m, &err) < 0)
        return false;
    bool ok = m.type == TMSG_CANCEL && m.request_id && strcmp(m.request_id, rid) == 0;
    tmsg_free(&m);
    return ok;
}

static void lambda_cancels_when_it_gives_up(void **state)
{
    fixture *f = *state;
    f->h.cfg.request_timeout_s = 1;
    json_t *a = request(f, SILENT, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 504);
    json_decref(a);
    assert_true(cancelled(f, f->rid));
    a = request(f, CL_OVER_HEAD, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 502);
    json_decref(a);
    assert_true(cancelled(f, f->rid));
    /* the early answer: the rest of the body is not coming */
    size_t n = 3 * TTF_JSON_CHUNK;
    char *body = calloc(1, n);
    a = request(f, EARLY_403, "POST", "/", body, n);
    free(body);
    assert_int_equal(status_of(a), 403);
    json_decref(a);
    assert_true(cancelled(f, f->rid));
}

/* An agent that answers every request 200 "hello" on the connection that got it. */
static void answer_on_its_connection(harness *h, const char *cid, const tmsg *m, void *ud)
{
    (void)ud;
    if (m->type != TMSG_HTTP_REQUEST)
        return;
    tmsg r;
    tmsg_init(&r, TMSG_HTTP_RESPONSE);
    r.request_id = strdup(m->request_id);
    r.status_code = 200;
    r.body = (uint8_t *)strdup("hello");
    r.body_len = 5;
    char *text = harness_encode(&r);
    tmsg_free(&r);
    harness_agent_later(h, cid, text);
    free(text);
}

/* The route cache holds any tunnel name: a chosen name of 16 and more characters (up to
 * TUNNEL_NAME_MAX) is looked up in the GSI once, then remembered like a generated one. */
static void long_chosen_name_uses_the_route_cache(void **state)
{
    fixture *f = *state;
    harness *h = &f->h;
    static const char *const names[] = {"a-chosen-name-16", /* 16: the old array's size */
                                        "a-much-longer-chosen-name-of-the-tunnel-with-63-chars-"
                                        "abcdefghi"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char cid[16], ready[160];
        snprintf(cid, sizeof cid, "Long%zu=", k);
        snprintf(ready, sizeof ready, "{\"type\":\"ready\",\"subdomain\":\"%s\"}", names[k]);
        json_decref(harness_invoke(h, &h->ws, ev_connect(h, cid, "ttf.json.v1")));
        fake_mgmt_open(h->mgmt, cid);
        json_decref(harness_agent_send(h, cid, ready));
        assert_non_null(fake_ddb_get(h->db, H_CONN_TABLE, cid));
        h->agent = answer_on_its_connection;
        unsigned queries = fake_ddb_calls(h->db, "Query");
        for (int i = 0; i < 3; i++) {
            json_t *a = harness_request(h, names[k], "GET", "/", NULL, NULL, 0);
            assert_int_equal(status_of(a), 200);
            expect_body(a, "hello", 5);
            json_decref(a);
        }
        /* one GSI query for the first request; the next two use the remembered connection */
        assert_int_equal(fake_ddb_calls(h->db, "Query") - queries, 1);
    }
}

typedef struct next_conn {
    fixture *f;
    unsigned queries;
} next_conn;

/* The agent's next connection "B=" appears (its takeover recorded) at the third GSI query. */
static void next_appears(harness *h, const char *op, void *ud)
{
    (void)h;
    next_conn *n = ud;
    if (strcmp(op, "Query") != 0 || ++n->queries != 3)
        return;
    json_t *item = json_pack("{s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s}}", "connectionId",
                             "S", "B=", "tunnelId", "S", n->f->tid, "sub", "S", "", "access", "S",
                             "{}", "createdAt", "N", "1", "ttl", "N", "99999999999");
    fake_ddb_put(n->f->h.db, H_CONN_TABLE, item);
    json_decref(item); /* the fake keeps its own reference */
    fake_mgmt_open(n->f->h.mgmt, "B=");
}

/* The tunnel's connection is gone (API Gateway closed it: GoneException) and its agent's next
 * connection is recorded a moment later: the request waits for it and is answered there, instead
 * of a 502 in the gap of a move. */
static void gone_connection_waits_for_the_next_one(void **state)
{
    fixture *f = *state;
    fake_mgmt_close(f->h.mgmt, CID);
    next_conn n = {.f = f};
    f->h.meanwhile = next_appears;
    f->h.meanwhile_ud = &n;
    f->h.agent = answer_on_its_connection;
    json_t *a = harness_request(&f->h, f->tid, "POST", "/", NULL, "x", 1);
    f->h.meanwhile = NULL;
    assert_int_equal(status_of(a), 200);
    expect_body(a, "hello", 5);
    json_decref(a);
    assert_true(n.queries >= 3);
    assert_true(harness_log_has(&f->h, "waiting for the next one", NULL));
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
        T(messages_sent_again),
        T(idempotent_request_sent_again_when_its_connection_goes),
        T(other_request_not_sent_again),
        T(gone_and_busy),
        T(tunnel_id_in_request),
        T(large_response_heads),
        T(large_request_head),
        T(octets_that_are_not_utf8),
        T(agent_cancel_after_head),
        T(agent_cancel_after_the_end),
        T(lambda_cancels_when_it_gives_up),
        T(long_chosen_name_uses_the_route_cache),
        T(gone_connection_waits_for_the_next_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
