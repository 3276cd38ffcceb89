/* SPDX-License-Identifier: MIT */
/* httpresp.c - HTTP API 2.0 response documents. */
#include "httpresp.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64.h"
#include "proxy.h"

static char *dump(json_t *o, size_t *out_len)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (s && out_len)
        *out_len = strlen(s);
    return s;
}

/* A header value for the response document: its octets as a JSON string when they are UTF-8,
 * else one ISO-8859-1 character per octet (RFC 9110 §5.5: obs-text was Latin-1; API Gateway, as
 * the stand-in's Node server, writes a header string's characters back as octets). Never
 * NULL for a value that merely is not UTF-8: dropping it lost a whole field
 * (`Content-Disposition: attachment; filename="caf\xe9.txt"`, a `Set-Cookie`). */
static json_t *header_text(const char *val)
{
    json_t *s = json_string(val);
    if (s)
        return s;
    size_t n = strlen(val);
    char *u = malloc(2 * n + 1), *p = u;
    if (!u)
        return NULL;
    for (const unsigned char *q = (const unsigned char *)val; *q; q++) {
        if (*q < 0x80) {
            *p++ = (char)*q;
        } else {
            *p++ = (char)(0xC0 | (*q >> 6));
            *p++ = (char)(0x80 | (*q & 0x3F));
        }
    }
    s = json_stringn(u, (size_t)(p - u));
    free(u);
    return s;
}

/* A stored header value: a JSON string when UTF-8, else {"b64":"..."} (protocol.md's lossless
 * form), so that the octets come back unchanged from DynamoDB. */
static json_t *stored_value(const char *val)
{
    json_t *s = json_string(val);
    if (s)
        return s;
    size_t n = strlen(val);
    char *b = malloc(b64_encoded_len(n) + 1);
    if (!b)
        return NULL;
    b64_encode((const uint8_t *)val, n, b);
    json_t *o = json_pack("{s:s}", "b64", b);
    free(b);
    return o;
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
    if (len)
        b64_encode(body, len, enc);
    else
        enc[0] = '\0';
    for (size_t i = 0; i < h->n; i++) {
        const char *name = h->v[i].name, *val = h->v[i].value;
        if (strcasecmp(name, "set-cookie") == 0) {
            json_array_append_new(cookies, header_text(val));
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
        json_t *text = header_text(val);
        if (!text)
            goto fail;
        if (!found) {
            json_object_set_new(hdrs, name, text);
            continue;
        }
        size_t a = json_string_length(found), b = json_string_length(text);
        char *j = malloc(a + b + 3);
        if (!j) {
            json_decref(text);
            goto fail;
        }
        memcpy(j, json_string_value(found), a);
        memcpy(j + a, ", ", 2);
        memcpy(j + a + 2, json_string_value(text), b + 1);
        json_decref(text);
        json_string_set(found, j);
        free(j);
    }
    json_object_set_new(o, "statusCode", json_integer(status));
    json_object_set_new(o, "headers", hdrs);
    hdrs = NULL;
    if (json_array_size(cookies) > 0) {
        json_object_set_new(o, "cookies", cookies);
        cookies = NULL;
    }
    json_object_set_new(o, "body", json_string(enc));
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
    json_t *o = json_pack("{s:i,s:{s:s},s:s,s:b}", "statusCode", status, "headers", "content-type",
                          "text/plain; charset=utf-8", "body", body, "isBase64Encoded", 0);
    free(body);
    if (o && status == 503) /* a busy tunnel: worth another try soon (RFC 9110 §10.2.3) */
        json_object_set_new(json_object_get(o, "headers"), "retry-after", json_string("1"));
    return dump(o, out_len);
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
        json_array_append_new(arr, stored_value(h->v[i].value));
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
            if (json_is_string(v) && http_headers_add(out, k, strlen(k), json_string_value(v),
                                                      json_string_length(v)) < 0)
                rc = -1;
            json_t *b = json_object_get(v, "b64");
            if (json_is_string(b)) { /* octets that are not UTF-8 (stored_value) */
                size_t n = json_string_length(b), got = 0;
                uint8_t *o = malloc(b64_decoded_max(n) + 1);
                if (!o || b64_decode(json_string_value(b), n, o, &got) != 0 ||
                    http_headers_add(out, k, strlen(k), (const char *)o, got) < 0)
                    rc = -1;
                free(o);
            }
        }
    }
    json_decref(o);
    return rc;
}
