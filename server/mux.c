/* SPDX-License-Identifier: MIT */
/* mux.c - what both muxes share (see mux.h). */
#include <stdio.h>

#include "clock.h"
#include "mux.h"

bool mux_warn_allowed(mux_ident *id)
{
    uint64_t now = clock_now_ms();
    if (now - id->warn_window_ms >= MUX_WARN_WINDOW_MS) {
        if (id->warn_dropped)
            TLOG_W(id->log, "tunnel %s (agent %s): %u more warnings about this agent dropped",
                   id->tunnel[0] ? id->tunnel : "-", id->agent, id->warn_dropped);
        id->warn_window_ms = now;
        id->warn_count = id->warn_dropped = 0;
    }
    if (id->warn_count < MUX_WARN_BURST) {
        id->warn_count++;
        return true;
    }
    id->warn_dropped++;
    return false;
}

void mux_set_max_streams(mux *m, size_t n)
{
    m->max_streams = n;
}

void mux_set_budget(mux *m, mux_budget *b)
{
    m->budget = b;
}

void mux_stream_added(mux *m)
{
    if (m->budget)
        m->budget->open++;
}

void mux_stream_gone(mux *m)
{
    if (m->budget && m->budget->open > 0)
        m->budget->open--;
}

static bool budget_full(mux_budget *b, const tlog *log)
{
    if (!b || !b->max || b->open < b->max)
        return false;
    unsigned long long since;
    if (tlog_every_due(&b->warn, clock_now_ms(), MUX_WARN_WINDOW_MS, &since))
        TLOG_W(log,
               "%zu exchanges in progress over all agents, ttfd's --max-streams: 503 until one "
               "ends (%llu refused since the last warning)",
               b->open, since);
    return true;
}

mux_admit mux_admit_stream(mux *m)
{
    if (budget_full(m->budget, m->id.log))
        return MUX_ADMIT_SERVER_FULL;
    size_t open = m->vt->streams(m);
    if (!m->max_streams || open < m->max_streams)
        return MUX_ADMIT_OK;
    MUX_WARN(&m->id,
             "tunnel %s (agent %s): %zu exchanges in progress, its --max-streams-per-agent: "
             "503 until one ends",
             m->id.tunnel[0] ? m->id.tunnel : "-", m->id.agent, open);
    return MUX_ADMIT_AGENT_FULL;
}

bool mux_client_reads(const mux_stream *s)
{
    return !s->up->peer_window || s->up->peer_window(s->ud) >= FLOW_CREDIT_MARK;
}

void mux_set_held_budget(mux *m, mem_budget *b, size_t share)
{
    m->held = b;
    m->head_share = share;
}

void mux_set_tunnel(mux *m, const char *tunnel)
{
    snprintf(m->id.tunnel, sizeof m->id.tunnel, "%s", tunnel ? tunnel : "");
}
