/* SPDX-License-Identifier: MIT */
/* fake_mgmt.c - the fake @connections API (see fake_mgmt.h). */
#include "fake_mgmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MESSAGE_MAX 128000 /* bytes: API Gateway's WebSocket message quota, decimal reading */

struct fake_mgmt {
    json_t *open;  /* cid -> true */
    json_t *posts; /* cid -> [texts] */
    json_t *calls; /* method -> count */
    unsigned limit, not_ready;
    void (*on_post)(void *ud, const char *cid, const char *text, size_t len);
    void *ud;
    aws_transport tr;
};

static int answer(aws_resp *out, long status, const char *type, const char *msg)
{
    out->status = status;
    if (type) {
        char b[256];
        snprintf(b, sizeof b, "{\"message\":\"%s\"}", msg);
        out->body = strdup(b);
        char h[128];
        snprintf(h, sizeof h, "x-amzn-ErrorType: %s\r\n", type);
        out->hdrs = strdup(h);
    } else {
        out->body = strdup("");
        out->hdrs = strdup("");
    }
    out->len = strlen(out->body);
    out->hlen = strlen(out->hdrs);
    return 0;
}

/* The connection id of ".../@connections/<escaped id>" (percent-decoded into out). */
static int conn_id(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, "/@connections/");
    if (!p)
        return -1;
    p += 14;
    size_t n = 0;
    while (*p && *p != '?' && n + 1 < cap) {
        if (p[0] == '%' && p[1] && p[2]) {
            char hex[3] = {p[1], p[2], 0};
            out[n++] = (char)strtol(hex, NULL, 16);
            p += 3;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return n ? 0 : -1;
}

static int transport_call(void *ud, const char *method, const char *url, const char *const *headers,
                          const void *body, size_t len, aws_resp *out, char *err, size_t errcap)
{
    (void)headers;
    (void)err;
    (void)errcap;
    fake_mgmt *m = ud;
    json_t *cnt = json_object_get(m->calls, method);
    json_object_set_new(m->calls, method, json_integer(cnt ? json_integer_value(cnt) + 1 : 1));
    char cid[256];
    if (conn_id(url, cid, sizeof cid) < 0)
        return answer(out, 404, "NotFoundException", "Not Found");
    bool open = json_is_true(json_object_get(m->open, cid));
    if (strcmp(method, "POST") == 0) {
        if (len > MESSAGE_MAX)
            return answer(out, 413, "PayloadTooLargeException", "message over 128 KiB");
        if (!open)
            return answer(out, 410, "GoneException", "no such connection");
        if (m->not_ready > 0) {
            m->not_ready--;
            return answer(out, 410, "GoneException", "connection not ready");
        }
        if (m->limit > 0) {
            m->limit--;
            return answer(out, 429, "LimitExceededException", "rate exceeded");
        }
        json_t *list = json_object_get(m->posts, cid);
        if (!list) {
            list = json_array();
            json_object_set_new(m->posts, cid, list);
        }
        char *text = malloc(len + 1);
        if (!text)
            return answer(out, 500, "InternalServerError", "out of memory");
        memcpy(text, body, len);
        text[len] = '\0';
        json_array_append_new(list, json_stringn(text, len));
        answer(out, 200, NULL, NULL);
        if (m->on_post)
            m->on_post(m->ud, cid, text, len);
        free(text);
        return 0;
    }
    if (!open)
        return answer(out, 410, "GoneException", "no such connection");
    if (strcmp(method, "DELETE") == 0) {
        json_object_del(m->open, cid);
        return answer(out, 204, NULL, NULL);
    }
    if (strcmp(method, "GET") == 0)
        return answer(out, 200, NULL, NULL);
    return answer(out, 405, "MethodNotAllowed", "method");
}

fake_mgmt *fake_mgmt_new(void)
{
    fake_mgmt *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->open = json_object();
    m->posts = json_object();
    m->calls = json_object();
    m->tr.call = transport_call;
    m->tr.ud = m;
    return m;
}

void fake_mgmt_free(fake_mgmt *m)
{
    if (!m)
        return;
    json_decref(m->open);
    json_decref(m->posts);
    json_decref(m->calls);
    free(m);
}

const aws_transport *fake_mgmt_transport(fake_mgmt *m)
{
    return &m->tr;
}

void fake_mgmt_open(fake_mgmt *m, const char *cid)
{
    json_object_set_new(m->open, cid, json_true());
}

void fake_mgmt_close(fake_mgmt *m, const char *cid)
{
    json_object_del(m->open, cid);
}

bool fake_mgmt_is_open(const fake_mgmt *m, const char *cid)
{
    return json_is_true(json_object_get(m->open, cid));
}

void fake_mgmt_limit(fake_mgmt *m, unsigned n)
{
    m->limit = n;
}

void fake_mgmt_not_ready(fake_mgmt *m, unsigned n)
{
    m->not_ready = n;
}

json_t *fake_mgmt_posts(fake_mgmt *m, const char *cid)
{
    json_t *list = json_object_get(m->posts, cid);
    if (!list) {
        list = json_array();
        json_object_set_new(m->posts, cid, list);
    }
    return list;
}

unsigned fake_mgmt_calls(const fake_mgmt *m, const char *method)
{
    return (unsigned)json_integer_value(json_object_get(m->calls, method));
}

void fake_mgmt_on_post(fake_mgmt *m,
                       void (*fn)(void *ud, const char *cid, const char *text, size_t len),
                       void *ud)
{
    m->on_post = fn;
    m->ud = ud;
}
