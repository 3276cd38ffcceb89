/* SPDX-License-Identifier: MIT */
/* pconn_int.h - what the three files of the public-connection module share (pconn.c: the
 * connection, its request heads, routing and lifetime; pconn_timer.c: its one deadline;
 * pconn_xchg.c: one exchange with a tunnel, request body out, response in, framed by
 * lib/resp_frame). Nothing outside pconn*.c
 * includes this: pconn is the only writer of its state.
 *
 * States of a connection:
 *   HEAD     waiting for (or reading) the next request head
 *   XCHG     an exchange with a tunnel: the request body going out and/or the response coming
 *   PIPE     after a 101: raw bytes both ways
 *   DRAIN    the response is complete; the rest of a short request body is read and dropped
 *            before the next request (bounded in bytes and time)
 *   CLOSING  the output is flushed, then the connection half-closes and ends (linger bound)
 *   GONE     handed to an agent session or to be freed now
 * Lifetime rule: pc_process and the upcalls never free; every entry point ends with pc_settle,
 * which frees a GONE connection (so nothing may touch pc after pc_settle). */
#ifndef TTFD_PCONN_INT_H
#define TTFD_PCONN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1.h"
#include "metrics.h"
#include "mux.h"
#include "path_rewrite.h"
#include "pconn.h"
#include "resp_frame.h"
#include "srv.h"
#include "tunnel_access.h"
#include "tunnel_id.h"

#define PC_OUT_MARK ((size_t)64 << 10)     /* on_drain below this: credit the agent */
#define PC_JOIN_BODY_MAX 16384             /* a known body up to this shares the head's chain */
#define PC_HOLD_MAX ((size_t)64 << 10)     /* pipelined input held while a response is pending */
#define PC_DRAIN_MAX ((uint64_t)64 << 10)  /* body left that an early response may wait for */
#define PC_DRAIN_MS 2000u                  /* ... for at most this long */
#define PC_FIRST_BATCH ((size_t)128 << 10) /* body bytes checked before a stream opens */
#define PC_PIECE_MIN ((size_t)16 << 10)    /* body bytes sent on without joining blocks */
#define PC_UNSENT_MAX ((size_t)128 << 10)  /* octets left unsent in the client's socket */

typedef enum { PC_HEAD, PC_XCHG, PC_PIPE, PC_DRAIN, PC_CLOSING, PC_GONE } pc_state;

/* What the connection's one deadline (lib/conn) stands for. */
typedef enum {
    T_NONE = 0,
    T_HEADER,  /* --header-timeout from the first byte of a head: 408 */
    T_BODY,    /* --body-timeout since the client last sent body bytes: 408 */
    T_REQUEST, /* --request-timeout since the request last moved, no response head: 504 */
    T_DRAIN,   /* PC_DRAIN_MS: close */
    T_LINGER,  /* TTFD_LINGER_SEC while closing: free */
    T_TUNNEL,  /* --tunnel-timeout since an upgraded connection last moved: close */
    T_HALF,    /* --half-close-timeout, the same once one of its sides ended: close; and a
                * client's FIN after its whole request, then nothing toward it: a departure */
} pc_timer;

/* One request and its response. Reset between requests. */
typedef struct body_span {
    const char *p;
    size_t n;
} body_span;

typedef struct exchange {
    mux_stream *ms; /* NULL: no stream (not opened, ended, or failed) */
    const mux_ops *ops;
    /* A stream still to open: when body bytes came with the head, the stream opens once they
     * parsed cleanly, so that a body broken from its first bytes reaches no agent at all. */
    mux *open_mux;
    uint8_t open_index;
    bool open_body;
    char *fwd; /* the target to forward, until the stream is open */
    /* decoded body spans of the batch being parsed: sent once the batch parsed cleanly */
    body_span *spans;
    size_t nspans, spans_cap;
    char tunnel[TUNNEL_NAME_MAX + 1]; /* its name, for the log */
    bool json;                        /* JSON-mode tunnel */
    bool interim, trailers;           /* the tunnel relays interim responses / trailer sections */
    bool path_mode;                   /* routed by path: responses are rewritten */
    /* request */
    bool req_done;      /* the request (head and body) was fully read */
    bool req_abandoned; /* the response ended first: body bytes are read and dropped */
    bool expect_100;    /* the client waits for 100 Continue before its body */
    bool sent_100;      /* a 100 went to the client */
    bool upgrade;       /* the request asked for an upgrade */
    bool head_req;      /* HEAD */
    bool send_failed;   /* the link refused body bytes: a fail upcall follows */
    bool fin_judged;    /* judged against the client's queued FIN (pconn.fin_queued) */
    uint64_t body_in;   /* decoded request body bytes read */
    uint64_t body_cap;  /* 0: none */
    int64_t req_len;    /* the request's Content-Length, -1 */
    /* response */
    rframe fr;
    bool resp_head; /* the final head was written */
    bool resp_done; /* the response ended */
    path_rewriter *rw;
    path_rewrite_buf rwbuf;
    /* the log line and the metrics (metrics.h, reqlog.h) */
    int status;          /* 0: none sent */
    char *method, *path; /* one block, freed through method */
    uint64_t bytes_out;
    edge_note note; /* start time, tunnel named by routing, client, refusal, piped bytes in */
    bool logged;
} exchange;

struct pconn {
    server *srv;
    pconn *prev, *next;
    conn *c; /* NULL once handed to an agent session */
    http1_parser p;
    char ip[64];
    tunnel_peer peer; /* ip parsed and printed for access control and logs, once */
    pc_state st;
    exchange x;
    pc_timer timer;         /* what the armed deadline means */
    uint64_t timer_ms;      /* the start of its period */
    uint64_t progress_ms;   /* the request (or the upgraded pipe) last moved (bytes in or out) */
    uint64_t wait_ms;       /* it began to wait for its next head (accepted, or its last exchange
                               ended) or, closing, for the client's close (room-making at
                               --max-connections: pconn_room.c) */
    uint64_t head_spent_ms; /* its heads (and TLS handshake) took this long in all, each from its
                               first octet to its end: room-making (pconn_room.c) */
    uint64_t next_seen_ms;  /* kept alive: room-making first saw octets of its next request
                               queued (a TLS record not yet whole: no head octet yet); 0 none */
    size_t out_seen;        /* room-making (pconn_room.c): its answers' octets not yet taken by */
    uint64_t out_seen_ms;   /* the client (ours and the socket's), unchanged since then */
    size_t heads_out;       /* octets of agents' heads written to it, not yet taken (at most */
    size_t agent_out;       /* its output), of all an agent sent (heads, bodies) the same, */
    size_t out_charged;     /* and what they count in srv->agent_held (pc_hold), in the group */
    char held_by[MEM_BUDGET_GROUP_MAX]; /* of this agent address (the first answering since 0) */
    bool kept_alive;                    /* an exchange of it ended: it waits for its next request */
    bool head_started;                  /* bytes of the next head arrived */
    bool in_eof;                        /* the client ended its side */
    bool fin_queued;     /* its FIN came while not read (RDHUP): each request is judged by it */
    uint64_t fin_ms;     /* its FIN came (read or queued), or since then answer octets were
                            written to it or its exchange began: --half-close-timeout of
                            nothing toward it from here is a departure (pconn_timer.c); 0 no
                            FIN */
    size_t fin_out;      /* its output's length at the last look of --half-close-timeout, */
    uint64_t fin_out_ms; /* fin_ms then (pconn_timer.c): taken octets show it reads */
};

/* ---- pconn.c ---- */
void pc_write(pconn *pc, const void *data, size_t len);
/* Answers status with a short text body and Connection: close, then closes; after a response
 * started, closes (what was written is flushed). The stream, if any, is closed first with
 * how/why. */
void pc_fail(pconn *pc, int status, const char *body);
/* pc_fail with the edges' own answer for a situation (edge_answer.h). */
void pc_answer(pconn *pc, edge_answer_id id);
/* Flushes what was written, then closes. */
void pc_close(pconn *pc);
void pc_process(pconn *pc);
void pc_settle(pconn *pc);
void pc_log(pconn *pc);
/* The exchange ended at both ends: the next request (keep-alive), a drain, or the close. */
void pc_exchange_done(pconn *pc, bool persist);
/* PC_CLOSING: reading stops; the output is flushed, then the connection ends (linger bound). */
void pc_start_closing(pconn *pc);
/* The client left (a reset, its side ended before its request did, or it half-closed and
 * took nothing for --half-close-timeout): PC_GONE, freed at pc_settle with the agent told
 * (RESET cancel / JSON cancel) and the request logged, 499 when no response head was written
 * (nginx's "client closed request"). how: for the debug log. */
void pc_client_left(pconn *pc, const char *how);

/* ---- pconn_timer.c ---- */
/* Arms the one deadline the state calls for (no change when it is already armed for it). */
void pc_update_timer(pconn *pc);
/* The deadline expired: a period that moved on is re-armed for what is left; else 408, 504,
 * the close or the free, as the period says. */
void pc_on_deadline(pconn *pc);

/* ---- pconn_xchg.c ---- */
/* What agents sent that pc's client has not taken yet, head and body octets more about to be
 * written, counts in the server's agent_held budget, per public connection, in the group of the
 * agent address answering (pc->held_by): heads beyond TTFD_AGENT_HEAD_SHARE, or all of it beyond
 * TTFD_AGENT_OUT_SHARE, whichever is more. false (nothing changed) when that would pass the
 * budget's limit or the group's part even once every connection's charge is settled to what its
 * client has not taken. pc_hold(pc, 0, 0) after the client took bytes: never refused. */
bool pc_hold(pconn *pc, size_t head, size_t body);
extern const mux_upcalls pc_upcalls;
/* Closes the exchange's stream (if any) with how/why. */
void xchg_end_stream(pconn *pc, mux_end how, const char *why);
/* The parser's decoded request body bytes (http1_parser.on_body). */
void xchg_on_body(void *ud, const char *at, size_t len);
/* Feeds buffered request body bytes to the stream (within its room), or drops them after an
 * early response. */
void xchg_pump_body(pconn *pc);
/* What the client's octets buffered and the queued ones (unread in the socket: conn_queued_in)
 * make of the request under way now that it sends no more: a Content-Length body by count, a
 * chunked one by decoding ahead (the socket's queue peeked, not taken; with TLS a queue of
 * ciphertext is taken as maybe the rest). XCHG_REQ_BAD: they break the chunked framing, the
 * decoder's rule in *reason (static), the 400 that reading them would answer. */
typedef enum {
    XCHG_REQ_MAY_END, /* whole in them, or maybe */
    XCHG_REQ_CUT,     /* it can never end: the client left */
    XCHG_REQ_BAD,     /* bad framing in them */
} xchg_req_verdict;
xchg_req_verdict xchg_request_verdict(pconn *pc, size_t queued, const char **reason);
/* The request body broke its framing (reason: the rule, may be NULL): the stream reset
 * (bad_request) and 400 answered, or the connection closed after a response head. */
void xchg_bad_body(pconn *pc, const char *reason);
/* After a 101: client bytes to the stream. */
void xchg_pump_pipe(pconn *pc);
/* Opens the stream prepared by on_head (x->open_mux); pc_fail when the mux refuses. flush: the
 * head leaves now (else with the next flush, together with body bytes). */
void xchg_open(pconn *pc, bool flush);
/* Frees what the exchange holds and makes it ready for the next request. */
void xchg_reset(exchange *x);

#endif
