/* SPDX-License-Identifier: MIT */
/* backoff.c - reconnect delays (see backoff.h). */
#include "backoff.h"

#include <openssl/rand.h>

static double default_rand(void *ud)
{
    (void)ud;
    uint32_t r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
        return 0.5;
    return (double)r / 4294967296.0;
}

void backoff_init(backoff *b, backoff_rand_fn rnd, void *ud)
{
    b->rnd = rnd ? rnd : default_rand;
    b->rnd_ud = ud;
    backoff_reset(b);
}

void backoff_reset(backoff *b)
{
    b->base_ms = BACKOFF_MIN_MS;
    b->attempt = 0;
}

uint32_t backoff_next(backoff *b)
{
    double r = b->rnd(b->rnd_ud);
    if (!(r >= 0.0) || r >= 1.0) /* also catches NaN */
        r = 0.0;
    uint32_t d = (uint32_t)((double)b->base_ms * (0.5 + r / 2.0));
    if (d < 1)
        d = 1;
    b->attempt++;
    b->base_ms = b->base_ms >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS : b->base_ms * 2;
    return d;
}
