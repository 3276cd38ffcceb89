/* SPDX-License-Identifier: MIT */
/* session.h - agent sessions: one agent's WebSocket on /_tunnel (the upgrade: auth, subprotocol
 * choice), its control messages (ready -> connection_established or tunnel_refused, ping/pong,
 * takeover by the agent's next connection), its named tunnels in the registry, and the mux of its
 * wire mode (mux.h) to which the exchange messages go.
 * Direction of calls: pconn -> session (the upgrade hand-off; a tunnel found in the registry)
 * -> mux; the session never calls pconn (its streams learn of the end through the mux).
 * Owns: the ws_conn (and so the agent's conn), the mux, its tunnels, the ready timer. */
#ifndef TTFD_SESSION_H
#define TTFD_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1_head.h"
#include "mux.h"
#include "srv.h"
#include "tunnel_access.h"
#include "tunnel_id.h"

/* One named tunnel of a session: what the registry maps a public name to. */
typedef struct tunnel {
    session *sess;
    mux *mux;      /* the session's mux: streams of this tunnel are opened on it */
    uint8_t index; /* the tunnel index on the wire (binary OPEN, JSON tunnel_id) */
    bool json;     /* the session speaks JSON mode */
    /* the agent's interim (1xx) responses and trailer sections both ways go on: binary mode, and
     * JSON mode when ready and connection_established agreed (docs/protocol.md §2) */
    bool interim, trailers;
    bool ready; /* connection_established sent: public requests may come */
    char name[TUNNEL_NAME_MAX + 1];
    char loop_mark[PROXY_LOOP_MARK_LEN + 1]; /* its CDN-Loop mark (proxy_loop_mark under the
                                                server's key), worked out with its name */
    tunnel_access *access; /* the tunnel's access gate (tunnel_access.h), NULL: no policy */
} tunnel;

/* The request on a public connection is an agent's upgrade on /_tunnel (head: the parsed
 * request; ip: the peer). Answers 101 and takes c over (0), or refuses: -1 with *status (400,
 * 401, 500) and why (a short text for the answer and the log) filled in, c still the caller's. */
int session_accept(server *srv, conn *c, const http1_head *head, const char *ip, int *status,
                   char *why, size_t cap);

/* Shutdown: every session sends a close frame (1001) / every session is freed (their streams
 * fail). */
void session_close_all(server *srv);
void session_free_all(server *srv);
/* Agent sessions (also those not ready yet) and the streams open over them (metrics gauges). */
size_t session_count(const server *srv);
size_t session_streams(const server *srv);
/* What session_each tells of a session: its peer, its upgrade (clock_now_ms), and whether it may
 * be closed to make room: no ready accepted yet (its ready timer still runs; no stream) a
 * --max-connections head grace after its upgrade, holding a place as a slow head does. */
typedef struct session_info {
    const char *ip;
    uint64_t since_ms;
    bool closable;
} session_info;
/* fn(ud, s, info) for each session (room-making at --max-connections, pconn_make_room; the
 * agents' caps, agent_cap.h). fn may drop s (session_drop). */
typedef void (*session_fn)(void *ud, session *s, const session_info *info);
void session_each(server *srv, session_fn fn, void *ud);
/* Ends a session not ready yet at once, without a close handshake, to make room under cap (the
 * option's name, for the log): its connection freed (its place in --max-connections released). */
void session_drop(session *s, const char *cap);
/* The loop ends once stopping and the last session is gone. */
void session_maybe_exit(server *srv);

#endif
