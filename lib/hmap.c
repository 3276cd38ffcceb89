/* SPDX-License-Identifier: MIT */
/* hmap.c - open addressing (linear probing, tombstones) from byte keys to pointers (see hmap.h).
 * The table holds a malloc'd copy of each key; values belong to the caller. */
#include "hmap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { SLOT_EMPTY = 0, SLOT_USED, SLOT_DEAD };

typedef struct slot {
    void *key;
    size_t klen;
    uint64_t hash;
    void *value;
    unsigned char state;
} slot;

struct hmap {
    slot *slots;
    size_t cap;   /* power of two */
    size_t count; /* used slots */
    size_t dead;  /* tombstones */
};

#define HMAP_INITIAL_CAP 16u

/* FNV-1a, then a 64-bit finaliser so small integer keys spread over the low bits. */
static uint64_t hash_bytes(const void *key, size_t n)
{
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

/* The slots exist only while the map holds something: an idle tunnel's stream map (one per
 * agent, most of them empty most of the time) costs its 32-byte header only. */
hmap *hmap_new(void)
{
    return calloc(1, sizeof(hmap));
}

void hmap_free(hmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].state == SLOT_USED)
            free(m->slots[i].key);
    }
    free(m->slots);
    free(m);
}

/* Index of the used slot holding key, or (size_t)-1. */
static size_t find(const hmap *m, const void *key, size_t klen, uint64_t h)
{
    if (m->cap == 0)
        return (size_t)-1;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask, probes = 0; probes < m->cap; i = (i + 1) & mask, probes++) {
        const slot *s = &m->slots[i];
        if (s->state == SLOT_EMPTY)
            return (size_t)-1;
        if (s->state == SLOT_USED && s->hash == h && s->klen == klen &&
            (klen == 0 || memcmp(s->key, key, klen) == 0))
            return i;
    }
    return (size_t)-1;
}

/* Rebuilds the table with new_cap slots, dropping tombstones. */
static int rehash(hmap *m, size_t new_cap)
{
    slot *ns = calloc(new_cap, sizeof *ns);
    if (!ns)
        return -1;
    size_t mask = new_cap - 1;
    for (size_t i = 0; i < m->cap; i++) {
        slot *s = &m->slots[i];
        if (s->state != SLOT_USED)
            continue;
        size_t j = s->hash & mask;
        while (ns[j].state == SLOT_USED)
            j = (j + 1) & mask;
        ns[j] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = new_cap;
    m->dead = 0;
    return 0;
}

int hmap_put(hmap *m, const void *key, size_t klen, void *value)
{
    uint64_t h = hash_bytes(key, klen);
    size_t at = find(m, key, klen, h);
    if (at != (size_t)-1) {
        m->slots[at].value = value;
        return 0;
    }
    if (m->cap == 0 && rehash(m, HMAP_INITIAL_CAP) != 0)
        return -1;
    /* Keep the load (live + tombstones) under 3/4 so probes stay short and terminate. */
    if ((m->count + m->dead + 1) * 4 > m->cap * 3) {
        size_t new_cap = m->cap;
        if ((m->count + 1) * 2 > m->cap)
            new_cap = m->cap * 2;
        if (new_cap < m->cap || rehash(m, new_cap) != 0)
            return -1;
    }
    void *kcopy = malloc(klen ? klen : 1);
    if (!kcopy)
        return -1;
    if (klen)
        memcpy(kcopy, key, klen);
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].state == SLOT_USED)
        i = (i + 1) & mask;
    if (m->slots[i].state == SLOT_DEAD)
        m->dead--;
    m->slots[i] = (slot){.key = kcopy, .klen = klen, .hash = h, .value = value, .state = SLOT_USED};
    m->count++;
    return 0;
}

void *hmap_get(const hmap *m, const void *key, size_t klen)
{
    size_t at = find(m, key, klen, hash_bytes(key, klen));
    return at == (size_t)-1 ? NULL : m->slots[at].value;
}

void *hmap_del(hmap *m, const void *key, size_t klen)
{
    size_t at = find(m, key, klen, hash_bytes(key, klen));
    if (at == (size_t)-1)
        return NULL;
    slot *s = &m->slots[at];
    void *v = s->value;
    free(s->key);
    *s = (slot){.state = SLOT_DEAD};
    m->count--;
    m->dead++;
    if (m->count == 0) {
        free(m->slots);
        m->slots = NULL;
        m->cap = m->dead = 0;
    }
    return v;
}

size_t hmap_count(const hmap *m)
{
    return m ? m->count : 0;
}

void hmap_each(const hmap *m, void (*fn)(void *ud, const void *key, size_t klen, void *value),
               void *ud)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++) {
        const slot *s = &m->slots[i];
        if (s->state == SLOT_USED)
            fn(ud, s->key, s->klen, s->value);
    }
}
