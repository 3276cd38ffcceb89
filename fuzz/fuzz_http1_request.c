/* fuzz_http1_request.c - the request parser over arbitrary bytes fed in arbitrary splits.
 * Byte 0 picks the split size (1..256); the rest is the connection's byte stream. Checks the
 * parser's promises (offsets within the input, a head with method and target) and runs the
 * parsed head through hop-by-hop stripping and serialisation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"
#include "proxy.h"

static void use_head(http1_parser *p)
{
    if (!p->head.method || !p->head.target)
        abort();
    proxy_remove_hop_by_hop(&p->head.headers, p->head.upgrade, p->head.chunked);
    size_t len = 0;
    char *head = http_format_request_head(p->head.method, p->head.target, &p->head.headers, &len);
    if (head && (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4) != 0))
        abort();
    free(head);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] + 1;
    const char *in = (const char *)data + 1;
    size_t len = size - 1, off = 0;
    http1_parser p;
    http1_init(&p, true, 4096);
    int stalls = 0;
    while (off < len) {
        size_t n = len - off < step ? len - off : step;
        size_t used = 0;
        http1_event ev = http1_execute(&p, in + off, n, &used);
        if (used > n)
            abort();
        off += used;
        if (ev == HTTP1_ERROR)
            break;
        if (ev == HTTP1_HEAD)
            use_head(&p);
        if (ev == HTTP1_MSG_END && p.head.upgrade)
            break; /* the rest is another protocol */
        /* Events with nothing consumed are fine; an endless run of them is not. */
        stalls = used ? 0 : stalls + 1;
        if (stalls > 4)
            abort();
    }
    http1_finish(&p);
    http1_free(&p);
    return 0;
}
