/* SPDX-License-Identifier: MIT */
/* The AWS plumbing that needs no network: SigV4 option string and canonical path, DynamoDB
 * attribute values and keys, endpoints and configuration, subprotocol choice, forwarded headers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "apigw_mgmt.h"
#include "aws_http.h"
#include "config.h"
#include "dynamo.h"
#include "http_handler.h"
#include "proxy.h"
#include "store.h"
#include "ready.h"
#include "ws_handlers.h"

static void sigv4_param(void **state)
{
    (void)state;
    char b[64];
    assert_int_equal(aws_sigv4_param(b, sizeof b, "us-east-1", "dynamodb"), 0);
    assert_string_equal(b, "aws:amz:us-east-1:dynamodb");
    assert_int_equal(aws_sigv4_param(b, sizeof b, "eu-west-3", "execute-api"), 0);
    assert_string_equal(b, "aws:amz:eu-west-3:execute-api");
    assert_int_equal(aws_sigv4_param(b, sizeof b, "", "dynamodb"), -1);
    assert_int_equal(aws_sigv4_param(b, sizeof b, "us:east", "dynamodb"), -1);
    assert_int_equal(aws_sigv4_param(b, 10, "us-east-1", "dynamodb"), -1);
}

static void canonical_path(void **state)
{
    (void)state;
    char *cu, *tg;
    assert_int_equal(aws_canonical_split("https://h.example/dev/@connections/Ab%3D", &cu, &tg), 0);
    assert_string_equal(cu, "https://h.example/dev/%40connections/Ab%253D");
    assert_string_equal(tg, "/dev/@connections/Ab%3D");
    free(cu);
    free(tg);
    /* a plain path is its own canonical form */
    assert_int_equal(aws_canonical_split("http://127.0.0.1:8000/", &cu, &tg), 0);
    assert_null(cu);
    assert_null(tg);
    char *e = aws_path_escape("Ab=_-.~/x");
    assert_string_equal(e, "Ab%3D_-.~%2Fx");
    free(e);
    char u[256];
    assert_int_equal(mgmt_url(u, sizeof u, "https://h/prod", "TBBw6eacoAMCLBQ="), 0);
    assert_string_equal(u, "https://h/prod/@connections/TBBw6eacoAMCLBQ%3D");
    char t[96];
    assert_int_equal(ddb_target_header(t, sizeof t, "PutItem"), 0);
    assert_string_equal(t, "X-Amz-Target: DynamoDB_20120810.PutItem");
}

static void attributes(void **state)
{
    (void)state;
    json_t *item = json_object();
    json_object_set_new(item, "s", ddb_s("x"));
    json_object_set_new(item, "n", ddb_n(-1234567890123LL));
    const uint8_t bin[] = {0, 0xff, 'a'};
    json_object_set_new(item, "b", ddb_b(bin, sizeof bin));
    json_object_set_new(item, "t", ddb_bool(1));
    char *s = json_dumps(item, JSON_COMPACT);
    assert_string_equal(s, "{\"s\":{\"S\":\"x\"},\"n\":{\"N\":\"-1234567890123\"},\"b\":{\"B\":"
                           "\"AP9h\"},\"t\":{\"BOOL\":true}}");
    free(s);
    assert_string_equal(ddb_get_s(item, "s"), "x");
    assert_null(ddb_get_s(item, "n"));
    int64_t v;
    assert_int_equal(ddb_get_n(item, "n", &v), 0);
    assert_true(v == -1234567890123LL);
    assert_int_equal(ddb_get_n(item, "s", &v), -1);
    uint8_t *p;
    size_t n;
    assert_int_equal(ddb_get_b(item, "b", &p, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(p, bin, 3);
    free(p);
    assert_int_equal(ddb_get_b(item, "missing", &p, &n), -1);
    int t;
    assert_int_equal(ddb_get_bool(item, "t", &t), 0);
    assert_int_equal(t, 1);
    json_decref(item);
    json_t *k = ddb_key_s("requestId", "r1");
    s = json_dumps(k, JSON_COMPACT);
    assert_string_equal(s, "{\"requestId\":{\"S\":\"r1\"}}");
    free(s);
    json_decref(k);
    char key[64];
    assert_int_equal(store_piece_key(key, sizeof key, "rid", "Ab=", 7), 0);
    assert_string_equal(key, "rid#Ab=#7");
    assert_int_equal(store_owner_key(key, sizeof key, "abc123def456"), 0);
    assert_string_equal(key, "owner#abc123def456");
}

static const char *fake_env(const char *name)
{
    static const char *const kv[][2] = {
        {"AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"},
        {"AWS_REGION", "eu-west-1"},
        {"AWS_ENDPOINT_URL", "http://127.0.0.1:4566/"},
        {"WEBSOCKET_API_ENDPOINT", "wss://abc.execute-api.eu-west-1.amazonaws.com/prod/"},
        {"DOMAIN_NAME", "Tunnel.Test:8443"},
        {"ENABLE_SUBDOMAIN_ROUTING", "FALSE"},
        {"REQUIRE_AUTH", "True"},
        {"REQUEST_TIMEOUT_SECS", "5"},
        {"MAX_WAITING_REQUESTS", "45"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (strcmp(kv[i][0], name) == 0)
            return kv[i][1];
    return NULL;
}

static const char *bad_env(const char *name)
{
    if (strcmp(name, "AWS_LAMBDA_RUNTIME_API") == 0)
        return "x:1";
    if (strcmp(name, "REQUEST_TIMEOUT_SECS") == 0)
        return "30"; /* over the 29 s integration limit */
    return NULL;
}

static const char *too_many_waiting(const char *name)
{
    if (strcmp(name, "MAX_WAITING_REQUESTS") == 0)
        return "5001"; /* the admission item would outgrow DynamoDB's 400 KB */
    return fake_env(name);
}

static void config(void **state)
{
    (void)state;
    lambda_config c;
    char err[128];
    assert_int_equal(config_load(&c, fake_env, err, sizeof err), 0);
    assert_string_equal(c.region, "eu-west-1");
    assert_string_equal(c.ddb_endpoint, "http://127.0.0.1:4566");
    assert_string_equal(c.mgmt_endpoint, "https://abc.execute-api.eu-west-1.amazonaws.com/prod");
    assert_string_equal(c.domain, "Tunnel.Test:8443");
    assert_string_equal(c.route_domain, "tunnel.test");
    assert_false(c.subdomain_routing);
    assert_true(c.require_auth);
    assert_null(c.jwt_secret); /* no insecure default */
    assert_int_equal(c.request_timeout_s, 5);
    assert_int_equal(c.max_body, 4194304);
    assert_int_equal(c.max_waiting, 45);
    assert_string_equal(c.connections_table, "connections");
    config_free(&c);
    assert_int_equal(config_load(&c, too_many_waiting, err, sizeof err), -1);
    assert_non_null(strstr(err, "MAX_WAITING_REQUESTS"));
    config_free(&c);
    assert_int_equal(config_load(&c, bad_env, err, sizeof err), -1);
    config_free(&c);

    char *m = config_mgmt_endpoint("ws://127.0.0.1:5000/dev");
    assert_string_equal(m, "http://127.0.0.1:5000/dev");
    free(m);
    assert_null(config_mgmt_endpoint("ftp://x/y"));
    assert_null(config_mgmt_endpoint(NULL));
    assert_true(config_bool("YES", false));
    assert_false(config_bool("no", true));
    assert_true(config_bool(NULL, true));
}

static void subprotocol_and_urls(void **state)
{
    (void)state;
    assert_string_equal(ws_select_subprotocol("ttf.bin.v1, ttf.json.v1"), "ttf.json.v1");
    assert_string_equal(ws_select_subprotocol("ttf.json.v1"), "ttf.json.v1");
    assert_null(ws_select_subprotocol("ttf.bin.v1"));
    assert_null(ws_select_subprotocol("ttf.json.v10"));
    assert_null(ws_select_subprotocol(NULL));
    lambda_config c = {
        .url_scheme = "https", .domain = "tunnel.example.com", .subdomain_routing = true};
    char pub[512], sub[512], path[512];
    ready_public_urls(&c, "abc123def456", pub, sub, path);
    assert_string_equal(pub, "https://abc123def456.tunnel.example.com");
    assert_string_equal(sub, "https://abc123def456.tunnel.example.com");
    assert_string_equal(path, "https://tunnel.example.com/abc123def456");
    c.subdomain_routing = false;
    ready_public_urls(&c, "abc123def456", pub, sub, path);
    assert_string_equal(pub, "https://tunnel.example.com/abc123def456");
    assert_string_equal(sub, "");
}

static void forward_headers(void **state)
{
    (void)state;
    http_event e = {.method = "POST", .raw_path = "/x", .raw_query = "", .source_ip = "192.0.2.7"};
    http_headers_init(&e.headers);
    const char *hs[][2] = {{"host", "tunnel.example.com"},
                           {"connection", "keep-alive, x-drop"},
                           {"x-drop", "1"},
                           {"transfer-encoding", "chunked"},
                           {"content-length", "999"},
                           {"x-keep", "a,b"}};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        http_headers_add(&e.headers, hs[i][0], strlen(hs[i][0]), hs[i][1], strlen(hs[i][1]));
    uint8_t body[5] = "hello";
    e.body = body;
    e.body_len = 5;
    http_headers out;
    http_headers_init(&out);
    assert_int_equal(http_forward_headers(&e, "/abc123def456", NULL, NULL, &out), 0);
    assert_null(http_headers_get(&out, "connection"));
    assert_null(http_headers_get(&out, "x-drop"));
    assert_null(http_headers_get(&out, "transfer-encoding"));
    assert_string_equal(http_headers_get(&out, "content-length"), "5");
    assert_string_equal(http_headers_get(&out, "x-keep"), "a,b");
    assert_string_equal(http_headers_get(&out, "x-forwarded-for"), "192.0.2.7");
    assert_string_equal(http_headers_get(&out, "x-forwarded-proto"), "https");
    assert_string_equal(http_headers_get(&out, "x-forwarded-host"), "tunnel.example.com");
    assert_string_equal(http_headers_get(&out, "x-forwarded-prefix"), "/abc123def456");
    http_headers_free(&out);
    http_headers_free(&e.headers);

    char rid[PROXY_REQUEST_ID_LEN + 1];
    assert_int_equal(proxy_request_id(rid, NULL), 0);
    assert_int_equal(strlen(rid), 36);
    assert_int_equal(rid[14], '4');
    assert_true(strchr("89ab", rid[19]) != NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sigv4_param),          cmocka_unit_test(canonical_path),
        cmocka_unit_test(attributes),           cmocka_unit_test(config),
        cmocka_unit_test(subprotocol_and_urls), cmocka_unit_test(forward_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
