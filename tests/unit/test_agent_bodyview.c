/* SPDX-License-Identifier: MIT */
/* test_agent_bodyview.c - the inspector's body classifier: JSON pretty-printed byte-exact,
 * declared and sniffed text, binary with a hex preview, compressed bodies, invalid UTF-8,
 * bodies cut by the capture limit, the pretty-printer's output bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bodyview.h"

static body_view make(const char *ct, const char *ce, const char *data, size_t len, bool trunc)
{
    body_view v;
    assert_int_equal(body_view_make(&v, ct, ce, (const uint8_t *)data, len, trunc), 0);
    return v;
}

static void test_json_pretty_exact(void **state)
{
    (void)state;
    const char *in = "{\"b\":0.1,\"a\":[1,12345678901234567890123,{}],\"a\":\"x\\\"y, {z}: \"}";
    body_view v = make("application/json; charset=utf-8", NULL, in, strlen(in), false);
    assert_int_equal(v.kind, BODY_JSON);
    /* Numbers, key order and the duplicate key exactly as sent; strings untouched. */
    assert_string_equal(v.text,
                        "{\n  \"b\": 0.1,\n  \"a\": [\n    1,\n    12345678901234567890123,\n"
                        "    {}\n  ],\n  \"a\": \"x\\\"y, {z}: \"\n}");
    assert_int_equal(v.text_len, strlen(v.text));
    body_view_free(&v);

    /* +json types and sniffed untyped documents too. */
    v = make("application/problem+json", NULL, "[ ]", 3, false);
    assert_int_equal(v.kind, BODY_JSON);
    assert_string_equal(v.text, "[]");
    body_view_free(&v);
    v = make(NULL, NULL, " {\"k\": true}", 12, false);
    assert_int_equal(v.kind, BODY_JSON);
    assert_string_equal(v.text, "{\n  \"k\": true\n}");
    body_view_free(&v);
}

static void test_json_invalid_or_cut(void **state)
{
    (void)state;
    body_view v = make("application/json", NULL, "{\"a\":", 5, false);
    assert_int_equal(v.kind, BODY_TEXT);
    assert_string_equal(v.text, "{\"a\":");
    assert_non_null(v.note);
    body_view_free(&v);
    /* Cut by the capture limit: text, with a note saying why. */
    v = make("application/json", NULL, "{\"a\": [1, 2", 11, true);
    assert_int_equal(v.kind, BODY_TEXT);
    assert_non_null(strstr(v.note, "cut short"));
    body_view_free(&v);
}

static void test_text(void **state)
{
    (void)state;
    const char *html = "<p>caf\xc3\xa9 <script>alert(1)</script></p>\n";
    body_view v = make("text/html", NULL, html, strlen(html), false);
    assert_int_equal(v.kind, BODY_TEXT);
    assert_string_equal(v.text, html); /* shown as text; the page escapes it */
    body_view_free(&v);
    v = make("application/x-www-form-urlencoded", NULL, "a=1&b=2", 7, false);
    assert_int_equal(v.kind, BODY_TEXT);
    body_view_free(&v);
    /* Untyped text is sniffed. */
    v = make(NULL, NULL, "hello\tworld\r\n", 13, false);
    assert_int_equal(v.kind, BODY_TEXT);
    body_view_free(&v);
    /* A multi-byte character split by the capture limit is dropped, not shown broken. */
    v = make("text/plain", NULL, "ab\xc3", 3, true);
    assert_int_equal(v.kind, BODY_TEXT);
    assert_string_equal(v.text, "ab");
    body_view_free(&v);
    /* Text with a NUL keeps its length. */
    v = make("text/plain", NULL, "a\0b", 3, false);
    assert_int_equal(v.kind, BODY_TEXT);
    assert_int_equal(v.text_len, 3);
    body_view_free(&v);
}

static void test_binary(void **state)
{
    (void)state;
    const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    body_view v = make("image/png", NULL, png, sizeof png - 1, false);
    assert_int_equal(v.kind, BODY_BINARY);
    assert_null(v.text);
    assert_string_equal(v.hex, "00000000  89 50 4e 47 0d 0a 1a 0a  00 00 00 0d 49 48 44 52  "
                               "|.PNG........IHDR|\n");
    body_view_free(&v);
    /* Untyped bytes with controls: binary. */
    v = make(NULL, NULL, "\x01\x02\x03", 3, false);
    assert_int_equal(v.kind, BODY_BINARY);
    body_view_free(&v);
    /* Declared text that is not UTF-8. */
    v = make("text/plain", NULL, "caf\xe9", 4, false);
    assert_int_equal(v.kind, BODY_BINARY);
    assert_non_null(v.note);
    body_view_free(&v);
    /* Compressed: whatever the type says. */
    v = make("application/json", "gzip", "\x1f\x8b\x08\x00", 4, false);
    assert_int_equal(v.kind, BODY_BINARY);
    assert_non_null(strstr(v.note, "compressed"));
    body_view_free(&v);
}

static void test_hex_preview_bounded(void **state)
{
    (void)state;
    uint8_t big[4096];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)i;
    char *hex = body_hex_preview(big, sizeof big, BODYVIEW_HEX_BYTES);
    size_t lines = 0;
    for (char *p = hex; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, BODYVIEW_HEX_BYTES / 16);
    assert_non_null(strstr(hex, "000000f0  f0 f1"));
    free(hex);
    hex = body_hex_preview(big, 5, 256);
    assert_string_equal(hex, "00000000  00 01 02 03 04" /* then padding to the text column */
                             "                                    |.....|\n");
    free(hex);
}

static void test_empty(void **state)
{
    (void)state;
    body_view v = make("application/json", NULL, "", 0, false);
    assert_int_equal(v.kind, BODY_EMPTY);
    assert_string_equal(body_kind_name(v.kind), "empty");
    body_view_free(&v);
}

static void test_utf8_prefix(void **state)
{
    (void)state;
    assert_int_equal(body_utf8_prefix((const uint8_t *)"abc", 3), 3);
    assert_int_equal(body_utf8_prefix((const uint8_t *)"\xe2\x82\xac!", 4), 4);
    assert_int_equal(body_utf8_prefix((const uint8_t *)"a\xc0\x80", 3), 1);         /* overlong */
    assert_int_equal(body_utf8_prefix((const uint8_t *)"a\xed\xa0\x80", 4), 1);     /* surrogate */
    assert_int_equal(body_utf8_prefix((const uint8_t *)"a\xf4\x90\x80\x80", 5), 1); /* > U+10FFFF */
    assert_int_equal(body_utf8_prefix((const uint8_t *)"a\xf0\x9f\x98", 4), 1);     /* cut */
}

static void test_pretty_bounded(void **state)
{
    (void)state;
    /* 200 nested arrays: indentation is capped, and a small output bound refuses. */
    char deep[401];
    memset(deep, '[', 200);
    memset(deep + 200, ']', 200);
    deep[400] = '\0';
    size_t n = 0;
    char *p = body_json_pretty((const uint8_t *)deep, 400, 1 << 20, &n);
    assert_non_null(p);
    assert_true(n < 400 * (2 + 64));
    free(p);
    assert_null(body_json_pretty((const uint8_t *)deep, 400, 500, &n));
    assert_null(body_json_pretty((const uint8_t *)"nope", 4, 1 << 20, &n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_pretty_exact),
        cmocka_unit_test(test_json_invalid_or_cut),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_hex_preview_bounded),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_utf8_prefix),
        cmocka_unit_test(test_pretty_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
