/* SPDX-License-Identifier: MIT */
/* HTTP API 2.0 response building: cookies, multi-value headers, hop-by-hop, binary bodies. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "httpresp.h"

static void add(http_headers *h, const char *n, const char *v)
{
    assert_int_equal(http_headers_add(h, n, strlen(n), v, strlen(v)), 0);
}

static void build(void **state)
{
    (void)state;
    http_headers h;
    http_headers_init(&h);
    add(&h, "Content-Type", "application/octet-stream");
    add(&h, "Set-Cookie", "a=1; Path=/");
    add(&h, "X-Multi", "1");
    add(&h, "set-cookie", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT");
    add(&h, "x-multi", "2");
    add(&h, "Transfer-Encoding", "chunked");
    add(&h, "Connection", "close");
    const uint8_t body[] = {0, 1, 2, 0xff, 0xfe, '\n'};
    size_t n;
    char *doc = httpresp_build(201, &h, body, sizeof body, &n);
    assert_non_null(doc);
    assert_int_equal(n, strlen(doc));
    json_t *o = json_loads(doc, 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "statusCode")), 201);
    json_t *hd = json_object_get(o, "headers");
    assert_string_equal(json_string_value(json_object_get(hd, "Content-Type")),
                        "application/octet-stream");
    assert_string_equal(json_string_value(json_object_get(hd, "X-Multi")), "1, 2");
    assert_null(json_object_get(hd, "x-multi"));
    assert_null(json_object_get(hd, "Transfer-Encoding"));
    assert_null(json_object_get(hd, "Connection"));
    assert_null(json_object_get(hd, "Set-Cookie"));
    assert_null(json_object_get(hd, "set-cookie"));
    json_t *ck = json_object_get(o, "cookies");
    assert_int_equal(json_array_size(ck), 2);
    assert_string_equal(json_string_value(json_array_get(ck, 0)), "a=1; Path=/");
    assert_string_equal(json_string_value(json_array_get(ck, 1)),
                        "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT");
    assert_true(json_is_true(json_object_get(o, "isBase64Encoded")));
    const char *b = json_string_value(json_object_get(o, "body"));
    uint8_t dec[16];
    size_t dl;
    assert_int_equal(b64_decode(b, strlen(b), dec, &dl), 0);
    assert_int_equal(dl, sizeof body);
    assert_memory_equal(dec, body, sizeof body);
    json_decref(o);
    free(doc);
    http_headers_free(&h);

    /* empty: no cookies member, empty body */
    http_headers_init(&h);
    doc = httpresp_build(204, &h, NULL, 0, &n);
    o = json_loads(doc, 0, NULL);
    assert_null(json_object_get(o, "cookies"));
    assert_string_equal(json_string_value(json_object_get(o, "body")), "");
    json_decref(o);
    free(doc);
}

static void text(void **state)
{
    (void)state;
    size_t n;
    char *doc = httpresp_text(404, "tunnel not found", &n);
    json_t *o = json_loads(doc, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(o, "statusCode")), 404);
    assert_string_equal(json_string_value(json_object_get(o, "body")), "tunnel not found\n");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(o, "headers"), "content-type")),
        "text/plain; charset=utf-8");
    assert_false(json_is_true(json_object_get(o, "isBase64Encoded")));
    json_decref(o);
    free(doc);
}

/* Every answer the edges give themselves (edge_answer.h) reaches a client the same from the
 * Lambda as from ttfd: status, Content-Type, Retry-After, Cache-Control, body. */
static void answers_as_ttfd_gives_them(void **state)
{
    (void)state;
    for (int i = 0; i < EDGE_ANSWER_COUNT; i++) {
        int status = 0;
        size_t n = 0, tn = 0;
        char *doc = httpresp_answer((edge_answer_id)i, &status, &n);
        const edge_answer *a = edge_answer_of((edge_answer_id)i);
        char *wire = edge_answer_http(a->status, a->text, NULL, &tn); /* ttfd's bytes */
        assert_non_null(doc);
        assert_non_null(wire);
        json_t *o = json_loads(doc, 0, NULL);
        json_t *h = json_object_get(o, "headers");
        assert_int_equal(status, a->status);
        assert_int_equal(json_integer_value(json_object_get(o, "statusCode")), a->status);
        char line[16];
        snprintf(line, sizeof line, "HTTP/1.1 %d ", a->status);
        assert_memory_equal(wire, line, strlen(line));
        const char *body = strstr(wire, "\r\n\r\n") + 4;
        assert_string_equal(json_string_value(json_object_get(o, "body")), body);
        char field[96];
        snprintf(field, sizeof field, "\r\nContent-Type: %s\r\n",
                 json_string_value(json_object_get(h, "content-type")));
        assert_non_null(strstr(wire, field));
        const char *after = json_string_value(json_object_get(h, "retry-after"));
        assert_true(!after == !strstr(wire, "\r\nRetry-After: "));
        if (after) {
            snprintf(field, sizeof field, "\r\nRetry-After: %s\r\n", after);
            assert_non_null(strstr(wire, field));
        }
        assert_string_equal(json_string_value(json_object_get(h, "cache-control")), "no-store");
        assert_non_null(strstr(wire, "\r\nCache-Control: no-store\r\n"));
        assert_int_equal(json_object_size(h), after ? 3 : 2);
        json_decref(o);
        free(doc);
        free(wire);
    }
}

static void headers_json_roundtrip(void **state)
{
    (void)state;
    http_headers h, back;
    http_headers_init(&h);
    http_headers_init(&back);
    add(&h, "Set-Cookie", "a=1");
    add(&h, "Content-Type", "text/html");
    add(&h, "Set-Cookie", "b=2");
    char *j = httpresp_headers_to_json(&h);
    assert_string_equal(j, "{\"Set-Cookie\":[\"a=1\",\"b=2\"],\"Content-Type\":[\"text/html\"]}");
    assert_int_equal(httpresp_headers_from_json(j, &back), 0);
    assert_int_equal(back.n, 3);
    assert_string_equal(back.v[1].value, "b=2");
    assert_int_equal(httpresp_headers_from_json("[1]", &back), -1);
    free(j);
    http_headers_free(&h);
    http_headers_free(&back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(build),
        cmocka_unit_test(text),
        cmocka_unit_test(answers_as_ttfd_gives_them),
        cmocka_unit_test(headers_json_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
