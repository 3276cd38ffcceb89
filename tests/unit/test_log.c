/* SPDX-License-Identifier: MIT */
/* test_log.c - text and JSON log lines, level filtering, escaping, long messages, the cached
 * timestamp and the line sink. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

typedef struct capture {
    char *buf;
    size_t len;
    FILE *f;
} capture;

static void cap_open(capture *c)
{
    memset(c, 0, sizeof *c);
    c->f = open_memstream(&c->buf, &c->len);
    assert_non_null(c->f);
}

static void cap_close(capture *c)
{
    fclose(c->f);
}

static void match(const char *s, const char *re)
{
    regex_t r;
    assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec(&r, s, 0, NULL, 0);
    regfree(&r);
    if (rc != 0)
        fail_msg("\"%s\" does not match /%s/", s, re);
}

static void test_text(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    tlog lg = {.level = TLOG_INFO, .out = c.f, .json = false, .prog = "ttfd"};
    TLOG_I(&lg, "GET %s %d", "/x", 200);
    TLOG_W(&lg, "warned");
    TLOG_E(&lg, "failed");
    TLOG_D(&lg, "dropped debug");
    cap_close(&c);
    match(c.buf, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z ttfd INFO "
                 "GET /x 200\n"
                 "[0-9T:.Z-]{24} ttfd WARN warned\n"
                 "[0-9T:.Z-]{24} ttfd ERROR failed\n$");
    free(c.buf);
}

/* A CR/LF in a message (a path, a header from the network) must not start a new log line. */
static void test_text_escapes(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    tlog lg = {.level = TLOG_INFO, .out = c.f, .prog = "ttfd"};
    TLOG_I(&lg, "a\r\n2026-01-01T00:00:00.000Z ttfd ERROR forged\x01\x7f\tz caf\xc3\xa9");
    cap_close(&c);
    match(c.buf, "^[0-9T:.Z-]{24} ttfd INFO a\\\\r\\\\n2026-01-01T00:00:00.000Z ttfd ERROR "
                 "forged\\\\x01\\\\x7f\tz caf\xc3\xa9\n$");
    free(c.buf);
}

/* Every control byte is escaped wherever it sits in a long message (the escaping steps eight
 * bytes at a time), and tabs, UTF-8 and 0x20..0x7e pass as they are. */
static void test_escapes_everywhere(void **state)
{
    (void)state;
    const unsigned char specials[] = {0x01, 0x1f, 0x7f, '\t', '\n', 0x80, 0xff, 0x20, 0x7e};
    const char *want[] = {"\\x01", "\\x1f", "\\x7f", "\t", "\\n", "\x80", "\xff", " ", "~"};
    for (size_t k = 0; k < sizeof specials; k++) {
        for (size_t pos = 0; pos < 40; pos++) {
            char msg[41], expect[64];
            memset(msg, 'm', 40);
            msg[40] = '\0';
            msg[pos] = (char)specials[k];
            snprintf(expect, sizeof expect, "%.*s%s%s\n", (int)pos, msg, want[k], msg + pos + 1);
            capture c;
            cap_open(&c);
            tlog lg = {.level = TLOG_INFO, .out = c.f, .prog = "p"};
            TLOG_I(&lg, "%s", msg);
            cap_close(&c);
            assert_string_equal(c.buf + strlen("2026-11-25T13:57:15.123Z p INFO "), expect);
            free(c.buf);
        }
    }
}

static void test_levels(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    tlog lg = {.level = TLOG_ERROR, .out = c.f, .prog = "ttf"};
    TLOG_W(&lg, "no");
    TLOG_I(&lg, "no");
    TLOG_E(&lg, "yes");
    lg.level = TLOG_DEBUG;
    TLOG_D(&lg, "debug too");
    cap_close(&c);
    assert_null(strstr(c.buf, "no"));
    match(c.buf, "ttf ERROR yes\n.* ttf DEBUG debug too\n$");
    free(c.buf);
    /* NULL log and NULL stream drop the line */
    tlog_write(NULL, TLOG_ERROR, "x");
    tlog nul = {.level = TLOG_DEBUG, .out = NULL};
    tlog_write(&nul, TLOG_ERROR, "x");
}

static void test_json(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    tlog lg = {.level = TLOG_DEBUG, .out = c.f, .json = true, .prog = "lambda"};
    TLOG_I(&lg, "quote \" backslash \\ newline \n tab \t ctl \x01 utf8 caf\xc3\xa9");
    TLOG_D(&lg, "second");
    TLOG_E(&lg, "bad utf8 \xff end");
    cap_close(&c);
    /* three lines, each one JSON object */
    char *save = NULL;
    char *line = strtok_r(c.buf, "\n", &save);
    const char *levels[] = {"info", "debug", "error"};
    int n = 0;
    for (; line; line = strtok_r(NULL, "\n", &save), n++) {
        assert_true(n < 3);
        json_error_t e;
        json_t *o = json_loads(line, 0, &e);
        if (!o)
            fail_msg("not JSON: %s", line);
        assert_true(json_is_object(o));
        assert_int_equal(json_object_size(o), 3);
        assert_string_equal(json_string_value(json_object_get(o, "level")), levels[n]);
        match(json_string_value(json_object_get(o, "ts")),
              "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$");
        const char *msg = json_string_value(json_object_get(o, "msg"));
        assert_non_null(msg);
        if (n == 0)
            assert_string_equal(
                msg, "quote \" backslash \\ newline \n tab \t ctl \x01 utf8 caf\xc3\xa9");
        if (n == 1)
            assert_string_equal(msg, "second");
        if (n == 2)
            assert_string_equal(msg, "bad utf8 ? end");
        json_decref(o);
    }
    assert_int_equal(n, 3);
    free(c.buf);
}

/* Structured fields: after ts/level/msg in JSON lines (never replacing them), ignored in text
 * lines; the fields object is released in every case (ASan/valgrind see a leak otherwise). */
static void test_fields(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    tlog lg = {.level = TLOG_INFO, .out = c.f, .json = true, .prog = "ttfd"};
    tlog_write_fields(&lg, TLOG_INFO,
                      json_pack("{s:s,s:i,s:s,s:f}", "tunnel_id", "abc", "status", 200, "msg",
                                "forged", "duration_ms", 1.25),
                      "request %d", 7);
    tlog_write_fields(&lg, TLOG_DEBUG, json_pack("{s:i}", "dropped", 1), "below the level");
    tlog_write_fields(&lg, TLOG_INFO, NULL, "no fields");
    lg.json = false;
    tlog_write_fields(&lg, TLOG_INFO, json_pack("{s:i}", "x", 1), "text line");
    cap_close(&c);
    char *save = NULL;
    char *l1 = strtok_r(c.buf, "\n", &save), *l2 = strtok_r(NULL, "\n", &save);
    char *l3 = strtok_r(NULL, "\n", &save);
    assert_non_null(l3);
    assert_null(strtok_r(NULL, "\n", &save));
    json_error_t e;
    json_t *o = json_loads(l1, 0, &e);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "msg")), "request 7");
    assert_string_equal(json_string_value(json_object_get(o, "tunnel_id")), "abc");
    assert_int_equal(json_integer_value(json_object_get(o, "status")), 200);
    assert_non_null(strstr(l1, "\"duration_ms\":1.25}"));
    assert_int_equal(json_object_size(o), 6);
    json_decref(o);
    assert_non_null(strstr(l2, "\"msg\":\"no fields\""));
    assert_non_null(strstr(l3, " ttfd INFO text line"));
    assert_null(strstr(l3, "\"x\""));
    free(c.buf);
}

static void test_long_message(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    tlog lg = {.level = TLOG_INFO, .out = c.f, .prog = "ttfd"};
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    TLOG_I(&lg, "%.3000s|end", big); /* over the stack buffer, under TLOG_MSG_MAX: whole */
    cap_close(&c);
    assert_non_null(strstr(c.buf, "|end\n"));
    assert_true(c.len > 3000);
    free(c.buf);
}

/* A peer's text cannot make a line of megabytes: cut at TLOG_MSG_MAX, saying how much went. */
static void test_message_cut_at_max(void **state)
{
    (void)state;
    for (int json = 0; json <= 1; json++) {
        capture c;
        cap_open(&c);
        tlog lg = {.level = TLOG_INFO, .out = c.f, .json = json, .prog = "ttfd"};
        size_t n = 1000000;
        char *big = malloc(n + 1);
        assert_non_null(big);
        memset(big, 'a', n);
        big[n] = '\0';
        TLOG_I(&lg, "x=%s|end", big);
        free(big);
        cap_close(&c);
        assert_null(strstr(c.buf, "|end"));
        assert_non_null(strstr(c.buf, "... (995910 more bytes)"));
        assert_true(c.len < TLOG_MSG_MAX + 200);
        free(c.buf);
    }
}

/* A message built with tlog_msg is the line tlog_write writes for the same text: in text and
 * JSON, with control bytes, numbers, and cut the same way past TLOG_MSG_MAX. */
static void test_built_message(void **state)
{
    (void)state;
    size_t sizes[] = {10, TLOG_MSG_MAX - 40, TLOG_MSG_MAX - 20, TLOG_MSG_MAX, 20000};
    for (int json = 0; json <= 1; json++) {
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            char *target = malloc(sizes[k] + 1);
            assert_non_null(target);
            memset(target, 'p', sizes[k]);
            target[0] = '\r';
            target[sizes[k]] = '\0';
            capture a, b;
            cap_open(&a);
            cap_open(&b);
            tlog la = {.level = TLOG_INFO, .out = a.f, .json = json, .prog = "ttf"};
            tlog lb = {.level = TLOG_INFO, .out = b.f, .json = json, .prog = "ttf"};
            TLOG_I(&la, "GET %s -> %d %llu B %lld ms", target, 200, 18446744073709551615ULL, -42LL);
            tlog_msg m;
            tlog_msg_init(&m);
            tlog_msg_str(&m, "GET ");
            tlog_msg_str(&m, target);
            tlog_msg_add(&m, " -> 2xx", 5); /* n bytes of s */
            tlog_msg_uint(&m, 0);
            tlog_msg_int(&m, 0);
            tlog_msg_add(&m, " ", 1);
            tlog_msg_uint(&m, 18446744073709551615ULL);
            tlog_msg_str(&m, " B ");
            tlog_msg_int(&m, -42);
            tlog_msg_str(&m, " ms");
            tlog_write_msg(&lb, TLOG_INFO, &m);
            tlog_write_msg(&lb, TLOG_DEBUG, &m); /* above the level: nothing */
            cap_close(&a);
            cap_close(&b);
            /* the timestamps differ at most: compare what follows them */
            const char *ta = json ? strstr(a.buf, "\"level\"") : a.buf + 24;
            const char *tb = json ? strstr(b.buf, "\"level\"") : b.buf + 24;
            assert_non_null(ta);
            assert_non_null(tb);
            assert_string_equal(ta, tb);
            free(a.buf);
            free(b.buf);
            free(target);
        }
    }
}

/* The timestamp against gmtime_r: every day from 1969-12-31 to 2400-01-01 (leap days, 2100 and
 * 2200 without one, 2000 and 2400 with one), each at a different second of its day. */
static void test_format_time(void **state)
{
    (void)state;
    for (int64_t day = -1; day <= 157054; day++) {
        struct timespec ts = {(time_t)(day * 86400 + (day * 7919) % 86400),
                              (long)(day % 1000) * 1000000L + 999999};
        struct tm tm;
        assert_non_null(gmtime_r(&ts.tv_sec, &tm));
        char want[64], got[64];
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000000L);
        size_t n = tlog_format_time(got, &ts);
        assert_int_equal(n, 24);
        if (strcmp(got, want) != 0)
            fail_msg("day %lld: %s, want %s", (long long)day, got, want);
    }
}

/* Through a stamp, the same text as tlog_format_time: within a second, at the next one, a day
 * later, and when the clock steps back. */
static void test_format_time_cached(void **state)
{
    (void)state;
    const struct timespec seq[] = {{1764500000, 0},          {1764500000, 999999999},
                                   {1764500000, 123456789},  {1764500001, 5000000},
                                   {1764586401, 5000000},    {1764499999, 999000000},
                                   {1764499999, 1000000},    {0, 0},
                                   {253402300799, 999999999}};
    tlog_stamp st = {0};
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        char want[64], got[64];
        size_t wn = tlog_format_time(want, &seq[i]);
        size_t gn = tlog_format_time_cached(got, &seq[i], &st);
        assert_int_equal(gn, wn);
        assert_string_equal(got, want);
    }
}

typedef struct sunk {
    char buf[8192];
    size_t len;
    int calls;
} sunk;

static void sink_into(void *ud, const char *line, size_t n)
{
    sunk *s = ud;
    assert_true(s->len + n <= sizeof s->buf);
    memcpy(s->buf + s->len, line, n);
    s->len += n;
    s->calls++;
}

/* A sink takes each text line whole (one call per line, newline included) and out gets none
 * of them; the line is the one out would get. JSON lines still go to out. */
static void test_sink(void **state)
{
    (void)state;
    capture a, b;
    cap_open(&a);
    cap_open(&b);
    sunk s = {.len = 0};
    tlog_stamp st = {0};
    tlog la = {.level = TLOG_INFO, .out = a.f, .prog = "ttfd"};
    tlog lb = {.level = TLOG_INFO,
               .out = b.f,
               .prog = "ttfd",
               .sink = sink_into,
               .sink_ud = &s,
               .stamp = &st};
    for (int i = 0; i < 2; i++) {
        tlog *lg = i ? &lb : &la;
        TLOG_I(lg, "GET %s %d", "/x\r\n", 200);
        tlog_msg m;
        tlog_msg_init(&m);
        tlog_msg_str(&m, "built");
        tlog_write_msg(lg, TLOG_INFO, &m);
        TLOG_D(lg, "dropped");
    }
    fflush(b.f);
    assert_int_equal(b.len, 0);
    assert_int_equal(s.calls, 2);
    s.buf[s.len] = '\0';
    cap_close(&a);
    match(s.buf,
          "^[0-9T:.Z-]{24} ttfd INFO GET /x\\\\r\\\\n 200\n[0-9T:.Z-]{24} ttfd INFO built\n$");
    /* the same lines as through out, timestamps aside */
    assert_int_equal(s.len, a.len);
    assert_memory_equal(s.buf + 24, a.buf + 24, 32);
    assert_string_equal(strchr(s.buf, '\n') + 25, strchr(a.buf, '\n') + 25);
    lb.json = true;
    TLOG_I(&lb, "as json");
    cap_close(&b);
    assert_int_equal(s.calls, 2);
    match(b.buf, "^\\{\"ts\":\"[0-9T:.Z-]{24}\",\"level\":\"info\",\"msg\":\"as json\"\\}\n$");
    free(a.buf);
    free(b.buf);
}

/* tlog_every_due: the first event's line is due, then none within the period, then one with
 * the count of every event since the last line (this one included). */
static void test_every(void **state)
{
    (void)state;
    tlog_every e = {0};
    unsigned long long since = 99;
    assert_true(tlog_every_due(&e, 1000, 500, &since));
    assert_int_equal(since, 1);
    assert_false(tlog_every_due(&e, 1200, 500, &since));
    assert_false(tlog_every_due(&e, 1499, 500, &since));
    assert_int_equal(since, 1); /* untouched while not due */
    assert_true(tlog_every_due(&e, 1500, 500, &since));
    assert_int_equal(since, 3);
    assert_false(tlog_every_due(&e, 1999, 500, &since));
    assert_true(tlog_every_due(&e, 5000, 500, &since));
    assert_int_equal(since, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_text_escapes),
        cmocka_unit_test(test_escapes_everywhere),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_long_message),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_message_cut_at_max),
        cmocka_unit_test(test_built_message),
        cmocka_unit_test(test_format_time),
        cmocka_unit_test(test_format_time_cached),
        cmocka_unit_test(test_sink),
        cmocka_unit_test(test_every),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
