/* SPDX-License-Identifier: MIT */
/* dynamo.c - DynamoDB JSON protocol calls and attribute helpers. */
#include "dynamo.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "clock.h"
#include "json_io.h"

int ddb_target_header(char *out, size_t cap, const char *op)
{
    int n = snprintf(out, cap, "X-Amz-Target: DynamoDB_20120810.%s", op);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

/* "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException" -> the part after '#'. */
static const char *error_type(const json_t *body)
{
    const char *t = json_string_value(json_object_get(body, "__type"));
    if (!t)
        return "";
    const char *h = strrchr(t, '#');
    return h ? h + 1 : t;
}

int ddb_call(ddb *d, const char *op, json_t *req, json_t **out, char *err, size_t errcap)
{
    if (out)
        *out = NULL;
    char target[96];
    if (ddb_target_header(target, sizeof target, op) < 0) {
        snprintf(err, errcap, "bad operation");
        return DDB_ERR;
    }
    size_t plen = 0;
    char *payload = json_io_dump(req, &plen);
    if (!payload) {
        snprintf(err, errcap, "out of memory");
        return DDB_ERR;
    }
    const char *hdrs[] = {"Content-Type: application/x-amz-json-1.0", target, NULL};
    char url[512];
    snprintf(url, sizeof url, "%s/", d->endpoint);
    int rc = DDB_ERR;
    long backoff = 20;
    for (int attempt = 0; attempt < 4; attempt++) {
        aws_resp r;
        if (aws_call(d->http, "POST", url, hdrs, payload, plen, &r, err, errcap) < 0) {
            if (attempt < 3) {
                clock_sleep_ms(backoff);
                backoff *= 3;
                continue;
            }
            break;
        }
        json_t *body = r.len ? json_io_load(r.body, r.len) : json_object();
        if (r.status == 200) {
            if (!body) {
                snprintf(err, errcap, "%s: unparsable response", op);
            } else {
                rc = DDB_OK;
                if (out)
                    *out = body;
                else
                    json_decref(body);
                body = NULL;
            }
            aws_resp_free(&r);
            json_decref(body);
            break;
        }
        const char *type = body ? error_type(body) : "";
        bool retry = r.status >= 500 || strstr(type, "Throttling") ||
                     strstr(type, "ProvisionedThroughputExceeded") ||
                     strstr(type, "RequestLimitExceeded");
        if (strcmp(type, "ConditionalCheckFailedException") == 0) {
            rc = DDB_CONDITION;
            snprintf(err, errcap, "%s: condition failed", op);
            retry = false;
        } else {
            const char *msg = body ? json_string_value(json_object_get(body, "message")) : NULL;
            if (!msg && body)
                msg = json_string_value(json_object_get(body, "Message"));
            snprintf(err, errcap, "%s: HTTP %ld %s %s", op, r.status, type, msg ? msg : "");
        }
        json_decref(body);
        aws_resp_free(&r);
        if (!retry || attempt == 3)
            break;
        clock_sleep_ms(backoff);
        backoff *= 3;
    }
    free(payload);
    return rc;
}

json_t *ddb_s(const char *s)
{
    return json_pack("{s:s}", "S", s ? s : "");
}

json_t *ddb_n(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return json_pack("{s:s}", "N", buf);
}

json_t *ddb_b(const uint8_t *p, size_t n)
{
    char *enc = malloc(b64_encoded_len(n) + 1);
    if (!enc)
        return NULL;
    size_t len = n ? b64_encode(p, n, enc) : 0;
    /* base64 is ASCII: no UTF-8 check over up to 128 KB (json_pack's "s" checks) */
    json_t *v = json_pack("{s:o}", "B", json_stringn_nocheck(enc, len));
    free(enc);
    return v;
}

json_t *ddb_bool(int v)
{
    return json_pack("{s:b}", "BOOL", v);
}

json_t *ddb_key_s(const char *name, const char *value)
{
    return json_pack("{s:o}", name, ddb_s(value));
}

const char *ddb_get_s(const json_t *item, const char *name)
{
    return json_string_value(json_object_get(json_object_get(item, name), "S"));
}

int ddb_get_n(const json_t *item, const char *name, int64_t *out)
{
    const char *s = json_string_value(json_object_get(json_object_get(item, name), "N"));
    if (!s)
        return -1;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || (*end && *end != '.'))
        return -1;
    *out = v;
    return 0;
}

int ddb_get_bool(const json_t *item, const char *name, int *out)
{
    json_t *v = json_object_get(json_object_get(item, name), "BOOL");
    if (!json_is_boolean(v))
        return -1;
    *out = json_is_true(v);
    return 0;
}

int ddb_get_b(const json_t *item, const char *name, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    const char *s = json_string_value(json_object_get(json_object_get(item, name), "B"));
    if (!s)
        return -1;
    size_t n = strlen(s);
    if (n == 0)
        return 0;
    uint8_t *buf = malloc(b64_decoded_max(n) + 1);
    if (!buf)
        return -1;
    if (b64_decode(s, n, buf, len) < 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}
