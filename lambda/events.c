/* SPDX-License-Identifier: MIT */
/* events.c - event classification and field extraction. */
#include "events.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64.h"
#include "http1_syntax.h"
#include "url.h"

static const char *str_at(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

event_kind event_classify(const json_t *ev)
{
    if (!json_is_object(ev))
        return EV_UNKNOWN;
    const char *src = str_at(ev, "source");
    if (src && strcmp(src, "aws.events") == 0)
        return EV_SCHEDULED;
    const json_t *rc = json_object_get(ev, "requestContext");
    if (!json_is_object(rc))
        return EV_UNKNOWN;
    const char *ver = str_at(ev, "version");
    if (ver && strcmp(ver, "2.0") == 0 && json_is_object(json_object_get(rc, "http")))
        return EV_HTTP;
    const char *et = str_at(rc, "eventType");
    if (et && str_at(rc, "connectionId")) {
        if (strcmp(et, "CONNECT") == 0)
            return EV_WS_CONNECT;
        if (strcmp(et, "MESSAGE") == 0)
            return EV_WS_MESSAGE;
        if (strcmp(et, "DISCONNECT") == 0)
            return EV_WS_DISCONNECT;
    }
    return EV_UNKNOWN;
}

const char *event_kind_name(event_kind k)
{
    switch (k) {
    case EV_WS_CONNECT:
        return "ws_connect";
    case EV_WS_MESSAGE:
        return "ws_message";
    case EV_WS_DISCONNECT:
        return "ws_disconnect";
    case EV_HTTP:
        return "http";
    case EV_SCHEDULED:
        return "scheduled";
    default:
        return "unknown";
    }
}

int ws_event_parse(const json_t *ev, ws_event *out, const char **err)
{
    memset(out, 0, sizeof *out);
    const json_t *rc = json_object_get(ev, "requestContext");
    out->connection_id = str_at(rc, "connectionId");
    const json_t *b = json_object_get(ev, "body");
    if (json_is_string(b)) {
        out->body = json_string_value(b);
        out->body_len = json_string_length(b);
    }
    out->body_b64 = json_is_true(json_object_get(ev, "isBase64Encoded"));
    if (!out->connection_id || !*out->connection_id) {
        *err = "event without requestContext.connectionId";
        return -1;
    }
    return 0;
}

/* Case-insensitive member lookup. */
static const json_t *get_ci(const json_t *o, const char *name)
{
    const char *k;
    const json_t *v;
    if (!json_is_object(o))
        return NULL;
    json_object_foreach((json_t *)o, k, v)
    {
        if (strcasecmp(k, name) == 0)
            return v;
    }
    return NULL;
}

char *ws_event_header(const json_t *ev, const char *name)
{
    const json_t *mv = get_ci(json_object_get(ev, "multiValueHeaders"), name);
    if (json_is_array(mv) && json_array_size(mv) > 0) {
        size_t total = 1, i;
        const json_t *v;
        json_array_foreach(mv, i, v) total += json_string_length(v) + 2;
        char *out = malloc(total);
        if (!out)
            return NULL;
        out[0] = '\0';
        json_array_foreach(mv, i, v)
        {
            if (!json_is_string(v))
                continue;
            if (out[0])
                strcat(out, ", ");
            strcat(out, json_string_value(v));
        }
        return out;
    }
    const char *s = json_string_value(get_ci(json_object_get(ev, "headers"), name));
    return s ? strdup(s) : NULL;
}

const char *ws_event_query(const json_t *ev, const char *name)
{
    return str_at(json_object_get(ev, "queryStringParameters"), name);
}

/* RFC 3986 §3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@", and "/" between
 * segments. '%' is not kept: rawPath arrives decoded, so a '%' in it was a literal one. */
char *http_path_encode(const char *decoded, size_t n)
{
    return url_pct_encode(decoded, n, "-._~!$&'()*+,;=:@/");
}

int http_event_parse(const json_t *ev, size_t max_body, http_event *out, const char **err)
{
    memset(out, 0, sizeof *out);
    http_headers_init(&out->headers);
    const json_t *rc = json_object_get(ev, "requestContext");
    const json_t *http = json_object_get(rc, "http");
    const char *method = str_at(http, "method");
    const json_t *pj = json_object_get(ev, "rawPath");
    if (!json_is_string(pj))
        pj = json_object_get(http, "path");
    const char *path = json_string_value(pj);
    const char *path_end = path ? path + json_string_length(pj) : NULL; /* a %00 decoded is a NUL */
    if (!method || !*method || !path) {
        *err = "event without method or path";
        return -1;
    }
    json_t *te = json_object_get(rc, "timeEpoch");
    if (json_is_integer(te))
        out->time_epoch_ms = (int64_t)json_integer_value(te);
    const char *q = str_at(ev, "rawQueryString");
    const char *ip = str_at(http, "sourceIp");
    /* On the default execute-api host a named stage prefixes the path ("/dev/<id>/x"); a custom
     * domain's API mapping removes it. Routing wants the path without it. */
    const char *stage = str_at(rc, "stage");
    const char *dn = str_at(rc, "domainName");
    if (stage && strcmp(stage, "$default") != 0 && dn && strstr(dn, ".execute-api.") &&
        path[0] == '/') {
        size_t sl = strlen(stage);
        if (sl && strncmp(path + 1, stage, sl) == 0 && (path[1 + sl] == '/' || !path[1 + sl]))
            path += 1 + sl;
    }
    out->method = strdup(method);
    /* The HTTP API hands rawPath over percent-decoded: encoded again so that it can be a
     * request-target ("%2F" arrived as "/" and stays one: docs/serverless.md). */
    out->raw_path = path < path_end ? http_path_encode(path, (size_t)(path_end - path))
                                    : http_path_encode("/", 1);
    out->raw_query = strdup(q ? q : "");
    out->source_ip = ip ? strdup(ip) : NULL;
    if (!out->method || !out->raw_path || !out->raw_query || (ip && !out->source_ip))
        goto nomem;

    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)json_object_get(ev, "headers"), k, v)
    {
        if (!json_is_string(v))
            continue;
        if (http_headers_add(&out->headers, k, strlen(k), json_string_value(v),
                             json_string_length(v)) < 0)
            goto nomem;
    }
    /* Payload 2.0 moves Cookie into cookies[]: fold them back into one header, "; " joined. */
    const json_t *cookies = json_object_get(ev, "cookies");
    if (json_is_array(cookies) && json_array_size(cookies) > 0) {
        size_t total = 1, i;
        json_array_foreach(cookies, i, v) total += json_string_length(v) + 2;
        char *c = malloc(total);
        if (!c)
            goto nomem;
        size_t n = 0;
        json_array_foreach(cookies, i, v)
        {
            if (!json_is_string(v))
                continue;
            if (n) {
                memcpy(c + n, "; ", 2);
                n += 2;
            }
            memcpy(c + n, json_string_value(v), json_string_length(v));
            n += json_string_length(v);
        }
        http_headers_remove(&out->headers, "cookie");
        int r = http_headers_add(&out->headers, "cookie", 6, c, n);
        free(c);
        if (r < 0)
            goto nomem;
    }
    /* a NUL, CR, LF or other control in a value ("\u0000" read with JSON_ALLOW_NUL): ttfd's
     * parser answers 400 (RFC 9110 §5.5), and a value cut at its NUL must not route */
    for (size_t i = 0; i < out->headers.n; i++)
        if (!http1_is_field_value(out->headers.v[i].value, out->headers.v[i].vlen)) {
            *err = "a header field value holding a NUL, CR, LF or another control";
            return -1;
        }

    const json_t *b = json_object_get(ev, "body");
    if (json_is_string(b) && json_string_length(b) > 0) {
        const char *s = json_string_value(b);
        size_t n = json_string_length(b);
        bool is64 = json_is_true(json_object_get(ev, "isBase64Encoded"));
        size_t est = is64 ? n / 4 * 3 : n;
        if (is64 && n >= 2)
            est -= (s[n - 1] == '=') + (s[n - 2] == '=');
        if (est > max_body) {
            out->too_big = true;
            return 0;
        }
        if (is64) {
            out->body = malloc(b64_decoded_max(n) + 1);
            if (!out->body)
                goto nomem;
            if (b64_decode(s, n, out->body, &out->body_len) < 0) {
                *err = "body is not valid base64";
                return -1;
            }
        } else {
            out->body = malloc(n);
            if (!out->body)
                goto nomem;
            memcpy(out->body, s, n);
            out->body_len = n;
        }
    }
    return 0;
nomem:
    *err = "out of memory";
    return -1;
}

void http_event_free(http_event *e)
{
    free(e->method);
    free(e->raw_path);
    free(e->raw_query);
    free(e->source_ip);
    free(e->body);
    http_headers_free(&e->headers);
    memset(e, 0, sizeof *e);
}
