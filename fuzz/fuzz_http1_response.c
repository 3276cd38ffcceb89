/* fuzz_http1_response.c - the response parser over arbitrary bytes in arbitrary splits, then
 * EOF. Byte 0: bits 0-6 pick the split size (1..128), bit 7 says the request was HEAD.
 * Checks offsets, the body-until-close rule, and that decoded body bytes never exceed the raw
 * bytes consumed in the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

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
        bool was_body = p.in_body;
        http1_event ev = http1_execute(&p, in + off, n, &used);
        if (used > n)
            abort();
        if (was_body)
            body_raw += used;
        off += used;
        if (ev == HTTP1_ERROR)
            break;
        if (ev == HTTP1_HEAD) {
            if (p.head.status < 100 || p.head.status > 999)
                abort();
            if (http1_body_until_close(&p) && (p.head.chunked || p.head.content_length >= 0))
                abort();
            size_t hl = 0;
            char *h = http_format_response_head(p.head.status, NULL, &p.head.headers, &hl);
            free(h);
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
