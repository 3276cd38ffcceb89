/* SPDX-License-Identifier: MIT */
/* test_agent_observer.c - the exchange observer handle (order, once-only end, implicit head) and
 * the fan-out (every child in order, each with its own state). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observer.h"

typedef struct rec {
    char log[512];
    int tag;
} rec;

static void say(rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(rec *r, const char *fmt, ...)
{
    size_t n = strlen(r->log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->log + n, sizeof r->log - n, fmt, ap);
    va_end(ap);
}

static void *r_head(void *ud, const obs_request *rq)
{
    rec *r = ud;
    say(r, "H%d:%s %s;", r->tag, rq->method, rq->target);
    int *st = malloc(sizeof *st);
    *st = r->tag * 100;
    return st;
}

static void r_reqb(void *ud, void *x, const uint8_t *d, size_t n)
{
    say(ud, "Q%d:%.*s;", *(int *)x, (int)n, (const char *)d);
}

static void r_resph(void *ud, void *x, const obs_response *rs)
{
    say(ud, "S%d:%d%s;", *(int *)x, rs->status, rs->interim ? "i" : "");
}

static void r_respb(void *ud, void *x, const uint8_t *d, size_t n)
{
    say(ud, "B%d:%.*s;", *(int *)x, (int)n, (const char *)d);
}

static void r_end(void *ud, void *x, const exchange_info *info)
{
    say(ud, "E%d:%s;", *(int *)x, info->error ? info->error : "ok");
    free(x);
}

static const exchange_observer_ops rec_ops = {r_head, r_reqb, r_resph, r_respb, r_end};

static void test_order_and_fanout(void **state)
{
    (void)state;
    rec a = {.tag = 1}, b = {.tag = 2};
    observer_fanout f;
    observer_fanout_init(&f);
    assert_int_equal(observer_fanout_add(&f, (exchange_observer){&rec_ops, &a}), 0);
    assert_int_equal(observer_fanout_add(&f, (exchange_observer){&rec_ops, &b}), 0);
    exchange_observer o = observer_fanout_observer(&f);

    obs_exchange e = {0};
    obs_request rq = {"bin", "7", "POST", "/x", NULL, NULL};
    obs_begin(&e, &o, &rq);
    obs_request_body(&e, "ab", 2);
    obs_request_body(&e, "", 0); /* empty pieces are not reported */
    obs_response_head(&e, 100, NULL, true);
    obs_response_head(&e, 200, NULL, false);
    obs_response_body(&e, "cd", 2);
    exchange_info info = {.mode = "bin", .id = "7", .method = "POST", .target = "/x"};
    obs_end(&e, &o, &info);
    obs_end(&e, &o, &info);         /* once only */
    obs_response_body(&e, "zz", 2); /* after the end: nothing */
    assert_string_equal(a.log, "H1:POST /x;Q100:ab;S100:100i;S100:200;B100:cd;E100:ok;");
    assert_string_equal(b.log, "H2:POST /x;Q200:ab;S200:100i;S200:200;B200:cd;E200:ok;");

    /* the next exchanges reuse the ended one's array of states (one spare, taken again) */
    assert_int_equal(f.spare.n, 1);
    obs_exchange e2 = {0}, e3 = {0};
    obs_request rq2 = {"bin", "8", "GET", "/y", NULL, NULL};
    obs_begin(&e2, &o, &rq2);
    assert_int_equal(f.spare.n, 0);
    obs_begin(&e3, &o, &rq2); /* two at once: the second array is a new one */
    obs_response_body(&e2, "e", 1);
    obs_response_body(&e3, "f", 1);
    obs_end(&e3, &o, &info);
    obs_end(&e2, &o, &info);
    assert_int_equal(f.spare.n, 2);
    assert_string_equal(a.log, "H1:POST /x;Q100:ab;S100:100i;S100:200;B100:cd;E100:ok;"
                               "H1:GET /y;H1:GET /y;B100:e;B100:f;E100:ok;E100:ok;");
    observer_fanout_free(&f);
    assert_int_equal(f.spare.n, 0);
}

static void test_end_without_begin(void **state)
{
    (void)state;
    rec a = {.tag = 3};
    exchange_observer o = {&rec_ops, &a};
    obs_exchange e = {0};
    /* An unreadable head: the data path only ends the exchange; the head is reported first. */
    exchange_info info = {.mode = "bin", .id = "9", .error = "invalid_request"};
    obs_end(&e, &o, &info);
    assert_string_equal(a.log, "H3:? ?;E300:invalid_request;");
}

static void test_null_observer(void **state)
{
    (void)state;
    obs_exchange e = {0};
    obs_request rq = {"json", "r", "GET", "/", NULL, NULL};
    obs_begin(&e, NULL, &rq);
    obs_request_body(&e, "x", 1);
    obs_response_head(&e, 200, NULL, false);
    exchange_info info = {.mode = "json"};
    obs_end(&e, NULL, &info);
    assert_true(e.ended);
}

static void test_fanout_full(void **state)
{
    (void)state;
    observer_fanout f;
    observer_fanout_init(&f);
    rec r = {0};
    for (int i = 0; i < OBSERVER_FANOUT_MAX; i++)
        assert_int_equal(observer_fanout_add(&f, (exchange_observer){&rec_ops, &r}), 0);
    assert_int_equal(observer_fanout_add(&f, (exchange_observer){&rec_ops, &r}), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_fanout),
        cmocka_unit_test(test_end_without_begin),
        cmocka_unit_test(test_null_observer),
        cmocka_unit_test(test_fanout_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
