/* SPDX-License-Identifier: MIT */
/* inspect.h - the inspector: a web page and a JSON API on a loopback port (default
 * 127.0.0.1:4040, as ngrok's), served by libevent's evhttp on ttf's event loop. Lists recent
 * exchanges live (server-sent events), shows one in detail, replays one (optionally edited).
 * README "Inspector" documents the routes.
 *
 * Security: the page renders captured (attacker-controlled) bytes as text only; every response
 * carries a restrictive Content-Security-Policy; requests whose Host is not an IP literal,
 * "localhost" or the bound name with our port are refused (DNS rebinding); POST and DELETE need
 * a same-origin Origin when one is sent, and POST needs a JSON body (no cross-site forms).
 * Owns: the evhttp server, the capture ring, the replay client, the event-stream clients. */
#ifndef TTF_INSPECT_H
#define TTF_INSPECT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "log.h"
#include "observer.h"

struct event_base;
typedef struct inspector inspector;

#define INSPECT_FALLBACK_PORTS 10 /* the default address tries port, port+1, ... port+9 */

/* Binds cfg->inspect_addr ("HOST:PORT", "[V6]:PORT" or "PORT"; port 0 = any). When the address
 * is the default one (not given), a port in use moves to the next, as ngrok does. NULL with a
 * reason in err (the caller goes on without an inspector). */
inspector *inspector_new(struct event_base *base, const agent_config *cfg, const tlog *lg,
                         char *err, size_t errcap);
void inspector_free(inspector *in); /* ends the stream clients and in-flight replays */

/* "http://127.0.0.1:4040" */
const char *inspector_url(const inspector *in);
/* The observer that captures exchanges (valid until inspector_free). */
exchange_observer inspector_observer(inspector *in);
/* What /api/status reports about the tunnel; strings are copied. NULL keeps the old value. */
void inspector_set_tunnel(inspector *in, const char *state, const char *public_url,
                          const char *path_url);
/* ttf --config: tunnel i of the agent's config (its name and local service) has public_url
 * (NULL: none now). /api/status lists them as tunnels[]. */
void inspector_set_tunnel_url(inspector *in, size_t i, const char *public_url);

/* Parses an --inspect address: host (without brackets) into host, port into *port.
 * "4040" -> 127.0.0.1:4040. 0 or -1. (For tests.) */
int inspector_parse_addr(const char *addr, char *host, size_t hostcap, int *port);
/* True when a Host header value names this inspector (see above). (For tests.) */
bool inspector_host_allowed(const char *host_header, const char *bound_host, int port);

#endif
