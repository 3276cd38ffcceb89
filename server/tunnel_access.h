/* SPDX-License-Identifier: MIT */
/* tunnel_access.h - ttfd's gate of one tunnel: the access policy its agent asked for in ready
 * (lib/access.h) with the rate limit's buckets (lib/ratelimit.h: token buckets per client
 * address, IPv6 per /64), and the decision for each public request routed to the tunnel,
 * taken before anything of the request reaches the agent.
 *
 * Hook (pconn, after routing, before the request goes to the agent): tunnel_access_admit; on
 * a refusal answer with access_refusal_http() and close. Owned by the tunnel (today: the agent
 * session, struct agent.access; with several tunnels per connection, each tunnel has its own).
 * Owns: its policy and buckets. */
#ifndef TTFD_TUNNEL_ACCESS_H
#define TTFD_TUNNEL_ACCESS_H

#include <stddef.h>
#include <stdint.h>

#include "access.h"

#define TUNNEL_ACCESS_RATE_KEYS 4096 /* client buckets per tunnel (then one shared bucket) */

typedef struct tunnel_access tunnel_access;

/* Takes policy (NULL: nothing to enforce, *out NULL). 0, or -1 when out of memory (policy
 * freed): the tunnel must then not be opened, never opened without its gate. */
int tunnel_access_new(access_policy *policy, tunnel_access **out);
void tunnel_access_free(tunnel_access *t);                         /* NULL is allowed */
const access_policy *tunnel_access_policy(const tunnel_access *t); /* NULL for t NULL */

/* A connection's TCP peer, taken from its sockaddr and printed once (when accepted) for all its
 * requests. */
typedef struct tunnel_peer {
    access_addr addr; /* access_addr_of_sockaddr: IPv4-mapped IPv6 as IPv4 */
    char text[48];    /* access_addr_format(&addr) */
} tunnel_peer;
void tunnel_peer_init(tunnel_peer *p, const struct sockaddr *sa);

/* The client's address: the peer's, or behind a trusted front proxy the one X-Forwarded-For
 * names (access.h access_client_addr), into *addr (NULL: not wanted) and printed into client
 * (cap bytes, >= 48). */
void tunnel_client_addr(const access_net *trusted, size_t ntrusted, const tunnel_peer *peer,
                        const http_headers *h, access_addr *addr, char *client, size_t cap);

/* Decides a public request routed to the tunnel (t NULL: no policy, allowed).
 * peer: the TCP peer (tunnel_peer_init); trusted/ntrusted: ttfd --trusted-proxy (the client is
 * then read from X-Forwarded-For, access.h); h: the request's header fields, from which the
 * Authorization field is removed when it carried the tunnel's basic credentials; now_ms: a
 * monotonic clock. client (cap bytes, >= 48) receives the client address for logs. */
access_result tunnel_access_admit(tunnel_access *t, const access_net *trusted, size_t ntrusted,
                                  const tunnel_peer *peer, http_headers *h, int64_t now_ms,
                                  access_verdict *v, char *client, size_t cap);

#endif
