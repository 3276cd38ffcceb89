/* SPDX-License-Identifier: MIT */
/* test_proto_json.c - JSON messages: upstream's exact shapes, the chunked extension, strict
 * refusals of bad input, compact encoding, round trips; the v2 additions: the lossless octet
 * form, cancel, head continuation messages, tunnels[] and tunnel_id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strings.h>

#include "b64.h"
#include "proto_json.h"

static int dec(const char *s, tmsg *m, const char **err)
{
    return tmsg_decode(s, strlen(s), m, err);
}

/* Decodes s and expects a refusal whose reason contains want (when given). */
static void expect_bad(const char *s, const char *want)
{
    tmsg m;
    const char *err = NULL;
    if (dec(s, &m, &err) != -1)
        fail_msg("decoded: %s", s);
    assert_non_null(err);
    if (want && !strstr(err, want))
        fail_msg("%s: reason \"%s\", want \"%s\"", s, err, want);
    tmsg_free(&m);
}

/* ---------------------------------------------------------------- upstream shapes */

static void test_upstream_connection_established(void **state)
{
    (void)state;
    tmsg m;
    const char *err;
    assert_int_equal(
        dec("{\"type\":\"connection_established\",\"connection_id\":\"TBBw6eacoAMCLBQ=\","
            "\"tunnel_id\":\"abc123def456\",\"public_url\":\"https://abc123def456.tunnel.example."
            "com\",\"subdomain_url\":\"https://abc123def456.tunnel.example.com\","
            "\"path_based_url\":\"https://tunnel.example.com/abc123def456\"}",
            &m, &err),
        0);
    assert_int_equal(m.type, TMSG_CONNECTION_ESTABLISHED);
    assert_string_equal(m.connection_id, "TBBw6eacoAMCLBQ=");
    assert_string_equal(m.tunnel_id, "abc123def456");
    assert_string_equal(m.public_url, "https://abc123def456.tunnel.example.com");
    assert_string_equal(m.subdomain_url, "https://abc123def456.tunnel.example.com");
    assert_string_equal(m.path_based_url, "https://tunnel.example.com/abc123def456");
    tmsg_free(&m);
    /* optional URLs omitted */
    assert_int_equal(
        dec("{\"type\":\"connection_established\",\"connection_id\":\"c\","
            "\"tunnel_id\":\"abc123def456\",\"public_url\":\"https://x/abc123def456\"}",
            &m, &err),
        0);
    assert_null(m.subdomain_url);
    assert_null(m.path_based_url);
    tmsg_free(&m);
    expect_bad("{\"type\":\"connection_established\",\"tunnel_id\":\"a\",\"public_url\":\"u\"}",
               "connection_id");
    expect_bad("{\"type\":\"connection_established\",\"connection_id\":\"c\",\"public_url\":\"u\"}",
               "tunnel_id");
    expect_bad("{\"type\":\"connection_established\",\"connection_id\":\"c\",\"tunnel_id\":\"t\"}",
               "public_url");
    expect_bad("{\"type\":\"connection_established\",\"connection_id\":5,\"tunnel_id\":\"t\","
               "\"public_url\":\"u\"}",
               NULL);
}

static void test_upstream_http_request(void **state)
{
    (void)state;
    tmsg m;
    const char *err;
    assert_int_equal(dec("{\"type\":\"http_request\",\"request_id\":\"550e8400-e29b-41d4-a716-"
                         "446655440000\",\"method\":\"GET\",\"uri\":\"/api/users?limit=10\","
                         "\"headers\":{\"host\":[\"tunnel.example.com\"]},\"body\":\"\","
                         "\"timestamp\":1730000000000}",
                         &m, &err),
                     0);
    assert_int_equal(m.type, TMSG_HTTP_REQUEST);
    assert_string_equal(m.request_id, "550e8400-e29b-41d4-a716-446655440000");
    assert_string_equal(m.method, "GET");
    assert_string_equal(m.uri, "/api/users?limit=10");
    assert_int_equal(m.headers.n, 1);
    assert_string_equal(m.headers.v[0].name, "host");
    assert_string_equal(m.headers.v[0].value, "tunnel.example.com");
    assert_null(m.body);
    assert_int_equal(m.body_len, 0);
    assert_int_equal(m.timestamp, 1730000000000ull);
    assert_false(m.more);
    tmsg_free(&m);
}

static void test_upstream_http_response(void **state)
{
    (void)state;
    tmsg m;
    const char *err;
    assert_int_equal(
        dec("{\"type\":\"http_response\",\"request_id\":\"550e8400-x\","
            "\"status_code\":200,\"headers\":{\"content-type\":[\"application/json\"]},"
            "\"body\":\"eyJ0ZXN0IjoidmFsdWUifQ==\",\"processing_time_ms\":12}",
            &m, &err),
        0);
    assert_int_equal(m.type, TMSG_HTTP_RESPONSE);
    assert_int_equal(m.status_code, 200);
    assert_int_equal(m.processing_time_ms, 12);
    assert_int_equal(m.body_len, 16);
    assert_memory_equal(m.body, "{\"test\":\"value\"}", 16);
    assert_string_equal(http_headers_get(&m.headers, "Content-Type"), "application/json");
    assert_false(m.more);
    tmsg_free(&m);
    /* body and processing_time_ms default when absent (serde defaults upstream) */
    assert_int_equal(dec("{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":204,"
                         "\"headers\":{}}",
                         &m, &err),
                     0);
    assert_int_equal(m.status_code, 204);
    assert_null(m.body);
    assert_int_equal(m.processing_time_ms, 0);
    tmsg_free(&m);
}

static void test_upstream_error(void **state)
{
    (void)state;
    tmsg m;
    const char *err;
    assert_int_equal(dec("{\"type\":\"error\",\"request_id\":\"r1\",\"code\":"
                         "\"local_service_unavailable\",\"message\":\"error sending request\"}",
                         &m, &err),
                     0);
    assert_int_equal(m.type, TMSG_ERROR);
    assert_string_equal(m.request_id, "r1");
    assert_int_equal(m.code, TERR_LOCAL_UNAVAILABLE);
    assert_string_equal(m.message, "error sending request");
    tmsg_free(&m);
    assert_int_equal(
        dec("{\"type\":\"error\",\"request_id\":null,\"code\":\"timeout\",\"message\":\"m\"}", &m,
            &err),
        0);
    assert_null(m.request_id);
    assert_int_equal(m.code, TERR_TIMEOUT);
    tmsg_free(&m);
    assert_int_equal(
        dec("{\"type\":\"error\",\"code\":\"internal_error\",\"message\":\"m\"}", &m, &err), 0);
    assert_null(m.request_id);
    assert_int_equal(m.code, TERR_INTERNAL);
    tmsg_free(&m);
    assert_int_equal(dec("{\"type\":\"error\",\"code\":\"invalid_request\"}", &m, &err), 0);
    assert_int_equal(m.code, TERR_INVALID_REQUEST);
    tmsg_free(&m);
    expect_bad("{\"type\":\"error\",\"message\":\"m\"}", "code");
    expect_bad("{\"type\":\"error\",\"code\":\"nope\",\"message\":\"m\"}", "code");
    expect_bad("{\"type\":\"error\",\"code\":3,\"message\":\"m\"}", "code");
    expect_bad("{\"type\":\"error\",\"request_id\":7,\"code\":\"timeout\"}", "request_id");
}

static void test_control(void **state)
{
    (void)state;
    tmsg m;
    const char *err;
    assert_int_equal(dec("{\"type\":\"ping\"}", &m, &err), 0);
    assert_int_equal(m.type, TMSG_PING);
    tmsg_free(&m);
    assert_int_equal(dec("{\"type\":\"pong\",\"extra\":[1,2,{}]}", &m, &err), 0);
    assert_int_equal(m.type, TMSG_PONG);
    tmsg_free(&m);
    assert_int_equal(dec(" {\"type\":\"ready\"} ", &m, &err), 0);
    assert_int_equal(m.type, TMSG_READY);
    assert_null(m.tunnel_id);
    tmsg_free(&m);
    assert_int_equal(dec("{\"tunnel_id\":\"abc123def456\",\"type\":\"ready\"}", &m, &err), 0);
    assert_string_equal(m.tunnel_id, "abc123def456");
    tmsg_free(&m);
    expect_bad("{\"type\":\"ready\",\"tunnel_id\":12}", "tunnel_id");
}

/* ---------------------------------------------------------------- headers and bodies */

static void test_headers_order_and_forms(void **state)
{
    (void)state;
    tmsg m;
    const char *err;
    assert_int_equal(
        dec("{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
            "\"headers\":{\"Set-Cookie\":[\"a=1; Path=/\",\"b=2\",\"c=3\"],\"X-One\":\"single\","
            "\"X-Empty\":[],\"x-blank\":[\"\"],\"Content-Type\":[\"text/plain\"]}}",
            &m, &err),
        0);
    assert_int_equal(m.headers.n, 6);
    const char *names[] = {"Set-Cookie", "Set-Cookie", "Set-Cookie",
                           "X-One",      "x-blank",    "Content-Type"};
    const char *vals[] = {"a=1; Path=/", "b=2", "c=3", "single", "", "text/plain"};
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(m.headers.v[i].name, names[i]);
        assert_string_equal(m.headers.v[i].value, vals[i]);
    }
    tmsg_free(&m);
    /* headers null or absent: empty */
    assert_int_equal(dec("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"PROPFIND\","
                         "\"uri\":\"/\",\"headers\":null}",
                         &m, &err),
                     0);
    assert_int_equal(m.headers.n, 0);
    assert_string_equal(m.method, "PROPFIND");
    tmsg_free(&m);
}

static void test_headers_refused(void **state)
{
    (void)state;
    static const char *pre = "{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
                             "\"headers\":";
    static const char *bad[] = {
        "[]",
        "\"x\"",
        "{\"a\":5}",
        "{\"a\":[5]}",
        "{\"a\":[\"ok\",null]}",
        "{\"a\":{\"b\":\"c\"}}",
        "{\"bad name\":[\"v\"]}",
        "{\"\":[\"v\"]}",
        "{\"a:b\":[\"v\"]}",
        "{\"a\":[\"v\\r\\nInjected: 1\"]}",
        "{\"a\":\"v\\nx\"}",
        "{\"a\":[\"v\\u0001\"]}",
        "{\"a\\u0000b\":[\"v\"]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s%s}", pre, bad[i]);
        expect_bad(buf, NULL);
    }
}

static void test_body(void **state)
{
    (void)state;
    tmsg m;
    const char *err;
    /* all 256 byte values */
    assert_int_equal(dec("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"POST\","
                         "\"uri\":\"/u\",\"body\":\"AAEC/w==\"}",
                         &m, &err),
                     0);
    assert_int_equal(m.body_len, 4);
    assert_memory_equal(m.body, "\x00\x01\x02\xff", 4);
    tmsg_free(&m);
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"POST\",\"uri\":\"/\","
               "\"body\":\"SGVsbG8\"}",
               "body");
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"POST\",\"uri\":\"/\","
               "\"body\":\"SGVs bG8=\"}",
               "body");
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"POST\",\"uri\":\"/\","
               "\"body\":[1]}",
               "body");
    expect_bad("{\"type\":\"http_response_body\",\"request_id\":\"r\",\"seq\":1,\"body\":\"-_==\"}",
               "body");
}

/* ---------------------------------------------------------------- chunked extension */

static void test_chunk_messages(void **state)
{
    (void)state;
    tmsg m;
    const char *err;
    assert_int_equal(dec("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"PUT\","
                         "\"uri\":\"/up\",\"headers\":{\"content-length\":[\"40000\"]},"
                         "\"body\":\"YQ==\",\"timestamp\":5,\"more\":true}",
                         &m, &err),
                     0);
    assert_true(m.more);
    tmsg_free(&m);
    assert_int_equal(dec("{\"type\":\"http_request_body\",\"request_id\":\"r\",\"seq\":1,"
                         "\"body\":\"Yg==\",\"more\":true}",
                         &m, &err),
                     0);
    assert_int_equal(m.type, TMSG_HTTP_REQUEST_BODY);
    assert_int_equal(m.seq, 1);
    assert_true(m.more);
    assert_int_equal(m.body_len, 1);
    tmsg_free(&m);
    assert_int_equal(dec("{\"type\":\"http_response_body\",\"request_id\":\"r\",\"seq\":4294967295,"
                         "\"body\":\"\",\"more\":false}",
                         &m, &err),
                     0);
    assert_int_equal(m.type, TMSG_HTTP_RESPONSE_BODY);
    assert_int_equal(m.seq, 4294967295u);
    assert_false(m.more);
    assert_null(m.body);
    tmsg_free(&m);
    /* more absent on a body message: the last piece */
    assert_int_equal(
        dec("{\"type\":\"http_response_body\",\"request_id\":\"r\",\"seq\":2}", &m, &err), 0);
    assert_false(m.more);
    tmsg_free(&m);
    expect_bad("{\"type\":\"http_response_body\",\"request_id\":\"r\",\"body\":\"\"}", "seq");
    expect_bad("{\"type\":\"http_response_body\",\"request_id\":\"r\",\"seq\":0}", "seq");
    expect_bad("{\"type\":\"http_response_body\",\"request_id\":\"r\",\"seq\":-1}", "seq");
    expect_bad("{\"type\":\"http_response_body\",\"request_id\":\"r\",\"seq\":4294967296}", "seq");
    expect_bad("{\"type\":\"http_response_body\",\"request_id\":\"r\",\"seq\":1.5}", "seq");
    expect_bad("{\"type\":\"http_response_body\",\"request_id\":\"r\",\"seq\":\"1\"}", "seq");
    expect_bad("{\"type\":\"http_response_body\",\"request_id\":\"r\",\"seq\":null}", "seq");
    expect_bad("{\"type\":\"http_request_body\",\"seq\":1}", "request_id");
    expect_bad("{\"type\":\"http_request_body\",\"request_id\":\"r\",\"seq\":1,\"more\":1}",
               "more");
    expect_bad("{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
               "\"more\":\"yes\"}",
               "more");
}

/* ---------------------------------------------------------------- refusals */

static void test_refused(void **state)
{
    (void)state;
    expect_bad("", "JSON");
    expect_bad("{", "JSON");
    expect_bad("{\"type\":\"ping\"} x", "JSON");
    expect_bad("{\"type\":\"ping\",\"type\":\"pong\"", "JSON");
    expect_bad("[]", "object");
    expect_bad("\"ping\"", NULL);
    expect_bad("1", NULL);
    expect_bad("null", NULL);
    expect_bad("{}", "type");
    expect_bad("{\"type\":5}", "type");
    expect_bad("{\"type\":null}", "type");
    expect_bad("{\"type\":\"PING\"}", "unknown type");
    expect_bad("{\"type\":\"http_request\"}", "request_id");
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"\",\"method\":\"GET\",\"uri\":\"/\"}",
               "request_id");
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"uri\":\"/\"}", "method");
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"G T\",\"uri\":\"/\"}",
               "method");
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"\",\"uri\":\"/\"}",
               "method");
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"GET\"}", "uri");
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"GET\",\"uri\":\"\"}",
               "uri");
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"GET\","
               "\"uri\":\"/ HTTP/1.1\\r\\nX: y\"}",
               "uri");
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"GET\",\"uri\":\"/\","
               "\"timestamp\":-5}",
               "timestamp");
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"GET\",\"uri\":\"/\","
               "\"timestamp\":\"now\"}",
               "timestamp");
    expect_bad("{\"type\":\"http_response\",\"request_id\":\"r\"}", "status_code");
    expect_bad("{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":\"200\"}",
               "status_code");
    expect_bad("{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":99}",
               "status_code");
    expect_bad("{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":1000}",
               "status_code");
    expect_bad("{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200.0}",
               "status_code");
    expect_bad("{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
               "\"processing_time_ms\":-1}",
               "processing_time_ms");
    /* unknown type: -1 and the type stays TMSG_UNKNOWN */
    tmsg m;
    const char *err = NULL;
    assert_int_equal(dec("{\"type\":\"subscribe\"}", &m, &err), -1);
    assert_string_equal(err, "unknown type");
    assert_int_equal(m.type, TMSG_UNKNOWN);
    tmsg_free(&m);
    /* NULL err is allowed */
    assert_int_equal(tmsg_decode("{", 1, &m, NULL), -1);
    tmsg_free(&m);
    /* length bounds the input: the NUL-free tail is ignored */
    const char *s = "{\"type\":\"ping\"}GARBAGE";
    assert_int_equal(tmsg_decode(s, 15, &m, &err), 0);
    assert_int_equal(m.type, TMSG_PING);
    tmsg_free(&m);
    tmsg_free(&m); /* free twice is harmless */
}

/* ---------------------------------------------------------------- encoding */

static void expect_encoded(const tmsg *m, const char *want)
{
    size_t len = 0;
    char *s = tmsg_encode(m, &len);
    assert_non_null(s);
    assert_string_equal(s, want);
    assert_int_equal(len, strlen(want));
    free(s);
}

static void test_encode_exact(void **state)
{
    (void)state;
    tmsg m;
    tmsg_init(&m, TMSG_PING);
    expect_encoded(&m, "{\"type\":\"ping\"}");
    m.type = TMSG_PONG;
    expect_encoded(&m, "{\"type\":\"pong\"}");
    m.type = TMSG_READY;
    expect_encoded(&m, "{\"type\":\"ready\"}");
    m.tunnel_id = strdup("abc123def456");
    expect_encoded(&m, "{\"type\":\"ready\",\"tunnel_id\":\"abc123def456\"}");
    tmsg_free(&m);

    tmsg_init(&m, TMSG_CONNECTION_ESTABLISHED);
    m.connection_id = strdup("c1");
    m.tunnel_id = strdup("abc123def456");
    m.public_url = strdup("http://localhost:8080/abc123def456");
    m.path_based_url = strdup("http://localhost:8080/abc123def456");
    expect_encoded(&m, "{\"type\":\"connection_established\",\"connection_id\":\"c1\","
                       "\"tunnel_id\":\"abc123def456\",\"public_url\":\"http://localhost:8080/"
                       "abc123def456\",\"path_based_url\":\"http://localhost:8080/abc123def456\"}");
    tmsg_free(&m);

    tmsg_init(&m, TMSG_ERROR);
    m.code = TERR_TIMEOUT;
    m.message = strdup("no \"answer\"\n");
    expect_encoded(&m, "{\"type\":\"error\",\"request_id\":null,\"code\":\"timeout\","
                       "\"message\":\"no \\\"answer\\\"\\n\"}");
    m.request_id = strdup("r9");
    m.code = TERR_LOCAL_UNAVAILABLE;
    expect_encoded(&m, "{\"type\":\"error\",\"request_id\":\"r9\",\"code\":"
                       "\"local_service_unavailable\",\"message\":\"no \\\"answer\\\"\\n\"}");
    tmsg_free(&m);

    /* repeated headers grouped (case-insensitively, first spelling), order of first appearance */
    tmsg_init(&m, TMSG_HTTP_RESPONSE);
    m.request_id = strdup("r");
    m.status_code = 200;
    http_headers_add(&m.headers, "Set-Cookie", 10, "a=1", 3);
    http_headers_add(&m.headers, "Content-Type", 12, "text/plain", 10);
    http_headers_add(&m.headers, "set-cookie", 10, "b=2", 3);
    m.body = (uint8_t *)strdup("hi");
    m.body_len = 2;
    m.processing_time_ms = 7;
    expect_encoded(&m, "{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
                       "\"headers\":{\"Set-Cookie\":[\"a=1\",\"b=2\"],\"Content-Type\":"
                       "[\"text/plain\"]},\"body\":\"aGk=\",\"processing_time_ms\":7}");
    m.more = true;
    expect_encoded(&m, "{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
                       "\"headers\":{\"Set-Cookie\":[\"a=1\",\"b=2\"],\"Content-Type\":"
                       "[\"text/plain\"]},\"body\":\"aGk=\",\"processing_time_ms\":7,"
                       "\"more\":true}");
    tmsg_free(&m);

    tmsg_init(&m, TMSG_HTTP_REQUEST);
    m.request_id = strdup("r");
    m.method = strdup("GET");
    m.uri = strdup("/a?b=%20&c=/d");
    m.timestamp = 1730000000000ull;
    expect_encoded(&m, "{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"GET\","
                       "\"uri\":\"/a?b=%20&c=/d\",\"headers\":{},\"body\":\"\","
                       "\"timestamp\":1730000000000}");
    tmsg_free(&m);

    tmsg_init(&m, TMSG_HTTP_REQUEST_BODY);
    m.request_id = strdup("r");
    m.seq = 3;
    expect_encoded(&m, "{\"type\":\"http_request_body\",\"request_id\":\"r\",\"seq\":3,"
                       "\"body\":\"\",\"more\":false}");
    tmsg_free(&m);

    tmsg_init(&m, TMSG_UNKNOWN);
    assert_null(tmsg_encode(&m, NULL));
}

static void roundtrip(const tmsg *in, tmsg *out)
{
    size_t len;
    char *s = tmsg_encode(in, &len);
    assert_non_null(s);
    const char *err = NULL;
    if (tmsg_decode(s, len, out, &err) != 0)
        fail_msg("roundtrip decode: %s: %s", err, s);
    free(s);
}

static void test_roundtrip_chunk_fits_frame(void **state)
{
    (void)state;
    tmsg m, d;
    tmsg_init(&m, TMSG_HTTP_RESPONSE_BODY);
    m.request_id = strdup("550e8400-e29b-41d4-a716-446655440000");
    m.seq = 12;
    m.more = true;
    m.body_len = TTF_JSON_CHUNK;
    m.body = malloc(m.body_len);
    for (size_t i = 0; i < m.body_len; i++)
        m.body[i] = (uint8_t)(i * 31 + 7);
    size_t len;
    char *s = tmsg_encode(&m, &len);
    assert_non_null(s);
    /* a full chunk must fit in one API Gateway frame */
    assert_true(len <= TTF_JSON_MAX_MSG);
    free(s);
    roundtrip(&m, &d);
    assert_int_equal(d.type, TMSG_HTTP_RESPONSE_BODY);
    assert_string_equal(d.request_id, m.request_id);
    assert_int_equal(d.seq, 12);
    assert_true(d.more);
    assert_int_equal(d.body_len, m.body_len);
    assert_memory_equal(d.body, m.body, m.body_len);
    tmsg_free(&d);
    tmsg_free(&m);
}

static void test_roundtrip_request(void **state)
{
    (void)state;
    tmsg m, d;
    tmsg_init(&m, TMSG_HTTP_REQUEST);
    m.request_id = strdup("r-1");
    m.method = strdup("PROPFIND");
    m.uri = strdup("/dav/x%2Fy?q=a+b&q=c&&=");
    http_headers_add(&m.headers, "Host", 4, "abc123def456.localhost:8080", 27);
    http_headers_add(&m.headers, "Cookie", 6, "a=1", 3);
    http_headers_add(&m.headers, "X-Latin", 7, "caf\xe9", 4); /* obs-text, not UTF-8 */
    http_headers_add(&m.headers, "cookie", 6, "b=2", 3);
    m.timestamp = UINT64_C(1) << 53;
    m.more = true;
    roundtrip(&m, &d);
    assert_string_equal(d.method, "PROPFIND");
    assert_string_equal(d.uri, m.uri);
    assert_int_equal(d.timestamp, m.timestamp);
    assert_true(d.more);
    assert_int_equal(d.headers.n, 4);
    assert_string_equal(d.headers.v[0].name, "Host");
    assert_string_equal(d.headers.v[1].value, "a=1");
    assert_string_equal(d.headers.v[2].value, "b=2");     /* grouped with Cookie */
    assert_string_equal(d.headers.v[3].value, "caf\xe9"); /* octets unchanged ({"b64":...}) */
    tmsg_free(&d);
    tmsg_free(&m);

    tmsg_init(&m, TMSG_ERROR);
    m.code = TERR_INVALID_REQUEST;
    roundtrip(&m, &d);
    assert_int_equal(d.code, TERR_INVALID_REQUEST);
    assert_null(d.request_id);
    assert_string_equal(d.message, "");
    tmsg_free(&d);
    tmsg_free(&m);
}

/* The naming handshake: ready's subdomain and agent_key, connection_established's message,
 * tunnel_refused (docs/protocol.md §1). */
static void test_naming_handshake(void **state)
{
    (void)state;
    tmsg m;
    const char *err;
    assert_int_equal(dec("{\"type\":\"ready\",\"tunnel_id\":\"old\",\"subdomain\":\"myapp\","
                         "\"agent_key\":\"k123\"}",
                         &m, &err),
                     0);
    assert_string_equal(m.tunnel_id, "old");
    assert_string_equal(m.subdomain, "myapp");
    assert_string_equal(m.agent_key, "k123");
    char *s = tmsg_encode(&m, NULL);
    assert_string_equal(s, "{\"type\":\"ready\",\"tunnel_id\":\"old\",\"subdomain\":\"myapp\","
                           "\"agent_key\":\"k123\"}");
    free(s);
    tmsg_free(&m);
    expect_bad("{\"type\":\"ready\",\"subdomain\":1}", "subdomain");
    expect_bad("{\"type\":\"ready\",\"agent_key\":[]}", "agent_key");
    char big[400];
    int n = snprintf(big, sizeof big, "{\"type\":\"ready\",\"agent_key\":\"%0300d\"}", 0);
    assert_true(n > 0 && (size_t)n < sizeof big);
    expect_bad(big, "agent_key");

    assert_int_equal(dec("{\"type\":\"tunnel_refused\",\"code\":\"name_owned\",\"message\":"
                         "\"subdomain 'x' belongs to another user\"}",
                         &m, &err),
                     0);
    assert_int_equal(m.type, TMSG_TUNNEL_REFUSED);
    assert_string_equal(m.refusal, "name_owned");
    assert_string_equal(m.message, "subdomain 'x' belongs to another user");
    s = tmsg_encode(&m, NULL);
    assert_string_equal(s, "{\"type\":\"tunnel_refused\",\"code\":\"name_owned\",\"message\":"
                           "\"subdomain 'x' belongs to another user\"}");
    free(s);
    tmsg_free(&m);
    expect_bad("{\"type\":\"tunnel_refused\",\"message\":\"m\"}", "code");
    expect_bad("{\"type\":\"tunnel_refused\",\"code\":\"c\"}", "message");

    assert_int_equal(dec("{\"type\":\"connection_established\",\"connection_id\":\"c\","
                         "\"tunnel_id\":\"t\",\"public_url\":\"u\",\"message\":\"why\"}",
                         &m, &err),
                     0);
    assert_string_equal(m.message, "why");
    tmsg_free(&m);
    assert_string_equal(tmsg_type_name(TMSG_TUNNEL_REFUSED), "tunnel_refused");
}

/* ---------------------------------------------------------------- octets (issue 11 item 5) */

static char *b64_of(const char *s, size_t n)
{
    char *b = malloc(b64_encoded_len(n) + 1);
    b64_encode((const uint8_t *)s, n, b);
    return b;
}

/* Every octet a field value may hold (HTAB, SP, VCHAR, obs-text 0x80-0xFF) survives a round
 * trip, in one value and one octet at a time; valid UTF-8 stays a plain string. */
static void test_octets_lossless(void **state)
{
    (void)state;
    char all[256];
    size_t n = 0;
    all[n++] = '\t';
    for (int c = 0x20; c <= 0xff; c++) {
        if (c != 0x7f)
            all[n++] = (char)c;
    }
    tmsg m, d;
    tmsg_init(&m, TMSG_HTTP_RESPONSE);
    m.request_id = strdup("r");
    m.status_code = 200;
    http_headers_add(&m.headers, "X-All", 5, all, n);
    for (int c = 0x80; c <= 0xff; c++) {
        char v[3] = {'a', (char)c, 'z'};
        http_headers_add(&m.headers, "X-One", 5, v, 3);
    }
    http_headers_add(&m.headers, "X-Utf8", 6, "caf\xc3\xa9 \xe2\x82\xac", 9);
    http_headers_add(&m.headers, "Content-Disposition", 19, "attachment; filename=\"caf\xe9.txt\"",
                     31);
    m.reason = strdup("Gr\xfc\xdf Gott"); /* Latin-1 reason-phrase */
    roundtrip(&m, &d);
    assert_int_equal(d.headers.n, m.headers.n);
    for (size_t i = 0; i < m.headers.n; i++) {
        assert_int_equal(d.headers.v[i].vlen, m.headers.v[i].vlen);
        assert_memory_equal(d.headers.v[i].value, m.headers.v[i].value, m.headers.v[i].vlen);
    }
    assert_string_equal(d.reason, m.reason);
    tmsg_free(&d);
    /* the encoded forms: UTF-8 plain, the rest {"b64":...} */
    char *json = tmsg_encode(&m, NULL);
    assert_non_null(strstr(json, "\"X-Utf8\":[\"caf\xc3\xa9 \xe2\x82\xac\"]"));
    assert_non_null(strstr(json, "\"reason\":{\"b64\":\"R3L83yBHb3R0\"}"));
    assert_non_null(
        strstr(json, "\"Content-Disposition\":[{\"b64\":\"YXR0YWNobWVudDsgZmlsZW5hbWU9ImNhZ"));
    free(json);
    tmsg_free(&m);

    /* request: method, uri and header values */
    tmsg_init(&m, TMSG_HTTP_REQUEST);
    m.request_id = strdup("r");
    m.method = strdup("GET");
    m.uri = strdup("/caf\xe9.txt?q=\xff");
    http_headers_add(&m.headers, "X-Name", 6, "J\xf6rg", 4);
    roundtrip(&m, &d);
    assert_string_equal(d.uri, "/caf\xe9.txt?q=\xff");
    assert_string_equal(http_headers_get(&d.headers, "X-Name"), "J\xf6rg");
    tmsg_free(&d);
    json = tmsg_encode(&m, NULL);
    assert_non_null(strstr(json, "\"uri\":{\"b64\":\"L2NhZukudHh0P3E9/w==\"}"));
    assert_non_null(strstr(json, "\"method\":\"GET\""));
    assert_non_null(strstr(json, "\"X-Name\":[{\"b64\":\"SvZyZw==\"}]"));
    free(json);
    tmsg_free(&m);

    /* the object form is accepted for every octet field, even for UTF-8 octets */
    const char *err;
    assert_int_equal(dec("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":{\"b64\":"
                         "\"UFVU\"},\"uri\":{\"b64\":\"L2Nhw6k=\"},\"headers\":{\"a\":{\"b64\":"
                         "\"\"},\"b\":[\"x\",{\"b64\":\"6Q==\"}]}}",
                         &m, &err),
                     0);
    assert_string_equal(m.method, "PUT");
    assert_string_equal(m.uri, "/ca\xc3\xa9");
    assert_int_equal(m.headers.n, 3);
    assert_string_equal(m.headers.v[0].value, "");
    assert_string_equal(m.headers.v[1].value, "x");
    assert_string_equal(m.headers.v[2].value, "\xe9");
    tmsg_free(&m);
}

/* Octets a head cannot carry are refused in both forms; malformed octet objects are refused. */
static void test_octets_refused(void **state)
{
    (void)state;
    for (int c = 0; c < 0x20; c++) {
        if (c == '\t')
            continue;
        char v[3] = {'a', (char)c, 'z'};
        char *b = b64_of(v, 3);
        char buf[256];
        snprintf(buf, sizeof buf,
                 "{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
                 "\"headers\":{\"x\":[{\"b64\":\"%s\"}]}}",
                 b);
        expect_bad(buf, "headers");
        snprintf(buf, sizeof buf,
                 "{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"GET\","
                 "\"uri\":{\"b64\":\"%s\"}}",
                 b);
        expect_bad(buf, "uri");
        snprintf(buf, sizeof buf,
                 "{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
                 "\"reason\":{\"b64\":\"%s\"}}",
                 b);
        expect_bad(buf, "reason");
        free(b);
        if (c == 0)
            continue; /* \u0000 is refused by the JSON parser itself */
        snprintf(buf, sizeof buf,
                 "{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
                 "\"headers\":{\"x\":\"a\\u%04xz\"}}",
                 c);
        expect_bad(buf, NULL);
    }
    /* DEL, and NUL through the octet form (no truncation at the NUL) */
    expect_bad("{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
               "\"headers\":{\"x\":{\"b64\":\"YX96\"}}}",
               "headers");
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"GET\","
               "\"uri\":{\"b64\":\"L2EAYg==\"}}",
               "uri");
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":{\"b64\":\"R0UAVA==\"},"
               "\"uri\":\"/\"}",
               "method");
    /* space in a target or method, empty target */
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"GET\","
               "\"uri\":{\"b64\":\"L2EgYg==\"}}",
               "uri");
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"GET\","
               "\"uri\":{\"b64\":\"\"}}",
               "uri");
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":{\"b64\":\"RyBU\"},"
               "\"uri\":\"/\"}",
               "method");
    /* malformed objects */
    static const char *objs[] = {
        "{}",
        "{\"b64\":5}",
        "{\"b64\":null}",
        "{\"b64\":\"abc\"}",
        "{\"b64\":\"QQ\"}",
        "{\"b64\":\"Q Q=\"}",
        "{\"b64\":\"-_==\"}",
        "{\"B64\":\"QQ==\"}",
        "{\"b64\":\"QQ==\",\"x\":1}",
        "{\"b64\":[\"QQ==\"]}",
        "[\"QQ==\"]",
        "5",
        "true",
    };
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf,
                 "{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
                 "\"headers\":{\"x\":[%s]}}",
                 objs[i]);
        expect_bad(buf, "headers");
        snprintf(buf, sizeof buf,
                 "{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"GET\",\"uri\":%s}",
                 objs[i]);
        expect_bad(buf, "uri");
        snprintf(buf, sizeof buf,
                 "{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":%s,\"uri\":\"/\"}",
                 objs[i]);
        expect_bad(buf, "method");
        snprintf(buf, sizeof buf,
                 "{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
                 "\"reason\":%s}",
                 objs[i]);
        expect_bad(buf, "reason");
    }
}

/* ---------------------------------------------------------------- cancel */

static void test_cancel(void **state)
{
    (void)state;
    tmsg m;
    const char *err;
    assert_int_equal(dec("{\"type\":\"cancel\",\"request_id\":\"r7\",\"reason\":\"client went "
                         "away\"}",
                         &m, &err),
                     0);
    assert_int_equal(m.type, TMSG_CANCEL);
    assert_string_equal(m.request_id, "r7");
    assert_string_equal(m.reason, "client went away");
    expect_encoded(&m,
                   "{\"type\":\"cancel\",\"request_id\":\"r7\",\"reason\":\"client went away\"}");
    tmsg_free(&m);
    assert_int_equal(dec("{\"type\":\"cancel\",\"request_id\":\"r7\"}", &m, &err), 0);
    assert_null(m.reason);
    expect_encoded(&m, "{\"type\":\"cancel\",\"request_id\":\"r7\"}");
    tmsg_free(&m);
    expect_bad("{\"type\":\"cancel\"}", "request_id");
    expect_bad("{\"type\":\"cancel\",\"request_id\":\"\"}", "request_id");
    expect_bad("{\"type\":\"cancel\",\"request_id\":5}", "request_id");
    expect_bad("{\"type\":\"cancel\",\"request_id\":\"r\",\"reason\":5}", "reason");
    assert_string_equal(tmsg_type_name(TMSG_CANCEL), "cancel");
}

/* ---------------------------------------------------------------- head continuation */

static void test_head_continuation_messages(void **state)
{
    (void)state;
    tmsg m;
    const char *err;
    assert_int_equal(dec("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"GET\","
                         "\"uri\":\"/\",\"headers\":{\"a\":[\"1\"]},\"headers_more\":true}",
                         &m, &err),
                     0);
    assert_true(m.headers_more);
    assert_false(m.more);
    tmsg_free(&m);
    assert_int_equal(dec("{\"type\":\"http_request_headers\",\"request_id\":\"r\",\"seq\":1,"
                         "\"headers\":{\"Cookie\":[\"a=1\",{\"b64\":\"6Q==\"}]},"
                         "\"headers_more\":true}",
                         &m, &err),
                     0);
    assert_int_equal(m.type, TMSG_HTTP_REQUEST_HEADERS);
    assert_int_equal(m.seq, 1);
    assert_true(m.headers_more);
    assert_int_equal(m.headers.n, 2);
    assert_string_equal(m.headers.v[1].value, "\xe9");
    expect_encoded(&m, "{\"type\":\"http_request_headers\",\"request_id\":\"r\",\"seq\":1,"
                       "\"headers\":{\"Cookie\":[\"a=1\",{\"b64\":\"6Q==\"}]},"
                       "\"headers_more\":true}");
    /* appending continuation fields to a head */
    http_headers head;
    http_headers_init(&head);
    http_headers_add(&head, "Host", 4, "x", 1);
    assert_int_equal(tmsg_take_headers(&head, &m.headers), 0);
    assert_int_equal(head.n, 3);
    assert_int_equal(m.headers.n, 0);
    assert_string_equal(head.v[2].name, "Cookie");
    http_headers_free(&head);
    tmsg_free(&m);
    assert_int_equal(dec("{\"type\":\"http_response_headers\",\"request_id\":\"r\",\"seq\":2,"
                         "\"headers\":{}}",
                         &m, &err),
                     0);
    assert_int_equal(m.type, TMSG_HTTP_RESPONSE_HEADERS);
    assert_false(m.headers_more);
    tmsg_free(&m);
    expect_bad("{\"type\":\"http_request_headers\",\"request_id\":\"r\",\"headers\":{}}", "seq");
    expect_bad("{\"type\":\"http_request_headers\",\"request_id\":\"r\",\"seq\":0}", "seq");
    expect_bad("{\"type\":\"http_response_headers\",\"seq\":1}", "request_id");
    expect_bad("{\"type\":\"http_response_headers\",\"request_id\":\"r\",\"seq\":1,"
               "\"headers_more\":1}",
               "headers_more");
    expect_bad("{\"type\":\"http_response_headers\",\"request_id\":\"r\",\"seq\":1,"
               "\"headers\":{\"a b\":\"1\"}}",
               "headers");
    expect_bad("{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
               "\"headers_more\":\"yes\"}",
               "headers_more");
    /* a body piece before the last fields */
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"POST\","
               "\"uri\":\"/\",\"headers_more\":true,\"body\":\"YQ==\"}",
               "body");
    /* acknowledgements of continuation messages name their seq */
    tmsg_init(&m, TMSG_ACK);
    m.ack_of = TMSG_HTTP_RESPONSE_HEADERS;
    m.request_id = strdup("r");
    m.seq = 3;
    expect_encoded(&m, "{\"type\":\"ack\",\"of\":\"http_response_headers\",\"request_id\":\"r\","
                       "\"seq\":3}");
    tmsg_free(&m);
}

/* What tmsg_send_head sends, decoded again. */
typedef struct sent {
    tmsg msgs[64];
    size_t n;
    size_t max_len;
    int fail_at; /* send returns -1 for this message (0 = never) */
} sent;

static int record(void *ud, const tmsg *m)
{
    sent *s = ud;
    if (s->fail_at && (int)s->n + 1 == s->fail_at)
        return -1;
    size_t len = 0;
    char *json = tmsg_encode(m, &len);
    assert_non_null(json);
    assert_true(s->n < 64);
    const char *err = NULL;
    if (tmsg_decode(json, len, &s->msgs[s->n], &err) != 0)
        fail_msg("sent message does not decode: %s", err);
    s->n++;
    if (len > s->max_len)
        s->max_len = len;
    free(json);
    return 0;
}

static void sent_free(sent *s)
{
    for (size_t i = 0; i < s->n; i++)
        tmsg_free(&s->msgs[i]);
}

/* n fields of vlen octets each (obs-text when latin1) */
static void big_head(tmsg *m, tmsg_type t, size_t n, size_t vlen, bool latin1)
{
    tmsg_init(m, t);
    m->request_id = strdup("550e8400-e29b-41d4-a716-446655440000");
    if (t == TMSG_HTTP_REQUEST) {
        m->method = strdup("GET");
        m->uri = strdup("/big");
    } else {
        m->status_code = 200;
    }
    char *v = malloc(vlen);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < vlen; k++)
            v[k] = latin1 ? (char)(0x80 + (i + k) % 0x80) : (char)('a' + (i + k) % 26);
        char name[32];
        int nl = snprintf(name, sizeof name, "%s", i % 3 ? "Set-Cookie" : "X-Field");
        http_headers_add(&m->headers, name, (size_t)nl, v, vlen);
    }
    free(v);
}

static void check_reassembled(const tmsg *m, sent *s)
{
    http_headers all;
    http_headers_init(&all);
    for (size_t i = 0; i < s->n; i++) {
        tmsg *x = &s->msgs[i];
        if (i > 0) {
            assert_int_equal(x->type, m->type == TMSG_HTTP_REQUEST ? TMSG_HTTP_REQUEST_HEADERS
                                                                   : TMSG_HTTP_RESPONSE_HEADERS);
            assert_int_equal(x->seq, i);
            assert_string_equal(x->request_id, m->request_id);
        }
        assert_int_equal(x->headers_more, i + 1 < s->n);
        assert_int_equal(x->body_len, 0);
        assert_int_equal(tmsg_take_headers(&all, &x->headers), 0);
    }
    /* every field, the values of each name in order (the JSON form groups a message's fields by
     * name, as upstream's does; RFC 9110 §5.3 gives meaning only to the order within a name) */
    assert_int_equal(all.n, m->headers.n);
    static const char *names[] = {"X-Field", "Set-Cookie"};
    for (size_t k = 0; k < 2; k++) {
        size_t i = 0, j = 0;
        for (;;) {
            while (i < all.n && strcasecmp(all.v[i].name, names[k]) != 0)
                i++;
            while (j < m->headers.n && strcasecmp(m->headers.v[j].name, names[k]) != 0)
                j++;
            if (i == all.n || j == m->headers.n)
                break;
            assert_int_equal(all.v[i].vlen, m->headers.v[j].vlen);
            assert_memory_equal(all.v[i].value, m->headers.v[j].value, all.v[i].vlen);
            i++;
            j++;
        }
        assert_int_equal(i, all.n);
        assert_int_equal(j, m->headers.n);
    }
    http_headers_free(&all);
}

static void test_send_head(void **state)
{
    (void)state;
    /* a usual head: one message, the body with it */
    tmsg m;
    sent s = {0};
    big_head(&m, TMSG_HTTP_RESPONSE, 20, 1024, false); /* 20 Set-Cookie of 1 KB (issue 11.2) */
    m.body = (uint8_t *)strdup("hello");
    m.body_len = 5;
    assert_int_equal(tmsg_send_head(&m, record, &s), 1);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.msgs[0].body_len, 5);
    assert_false(s.msgs[0].headers_more);
    assert_int_equal(s.msgs[0].headers.n, 20);
    sent_free(&s);
    tmsg_free(&m);

    /* 1 MiB of request head (ttfd's largest --max-header-size), ASCII and obs-text */
    for (int latin1 = 0; latin1 < 2; latin1++) {
        memset(&s, 0, sizeof s);
        big_head(&m, TMSG_HTTP_REQUEST, 256, 4000, latin1);
        m.body = (uint8_t *)strdup("abc");
        m.body_len = 3;
        assert_int_equal(tmsg_send_head(&m, record, &s), 0);
        assert_true(s.n > 8);
        assert_true(s.max_len <= TTF_JSON_MAX_MSG);
        assert_true(s.msgs[0].more); /* the body follows as piece 1 */
        assert_string_equal(s.msgs[0].uri, "/big");
        check_reassembled(&m, &s);
        sent_free(&s);
        tmsg_free(&m);
    }

    /* a head that fits only without its body: one head message, the body as piece 1 */
    memset(&s, 0, sizeof s);
    big_head(&m, TMSG_HTTP_RESPONSE, 30, 3000, false);
    m.body_len = 40000;
    m.body = calloc(1, m.body_len);
    assert_int_equal(tmsg_send_head(&m, record, &s), 0);
    assert_int_equal(s.n, 1);
    assert_false(s.msgs[0].headers_more);
    assert_true(s.msgs[0].more);
    sent_free(&s);
    tmsg_free(&m);

    /* one field line larger than a message: refused, nothing sent */
    memset(&s, 0, sizeof s);
    big_head(&m, TMSG_HTTP_RESPONSE, 1, TTF_JSON_MAX_MSG, false);
    assert_int_equal(tmsg_send_head(&m, record, &s), -1);
    assert_int_equal(s.n, 0);
    tmsg_free(&m);

    /* send failing: -1 */
    memset(&s, 0, sizeof s);
    s.fail_at = 2;
    big_head(&m, TMSG_HTTP_REQUEST, 64, 4000, false);
    assert_int_equal(tmsg_send_head(&m, record, &s), -1);
    assert_int_equal(s.n, 1);
    sent_free(&s);
    tmsg_free(&m);

    /* not a head message */
    tmsg_init(&m, TMSG_PING);
    assert_int_equal(tmsg_send_head(&m, record, &s), -1);

    /* the size is exact for one entry (plain UTF-8 or the octet form), never under */
    http_header e = {.name = "X\"\\", .nlen = 3, .value = "\t\"\\\xe9", .vlen = 4};
    assert_int_equal(tmsg_header_encoded_max(&e),
                     strlen("\"X\\\"\\\\\":[{\"b64\":\"CSJc6Q==\"}],"));
    http_header u = {.name = "A", .nlen = 1, .value = "caf\xc3\xa9\t", .vlen = 6};
    assert_int_equal(tmsg_header_encoded_max(&u), strlen("\"A\":[\"caf\xc3\xa9\\t\"],"));

    /* one plain ASCII field of 120 KB fits a message of its own (its octet form would not) */
    memset(&s, 0, sizeof s);
    big_head(&m, TMSG_HTTP_REQUEST, 1, 120000, false);
    assert_true(tmsg_send_head(&m, record, &s) >= 0);
    assert_true(s.max_len <= TTF_JSON_MAX_MSG);
    check_reassembled(&m, &s);
    sent_free(&s);
    tmsg_free(&m);
}

/* ---------------------------------------------------------------- several tunnels */

static void test_tunnels(void **state)
{
    (void)state;
    tmsg m;
    const char *err;
    assert_int_equal(dec("{\"type\":\"ready\",\"tunnels\":[{\"name\":\"web\",\"subdomain\":"
                         "\"myapp\"},{\"name\":\"api\"}]}",
                         &m, &err),
                     0);
    assert_int_equal(m.ntunnels, 2);
    assert_string_equal(m.tunnels[0].name, "web");
    assert_string_equal(m.tunnels[0].subdomain, "myapp");
    assert_string_equal(m.tunnels[1].name, "api");
    assert_null(m.tunnels[1].subdomain);
    expect_encoded(&m,
                   "{\"type\":\"ready\",\"tunnels\":[{\"name\":\"web\",\"subdomain\":\"myapp\"},"
                   "{\"name\":\"api\"}]}");
    tmsg_free(&m);

    assert_int_equal(
        dec("{\"type\":\"connection_established\",\"connection_id\":\"c\",\"tunnel_id\":\"myapp\","
            "\"public_url\":\"http://myapp.localhost:8080\",\"tunnels\":[{\"name\":\"web\","
            "\"tunnel_id\":\"myapp\",\"public_url\":\"http://myapp.localhost:8080\","
            "\"subdomain_url\":\"http://myapp.localhost:8080\",\"path_based_url\":"
            "\"http://localhost:8080/myapp\"},{\"name\":\"api\",\"tunnel_id\":\"k3v9q2m8x0ab\","
            "\"public_url\":\"http://k3v9q2m8x0ab.localhost:8080\"}]}",
            &m, &err),
        0);
    assert_int_equal(m.ntunnels, 2);
    assert_string_equal(m.tunnels[0].tunnel_id, "myapp");
    assert_string_equal(m.tunnels[0].path_based_url, "http://localhost:8080/myapp");
    assert_string_equal(m.tunnels[1].public_url, "http://k3v9q2m8x0ab.localhost:8080");
    assert_null(m.tunnels[1].subdomain_url);
    tmsg d;
    roundtrip(&m, &d);
    assert_int_equal(d.ntunnels, 2);
    assert_string_equal(d.tunnels[1].tunnel_id, "k3v9q2m8x0ab");
    assert_string_equal(d.tunnels[0].subdomain_url, "http://myapp.localhost:8080");
    tmsg_free(&d);
    tmsg_free(&m);

    /* http_request names its tunnel (absent: the first) */
    assert_int_equal(dec("{\"type\":\"http_request\",\"request_id\":\"r\",\"tunnel_id\":\"api1\","
                         "\"method\":\"GET\",\"uri\":\"/\"}",
                         &m, &err),
                     0);
    assert_string_equal(m.tunnel_id, "api1");
    expect_encoded(&m, "{\"type\":\"http_request\",\"request_id\":\"r\",\"tunnel_id\":\"api1\","
                       "\"method\":\"GET\",\"uri\":\"/\",\"headers\":{},\"body\":\"\","
                       "\"timestamp\":0}");
    tmsg_free(&m);
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"tunnel_id\":7,"
               "\"method\":\"GET\",\"uri\":\"/\"}",
               "tunnel_id");

    static const char *bad_ready[] = {
        "{}",
        "[]",
        "\"web\"",
        "[{}]",
        "[{\"name\":\"\"}]",
        "[{\"name\":5}]",
        "[{\"name\":\"web\",\"subdomain\":5}]",
        "[\"web\"]",
        "[{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]",
    };
    for (size_t i = 0; i < sizeof bad_ready / sizeof bad_ready[0]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "{\"type\":\"ready\",\"tunnels\":%s}", bad_ready[i]);
        expect_bad(buf, "tunnels");
    }
    static const char *bad_est[] = {
        "[{\"name\":\"web\",\"public_url\":\"u\"}]",
        "[{\"name\":\"web\",\"tunnel_id\":\"t\"}]",
        "[{\"tunnel_id\":\"t\",\"public_url\":5}]",
        "[{\"tunnel_id\":\"t\",\"public_url\":\"u\",\"subdomain_url\":[]}]",
        "[]",
        "{\"tunnel_id\":\"t\",\"public_url\":\"u\"}",
    };
    for (size_t i = 0; i < sizeof bad_est / sizeof bad_est[0]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf,
                 "{\"type\":\"connection_established\",\"connection_id\":\"c\",\"tunnel_id\":\"t\","
                 "\"public_url\":\"u\",\"tunnels\":%s}",
                 bad_est[i]);
        expect_bad(buf, "tunnels");
    }
    /* at most TTF_JSON_MAX_TUNNELS entries */
    size_t cap = 32 + (TTF_JSON_MAX_TUNNELS + 1) * 16;
    char *big = malloc(cap);
    size_t o = (size_t)snprintf(big, cap, "{\"type\":\"ready\",\"tunnels\":[");
    for (size_t i = 0; i <= TTF_JSON_MAX_TUNNELS; i++)
        o += (size_t)snprintf(big + o, cap - o, "%s{\"name\":\"t%zu\"}", i ? "," : "", i);
    snprintf(big + o, cap - o, "]}");
    expect_bad(big, "tunnels");
    /* exactly the maximum is fine */
    char *last = strrchr(big, '{');
    strcpy(last - 1, "]}");
    assert_int_equal(dec(big, &m, &err), 0);
    assert_int_equal(m.ntunnels, TTF_JSON_MAX_TUNNELS);
    tmsg_free(&m);
    free(big);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(tmsg_type_name(TMSG_HTTP_RESPONSE_BODY), "http_response_body");
    assert_string_equal(tmsg_type_name(TMSG_CONNECTION_ESTABLISHED), "connection_established");
    assert_string_equal(tmsg_type_name(TMSG_UNKNOWN), "unknown");
    assert_string_equal(tmsg_error_name(TERR_INVALID_REQUEST), "invalid_request");
    assert_string_equal(tmsg_error_name(TERR_TIMEOUT), "timeout");
    assert_string_equal(tmsg_error_name(TERR_LOCAL_UNAVAILABLE), "local_service_unavailable");
    assert_string_equal(tmsg_error_name(TERR_INTERNAL), "internal_error");
    assert_int_equal(tmsg_error_status(TERR_INVALID_REQUEST), 400);
    assert_int_equal(tmsg_error_status(TERR_TIMEOUT), 504);
    assert_int_equal(tmsg_error_status(TERR_LOCAL_UNAVAILABLE), 502);
    assert_int_equal(tmsg_error_status(TERR_INTERNAL), 502);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upstream_connection_established),
        cmocka_unit_test(test_upstream_http_request),
        cmocka_unit_test(test_upstream_http_response),
        cmocka_unit_test(test_upstream_error),
        cmocka_unit_test(test_control),
        cmocka_unit_test(test_headers_order_and_forms),
        cmocka_unit_test(test_headers_refused),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_chunk_messages),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_encode_exact),
        cmocka_unit_test(test_roundtrip_chunk_fits_frame),
        cmocka_unit_test(test_roundtrip_request),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_naming_handshake),
        cmocka_unit_test(test_octets_lossless),
        cmocka_unit_test(test_octets_refused),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_head_continuation_messages),
        cmocka_unit_test(test_send_head),
        cmocka_unit_test(test_tunnels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
