/* SPDX-License-Identifier: MIT */
/* pconn_room.c - room-making at --max-connections (pconn_make_room, see pconn.h): which public
 * connections and which agents' sessions not ready yet may be closed so that a newcomer gets
 * in, the longest waiting first. */
#include "pconn_int.h"

#include <stdint.h>
#include <string.h>

#include <event2/buffer.h>

#include "clock.h"
#include "log.h"
#include "session.h"

/* One that may be closed: a public connection or an agent's session before its ready. */
typedef struct room_pick {
    pconn *pc;
    session *s;
    uint64_t since; /* it began to wait (clock_now_ms) */
    room_kind kind;
} room_pick;

typedef struct room_picks {
    room_pick pick[PCONN_DRAIN_MAX]; /* the longest waiting so far, longest first */
    size_t n, want;
} room_picks;

static bool pc_idle(const pconn *pc)
{
    /* its first octets may wait unread (just accepted): not idle; nor a TLS handshake under
     * way (our answer to its ClientHello sent, its next flight one round trip away) */
    return pc->st == PC_HEAD && !pc->head_started && pc->c &&
           evbuffer_get_length(conn_in(pc->c)) == 0 && conn_out_len(pc->c) == 0 &&
           conn_queued_in(pc->c) == 0 && !conn_handshake_begun(pc->c);
}

/* Whether room-making may close it (pconn.h), and as what. Waiting for a request head with
 * nothing of ours on its way out: kept alive between requests with no octet of the next one (a
 * client must be ready for that close anyway, RFC 9112 §9.5) at once, a new one once it has
 * waited grace_ms since its accept, one into its next request once that took grace_ms (from its
 * head's first octet, or from the first look that saw octets of it), or once its heads took
 * grace_ms in all
 * (a client that keeps its connection by starting each head at once after an answer and
 * finishing it just within the grace is a slow head all the same). Closing, its last answer written
 * whole and taken by the client (acknowledged: the close loses none of it), its FIN sent: once it
 * has lingered grace_ms for the client's close. A request in progress (its body uploading too), an
 * answer going out, an upgraded pipe: never. */
static bool pc_closable(pconn *pc, uint64_t now, uint64_t grace_ms, room_kind *kind)
{
    if (!pc->c || conn_out_len(pc->c) > 0)
        return false;
    if (pc->st == PC_CLOSING) {
        *kind = ROOM_LINGER;
        return conn_write_ended(pc->c) && conn_unacked(pc->c) == 0 && now - pc->wait_ms >= grace_ms;
    }
    if (pc->st != PC_HEAD)
        return false;
    bool idle = pc_idle(pc);
    *kind = idle ? ROOM_IDLE : ROOM_HEAD;
    uint64_t in_head = pc->head_spent_ms + (pc->timer == T_HEADER ? now - pc->timer_ms : 0);
    if (pc->kept_alive) {
        /* into its next request: timed from its head's first octet (or from the first look
         * that saw octets of it queued), not from the last answer: a pause between requests
         * is no slow head, and one whose head came in pieces a moment apart went first */
        if (idle) {
            pc->next_seen_ms = 0;
            return true;
        }
        if (!pc->next_seen_ms)
            pc->next_seen_ms = now;
        return in_head >= grace_ms || now - pc->next_seen_ms >= grace_ms;
    }
    return now - pc->wait_ms >= grace_ms || (!idle && in_head >= grace_ms);
}

/* Answers whole (no request in progress: waiting for a head, or closing) still going out to a
 * client that has taken none of them for grace_ms, as seen by room-making's own looks (at each
 * accept at the cap and every 250 ms while paused): --send-timeout (60 s) would drop it, and
 * --max-streams does not count it. Updates what was seen. */
static bool pc_stalled(pconn *pc, uint64_t now, uint64_t grace_ms)
{
    if ((pc->st != PC_HEAD && pc->st != PC_CLOSING) || !pc->c || pc->x.ms)
        return false;
    size_t out = conn_out_len(pc->c), unacked = conn_unacked(pc->c);
    if (out == 0 || unacked == SIZE_MAX) {
        pc->out_seen_ms = 0;
        return false;
    }
    if (out + unacked != pc->out_seen || !pc->out_seen_ms) {
        pc->out_seen = out + unacked; /* moved (or first seen): it waits from now */
        pc->out_seen_ms = now;
        return false;
    }
    return now - pc->out_seen_ms >= grace_ms;
}

/* Keeps the want longest waiting (the smallest since); of two equal, the one offered later. */
static void offer(room_picks *r, const room_pick *p)
{
    size_t i = r->n;
    while (i > 0 && r->pick[i - 1].since >= p->since)
        i--;
    if (i >= r->want)
        return;
    size_t keep = r->n < r->want ? r->n : r->want - 1;
    memmove(r->pick + i + 1, r->pick + i, (keep - i) * sizeof(room_pick));
    r->pick[i] = *p;
    r->n = keep + 1;
}

/* An agent sends ready as soon as its upgrade is answered: one that has not within the grace
 * holds a place as a slow head does (session_info.closable). */
static void offer_session(void *ud, session *s, const session_info *i)
{
    if (i->closable)
        offer(ud, &(room_pick){.s = s, .since = i->since_ms, .kind = ROOM_READY});
}

void pconn_make_room(void *ud)
{
    server *srv = ud;
    size_t open = session_count(srv) + pconn_count(srv);
    room_picks r = {.n = 0};
    /* as nginx: an eighth of them, 1 to 32 */
    r.want = open / 8 > PCONN_DRAIN_MAX ? PCONN_DRAIN_MAX : open / 8 ? open / 8 : 1;
    uint64_t now = clock_now_ms(), grace = srv->cfg->head_grace_ms;
    /* newest first (the list's order): the newest, just accepted, is never one; of two that
     * began to wait at the same moment the one accepted first goes first */
    for (pconn *pc = srv->pconns ? srv->pconns->next : NULL; pc; pc = pc->next) {
        room_kind kind = ROOM_IDLE;
        if (pc_closable(pc, now, grace, &kind))
            offer(&r, &(room_pick){.pc = pc, .since = pc->wait_ms, .kind = kind});
        else if (pc_stalled(pc, now, grace))
            offer(&r, &(room_pick){.pc = pc, .since = pc->out_seen_ms, .kind = ROOM_STALLED});
    }
    session_each(srv, offer_session, &r);
    size_t n[ROOM_KINDS] = {0};
    for (size_t i = 0; i < r.n; i++) {
        room_pick *p = &r.pick[i];
        n[p->kind]++;
        if (p->s) {
            session_drop(p->s, "--max-connections");
            continue;
        }
        p->pc->st = PC_GONE;
        pc_settle(p->pc); /* its place is released */
    }
    if (r.n == 0)
        return;
    for (room_kind k = 0; srv->metrics && k < ROOM_KINDS; k++)
        metrics_on_room_made(srv->metrics, k, n[k]);
    TLOG_D(srv->log,
           "--max-connections reached: %zu closed to make room (%zu idle, %zu in a head or TLS "
           "handshake, %zu lingering, %zu answers stalled, %zu agents without ready; %llu ms of "
           "grace)",
           r.n, n[ROOM_IDLE], n[ROOM_HEAD], n[ROOM_LINGER], n[ROOM_STALLED], n[ROOM_READY],
           (unsigned long long)grace);
}
