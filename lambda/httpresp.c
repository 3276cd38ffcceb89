/* SPDX-License-Identifier: MIT */
/* httpresp.c - HTTP API 2.0 response documents. */
#include "httpresp.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64.h"
#include "json_io.h"
#include "proxy.h"
#include "utf8.h"

/* A header value as the HTTP API is given it: a JSON string of the octets when they are UTF-8;
 * else (obs-text, RFC 9110 §5.5) the octets read as ISO-8859-1, each one the character of that
 * number. JSON cannot carry other octets and API Gateway writes header values as UTF-8
 * (docs/serverless.md "Octets that are not UTF-8"): the client gets the same characters. */
static json_t *gateway_value(const char *v, size_t n)
{
    json_t *s = json_stringn(v, n);
    if (s)
        return s;
    size_t o = 0;
    char *u = utf8_from_latin1((const uint8_t *)v, n, &o);
    if (!u)
        return NULL;
    s = json_stringn(u, o);
    free(u);
    return s;
}

/* A header value as stored in the pending table: a JSON string when UTF-8, else
 * {"b64":"..."} (lossless, the wire's octet form, docs/protocol.md §2). */
static json_t *stored_value(const char *v, size_t n)
{
    json_t *s = json_stringn(v, n);
    if (s)
        return s;
    char *b = malloc(b64_encoded_len(n) + 1);
    if (!b)
        return NULL;
    size_t bl = b64_encode((const uint8_t *)v, n, b);
    s = json_stringn(b, bl);
    free(b);
    return s ? json_pack("{s:o}", "b64", s) : NULL;
}

static char *dump(json_t *o, size_t *out_len)
{
    char *s = o ? json_io_dump(o, out_len) : NULL;
    json_decref(o);
    return s;
}

char *httpresp_build(int status, const http_headers *hin, const uint8_t *body, size_t len,
                     size_t *out_len)
{
    /* the response rules of lib/proxy.h; API Gateway frames the (whole, decoded) body itself */
    http_headers copy;
    proxy_response rule = {.status = status, .body_raw = false};
    if (http_headers_copy(&copy, hin) != 0)
        return NULL;
    if (proxy_response_headers(&copy, &rule) != 0) {
        http_headers_free(&copy);
        return NULL;
    }
    const http_headers *h = &copy;
    json_t *o = json_object();
    json_t *hdrs = json_object();
    json_t *cookies = json_array();
    char *enc = malloc(b64_encoded_len(len) + 1);
    if (!o || !hdrs || !cookies || !enc)
        goto fail;
    size_t enc_len = len ? b64_encode(body, len, enc) : 0;
    for (size_t i = 0; i < h->n; i++) {
        const char *name = h->v[i].name;
        json_t *val = gateway_value(h->v[i].value, h->v[i].vlen);
        if (!val)
            goto fail;
        if (strcasecmp(name, "set-cookie") == 0) {
            json_array_append_new(cookies, val);
            continue;
        }
        /* one entry per name whatever its case; repeated values joined with ", " */
        const char *k;
        json_t *v, *found = NULL;
        json_object_foreach(hdrs, k, v)
        {
            if (strcasecmp(k, name) == 0) {
                found = v;
                break;
            }
        }
        if (!found) {
            json_object_set_new(hdrs, name, val);
            continue;
        }
        size_t a = json_string_length(found), b = json_string_length(val);
        char *j = malloc(a + b + 3);
        if (!j) {
            json_decref(val);
            goto fail;
        }
        memcpy(j, json_string_value(found), a);
        memcpy(j + a, ", ", 2);
        memcpy(j + a + 2, json_string_value(val), b);
        json_string_setn(found, j, a + b + 2);
        free(j);
        json_decref(val);
    }
    json_object_set_new(o, "statusCode", json_integer(status));
    json_object_set_new(o, "headers", hdrs);
    hdrs = NULL;
    if (json_array_size(cookies) > 0) {
        json_object_set_new(o, "cookies", cookies);
        cookies = NULL;
    }
    /* base64 is ASCII: no UTF-8 check over up to 5.6 MB */
    json_object_set_new(o, "body", json_stringn_nocheck(enc, enc_len));
    json_object_set_new(o, "isBase64Encoded", json_true());
    free(enc);
    json_decref(cookies);
    http_headers_free(&copy);
    return dump(o, out_len);
fail:
    http_headers_free(&copy);
    free(enc);
    json_decref(o);
    json_decref(hdrs);
    json_decref(cookies);
    return NULL;
}

char *httpresp_text(int status, const char *text, size_t *out_len)
{
    size_t n = strlen(text);
    char *body = malloc(n + 2);
    if (!body)
        return NULL;
    memcpy(body, text, n);
    memcpy(body + n, "\n", 2);
    json_t *o = json_pack("{s:i,s:{s:s,s:s},s:s,s:b}", "statusCode", status, "headers",
                          "content-type", "text/plain; charset=utf-8", "cache-control",
                          EDGE_CACHE_CONTROL, "body", body, "isBase64Encoded", 0);
    free(body);
    const char *after = edge_answer_retry_after(status);
    if (o && after)
        json_object_set_new(json_object_get(o, "headers"), "retry-after", json_string(after));
    return dump(o, out_len);
}

char *httpresp_answer(edge_answer_id id, int *status, size_t *out_len)
{
    const edge_answer *a = edge_answer_of(id);
    *status = a->status;
    return httpresp_text(a->status, a->text, out_len);
}

char *httpresp_headers_to_json(const http_headers *h)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (size_t i = 0; i < h->n; i++) {
        json_t *arr = json_object_get(o, h->v[i].name);
        if (!arr) {
            arr = json_array();
            json_object_set_new(o, h->v[i].name, arr);
        }
        json_t *v = stored_value(h->v[i].value, h->v[i].vlen);
        if (!v || json_array_append_new(arr, v) < 0) {
            json_decref(o);
            return NULL;
        }
    }
    return dump(o, NULL);
}

int httpresp_headers_from_json(const char *text, http_headers *out)
{
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return -1;
    }
    const char *k;
    json_t *arr;
    int rc = 0;
    json_object_foreach(o, k, arr)
    {
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
        {
            const char *s = json_string_value(v);
            size_t n = json_string_length(v);
            uint8_t *dec = NULL;
            json_t *b = json_object_get(v, "b64");
            if (json_is_string(b)) { /* octets that are not UTF-8 */
                size_t bn = json_string_length(b);
                dec = malloc(b64_decoded_max(bn) + 1);
                if (!dec || b64_decode(json_string_value(b), bn, dec, &n) < 0) {
                    free(dec);
                    rc = -1;
                    continue;
                }
                s = (const char *)dec;
            }
            if (s && http_headers_add(out, k, strlen(k), s, n) < 0)
                rc = -1;
            free(dec);
        }
    }
    json_decref(o);
    return rc;
}
