/* SPDX-License-Identifier: MIT */
/* harness.c - the Lambda's handlers over the fakes (see harness.h). */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64.h"
#include "clock.h"
#include "dispatch.h"
#include "http_handler.h"

static void deliver_later(harness *h)
{
    if (h->delivering || json_array_size(h->later) == 0)
        return;
    h->delivering = true;
    json_t *q = h->later;
    h->later = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(q, i, e)
    {
        json_t *r = harness_agent_send(h, json_string_value(json_array_get(e, 0)),
                                       json_string_value(json_array_get(e, 1)));
        json_decref(r);
    }
    json_decref(q);
    h->delivering = false;
}

/* A request item's key (no '#': pieces and other items have one). */
static bool request_key(const json_t *key)
{
    const char *k = json_string_value(json_object_get(json_object_get(key, "requestId"), "S"));
    return k && !strchr(k, '#');
}

/* Before each DynamoDB call: the HTTP function reading its request item (GetItem, or the
 * waiter's BatchGetItem of the item and its pieces) is "waiting". */
static void on_db_call(void *ud, const char *op, const json_t *req)
{
    harness *h = ud;
    if (h->meanwhile)
        h->meanwhile(h, op, h->meanwhile_ud);
    const char *table = json_string_value(json_object_get(req, "TableName"));
    bool waiting = strcmp(op, "GetItem") == 0 && table && strcmp(table, H_PEND_TABLE) == 0 &&
                   request_key(json_object_get(req, "Key")) &&
                   !json_object_get(req, "ProjectionExpression");
    json_t *keys = json_object_get(
        json_object_get(json_object_get(req, "RequestItems"), H_PEND_TABLE), "Keys");
    size_t i;
    json_t *k;
    if (strcmp(op, "BatchGetItem") == 0)
        json_array_foreach(keys, i, k) waiting = waiting || request_key(k);
    if (waiting)
        deliver_later(h);
}

static void on_post(void *ud, const char *cid, const char *text, size_t len)
{
    harness *h = ud;
    if (!h->agent)
        return;
    tmsg m;
    const char *err;
    if (tmsg_decode(text, len, &m, &err) < 0)
        return;
    h->agent(h, cid, &m, h->agent_ud);
    tmsg_free(&m);
}

int harness_init(harness *h, const char *const *env)
{
    memset(h, 0, sizeof *h);
    static const char *const defaults[] = {
        "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9",
        "AWS_REGION=us-east-1",
        "AWS_ACCESS_KEY_ID=AKIDTEST",
        "AWS_SECRET_ACCESS_KEY=secret",
        "AWS_ENDPOINT_URL_DYNAMODB=http://fake-dynamodb",
        "WEBSOCKET_API_ENDPOINT=ws://fake-apigw/dev",
        "CONNECTIONS_TABLE_NAME=" H_CONN_TABLE,
        "PENDING_REQUESTS_TABLE_NAME=" H_PEND_TABLE,
        "DOMAIN_NAME=" H_DOMAIN,
        "PUBLIC_URL_SCHEME=https",
        "REQUIRE_AUTH=false",
        "REQUEST_TIMEOUT_SECS=3",
        NULL,
    };
    static const char *const unset[] = {
        "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "JWKS",      "JWKS_PATH",
        "JWT_SECRET",        "MAX_BODY_BYTES",   "LOG_LEVEL", "ENABLE_SUBDOMAIN_ROUTING"};
    for (size_t i = 0; i < sizeof unset / sizeof unset[0]; i++)
        unsetenv(unset[i]);
    for (int pass = 0; pass < 2; pass++) {
        const char *const *list = pass == 0 ? defaults : env;
        for (size_t i = 0; list && list[i]; i++) {
            char kv[512];
            snprintf(kv, sizeof kv, "%s", list[i]);
            char *eq = strchr(kv, '=');
            if (!eq)
                return -1;
            *eq = '\0';
            setenv(kv, eq + 1, 1);
        }
    }
    char err[256];
    if (config_load(&h->cfg, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "harness: config: %s\n", err);
        return -1;
    }
    h->db = fake_ddb_new();
    h->mgmt = fake_mgmt_new();
    h->later = json_array();
    if (!h->db || !h->mgmt || !h->later)
        return -1;
    fake_ddb_add_table(h->db, H_CONN_TABLE, "connectionId");
    fake_ddb_add_gsi(h->db, H_CONN_TABLE, "tunnel-id-index", "tunnelId");
    fake_ddb_add_table(h->db, H_PEND_TABLE, "requestId");
    fake_ddb_on_call(h->db, on_db_call, h);
    fake_mgmt_on_post(h->mgmt, on_post, h);
    aws_client_init_transport(&h->db_http, fake_ddb_transport(h->db));
    aws_client_init_transport(&h->mgmt_http, fake_mgmt_transport(h->mgmt));
    h->dbc.http = &h->db_http;
    h->dbc.endpoint = h->cfg.ddb_endpoint;
    h->logf = open_memstream(&h->logtext, &h->loglen);
    h->log = (tlog){.level = TLOG_DEBUG, .out = h->logf, .json = true, .prog = "bootstrap"};
    lambda_ctx base = {
        .cfg = &h->cfg,
        .log = &h->log,
        .st = {.db = &h->dbc,
               .conn_table = h->cfg.connections_table,
               .pend_table = h->cfg.pending_table},
        .mgmt = {.http = &h->mgmt_http, .endpoint = h->cfg.mgmt_endpoint, .limit_budget_ms = 200},
    };
    h->http = base;
    h->ws = base;
    return h->logf ? 0 : -1;
}

void harness_free(harness *h)
{
    http_routes_free(&h->http); /* the route cache's copies of access policies */
    http_routes_free(&h->ws);
    if (h->logf)
        fclose(h->logf);
    free(h->logtext);
    fake_ddb_free(h->db);
    fake_mgmt_free(h->mgmt);
    json_decref(h->later);
    config_free(&h->cfg);
    memset(h, 0, sizeof *h);
}

int harness_setup(void **state)
{
    harness *h = calloc(1, sizeof *h);
    if (!h || harness_init(h, NULL) < 0) {
        free(h);
        return -1;
    }
    *state = h;
    return 0;
}

int harness_teardown(void **state)
{
    harness_free(*state);
    free(*state);
    return 0;
}

json_t *harness_invoke(harness *h, lambda_ctx *ctx, json_t *event)
{
    char *text = json_dumps(event, JSON_COMPACT);
    json_decref(event);
    if (!text)
        return NULL;
    ctx->deadline_ms = clock_wall_ms() + 30000;
    size_t len = 0;
    const char *etype = NULL;
    char emsg[256] = "";
    char *doc = dispatch_event(ctx, text, strlen(text), &len, &etype, emsg, sizeof emsg);
    free(text);
    dispatch_after(ctx);
    fflush(h->logf);
    if (!doc)
        return NULL;
    json_error_t je;
    json_t *out = json_loadb(doc, len, 0, &je);
    free(doc);
    return out;
}

static json_t *ws_context(harness *h, const char *cid, const char *route, const char *type)
{
    char rid[32];
    snprintf(rid, sizeof rid, "req%u", ++h->events);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "routeKey", route, "eventType", type,
                     "connectionId", cid, "requestId", rid, "stage", "dev", "domainName",
                     "fake-apigw", "requestTimeEpoch", (json_int_t)clock_wall_ms());
}

json_t *ev_connect(harness *h, const char *cid, const char *offer)
{
    json_t *hdrs = json_pack("{s:s}", "Host", "fake-apigw");
    if (offer)
        json_object_set_new(hdrs, "Sec-WebSocket-Protocol", json_string(offer));
    return json_pack("{s:o,s:o,s:b}", "headers", hdrs, "requestContext",
                     ws_context(h, cid, "$connect", "CONNECT"), "isBase64Encoded", 0);
}

json_t *ev_message(harness *h, const char *cid, const char *text)
{
    return json_pack("{s:o,s:s,s:b}", "requestContext", ws_context(h, cid, "$default", "MESSAGE"),
                     "body", text, "isBase64Encoded", 0);
}

json_t *ev_disconnect(harness *h, const char *cid)
{
    return json_pack("{s:o,s:b}", "requestContext", ws_context(h, cid, "$disconnect", "DISCONNECT"),
                     "isBase64Encoded", 0);
}

json_t *ev_http(harness *h, const char *method, const char *host, const char *raw_path,
                const char *query, json_t *headers, const void *body, size_t len)
{
    if (!headers)
        headers = json_object();
    json_object_set_new(headers, "host", json_string(host));
    json_object_set_new(headers, "x-forwarded-for", json_string("203.0.113.7"));
    json_object_set_new(headers, "x-forwarded-proto", json_string("https"));
    json_object_set_new(headers, "x-forwarded-port", json_string("443"));
    char rid[32];
    snprintf(rid, sizeof rid, "http%u", ++h->events);
    json_t *ev = json_pack(
        "{s:s,s:s,s:s,s:s,s:o,s:{s:s,s:s,s:s,s:s,s:I,s:{s:s,s:s,s:s,s:s,s:s}},s:b}", "version",
        "2.0", "routeKey", "$default", "rawPath", raw_path, "rawQueryString", query ? query : "",
        "headers", headers, "requestContext", "apiId", "fakehttp", "domainName", host, "requestId",
        rid, "stage", "$default", "timeEpoch", (json_int_t)clock_wall_ms(), "http", "method",
        method, "path", raw_path, "protocol", "HTTP/1.1", "sourceIp", "203.0.113.7", "userAgent",
        "test", "isBase64Encoded", 1);
    if (len) {
        char *enc = malloc(b64_encoded_len(len) + 1);
        b64_encode(body, len, enc);
        json_object_set_new(ev, "body", json_string(enc));
        free(enc);
    }
    return ev;
}

char *harness_encode(const tmsg *m)
{
    size_t n;
    return tmsg_encode(m, &n);
}

json_t *harness_agent_send(harness *h, const char *cid, const char *text)
{
    return harness_invoke(h, &h->ws, ev_message(h, cid, text));
}

void harness_agent_later(harness *h, const char *cid, const char *text)
{
    json_array_append_new(h->later, json_pack("[s,s]", cid, text));
}

int harness_agent_connect(harness *h, const char *cid, char tid[16])
{
    json_t *r = harness_invoke(h, &h->ws, ev_connect(h, cid, "ttf.bin.v2, ttf.json.v1"));
    int status = (int)json_integer_value(json_object_get(r, "statusCode"));
    json_decref(r);
    if (status != 200)
        return -1;
    fake_mgmt_open(h->mgmt, cid);
    size_t before = json_array_size(fake_mgmt_posts(h->mgmt, cid));
    json_decref(harness_agent_send(h, cid, "{\"type\":\"ready\"}"));
    json_t *posts = fake_mgmt_posts(h->mgmt, cid);
    for (size_t i = before; i < json_array_size(posts); i++) {
        tmsg m;
        const char *err;
        const char *text = json_string_value(json_array_get(posts, i));
        if (tmsg_decode(text, strlen(text), &m, &err) == 0) {
            bool ok =
                m.type == TMSG_CONNECTION_ESTABLISHED && m.tunnel_id && strlen(m.tunnel_id) < 16;
            if (ok)
                snprintf(tid, 16, "%s", m.tunnel_id);
            tmsg_free(&m);
            if (ok)
                return 0;
        }
    }
    return -1;
}

json_t *harness_request(harness *h, const char *tid, const char *method, const char *path,
                        json_t *headers, const void *body, size_t len)
{
    char host[128];
    snprintf(host, sizeof host, "%s.%s", tid, H_DOMAIN);
    const char *q = strchr(path, '?');
    char p[1024];
    snprintf(p, sizeof p, "%.*s", q ? (int)(q - path) : (int)strlen(path), path);
    return harness_invoke(h, &h->http,
                          ev_http(h, method, host, p, q ? q + 1 : "", headers, body, len));
}

unsigned char *harness_body(const json_t *answer, size_t *len)
{
    *len = 0;
    const char *b = json_string_value(json_object_get(answer, "body"));
    if (!b)
        return NULL;
    size_t n = strlen(b);
    unsigned char *out = malloc(n + 1); /* base64 decodes shorter */
    if (json_is_true(json_object_get(answer, "isBase64Encoded"))) {
        if (b64_decode(b, n, out, len) < 0) {
            free(out);
            return NULL;
        }
    } else {
        memcpy(out, b, n);
        *len = n;
    }
    out[*len] = '\0';
    return out;
}

const char *harness_header(const json_t *answer, const char *name)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(answer, "headers"), k, v)
    {
        if (strcasecmp(k, name) == 0)
            return json_string_value(v);
    }
    return NULL;
}

bool harness_log_has(harness *h, const char *a, const char *b)
{
    fflush(h->logf);
    const char *line = h->logtext;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        char *l = strndup(line, n);
        bool all = l && strstr(l, a) && (!b || strstr(l, b));
        free(l);
        if (all)
            return true;
        line = end ? end + 1 : NULL;
    }
    return false;
}
