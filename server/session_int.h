/* SPDX-License-Identifier: MIT */
/* session_int.h - what the two files of the agent-session module share (session.c: the upgrade,
 * the link, ready and the hand-off to the mux; session_claim.c: naming a ready's tunnels, the
 * claims, takeovers and the silent holders of asked-for names). Nothing outside session*.c
 * includes this: a session's state is the session module's own. */
#ifndef TTFD_SESSION_INT_H
#define TTFD_SESSION_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "proto_json.h"
#include "session.h"
#include "ws.h"

struct session {
    server *srv;
    session *prev, *next;
    ws_conn *ws;
    tmsg_decoder *dec; /* its text messages' decoder, reused for each */
    mux *mux;
    bool bin;               /* ttf.bin.v2, else JSON mode */
    uint32_t stream_window; /* JSON mode: the per-request window announced (0: none) */
    /* the per-request request-body window announced (JSON mode 0: none; binary mode 0: not
     * asked for, TTF_BIN_INITIAL_WINDOW) */
    uint32_t request_window;
    bool relay_interim, relay_trailers, header_strings; /* JSON mode: agreed (protocol.md §2) */
    bool several;               /* ready carried tunnels[]: answer with tunnels[] */
    bool established;           /* its tunnels were given (counted by the metrics) */
    char sub[AUTH_SUB_MAX + 1]; /* token subject ("" without auth) */
    char takeover[65];          /* secret for the agent's next connection (protocol.md §1) */
    char ip[64];
    char owner[TUNNEL_OWNER_MAX + 1]; /* tunnel_owner() of its ready ("" before it) */
    conn *c;                          /* its link (the ws_conn's) */
    struct event *ready_timer;        /* an agent that never sends ready is dropped */
    uint64_t upgraded_ms;             /* its upgrade (clock_now_ms): room-making before ready */
    struct event *beat;               /* --agent-timeout: our pings, and the look at its silence */
    uint64_t heard_reads;             /* conn_reads() at the last beat */
    size_t heard_queued;              /* conn_queued_in() at the last beat */
    unsigned silent_beats;            /* beats in a row with nothing new from it */
    tunnel *tun;                      /* its tunnels, by wire index (one until ready says more) */
    size_t ntun;
};

/* ---- session.c ---- */
/* Ends the session: its streams fail (502 before a response, closed after), the name is let go. */
void sess_destroy(session *s);
/* A name that cannot be given, or an access policy that cannot be enforced: say why, then close
 * (the agent stops; docs/protocol.md). */
void sess_refuse_name(session *s, const char *code, const char *message);
/* Every tunnel has its name: requests may come. The mux's log lines name them all.
 * returning: the (first) name's record was already this owner's (a reconnect; the metrics). */
void sess_all_named(session *s, bool returning);

/* ---- session_claim.c ---- */
/* The agent moving its tunnels to this new connection while its old one is still open: granted
 * for the secret the holder was given and the same subject, when ready asks for each of the
 * holder's names once (docs/protocol.md §1): all of them move, or none. */
bool sess_take_over(session *s, const tmsg *m);
/* Gives every tunnel of ready its name, all or none (ngrok's agent does not start a session
 * with a tunnel missing either): a chosen name that cannot be had refuses the whole ready,
 * naming the tunnel (tunnel_refused), and the names already claimed are let go. 0, or -1 when
 * the session was refused or closed. notice (cap bytes) gets why asked-for names were not
 * given back ("" when all were). */
int sess_claim_all(session *s, const tmsg *m, char *notice, size_t cap, bool *returning);
/* A ready for names a silent session of the same owner still holds: that is the owner's agent
 * back over a new link while the old one died without a FIN (a network change, a NAT that forgot
 * it, a laptop that slept) and has not reached --agent-timeout yet. The old session is ended
 * now (its requests fail as when an agent goes: 502, or cut after the head) so that the owner
 * gets its names, and its URLs, back instead of new ones (frp's server replaces a control with
 * the same run id the same way). A live session is never ended so. */
void sess_end_silent_holders(session *s, const tmsg *m);

#endif
