/* SPDX-License-Identifier: MIT */
/* session.h - one WebSocket session with the tunnel server: the ready/connection_established
 * handshake, heartbeats, dead-link detection, acknowledgements, and dispatch of messages to
 * the wire adapters (wire_bin.c, wire_json.c), which drive one exchange (exchange.c) per
 * public request.
 * Owns: the ws_conn, the timers, every stream and request of the session. */
#ifndef TTF_SESSION_H
#define TTF_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "acks.h"
#include "config.h"
#include "exchange.h"
#include "hmap.h"
#include "hold.h"
#include "local.h"
#include "log.h"
#include "observer.h"
#include "proto_json.h"
#include "spare_list.h"
#include "tunnel_id.h"
#include "ws.h"

struct event_base;

#define SESSION_WS_PING_SEC 20    /* WebSocket ping: keeps the read timer fed */
#define SESSION_JSON_PING_SEC 300 /* {"type":"ping"}: keeps API Gateway's idle timer happy */
#define SESSION_DEAD_SEC 60       /* nothing read for this long: the link is dead */
#define SESSION_MAX_MSG ((size_t)4 * 1024 * 1024)

typedef struct session session;

typedef struct session_cbs {
    /* connection_established arrived (m is valid during the call). */
    void (*on_established)(void *ud, const tmsg *m);
    /* The WebSocket is gone; the owner frees the session (session_free is allowed inside). */
    void (*on_closed)(void *ud, uint16_t code, const char *reason);
    /* tunnel_refused arrived: the name asked for cannot be had (code "name_invalid",
     * "name_in_use", "name_owned"; message for people). The server closes next. */
    void (*on_refused)(void *ud, const char *code, const char *message);
} session_cbs;

/* What ready asks for (docs/protocol.md §1); NULL or "" fields are left out. */
typedef struct session_ready {
    const char *tunnel_id; /* the name held before: given back when allowed, else a new id */
    const char *subdomain; /* a chosen name: given or refused */
    const char *agent_key; /* this agent's secret (identifies it without auth) */
    const char *takeover;  /* the secret of the last connection_established: moves tunnel_id over
                              from the agent's still open connection (docs/protocol.md §1) */
    const char *access;    /* the access object as JSON text (lib/access.h), or NULL */
    /* several tunnels: per tunnel, the name held before (asked for again) or NULL */
    const char *const *tunnel_ids;
} session_ready;

/* One tunnel of the session (agent_config.tunnels[i], index i on the wire): where its requests
 * go. */
typedef struct session_tunnel {
    const agent_tunnel *cfg;
    exchange_env env;                             /* what every exchange of the tunnel shares */
    rewrite_host host;                            /* its host_header and local address */
    char tunnel_id[TTF_JSON_TUNNEL_NAME_MAX + 1]; /* from connection_established */
    /* the name ready asked for (the id held before, else the chosen subdomain; "" when none):
     * before connection_established, requests naming it are this tunnel's (the Lambda routes
     * to a new connection as soon as it recorded the name) */
    char asked[TTF_JSON_TUNNEL_NAME_MAX + 1];
} session_tunnel;

/* Everything streams and exchanges need; set up by session_new. */
struct session {
    struct event_base *base;
    const agent_config *cfg;
    const tlog *log;
    session_tunnel *tun; /* cfg->ntunnels of them, in wire order */
    size_t ntun;
    char tunnel_id[TTF_JSON_TUNNEL_NAME_MAX + 1]; /* the first tunnel's, from
                                                     connection_established */
    size_t json_blocked; /* JSON requests whose local service is behind: reading paused */
    /* request body octets held unwritten and windows given over all exchanges (hold.h); with
     * hold_shed (the server took no window of ours: the Lambda, an older ttfd) the timer fails
     * the stalest exchanges while what is held is over HOLD_AGENT; without, it marks stalled
     * uploads and fails them while a live upload wants credit the budget lacks */
    hold_total hold;
    bool hold_shed;
    struct event *hold_timer;
    uint64_t hold_due_ms; /* when it is due (clock_now_ms) */
    /* JSON mode: the per-request response window the server announced in
     * connection_established (docs/protocol.md §2 "Flow control"); 0: none, no limit */
    uint32_t stream_window;
    /* the per-request request-body window the server announced (request_window; binary mode:
     * TTF_BIN_INITIAL_WINDOW when it announced none): we credit it (hold_credit) and never
     * pause the link for one slow local service; JSON mode 0: none, the link pauses while a
     * local service is behind (json_blocked) */
    uint32_t request_window;
    /* JSON mode: the server relays interim responses / trailer sections (connection_established
     * relay_interim, relay_trailers; docs/protocol.md §2); binary mode always does */
    bool relay_interim, relay_trailers;
    /* JSON mode: the server confirmed header_strings (docs/protocol.md §2 "Header values"): our
     * answers send a name's single value as a plain string */
    bool header_strings;
    ws_conn *ws;
    tmsg_decoder *dec; /* its text messages' decoder, reused for each */
    uint64_t
        opened_ms; /* when the WebSocket was open (clock_now_ms): its lifetime counts from it */
    bool binary;
    bool established;
    bool closed;
    bool closing;    /* session_close was called: new requests are dropped */
    hmap *streams;   /* stream id (u32) -> stream */
    hmap *exchanges; /* request id -> JSON-mode request */
    /* binary mode: ended streams kept for the next ones, their buffers with them (wire_bin.c,
     * freed by wire_bin_free_all) */
    spare_list spare_streams;
    struct event *heartbeat;
    unsigned ticks;
    acks *acks;              /* the answers' window when the server acknowledges them */
    struct event *ack_timer; /* resends what waits too long for its ack */
    const session_cbs *cbs;
    void *ud;
};

/* Takes c (just upgraded) and sends ready (with ready->takeover, the secret that moves
 * ready->tunnel_id over from the agent's still open connection). pools: one per tunnel of cfg.
 * With cfg->config_file, ready carries tunnels[] (cfg->tunnels' names, ready->subdomains[i]
 * or their chosen names; ready->tunnel_id and ready->subdomain are then the first tunnel's).
 * NULL on error (c freed). */
session *session_new(struct event_base *base, conn *c, bool binary, const agent_config *cfg,
                     const tlog *lg, local_pool *const *pools, const exchange_observer *obs,
                     const session_ready *ready, const session_cbs *cbs, void *ud);
/* The tunnel a request names: binary OPEN's index, JSON's tunnel_id (NULL: the first; before
 * connection_established also the name ready asked for). NULL when the session has no such
 * tunnel. */
session_tunnel *session_tunnel_at(session *s, unsigned index);
session_tunnel *session_tunnel_named(session *s, const char *tunnel_id);
void session_free(session *s);
/* Graceful close: a close frame, then on_closed. */
void session_close(session *s);

/* Exchanges and streams still in flight (a session being left waits for them). */
size_t session_busy(const session *s);

/* For streams and exchanges. */
/* the WebSocket output is above its high mark, or answers wait for acknowledgements */
bool session_congested(const session *s);
int session_send_text(session *s, const char *json, size_t len);
int session_send_msg(session *s, const tmsg *m);
/* An answer (http_response, http_response_body, error): through the acknowledgement window. */
int session_send_answer(session *s, const tmsg *m);
/* The wire module sheds (wire_bin_shed, wire_json_shed, hold_shed) from the loop in ms, unless due
 * already: a windowless session (s->hold_shed) that holds more than HOLD_AGENT of request bodies
 * fails its stalest exchanges; a windowed one marks stalled uploads, and fails them while a live
 * upload wants credit the budget lacks (hold.h). */
void session_shed_later(session *s, unsigned ms);
/* A windowed session gave e credit (hold_credit, the mode's window normal): when e wants credit the
 * budget lacks, or its share is cut, the wire module looks for stalled uploads (wire_bin_shed,
 * wire_json_shed) from the loop: at once, or in HOLD_RETRY_MS (hold_scan_in). */
void session_hold_credited(session *s, const hold_entry *e, size_t normal);

#endif
