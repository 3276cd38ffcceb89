/* SPDX-License-Identifier: MIT */
/* mem_budget.h - memory many holders share, each counted beyond a share of its own: a holder
 * says how many bytes it holds now, and what passes its share is counted in the budget's used,
 * never past its limit. So that many peers each holding up to a per-holder bound (an agent's
 * message in progress, a response head queued toward a client that does not read) cannot make
 * the process hold that bound times their number, as nginx bounds the
 * large_client_header_buffers a connection may take. Used by lib/ws.h (ws_budget: agents'
 * messages in progress) and ttfd (agents' response heads held, server/srv.h).
 * Owns nothing; single-threaded (the loop's). */
#ifndef TUNNEL_MEM_BUDGET_H
#define TUNNEL_MEM_BUDGET_H

#include <stdbool.h>
#include <stddef.h>

/* Zeroed, with limit set by its owner. */
typedef struct mem_budget {
    size_t limit; /* bytes over all holders beyond their shares; 0: no limit */
    size_t used;
} mem_budget;

/* A holder now holds held bytes, of which share are its own: *charged (what it counts in b's
 * used, 0 at first) becomes held - share (0 if less). true; false when that would take b past
 * its limit (nothing changed: the caller drops what it would have held). Less than before is
 * never refused: mem_budget_charge(b, &charged, share, 0) gives everything back. b NULL: true,
 * nothing counted. */
bool mem_budget_charge(mem_budget *b, size_t *charged, size_t share, size_t held);

#endif
