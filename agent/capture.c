/* SPDX-License-Identifier: MIT */
/* capture.c - the inspector's ring of exchanges under a byte budget (see capture.h). */
#include "capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct capture {
    cap_entry *oldest, *newest;
    size_t count;
    size_t used, budget, body_max, max_entries;
    uint64_t next_id, seq, evicted;
    capture_changed_fn changed;
    void *changed_ud;
};

capture *capture_new(size_t budget, size_t body_max, size_t max_entries)
{
    if (budget == 0 || max_entries == 0)
        return NULL;
    capture *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->budget = budget;
    c->body_max = body_max > budget / 4 ? budget / 4 : body_max;
    c->max_entries = max_entries;
    c->next_id = 1;
    return c;
}

static size_t headers_cost(const http_headers *h)
{
    size_t n = h->cap * sizeof(http_header);
    for (size_t i = 0; i < h->n; i++)
        n += h->v[i].nlen + h->v[i].vlen + 2;
    return n;
}

static void body_free(cap_body *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
}

/* method, target and tunnel live in e's own block (capture_begin). */
static void entry_free(cap_entry *e)
{
    free(e->error);
    http_headers_free(&e->req_headers);
    http_headers_free(&e->resp_headers);
    body_free(&e->req_body);
    body_free(&e->resp_body);
    free(e);
}

static void unlink_entry(capture *c, cap_entry *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    e->older = e->newer = NULL;
    c->count--;
    c->used -= e->cost;
    e->cost = 0;
}

/* Takes e out of the ring: freed when finished, detached (bodies dropped) when in progress. */
static void drop(capture *c, cap_entry *e)
{
    unlink_entry(c, e);
    if (e->done) {
        entry_free(e);
        return;
    }
    e->detached = true;
    body_free(&e->req_body);
    body_free(&e->resp_body);
}

static void notify(capture *c, const cap_entry *e)
{
    c->seq++;
    if (e)
        ((cap_entry *)e)->seq = c->seq;
    if (c->changed)
        c->changed(c->changed_ud, e);
}

/* Evicts the oldest entries other than keep until the ring fits its bounds. */
static void enforce(capture *c, const cap_entry *keep)
{
    bool any = false;
    cap_entry *next;
    for (cap_entry *victim = c->oldest;
         victim && (c->used > c->budget || c->count > c->max_entries); victim = next) {
        next = victim->newer;
        if (victim == keep)
            continue; /* keep alone over the budget stays (its bodies are capped) */
        drop(c, victim);
        c->evicted++;
        any = true;
    }
    if (any)
        notify(c, NULL);
}

static void charge(capture *c, cap_entry *e, size_t bytes)
{
    if (e->detached)
        return;
    e->cost += bytes;
    c->used += bytes;
    enforce(c, e);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One block (the entry, then method, target and tunnel) and one copy of the headers (two
 * allocations): an entry is made for every request. */
cap_entry *capture_begin(capture *c, const obs_request *rq, uint64_t replay_of)
{
    const char *method = rq->method ? rq->method : "?", *target = rq->target ? rq->target : "?";
    size_t mlen = strlen(method) + 1, tlen = strlen(target) + 1,
           nlen = rq->tunnel ? strlen(rq->tunnel) + 1 : 0;
    cap_entry *e = calloc(1, sizeof *e + mlen + tlen + nlen);
    if (!e)
        return NULL;
    http_headers_init(&e->req_headers);
    http_headers_init(&e->resp_headers);
    char *p = (char *)(e + 1);
    e->method = memcpy(p, method, mlen);
    e->target = memcpy(p + mlen, target, tlen);
    e->tunnel = rq->tunnel ? memcpy(p + mlen + tlen, rq->tunnel, nlen) : NULL;
    if (rq->headers && http_headers_copy(&e->req_headers, rq->headers) != 0) {
        entry_free(e);
        return NULL;
    }
    const char *mode = rq->mode ? rq->mode : "";
    memcpy(e->mode, mode, strnlen(mode, sizeof e->mode - 1)); /* calloc'd: NUL-terminated */
    e->id = c->next_id++;
    e->start_ms = now_ms();
    e->replay_of = replay_of;
    /* Link as the newest, then charge (which may evict older ones). */
    e->older = c->newest;
    if (c->newest)
        c->newest->newer = e;
    else
        c->oldest = e;
    c->newest = e;
    c->count++;
    charge(c, e,
           sizeof *e + strlen(e->method) + strlen(e->target) + 2 +
               (e->tunnel ? strlen(e->tunnel) + 1 : 0) + headers_cost(&e->req_headers));
    notify(c, e);
    return e;
}

/* Keeps up to body_max bytes; grows the buffer geometrically, within body_max. */
static void body_add(capture *c, cap_entry *e, cap_body *b, const uint8_t *data, size_t len)
{
    b->total += len;
    if (e->detached || b->len >= c->body_max)
        return;
    size_t take = c->body_max - b->len;
    if (take > len)
        take = len;
    if (b->len + take > b->alloc) {
        size_t na = b->alloc ? b->alloc * 2 : 1024;
        while (na < b->len + take)
            na *= 2;
        if (na > c->body_max)
            na = c->body_max;
        uint8_t *p = realloc(b->data, na);
        if (!p)
            return; /* counted, not kept */
        b->data = p;
        charge(c, e, na - b->alloc);
        b->alloc = na;
        if (e->detached)
            return; /* charging evicted it: its bodies are gone */
    }
    memcpy(b->data + b->len, data, take);
    b->len += take;
}

void capture_request_body(capture *c, cap_entry *e, const uint8_t *data, size_t len)
{
    if (e)
        body_add(c, e, &e->req_body, data, len);
}

void capture_response_body(capture *c, cap_entry *e, const uint8_t *data, size_t len)
{
    if (e)
        body_add(c, e, &e->resp_body, data, len);
}

void capture_response_head(capture *c, cap_entry *e, const obs_response *rs)
{
    if (!e)
        return;
    if (rs->interim) {
        if (e->n_interim < CAPTURE_MAX_INTERIM)
            e->interim[e->n_interim++] = rs->status;
    } else {
        e->status = rs->status;
        http_headers_free(&e->resp_headers);
        if (rs->headers && http_headers_copy(&e->resp_headers, rs->headers) != 0)
            http_headers_free(&e->resp_headers);
        charge(c, e, headers_cost(&e->resp_headers));
    }
    if (!e->detached)
        notify(c, e);
}

void capture_end(capture *c, cap_entry *e, const exchange_info *info)
{
    if (!e)
        return;
    e->done = true;
    if (e->detached) {
        entry_free(e);
        return;
    }
    e->head_ms = info->head_ms;
    e->total_ms = info->total_ms;
    e->req_bytes = info->req_bytes;
    e->resp_bytes = info->resp_bytes;
    e->upgraded = info->upgraded;
    if (!e->status && info->status)
        e->status = info->status;
    if (info->error) {
        e->error = strdup(info->error);
        if (e->error)
            charge(c, e, strlen(e->error) + 1);
    }
    notify(c, e);
}

/* ---- the observer ---- */

static void *ob_head(void *ud, const obs_request *rq)
{
    return capture_begin(ud, rq, 0);
}

static void ob_reqb(void *ud, void *x, const uint8_t *d, size_t n)
{
    capture_request_body(ud, x, d, n);
}

static void ob_resph(void *ud, void *x, const obs_response *rs)
{
    capture_response_head(ud, x, rs);
}

static void ob_respb(void *ud, void *x, const uint8_t *d, size_t n)
{
    capture_response_body(ud, x, d, n);
}

static void ob_end(void *ud, void *x, const exchange_info *info)
{
    capture_end(ud, x, info);
}

static const exchange_observer_ops capture_ops = {ob_head, ob_reqb, ob_resph, ob_respb, ob_end};

exchange_observer capture_observer(capture *c)
{
    exchange_observer o = {&capture_ops, c};
    return o;
}

/* ---- queries ---- */

void capture_set_listener(capture *c, capture_changed_fn fn, void *ud)
{
    c->changed = fn;
    c->changed_ud = ud;
}

const cap_entry *capture_find(const capture *c, uint64_t id)
{
    /* Newest first: lookups are mostly for recent entries; the ring is bounded. */
    for (const cap_entry *e = c->newest; e; e = e->older) {
        if (e->id == id)
            return e;
        if (e->id < id)
            break;
    }
    return NULL;
}

const cap_entry *capture_newest(const capture *c)
{
    return c->newest;
}

size_t capture_count(const capture *c)
{
    return c->count;
}

size_t capture_used(const capture *c)
{
    return c->used;
}

size_t capture_budget(const capture *c)
{
    return c->budget;
}

size_t capture_body_max(const capture *c)
{
    return c->body_max;
}

uint64_t capture_seq(const capture *c)
{
    return c->seq;
}

uint64_t capture_evicted(const capture *c)
{
    return c->evicted;
}

void capture_clear(capture *c)
{
    cap_entry *next;
    for (cap_entry *e = c->oldest; e; e = next) {
        next = e->newer;
        drop(c, e);
    }
    notify(c, NULL);
}

void capture_free(capture *c)
{
    if (!c)
        return;
    cap_entry *next;
    for (cap_entry *e = c->oldest; e; e = next) {
        next = e->newer;
        entry_free(e);
    }
    free(c);
}
