/* SPDX-License-Identifier: MIT */
/* srv.h - ttfd's server context: the configuration from the command line and the state main
 * builds and passes down (event loop, connection loop, TLS, auth, the tunnel registry, the lists
 * of agent sessions and public connections). Nothing here is global: main owns one `server`.
 * Owns: the lists' heads (sessions are freed by session.c, public connections by pconn.c). */
#ifndef TTFD_SRV_H
#define TTFD_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "access.h"
#include "admin.h"
#include "auth.h"
#include "clock.h"
#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "mux.h"
#include "proxy.h"
#include "registry.h"
#include "ws.h"

#define TTFD_VERSION TUNNEL_VERSION           /* project(VERSION) in CMakeLists.txt */
#define TTFD_AGENT_MAX_MSG ((size_t)12 << 20) /* one reassembled agent message */
/* What agents' messages being received may hold (lib/ws.h ws_set_budget, mem_budget.h): each link
 * its share, which every message ttf sends with its default limits fits (JSON: 128,000 bytes;
 * binary: DATA of 64 KiB, a head of 64 KiB), all links together this much beyond their shares,
 * and the links of one agent address at most a MEM_BUDGET_GROUP_PARTS-th of it: a link whose
 * message would pass either is closed (1009), as nginx bounds the large_client_header_buffers a
 * connection may take. Without it 32 links from one address, each holding 11 MiB of an unfinished
 * message, made ttfd hold 380 MB; without the address's part they filled it, and another
 * address's agent sending a 4 MiB message had its link closed */
#define TTFD_AGENT_MSG_SHARE ((size_t)256 << 10)
#define TTFD_AGENT_MSG_BUDGET ((size_t)64 << 20)
/* Agents' answers ttfd holds (mem_budget.h): a JSON head being assembled from
 * http_response_headers continuations (counted per exchange, by the mux: beyond
 * TTFD_AGENT_HEAD_SHARE), and what an agent sent that is written toward a public client that has
 * not taken it yet (counted per public connection, by pconn: its heads beyond
 * TTFD_AGENT_HEAD_SHARE or all of it beyond TTFD_AGENT_OUT_SHARE, whichever is more). All of them
 * together at most this much beyond their shares, and those of one agent address at most a
 * MEM_BUDGET_GROUP_PARTS-th of it: the exchange that would pass either is dropped (the agent
 * told: RESET cancel or cancel; the client answered 502 MUX_HELD_OVER, else its connection
 * closed), the agent's link and other exchanges go on. Without it an agent's heads of 1 MiB
 * toward 100 clients that never read made ttfd hold 97 MB (2000 streams: 2 GB); without the
 * address's part one agent filled it and another agent's answers toward slow clients were
 * refused. The share fits every head ttf sends at its default --max-response-header-size (64
 * KiB). */
#define TTFD_AGENT_HEAD_SHARE ((size_t)128 << 10)
#define TTFD_AGENT_HELD_BUDGET ((size_t)64 << 20)
/* All an agent sent (heads and bodies) toward a client that has not taken it counts too beyond
 * this share of a public connection, which the largest response window fits (JSON's grown one, 1
 * MiB, a head and what is written before a credit): an agent without windows (JSON mode without
 * stream_windows) whose whole answers of 12 MiB toward 16 clients that never read made ttfd hold
 * 163 MB, the exchanges done and counted in no --max-streams. */
#define TTFD_AGENT_OUT_SHARE ((size_t)1280 << 10)
#define TTFD_IDLE_SEC 60 /* keep-alive idle limit between public requests */
/* An upgraded connection (101: a WebSocket) idle both ways this long is closed, as HAProxy's
 * `timeout tunnel` (its documentation's example: 1h); once one side ended its half (a FIN), the
 * other gets this long of silence to end its own, as HAProxy's `timeout client-fin` /
 * `server-fin` (example: 30s). nginx's proxy_read_timeout (60 s) bounds both, and closes both
 * halves at the first FIN. The same period bounds an ordinary exchange whose client sent its FIN
 * after its whole request and toward which nothing went since (then a departure: 499). */
#define TTFD_TUNNEL_SEC 3600
#define TTFD_HALF_CLOSE_SEC 30
#define TTFD_LINGER_SEC 5 /* a closing public connection that never drains */
#define TTFD_READY_SEC 30 /* an agent must send ready within this */
/* --agent-timeout's default: an agent link that brings nothing this long (ttfd pings it every
 * quarter of it, ttf every 20 s) is closed, as ttf closes a link it hears nothing on for 60 s
 * (frp's server: 90 s without a heartbeat) */
#define TTFD_AGENT_SEC 60
#define TTFD_MAX_HEADER_MAX ((size_t)1 << 20) /* the largest --max-header-size */
/* --max-streams-per-agent's default: as the stream multiplexers of Go-written tunnels bound one
 * connection (frp's yamux: 256 streams not yet accepted; Go's HTTP/2 server: 250 concurrent
 * streams); 200 requests at once through one tunnel go through (tests/e2e/test_basic.py), and a
 * client that reads nothing costs ttfd about 0.6 MB (bench/stall_cost.py): 150 MB per agent */
#define TTFD_MAX_STREAMS 256
/* --max-streams's default: HAProxy's default maxconn of a frontend (2000), counted in requests in
 * progress over all agents, so that a flood spread over several agents (or tunnels) is bounded
 * too: at about 0.35 MB per stalled stream (bench/stall_cost.py) about 0.7 GB at worst, and 8
 * agents at their own limit (256) */
#define TTFD_MAX_STREAMS_TOTAL 2000
/* --max-connections is by default the descriptor limit (RLIMIT_NOFILE) less this many, kept for
 * what is not a connection (the listeners, the state database, the epoll sets, the log), as
 * HAProxy derives its global maxconn from `ulimit -n` */
#define TTFD_FD_RESERVE 64
/* At --max-connections a connection in the middle of a request head or a TLS handshake may be
 * closed to make room once it has waited this long (pconn_make_room): a client on a slow link
 * finishes its handshake and head in a few round trips, well within it */
#define TTFD_HEAD_GRACE_MS 1000u
/* --max-agents-per-ip's default: a machine runs one ttf per service (one link each, two while one
 * reconnects), and an office behind one NAT address a few dozen */
#define TTFD_MAX_AGENTS_IP 32

typedef struct server_config {
    char listen[300];          /* "127.0.0.1:8080", "[::1]:0" */
    const char *domain;        /* tunnel domain */
    int public_port;           /* port shown in URLs; 0: the bound port */
    const char *public_scheme; /* "http"/"https" of public URLs; NULL: https with TLS, else http */
    const char *tls_cert, *tls_key;
    bool require_auth;
    const char *jwt_secret; /* or env TTFD_JWT_SECRET */
    const char *jwks;       /* JWKS file */
    int request_timeout;    /* s: no response head this long after the request stopped moving */
    int header_timeout;     /* s: a whole request head (nginx's client_header_timeout) */
    int body_timeout;       /* s: between two reads of a request body (client_body_timeout) */
    int send_timeout; /* s: output waiting that the client takes nothing of (send_timeout); 0 off */
    int keepalive_timeout;  /* s: a connection idle between requests is closed; 0: TTFD_IDLE_SEC */
    int tunnel_timeout;     /* s: an upgraded connection idle both ways (timeout tunnel); 0 off */
    int half_close_timeout; /* s: idle after one side of it ended (timeout client-fin), and
                               nothing toward a client that sent its FIN after its whole
                               request; 0 off */
    int agent_timeout;      /* s: an agent link with nothing from the agent is closed; 0 off */
    size_t max_header;      /* bytes */
    uint64_t max_body;      /* 0: unlimited (both wire modes); else 413 beyond */
    size_t max_streams;     /* exchanges in progress per agent (0: no limit); else 503 */
    size_t max_streams_total; /* --max-streams: over all agents (0: no limit); else 503 */
    size_t max_conns;     /* --max-connections: accepted at once (public and agents); 0: no limit */
    size_t max_agents;    /* --max-agents: agents' links at once (agent_cap.h); 0: no limit */
    size_t max_agents_ip; /* --max-agents-per-ip: from one address; 0: no limit */
    unsigned head_grace_ms; /* at it, a head under way this long may close (TTFD_HEAD_GRACE_MS) */
    const char *state_path; /* --state: the SQLite file of name owners (":memory:": none) */
    int64_t grace_s;        /* --reconnect-grace: a gone agent's name is held this long */
    int64_t retention_s;    /* --name-retention (days, in seconds): with auth; < 0 forever */
    const char *admin;      /* --admin ADDR:PORT: /healthz and /metrics (NULL: off) */
    access_net trusted[ACCESS_NETS_MAX]; /* --trusted-proxy: X-Forwarded-For is read from */
    size_t ntrusted;
    bool log_json; /* --log-format json */
    bool verbose;
} server_config;

typedef struct server server;
typedef struct session session;
typedef struct pconn pconn;
struct listener;

struct server {
    struct event_base *base;
    conn_loop *loop; /* every socket's I/O: output written once per loop pass */
    const tlog *log;
    const server_config *cfg;
    SSL_CTX *tls;        /* NULL: plain */
    auth_verifier *auth; /* NULL unless --require-auth */
    struct listener *lis;
    registry *reg;      /* tunnel name -> tunnel (session.h) */
    state *st;          /* name owners (registry's store) */
    session *sessions;  /* all agent sessions (doubly linked, session.c) */
    pconn *pconns;      /* all public connections (doubly linked, pconn.c) */
    char url_host[320]; /* "localhost:8080" (port omitted when the scheme's default), in URLs */
    const char *scheme; /* the public scheme, "http" / "https" (--public-scheme): the URLs
                           agents are told, and X-Forwarded-Proto */
    bool stopping;
    struct event *stop_timer;
    metrics *metrics;      /* counters for /metrics (metrics.h) */
    mux_budget streams;    /* streams open over every agent's mux (--max-streams) */
    mem_budget agent_msgs; /* agents' messages being received (TTFD_AGENT_MSG_BUDGET) */
    mem_budget agent_held; /* agents' answers held, heads and bodies (TTFD_AGENT_HELD_BUDGET) */
    admin *admin;          /* --admin listener, NULL when off */
    uint8_t loop_key[PROXY_LOOP_KEY_LEN]; /* random per process: the CDN-Loop marks
                                             (proxy_loop_mark) of the requests it forwards */
    clock_http_date date; /* the Date of every response written to a public client (zeroed:
                             the wall clock, formatted once a second) */
};

#endif
