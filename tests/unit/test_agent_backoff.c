/* SPDX-License-Identifier: MIT */
/* test_agent_backoff.c - the reconnect schedule with a pinned random source. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backoff.h"

static double fixed(void *ud)
{
    return *(double *)ud;
}

static void test_schedule_max_jitter(void **state)
{
    (void)state;
    double r = 0.999999; /* factor 0.9999995, just under 1.0: the un-jittered schedule, less
                            the millisecond lost when rounding down */
    backoff b;
    backoff_init(&b, fixed, &r);
    const uint32_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(backoff_next(&b), want[i] - 1);
        assert_int_equal(b.attempt, i + 1);
    }
}

static void test_schedule_min_jitter(void **state)
{
    (void)state;
    double r = 0.0; /* factor 0.5 */
    backoff b;
    backoff_init(&b, fixed, &r);
    const uint32_t want[] = {500, 1000, 2000, 4000, 8000, 16000, 30000, 30000};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_int_equal(backoff_next(&b), want[i]);
}

static void test_reset(void **state)
{
    (void)state;
    double r = 0.5; /* factor 0.75 */
    backoff b;
    backoff_init(&b, fixed, &r);
    assert_int_equal(backoff_next(&b), 750);
    assert_int_equal(backoff_next(&b), 1500);
    assert_int_equal(backoff_next(&b), 3000);
    backoff_reset(&b);
    assert_int_equal(b.attempt, 0);
    assert_int_equal(backoff_next(&b), 750);
    assert_int_equal(b.attempt, 1);
}

static void test_bad_random(void **state)
{
    (void)state;
    double r = 7.0; /* out of range: treated as 0 */
    backoff b;
    backoff_init(&b, fixed, &r);
    assert_int_equal(backoff_next(&b), 500);
}

static void test_default_random_in_range(void **state)
{
    (void)state;
    backoff b;
    backoff_init(&b, NULL, NULL);
    for (int i = 0; i < 20; i++) {
        uint32_t base = b.base_ms;
        uint32_t d = backoff_next(&b);
        assert_true(d >= base / 2);
        assert_true(d <= base);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_max_jitter),
        cmocka_unit_test(test_schedule_min_jitter),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_bad_random),
        cmocka_unit_test(test_default_random_in_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
