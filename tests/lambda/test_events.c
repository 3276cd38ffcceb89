/* SPDX-License-Identifier: MIT */
/* Event classification and field extraction on samples shaped like AWS's documented events. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"

static json_t *load(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", LAMBDA_EVENTS_DIR, name);
    json_error_t je;
    json_t *ev = json_load_file(path, 0, &je);
    if (!ev)
        fail_msg("%s: %s", path, je.text);
    return ev;
}

static void classify(void **state)
{
    (void)state;
    struct {
        const char *file;
        event_kind k;
    } cases[] = {{"ws_connect.json", EV_WS_CONNECT},
                 {"ws_default.json", EV_WS_MESSAGE},
                 {"ws_disconnect.json", EV_WS_DISCONNECT},
                 {"http_v2.json", EV_HTTP},
                 {"http_v2_binary.json", EV_HTTP},
                 {"scheduled.json", EV_SCHEDULED},
                 {"http_v1.json", EV_UNKNOWN}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *ev = load(cases[i].file);
        assert_int_equal(event_classify(ev), cases[i].k);
        json_decref(ev);
    }
    /* not objects, or objects without markers */
    json_t *j = json_loads("[1,2]", 0, NULL);
    assert_int_equal(event_classify(j), EV_UNKNOWN);
    json_decref(j);
    j = json_loads("{\"requestContext\":{\"eventType\":\"CONNECT\"}}", 0, NULL);
    assert_int_equal(event_classify(j), EV_UNKNOWN); /* no connectionId */
    json_decref(j);
    /* an HTTP v2 event also carries routeKey $default: it must not look like a WebSocket one */
    j = json_loads(
        "{\"version\":\"2.0\",\"routeKey\":\"$default\",\"requestContext\":{\"routeKey\":"
        "\"$default\",\"http\":{\"method\":\"GET\"}}}",
        0, NULL);
    assert_int_equal(event_classify(j), EV_HTTP);
    json_decref(j);
    assert_int_equal(event_classify(NULL), EV_UNKNOWN);
    assert_string_equal(event_kind_name(EV_HTTP), "http");
}

static void connect_fields(void **state)
{
    (void)state;
    json_t *ev = load("ws_connect.json");
    ws_event we;
    const char *err;
    assert_int_equal(ws_event_parse(ev, &we, &err), 0);
    assert_string_equal(we.connection_id, "WyHPAfymhcwCENw=");
    assert_null(we.body);
    char *p = ws_event_header(ev, "sec-websocket-protocol");
    assert_string_equal(p, "ttf.bin.v1, ttf.json.v1");
    free(p);
    p = ws_event_header(ev, "AUTHORIZATION");
    assert_string_equal(p, "Bearer abc.def.ghi");
    free(p);
    assert_null(ws_event_header(ev, "cookie"));
    assert_string_equal(ws_event_query(ev, "token"), "q.token.value");
    assert_null(ws_event_query(ev, "other"));
    json_decref(ev);

    /* multiValueHeaders with several values are joined; headers alone also work */
    ev = json_loads("{\"multiValueHeaders\":{\"Sec-WebSocket-Protocol\":[\"a\",\"ttf.json.v1\"]},"
                    "\"headers\":{\"X-One\":\"1\"},\"requestContext\":{\"connectionId\":\"c\"}}",
                    0, NULL);
    p = ws_event_header(ev, "Sec-WebSocket-Protocol");
    assert_string_equal(p, "a, ttf.json.v1");
    free(p);
    p = ws_event_header(ev, "x-one");
    assert_string_equal(p, "1");
    free(p);
    json_decref(ev);
}

static void message_fields(void **state)
{
    (void)state;
    json_t *ev = load("ws_default.json");
    ws_event we;
    const char *err;
    assert_int_equal(ws_event_parse(ev, &we, &err), 0);
    assert_string_equal(we.connection_id, "GXLKAfX1FiACHoQ=");
    assert_string_equal(we.body, "{\"type\":\"ready\",\"tunnel_id\":\"abc123def456\"}");
    assert_int_equal(we.body_len, strlen(we.body));
    assert_false(we.body_b64);
    json_decref(ev);
    ev = json_loads("{\"requestContext\":{\"eventType\":\"MESSAGE\"},\"body\":\"x\"}", 0, NULL);
    assert_int_equal(ws_event_parse(ev, &we, &err), -1);
    json_decref(ev);
}

static void http_fields(void **state)
{
    (void)state;
    json_t *ev = load("http_v2.json");
    http_event e;
    const char *err;
    assert_int_equal(http_event_parse(ev, 1024, &e, &err), 0);
    assert_string_equal(e.method, "POST");
    assert_string_equal(e.raw_path, "/abc123def456/my/path");
    assert_string_equal(e.raw_query, "parameter1=value1&parameter1=value2&parameter2=a%20b");
    assert_string_equal(e.source_ip, "192.0.2.1");
    assert_string_equal(http_headers_get(&e.headers, "header2"), "value1,value2");
    assert_string_equal(http_headers_get(&e.headers, "cookie"), "cookie1=one; cookie2=two");
    assert_true(e.time_epoch_ms == 1583348638390LL);
    assert_int_equal(e.body_len, 17);
    assert_memory_equal(e.body, "Hello from Lambda", 17);
    assert_false(e.too_big);
    http_event_free(&e);
    /* over the limit: flagged, not decoded */
    assert_int_equal(http_event_parse(ev, 16, &e, &err), 0);
    assert_true(e.too_big);
    assert_null(e.body);
    http_event_free(&e);
    json_decref(ev);

    ev = load("http_v2_binary.json");
    assert_int_equal(http_event_parse(ev, 4, &e, &err), 0);
    assert_false(e.too_big);
    assert_int_equal(e.body_len, 4);
    assert_memory_equal(e.body, "\x00\x01\xfe\xff", 4);
    assert_string_equal(e.raw_query, "");
    assert_null(http_headers_get(&e.headers, "cookie"));
    http_event_free(&e);
    assert_int_equal(http_event_parse(ev, 3, &e, &err), 0);
    assert_true(e.too_big);
    http_event_free(&e);
    json_decref(ev);

    /* a named stage on the execute-api host prefixes rawPath; on a custom domain it does not */
    ev = json_loads("{\"version\":\"2.0\",\"rawPath\":\"/dev/abc123def456/x\",\"requestContext\":{"
                    "\"stage\":\"dev\",\"domainName\":\"a1b2.execute-api.us-east-1.amazonaws.com\","
                    "\"http\":{\"method\":\"GET\"}}}",
                    0, NULL);
    assert_int_equal(http_event_parse(ev, 100, &e, &err), 0);
    assert_string_equal(e.raw_path, "/abc123def456/x");
    http_event_free(&e);
    json_object_set_new(json_object_get(ev, "requestContext"), "domainName",
                        json_string("tunnel.example.com"));
    assert_int_equal(http_event_parse(ev, 100, &e, &err), 0);
    assert_string_equal(e.raw_path, "/dev/abc123def456/x");
    http_event_free(&e);
    json_object_set_new(json_object_get(ev, "requestContext"), "domainName",
                        json_string("a1b2.execute-api.us-east-1.amazonaws.com"));
    json_object_set_new(ev, "rawPath", json_string("/dev"));
    assert_int_equal(http_event_parse(ev, 100, &e, &err), 0);
    assert_string_equal(e.raw_path, "/");
    http_event_free(&e);
    json_object_set_new(ev, "rawPath", json_string("/devx/y"));
    assert_int_equal(http_event_parse(ev, 100, &e, &err), 0);
    assert_string_equal(e.raw_path, "/devx/y");
    http_event_free(&e);
    json_decref(ev);

    /* bad base64, missing method */
    ev = json_loads(
        "{\"version\":\"2.0\",\"rawPath\":\"/\",\"requestContext\":{\"http\":{\"method\":"
        "\"GET\"}},\"body\":\"!!!!\",\"isBase64Encoded\":true}",
        0, NULL);
    assert_int_equal(http_event_parse(ev, 100, &e, &err), -1);
    http_event_free(&e);
    json_decref(ev);
    ev = json_loads("{\"version\":\"2.0\",\"rawPath\":\"/\",\"requestContext\":{\"http\":{}}}", 0,
                    NULL);
    assert_int_equal(http_event_parse(ev, 100, &e, &err), -1);
    http_event_free(&e);
    json_decref(ev);
}

/* rawPath arrives percent-decoded (docs/serverless.md): what cannot be in a request-target path
 * is encoded again, '%' included; '/' and the other pchar characters stay. */
static void path_encoding(void **state)
{
    (void)state;
    struct {
        const char *in, *out;
    } cases[] = {
        {"/files/a b\xc3\xa9#c.txt", "/files/a%20b%C3%A9%23c.txt"},
        {"/a/b", "/a/b"},
        {"/a%41", "/a%2541"}, /* a '%' in a decoded path was a literal one (%25) */
        {"/x?y", "/x%3Fy"},
        {"/~u/-._!$&'()*+,;=:@", "/~u/-._!$&'()*+,;=:@"},
        {"/\"<>[\\]^`{|}\x7f\x01", "/%22%3C%3E%5B%5C%5D%5E%60%7B%7C%7D%7F%01"},
        {"", ""},
    };
    char *nul = http_path_encode("/a\0b", 4); /* a %00 API Gateway decoded */
    assert_string_equal(nul, "/a%00b");
    free(nul);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = http_path_encode(cases[i].in, strlen(cases[i].in));
        assert_non_null(got);
        assert_string_equal(got, cases[i].out);
        free(got);
    }
    /* and the event reader applies it to rawPath */
    json_t *ev = json_loads("{\"version\":\"2.0\",\"rawPath\":\"/abc123def456/a b\u00e9#\","
                            "\"rawQueryString\":\"q=%20\",\"requestContext\":{\"http\":{"
                            "\"method\":\"GET\"}}}",
                            0, NULL);
    assert_non_null(ev);
    http_event e;
    const char *err = NULL;
    assert_int_equal(http_event_parse(ev, 100, &e, &err), 0);
    assert_string_equal(e.raw_path, "/abc123def456/a%20b%C3%A9%23");
    assert_string_equal(e.raw_query, "q=%20"); /* rawQueryString stays as it came */
    http_event_free(&e);
    json_decref(ev);
}

/* A header value or cookie with a NUL, CR or LF (json "\u0000": jansson's JSON_ALLOW_NUL, as the
 * handler reads events) is a bad request, as ttfd's parser answers it (RFC 9110 §5.5), never a
 * value cut at the NUL for routing and whole for the agent; a tab and obs-text pass. */
static void control_characters_in_fields(void **state)
{
    (void)state;
    static const struct {
        const char *fields;
        int rc;
    } cases[] = {
        {"\"headers\":{\"host\":\"a.t.example\\u0000.evil\"}", -1},
        {"\"headers\":{\"x-a\":\"1\\r\\nX-Evil: 1\"}", -1},
        {"\"headers\":{\"x-a\":\"1\\n\"}", -1},
        {"\"headers\":{\"x-a\":\"a\"},\"cookies\":[\"s=1\",\"t=2\\u0000\"]", -1},
        {"\"cookies\":[\"s=1\\r\\nX: y\"]", -1},
        {"\"headers\":{\"x-a\":\"a\\tb \\u00e9\",\"x-b\":\"\"},\"cookies\":[\"s=1\"]", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"version\":\"2.0\",\"rawPath\":\"/\",\"rawQueryString\":\"\","
                 "\"requestContext\":{\"http\":{\"method\":\"GET\"}},%s}",
                 cases[i].fields);
        json_error_t je;
        json_t *ev = json_loads(text, JSON_ALLOW_NUL, &je);
        if (!ev)
            fail_msg("%s: %s", text, je.text);
        http_event e;
        const char *err = NULL;
        int rc = http_event_parse(ev, 100, &e, &err);
        if (rc != cases[i].rc)
            fail_msg("%s: %d", text, rc);
        http_event_free(&e);
        json_decref(ev);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classify),       cmocka_unit_test(connect_fields),
        cmocka_unit_test(message_fields), cmocka_unit_test(http_fields),
        cmocka_unit_test(path_encoding),  cmocka_unit_test(control_characters_in_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
