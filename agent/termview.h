/* SPDX-License-Identifier: MIT */
/* termview.h - ttf's terminal view: on a TTY, a live status block as ngrok's (session status,
 * forwarding URLs, inspector URL, connection counts, p50/p90 latency, the last requests, an
 * optional QR code of the public URL, the last log lines), redrawn in place with ANSI sequences
 * on the terminal's alternate screen, which is restored on exit.
 * Fed by the agent (session state, URLs) and by the observer interface (each exchange); log
 * lines written to termview_log_file() show in the block instead of tearing it.
 * Writes never block the event loop: a frame is written only when the terminal can take it (a
 * paused terminal just skips frames).
 * Owns: its redraw timer, SIGWINCH event, the log stream and the recent-requests ring. */
#ifndef TTF_TERMVIEW_H
#define TTF_TERMVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "observer.h"

struct event_base;
typedef struct termview termview;

#define TERMVIEW_RECENT 20    /* requests remembered for the list */
#define TERMVIEW_SAMPLES 1024 /* durations kept for p50/p90 */
#define TERMVIEW_LOG_LINES 4  /* log lines shown */

/* fd: the terminal (stdout). NULL on failure (not a terminal, no memory). */
termview *termview_new(struct event_base *base, int fd, const agent_config *cfg);
/* Restores the terminal, then prints the last log lines to err (so a fatal reason stays
 * visible). NULL is allowed. */
void termview_free(termview *tv, FILE *err);

exchange_observer termview_observer(termview *tv);
/* Log lines written here show in the block (NULL on failure). */
FILE *termview_log_file(termview *tv);

/* "online", "connecting", "reconnecting in 2.0s", ...; NULL URLs keep the old ones. */
void termview_session(termview *tv, const char *state, const char *public_url,
                      const char *path_url);
void termview_inspector(termview *tv, const char *url); /* NULL: "off" */
/* ttf --config: tunnel i of the config got public_url (a Forwarding line per tunnel). */
void termview_tunnel_url(termview *tv, size_t i, const char *public_url);

/* p-th percentile (0..100) of n values, nearest-rank; 0 when n is 0. Sorts v. (For tests.) */
uint64_t termview_percentile(uint64_t *v, size_t n, int p);

#endif
