/* SPDX-License-Identifier: MIT */
/* test_clock.c - lib/clock: the monotonic clock never steps back and advances across a sleep;
 * the wall clock agrees with time(2); sleeps of zero or less return at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "clock.h"

static void test_monotonic_advances_across_sleep(void **state)
{
    (void)state;
    uint64_t a = clock_now_ms();
    clock_sleep_ms(30);
    uint64_t b = clock_now_ms();
    assert_true(b >= a + 30);
    for (int i = 0; i < 1000; i++) {
        uint64_t c = clock_now_ms();
        assert_true(c >= b);
        b = c;
    }
}

static void test_wall_is_unix_ms(void **state)
{
    (void)state;
    int64_t before = (int64_t)time(NULL) * 1000;
    int64_t w = clock_wall_ms();
    int64_t after = (int64_t)time(NULL) * 1000 + 1000;
    assert_true(w >= before);
    assert_true(w < after);
}

static void test_nonpositive_sleep_returns(void **state)
{
    (void)state;
    uint64_t a = clock_now_ms();
    clock_sleep_ms(0);
    clock_sleep_ms(-5);
    /* returned at once: a negative count taken as a huge unsigned one would block here */
    assert_true(clock_now_ms() - a < 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monotonic_advances_across_sleep),
        cmocka_unit_test(test_wall_is_unix_ms),
        cmocka_unit_test(test_nonpositive_sleep_returns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
