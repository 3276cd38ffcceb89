/* SPDX-License-Identifier: MIT */
/* test_clock.c - lib/clock: the monotonic clock never steps back and advances across a sleep;
 * the wall clock agrees with time(2); sleeps of zero or less return at once; the HTTP Date text
 * (IMF-fixdate, RFC 9110 §5.6.7) of an injected clock, formatted once per second; the three
 * HTTP-date forms parsed, and nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
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
    /* time(2) reads glibc's coarse clock, up to a tick behind CLOCK_REALTIME: just after a second
     * turns it may still say the last one, so w can be a second past it (seen once under load) */
    int64_t after = (int64_t)time(NULL) * 1000 + 2000;
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

/* an injected wall clock: *ud milliseconds, counting its readings */
typedef struct fake_wall {
    int64_t ms;
    int reads;
} fake_wall;
static int64_t fake_now(void *ud)
{
    fake_wall *f = ud;
    f->reads++;
    return f->ms;
}

static void test_http_date_format(void **state)
{
    (void)state;
    static const struct {
        int64_t t;
        const char *want;
    } cases[] = {
        {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"}, /* RFC 9110 §5.6.7's example */
        {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
        {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},  /* a leap day */
        {1772701445, "Thu, 05 Mar 2026 09:04:05 GMT"}, /* day, hour, minute, second: 2 digits */
        {253402300799, "Fri, 31 Dec 9999 23:59:59 GMT"},
    };
    char out[CLOCK_HTTP_DATE_LEN + 1];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_true(clock_format_http_date(cases[i].t, out));
        assert_string_equal(out, cases[i].want);
    }
    /* year 10000 has five digits: not an IMF-fixdate, refused */
    assert_false(clock_format_http_date(253402300800, out));
    assert_string_equal(out, "");
}

/* The three HTTP-date forms a recipient must accept (RFC 9110 §5.6.7), case-sensitive, and
 * nothing else; the time they name. */
static void test_http_date_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t t; /* -1: not an HTTP-date */
    } cases[] = {
        {"Sun, 06 Nov 1994 08:49:37 GMT", 784111777},  /* IMF-fixdate */
        {"Sunday, 06-Nov-94 08:49:37 GMT", 784111777}, /* rfc850-date */
        {"Sun Nov  6 08:49:37 1994", 784111777},       /* asctime-date */
        {"Sun Nov 16 08:49:37 1994", 784975777},
        {"Tue, 29 Feb 2000 00:00:00 GMT", 951782400},
        {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
        {"Fri, 31 Dec 9999 23:59:59 GMT", 253402300799},
        {"Wednesday, 01-Jan-25 00:00:00 GMT", 1735689600}, /* 00..69: 20xx */
        {"Sat, 31 Dec 2016 23:59:60 GMT", 1483228800},     /* a leap second (second 60) */
        {"", -1},
        {" ", -1},
        {"yesterday", -1},
        {"sun, 06 nov 1994 08:49:37 gmt", -1}, /* case-sensitive */
        {"Sun, 06 Nov 1994 08:49:37 UTC", -1},
        {"Sun, 6 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 06 Nov 94 08:49:37 GMT", -1},
        {"Sun, 06 Nov 1994 08:49:37 GMT ", -1},
        {"Sun, 06 Nov 1994 24:00:00 GMT", -1},
        {"Sun, 06 Nov 1994 08:60:00 GMT", -1},
        {"Sun, 32 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 00 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 06 Now 1994 08:49:37 GMT", -1},
        {"Xyz, 06 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT", -1},
        {"Sun Nov 6 08:49:37 1994", -1},
        {"Sun,06 Nov 1994 08:49:37 GMT", -1},
        {"1994-11-06T08:49:37Z", -1},
        {"784111777", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t t = 42;
        bool ok = clock_parse_http_date(cases[i].text, strlen(cases[i].text), &t);
        if (ok != (cases[i].t >= 0) || (ok && t != cases[i].t))
            fail_msg("\"%s\": %s %lld", cases[i].text, ok ? "parsed" : "refused", (long long)t);
    }
}

static void test_http_date_cached_per_second(void **state)
{
    (void)state;
    fake_wall f = {.ms = 784111777000};
    clock_http_date d = {.wall = fake_now, .ud = &f};
    const char *a = clock_http_date_now(&d);
    assert_string_equal(a, "Sun, 06 Nov 1994 08:49:37 GMT");
    f.ms += 999; /* the same second: the same text */
    assert_ptr_equal(clock_http_date_now(&d), a);
    assert_string_equal(a, "Sun, 06 Nov 1994 08:49:37 GMT");
    f.ms += 1; /* the next second */
    assert_string_equal(clock_http_date_now(&d), "Sun, 06 Nov 1994 08:49:38 GMT");
    f.ms -= 5000; /* the wall clock stepped back: followed */
    assert_string_equal(clock_http_date_now(&d), "Sun, 06 Nov 1994 08:49:33 GMT");
    assert_int_equal(f.reads, 4); /* one reading per call, nothing else */
    /* zero-initialised: the real wall clock, whose second is now */
    clock_http_date real = {0};
    char want[CLOCK_HTTP_DATE_LEN + 1];
    time_t before = time(NULL);
    const char *got = clock_http_date_now(&real);
    assert_true(clock_format_http_date((int64_t)before, want));
    if (strcmp(got, want) != 0) { /* the second turned between the two readings */
        assert_true(clock_format_http_date((int64_t)before + 1, want));
        assert_string_equal(got, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monotonic_advances_across_sleep),
        cmocka_unit_test(test_wall_is_unix_ms),
        cmocka_unit_test(test_nonpositive_sleep_returns),
        cmocka_unit_test(test_http_date_format),
        cmocka_unit_test(test_http_date_parse),
        cmocka_unit_test(test_http_date_cached_per_second),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
