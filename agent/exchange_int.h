/* SPDX-License-Identifier: MIT */
/* exchange_int.h - the exchange's state, shared by exchange.c (request, lifetime, pool,
 * timers) and exchange_resp.c (response). Not for other modules: they use exchange.h.
 * Owns: see exchange.h. */
#ifndef TTF_EXCHANGE_INT_H
#define TTF_EXCHANGE_INT_H

#include "exchange.h"

struct event;

struct exchange {
    const exchange_env *env;
    const exchange_sink *sink;
    void *ud;
    lconn lc;
    obs_exchange obs;
    struct event *timer;        /* --request-timeout, and failures reported from the loop */
    const char *mode;           /* static string */
    char *id, *method, *target; /* one block, freed through id */
    http_headers req_headers;   /* as sent to the local service */
    char *public_base;          /* rewrite mode: the URL the public client used */
    char *retry_head; /* a bodiless idempotent request on a pooled connection: sent again once
                         when the connection turns out closed */
    size_t retry_len;
    http1_parser resp;
    uint64_t t0, t_head;
    uint64_t req_bytes;   /* request body octets handed to the local connection */
    uint64_t resp_bytes;  /* response body octets given to the tunnel */
    uint64_t resp_octets; /* raw octets read from the local service */
    size_t head_fed;      /* octets of the current response head given to the parser */
    int64_t req_left;     /* Content-Length framing: body octets still to come; -1: none */
    int final_status;     /* the final response's status once its head went out */
    int depth;            /* calls and callbacks in progress */
    const char *end_error;
    exchange_fail deferred_why;
    char
        *deferred_msg; /* malloc'd by defer_fail (rare): the struct stays in malloc's small sizes */
    unsigned deferred : 1;        /* a failure waits to be reported from the loop */
    unsigned free_pending : 1;    /* exchange_free was called: no more upcalls */
    unsigned ended : 1;           /* `end` or `fail` went out */
    unsigned req_chunked : 1;     /* the request body goes chunked */
    unsigned req_done : 1;        /* the request body ended (all of it handed over) */
    unsigned upgrade_req : 1;     /* the request asks for an upgrade (kept Connection/Upgrade):
                                     only where a 101 may be relayed (binary mode) */
    unsigned trailers_ok : 1;     /* trailer fields go on (binary mode): Trailer kept */
    unsigned interim : 1;         /* relay interim responses */
    unsigned is_head : 1;         /* HEAD: the response has no body */
    unsigned head_sent : 1;       /* the final head went out */
    unsigned resp_done : 1;       /* the response was read in full */
    unsigned upgraded : 1;        /* 101: raw pipe */
    unsigned pipe_local_done : 1; /* after a 101: the local service ended its side */
    unsigned paused : 1;          /* reading the local service stopped for lack of room */
    unsigned local_eof : 1;       /* the local service ended its side */
    unsigned local_dead : 1;      /* the local connection failed: never written to or pooled */
    unsigned no_reuse : 1;        /* octets after the response, or a close asked: not pooled */
    unsigned req_dropped : 1; /* the rest of the request body is not written (xc_drop_request) */
};

extern const lconn_cbs xc_local_cbs;

void xc_enter(exchange *x);
void xc_leave(exchange *x); /* may free x: touch nothing after it */
bool xc_gone(const exchange *x);
void xc_fail(exchange *x, exchange_fail why, const char *message);
void xc_end(exchange *x, const http_headers *trailers);
void xc_arm_timer(exchange *x);
/* The local service answered an error and closes: the rest of the request body is dropped. */
void xc_drop_request(exchange *x);
uint64_t xc_now_ms(const exchange *x);

/* exchange_resp.c */
void xc_resp_init(exchange *x);
/* Moves local input to the tunnel as the tunnel's room allows; handles the end of input. */
void xc_pump(exchange *x);

#endif
