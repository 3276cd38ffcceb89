/* SPDX-License-Identifier: MIT */
/* hmap.c - open addressing (linear probing, backward-shift deletion) from byte keys to pointers
 * (see hmap.h). The table holds a copy of each key (in the slot up to 8 bytes, else malloc'd);
 * values belong to the caller. */
#include "hmap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Keys up to this many bytes (stream ids) live in the slot itself: no allocation per entry. */
#define HMAP_INLINE_KEY 8

typedef struct slot {
    uint64_t hash;
    void *value;
    size_t klen;
    union {
        void *heap;                         /* klen > HMAP_INLINE_KEY: a malloc'd copy */
        unsigned char inl[HMAP_INLINE_KEY]; /* else the key itself */
    } key;
    bool used;
} slot;

struct hmap {
    slot *slots;
    size_t cap;   /* power of two */
    size_t count; /* used slots */
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

static const void *slot_key(const slot *s)
{
    return s->klen > HMAP_INLINE_KEY ? s->key.heap : s->key.inl;
}

static void slot_free_key(slot *s)
{
    if (s->klen > HMAP_INLINE_KEY)
        free(s->key.heap);
}

/* The slots exist only while the map holds something: an idle tunnel's stream map (one per
 * agent, most of them empty most of the time) costs its 24-byte header only. */
hmap *hmap_new(void)
{
    return calloc(1, sizeof(hmap));
}

void hmap_free(hmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].used)
            slot_free_key(&m->slots[i]);
    }
    free(m->slots);
    free(m);
}

/* Index of the used slot holding key, or (size_t)-1. The table always has an empty slot (load
 * under 3/4), so the probe ends. */
static size_t find(const hmap *m, const void *key, size_t klen, uint64_t h)
{
    if (m->cap == 0)
        return (size_t)-1;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const slot *s = &m->slots[i];
        if (!s->used)
            return (size_t)-1;
        if (s->hash == h && s->klen == klen && (klen == 0 || memcmp(slot_key(s), key, klen) == 0))
            return i;
    }
}

/* Rebuilds the table with new_cap slots. */
static int rehash(hmap *m, size_t new_cap)
{
    slot *ns = calloc(new_cap, sizeof *ns);
    if (!ns)
        return -1;
    size_t mask = new_cap - 1;
    for (size_t i = 0; i < m->cap; i++) {
        slot *s = &m->slots[i];
        if (!s->used)
            continue;
        size_t j = s->hash & mask;
        while (ns[j].used)
            j = (j + 1) & mask;
        ns[j] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = new_cap;
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
    /* Keep the load under 3/4 so probes stay short and end at an empty slot. */
    size_t cap = m->cap ? m->cap : HMAP_INITIAL_CAP;
    while ((m->count + 1) * 4 > cap * 3)
        cap *= 2;
    if (cap != m->cap && rehash(m, cap) != 0)
        return -1;
    slot e = {.hash = h, .value = value, .klen = klen, .used = true};
    if (klen > HMAP_INLINE_KEY) {
        e.key.heap = malloc(klen);
        if (!e.key.heap)
            return -1;
        memcpy(e.key.heap, key, klen);
    } else if (klen) {
        memcpy(e.key.inl, key, klen);
    }
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].used)
        i = (i + 1) & mask;
    m->slots[i] = e;
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
    void *v = m->slots[at].value;
    slot_free_key(&m->slots[at]);
    m->count--;
    if (m->count == 0) {
        free(m->slots);
        m->slots = NULL;
        m->cap = 0;
        return v;
    }
    /* Backward-shift deletion (no tombstones): each later entry of the run moves into the hole
     * when its home slot is not in (hole, its slot], so every probe still reaches it. */
    size_t mask = m->cap - 1, hole = at;
    for (size_t j = (at + 1) & mask; m->slots[j].used; j = (j + 1) & mask) {
        size_t home = m->slots[j].hash & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole] = (slot){.used = false};
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
        if (s->used)
            fn(ud, slot_key(s), s->klen, s->value);
    }
}
