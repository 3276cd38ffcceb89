/* SPDX-License-Identifier: MIT */
/* test_agent_capture.c - the inspector's ring: per-body cap (truncation), byte budget and entry
 * count (oldest evicted first), exchanges evicted while in progress (detached, freed at their
 * end), change notifications, replay links, clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "capture.h"

static cap_entry *begin(capture *c, const char *method, const char *target)
{
    http_headers h;
    http_headers_init(&h);
    assert_int_equal(http_headers_add(&h, "Host", 4, "127.0.0.1:3000", 14), 0);
    obs_request rq = {"bin", "1", method, target, &h, NULL};
    cap_entry *e = capture_begin(c, &rq, 0);
    http_headers_free(&h);
    assert_non_null(e);
    return e;
}

static void finish(capture *c, cap_entry *e, int status)
{
    obs_response rs = {status, NULL, false};
    capture_response_head(c, e, &rs);
    exchange_info info = {.mode = "bin", .status = status, .total_ms = 3};
    capture_end(c, e, &info);
}

static void test_truncation(void **state)
{
    (void)state;
    capture *c = capture_new(1 << 20, 1000, 100);
    cap_entry *e = begin(c, "POST", "/up");
    uint8_t buf[700];
    memset(buf, 'a', sizeof buf);
    capture_request_body(c, e, buf, sizeof buf);
    memset(buf, 'b', sizeof buf);
    capture_request_body(c, e, buf, sizeof buf);
    capture_response_body(c, e, (const uint8_t *)"ok", 2);
    finish(c, e, 201);
    const cap_entry *f = capture_find(c, e->id);
    assert_ptr_equal(f, e);
    assert_int_equal(f->req_body.len, 1000); /* the cap */
    assert_int_equal(f->req_body.total, 1400);
    assert_true(cap_body_truncated(&f->req_body));
    assert_int_equal(f->req_body.data[699], 'a');
    assert_int_equal(f->req_body.data[700], 'b');
    assert_int_equal(f->resp_body.len, 2);
    assert_false(cap_body_truncated(&f->resp_body));
    assert_int_equal(f->status, 201);
    assert_true(f->done);
    capture_free(c);
}

static void test_body_max_bounded_by_budget(void **state)
{
    (void)state;
    capture *c = capture_new(4000, 1 << 20, 10);
    assert_int_equal(capture_body_max(c), 1000);
    capture_free(c);
    assert_null(capture_new(0, 10, 10));
}

static void test_budget_evicts_oldest(void **state)
{
    (void)state;
    const size_t budget = 64 * 1024;
    capture *c = capture_new(budget, 8 * 1024, 1000);
    uint8_t body[8 * 1024];
    memset(body, 'x', sizeof body);
    uint64_t first = 0, last = 0;
    for (int i = 0; i < 40; i++) {
        cap_entry *e = begin(c, "GET", "/big");
        if (!first)
            first = e->id;
        last = e->id;
        capture_response_body(c, e, body, sizeof body);
        finish(c, e, 200);
        assert_true(capture_used(c) <= budget);
    }
    assert_true(capture_evicted(c) > 0);
    assert_null(capture_find(c, first)); /* the oldest went first */
    assert_non_null(capture_find(c, last));
    /* What is left is a contiguous run of the newest ids. */
    size_t n = 0;
    uint64_t want = last;
    for (const cap_entry *e = capture_newest(c); e; e = e->older, want--, n++)
        assert_int_equal(e->id, want);
    assert_int_equal(n, capture_count(c));
    assert_true(n >= 4 && n < 10);
    capture_free(c);
}

static void test_max_entries(void **state)
{
    (void)state;
    capture *c = capture_new(1 << 20, 1024, 3);
    for (int i = 0; i < 5; i++)
        finish(c, begin(c, "GET", "/"), 204);
    assert_int_equal(capture_count(c), 3);
    assert_int_equal(capture_evicted(c), 2);
    assert_null(capture_find(c, 2));
    assert_non_null(capture_find(c, 3));
    capture_free(c);
}

static int changes, evictions;
static void on_change(void *ud, const cap_entry *e)
{
    (void)ud;
    if (e)
        changes++;
    else
        evictions++;
}

static void test_live_entry_detached(void **state)
{
    (void)state;
    capture *c = capture_new(32 * 1024, 4 * 1024, 2);
    changes = evictions = 0;
    capture_set_listener(c, on_change, NULL);
    cap_entry *live = begin(c, "POST", "/slow"); /* stays in progress */
    capture_request_body(c, live, (const uint8_t *)"abc", 3);
    finish(c, begin(c, "GET", "/a"), 200);
    finish(c, begin(c, "GET", "/b"), 200); /* a third entry: the live one is evicted */
    assert_int_equal(capture_count(c), 2);
    assert_null(capture_find(c, live->id));
    assert_true(live->detached);
    assert_null(live->req_body.data);
    /* The data path goes on with it: nothing is kept, nothing crashes, the end frees it. */
    capture_request_body(c, live, (const uint8_t *)"def", 3);
    obs_response rs = {200, NULL, false};
    capture_response_head(c, live, &rs);
    capture_response_body(c, live, (const uint8_t *)"x", 1);
    exchange_info info = {.mode = "bin", .status = 200};
    capture_end(c, live, &info); /* ASan: freed here, exactly once */
    assert_int_equal(capture_count(c), 2);
    assert_true(changes >= 6);
    assert_true(evictions >= 1);
    uint64_t seq = capture_seq(c);
    assert_true(seq >= (uint64_t)(changes + evictions));
    capture_free(c);
}

static void test_replay_link_and_error(void **state)
{
    (void)state;
    capture *c = capture_new(1 << 20, 1024, 10);
    cap_entry *a = begin(c, "GET", "/x");
    finish(c, a, 200);
    obs_request rq = {"replay", NULL, "GET", "/x", NULL, NULL};
    cap_entry *b = capture_begin(c, &rq, a->id);
    exchange_info info = {.mode = "replay", .error = "connection refused"};
    capture_end(c, b, &info);
    const cap_entry *f = capture_find(c, b->id);
    assert_int_equal(f->replay_of, a->id);
    assert_string_equal(f->error, "connection refused");
    assert_string_equal(f->mode, "replay");
    assert_int_equal(f->status, 0);
    assert_int_equal(f->req_headers.n, 0);
    capture_free(c);
}

static void test_interim_and_clear(void **state)
{
    (void)state;
    capture *c = capture_new(1 << 20, 1024, 10);
    cap_entry *e = begin(c, "PUT", "/up");
    obs_response rs = {100, NULL, true};
    capture_response_head(c, e, &rs);
    assert_int_equal(e->n_interim, 1);
    assert_int_equal(e->interim[0], 100);
    assert_int_equal(e->status, 0);
    finish(c, begin(c, "GET", "/done"), 200);
    capture_clear(c); /* the finished one goes, the live one is detached */
    assert_int_equal(capture_count(c), 0);
    assert_int_equal(capture_used(c), 0);
    assert_true(e->detached);
    finish(c, e, 200);
    /* Ids go on after a clear. */
    cap_entry *n = begin(c, "GET", "/after");
    assert_int_equal(n->id, 3);
    finish(c, n, 200);
    capture_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_body_max_bounded_by_budget),
        cmocka_unit_test(test_budget_evicts_oldest),
        cmocka_unit_test(test_max_entries),
        cmocka_unit_test(test_live_entry_detached),
        cmocka_unit_test(test_replay_link_and_error),
        cmocka_unit_test(test_interim_and_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
