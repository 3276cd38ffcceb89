/* SPDX-License-Identifier: MIT */
/* agent.h - ttf's lifecycle: connect, handshake, run a session, reconnect with backoff, stop on
 * SIGINT/SIGTERM. One agent per process, built in main and passed down (no globals).
 * Owns: the event base, the TLS context, the local pool, the current ws_client or session. */
#ifndef TTF_AGENT_H
#define TTF_AGENT_H

#include <stdio.h>

#include "config.h"
#include "log.h"

/* Exit statuses of ttf (README "ttf options"). */
#define AGENT_EXIT_FAIL                                                                            \
    1                      /* a failure retrying cannot fix: no tunnel endpoint there (404),       \
                              TLS verification, wrong scheme, a chosen name refused, setup */
#define AGENT_EXIT_USAGE 2 /* bad command line */
#define AGENT_EXIT_AUTH 2  /* the server refused the token (401/403) */

/* Runs until a signal (returns 0), an authentication failure (AGENT_EXIT_AUTH) or a failure
 * retrying cannot fix (AGENT_EXIT_FAIL; before the first tunnel only: a server that worked once
 * is retried). Tunnel lines go to out (stdout), logs to lg. */
int agent_run(const agent_config *cfg, const tlog *lg, FILE *out);

#endif
