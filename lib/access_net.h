/* SPDX-License-Identifier: MIT */
/* access_net.h - client addresses and networks for edge access control (access.h): parsing and
 * printing IPv4/IPv6 addresses and CIDR networks, X-Forwarded-For hops, the client address of a
 * request behind trusted proxies, and the key a rate limit counts a client under.
 * Owns nothing; pure functions. */
#ifndef TUNNEL_ACCESS_NET_H
#define TUNNEL_ACCESS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1.h"

struct sockaddr;

#define ACCESS_RATE_KEY_MAX 9 /* access_rate_key() output, bytes */

/* A client address. family 0 = unknown (an X-Forwarded-For hop that is no address): it is in
 * no network. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are stored as IPv4. */
typedef struct access_addr {
    int family;    /* AF_INET, AF_INET6 or 0 */
    uint8_t b[16]; /* network order; IPv4 in b[0..3] */
} access_addr;

/* A network: an address and a prefix length (host bits cleared). */
typedef struct access_net {
    int family;
    uint8_t b[16];
    unsigned bits; /* 0..32 or 0..128 */
} access_net;

/* "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1" (IPv4). 0, or -1 when s is no address. */
int access_addr_parse(const char *s, access_addr *out);
/* The address of a socket's peer (accept's sockaddr): AF_INET, or AF_INET6 (IPv4-mapped ones
 * as IPv4); family 0 for any other family. */
void access_addr_of_sockaddr(const struct sockaddr *sa, access_addr *out);
/* One X-Forwarded-For hop: an address, optionally with a port ("192.0.2.1:4711",
 * "[2001:db8::1]:4711") or in brackets. 0 or -1. */
int access_addr_parse_hop(const char *s, size_t n, access_addr *out);
/* Text form ("unknown" for family 0) into out (at least 46 bytes). */
void access_addr_format(const access_addr *a, char *out, size_t cap);
/* "10.0.0.0/8", "2001:db8::/32", or an address alone (/32, /128). Host bits are cleared
 * (192.168.1.7/24 is 192.168.1.0/24). 0, or -1 with a reason in *why (static string). */
int access_net_parse(const char *s, access_net *out, const char **why);
bool access_net_contains(const access_net *n, const access_addr *a);
/* "10.0.0.0/8" into out (at least 50 bytes). */
void access_net_format(const access_net *n, char *out, size_t cap);
/* The key the rate limit counts a client under: its IPv4 address, or its IPv6 /64 (one host
 * usually holds a whole /64), or one key for all unknown addresses. Returns the length. */
size_t access_rate_key(const access_addr *a, uint8_t out[ACCESS_RATE_KEY_MAX]);

/* The client of a request that came from peer. peer itself, unless peer is in trusted (ttfd
 * --trusted-proxy): then the X-Forwarded-For hops (every such field, in order) are read from
 * the right, skipping trusted proxies; the first other hop is the client (family 0 when it is
 * no address); when every hop is trusted, the leftmost one. X-Forwarded-For is never read
 * without a trusted peer. */
void access_client_addr(const access_net *trusted, size_t ntrusted, const access_addr *peer,
                        const http_headers *h, access_addr *out);

/* Is a in one of the n networks of v? */
bool access_in_nets(const access_net *v, size_t n, const access_addr *a);

#endif
