/* SPDX-License-Identifier: MIT */
/* The WebSocket API's route selection expression (infra/websocket.json, the one definition infra/
 * deploys and the stand-in runs) sends every agent message to $default on AWS: API Gateway picks
 * a custom route only when the expression's field holds that route's key, so the field must be
 * one that no message the codec writes carries ("Create routes for WebSocket APIs in API
 * Gateway"). $request.body.type would not do: every message has a type. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "proto_json.h"

/* Every message type, every optional field set: the encoded top-level keys. */
static json_t *encoded(tmsg_type t)
{
    tmsg m;
    tmsg_init(&m, t);
    m.tunnel_id = strdup("abc123def456");
    m.connection_id = strdup("C1=");
    m.public_url = strdup("https://abc123def456.example.com");
    m.subdomain_url = strdup("https://abc123def456.example.com");
    m.path_based_url = strdup("https://example.com/abc123def456");
    m.subdomain = strdup("myapp");
    m.agent_key = strdup("k");
    m.refusal = strdup("name_in_use");
    m.takeover = strdup("00");
    m.max_lifetime_s = 7200;
    m.request_id = strdup("R1");
    m.method = strdup("GET");
    m.uri = strdup("/x");
    m.status_code = 200;
    m.reason = strdup("Fine");
    http_headers_add(&m.headers, "X-A", 3, "b", 1);
    m.body = (uint8_t *)strdup("hi");
    m.body_len = 2;
    m.more = true;
    m.headers_more = t == TMSG_HTTP_REQUEST_HEADERS || t == TMSG_HTTP_RESPONSE_HEADERS;
    m.seq = 1;
    m.timestamp = 1;
    m.processing_time_ms = 1;
    m.ack_of = TMSG_HTTP_RESPONSE_BODY;
    m.code = TERR_LOCAL_UNAVAILABLE;
    m.message = strdup("m");
    if (t == TMSG_HTTP_REQUEST_HEADERS || t == TMSG_HTTP_RESPONSE_HEADERS ||
        t == TMSG_HTTP_REQUEST || t == TMSG_HTTP_RESPONSE) {
        free(m.body); /* continuation messages carry no body */
        m.body = NULL;
        m.body_len = 0;
    }
    size_t n;
    char *text = tmsg_encode(&m, &n);
    tmsg_free(&m);
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return o;
}

/* True when no message carries field at its top level: each one goes to $default. */
static bool all_to_default(const char *field)
{
    /* every type the codec knows (tmsg_type_name names each one): a new one is covered too */
    for (tmsg_type t = TMSG_UNKNOWN + 1; strcmp(tmsg_type_name(t), "unknown") != 0; t++) {
        json_t *o = encoded(t);
        assert_non_null(o);
        bool has = json_object_get(o, field) != NULL;
        json_decref(o);
        if (has)
            return false;
    }
    return true;
}

static void expression_routes_every_message_to_default(void **state)
{
    (void)state;
    json_error_t je;
    json_t *spec = json_load_file(INFRA_DIR "/websocket.json", 0, &je);
    assert_non_null(spec);
    const char *expr = json_string_value(json_object_get(spec, "routeSelectionExpression"));
    assert_non_null(expr);
    const char *prefix = "$request.body.";
    assert_int_equal(strncmp(expr, prefix, strlen(prefix)), 0);
    assert_true(all_to_default(expr + strlen(prefix)));
    /* the routes API Gateway needs, two-way on $default (the acks) */
    json_t *routes = json_object_get(spec, "routes");
    assert_int_equal(json_array_size(routes), 3);
    json_t *two = json_object_get(spec, "twoWayRoutes");
    assert_int_equal(json_array_size(two), 1);
    assert_string_equal(json_string_value(json_array_get(two, 0)), "$default");
    json_decref(spec);
}

static void type_would_not_do(void **state)
{
    (void)state;
    assert_false(all_to_default("type"));
    assert_false(all_to_default("request_id"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(expression_routes_every_message_to_default),
        cmocka_unit_test(type_would_not_do),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
