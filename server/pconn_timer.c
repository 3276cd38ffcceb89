/* SPDX-License-Identifier: MIT */
/* pconn_timer.c - a public connection's one deadline (see pconn_int.h, pc_timer): which period the
 * state calls for (--header-timeout, --body-timeout, --request-timeout, the drain, the linger, an
 * upgraded connection's --tunnel-timeout and --half-close-timeout, and --half-close-timeout for a
 * client that sent its FIN after its whole request),
 * armed once on lib/conn's deadline and re-armed lazily when progress moved it on, and what its
 * expiry does (408, 504, the close). */
#include "pconn_int.h"

#include "clock.h"
#include "log.h"

static unsigned period_ms(const pconn *pc, pc_timer t)
{
    const server_config *cfg = pc->srv->cfg;
    switch (t) {
    case T_HEADER:
        return (unsigned)cfg->header_timeout * 1000u;
    case T_BODY:
        return (unsigned)cfg->body_timeout * 1000u;
    case T_REQUEST:
        return (unsigned)cfg->request_timeout * 1000u;
    case T_DRAIN:
        return PC_DRAIN_MS;
    case T_LINGER:
        return TTFD_LINGER_SEC * 1000u;
    case T_TUNNEL:
        return (unsigned)cfg->tunnel_timeout * 1000u;
    case T_HALF:
        return (unsigned)cfg->half_close_timeout * 1000u;
    case T_NONE:
        break;
    }
    return 0;
}

/* The client sent its FIN after its whole request (a half-close, or a client that left): the
 * answer still goes out, but --half-close-timeout of nothing toward it ends the exchange
 * (HAProxy's `timeout client-fin`; Go tunnels and nginx end it at the FIN itself). */
static bool half_closed(const pconn *pc)
{
    const exchange *x = &pc->x;
    return pc->st == PC_XCHG && pc->fin_ms && x->req_done && !x->upgrade &&
           pc->srv->cfg->half_close_timeout > 0;
}

/* When the period t began: a half-closed exchange's at its FIN or the last octets toward it. */
static uint64_t period_start(const pconn *pc, pc_timer t)
{
    return t == T_HALF && pc->st == PC_XCHG ? pc->fin_ms : pc->progress_ms;
}

/* Arms the deadline for t, its period starting at start_ms (no change when already armed for
 * t: a period that moved on is re-armed lazily when it fires). */
static void set_timer(pconn *pc, pc_timer t, uint64_t start_ms)
{
    if (!pc->c || pc->timer == t)
        return;
    pc->timer = t;
    pc->timer_ms = start_ms;
    if (t == T_NONE) {
        conn_set_deadline(pc->c, 0);
        return;
    }
    uint64_t now = clock_now_ms(), end = start_ms + period_ms(pc, t);
    conn_set_deadline(pc->c, end > now ? (unsigned)(end - now) : 1);
}

void pc_update_timer(pconn *pc)
{
    exchange *x = &pc->x;
    switch (pc->st) {
    case PC_HEAD:
        /* a TLS handshake counts as part of the first head (nginx's client_header_timeout) */
        if (pc->head_started || (pc->c && conn_handshaking(pc->c)))
            set_timer(pc, T_HEADER, pc->timer == T_HEADER ? pc->timer_ms : clock_now_ms());
        else
            set_timer(pc, T_NONE, 0);
        break;
    case PC_XCHG:
        if (half_closed(pc)) {
            /* --request-timeout still bounds the wait for a head, when it ends first */
            uint64_t half_end = pc->fin_ms + period_ms(pc, T_HALF);
            bool req = !x->resp_head && pc->srv->cfg->request_timeout > 0 &&
                       pc->progress_ms + period_ms(pc, T_REQUEST) < half_end;
            set_timer(pc, req ? T_REQUEST : T_HALF, req ? pc->progress_ms : pc->fin_ms);
        } else if (x->resp_head)
            set_timer(pc, T_NONE, 0);
        else if (!x->req_done && !x->upgrade && conn_reading(pc->c))
            set_timer(pc, T_BODY, pc->progress_ms); /* waiting for the client's body */
        else
            set_timer(pc, T_REQUEST, pc->progress_ms); /* waiting for the tunnel */
        break;
    case PC_PIPE: {
        /* idle both ways (HAProxy's timeout tunnel), or after one side's FIN (client-fin) */
        pc_timer t = (x->req_done || x->resp_done) && pc->srv->cfg->half_close_timeout > 0
                         ? T_HALF
                         : T_TUNNEL;
        set_timer(pc, period_ms(pc, t) ? t : T_NONE, pc->progress_ms);
        break;
    }
    case PC_DRAIN:
        set_timer(pc, T_DRAIN, pc->timer == T_DRAIN ? pc->timer_ms : clock_now_ms());
        break;
    case PC_CLOSING:
        set_timer(pc, T_LINGER, pc->timer == T_LINGER ? pc->timer_ms : clock_now_ms());
        break;
    case PC_GONE:
        break;
    }
}

/* A client that sent its FIN after its whole request and got nothing for --half-close-timeout:
 * gone, as a client that left (pc_client_left), its answer cut short if it began. */
static void client_fin_expired(pconn *pc)
{
    TLOG_I(pc->srv->log,
           "client %s half-closed after its request and nothing went toward it for %d s "
           "(--half-close-timeout): taken as gone, %s",
           pc->ip, pc->srv->cfg->half_close_timeout,
           pc->x.resp_head ? "its answer cut short" : "no answer head sent (499)");
    xchg_end_stream(pc, MUX_CANCEL, "the client left (its FIN, then --half-close-timeout)");
    pc_client_left(pc, "its FIN, then --half-close-timeout");
}

void pc_on_deadline(pconn *pc)
{
    pc_timer t = pc->timer;
    uint64_t now = clock_now_ms();
    pc->timer = T_NONE;
    /* answer octets a half-closed client took since the last look (its output shrank): it reads
     * them, it is there. At the first look since the period last began (octets written, its FIN,
     * its exchange) there is nothing to compare with: octets waiting give it one more period.
     * One that takes none goes then, --send-timeout or not (it was held for ever at 0). */
    if (t == T_HALF && pc->st == PC_XCHG && pc->c) {
        size_t out = conn_out_len(pc->c);
        if (out > 0 && (out < pc->fin_out || pc->fin_out_ms != pc->fin_ms))
            pc->fin_ms = now;
        pc->fin_out = out;
        pc->fin_out_ms = pc->fin_ms;
    }
    /* body and request periods restart with progress: re-armed for what is left */
    if ((t == T_BODY || t == T_REQUEST || t == T_TUNNEL || t == T_HALF) &&
        now < period_start(pc, t) + period_ms(pc, t)) {
        set_timer(pc, t, period_start(pc, t));
        return;
    }
    switch (t) {
    case T_HEADER:
        if (!pc->head_started) {
            /* the TLS handshake, or the handshake and the wait for a first byte, took the
             * whole period: no request to answer, closed as nginx does */
            TLOG_D(pc->srv->log, "client %s: no TLS handshake and request in %d s", pc->ip,
                   pc->srv->cfg->header_timeout);
            pc->st = PC_GONE;
            break;
        }
        TLOG_D(pc->srv->log, "client %s: no whole request head in %d s", pc->ip,
               pc->srv->cfg->header_timeout);
        if (!pc->x.note.t0_us) /* the head's first byte */
            pc->x.note.t0_us = pc->timer_ms * 1000u;
        pc_fail(pc, 408, "request head not received in time (--header-timeout)");
        break;
    case T_BODY:
        xchg_end_stream(pc, MUX_CANCEL, "the client's request body stalled");
        pc_fail(pc, 408, "request body not received in time (--body-timeout)");
        break;
    case T_REQUEST:
        xchg_end_stream(pc, MUX_TIMEOUT, "no response in time");
        pc_answer(pc, EDGE_NO_ANSWER_IN_TIME);
        break;
    case T_DRAIN:
        pc_start_closing(pc); /* the rest of the body did not come in time */
        break;
    case T_LINGER:
        pc->st = PC_GONE;
        break;
    case T_TUNNEL:
    case T_HALF:
        if (t == T_HALF && pc->st == PC_XCHG) {
            client_fin_expired(pc);
            break;
        }
        TLOG_D(pc->srv->log, "client %s: upgraded connection idle for %d s (%s)", pc->ip,
               t == T_TUNNEL ? pc->srv->cfg->tunnel_timeout : pc->srv->cfg->half_close_timeout,
               t == T_TUNNEL ? "--tunnel-timeout" : "--half-close-timeout, one side ended");
        xchg_end_stream(pc, MUX_TIMEOUT, "the upgraded connection was idle");
        pc_close(pc);
        break;
    case T_NONE:
        break;
    }
}
