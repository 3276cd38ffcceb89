/* SPDX-License-Identifier: MIT */
/* listener.h - ttfd's listening socket, with a back-off at resource exhaustion.
 * When accept(2) fails (EMFILE, ENFILE, ENOBUFS, ENOMEM, or anything else that is not a retry),
 * accepting stops for a while, as nginx and HAProxy do, instead of failing again at once in a
 * busy loop: 100 ms at first, doubling up to 1 s while the failures go on, back to 100 ms after
 * an accept succeeds. It resumes at once when one of the process's connections closes
 * (listener_resume, from lib/conn's release hook), since that frees a descriptor. Failures are
 * logged once per second at most, with their count. Connections already accepted are served as
 * usual meanwhile; new ones wait in the kernel's accept queue.
 * Owns: the evconnlistener (and so the socket) and its resume timer. */
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

/* Binds and listens on sa (SO_REUSEADDR). NULL with errno set. */
listener *listener_new(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
                       const tlog *log, listener_accept_fn fn, void *ud);
void listener_free(listener *l); /* NULL is allowed */
int listener_fd(const listener *l);
/* Times accepting paused after a failure, since the start (metrics). */
uint64_t listener_backoffs(const listener *l);
/* Stops accepting for good (shutdown). */
void listener_stop(listener *l);
/* A descriptor was freed: accept again now if paused by a failure. */
void listener_resume(void *l);

#endif
