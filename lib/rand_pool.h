/* SPDX-License-Identifier: MIT */
/* rand_pool.h - bytes from OpenSSL's CSPRNG (RAND_bytes) fetched RAND_POOL_BYTES at a time and
 * handed out in small pieces: WebSocket masking keys (RFC 6455 §5.3) and request ids are drawn
 * for every frame or request, and RAND_bytes has a fixed cost per call (locks, a fork check).
 * Each byte is handed out once. Owns: its buffer (inside the struct; no allocation). */
#ifndef TUNNEL_RAND_POOL_H
#define TUNNEL_RAND_POOL_H

#include <stddef.h>
#include <stdint.h>

#define RAND_POOL_BYTES 4096

typedef struct rand_pool {
    uint8_t buf[RAND_POOL_BYTES];
    size_t left; /* unused bytes at the end of buf */
} rand_pool;

void rand_pool_init(rand_pool *p);
/* n fresh random bytes into out; p NULL or n > RAND_POOL_BYTES: straight from RAND_bytes.
 * 0, or -1 when the CSPRNG fails. */
int rand_pool_bytes(rand_pool *p, void *out, size_t n);

#endif
