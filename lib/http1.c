/* SPDX-License-Identifier: MIT */
/* http1.c - the incremental message parser over http1_head and http1_body (see http1.h). */
#include "http1.h"

#include <stdlib.h>
#include <string.h>

#define KEEP_BUF ((size_t)4096) /* a partial-head buffer larger than this is freed after use */

void http1_init_limits(http1_parser *p, bool is_request, const http1_limits *lim)
{
    memset(p, 0, sizeof *p);
    if (lim)
        p->lim = *lim;
    if (!p->lim.max_head)
        p->lim.max_head = HTTP1_DEFAULT_MAX_HEAD;
    if (p->lim.max_head > HTTP1_MAX_MAX_HEAD)
        p->lim.max_head = HTTP1_MAX_MAX_HEAD;
    if (!p->lim.max_fields)
        p->lim.max_fields = HTTP1_DEFAULT_MAX_FIELDS;
    p->is_request = is_request;
    http1_head_init(&p->head);
    http1_body_init(&p->body, HTTP1_FRAMING_NONE, 0, &p->lim);
}

void http1_init(http1_parser *p, bool is_request, size_t max_head)
{
    http1_limits lim = {.max_head = max_head};
    http1_init_limits(p, is_request, &lim);
}

void http1_free(http1_parser *p)
{
    http1_head_free(&p->head);
    http1_body_free(&p->body);
    free(p->buf);
    p->buf = NULL;
    p->blen = p->bcap = 0;
}

void http1_expect_no_body(http1_parser *p)
{
    p->skip_body = true;
}

bool http1_body_until_close(const http1_parser *p)
{
    return !p->is_request && p->head.status != 0 && p->head.framing == HTTP1_FRAMING_CLOSE;
}

/* The parser's first error is kept (errors are sticky). */
static http1_event fail_with(http1_parser *p, http1_err e)
{
    if (p->err.kind == HTTP1_OK)
        p->err = e;
    return HTTP1_ERROR;
}

static http1_event fail(http1_parser *p, http1_error kind, int status, const char *reason)
{
    return fail_with(p, (http1_err){kind, status, reason});
}

static int keep(http1_parser *p, const char *data, size_t n)
{
    if (p->blen + n > p->bcap) {
        size_t cap = p->bcap ? p->bcap : 1024;
        while (cap < p->blen + n)
            cap *= 2;
        char *b = realloc(p->buf, cap);
        if (!b)
            return -1;
        p->buf = b;
        p->bcap = cap;
    }
    memcpy(p->buf + p->blen, data, n);
    p->blen += n;
    return 0;
}

static void begin_message(http1_parser *p)
{
    if (!p->reset_pending)
        return;
    http1_head_free(&p->head);
    http1_body_free(&p->body);
    http1_body_init(&p->body, HTTP1_FRAMING_NONE, 0, &p->lim);
    p->reset_pending = false;
}

static void message_ended(http1_parser *p)
{
    p->in_body = false;
    p->head_bytes = 0;
    p->reset_pending = true;
    /* A HEAD hint covers one final response; 1xx interim responses keep it. */
    if (!p->is_request && p->head.status >= 200)
        p->skip_body = false;
}

/* Head phase: parse in place when the whole head is in data, else collect it in p->buf. */
static http1_event head_step(http1_parser *p, const char *data, size_t len, size_t *consumed)
{
    size_t max = p->lim.max_head, old = p->blen, end = 0;
    size_t n =
        old == 0 ? (len < max + 1 ? len : max + 1) : (len < max + 1 - old ? len : max + 1 - old);
    const char *buf = data;
    if (old > 0) {
        if (keep(p, data, n) != 0)
            return fail(p, HTTP1_ERR_NOMEM, 500, "out of memory");
        buf = p->buf;
    }
    http1_err err = {0};
    http1_head_result r =
        http1_head_scan(&p->scan, buf, old + n, &p->lim, p->is_request, &end, &err);
    if (r == HTTP1_HEAD_ERROR)
        return fail_with(p, err);
    if (r == HTTP1_HEAD_AGAIN) {
        if (old == 0 && keep(p, data, n) != 0)
            return fail(p, HTTP1_ERR_NOMEM, 500, "out of memory");
        *consumed = n;
        p->head_bytes = p->blen;
        return HTTP1_NONE;
    }
    r = http1_head_parse(&p->head, buf, end, p->is_request, &p->lim, &err);
    *consumed = end - old;
    p->blen = 0;
    p->scan = (http1_scan){0};
    if (p->bcap > KEEP_BUF) {
        free(p->buf);
        p->buf = NULL;
        p->bcap = 0;
    }
    if (r != HTTP1_HEAD_DONE)
        return fail_with(p, err);
    p->head_bytes = end;
    if (!p->is_request && p->skip_body)
        http1_head_set_no_body(&p->head);
    uint64_t cl = p->head.content_length > 0 ? (uint64_t)p->head.content_length : 0;
    http1_body_init(&p->body, p->head.framing, cl, &p->lim);
    p->in_body = true;
    return HTTP1_HEAD;
}

static http1_event body_step(http1_parser *p, const char *data, size_t len, size_t *consumed)
{
    size_t off = 0;
    for (;;) {
        size_t used = 0, dl = 0;
        const char *d = NULL;
        http1_body_result r = http1_body_read(&p->body, data + off, len - off, &used, &d, &dl);
        off += used;
        *consumed = off;
        if (dl && p->on_body)
            p->on_body(p->ud, d, dl);
        if (r == HTTP1_BODY_END) {
            message_ended(p);
            return HTTP1_MSG_END;
        }
        if (r == HTTP1_BODY_ERROR)
            return fail(p, HTTP1_ERR_SYNTAX, p->is_request ? 400 : 502, p->body.reason);
        if (used == 0 || off == len)
            return HTTP1_NONE;
    }
}

http1_event http1_execute(http1_parser *p, const char *data, size_t len, size_t *consumed)
{
    *consumed = 0;
    if (p->err.kind != HTTP1_OK)
        return HTTP1_ERROR;
    if (p->in_body)
        return body_step(p, data, len, consumed);
    begin_message(p);
    if (len == 0)
        return HTTP1_NONE;
    return head_step(p, data, len, consumed);
}

http1_event http1_finish(http1_parser *p)
{
    if (p->err.kind != HTTP1_OK)
        return HTTP1_ERROR;
    if (p->in_body) {
        if (http1_body_eof(&p->body) == HTTP1_BODY_END) {
            message_ended(p);
            return HTTP1_MSG_END;
        }
        return fail(p, HTTP1_ERR_SYNTAX, p->is_request ? 400 : 502, p->body.reason);
    }
    for (size_t i = 0; i < p->blen; i++)
        if (p->buf[i] != '\r' && p->buf[i] != '\n')
            return fail(p, HTTP1_ERR_SYNTAX, p->is_request ? 400 : 502,
                        "connection closed inside a head");
    return HTTP1_NONE;
}
