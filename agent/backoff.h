/* SPDX-License-Identifier: MIT */
/* backoff.h - the reconnect schedule: 1 s doubling to 60 s, each delay scaled by a random
 * factor in [0.5, 1.0) (jitter), reset after a healthy session. Pure: the random source is
 * injected so tests can pin it.
 * Owns nothing: the caller's backoff struct holds the whole state. */
#ifndef TTF_BACKOFF_H
#define TTF_BACKOFF_H

#include <stdint.h>

#define BACKOFF_MIN_MS 1000u
#define BACKOFF_MAX_MS 60000u

/* Returns a uniform value in [0, 1). */
typedef double (*backoff_rand_fn)(void *ud);

typedef struct backoff {
    uint32_t base_ms; /* un-jittered delay of the next attempt */
    uint32_t attempt; /* attempts since the last reset */
    backoff_rand_fn rnd;
    void *rnd_ud;
} backoff;

/* rnd NULL: OpenSSL's RAND_bytes. */
void backoff_init(backoff *b, backoff_rand_fn rnd, void *ud);
void backoff_reset(backoff *b);
/* Delay before the next attempt, in ms; advances the schedule. */
uint32_t backoff_next(backoff *b);

#endif
