/* SPDX-License-Identifier: MIT */
/* test_json_io.c - json_io (json-c parsing and writing for jansson trees) gives what jansson's
 * own json_loadb (with JSON_ALLOW_NUL: API Gateway's events carry decoded NULs) / json_dumps
 * give: the same trees for the texts jansson accepts, the same refusals, and text jansson reads
 * back to the same tree. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_io.h"

static const char *const same[] = {
    "{}",
    "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
    " {\"n\":-0,\"m\":9223372036854775807,\"k\":-9223372036854775808,\"r\":1.5e3,\"s\":-2.25}\n",
    "{\"u\":\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t "
    "\\u001f\",\"raw\":\"J\xc3\xb6rg\"}",
    "{\"dup\":1,\"x\":2,\"dup\":3}",
    "{\"deep\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
    "{\"e\":[],\"o\":{},\"z\":\"\"}",
    /* a text body or a decoded %00 (query parameter, rawPath) in an HTTP API event */
    "{\"body\":\"a\\u0000b\",\"rawPath\":\"/\\u0000\",\"n\":\"\\u0000\"}",
};

static const char *const refused[] = {
    "",
    "[]",
    "1",
    "\"s\"",
    "{",
    "{\"a\":}",
    "{'a':1}",
    "{\"a\":1,}",
    "{\"a\":1} x",
    "{\"a\":01}",
    "{\"a\":1.}",
    "{\"a\":NaN}",
    "{\"a\":\"\\ud800\"}",
    "{\"a\":\"\xff\"}",
    "{\"a\":\"\x01\"}",
    "{\"a\":99999999999999999999}",
    "{\"a\":1e999}",
};

static void loads_as_jansson_does(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        json_error_t je;
        json_t *want = json_loadb(same[i], strlen(same[i]), JSON_ALLOW_NUL, &je);
        json_t *got = json_io_load(same[i], strlen(same[i]));
        assert_non_null(want);
        assert_non_null(got);
        if (!json_equal(want, got))
            fail_msg("%s: trees differ", same[i]);
        /* and written back: jansson reads the same tree again */
        size_t n;
        char *text = json_io_dump(got, &n);
        assert_non_null(text);
        assert_int_equal(n, strlen(text));
        json_t *again = json_loadb(text, n, JSON_ALLOW_NUL, &je);
        if (!again || !json_equal(want, again))
            fail_msg("%s: written as %s", same[i], text);
        free(text);
        json_decref(again);
        json_decref(want);
        json_decref(got);
    }
}

static void refuses_what_jansson_refuses(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        json_t *got = json_io_load(refused[i], strlen(refused[i]));
        if (got)
            fail_msg("accepted: %s", refused[i]);
    }
}

/* A key holding "\u0000" (a query parameter's name from ?%00=1 in queryStringParameters) is
 * cut there, where jansson refuses the text: the event is read, its other members whole. Before,
 * such an event was refused and API Gateway answered the client 500. */
static void nul_in_a_key(void **state)
{
    (void)state;
    const char *text = "{\"queryStringParameters\":{\"a\\u0000b\":\"1\"},\"rawQueryString\":"
                       "\"a%00b=1\"}";
    json_t *got = json_io_load(text, strlen(text));
    assert_non_null(got);
    assert_string_equal(json_string_value(json_object_get(got, "rawQueryString")), "a%00b=1");
    assert_non_null(json_object_get(json_object_get(got, "queryStringParameters"), "a"));
    json_decref(got);
}

/* The events of tests/lambda/events (AWS's documented shapes) read the same both ways. */
static void documented_events(void **state)
{
    (void)state;
    DIR *d = opendir(LAMBDA_EVENTS_DIR);
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        if (!strstr(de->d_name, ".json"))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", LAMBDA_EVENTS_DIR, de->d_name);
        json_error_t je;
        json_t *want = json_load_file(path, 0, &je);
        char *text = want ? json_dumps(want, JSON_COMPACT) : NULL;
        assert_non_null(text);
        json_t *got = json_io_load(text, strlen(text));
        if (!got || !json_equal(want, got))
            fail_msg("%s reads otherwise", de->d_name);
        free(text);
        json_decref(want);
        json_decref(got);
        n++;
    }
    closedir(d);
    assert_true(n >= 3);
}

/* A 5.6 MB base64 string (the largest answer) goes through whole. */
static void large_string(void **state)
{
    (void)state;
    size_t n = 5592408;
    char *b = malloc(n + 1);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i * 7 % 64];
    b[n] = '\0';
    json_t *o = json_pack("{s:s,s:i}", "body", b, "statusCode", 200);
    size_t len;
    char *text = json_io_dump(o, &len);
    assert_non_null(text);
    assert_int_equal(len, n + strlen("{\"body\":\"\",\"statusCode\":200}"));
    json_t *back = json_io_load(text, len);
    assert_non_null(back);
    assert_true(json_equal(o, back));
    free(text);
    free(b);
    json_decref(o);
    json_decref(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loads_as_jansson_does), cmocka_unit_test(refuses_what_jansson_refuses),
        cmocka_unit_test(nul_in_a_key),          cmocka_unit_test(documented_events),
        cmocka_unit_test(large_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
