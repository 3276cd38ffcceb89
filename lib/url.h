/* SPDX-License-Identifier: MIT */
/* url.h - parsing the agent's endpoint URL (ws://, wss://, http://, https://). */
#ifndef TUNNEL_URL_H
#define TUNNEL_URL_H

#include <stdbool.h>

typedef struct tunnel_url {
    bool tls;        /* wss or https */
    char host[256];  /* without brackets for IPv6 */
    int port;        /* default 80 / 443 */
    char path[1024]; /* path + query, "/" when empty */
} tunnel_url;

/* 0, or -1 for an unknown scheme, a missing host, a bad port, or a too-long part. */
int tunnel_url_parse(const char *s, tunnel_url *out);

#endif
