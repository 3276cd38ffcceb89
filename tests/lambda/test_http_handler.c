/* SPDX-License-Identifier: MIT */
/* lambda/http_handler against the fakes (http_handler_fixture.h): a public request through the
 * HTTP function, the scripted agent answering through the WebSocket function, and the answer
 * the client gets. The response rules (the Lambda frames responses itself, issue 12 item 1): a
 * Content-Length is exact (more bytes, fewer bytes, pieces past the last one: 502 and a log line
 * naming the tunnel, never the extra bytes), bodiless statuses and HEAD carry no body, interim
 * responses are not forwarded; an early answer (403 while the upload is still being posted) is
 * returned at once; large heads and octets that are not UTF-8; the request line and Host by
 * ttfd's rules. Delivery (resends, cancels,
 * gone connections) is in test_http_handler_delivery.c. */
#include "http_handler_fixture.h"

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

/* The rules ttfd frames responses by (lib/resp_frame), which the Lambda's own judge once
 * bent: a body on "Content-Length: 0" was returned, and an invalid Content-Length on an answer
 * to HEAD passed; one value repeated as a list goes on as one value. */
static void content_length_as_ttfd(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, CL_ZERO_BODY, "GET", "/", NULL, 0);
    expect_overrun(f, a, "Content-Length");
    json_decref(a);
    a = request(f, CL_BAD_HEAD, "HEAD", "/", NULL, 0);
    expect_overrun(f, a, "invalid Content-Length");
    json_decref(a);
    a = request(f, CL_LIST, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    expect_body(a, "hello", 5);
    assert_string_equal(harness_header(a, "content-length"), "5");
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

/* EARLY_413_PIECES's agent sends the rest of its answer while the HTTP function waits for it,
 * unless it was cancelled first: as ttf, which drops an exchange on cancel. */
static void rest_unless_cancelled(harness *h, const char *op, void *ud)
{
    fixture *f = ud;
    if (strcmp(op, "BatchGetItem") == 0 && !f->cancel_seen && !f->rest_sent) {
        f->rest_sent = true;
        piece(h, f->rid, 1, "67890", 5, false, true);
    }
}

/* An early answer whose body is still coming when the Lambda stops posting the upload: the
 * agent hears that the rest of the body will not come only once the answer is in (its cancel
 * drops the exchange: the rest of a 3 MiB 413 was lost, and the client got a 504 after 27 s). */
static void early_answer_in_pieces_arrives_whole(void **state)
{
    fixture *f = *state;
    f->h.cfg.request_timeout_s = 2;
    f->h.meanwhile = rest_unless_cancelled;
    f->h.meanwhile_ud = f;
    size_t n = 6 * TTF_JSON_CHUNK;
    char *body = calloc(1, n);
    json_t *a = request(f, EARLY_413_PIECES, "POST", "/upload", body, n);
    free(body);
    assert_int_equal(status_of(a), 413);
    expect_body(a, "1234567890", 10);
    assert_true(f->body_seen < n);
    assert_true(f->cancel_seen); /* told, once the answer was in */
    json_decref(a);
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

/* The event's method, target and host read by ttfd's parser (RFC 9112 §3.2) before routing:
 * a '#' in rawQueryString and '*' for a GET get ttfd's 400 and never reach the agent; an
 * absolute-form target is routed by its authority and forwarded in origin-form. */
static void request_line_as_ttfd(void **state)
{
    fixture *f = *state;
    static const char frag[] = "bad request: fragment (#) in the request-target\n";
    json_t *a = request(f, PLAIN, "GET", "/x?a#b", NULL, 0);
    assert_int_equal(status_of(a), 400);
    expect_body(a, frag, sizeof frag - 1);
    json_decref(a);
    static const char star[] = "bad request: asterisk-form is for OPTIONS only\n";
    a = request(f, PLAIN, "GET", "*", NULL, 0);
    assert_int_equal(status_of(a), 400);
    expect_body(a, star, sizeof star - 1);
    json_decref(a);
    assert_int_equal(f->uri[0], 0); /* neither reached the agent */
    char abs[128];
    snprintf(abs, sizeof abs, "http://%s.%s/x?y=1", f->tid, H_DOMAIN);
    a = request(f, PLAIN, "GET", abs, NULL, 0);
    assert_int_equal(status_of(a), 200);
    assert_string_equal(f->uri, "/x?y=1");
    json_decref(a);
}

/* A request carrying the tunnel's own CDN-Loop mark is a loop, answered 508 at ttfd's point
 * (server/pconn.c: right after routing, before 413 and 501): before, the Lambda answered a
 * looping upgrade 501 and a looping body over MAX_BODY_BYTES 413 where ttfd gave 508. */
static void loop_before_413_and_501(void **state)
{
    fixture *f = *state;
    char mark[PROXY_LOOP_MARK_LEN + 1];
    assert_int_equal(proxy_loop_mark(mark, H_DOMAIN, strlen(H_DOMAIN), f->tid), 0);
    json_t *hd = json_pack("{s:s, s:s, s:s, s:s}", "cdn-loop", mark, "connection", "Upgrade",
                           "upgrade", "websocket", "sec-websocket-version", "13");
    json_t *a = harness_request(&f->h, f->tid, "GET", "/ws", hd, NULL, 0);
    assert_int_equal(status_of(a), 508);
    json_decref(a);
    size_t n = 4194304 + 1; /* MAX_BODY_BYTES' default, and one */
    char *body = calloc(1, n);
    assert_non_null(body);
    a = harness_request(&f->h, f->tid, "POST", "/up", json_pack("{s:s}", "cdn-loop", mark), body,
                        n);
    free(body);
    assert_int_equal(status_of(a), 508);
    json_decref(a);
    assert_int_equal(f->uri[0], 0); /* neither reached the agent */
    /* without the mark, the same requests get their own answers */
    hd = json_pack("{s:s, s:s, s:s}", "connection", "Upgrade", "upgrade", "websocket",
                   "sec-websocket-version", "13");
    a = harness_request(&f->h, f->tid, "GET", "/ws", hd, NULL, 0);
    assert_int_equal(status_of(a), 501);
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
        T(content_length_as_ttfd),
        T(bodiless_statuses),
        T(head_keeps_content_length),
        T(piece_after_the_last),
        T(second_response),
        T(interim_not_forwarded),
        T(early_answer_stops_the_upload),
        T(early_answer_in_pieces_arrives_whole),
        T(large_response_heads),
        T(large_request_head),
        T(octets_that_are_not_utf8),
        T(request_line_as_ttfd),
        T(loop_before_413_and_501),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
