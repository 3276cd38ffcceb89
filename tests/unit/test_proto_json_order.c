/* SPDX-License-Identifier: MIT */
/* test_proto_json_order.c - the JSON codec keeps every field line as sent (docs/protocol.md §2
 * "headers"): lines grouped by exact spelling, "header_order" when grouping moved one (RFC 9110
 * §5.3: A: 1, B: 2, A: 3 is not A: 1, A: 3, B: 2), and the refusals of a bad order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_json.h"
#include "proto_json_check.h"

static void add(tmsg *m, const char *name, const char *value)
{
    assert_int_equal(http_headers_add(&m->headers, name, strlen(name), value, strlen(value)), 0);
}

static void response(tmsg *m)
{
    tmsg_init(m, TMSG_HTTP_RESPONSE);
    m->request_id = strdup("r1");
    m->status_code = 200;
}

/* Every line of a in b, in the same place, spelled the same. */
static void assert_same_lines(const http_headers *a, const http_headers *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_string_equal(a->v[i].name, b->v[i].name);
        assert_int_equal(a->v[i].vlen, b->v[i].vlen);
        assert_memory_equal(a->v[i].value, b->v[i].value, a->v[i].vlen);
    }
}

static void test_lines_keep_their_order_and_spelling(void **state)
{
    (void)state;
    tmsg m, out;
    response(&m);
    add(&m, "A", "1");
    add(&m, "B", "2");
    add(&m, "A", "3");
    add(&m, "Set-Cookie", "x=1; Path=/");
    add(&m, "x-Mixed", "q");
    add(&m, "Set-Cookie", "y=2, z");
    add(&m, "X-MIXED", "r");
    add(&m, "E", "");
    expect_encoded(&m, "{\"type\":\"http_response\",\"request_id\":\"r1\",\"status_code\":200,"
                       "\"headers\":{\"A\":[\"1\",\"3\"],\"B\":[\"2\"],\"Set-Cookie\":"
                       "[\"x=1; Path=/\",\"y=2, z\"],\"x-Mixed\":[\"q\"],\"X-MIXED\":[\"r\"],"
                       "\"E\":[\"\"]},\"header_order\":[0,1,0,2,3,2,4,5],\"body\":\"\","
                       "\"processing_time_ms\":0}");
    roundtrip(&m, &out);
    assert_same_lines(&m.headers, &out.headers);
    tmsg_free(&out);
    tmsg_free(&m);
}

/* More lines than set_fields scans one by one (its hash map of names): the same grouping. */
static void test_many_lines_group_the_same(void **state)
{
    (void)state;
    enum { NAMES = 5, LINES = 40 };
    tmsg m, out;
    response(&m);
    char name[8], value[8], want[1024], order[256];
    for (int i = 0; i < LINES; i++) {
        snprintf(name, sizeof name, i % 2 ? "n%d" : "N%d", i % NAMES);
        snprintf(value, sizeof value, "%d", i);
        add(&m, name, value);
    }
    size_t w = (size_t)snprintf(want, sizeof want,
                                "{\"type\":\"http_response\",\"request_id\":"
                                "\"r1\",\"status_code\":200,\"headers\":{");
    for (int k = 0; k < 2 * NAMES; k++) { /* members by first appearance: N0 n1 N2 n3 N4 n0 ... */
        w += (size_t)snprintf(want + w, sizeof want - w, "%s\"%s%d\":[", k ? "," : "",
                              k % 2 ? "n" : "N", k % NAMES);
        for (int i = k; i < LINES; i += 2 * NAMES)
            w += (size_t)snprintf(want + w, sizeof want - w, "%s\"%d\"", i > k ? "," : "", i);
        w += (size_t)snprintf(want + w, sizeof want - w, "]");
    }
    size_t o = 0;
    for (int i = 0; i < LINES; i++)
        o += (size_t)snprintf(order + o, sizeof order - o, "%s%d", i ? "," : "", i % (2 * NAMES));
    snprintf(want + w, sizeof want - w,
             "},\"header_order\":[%s],\"body\":\"\",\"processing_time_ms\":0}", order);
    expect_encoded(&m, want);
    roundtrip(&m, &out);
    assert_same_lines(&m.headers, &out.headers);
    tmsg_free(&out);
    tmsg_free(&m);
}

/* Lines already grouped: no header_order (what upstream and older peers send and read). */
static void test_grouped_lines_carry_no_order(void **state)
{
    (void)state;
    tmsg m, out;
    tmsg_init(&m, TMSG_HTTP_REQUEST);
    m.request_id = strdup("r1");
    m.method = strdup("GET");
    m.uri = strdup("/");
    add(&m, "Host", "h");
    add(&m, "Cookie", "a=1");
    add(&m, "Cookie", "b=2");
    size_t len = 0;
    char *s = tmsg_encode(&m, &len);
    assert_non_null(s);
    assert_null(strstr(s, "header_order"));
    free(s);
    roundtrip(&m, &out);
    assert_same_lines(&m.headers, &out.headers);
    tmsg_free(&out);
    tmsg_free(&m);
}

static void test_a_bad_order_is_refused(void **state)
{
    (void)state;
    const char *pre = "{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,";
    const char *bad[] = {
        "\"headers\":{\"A\":[\"1\",\"3\"],\"B\":\"2\"},\"header_order\":[0,1]}",     /* short */
        "\"headers\":{\"A\":[\"1\",\"3\"],\"B\":\"2\"},\"header_order\":[0,1,0,1]}", /* long */
        "\"headers\":{\"A\":[\"1\",\"3\"],\"B\":\"2\"},\"header_order\":[0,1,1]}",   /* B twice */
        "\"headers\":{\"A\":[\"1\",\"3\"],\"B\":\"2\"},\"header_order\":[0,2,0]}", /* no member 2 */
        "\"headers\":{\"A\":[\"1\",\"3\"],\"B\":\"2\"},\"header_order\":[0,-1,0]}",
        "\"headers\":{\"A\":[\"1\",\"3\"],\"B\":\"2\"},\"header_order\":[0,\"1\",0]}",
        "\"headers\":{\"A\":[\"1\",\"3\"],\"B\":\"2\"},\"header_order\":{\"0\":1}}",
        "\"header_order\":[]}", /* an order without headers */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char s[512];
        snprintf(s, sizeof s, "%s%s", pre, bad[i]);
        expect_bad(s, "bad headers");
    }
    tmsg m;
    const char *err = NULL;
    char s[512];
    snprintf(s, sizeof s, "%s%s", pre,
             "\"headers\":{\"A\":[\"1\",\"3\"],\"B\":\"2\"},\"header_order\":[1,0,0]}");
    assert_int_equal(dec(s, &m, &err), 0);
    assert_int_equal(m.headers.n, 3);
    assert_string_equal(m.headers.v[0].name, "B");
    assert_string_equal(m.headers.v[1].value, "1");
    assert_string_equal(m.headers.v[2].value, "3");
    tmsg_free(&m);
}

/* Trailer sections travel on the last body piece, in the same form as headers; the relays
 * are announced in ready and confirmed in connection_established. */
static void test_trailers_and_relays(void **state)
{
    (void)state;
    tmsg m, out;
    tmsg_init(&m, TMSG_HTTP_RESPONSE_BODY);
    m.request_id = strdup("r1");
    m.seq = 2;
    add(&m, "X-A", "1");
    http_headers_free(&m.headers); /* a piece has no headers: the lines go to trailers */
    http_headers_add(&m.trailers, "X-Sum", 5, "1", 1);
    http_headers_add(&m.trailers, "X-Other", 7, "2", 1);
    http_headers_add(&m.trailers, "X-Sum", 5, "3", 1);
    expect_encoded(&m, "{\"type\":\"http_response_body\",\"request_id\":\"r1\",\"seq\":2,"
                       "\"body\":\"\",\"more\":false,\"trailers\":{\"X-Sum\":[\"1\",\"3\"],"
                       "\"X-Other\":[\"2\"]},\"trailer_order\":[0,1,0]}");
    roundtrip(&m, &out);
    assert_same_lines(&m.trailers, &out.trailers);
    tmsg_free(&out);
    tmsg_free(&m);
    expect_bad("{\"type\":\"http_request_body\",\"request_id\":\"r\",\"seq\":1,\"more\":true,"
               "\"trailers\":{\"X-A\":\"1\"}}",
               "trailers before the end");
    expect_bad("{\"type\":\"http_request_body\",\"request_id\":\"r\",\"seq\":1,\"more\":false,"
               "\"trailers\":{\"X-A\":\"1\"},\"trailer_order\":[1]}",
               "bad trailers");

    tmsg_init(&m, TMSG_READY);
    m.relay_interim = m.relay_trailers = true;
    expect_encoded(&m, "{\"type\":\"ready\",\"relay_interim\":true,\"relay_trailers\":true}");
    roundtrip(&m, &out);
    assert_true(out.relay_interim && out.relay_trailers);
    tmsg_free(&out);
    tmsg_free(&m);
    const char *err = NULL;
    assert_int_equal(dec("{\"type\":\"connection_established\",\"connection_id\":\"c\","
                         "\"tunnel_id\":\"t\",\"public_url\":\"u\",\"relay_interim\":true}",
                         &out, &err),
                     0);
    assert_true(out.relay_interim);
    assert_false(out.relay_trailers);
    tmsg_free(&out);
    expect_bad("{\"type\":\"ready\",\"relay_trailers\":1}", "relay");
}

/* header_strings (docs/protocol.md §2 "Header values"): announced in ready and
 * connection_established; on a head, a name of one value goes as the value itself, one of
 * several as the array, lines in order across names, {"b64"} values too; trailers the same; the
 * decoder reads both forms back to the same lines. */
static void test_header_strings(void **state)
{
    (void)state;
    tmsg m, out;
    tmsg_init(&m, TMSG_READY);
    m.header_strings = true;
    expect_encoded(&m, "{\"type\":\"ready\",\"header_strings\":true}");
    roundtrip(&m, &out);
    assert_true(out.header_strings);
    tmsg_free(&out);
    const char *err = NULL;
    assert_int_equal(dec("{\"type\":\"connection_established\",\"connection_id\":\"c\","
                         "\"tunnel_id\":\"t\",\"public_url\":\"u\",\"header_strings\":true}",
                         &out, &err),
                     0);
    assert_true(out.header_strings);
    tmsg_free(&out);
    expect_bad("{\"type\":\"ready\",\"header_strings\":\"yes\"}", "header_strings");

    response(&m);
    m.header_strings = true;
    add(&m, "A", "1");
    add(&m, "B", "2");
    add(&m, "A", "3");
    add(&m, "C", "caf\xe9");
    expect_encoded(&m, "{\"type\":\"http_response\",\"request_id\":\"r1\",\"status_code\":200,"
                       "\"headers\":{\"A\":[\"1\",\"3\"],\"B\":\"2\",\"C\":{\"b64\":\"Y2Fm6Q==\"}},"
                       "\"header_order\":[0,1,0,2],\"body\":\"\",\"processing_time_ms\":0}");
    roundtrip(&m, &out);
    assert_same_lines(&m.headers, &out.headers);
    assert_false(out.header_strings); /* a sender's choice, not read back */
    tmsg_free(&out);
    m.header_strings = false; /* the default: arrays */
    expect_encoded(&m, "{\"type\":\"http_response\",\"request_id\":\"r1\",\"status_code\":200,"
                       "\"headers\":{\"A\":[\"1\",\"3\"],\"B\":[\"2\"],"
                       "\"C\":[{\"b64\":\"Y2Fm6Q==\"}]},"
                       "\"header_order\":[0,1,0,2],\"body\":\"\",\"processing_time_ms\":0}");
    tmsg_free(&m);

    tmsg_init(&m, TMSG_HTTP_RESPONSE_BODY);
    m.request_id = strdup("r1");
    m.seq = 2;
    m.header_strings = true;
    assert_int_equal(http_headers_add(&m.trailers, "T", 1, "x", 1), 0);
    expect_encoded(&m, "{\"type\":\"http_response_body\",\"request_id\":\"r1\",\"seq\":2,"
                       "\"body\":\"\",\"more\":false,\"trailers\":{\"T\":\"x\"}}");
    roundtrip(&m, &out);
    assert_same_lines(&m.trailers, &out.trailers);
    tmsg_free(&out);
    tmsg_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_strings),
        cmocka_unit_test(test_lines_keep_their_order_and_spelling),
        cmocka_unit_test(test_many_lines_group_the_same),
        cmocka_unit_test(test_grouped_lines_carry_no_order),
        cmocka_unit_test(test_a_bad_order_is_refused),
        cmocka_unit_test(test_trailers_and_relays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
