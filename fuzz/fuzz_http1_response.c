/* SPDX-License-Identifier: MIT */
/* fuzz_http1_response.c - the response parser over arbitrary bytes in arbitrary splits, then
 * EOF. Byte 0: bits 0-6 pick the split size (1..128), bit 7 says the request was HEAD.
 * Checks offsets, the status range and framing rules (RFC 9112 §6.3), that decoded body bytes
 * never exceed the raw bytes consumed in the body, and that the head after the response rules
 * of lib/proxy.h serialises into a head that parses again to the same status. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"
#include "proxy.h"

typedef struct count {
    size_t decoded;
} count;

static void on_body(void *ud, const char *at, size_t len)
{
    (void)at;
    ((count *)ud)->decoded += len;
}

static void check_head(const http1_head *h, bool head_request)
{
    if (!proxy_status_valid(h->status) || !h->reason)
        abort();
    if (proxy_bodiless(h->status, head_request) && h->framing != HTTP1_FRAMING_NONE)
        abort();
    if (h->framing == HTTP1_FRAMING_CLOSE && h->keep_alive)
        abort();
    if (h->chunked && h->content_length >= 0)
        abort();
    http_headers copy;
    if (http_headers_copy(&copy, &h->headers) != 0)
        return;
    proxy_response rule = {.status = h->status, .body_raw = true, .upgrade = true};
    size_t len = 0;
    char *out = proxy_response_headers(&copy, &rule) == 0
                    ? http_format_response_head(h->status, h->reason, &copy, &len)
                    : NULL;
    if (out) {
        http1_head again;
        http1_head_init(&again);
        http1_err err;
        size_t used = 0;
        http1_limits lim = {.max_head = len + 1};
        if (http1_parse_head(&again, out, len, false, &lim, &used, &err) != HTTP1_HEAD_DONE ||
            used != len || again.status != h->status)
            abort();
        http1_head_free(&again);
    }
    free(out);
    http_headers_free(&copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)(data[0] & 0x7f) + 1;
    bool head_request = data[0] & 0x80;
    const char *in = (const char *)data + 1;
    size_t len = size - 1, off = 0, body_raw = 0;
    count c = {0};
    http1_parser p;
    http1_init(&p, false, 4096);
    p.on_body = on_body;
    p.ud = &c;
    if (head_request)
        http1_expect_no_body(&p);
    int stalls = 0;
    while (off < len) {
        size_t n = len - off < step ? len - off : step;
        size_t used = 0;
        bool was_body = p.in_body, hint = p.skip_body;
        http1_event ev = http1_execute(&p, in + off, n, &used);
        if (used > n)
            abort();
        if (was_body)
            body_raw += used;
        off += used;
        if (ev == HTTP1_ERROR) {
            if (!p.err.reason ||
                (p.err.status != 502 && p.err.status != 431 && p.err.status != 500))
                abort();
            break;
        }
        if (ev == HTTP1_HEAD) {
            check_head(&p.head, hint);
            if (http1_body_until_close(&p) && (p.head.chunked || p.head.content_length >= 0))
                abort();
        }
        if (ev == HTTP1_MSG_END && p.head.upgrade)
            break;
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
