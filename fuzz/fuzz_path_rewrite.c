/* SPDX-License-Identifier: MIT */
/* fuzz_path_rewrite.c - libFuzzer target: path-mode rewriting of response bodies (bytes from the
 * agent, over the network), lib/path_rewrite.h. Byte 0: the kind (low 3 bits) and a split step
 * (high 5 bits, 1..32). The body is rewritten whole and again fed in pieces of that step: both
 * outputs must be equal (the streaming property), and nothing may stay held back at the end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "path_rewrite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    path_rewrite_kind k = (path_rewrite_kind)(data[0] % 5);
    size_t step = (size_t)(data[0] >> 3) + 1;
    const uint8_t *body = data + 1;
    size_t len = size - 1;
    uint8_t *whole = NULL;
    size_t whole_len = 0;
    int r = path_rewrite_body(k, "abc123def456", body, len, &whole, &whole_len);
    if (r < 0)
        return 0;
    if ((r == 1) != (whole != NULL))
        abort();
    path_rewriter *rw = path_rewriter_new(k, "abc123def456");
    if (!rw) {
        free(whole);
        return 0;
    }
    path_rewrite_buf b = {0};
    for (size_t at = 0;; at += step) {
        size_t n = len - at < step ? len - at : step;
        bool last = at + n >= len;
        if (path_rewriter_feed(rw, body + at, n, last, &b) != 0)
            abort();
        if (last)
            break;
    }
    if (path_rewriter_pending(rw) != 0)
        abort();
    const uint8_t *expect = r == 1 ? whole : body;
    size_t expect_len = r == 1 ? whole_len : len;
    if (b.len != expect_len || (expect_len && memcmp(b.p, expect, expect_len) != 0))
        abort();
    path_rewriter_free(rw);
    path_rewrite_buf_free(&b);
    free(whole);
    return 0;
}
