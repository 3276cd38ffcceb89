/* SPDX-License-Identifier: MIT */
/* mem_budget.h - memory many holders share, each counted beyond a share of its own: a holder
 * says how many bytes it holds now, and what passes its share is counted in the budget's used,
 * never past its limit. So that many peers each holding up to a per-holder bound (an agent's
 * message in progress, an answer queued toward a client that does not read) cannot make the
 * process hold that bound times their number, as nginx bounds the large_client_header_buffers a
 * connection may take. And each holder belongs to a group (its peer's address), which may count
 * at most a MEM_BUDGET_GROUP_PARTS-th of the limit: one peer filling the whole budget would
 * otherwise have every other peer's holders refused, a memory attack turned into a denial of
 * service, as nginx's limit_conn counts per address. Used by lib/ws.h (agents' messages in
 * progress) and ttfd (agents' answers held, server/srv.h). Owns its groups (freed when they
 * count nothing); single-threaded (the loop's). */
#ifndef TUNNEL_MEM_BUDGET_H
#define TUNNEL_MEM_BUDGET_H

#include <stdbool.h>
#include <stddef.h>

/* One group counts at most limit / MEM_BUDGET_GROUP_PARTS. */
#define MEM_BUDGET_GROUP_PARTS 4
#define MEM_BUDGET_GROUP_MAX 64 /* a group's name: an IPv6 address in text fits */

/* Zeroed, with limit set by its owner. */
typedef struct mem_budget {
    size_t limit; /* bytes over all holders beyond their shares; 0: no limit (and no groups) */
    size_t used;
    struct mem_budget_group *groups; /* those counting bytes now (mem_budget.c) */
} mem_budget;

/* A holder of group (NUL-terminated, at most MEM_BUDGET_GROUP_MAX - 1 octets counted; NULL or ""
 * none: counted in the whole only) now holds held bytes, of which share are its own: *charged
 * (what it counts in b's used and its group's, 0 at first) becomes held - share (0 if less).
 * true; false when that would take b past its limit, or the group past limit /
 * MEM_BUDGET_GROUP_PARTS, or a new group cannot be allocated (nothing changed: the caller drops
 * what it would have held). A holder names the same group at every call. Less than before is
 * never refused: mem_budget_charge(b, group, &charged, share, 0) gives everything back. b NULL:
 * true, nothing counted. */
bool mem_budget_charge(mem_budget *b, const char *group, size_t *charged, size_t share,
                       size_t held);

/* What group counts in b now (0: none). */
size_t mem_budget_group_used(const mem_budget *b, const char *group);

#endif
