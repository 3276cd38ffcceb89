/* SPDX-License-Identifier: MIT */
/* observer.h - the exchange observer: a hook called once per finished exchange (request head,
 * response head, byte counts, timing), so an inspector/replay UI can be added without touching
 * the forwarding code. The default observer logs one line per exchange.
 * Owns: nothing; the exchange passed to on_exchange is only valid during the call. */
#ifndef TTF_OBSERVER_H
#define TTF_OBSERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "http1.h"
#include "log.h"

typedef struct exchange_info {
    const char *mode;                 /* "bin" or "json" */
    const char *id;                   /* stream id or request id, as text */
    const char *method;               /* request method */
    const char *target;               /* request target as sent to the local service */
    const http_headers *req_headers;  /* as sent to the local service (may be NULL) */
    int status;                       /* local response status; 0 when none came */
    const http_headers *resp_headers; /* as received (may be NULL) */
    uint64_t req_bytes;               /* request body bytes written to the local service */
    uint64_t resp_bytes;              /* response body bytes sent back through the tunnel */
    uint64_t head_ms;                 /* time to the response head */
    uint64_t total_ms;                /* time to the end of the exchange */
    const char *error;                /* NULL, or why the exchange failed ("timeout", ...) */
    bool upgraded;                    /* 101: a raw pipe followed */
} exchange_info;

typedef struct exchange_observer {
    void (*on_exchange)(void *ud, const exchange_info *x);
    void *ud;
} exchange_observer;

/* The default observer: INFO "GET /path -> 200 1234 B 5 ms", DEBUG the headers. ud is the tlog. */
exchange_observer observer_log(const tlog *lg);

static inline void observer_notify(const exchange_observer *o, const exchange_info *x)
{
    if (o && o->on_exchange)
        o->on_exchange(o->ud, x);
}

#endif
