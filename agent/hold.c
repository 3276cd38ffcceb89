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
    if (e->stalled)
        t->stalled++;
}

bool hold_spend(hold_total *t, hold_entry *e, size_t n)
{
    if (n > e->avail)
        return false;
    e->avail -= n;
    t->avail -= n;
    return true;
}

static void set_want(hold_total *t, hold_entry *e, size_t want)
{
    t->want = t->want - e->want + want;
    e->want = want;
}

void hold_body_done(hold_total *t, hold_entry *e)
{
    if (!e->upload)
        return;
    set_want(t, e, 0);
    e->upload = false;
    t->avail -= e->avail;
    e->avail = 0;
    t->uploads--;
    if (e->stalled)
        t->stalled--;
}

/* Stalled (hold_shed) or live again (its service took some). */
static void set_stalled(hold_total *t, hold_entry *e, bool stalled)
{
    if (e->stalled == stalled)
        return;
    e->stalled = stalled;
    if (stalled)
        set_want(t, e, 0); /* a stalled upload wants nothing */
    if (e->upload)
        t->stalled += stalled ? 1 : (size_t)-1;
}

size_t hold_target(const hold_total *t, size_t normal)
{
    size_t live = t->uploads - t->stalled;
    size_t share = live ? HOLD_BUDGET / live : HOLD_BUDGET;
    if (share > normal)
        share = normal;
    return share < HOLD_WINDOW_MIN ? HOLD_WINDOW_MIN : share;
}

static size_t room_of(const hold_total *t)
{
    size_t out = t->avail + t->held;
    return out < HOLD_BUDGET ? HOLD_BUDGET - out : 0;
}

size_t hold_credit(hold_total *t, hold_entry *e, size_t normal, size_t min)
{
    if (!e->upload)
        return 0;
    size_t target = e->stalled ? HOLD_WINDOW_MIN : hold_target(t, normal);
    size_t have = e->avail + e->held;
    if (have >= target) {
        set_want(t, e, 0);
        return 0;
    }
    size_t n = target - have;
    size_t room = room_of(t);
    size_t floor = have < HOLD_WINDOW_MIN ? HOLD_WINDOW_MIN - have : 0;
    size_t want = 0;
    if (min > target / 4)
        min = target / 4;
    if (n > room) { /* the budget is spent: no more than the floor */
        size_t can = room > floor ? room : floor;
        /* waiting for credit: its service took all it was sent (a stalled one holds some) */
        want = e->stalled || e->held > 0 ? 0 : n - can;
        n = can;
        if (min > HOLD_WINDOW_MIN / 4)
            min = HOLD_WINDOW_MIN / 4;
    }
    set_want(t, e, want);
    if (n == 0 || n < min)
        return 0;
    e->avail += n;
    t->avail += n;
    return n;
}

long hold_scan_in(const hold_total *t, const hold_entry *e, size_t normal)
{
    if (!e->upload || e->stalled)
        return -1;
    if (e->want > 0)
        return 0;
    return hold_target(t, normal) < normal ? (long)HOLD_RETRY_MS : -1;
}

bool hold_note(hold_total *t, hold_entry *e, size_t pending, uint64_t now)
{
    if (pending < e->held || pending == 0) {
        e->moved_ms = now;
        set_stalled(t, e, false);
    }
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
    hold_total *t;
    size_t entry_off;
    uint64_t stall;  /* what has not moved since is stalled */
    uint64_t before; /* only exchanges that have not moved since are failed */
    void *best;
    uint64_t best_ms;
    size_t marked; /* newly marked stalled */
    bool maybe;    /* an exchange holds octets and may be failed at a later look */
} pick;

static void offer(void *ud, const void *key, size_t klen, void *value)
{
    (void)key;
    (void)klen;
    pick *p = ud;
    hold_entry *e = (hold_entry *)((char *)value + p->entry_off);
    if (e->held == 0)
        return;
    if (e->moved_ms <= p->stall && !e->stalled) {
        set_stalled(p->t, e, true);
        p->marked++;
    }
    if (e->moved_ms > p->before)
        p->maybe = true; /* it may stall, or stall long enough, by the next look */
    else if (!p->best || e->moved_ms < p->best_ms) {
        p->best = value;
        p->best_ms = e->moved_ms;
    }
}

size_t hold_shed(hold_total *t, const hmap *m, size_t entry_off, size_t normal,
                 void (*fail)(void *exchange, uint64_t idle_ms, void *ud), void *ud, bool *later)
{
    size_t done = 0;
    *later = false;
    for (;;) {
        uint64_t now = clock_now_ms();
        uint64_t stall = now >= HOLD_STALL_MS ? now - HOLD_STALL_MS : 0;
        /* windowless past the hard bound: whatever moved least recently; else only what stalled;
         * windowed: what stalled for HOLD_SHED_MS */
        uint64_t before = !normal               ? (t->held > HOLD_AGENT_MAX ? now : stall)
                          : now >= HOLD_SHED_MS ? now - HOLD_SHED_MS
                                                : 0;
        pick p = {.t = t, .entry_off = entry_off, .stall = stall, .before = before};
        hmap_each(m, offer, &p);
        done += p.marked;
        /* windowed: only while ttf holds half the budget (credit its senders have not used is
         * not memory: idle clients' credit never fails a stalled upload) */
        bool over =
            normal ? t->want > room_of(t) && t->held >= HOLD_BUDGET / 2 : t->held > HOLD_AGENT;
        if (!over) {
            /* windowed: the live uploads' shares may still grow as others stall */
            *later = normal && p.maybe && (t->want > 0 || hold_target(t, normal) < normal);
            return done;
        }
        if (!p.best) {
            *later = !normal || p.maybe; /* none stalled long enough yet */
            return done;
        }
        fail(p.best, now - p.best_ms, ud);
        done++;
    }
}
