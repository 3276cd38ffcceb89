/* SPDX-License-Identifier: MIT */
/* rand_pool.c - CSPRNG bytes fetched in blocks (see rand_pool.h). */
#include "rand_pool.h"

#include <string.h>

#include <openssl/rand.h>

void rand_pool_init(rand_pool *p)
{
    p->left = 0;
}

int rand_pool_bytes(rand_pool *p, void *out, size_t n)
{
    if (!p || n > RAND_POOL_BYTES)
        return RAND_bytes(out, (int)n) == 1 ? 0 : -1;
    if (p->left < n) {
        if (RAND_bytes(p->buf, RAND_POOL_BYTES) != 1)
            return -1;
        p->left = RAND_POOL_BYTES;
    }
    uint8_t *from = p->buf + RAND_POOL_BYTES - p->left;
    memcpy(out, from, n);
    memset(from, 0, n); /* handed out once: not left readable in the pool */
    p->left -= n;
    return 0;
}
