/* SPDX-License-Identifier: MIT */
/* fuzz_lambda_rewrite.c - libFuzzer target: path-mode content rewriting of agent response bodies
 * (bytes from the agent, over the network). The first byte picks the kind. */
#include <stdint.h>
#include <stdlib.h>

#include "rewrite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    rewrite_kind k = (rewrite_kind)(data[0] % 5);
    uint8_t *out = NULL;
    size_t out_len = 0;
    int r = rewrite_body(k, "abc123def456", data + 1, size - 1, &out, &out_len);
    if (r == 1 && !out)
        abort();
    if (r != 1 && out)
        abort();
    free(out);
    return 0;
}
