/* SPDX-License-Identifier: MIT */
/* hmap.h - a small open-addressing hash map from byte-string keys to pointers.
 * The map owns copies of its keys, never the values. Not thread-safe (one event loop). */
#ifndef TUNNEL_HMAP_H
#define TUNNEL_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct hmap hmap;

hmap *hmap_new(void);
void hmap_free(hmap *m); /* frees keys and table; values are the caller's */
/* Inserts or replaces; returns 0, or -1 when out of memory. */
int hmap_put(hmap *m, const void *key, size_t klen, void *value);
void *hmap_get(const hmap *m, const void *key, size_t klen);
/* Removes and returns the value (NULL when absent). */
void *hmap_del(hmap *m, const void *key, size_t klen);
size_t hmap_count(const hmap *m);
/* Calls fn for each entry; fn must not modify the map. key points into the map: valid only
 * until the map changes (a delete may move other entries), so copy what outlives the walk. */
void hmap_each(const hmap *m, void (*fn)(void *ud, const void *key, size_t klen, void *value),
               void *ud);

/* Convenience for uint32 keys (stream ids). */
static inline int hmap_put_u32(hmap *m, uint32_t k, void *v)
{
    return hmap_put(m, &k, sizeof k, v);
}
static inline void *hmap_get_u32(const hmap *m, uint32_t k)
{
    return hmap_get(m, &k, sizeof k);
}
static inline void *hmap_del_u32(hmap *m, uint32_t k)
{
    return hmap_del(m, &k, sizeof k);
}

#endif
