/* agent.h - ttf's lifecycle: connect, handshake, run a session, reconnect with backoff, stop on
 * SIGINT/SIGTERM. One agent per process, built in main and passed down (no globals).
 * Owns: the event base, the TLS context, the local pool, the current ws_client or session. */
#ifndef TTF_AGENT_H
#define TTF_AGENT_H

#include <stdio.h>

#include "config.h"
#include "log.h"

#define AGENT_EXIT_AUTH 2

/* Runs until a signal (returns 0), an authentication failure (AGENT_EXIT_AUTH) or a fatal setup
 * error (1). Tunnel lines go to out (stdout), logs to lg. */
int agent_run(const agent_config *cfg, const tlog *lg, FILE *out);

#endif
