/* SPDX-License-Identifier: MIT */
/* hold.c - request body octets held over a session's exchanges (see hold.h). */
#include "hold.h"

#include "clock.h"

void hold_start(hold_entry *e, uint64_t now)
{
    *e = (hold_entry){.moved_ms = now};
}

void hold_window(hold_total *t, hold_entry *e, size_t window)
{
    if (e->upload)
        return;
    e->upload = true;
    e->avail = window;
    t->avail += window;
    t->uploads++;
}

bool hold_spend(hold_total *t, hold_entry *e, size_t n)
{
    if (n > e->avail)
        return false;
    e->avail -= n;
    t->avail -= n;
    return true;
}

void hold_body_done(hold_total *t, hold_entry *e)
{
    if (!e->upload)
        return;
    e->upload = false;
    t->avail -= e->avail;
    e->avail = 0;
    t->uploads--;
}

size_t hold_target(const hold_total *t, size_t normal)
{
    size_t share = t->uploads ? HOLD_BUDGET / t->uploads : HOLD_BUDGET;
    if (share > normal)
        share = normal;
    return share < HOLD_WINDOW_MIN ? HOLD_WINDOW_MIN : share;
}

size_t hold_credit(hold_total *t, hold_entry *e, size_t normal, size_t min)
{
    if (!e->upload)
        return 0;
    size_t target = hold_target(t, normal);
    size_t have = e->avail + e->held;
    if (have >= target)
        return 0;
    size_t n = target - have;
    size_t out = t->avail + t->held;
    size_t room = out < HOLD_BUDGET ? HOLD_BUDGET - out : 0;
    size_t floor = have < HOLD_WINDOW_MIN ? HOLD_WINDOW_MIN - have : 0;
    if (min > target / 4)
        min = target / 4;
    if (n > room) { /* the budget is spent: no more than the floor */
        n = room > floor ? room : floor;
        if (min > HOLD_WINDOW_MIN / 4)
            min = HOLD_WINDOW_MIN / 4;
    }
    if (n == 0 || n < min)
        return 0;
    e->avail += n;
    t->avail += n;
    return n;
}

bool hold_note(hold_total *t, hold_entry *e, size_t pending, uint64_t now)
{
    if (pending < e->held || pending == 0)
        e->moved_ms = now;
    t->held = t->held - e->held + pending;
    e->held = pending;
    return t->held > HOLD_AGENT;
}

void hold_forget(hold_total *t, hold_entry *e)
{
    hold_body_done(t, e);
    t->held -= e->held;
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

bool hold_shed(hold_total *t, const hmap *m, size_t entry_off,
               void (*fail)(void *exchange, uint64_t idle_ms, void *ud), void *ud)
{
    while (t->held > HOLD_AGENT) {
        uint64_t now = clock_now_ms();
        /* past the hard bound, whatever moved least recently; else only what stalled */
        pick p = {.entry_off = entry_off,
                  .before = t->held > HOLD_AGENT_MAX ? now
                            : now >= HOLD_STALL_MS   ? now - HOLD_STALL_MS
                                                     : 0};
        hmap_each(m, offer, &p);
        if (!p.best)
            return false;
        fail(p.best, now - p.best_ms, ud);
    }
    return true;
}
