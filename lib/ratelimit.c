/* SPDX-License-Identifier: MIT */
/* ratelimit.c - token buckets as GCRA timestamps (see ratelimit.h).
 * Times are kept in microseconds so that rates like 3 per second stay exact enough. */
#include "ratelimit.h"

#include <stdlib.h>
#include <string.h>

#include "hmap.h"

#define SWEEP_EVERY_US 1000000 /* a full table is swept at most once a second */

typedef struct bucket {
    int64_t tat; /* theoretical arrival time of the next request, us */
} bucket;

struct ratelimit {
    hmap *map;      /* key -> bucket */
    int64_t t_us;   /* emission interval: per_sec / requests, us */
    int64_t tau_us; /* burst tolerance: t * (requests - 1) */
    size_t max_keys;
    bucket overflow;
    int64_t next_sweep;
};

ratelimit *ratelimit_new(uint32_t requests, uint32_t per_sec, size_t max_keys)
{
    if (!requests || !per_sec || !max_keys)
        return NULL;
    ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    rl->map = hmap_new();
    if (!rl->map) {
        free(rl);
        return NULL;
    }
    rl->t_us = (int64_t)per_sec * 1000000 / requests;
    if (rl->t_us < 1)
        rl->t_us = 1;
    rl->tau_us = rl->t_us * ((int64_t)requests - 1);
    rl->max_keys = max_keys;
    return rl;
}

static void free_value(void *ud, const void *key, size_t klen, void *value)
{
    (void)ud;
    (void)key;
    (void)klen;
    free(value);
}

void ratelimit_free(ratelimit *rl)
{
    if (!rl)
        return;
    hmap_each(rl->map, free_value, NULL);
    hmap_free(rl->map);
    free(rl);
}

#define SWEEP_KEY_MAX 64 /* longer keys are never swept (none is: addresses, tunnel ids) */

typedef struct sweep {
    int64_t now;
    uint8_t (*keys)[SWEEP_KEY_MAX]; /* copies of the keys of full buckets (a delete may move the
                                       map's own copies) */
    size_t *lens;
    size_t n, cap;
} sweep;

static void collect_full(void *ud, const void *key, size_t klen, void *value)
{
    sweep *s = ud;
    const bucket *b = value;
    if (b->tat <= s->now && s->n < s->cap && klen <= SWEEP_KEY_MAX) {
        memcpy(s->keys[s->n], key, klen);
        s->lens[s->n++] = klen;
    }
}

/* Drops the buckets that refilled completely (the same as no bucket). */
static void sweep_full(ratelimit *rl, int64_t now)
{
    size_t n = hmap_count(rl->map);
    sweep s = {.now = now, .cap = n};
    s.keys = malloc(n * sizeof *s.keys);
    s.lens = malloc(n * sizeof *s.lens);
    if (s.keys && s.lens) {
        hmap_each(rl->map, collect_full, &s);
        for (size_t i = 0; i < s.n; i++)
            free(hmap_del(rl->map, s.keys[i], s.lens[i]));
    }
    free(s.keys);
    free(s.lens);
}

static bucket *find(ratelimit *rl, const void *key, size_t klen, int64_t now)
{
    bucket *b = hmap_get(rl->map, key, klen);
    if (b)
        return b;
    if (hmap_count(rl->map) >= rl->max_keys && now >= rl->next_sweep) {
        rl->next_sweep = now + SWEEP_EVERY_US;
        sweep_full(rl, now);
    }
    if (hmap_count(rl->map) >= rl->max_keys)
        return &rl->overflow;
    b = calloc(1, sizeof *b);
    if (!b || hmap_put(rl->map, key, klen, b) != 0) {
        free(b);
        return &rl->overflow;
    }
    b->tat = now;
    return b;
}

int64_t ratelimit_take(ratelimit *rl, const void *key, size_t klen, int64_t now_ms)
{
    int64_t now = now_ms * 1000;
    bucket *b = find(rl, key, klen, now);
    int64_t tat = b->tat > now ? b->tat : now;
    int64_t wait = tat - rl->tau_us - now;
    if (wait > 0)
        return (wait + 999) / 1000;
    b->tat = tat + rl->t_us;
    return 0;
}

size_t ratelimit_keys(const ratelimit *rl)
{
    return hmap_count(rl->map);
}
