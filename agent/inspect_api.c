/* SPDX-License-Identifier: MIT */
/* inspect_api.c - the inspector's JSON documents (see inspect_api.h). */
#include "inspect_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64.h"
#include "bodyview.h"

json_t *inspect_json_octets(const char *s, size_t len)
{
    if (body_utf8_prefix((const uint8_t *)s, len) == len)
        return json_stringn(s, len);
    char *enc = malloc(b64_encoded_len(len) + 1);
    if (!enc)
        return NULL;
    b64_encode((const uint8_t *)s, len, enc);
    json_t *o = json_pack("{s:s}", "b64", enc);
    free(enc);
    return o;
}

static json_t *jstr(const char *s)
{
    return s ? inspect_json_octets(s, strlen(s)) : json_null();
}

static json_t *headers_json(const http_headers *h)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < h->n; i++)
        json_array_append_new(a, json_pack("[oo]", jstr(h->v[i].name), jstr(h->v[i].value)));
    return a;
}

static void iso_time(int64_t ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03dZ", (int)(ms % 1000));
}

static const char *state_name(const cap_entry *e)
{
    if (!e->done)
        return "pending";
    return e->error ? "error" : "done";
}

json_t *inspect_json_summary(const cap_entry *e)
{
    char when[40];
    iso_time(e->start_ms, when, sizeof when);
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "id", json_integer((json_int_t)e->id));
    json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "mode", json_string(e->mode));
    json_object_set_new(o, "tunnel", e->tunnel ? json_string(e->tunnel) : json_null());
    json_object_set_new(o, "method", jstr(e->method));
    json_object_set_new(o, "target", jstr(e->target));
    json_object_set_new(o, "status", e->status ? json_integer(e->status) : json_null());
    json_object_set_new(o, "state", json_string(state_name(e)));
    json_object_set_new(o, "error", jstr(e->error));
    json_object_set_new(o, "duration_ms",
                        e->done ? json_integer((json_int_t)e->total_ms) : json_null());
    json_object_set_new(o, "request_bytes", json_integer((json_int_t)e->req_body.total));
    json_object_set_new(o, "response_bytes", json_integer((json_int_t)e->resp_body.total));
    json_object_set_new(o, "replay_of",
                        e->replay_of ? json_integer((json_int_t)e->replay_of) : json_null());
    json_object_set_new(o, "upgraded", json_boolean(e->upgraded));
    return o;
}

static json_t *body_json(const cap_body *b, const http_headers *h)
{
    const char *ct = http_headers_get(h, "Content-Type");
    const char *ce = http_headers_get(h, "Content-Encoding");
    body_view v;
    if (body_view_make(&v, ct, ce, b->data, b->len, cap_body_truncated(b)) != 0)
        return NULL;
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "size", json_integer((json_int_t)b->total));
        json_object_set_new(o, "captured", json_integer((json_int_t)b->len));
        json_object_set_new(o, "truncated", json_boolean(cap_body_truncated(b)));
        json_object_set_new(o, "content_type", jstr(ct));
        json_object_set_new(o, "kind", json_string(body_kind_name(v.kind)));
        if (v.text)
            json_object_set_new(o, "text", json_stringn(v.text, v.text_len));
        if (v.hex)
            json_object_set_new(o, "hex", json_string(v.hex));
        json_object_set_new(o, "note", v.note ? json_string(v.note) : json_null());
    }
    body_view_free(&v);
    return o;
}

json_t *inspect_json_detail(const cap_entry *e)
{
    json_t *o = inspect_json_summary(e);
    if (!o)
        return NULL;
    json_object_set_new(o, "request",
                        json_pack("{s:o,s:o,s:o,s:o}", "method", jstr(e->method), "target",
                                  jstr(e->target), "headers", headers_json(&e->req_headers), "body",
                                  body_json(&e->req_body, &e->req_headers)));
    json_t *interim = json_array();
    for (size_t i = 0; interim && i < e->n_interim; i++)
        json_array_append_new(interim, json_integer(e->interim[i]));
    if (e->status) {
        json_object_set_new(
            o, "response",
            json_pack("{s:i,s:s,s:o,s:o,s:o}", "status", e->status, "reason",
                      http_reason(e->status), "interim", interim, "headers",
                      headers_json(&e->resp_headers), "body",
                      e->upgraded ? json_null() : body_json(&e->resp_body, &e->resp_headers)));
    } else {
        json_decref(interim);
        json_object_set_new(o, "response", json_null());
    }
    json_object_set_new(o, "timing",
                        json_pack("{s:I,s:I}", "head_ms", (json_int_t)e->head_ms, "total_ms",
                                  (json_int_t)e->total_ms));
    return o;
}

json_t *inspect_json_list(const capture *c, uint64_t since, size_t limit)
{
    json_t *a = json_array();
    size_t n = 0;
    for (const cap_entry *e = capture_newest(c); a && e && n < limit; e = e->older) {
        if (e->seq <= since)
            continue;
        json_array_append_new(a, inspect_json_summary(e));
        n++;
    }
    return json_pack("{s:o,s:I,s:I,s:I,s:I,s:I,s:I}", "requests", a, "seq",
                     (json_int_t)capture_seq(c), "count", (json_int_t)capture_count(c), "evicted",
                     (json_int_t)capture_evicted(c), "used_bytes", (json_int_t)capture_used(c),
                     "budget_bytes", (json_int_t)capture_budget(c), "body_max_bytes",
                     (json_int_t)capture_body_max(c));
}

/* ---- replay edits ---- */

static int take_string(json_t *v, const char *what, char **out, char *err, size_t errcap)
{
    if (!json_is_string(v)) {
        snprintf(err, errcap, "%s must be a string", what);
        return -1;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        snprintf(err, errcap, "%s holds a NUL character", what);
        return -1;
    }
    *out = strdup(json_string_value(v));
    return *out ? 0 : -1;
}

int inspect_parse_replay(const char *json, size_t len, replay_edits *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    http_headers_init(&out->headers);
    size_t k = 0;
    while (k < len && (json[k] == ' ' || json[k] == '\n' || json[k] == '\r' || json[k] == '\t'))
        k++;
    if (k == len)
        return 0; /* as captured */
    json_error_t je;
    json_t *doc = json_loadb(json, len, 0, &je);
    if (!doc || !json_is_object(doc)) {
        snprintf(err, errcap, "the body must be a JSON object (%s)",
                 doc ? "not an object" : je.text);
        json_decref(doc);
        return -1;
    }
    int rc = -1;
    json_t *v;
    if ((v = json_object_get(doc, "method")) &&
        take_string(v, "method", &out->method, err, errcap) != 0)
        goto out;
    if ((v = json_object_get(doc, "target")) &&
        take_string(v, "target", &out->target, err, errcap) != 0)
        goto out;
    if ((v = json_object_get(doc, "headers"))) {
        size_t i;
        json_t *pair;
        if (!json_is_array(v)) {
            snprintf(err, errcap, "headers must be an array of [name, value] pairs");
            goto out;
        }
        out->has_headers = true;
        json_array_foreach(v, i, pair)
        {
            json_t *n = json_array_get(pair, 0), *val = json_array_get(pair, 1);
            if (!json_is_array(pair) || json_array_size(pair) != 2 || !json_is_string(n) ||
                !json_is_string(val)) {
                snprintf(err, errcap, "headers[%zu] must be [name, value] (two strings)", i);
                goto out;
            }
            if (http_headers_add(&out->headers, json_string_value(n), json_string_length(n),
                                 json_string_value(val), json_string_length(val)) != 0)
                goto out;
        }
    }
    json_t *b = json_object_get(doc, "body"), *b64 = json_object_get(doc, "body_b64");
    if (b && b64) {
        snprintf(err, errcap, "give body or body_b64, not both");
        goto out;
    }
    if (b) {
        if (!json_is_string(b)) {
            snprintf(err, errcap, "body must be a string");
            goto out;
        }
        out->body_len = json_string_length(b);
        out->body = malloc(out->body_len + 1);
        if (!out->body)
            goto out;
        memcpy(out->body, json_string_value(b), out->body_len);
        out->has_body = true;
    } else if (b64) {
        if (!json_is_string(b64)) {
            snprintf(err, errcap, "body_b64 must be a string");
            goto out;
        }
        size_t n = json_string_length(b64);
        out->body = malloc(b64_decoded_max(n) + 1);
        if (!out->body || b64_decode(json_string_value(b64), n, out->body, &out->body_len) != 0) {
            snprintf(err, errcap, "body_b64 is not valid base64");
            goto out;
        }
        out->has_body = true;
    }
    rc = 0;
out:
    json_decref(doc);
    if (rc != 0) {
        if (!err[0])
            snprintf(err, errcap, "out of memory");
        replay_edits_free(out);
    }
    return rc;
}

void replay_edits_free(replay_edits *e)
{
    free(e->method);
    free(e->target);
    free(e->body);
    http_headers_free(&e->headers);
    memset(e, 0, sizeof *e);
    http_headers_init(&e->headers);
}
