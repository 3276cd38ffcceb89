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
/* Public connections open (the metrics gauge). */
size_t pconn_count(const server *srv);

#endif
