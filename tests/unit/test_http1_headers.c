/* SPDX-License-Identifier: MIT */
/* test_http1_headers.c - header lists (ids, copies, hop-by-hop stripping), the grammar helpers
 * and serialisation (obs-text passes byte for byte, controls never do). The incremental parser's
 * tests are in test_http1.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

/* ---------------------------------------------------------------- header list */

static void test_headers_basic(void **state)
{
    (void)state;
    http_headers h;
    http_headers_init(&h);
    assert_int_equal(http_headers_add(&h, "Set-Cookie", 10, "a=1", 3), 0);
    assert_int_equal(http_headers_add(&h, "Host", 4, "x", 1), 0);
    assert_int_equal(http_headers_add(&h, "set-cookie", 10, "b=2", 3), 0);
    assert_int_equal(h.n, 3);
    assert_string_equal(http_headers_get(&h, "SET-COOKIE"), "a=1");
    assert_null(http_headers_get(&h, "Nope"));
    assert_int_equal(http_headers_set(&h, "set-cookie", "c=3"), 0);
    assert_int_equal(h.n, 2);
    assert_string_equal(h.v[0].name, "Host");
    assert_string_equal(http_headers_get(&h, "Set-Cookie"), "c=3");
    assert_int_equal(http_headers_remove(&h, "HOST"), 1);
    assert_int_equal(h.n, 1);
    assert_int_equal(http_headers_set(&h, "X-New", "v"), 0);
    assert_string_equal(http_headers_get(&h, "x-new"), "v");
    http_headers_free(&h);
    assert_int_equal(h.n, 0);
}

static void add(http_headers *h, const char *n, const char *v)
{
    assert_int_equal(http_headers_add(h, n, strlen(n), v, strlen(v)), 0);
}

/* ---------------------------------------------------------------- lists, names, grammar */

static void test_headers_ids_and_copy(void **state)
{
    (void)state;
    assert_int_equal(http_name_lookup("content-LENGTH", 14), HTTP_H_CONTENT_LENGTH);
    assert_int_equal(http_name_lookup("X-Forwarded-For", 15), HTTP_H_X_FORWARDED_FOR);
    assert_int_equal(http_name_lookup("X-Forwarded-Fox", 15), HTTP_H_OTHER);
    assert_int_equal(http_name_lookup("", 0), HTTP_H_OTHER);
    /* every known name, as spelled and in lower case, and one octet shorter or changed */
    for (int id = 1; id < HTTP_H__COUNT; id++) {
        const char *s = http_name_str((http_name_id)id);
        size_t n = strlen(s);
        char low[64];
        assert_true(n > 0 && n < sizeof low);
        for (size_t i = 0; i <= n; i++)
            low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
        assert_int_equal(http_name_lookup(s, n), id);
        assert_int_equal(http_name_lookup(low, n), id);
        assert_int_equal(http_name_lookup(low, n - 1), HTTP_H_OTHER);
        low[n - 1] = '~';
        assert_int_equal(http_name_lookup(low, n), HTTP_H_OTHER);
    }
    assert_string_equal(http_name_str(HTTP_H_TE), "TE");
    assert_string_equal(http_name_str(HTTP_H_OTHER), "");

    http_headers h, c;
    http_headers_init(&h);
    add(&h, "connection", "keep-alive, Upgrade");
    add(&h, "X-A", "1");
    add(&h, "x-a", "2");
    add(&h, "Upgrade", "websocket");
    assert_int_equal(h.v[0].id, HTTP_H_CONNECTION);
    assert_int_equal(h.v[1].id, HTTP_H_OTHER);
    assert_true(http_headers_has_token(&h, "Connection", "upgrade"));
    assert_false(http_headers_has_token(&h, "Connection", "close"));
    assert_string_equal(http_headers_get_id(&h, HTTP_H_UPGRADE), "websocket");
    assert_int_equal(http_headers_count_id(&h, HTTP_H_CONNECTION), 1);
    assert_int_equal(http_headers_find_id(&h, HTTP_H_UPGRADE, 0), 3);
    assert_int_equal(http_headers_find_id(&h, HTTP_H_UPGRADE, 4), 4);
    assert_int_equal(http_headers_copy(&c, &h), 0);
    http_headers_remove_at(&h, 0);
    assert_int_equal(http_headers_remove(&h, "X-A"), 2);
    assert_int_equal(h.n, 1);
    /* the copy is independent and keeps order, spelling and ids */
    assert_int_equal(c.n, 4);
    assert_string_equal(c.v[0].name, "connection");
    assert_string_equal(c.v[2].value, "2");
    assert_int_equal(c.v[3].id, HTTP_H_UPGRADE);
    assert_int_equal(c.cap, 4); /* exactly its headers' slots: the inspector keeps copies */
    assert_int_equal(http_headers_set(&c, "X-A", "3"), 0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.v[2].value, "3");
    add(&c, "X-C", "4"); /* a copy still grows */
    add(&c, "X-D", "5");
    assert_int_equal(c.n, 5);
    assert_string_equal(c.v[4].value, "5");
    assert_string_equal(c.v[0].name, "connection");
    http_headers_free(&c);
    http_headers_free(&h);
}

/* A block (entries and strings in one allocation, as a parsed head and a copy have): entries
 * pushed into it, then many more added (the entries move out, the strings stay), then removed;
 * a block is refused for a list that is not empty. */
static void test_headers_block(void **state)
{
    (void)state;
    http_headers h;
    http_headers_init(&h);
    assert_null(http_headers_block(&h, 0, 8));
    char *p = http_headers_block(&h, 2, 16);
    assert_non_null(p);
    assert_null(http_headers_block(&h, 2, 16)); /* not empty */
    memcpy(p, "A\0one\0B\0two", 12);
    http_headers_push_ref(&h, p, 1, p + 2, 3, HTTP_H_OTHER);
    http_headers_push_ref(&h, p + 6, 1, p + 8, 3, HTTP_H_OTHER);
    char name[16];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "X-%d", i);
        add(&h, name, "v");
    }
    assert_int_equal(h.n, 42);
    assert_string_equal(h.v[0].value, "one");
    assert_string_equal(h.v[1].name, "B");
    assert_string_equal(h.v[41].name, "X-39");
    http_headers_remove_at(&h, 0);
    assert_string_equal(http_headers_get(&h, "b"), "two");
    http_headers_free(&h);
    assert_null(h.v);
    assert_null(h.arena);
}

/* replace_at keeps the entry's place, name spelling and id, in an owned list and in a copy's
 * arena alike, and leaves the list alone for an index past its end. */
static void test_headers_replace_at(void **state)
{
    (void)state;
    http_headers h, c;
    http_headers_init(&h);
    add(&h, "X-A", "1");
    add(&h, "location", "/old");
    add(&h, "X-B", "2");
    assert_int_equal(http_headers_copy(&c, &h), 0);
    http_headers *lists[] = {&h, &c};
    for (size_t k = 0; k < 2; k++) {
        http_headers *l = lists[k];
        assert_int_equal(http_headers_replace_at(l, 1, "/new/place", 10), 0);
        assert_int_equal(l->n, 3);
        assert_string_equal(l->v[0].value, "1");
        assert_string_equal(l->v[1].name, "location");
        assert_string_equal(l->v[1].value, "/new/place");
        assert_int_equal(l->v[1].vlen, 10);
        assert_int_equal(l->v[1].id, HTTP_H_LOCATION);
        assert_string_equal(l->v[2].value, "2");
        assert_int_equal(http_headers_replace_at(l, 0, "", 0), 0);
        assert_string_equal(l->v[0].value, "");
        assert_int_equal(http_headers_replace_at(l, 3, "x", 1), -1);
        assert_int_equal(l->n, 3);
    }
    http_headers_free(&c);
    http_headers_free(&h);
}

/* The field-value checks (8 octets at a time where they can) against the octet rule: every
 * octet value at every place of values 1 to 24 octets long, alone and as a field line's value. */
static void test_field_value_octets(void **state)
{
    (void)state;
    for (size_t n = 1; n <= 24; n++) {
        for (size_t at = 0; at < n; at++) {
            for (int c = 0; c < 256; c++) {
                char v[24], line[40] = "X-A: ";
                for (size_t i = 0; i < n; i++)
                    v[i] = (char)('a' + (char)(i % 26));
                v[at] = (char)c;
                bool want = http1_is_value_octet((unsigned char)c);
                assert_int_equal(http1_is_field_value(v, n), want);
                memcpy(line + 5, v, n);
                http1_field f;
                const char *why = NULL;
                /* OWS at either end is trimmed, not checked: a SP or HTAB there is fine */
                bool ows_end = (c == ' ' || c == '\t') && (at == 0 || at == n - 1);
                int rc = http1_field_split(line, 5 + n, &f, &why);
                if (want || ows_end)
                    assert_int_equal(rc, 0);
                else
                    assert_int_equal(rc, -1);
            }
        }
    }
}

static void test_syntax_helpers(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool empty_ok, need_port, valid;
    } auth[] = {
        {"a.example", false, false, true},
        {"a.example:8080", false, true, true},
        {"a.example", false, true, false},
        {"", true, false, true},
        {"", false, false, false},
        {"[::1]:443", false, true, true},
        {"[::1]", false, false, true},
        {"[::1", false, false, false},
        {"[::1]x", false, false, false},
        {"1.2.3.4:0", false, false, true},
        {"a:65536", false, false, false},
        {"a:", false, false, false},
        {"a@b", false, false, false},
        {"a b", false, false, false},
        {"%41", false, false, true},
        {"%4", false, false, false},
        {"a!$&'()*+,;=-._~", false, false, true},
        {"a\xe9", false, false, false},
    };
    for (size_t i = 0; i < sizeof auth / sizeof auth[0]; i++)
        if (http1_valid_authority(auth[i].s, strlen(auth[i].s), auth[i].empty_ok,
                                  auth[i].need_port) != auth[i].valid)
            fail_msg("authority %s", auth[i].s);
    static const struct {
        const char *s;
        long long v; /* -1: invalid */
    } cl[] = {
        {"0", 0},
        {"42", 42},
        {"0042", 42},
        {"7, 7", 7},
        {"7,7,7", 7},
        {"7, 8", -1},
        {"+7", -1},
        {"-7", -1},
        {"7 8", -1},
        {"", -1},
        {",", -1},
        {"0x7", -1},
        {"4611686018427387904", 4611686018427387904LL},
        {"4611686018427387905", -1},
        {"99999999999999999999999", -1},
    };
    for (size_t i = 0; i < sizeof cl / sizeof cl[0]; i++) {
        uint64_t v = 0;
        int r = http1_parse_content_length(cl[i].s, strlen(cl[i].s), &v);
        if (cl[i].v < 0 ? r == 0 : (r != 0 || v != (uint64_t)cl[i].v))
            fail_msg("Content-Length %s", cl[i].s);
    }
    const char *list = " a ,, b\t,c ";
    size_t pos = 0, n;
    const char *it;
    const char *want[] = {"a", "b", "c"};
    for (size_t i = 0; i < 3; i++) {
        assert_true(http1_list_next(list, strlen(list), &pos, &it, &n));
        assert_int_equal(n, strlen(want[i]));
        assert_memory_equal(it, want[i], n);
    }
    assert_false(http1_list_next(list, strlen(list), &pos, &it, &n));
    assert_true(http1_is_token("x-Y_1", 5));
    assert_false(http1_is_token("a b", 3));
    assert_false(http1_is_token("", 0));
    assert_true(http1_is_field_value("a\tb \xe9", 5));
    assert_false(http1_is_field_value("a\rb", 3));
}

/* ---------------------------------------------------------------- serialisation */

static void test_format(void **state)
{
    (void)state;
    http_headers h;
    http_headers_init(&h);
    add(&h, "Host", "example");
    add(&h, "Set-Cookie", "a=1");
    add(&h, "Set-Cookie", "b=2");
    size_t len = 0;
    char *s = http_format_request_head("PROPFIND", "/a%20b?x=1&&y", &h, &len);
    const char *want = "PROPFIND /a%20b?x=1&&y HTTP/1.1\r\nHost: example\r\nSet-Cookie: a=1\r\n"
                       "Set-Cookie: b=2\r\n\r\n";
    assert_string_equal(s, want);
    assert_int_equal(len, strlen(want));
    free(s);

    s = http_format_response_head(404, NULL, NULL, &len);
    assert_string_equal(s, "HTTP/1.1 404 Not Found\r\n\r\n");
    free(s);
    s = http_format_response_head(299, NULL, NULL, &len);
    assert_string_equal(s, "HTTP/1.1 299 Unknown\r\n\r\n");
    free(s);

    /* Header injection attempts are dropped; a bad method or target is refused. */
    add(&h, "X-Bad", "v\r\nInjected: 1");
    add(&h, "Bad Name", "v");
    s = http_format_response_head(200, "OK", &h, &len);
    assert_null(strstr(s, "Injected"));
    assert_null(strstr(s, "Bad Name"));
    free(s);
    assert_null(http_format_request_head("GE T", "/", &h, &len));
    assert_null(http_format_request_head("GET", "/a b", &h, &len));
    assert_null(http_format_request_head("GET", "/\r\n", &h, &len));
    http_headers_free(&h);

    assert_string_equal(http_reason(200), "OK");
    assert_string_equal(http_reason(504), "Gateway Timeout");
    assert_string_equal(http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(http_reason(799), "Unknown");
}

static void test_format_error(void **state)
{
    (void)state;
    size_t len = 0;
    char *s = http_format_error(404, "no such tunnel", true, &len);
    const char *want = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n"
                       "Content-Length: 15\r\nConnection: close\r\n\r\nno such tunnel\n";
    assert_string_equal(s, want);
    assert_int_equal(len, strlen(want));
    free(s);
    s = http_format_error(502, NULL, false, &len);
    assert_non_null(strstr(s, "Content-Length: 12\r\n\r\nBad Gateway\n"));
    assert_null(strstr(s, "Connection"));
    free(s);
    /* extra fields go after the framing ones and before Connection, in their order */
    http_headers x;
    http_headers_init(&x);
    add(&x, "Retry-After", "7");
    add(&x, "X-Why", "rate");
    s = http_format_text(429, "slow down", &x, true, NULL);
    assert_string_equal(s, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; "
                           "charset=utf-8\r\nContent-Length: 10\r\nRetry-After: 7\r\nX-Why: "
                           "rate\r\nConnection: close\r\n\r\nslow down\n");
    free(s);
    http_headers_free(&x);
}

/* obs-text in a target and in values passes byte for byte; controls never do. */
static void test_obs_text_serialised(void **state)
{
    (void)state;
    http_headers h;
    http_headers_init(&h);
    add(&h, "X-Name", "J\xf6rg");
    add(&h, "X-Nul", "");
    h.v[1].value[0] = '\0';
    size_t len;
    char *s = http_format_request_head("GET", "/caf\xe9?x=\xff", &h, &len);
    assert_string_equal(s, "GET /caf\xe9?x=\xff HTTP/1.1\r\nX-Name: J\xf6rg\r\nX-Nul: \r\n\r\n");
    free(s);
    assert_null(http_format_request_head("GET", "/a\x7f", &h, &len));
    assert_null(http_format_request_head("GET", "/a\tb", &h, &len));
    add(&h, "X-Ctl", "a\x01b");
    s = http_format_response_head(200, "Caf\xe9", &h, &len);
    assert_non_null(strstr(s, "HTTP/1.1 200 Caf\xe9\r\n"));
    assert_null(strstr(s, "X-Ctl"));
    free(s);
    http_headers_free(&h);
}

/* ---------------------------------------------------------------- Content-Length */

/* The one reading of Content-Length (RFC 9110 §8.6, RFC 9112 §6.3) that the parser, ttfd's
 * response framing, the agent and the Lambda share: lines separated by '|'. */
typedef struct cl_row {
    const char *lines; /* NULL: no Content-Length */
    int rc;            /* http_headers_content_length's answer */
    uint64_t value;    /* rc 1 */
    const char *one;   /* after http_headers_one_content_length: the single line */
} cl_row;

static const cl_row cl_table[] = {
    {NULL, 0, 0, NULL},
    {"5", 1, 5, "5"},
    {"0", 1, 0, "0"},
    {"005", 1, 5, "5"},
    {"5, 5", 1, 5, "5"},
    {"5,5,,5", 1, 5, "5"},
    {"5|5", 1, 5, "5"},
    {"5|5, 5|05", 1, 5, "5"},
    {"4611686018427387904", 1, (uint64_t)1 << 62, "4611686018427387904"},
    {"4611686018427387905", HTTP_CL_BAD, 0, NULL}, /* over 2^62 */
    {"", HTTP_CL_BAD, 0, NULL},
    {" , ", HTTP_CL_BAD, 0, NULL},
    {"+5", HTTP_CL_BAD, 0, NULL},
    {"-1", HTTP_CL_BAD, 0, NULL},
    {"5 5", HTTP_CL_BAD, 0, NULL},
    {"0x10", HTTP_CL_BAD, 0, NULL},
    {"5, 6", HTTP_CL_BAD, 0, NULL}, /* a list of differing values: the value is invalid */
    {"5|6", HTTP_CL_DIFFERING, 0, NULL},
    {"5|6|x", HTTP_CL_DIFFERING, 0, NULL}, /* the first fault in order */
    {"5|x|6", HTTP_CL_BAD, 0, NULL},
};

static void test_content_length(void **state)
{
    (void)state;
    for (size_t t = 0; t < sizeof cl_table / sizeof cl_table[0]; t++) {
        const cl_row *r = &cl_table[t];
        http_headers h;
        http_headers_init(&h);
        add(&h, "Content-Type", "text/plain");
        char buf[128];
        snprintf(buf, sizeof buf, "%s", r->lines ? r->lines : "");
        for (char *save = NULL, *l = r->lines ? strtok_r(buf, "|", &save) : NULL; l;
             l = strtok_r(NULL, "|", &save))
            add(&h, "content-length", l);
        if (r->lines && !*r->lines)
            add(&h, "Content-Length", "");
        add(&h, "X-After", "1");
        uint64_t v = 99;
        int rc = http_headers_content_length(&h, &v);
        if (rc != r->rc || (rc == 1 && v != r->value))
            fail_msg("\"%s\": rc %d value %llu", r->lines ? r->lines : "(none)", rc,
                     (unsigned long long)v);
        size_t n = h.n;
        assert_int_equal(http_headers_one_content_length(&h, &v), r->rc);
        if (r->rc != 1) {
            assert_int_equal(h.n, n); /* untouched */
            http_headers_free(&h);
            continue;
        }
        assert_int_equal(http_headers_count_id(&h, HTTP_H_CONTENT_LENGTH), 1);
        assert_string_equal(http_headers_get_id(&h, HTTP_H_CONTENT_LENGTH), r->one);
        assert_int_equal(h.v[1].id, HTTP_H_CONTENT_LENGTH); /* in the first one's place */
        assert_string_equal(h.v[1].name, "content-length");
        assert_int_equal(h.v[1].vlen, strlen(r->one));
        assert_string_equal(h.v[h.n - 1].name, "X-After");
        http_headers_free(&h);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers_basic),       cmocka_unit_test(test_headers_replace_at),
        cmocka_unit_test(test_headers_block),       cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_error),        cmocka_unit_test(test_headers_ids_and_copy),
        cmocka_unit_test(test_syntax_helpers),      cmocka_unit_test(test_field_value_octets),
        cmocka_unit_test(test_obs_text_serialised), cmocka_unit_test(test_content_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
