/* SPDX-License-Identifier: MIT */
/* ratelimit.h - in-memory token buckets, one per key (ttfd: one table per tunnel, keyed by the
 * client's access_rate_key()), for "N requests per S seconds" with a burst of N.
 *
 * Each bucket is the generic cell rate algorithm's one timestamp (the theoretical arrival
 * time, GCRA, ITU-T I.371), which is a token bucket of capacity N refilled at N/S per second: a
 * request passes when the bucket holds a token and takes it. A bucket that has refilled
 * completely is the same as no bucket, so such entries are dropped when the table is full.
 * Memory is bounded: at most max_keys buckets; when the table is full of buckets still in use,
 * new keys share one overflow bucket (a flood of addresses cannot push the others' counts out).
 *
 * Owns: its buckets and their keys. Not thread-safe (one event loop). */
#ifndef TUNNEL_RATELIMIT_H
#define TUNNEL_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct ratelimit ratelimit;

/* requests (>= 1) per per_sec (>= 1) seconds; max_keys >= 1. NULL when out of memory. */
ratelimit *ratelimit_new(uint32_t requests, uint32_t per_sec, size_t max_keys);
void ratelimit_free(ratelimit *rl); /* NULL is allowed */

/* One request from key at now_ms (any monotonic millisecond clock): 0 when it passes (a token
 * is taken), else the milliseconds until one would be there (>= 1). */
int64_t ratelimit_take(ratelimit *rl, const void *key, size_t klen, int64_t now_ms);

/* Buckets held (not counting the overflow bucket). */
size_t ratelimit_keys(const ratelimit *rl);

#endif
