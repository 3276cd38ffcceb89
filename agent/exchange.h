/* SPDX-License-Identifier: MIT */
/* exchange.h - one local HTTP exchange: the agent's side of one public request, whichever wire
 * mode carries it (docs/protocol.md §3-4, docs/architecture.md "ttf"). The wire adapters
 * (wire_bin.c, wire_json.c) only translate frames or messages into the calls below and the
 * upcalls back into frames or messages; every HTTP rule of the local leg lives here:
 *
 *   request  the head as the tunnel delivered it (parsed once, by the adapter's codec or
 *            http1), Host per --host-header, hop-by-hop fields removed, framed by us toward the
 *            local service: Content-Length when the head has one (exactly that many body octets
 *            are written; more or fewer is refused), else chunked when a body follows (every
 *            exchange_body call is one chunk; trailers as the trailer section);
 *   response parsed strictly (lib/http1, head limit --max-response-header-size): interim 1xx
 *            heads, then the final head after ttf's rules (lib/proxy), then the body decoded
 *            (no transfer coding) as the tunnel can take it, then the trailers; a 101 makes the
 *            exchange a raw pipe both ways;
 *   timers   no response head within --request-timeout (restarted while the request moves);
 *   pool     the local connection goes back to the pool only when the request was written in
 *            full, the response read in full with not one octet after it, and neither side
 *            asked to close (docs/protocol.md §4); otherwise it is closed;
 *   observer obs_begin .. obs_end (agent/observer.h), in order, in both modes.
 *
 * Upcalls may come from inside exchange_* calls and from the event loop; the adapter may call
 * exchange_free inside any upcall (the exchange then makes no further upcall and is released
 * once the call that made the upcall returns). After `end` or `fail` no other upcall comes.
 * Owns: the local connection, the request head it was given, the response parser and its
 * buffers, the timer and the observer handle. */
#ifndef TTF_EXCHANGE_H
#define TTF_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1.h"
#include "local.h"
#include "log.h"
#include "observer.h"
#include "rewrite.h"

struct event_base;

/* What every exchange of an agent shares (set up once by the session). */
typedef struct exchange_env {
    struct event_base *base;
    local_pool *pool;
    const exchange_observer *obs;
    const tlog *log;
    const rewrite_host *host; /* --host-header and the local address (agent/rewrite.h) */
    unsigned request_timeout_ms;
    size_t max_response_head; /* --max-response-header-size */
    const char *tunnel;       /* the tunnel's name (ttf --config) for the observer; NULL: the
                                 command line's one tunnel */
} exchange_env;

/* The request, as the tunnel delivered it. */
typedef struct exchange_request {
    const char *mode; /* "bin" or "json": observer and log lines */
    const char *id;   /* stream id or request id as text */
    const char *method;
    const char *target;
    http_headers *headers;  /* taken over (left empty) */
    int64_t content_length; /* the body's length when known (-1: unknown, then chunked) */
    bool body;              /* body octets (or an end of body) follow through exchange_body */
    bool interim;           /* relay interim (1xx) responses through the `interim` upcall */
    bool upgrade;           /* a 101 may be relayed (binary mode); else it fails the exchange */
    bool trailers;          /* trailer fields go on both ways (binary mode): Trailer kept */
} exchange_request;

/* Why an exchange failed; `started` says whether the final response head went out already. */
typedef enum {
    XFAIL_UNAVAILABLE = 1, /* the local service cannot be reached, closed before answering, or
                              its head is over --max-response-header-size */
    XFAIL_TIMEOUT,         /* no response head within --request-timeout */
    XFAIL_BAD_RESPONSE,    /* the local service sent something invalid, or failed mid-response */
    XFAIL_BAD_REQUEST,     /* the request cannot be sent as given (body longer or shorter than
                              its Content-Length, a head that cannot be written) */
    XFAIL_INTERNAL,        /* out of memory */
} exchange_fail;

/* The final response head, after ttf's rules. */
typedef struct exchange_head {
    int status;
    const char *reason;          /* as the local service sent it ("" when none) */
    const http_headers *headers; /* no hop-by-hop field, no Transfer-Encoding */
    int64_t content_length;      /* -1: none (the body length is not known in advance) */
    bool fin;                    /* no body follows (bodiless status, HEAD, length 0) */
    bool upgraded;               /* 101: a raw pipe follows both ways */
} exchange_head;

typedef struct exchange_sink {
    /* Response body octets the tunnel can take now; 0 pauses reading the local service until
     * exchange_resume. */
    size_t (*room)(void *ud);
    /* An interim response (1xx but 101), only when the request asked for them. */
    void (*interim)(void *ud, int status, const char *reason, const http_headers *h);
    void (*head)(void *ud, const exchange_head *h);
    /* Decoded body octets (raw octets after a 101), never more than room allowed. */
    void (*body)(void *ud, const uint8_t *data, size_t len);
    /* End of one batch of body upcalls (one read of the local service). May be NULL. */
    void (*flush)(void *ud);
    /* The response is complete; trailers (NULL when none) end a chunked body. request_done
     * says whether the request was also written in full (else the rest is not wanted). */
    void (*end)(void *ud, const http_headers *trailers, bool request_done);
    void (*fail)(void *ud, exchange_fail why, const char *message, bool started);
    /* Request octets were handed to the local service (after every write to it: its pending
     * output, exchange_pending, may still be over LOCAL_OUT_MARK). May be NULL. */
    void (*drained)(void *ud);
} exchange_sink;

typedef struct exchange exchange;

/* Starts the exchange: connects (or takes a pooled connection), writes the head. NULL on ENOMEM
 * (req->headers stays the caller's then). Failures after that come as the `fail` upcall, from
 * the event loop. */
exchange *exchange_new(const exchange_env *env, const exchange_request *req,
                       const exchange_sink *sink, void *ud);
/* Releases the exchange: the local connection is pooled when the rules above allow it, else
 * closed. obs_end is called if it was not yet. error (NULL when none) names why it ended early
 * for the observer ("cancelled", "tunnel closed"). Safe inside upcalls. */
void exchange_free(exchange *x, const char *error);

/* Request body octets (decoded; raw after a 101). */
void exchange_body(exchange *x, const uint8_t *data, size_t len);
/* The request body ended; trailers (may be NULL) for a chunked body. After a 101: the peer
 * ended its side (the local connection is half-closed once its output is written). */
void exchange_end_body(exchange *x, const http_headers *trailers);
/* The tunnel can take response octets again (window, WebSocket room). */
void exchange_resume(exchange *x);
/* Request octets not yet written to the local service. */
size_t exchange_pending(const exchange *x);
/* Of those, request body octets (what a request window counts): the head written first is not
 * counted, nor, once it is written, anything else (a chunked body's framing is counted while
 * unwritten: an upper bound, at most its chunk lines). */
size_t exchange_pending_body(const exchange *x);
/* Whether the final response head went out. */
bool exchange_started(const exchange *x);

/* A binary-mode upcall helper and the JSON one share these: the status the public client gets
 * for a failure before the response started. */
const char *exchange_fail_name(exchange_fail why);

#endif
