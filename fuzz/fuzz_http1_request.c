/* SPDX-License-Identifier: MIT */
/* fuzz_http1_request.c - the request parser over arbitrary byte streams in arbitrary splits.
 * Byte 0 picks the split size (1..256); the rest is one connection's byte stream.
 * Checks the parser's promises: offsets within the input; a head holds a token method, a target
 * without SP or controls, the framing its fields say, at most one Host; decoded body bytes never
 * exceed the raw body bytes consumed. Every head then goes through the edge's request rules
 * (lib/proxy.h) and serialisation, and what would be forwarded must parse again, strictly, to
 * the same method and target (a relay never emits what it would itself refuse). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"
#include "proxy.h"

static void check_head(const http1_head *h)
{
    if (!h->method || !h->target || !http1_is_token(h->method, strlen(h->method)))
        abort();
    for (const char *t = h->target; *t; t++)
        if ((unsigned char)*t <= ' ' || *t == 0x7f)
            abort();
    if ((h->framing == HTTP1_FRAMING_CHUNKED) != h->chunked ||
        (h->framing == HTTP1_FRAMING_LENGTH) != (h->content_length >= 0) ||
        h->framing == HTTP1_FRAMING_CLOSE)
        abort();
    if (http_headers_count_id(&h->headers, HTTP_H_HOST) > 1)
        abort();
    if (h->form == HTTP1_TARGET_ABSOLUTE && (!h->authority || !h->path || h->path[0] != '/'))
        abort();

    http_headers copy;
    if (http_headers_copy(&copy, &h->headers) != 0)
        return;
    proxy_request rule = {.client_ip = "192.0.2.1",
                          .proto = "https",
                          .authority = h->form == HTTP1_TARGET_ABSOLUTE ? h->authority : NULL,
                          .upgrade = h->upgrade,
                          .body_raw = true,
                          .body_length = -1};
    const char *target = h->path ? h->path : h->target;
    size_t len = 0;
    char *out = proxy_request_headers(&copy, &rule) == 0
                    ? http_format_request_head(h->method, target, &copy, &len)
                    : NULL;
    if (out) {
        http1_head again;
        http1_head_init(&again);
        http1_err err;
        size_t used = 0;
        http1_limits lim = {.max_head = len + 1};
        if (http1_parse_head(&again, out, len, true, &lim, &used, &err) != HTTP1_HEAD_DONE ||
            used != len || strcmp(again.method, h->method) != 0 ||
            strcmp(again.target, target) != 0 || again.framing != h->framing)
            abort();
        http1_head_free(&again);
    }
    free(out);
    http_headers_free(&copy);
}

typedef struct count {
    size_t decoded;
} count;

static void on_body(void *ud, const char *at, size_t len)
{
    (void)at;
    ((count *)ud)->decoded += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] + 1;
    const char *in = (const char *)data + 1;
    size_t len = size - 1, off = 0, body_raw = 0;
    count c = {0};
    http1_parser p;
    http1_init(&p, true, 4096);
    p.on_body = on_body;
    p.ud = &c;
    int stalls = 0;
    while (off < len) {
        size_t n = len - off < step ? len - off : step;
        size_t used = 0;
        bool was_body = p.in_body;
        http1_event ev = http1_execute(&p, in + off, n, &used);
        if (used > n)
            abort();
        if (was_body)
            body_raw += used;
        off += used;
        if (ev == HTTP1_ERROR) {
            if (!p.err.reason ||
                (p.err.status != 400 && p.err.status != 431 && p.err.status != 501 &&
                 p.err.status != 505 && p.err.status != 500))
                abort();
            break;
        }
        if (ev == HTTP1_HEAD)
            check_head(&p.head);
        if (ev == HTTP1_MSG_END && p.head.upgrade)
            break; /* the rest is another protocol */
        /* Events with nothing consumed are fine; an endless run of them is not. */
        stalls = used ? 0 : stalls + 1;
        if (stalls > 4)
            abort();
    }
    http1_finish(&p);
    if (c.decoded > body_raw) /* decoding only ever removes framing */
        abort();
    http1_free(&p);
    return 0;
}
