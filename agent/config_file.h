/* SPDX-License-Identifier: MIT */
/* config_file.h - `ttf --config FILE`: a YAML file in the shape of ngrok's agent configuration
 * (README "Several tunnels: ttf --config"), read with libyaml (YAML 1.1, yaml-0.1):
 *
 *   version: 2                       # accepted and ignored (ngrok files carry it)
 *   endpoint: wss://tunnel.example.com/_tunnel
 *   authtoken: eyJ...                # or token:
 *   connect_timeout: 10              # seconds
 *   request_timeout: 115             # seconds (the default)
 *   protocol: auto                   # auto | binary | json
 *   ca_file: /etc/ssl/our-ca.pem
 *   web_addr: 127.0.0.1:4040         # the inspector (false: none)
 *   tunnels:
 *     web:                           # the tunnel's name: [A-Za-z0-9_.-]{1,64}
 *       proto: http                  # optional; only http
 *       addr: 3000                   # 3000, localhost:3000, [::1]:3000, http(s)://host:port
 *       subdomain: myapp             # optional chosen name
 *       host_header: rewrite         # preserve (default) | rewrite | a host[:port]
 *       basic_auth: "user:pass"      # or a list of one ("auth:" as in ngrok v2)
 *       allow_cidr: [10.0.0.0/8]     # or ip_restriction: {allow_cidrs: [...], deny_cidrs: [...]}
 *       deny_cidr: [10.1.0.0/16]
 *       rate_limit: 10/s
 *
 * Unknown keys, duplicate keys, wrong types and bad values are refused with FILE:LINE:COL and
 * the key's path, so a typo never silently drops an option.
 * Owns: every string it copies into agent_file (agent_file_free). */
#ifndef TTF_CONFIG_FILE_H
#define TTF_CONFIG_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "settings.h"

#define AGENT_FILE_MAX_BYTES ((size_t)1 << 20) /* a larger file is refused */

/* What the file says; fields left NULL / 0 / false were not in it. */
typedef struct agent_file {
    char *endpoint;
    char *token;
    char *ca_file;
    char *inspect_addr; /* web_addr as an address */
    agent_tunnel *tunnels;
    size_t ntunnels;
    int connect_timeout; /* seconds; 0: not given */
    int request_timeout;
    agent_protocol protocol;
    bool protocol_set;
    bool inspect_off; /* web_addr: false */
} agent_file;

/* Parses the YAML text (label names it in errors, e.g. the path). 0, or -1 with
 * "LABEL:LINE:COL: KEY.PATH: reason" in err. f is filled in every case: agent_file_free. */
int agent_file_parse(const char *text, size_t len, const char *label, agent_file *f, char *err,
                     size_t errcap);
/* Reads path (at most AGENT_FILE_MAX_BYTES) and parses it. 0 or -1 (err as above, or why the
 * file cannot be read). */
int agent_file_load(const char *path, agent_file *f, char *err, size_t errcap);
void agent_file_free(agent_file *f);

#endif
