/* SPDX-License-Identifier: MIT */
/* agent_cap.h - the caps on agents' links: --max-agents over all addresses (by default half of
 * --max-connections) and --max-agents-per-ip from one peer address. Room-making at
 * --max-connections never closes a ready agent's session (pconn.h), so without them agents' links
 * alone could fill --max-connections and lock every public client out; one address could take
 * every place the agents have. At either cap a link of the same scope whose upgrade is a grace
 * (--max-connections' head grace) old and that has sent no ready is closed to make room, the
 * longest waiting first, as at --max-connections; else the upgrade is refused: 503 with
 * Retry-After, as nginx's limit_conn answers beyond its count ($binary_remote_addr: the peer's
 * whole address), and ttf tries again later. Checked before the upgrade's token (nginx's
 * limit_conn runs before its access phase too): the links it may close are past the grace of a
 * slow head, as any newcomer closes at --max-connections.
 * Owns nothing. */
#ifndef TTFD_AGENT_CAP_H
#define TTFD_AGENT_CAP_H

#include <stdbool.h>
#include <stddef.h>

#include "srv.h"

/* Whether an agent's upgrade from ip may have a session now (room made if need be); false with
 * why (a short text for the answer and the log, cap bytes) filled in. */
bool agent_cap_admit(server *srv, const char *ip, char *why, size_t cap);

#endif
