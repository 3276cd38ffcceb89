/* SPDX-License-Identifier: MIT */
/* logbuf.h - log lines gathered in memory and written to a file descriptor once per event-loop
 * pass: a busy agent logs one line per request, and one write(2) per pass instead of one per
 * line saves a system call per request. Lines keep their order; nothing is lost at exit
 * (logbuf_free writes what is left).
 * Owns: its stdio cookie stream, the pending bytes and the flush event. */
#ifndef TTF_LOGBUF_H
#define TTF_LOGBUF_H

#include <stdio.h>

struct event_base;
typedef struct logbuf logbuf;

/* Lines written to logbuf_file(lb) reach fd at the end of the current loop pass. NULL on
 * ENOMEM. */
logbuf *logbuf_new(struct event_base *base, int fd);
FILE *logbuf_file(const logbuf *lb);
/* Writes what is pending, closes the stream. NULL is allowed. */
void logbuf_free(logbuf *lb);

#endif
