/* SPDX-License-Identifier: MIT */
/* listener.h - ttfd's listening socket, with a back-off at resource exhaustion.
 * When accept(2) fails (EMFILE, ENFILE, ENOBUFS, ENOMEM, or anything else that is not a retry),
 * accepting stops for a while, as nginx and HAProxy do, instead of failing again at once in a
 * busy loop: 100 ms at first, doubling up to 1 s while the failures go on, back to 100 ms after
 * an accept succeeds. It resumes at once when one of the process's connections closes
 * (listener_resume, from lib/conn's release hook), since that frees a descriptor. Failures are
 * logged once per second at most, with their count. Connections already accepted are served as
 * usual meanwhile; new ones wait in the kernel's accept queue.
 * A cap on the connections open at once (ttfd --max-connections, HAProxy's maxconn): once that
 * many are accepted and not yet released, accepting stops (evconnlistener_disable, no busy loop)
 * until one is released; new ones wait in the kernel's accept queue meanwhile. Before it stops,
 * the owner may make room (listener_on_full: nginx closes idle keep-alive connections when its
 * worker_connections run out, ngx_drain_connections), so that a flood of idle or slow clients
 * cannot lock out an agent that reconnects. While paused at the cap with a connection waiting
 * in the kernel's queue, it asks for room again every 250 ms (what could not be closed at the
 * last accept may be closable now), and accepts once some was made.
 * Owns: the evconnlistener (and so the socket), its resume timer and its room timer. */
#ifndef TTFD_LISTENER_H
#define TTFD_LISTENER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "log.h"

struct event_base;
typedef struct listener listener;

/* A new connection: fd is non-blocking and the callee's. */
typedef void (*listener_accept_fn)(void *ud, int fd, const struct sockaddr *sa);

/* Binds and listens on sa (SO_REUSEADDR); at most max accepted connections open at once (0: no
 * limit), each counted until listener_release. NULL with errno set. */
listener *listener_new(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
                       size_t max, const tlog *log, listener_accept_fn fn, void *ud);
void listener_free(listener *l); /* NULL is allowed */
int listener_fd(const listener *l);
/* Times accepting paused after a failure, since the start (metrics). */
uint64_t listener_backoffs(const listener *l);
/* Times accepting paused at the cap (max), since the start (metrics). */
uint64_t listener_fulls(const listener *l);
/* fn(ud) runs when an accept brings the open connections to the cap: it may close some of them
 * (each close releases its place, listener_release); accepting stops only when none was, and
 * fn runs again every 250 ms while a connection waits in the kernel's queue. */
void listener_on_full(listener *l, void (*fn)(void *ud), void *ud);
/* Stops accepting for good (shutdown). */
void listener_stop(listener *l);
/* An accepted connection was closed (its descriptor freed; lib/conn's release hook, or the
 * accept callback's own failure): one place more under the cap, and accepting again now if
 * paused by a failure. */
void listener_release(void *l);

#endif
