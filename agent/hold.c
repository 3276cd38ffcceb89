/* SPDX-License-Identifier: MIT */
/* hold.c - request body octets held over a session's exchanges (see hold.h). */
#include "hold.h"

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

void hold_pick_start(hold_pick *p, size_t total, uint64_t now)
{
    p->best = NULL;
    p->best_ud = NULL;
    /* past the hard bound, whatever moved least recently; else only what stalled */
    p->before = total > HOLD_AGENT_MAX ? now : now >= HOLD_STALL_MS ? now - HOLD_STALL_MS : 0;
}

void hold_pick_offer(hold_pick *p, const hold_entry *e, void *ud)
{
    if (e->held > 0 && e->moved_ms <= p->before && (!p->best || e->moved_ms < p->best->moved_ms)) {
        p->best = e;
        p->best_ud = ud;
    }
}
