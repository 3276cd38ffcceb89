/* SPDX-License-Identifier: MIT */
/* logbuf.h - log lines gathered in memory and written to a file descriptor once per event-loop
 * pass, for ttfd and ttf: both log one line per request, and one write(2) per pass instead of
 * one per line saves a system call per request. Lines keep their order; a backlog over 1 MiB is
 * written at once; nothing is lost at exit (logbuf_free writes what is left, waiting up to 1 s
 * for a full pipe).
 * Owns: its stdio cookie stream, the pending bytes and the flush event. */
#ifndef TUNNEL_LOGBUF_H
#define TUNNEL_LOGBUF_H

#include <stdio.h>

struct event_base;
typedef struct logbuf logbuf;

/* Lines written to logbuf_file(lb) reach fd at the end of the current loop pass. NULL on
 * ENOMEM. */
logbuf *logbuf_new(struct event_base *base, int fd);
FILE *logbuf_file(const logbuf *lb);
/* A whole line (or several) into the pending bytes without stdio: a tlog sink (log.h), with lb
 * as its sink_ud. Lines written to logbuf_file(lb) stay in order with it once flushed. */
void logbuf_add(void *lb, const char *line, size_t n);
/* Writes what is pending, closes the stream. NULL is allowed. */
void logbuf_free(logbuf *lb);

#endif
