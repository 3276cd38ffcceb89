/* SPDX-License-Identifier: MIT */
/* settings.h - what ttf's command line (config.c) and its config file (config_file.c) share:
 * one tunnel's settings (agent_tunnel), the wire-mode choice, and the parsers of a local service
 * address and of a Host mode, so that both read them with the same rules and messages.
 * Owns: the strings an agent_tunnel holds (agent_tunnel_free). */
#ifndef TTF_SETTINGS_H
#define TTF_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "rewrite.h"

typedef enum { PROTO_AUTO = 0, PROTO_BINARY, PROTO_JSON } agent_protocol;

/* One tunnel: a local service and what the server is asked for it. The command line makes one
 * (name NULL); `ttf --config FILE` makes one per entry of the file's `tunnels` (config_file.h).
 * Its index in agent_config.tunnels is its index on the wire (docs/protocol.md §1). */
typedef struct agent_tunnel {
    char *name;              /* the file's name for it; NULL for the command line's tunnel */
    char *local_host;        /* a name, an IPv4 or an IPv6 address (without brackets) */
    bool local_host_default; /* none was given: local_host is 127.0.0.1, and ::1 is tried too */
    bool local_tls;          /* https://: TLS to the local service, its certificate not verified */
    char *subdomain;         /* a chosen name (lower-cased, checked); NULL when none */
    char *host_header_name;  /* HOST_HEADER_NAME: the Host value */
    /* access control the server is asked to enforce (as written; checked by config.c) */
    char *basic_auth;
    char **allow_cidr, **deny_cidr;
    size_t nallow, ndeny;
    char *rate_limit;
    char *access_json; /* ready's `access` object for this tunnel (NULL: nothing asked) */
    int local_port;
    host_header_mode host_header;
} agent_tunnel;

/* "https" for a local service reached over TLS, else "http". */
const char *agent_tunnel_scheme(const agent_tunnel *t);
/* "host:port" as the local service expects it in Host ("[::1]:3000" for IPv6). */
void agent_tunnel_hostport(const agent_tunnel *t, char *out, size_t cap);
void agent_tunnel_free(agent_tunnel *t);

/* A local service as the positional argument or a config file's addr gives it: "3000",
 * "localhost:3000", "[::1]:3000", "http://host[:port][/]", "https://host[:port][/]" (port 443
 * by default; *tls set: ngrok's `ngrok http https://localhost:8443`). *host is replaced only when
 * the argument names one (malloc'd). what names the host in err. 0, or -1 with a reason in err
 * (then nothing is changed). */
int settings_parse_service(const char *arg, const char *what, char **host, int *port, bool *tls,
                           char *err, size_t errcap);
/* preserve | rewrite | a Host value (host[:port]); *name set (malloc'd) for the last. what names
 * the value in err. 0 or -1. */
int settings_parse_host_header(const char *v, const char *what, host_header_mode *mode, char **name,
                               char *err, size_t errcap);
/* A host: a name (letters, digits, '-', '.', '_'), an IPv4 address, or an IPv6 address with or
 * without brackets, stored in *dst without them (malloc'd). 0 or -1. */
int settings_set_host(char **dst, const char *what, const char *h, char *err, size_t errcap);

/* Strict decimal integer in [lo, hi] into *out. 0 or -1. */
int settings_parse_int(const char *s, long lo, long hi, int *out);
/* *dst becomes a copy of s (the old value freed). 0 or -1 (ENOMEM). */
int settings_set_str(char **dst, const char *s);

#endif
