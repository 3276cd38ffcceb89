/* SPDX-License-Identifier: MIT */
/* agent_cap.c - see agent_cap.h. */
#include "agent_cap.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "session.h"

/* One look over the sessions: how many there are, all and from the address, and the longest
 * waiting closable one (session_info.closable), of all and of the address. */
typedef struct cap_look {
    const char *ip;
    size_t all, same;
    session *any_s, *same_s;
    uint64_t any_ms, same_ms;
} cap_look;

/* The list is the newest first: of two upgraded in the same ms, the one seen last goes first. */
static void look(void *ud, session *s, const session_info *i)
{
    cap_look *l = ud;
    bool same = strcmp(i->ip, l->ip) == 0;
    l->all++;
    l->same += same;
    if (!i->closable)
        return;
    if (!l->any_s || i->since_ms <= l->any_ms) {
        l->any_s = s;
        l->any_ms = i->since_ms;
    }
    if (same && (!l->same_s || i->since_ms <= l->same_ms)) {
        l->same_s = s;
        l->same_ms = i->since_ms;
    }
}

bool agent_cap_admit(server *srv, const char *ip, char *why, size_t cap)
{
    const server_config *cfg = srv->cfg;
    for (;;) { /* each drop is one session fewer: this ends */
        cap_look l = {.ip = ip};
        session_each(srv, look, &l);
        bool ip_full = cfg->max_agents_ip && l.same >= cfg->max_agents_ip;
        bool all_full = cfg->max_agents && l.all >= cfg->max_agents;
        if (!ip_full && !all_full)
            return true;
        session *room = ip_full ? l.same_s : l.any_s;
        const char *opt = ip_full ? "--max-agents-per-ip" : "--max-agents";
        if (!room) {
            snprintf(why, cap, "too many agents connected%s (ttfd's %s %zu): try again later",
                     ip_full ? " from this address" : "", opt,
                     ip_full ? cfg->max_agents_ip : cfg->max_agents);
            return false;
        }
        session_drop(room, opt);
    }
}
