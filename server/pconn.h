/* SPDX-License-Identifier: MIT */
/* pconn.h - public connections: accept (plain or TLS, through lib/conn), parse each request head
 * once (lib/http1, strict), route it (subdomain, path, or the agent endpoint /_tunnel), open a
 * stream on the tunnel's mux (mux.h) and run the exchange: request body out decoded, response in
 * framed by ttfd (lib/resp_frame.h), keep-alive and pipelining, the header/body/request deadlines,
 * the per-request log line. Internals: pconn_int.h.
 * Owns: each connection's conn, parser, exchange and stream handle. */
#ifndef TTFD_PCONN_H
#define TTFD_PCONN_H

#include <stddef.h>
#include <sys/socket.h>

#include "srv.h"

/* A new public connection on fd (non-blocking, now the module's). 0, or -1 when it could not be
 * served (no memory): fd is closed then without a connection, so no release hook runs for it. */
int pconn_accept(server *srv, int fd, const struct sockaddr *sa);
/* Frees every public connection (their streams are cancelled). */
void pconn_free_all(server *srv);
/* At --max-connections (listener_on_full; ud: the server): makes room for a newcomer by closing
 * an eighth of the connections (1 to PCONN_DRAIN_MAX) among those that may go, the longest
 * waiting first, never the newest public one (pconn_room.c):
 * - public ones waiting for a request head (in no request, nothing of ours going out), since
 *   their accept or the end of their last exchange: one kept alive between requests that sent
 *   no octet of the next at once, as nginx's ngx_drain_connections closes its reusable
 *   connections when worker_connections run out; any other (a new one, idle or in its TLS
 *   handshake or first head; a kept-alive one into its next head) once it has waited
 *   cfg->head_grace_ms: so a client or agent that sends its head at once is never closed, and
 *   slow ones (slowloris heads, dribbled ClientHellos) do not hold the cap until
 *   --header-timeout;
 * - public ones whose answers are whole (no request in progress) but whose client has taken
 *   none of them for grace_ms (--send-timeout would wait 60 s; --max-streams does not count
 *   them);
 * - public ones lingering after their last answer for the client's close (TTFD_LINGER_SEC),
 *   that answer written whole and acknowledged by the client, once they lingered grace_ms;
 * - agents' sessions that sent no ready (TTFD_READY_SEC), grace_ms after their upgrade.
 * Requests in progress (a body still uploading too), answers a client is taking, upgraded pipes and
 * agents' sessions once ready are never closed so. */
#define PCONN_DRAIN_MAX 32
void pconn_make_room(void *srv);
/* Public connections open (the metrics gauge). */
size_t pconn_count(const server *srv);

#endif
