/* SPDX-License-Identifier: MIT */
/* hold.c - request body octets held over a session's exchanges (see hold.h). */
#include "hold.h"

#include "clock.h"

void hold_start(hold_entry *e, uint64_t now)
{
    e->held = 0;
    e->moved_ms = now;
}

bool hold_note(size_t *total, hold_entry *e, size_t pending, uint64_t now)
{
    if (pending < e->held || pending == 0)
        e->moved_ms = now;
    *total = *total - e->held + pending;
    e->held = pending;
    return *total > HOLD_AGENT;
}

void hold_forget(size_t *total, hold_entry *e)
{
    *total -= e->held;
    e->held = 0;
}

typedef struct pick {
    size_t entry_off;
    uint64_t before; /* only exchanges that have not moved since */
    void *best;
    uint64_t best_ms;
} pick;

static void offer(void *ud, const void *key, size_t klen, void *value)
{
    (void)key;
    (void)klen;
    pick *p = ud;
    const hold_entry *e = (const hold_entry *)((const char *)value + p->entry_off);
    if (e->held > 0 && e->moved_ms <= p->before && (!p->best || e->moved_ms < p->best_ms)) {
        p->best = value;
        p->best_ms = e->moved_ms;
    }
}

bool hold_shed(size_t *total, const hmap *m, size_t entry_off,
               void (*fail)(void *exchange, uint64_t idle_ms, void *ud), void *ud)
{
    while (*total > HOLD_AGENT) {
        uint64_t now = clock_now_ms();
        /* past the hard bound, whatever moved least recently; else only what stalled */
        pick p = {.entry_off = entry_off,
                  .before = *total > HOLD_AGENT_MAX ? now
                            : now >= HOLD_STALL_MS  ? now - HOLD_STALL_MS
                                                    : 0};
        hmap_each(m, offer, &p);
        if (!p.best)
            return false;
        fail(p.best, now - p.best_ms, ud);
    }
    return true;
}
