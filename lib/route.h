/* SPDX-License-Identifier: MIT */
/* route.h - which tunnel a public request is for, and the path the local service sees.
 * Pure functions over bytes: shared by ttfd and the Lambda so both route identically.
 * Owns nothing: pure functions; results go to the caller's route_result and fwd buffer. */
#ifndef TUNNEL_ROUTE_H
#define TUNNEL_ROUTE_H

#include <stddef.h>
#include "tunnel_id.h"

typedef enum { ROUTE_NONE = 0, ROUTE_SUBDOMAIN, ROUTE_PATH } route_mode;

typedef struct route_result {
    route_mode mode;
    char tunnel_id[TUNNEL_NAME_MAX + 1]; /* the tunnel's name (a random id or a chosen name) */
} route_result;

/* host: the Host header (may carry ":port", compared case-insensitively, IPv6 "[::1]:8080" ok).
 * target: the raw request target ("/abc123def456/x?y=1").
 * domain: the tunnel domain ("localhost", "tunnel.example.com").
 * Subdomain mode when host is exactly "<name>.<domain>" with one valid, unreserved label as the
 * name (tunnel_id.h); else path mode when the first path segment is such a name (lower case, as
 * stored); else ROUTE_NONE (the caller answers 404). A name found here may hold no tunnel.
 * fwd (room for target_len + 2 bytes) receives the target to forward, NUL-terminated: the whole
 * target in subdomain mode; in path mode the target without "/<id>" ("/" when nothing is left, the
 * query kept byte for byte: "/<id>?a=1" -> "/?a=1"). Returns the mode. */
route_mode route_resolve(const char *host, size_t host_len, const char *target, size_t target_len,
                         const char *domain, route_result *out, char *fwd, size_t *fwd_len);

#endif
