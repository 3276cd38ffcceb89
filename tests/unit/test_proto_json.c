/* SPDX-License-Identifier: MIT */
/* test_proto_json.c - JSON messages: upstream's exact shapes, the chunked extension, strict
 * refusals of bad input, compact encoding, round trips, the naming and access handshake. The v2
 * additions (octets, cancel, head continuation, tunnels[]) are in test_proto_json_v2.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strings.h>

#include "proto_json.h"
#include "proto_json_check.h"

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

    /* an ack's seq names a body piece; elsewhere it is dropped, as encoding drops it (found by
     * fuzz_proto_json: decode, encode, decode gave another message) */
    assert_int_equal(dec("{\"type\":\"ack\",\"of\":\"http_response_body\",\"request_id\":\"r\","
                         "\"seq\":3}",
                         &m, &err),
                     0);
    assert_int_equal(m.ack_of, TMSG_HTTP_RESPONSE_BODY);
    assert_int_equal(m.seq, 3);
    tmsg_free(&m);
    /* ... or a head continuation (http_response_headers' seq from 1) */
    assert_int_equal(dec("{\"type\":\"ack\",\"of\":\"http_response_headers\","
                         "\"request_id\":\"r\",\"seq\":2}",
                         &m, &err),
                     0);
    assert_int_equal(m.ack_of, TMSG_HTTP_RESPONSE_HEADERS);
    assert_int_equal(m.seq, 2);
    tmsg_free(&m);
    const char *others[] = {
        "{\"type\":\"ack\",\"of\":\"http_response\",\"request_id\":\"r\",\"seq\":3}",
        "{\"type\":\"ack\",\"of\":\"no_such_type\",\"seq\":2}"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        assert_int_equal(dec(others[i], &m, &err), 0);
        assert_int_equal(m.seq, 0);
        size_t n = 0;
        char *enc = tmsg_encode(&m, &n);
        assert_non_null(enc);
        tmsg d;
        assert_int_equal(tmsg_decode(enc, n, &d, &err), 0);
        assert_int_equal(d.ack_of, m.ack_of);
        assert_int_equal(d.seq, m.seq);
        tmsg_free(&d);
        free(enc);
        tmsg_free(&m);
    }
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

    /* repeated headers grouped by exact spelling, members in the order of first appearance, and
     * header_order since grouping moved a line (A, B, A) */
    tmsg_init(&m, TMSG_HTTP_RESPONSE);
    m.request_id = strdup("r");
    m.status_code = 200;
    http_headers_add(&m.headers, "Set-Cookie", 10, "a=1", 3);
    http_headers_add(&m.headers, "Content-Type", 12, "text/plain", 10);
    http_headers_add(&m.headers, "Set-Cookie", 10, "b=2", 3);
    m.body = (uint8_t *)strdup("hi");
    m.body_len = 2;
    m.processing_time_ms = 7;
    expect_encoded(&m, "{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
                       "\"headers\":{\"Set-Cookie\":[\"a=1\",\"b=2\"],\"Content-Type\":"
                       "[\"text/plain\"]},\"header_order\":[0,1,0],\"body\":\"aGk=\","
                       "\"processing_time_ms\":7}");
    m.more = true;
    expect_encoded(&m, "{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
                       "\"headers\":{\"Set-Cookie\":[\"a=1\",\"b=2\"],\"Content-Type\":"
                       "[\"text/plain\"]},\"header_order\":[0,1,0],\"body\":\"aGk=\","
                       "\"processing_time_ms\":7,\"more\":true}");
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

/* tmsg_encode_to's sink: keeps a copy of the text and answers rc. */
typedef struct sink {
    char *text;
    size_t len, calls;
    int rc;
} sink;

static int sink_text(void *ud, const char *text, size_t len)
{
    sink *k = ud;
    k->calls++;
    assert_int_equal(strlen(text), len); /* NUL-terminated */
    free(k->text);
    k->text = strndup(text, len);
    k->len = len;
    return k->rc;
}

/* tmsg_encode_to hands the sink tmsg_encode's bytes, returns what the sink returned, and calls no
 * sink when encoding fails. */
static void test_encode_to(void **state)
{
    (void)state;
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_RESPONSE);
    m.request_id = "r";
    m.status_code = 200;
    assert_int_equal(http_headers_add(&m.headers, "A", 1, "1", 1), 0);
    m.body = (uint8_t *)"hello";
    m.body_len = 5;
    size_t len = 0;
    char *want = tmsg_encode(&m, &len);
    assert_non_null(want);
    sink k = {NULL, 0, 0, 0};
    assert_int_equal(tmsg_encode_to(&m, sink_text, &k), 0);
    assert_int_equal(k.calls, 1);
    assert_int_equal(k.len, len);
    assert_string_equal(k.text, want);
    k.rc = 7;
    assert_int_equal(tmsg_encode_to(&m, sink_text, &k), 7);
    http_headers_free(&m.headers);
    tmsg_init(&m, TMSG_UNKNOWN);
    assert_int_equal(tmsg_encode_to(&m, sink_text, &k), -1);
    assert_int_equal(k.calls, 2);
    free(k.text);
    free(want);
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
    assert_string_equal(d.headers.v[2].value, "caf\xe9"); /* octets unchanged ({"b64":...}) */
    assert_string_equal(d.headers.v[3].name, "cookie");   /* in its place, as spelled */
    assert_string_equal(d.headers.v[3].value, "b=2");
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

/* Access control in the handshake: ready's access (any JSON value, kept as text for
 * lib/access to judge), connection_established's access_applied (docs/protocol.md §1.2). */
static void test_access_handshake(void **state)
{
    (void)state;
    tmsg m;
    const char *err;
    assert_int_equal(dec("{\"type\":\"ready\",\"access\":{\"basic_auth\":\"a:b\",\"allow_cidr\":"
                         "[\"10.0.0.0/8\"],\"rate_limit\":{\"requests\":5,\"per_sec\":60}}}",
                         &m, &err),
                     0);
    assert_string_equal(m.access, "{\"basic_auth\":\"a:b\",\"allow_cidr\":[\"10.0.0.0/8\"],"
                                  "\"rate_limit\":{\"requests\":5,\"per_sec\":60}}");
    char *s = tmsg_encode(&m, NULL);
    assert_string_equal(s, "{\"type\":\"ready\",\"access\":{\"basic_auth\":\"a:b\",\"allow_cidr\":"
                           "[\"10.0.0.0/8\"],\"rate_limit\":{\"requests\":5,\"per_sec\":60}}}");
    free(s);
    tmsg_free(&m);
    /* not an object: decoded all the same, so that the server can refuse it with a reason */
    assert_int_equal(dec("{\"type\":\"ready\",\"access\":[1]}", &m, &err), 0);
    assert_string_equal(m.access, "[1]");
    tmsg_free(&m);
    assert_int_equal(dec("{\"type\":\"ready\",\"access\":null}", &m, &err), 0);
    assert_null(m.access);
    tmsg_free(&m);
    assert_int_equal(dec("{\"type\":\"connection_established\",\"connection_id\":\"c\","
                         "\"tunnel_id\":\"t\",\"public_url\":\"u\",\"access_applied\":true}",
                         &m, &err),
                     0);
    assert_true(m.access_applied);
    s = tmsg_encode(&m, NULL);
    assert_non_null(strstr(s, ",\"access_applied\":true}"));
    free(s);
    tmsg_free(&m);
    assert_int_equal(dec("{\"type\":\"connection_established\",\"connection_id\":\"c\","
                         "\"tunnel_id\":\"t\",\"public_url\":\"u\"}",
                         &m, &err),
                     0);
    assert_false(m.access_applied);
    s = tmsg_encode(&m, NULL);
    assert_null(strstr(s, "access_applied"));
    free(s);
    tmsg_free(&m);
    expect_bad("{\"type\":\"connection_established\",\"connection_id\":\"c\",\"tunnel_id\":"
               "\"t\",\"public_url\":\"u\",\"access_applied\":\"yes\"}",
               "access_applied");
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
        cmocka_unit_test(test_encode_to),
        cmocka_unit_test(test_roundtrip_chunk_fits_frame),
        cmocka_unit_test(test_roundtrip_request),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_access_handshake),
        cmocka_unit_test(test_naming_handshake),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
