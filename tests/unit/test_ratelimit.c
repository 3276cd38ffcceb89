/* SPDX-License-Identifier: MIT */
/* test_ratelimit.c - token buckets per key (lib/ratelimit.h): a burst of N, then one request per
 * S/N seconds, exact waits, keys apart, refilled buckets dropped when the table is full, and the
 * shared overflow bucket once it is full of buckets in use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ratelimit.h"

static int64_t take(ratelimit *rl, const char *key, int64_t now)
{
    return ratelimit_take(rl, key, strlen(key), now);
}

static void test_burst_then_rate(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new(3, 60, 16); /* 3 per minute: one every 20 s */
    assert_non_null(rl);
    int64_t t = 1000000;
    for (int i = 0; i < 3; i++)
        assert_int_equal(take(rl, "a", t), 0);
    assert_int_equal(take(rl, "a", t), 20000); /* the next token in 20 s */
    assert_int_equal(take(rl, "a", t + 5000), 15000);
    assert_int_equal(take(rl, "a", t + 19999), 1);
    assert_int_equal(take(rl, "a", t + 20000), 0);
    assert_int_equal(take(rl, "a", t + 20000), 20000);
    /* refused requests take nothing: after a full minute the whole burst is back */
    for (int i = 0; i < 3; i++)
        assert_int_equal(take(rl, "a", t + 80000), 0);
    assert_true(take(rl, "a", t + 80000) > 0);
    /* another key has its own bucket */
    assert_int_equal(take(rl, "b", t), 0);
    ratelimit_free(rl);
}

static void test_fractional_rate(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new(3, 1, 4); /* 3 per second: every 333.333 ms */
    int64_t t = 5000;
    int passed = 0;
    for (int64_t ms = 0; ms < 10000; ms++)
        if (take(rl, "k", t + ms) == 0)
            passed++;
    /* the burst of 3 plus 3 per second for 10 s, give or take one token of rounding */
    assert_in_range(passed, 31, 33);
    ratelimit_free(rl);
}

static void test_full_table(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new(1, 10, 2); /* two buckets at most */
    int64_t t = 0;
    assert_int_equal(take(rl, "a", t), 0);
    assert_int_equal(take(rl, "b", t), 0);
    assert_int_equal(ratelimit_keys(rl), 2);
    /* full of buckets in use: new keys share the overflow bucket */
    assert_int_equal(take(rl, "c", t), 0);
    assert_int_equal(take(rl, "d", t), 10000);
    assert_int_equal(ratelimit_keys(rl), 2);
    assert_int_equal(take(rl, "a", t), 10000); /* a's own count was not pushed out */
    /* 10 s on, a and b refilled: they are dropped to make room (a sweep at most once a second) */
    t += 10000;
    assert_int_equal(take(rl, "e", t), 0);
    assert_int_equal(take(rl, "f", t), 0);
    assert_int_equal(ratelimit_keys(rl), 2);
    assert_int_equal(take(rl, "e", t), 10000);
    ratelimit_free(rl);
}

static void test_bad_parameters(void **state)
{
    (void)state;
    assert_null(ratelimit_new(0, 60, 10));
    assert_null(ratelimit_new(5, 0, 10));
    assert_null(ratelimit_new(5, 60, 0));
    ratelimit_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_rate),
        cmocka_unit_test(test_fractional_rate),
        cmocka_unit_test(test_full_table),
        cmocka_unit_test(test_bad_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
