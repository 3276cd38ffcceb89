/* SPDX-License-Identifier: MIT */
/* spare_list.h - ended objects kept for the next ones, up to a count: a free list, so that a
 * busy connection's streams (ttf's and ttfd's binary mode) or per-exchange arrays (ttf's
 * observer fan-out) cost no malloc and free per request. Intrusive: while an object is a spare,
 * the address of the next spare is kept in it, link_off bytes in (a member of pointer size the
 * owner sets aside; the rest of the object is left as it was). A zeroed spare_list is empty.
 * Owns the objects it keeps: the owner takes each back with spare_take before the list goes
 * (while ((p = spare_take(l, off))) free(p)). */
#ifndef TUNNEL_SPARE_LIST_H
#define TUNNEL_SPARE_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct spare_list {
    void *head; /* the spare kept last */
    unsigned n; /* spares kept */
} spare_list;

/* The spare kept last, now the caller's (as it was when kept, but for its link), or NULL. */
static inline void *spare_take(spare_list *l, size_t link_off)
{
    void *p = l->head;
    if (p) {
        memcpy(&l->head, (char *)p + link_off, sizeof l->head);
        l->n--;
    }
    return p;
}

/* Keeps p when fewer than max are kept (true); else false and p is still the caller's. */
static inline bool spare_keep(spare_list *l, void *p, size_t link_off, unsigned max)
{
    if (l->n >= max)
        return false;
    memcpy((char *)p + link_off, &l->head, sizeof l->head);
    l->head = p;
    l->n++;
    return true;
}

#endif
