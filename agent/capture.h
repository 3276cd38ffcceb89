/* SPDX-License-Identifier: MIT */
/* capture.h - the inspector's memory: a ring of recent exchanges (heads, bodies, timings) under
 * a byte budget. Fed through the observer interface (capture_observer) by the data path and
 * directly by replay; read by the inspector's API.
 *
 * Bounds: each body keeps at most body_max bytes (the rest is counted, not kept: "truncated");
 * the whole ring (entries, strings, headers, bodies) stays under budget bytes and max_entries
 * entries, the oldest evicted first. An exchange still in progress that gets evicted is
 * "detached": it leaves the ring at once, its bodies are freed, and it is freed at its end.
 * Owns: every entry and its copies of heads and bodies. No I/O, no clock reads except realtime
 * for an entry's start time (so the unit tests drive it directly). */
#ifndef TTF_CAPTURE_H
#define TTF_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1.h"
#include "observer.h"

#define CAPTURE_MAX_INTERIM 4

typedef struct cap_body {
    uint8_t *data;  /* the kept prefix (NULL when nothing kept) */
    size_t len;     /* kept bytes */
    size_t alloc;   /* allocated bytes */
    uint64_t total; /* bytes seen */
} cap_body;

static inline bool cap_body_truncated(const cap_body *b)
{
    return b->total > b->len;
}

typedef struct cap_entry {
    uint64_t id;  /* 1, 2, ... never reused */
    uint64_t seq; /* the ring's change counter at the last change of this entry */
    struct cap_entry *older, *newer;
    int64_t start_ms;      /* wall clock (ms since the epoch) */
    char mode[8];          /* "bin", "json", "replay" */
    char *method, *target; /* in the entry's own allocation */
    char *tunnel; /* the tunnel's name (ttf --config); NULL: the one tunnel; same allocation */
    http_headers req_headers; /* as sent to the local service */
    cap_body req_body;
    int interim[CAPTURE_MAX_INTERIM]; /* 1xx statuses seen before the final one */
    size_t n_interim;
    int status; /* final status; 0 while none */
    http_headers resp_headers;
    cap_body resp_body;
    uint64_t head_ms, total_ms;
    uint64_t req_bytes, resp_bytes; /* as counted by the data path */
    char *error;                    /* NULL, or why it failed */
    uint64_t replay_of;             /* 0, or the id of the entry this one replayed */
    bool done;
    bool upgraded;
    bool detached; /* evicted while in progress */
    size_t cost;   /* bytes charged to the budget */
} cap_entry;

typedef struct capture capture;

/* Called after every change (a new entry, a head, the end, an eviction: e == NULL). */
typedef void (*capture_changed_fn)(void *ud, const cap_entry *e);

/* budget and max_entries > 0; body_max is lowered to budget / 4 when larger. NULL on ENOMEM. */
capture *capture_new(size_t budget, size_t body_max, size_t max_entries);
void capture_free(capture *c); /* also frees entries still in progress: end them first */
void capture_set_listener(capture *c, capture_changed_fn fn, void *ud);

/* The observer that records every exchange into c. */
exchange_observer capture_observer(capture *c);

/* The same steps, for replay (and tests). begin returns NULL on ENOMEM. */
cap_entry *capture_begin(capture *c, const obs_request *rq, uint64_t replay_of);
void capture_request_body(capture *c, cap_entry *e, const uint8_t *data, size_t len);
void capture_response_head(capture *c, cap_entry *e, const obs_response *rs);
void capture_response_body(capture *c, cap_entry *e, const uint8_t *data, size_t len);
void capture_end(capture *c, cap_entry *e, const exchange_info *info);

/* Queries. Entries returned stay valid until the next call that adds bytes or ends. */
const cap_entry *capture_find(const capture *c, uint64_t id);
const cap_entry *capture_newest(const capture *c); /* walk with ->older */
size_t capture_count(const capture *c);
size_t capture_used(const capture *c); /* bytes charged */
size_t capture_budget(const capture *c);
size_t capture_body_max(const capture *c);
uint64_t capture_seq(const capture *c);     /* changes so far */
uint64_t capture_evicted(const capture *c); /* entries evicted so far */
void capture_clear(capture *c);             /* drops every finished entry; detaches the rest */

#endif
