/* SPDX-License-Identifier: MIT */
/* metrics.h - ttfd's counters and latency histogram, exposed in Prometheus' text format
 * (version 0.0.4: https://prometheus.io/docs/instrumenting/exposition_formats/) by the admin
 * listener (admin.h). Every metric is listed, with its meaning, in the README ("Metrics").
 *
 * Hooks (where ttfd calls them; the phase-2 relay keeps these calls):
 * - edge_note_start(&pc->note) when a request head is parsed (or found bad), and the note's
 *   fields as the exchange goes (tunnel, client, refused, pipe_in);
 * - metrics_on_request_end(m, &req) once per public request, when its log line is written
 *   (pc_log), with reqlog_write (reqlog.h) next to it;
 * - metrics_on_agent_connect(m, returning) when a tunnel is established (ready answered),
 *   metrics_on_agent_disconnect(m) when an established agent session ends;
 * - metrics_on_room_made(m, kind, n) when connections are closed at --max-connections;
 * Gauges (tunnels, agents, streams, connections) and the listener's count of accept back-offs
 * are read at scrape time (metrics_gauges).
 *
 * Owns: its counters. Not thread-safe (one event loop). */
#ifndef TTFD_METRICS_H
#define TTFD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "tunnel_id.h"

/* Why ttfd answered a public request itself instead of the tunnel (refused_total's reason). */
typedef enum {
    REFUSED_NONE = 0,
    REFUSED_AUTH,        /* 401: basic auth missing or wrong */
    REFUSED_CIDR,        /* 403: the client's network is denied or not allowed */
    REFUSED_RATE,        /* 429: the client's rate limit */
    REFUSED_NOT_FOUND,   /* 404: no tunnel with that name */
    REFUSED_BUSY,        /* 503: the agent has --max-streams-per-agent exchanges in progress */
    REFUSED_SERVER_BUSY, /* 503: ttfd has --max-streams exchanges in progress (all agents) */
    REFUSED_LOOP,        /* 508: the request came back through its own tunnel (CDN-Loop) */
    REFUSED_COUNT
} edge_refusal;

/* What ttfd notes about the current public request of a connection (embedded in pconn). */
typedef struct edge_note {
    uint64_t t0_us;                   /* head parsed (monotonic, us) */
    char tunnel[TUNNEL_NAME_MAX + 1]; /* the tunnel it was routed to ("" when none) */
    char client[48];                  /* client address (after --trusted-proxy; "" = the peer) */
    uint64_t pipe_in;                 /* upgraded connection: bytes from the client */
    edge_refusal refused;
    bool agent; /* the agent endpoint (/_tunnel): an agent session, not a public request */
} edge_note;

/* One finished public request. */
typedef struct metrics_request {
    const char *tunnel; /* "" or NULL: none */
    const char *method, *path, *client;
    int status;         /* 499: the client left before a response head (nginx's "client closed
                           request"); 0: none sent otherwise */
    uint64_t bytes_in;  /* request body bytes from the client (decoded; upgraded: piped) */
    uint64_t bytes_out; /* bytes written to the client (heads and bodies) */
    uint64_t duration_us;
    edge_refusal refused;
} metrics_request;

/* Read at scrape time from the server. */
typedef struct metrics_gauges {
    uint64_t tunnels;            /* tunnels connected (names held by live agents) */
    uint64_t agents;             /* agent WebSocket sessions (also those not ready yet) */
    uint64_t streams;            /* exchanges in flight between public clients and agents */
    uint64_t public_connections; /* open public connections */
    uint64_t accept_backoffs;    /* a counter kept by the listener: times accepting paused */
    uint64_t accept_fulls;       /* the listener's too: times it paused at --max-connections */
} metrics_gauges;

typedef struct metrics metrics;

/* start_unix_s: the process start (Unix seconds, for ttfd_start_time_seconds). NULL: ENOMEM. */
metrics *metrics_new(int64_t start_unix_s, const char *version);
void metrics_free(metrics *m);

void edge_note_start(edge_note *n); /* t0 = clock_now_us() */
edge_refusal edge_refusal_of(access_result r);
/* "auth", "cidr", "rate_limit", "not_found", "busy", "server_busy", "loop" */
const char *edge_refusal_name(edge_refusal r);

void metrics_on_request_end(metrics *m, const metrics_request *r);
void metrics_on_agent_connect(metrics *m, bool returning);
void metrics_on_agent_disconnect(metrics *m);
/* What a connection closed to make room at --max-connections was doing (pconn_make_room): the
 * state label of ttfd_accept_room_closes_total. */
typedef enum {
    ROOM_IDLE,    /* public, no octet of a request sent (new, or kept alive between requests) */
    ROOM_HEAD,    /* public, in the middle of a request head or a TLS handshake */
    ROOM_LINGER,  /* public, its last answer taken whole, waiting for the client's close */
    ROOM_READY,   /* an agent's session that sent no ready */
    ROOM_STALLED, /* public, its answers whole but going out to a client that takes none */
    ROOM_KINDS
} room_kind;
void metrics_on_room_made(metrics *m, room_kind kind, size_t n);

/* The exposition text (every metric with # HELP and # TYPE), uptime_s since start. malloc'd,
 * length in *len; NULL when out of memory. */
char *metrics_render(const metrics *m, const metrics_gauges *g, double uptime_s, size_t *len);

#endif
