/* SPDX-License-Identifier: MIT */
/* fuzz_http1_chunked.c - the strict chunked decoder (lib/http1_chunked.h) over arbitrary bytes.
 * Byte 0 picks the split size (1..256), byte 1 the limits (bit 0: small chunk-ext and trailer
 * caps); the rest is a chunked body and whatever follows it.
 * Checks: progress and offsets within the input, decoded spans inside the consumed bytes, an
 * error always with a reason, and for a body that ends: re-framed with the encoder (one chunk
 * per decoded span, the collected trailers) it decodes again to the same payload and trailer
 * fields, ending exactly at its last byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t step = (size_t)data[0] + 1;
    http1_limits lim = {0};
    if (data[1] & 1)
        lim = (http1_limits){.max_chunk_ext = 16, .max_trailer = 64};
    const char *in = (const char *)data + 2;
    size_t len = size - 2, off = 0;
    char *payload = malloc(len + 1), *reframed = malloc(len * 20 + 64);
    size_t plen = 0, rlen = 0;
    http1_chunked c;
    http1_chunked_init(&c, &lim);
    http1_chunked_result r = HTTP1_CHUNKED_MORE;
    while (off < len) {
        size_t n = len - off < step ? len - off : step, used = 0, dl = 0;
        const char *d = NULL;
        r = http1_chunked_decode(&c, in + off, n, &used, &d, &dl);
        if (used > n || (dl && (d < in + off || d + dl > in + off + used)))
            abort();
        if (dl) {
            memcpy(payload + plen, d, dl);
            plen += dl;
            rlen += http1_chunk_prefix(reframed + rlen, dl);
            memcpy(reframed + rlen, d, dl);
            rlen += dl;
            memcpy(reframed + rlen, HTTP1_CHUNK_SUFFIX, 2);
            rlen += 2;
        }
        off += used;
        if (r == HTTP1_CHUNKED_ERROR && !c.reason)
            abort();
        if (r != HTTP1_CHUNKED_MORE)
            break;
        if (used == 0)
            abort(); /* MORE with input left must make progress */
    }
    if (r == HTTP1_CHUNKED_END) {
        http_headers t;
        http_headers_init(&t);
        size_t ll = 0;
        char *last = http1_chunked_trailers(&c, &t) == 0 ? http1_chunk_last(&t, &ll) : NULL;
        if (last && rlen + ll <= len * 20 + 64) {
            memcpy(reframed + rlen, last, ll);
            rlen += ll;
            http1_chunked again;
            http1_limits big = {.max_chunk_ext = 64, .max_trailer = c.max_trailer + 64};
            http1_chunked_init(&again, &big);
            size_t at = 0, got = 0;
            http1_chunked_result r2 = HTTP1_CHUNKED_MORE;
            while (at < rlen && r2 == HTTP1_CHUNKED_MORE) {
                size_t used = 0, dl = 0;
                const char *d = NULL;
                r2 = http1_chunked_decode(&again, reframed + at, rlen - at, &used, &d, &dl);
                if (dl && (got + dl > plen || memcmp(payload + got, d, dl) != 0))
                    abort();
                got += dl;
                at += used;
            }
            if (r2 != HTTP1_CHUNKED_END || at != rlen || got != plen)
                abort();
            /* the same trailer fields (the encoder writes them "Name: value") */
            http_headers t2;
            http_headers_init(&t2);
            if (http1_chunked_trailers(&again, &t2) == 0) {
                if (t2.n != t.n)
                    abort();
                for (size_t i = 0; i < t.n; i++)
                    if (strcmp(t.v[i].name, t2.v[i].name) != 0 ||
                        strcmp(t.v[i].value, t2.v[i].value) != 0)
                        abort();
            }
            http_headers_free(&t2);
            http1_chunked_free(&again);
        }
        free(last);
        http_headers_free(&t);
    }
    http1_chunked_free(&c);
    free(payload);
    free(reframed);
    return 0;
}
