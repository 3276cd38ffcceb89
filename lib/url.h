/* SPDX-License-Identifier: MIT */
/* url.h - parsing the agent's endpoint URL (ws://, wss://, http://, https://), and
 * percent-encoding (RFC 3986 §2.1) for paths built or repaired from raw bytes.
 * Owns nothing: tunnel_url is the caller's; url_pct_encode's string is malloc'd for the caller. */
#ifndef TUNNEL_URL_H
#define TUNNEL_URL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tunnel_url {
    bool tls;        /* wss or https */
    char host[256];  /* without brackets for IPv6 */
    int port;        /* default 80 / 443 */
    char path[1024]; /* path + query, "/" when empty */
} tunnel_url;

/* 0, or -1 for an unknown scheme, a missing host, a bad port, or a too-long part. */
int tunnel_url_parse(const char *s, tunnel_url *out);

/* Percent-encodes s[0..n) into out: ALPHA, DIGIT and the bytes listed in keep pass, every other
 * byte becomes "%XX" (upper-case hex, RFC 3986 §2.1). out must hold 3n + 1 bytes; it is
 * NUL-terminated. Returns the length written. */
size_t url_pct_encode_into(char *out, const char *s, size_t n, const char *keep);
/* The same, malloc'd; NULL when out of memory. */
char *url_pct_encode(const char *s, size_t n, const char *keep);

#endif
