/* SPDX-License-Identifier: MIT */
/* observer.h - the exchange observer: per-exchange callbacks that the data path calls, in order,
 * for every exchange in both wire modes (docs/architecture.md, "Observer"), so the inspector, the
 * terminal view and the log line plug in without touching the forwarding code:
 *
 *   on_request_head   once: method, target and headers as sent to the local service
 *   on_request_body   0..n: decoded request body bytes (no transfer coding)
 *   on_response_head  0..n interim (1xx other than 101), then at most one final head, as received
 *   on_response_body  0..n: decoded response body bytes (never the raw bytes after a 101)
 *   on_end            once: byte counts, timings, error, upgraded
 *
 * The data path drives an observer through an obs_exchange handle (obs_begin ... obs_end): it
 * keeps the order (obs_end without obs_begin reports the head from exchange_info first) and
 * calls on_end exactly once. observer_fanout combines several observers into one.
 * Owns: nothing of the exchange; every pointer passed to a callback is valid during the call only.
 * An observer's per-exchange state (returned by on_request_head, may be NULL) is the observer's
 * to free in on_end. */
#ifndef TTF_OBSERVER_H
#define TTF_OBSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1.h"
#include "log.h"
#include "spare_list.h"

/* The request as the local service gets it. */
typedef struct obs_request {
    const char *mode;            /* "bin", "json" or "replay" */
    const char *id;              /* stream id or request id, as text (may be NULL) */
    const char *method;          /* never NULL in a callback ("?" when unknown) */
    const char *target;          /* request-target as sent; never NULL ("?" when unknown) */
    const http_headers *headers; /* as sent to the local service (may be NULL) */
    const char *tunnel;          /* the tunnel's name (ttf --config); NULL: the one tunnel */
} obs_request;

/* A response head from the local service. */
typedef struct obs_response {
    int status;
    const http_headers *headers; /* as received, before the agent's rewriting (may be NULL) */
    bool interim;                /* 1xx other than 101: more heads follow */
} obs_response;

typedef struct exchange_info {
    const char *mode;                 /* "bin", "json" or "replay" */
    const char *id;                   /* stream id or request id, as text */
    const char *method;               /* request method (NULL when the head was unreadable) */
    const char *target;               /* request target as sent to the local service */
    const http_headers *req_headers;  /* as sent to the local service (may be NULL) */
    int status;                       /* final local response status; 0 when none came */
    const http_headers *resp_headers; /* as received (may be NULL) */
    uint64_t req_bytes;               /* request body bytes written to the local service */
    uint64_t resp_bytes;              /* response body bytes sent back through the tunnel */
    uint64_t head_ms;                 /* time to the response head */
    uint64_t total_ms;                /* time to the end of the exchange */
    const char *error;                /* NULL, or why the exchange failed ("timeout", ...) */
    bool upgraded;                    /* 101: a raw pipe followed */
    const char *tunnel;               /* the tunnel's name (ttf --config); NULL: the one tunnel */
} exchange_info;

typedef struct exchange_observer_ops {
    /* Returns the observer's state for this exchange (NULL is a valid state). */
    void *(*on_request_head)(void *ud, const obs_request *rq);
    void (*on_request_body)(void *ud, void *x, const uint8_t *data, size_t len);
    void (*on_response_head)(void *ud, void *x, const obs_response *rs);
    void (*on_response_body)(void *ud, void *x, const uint8_t *data, size_t len);
    /* Last call for the exchange: free x here. */
    void (*on_end)(void *ud, void *x, const exchange_info *info);
} exchange_observer_ops;

/* Any op may be NULL (not interested). */
typedef struct exchange_observer {
    const exchange_observer_ops *ops;
    void *ud;
} exchange_observer;

/* ---- the data path's side: one handle per exchange (zero it, or obs_begin sets it up) ---- */
typedef struct obs_exchange {
    const exchange_observer *o;
    void *x; /* the observer's state */
    bool begun, ended;
} obs_exchange;

/* o may be NULL (nothing observes). */
void obs_begin(obs_exchange *e, const exchange_observer *o, const obs_request *rq);
void obs_request_body(obs_exchange *e, const void *data, size_t len);
void obs_response_head(obs_exchange *e, int status, const http_headers *h, bool interim);
void obs_response_body(obs_exchange *e, const void *data, size_t len);
/* Once; later calls do nothing. o is used when obs_begin never ran (e.g. an unreadable head). */
void obs_end(obs_exchange *e, const exchange_observer *o, const exchange_info *info);

/* ---- observers ---- */

/* The default observer: INFO "GET /path -> 200 1234 B 5 ms", DEBUG the headers (credentials
 * redacted). Keeps no per-exchange state. */
exchange_observer observer_log(const tlog *lg);

#define OBSERVER_FANOUT_MAX 4
#define OBSERVER_FANOUT_SPARE 64
/* Calls each child in the order added. The per-exchange array of the children's states comes
 * back to a spare list when its exchange ends (at most OBSERVER_FANOUT_SPARE kept), so exchanges
 * one after another allocate none. */
typedef struct observer_fanout {
    exchange_observer child[OBSERVER_FANOUT_MAX];
    size_t n;
    spare_list spare; /* each spare array's first slot links the next (spare_list.h) */
} observer_fanout;

void observer_fanout_init(observer_fanout *f);
void observer_fanout_free(observer_fanout *f); /* frees the spare arrays; f can be used again */
int observer_fanout_add(observer_fanout *f, exchange_observer o); /* 0, -1 when full */
exchange_observer observer_fanout_observer(observer_fanout *f);

#endif
