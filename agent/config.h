/* SPDX-License-Identifier: MIT */
/* config.h - ttf's command line and environment: flags, defaults, validation.
 * Owns: the strings it copies into agent_config (freed by agent_config_free). */
#ifndef TTF_CONFIG_H
#define TTF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "access.h"
#include "rewrite.h"
#include "settings.h"
#include "url.h"

#define TTF_VERSION TUNNEL_VERSION /* project(VERSION) in CMakeLists.txt */

/* Default of --max-response-header-size: local response heads up to this many octets. */
#define AGENT_DEFAULT_MAX_RESPONSE_HEAD ((size_t)64 * 1024)

/* auto: the terminal view on a TTY (unless -v), plain lines otherwise. */
typedef enum { LOGFMT_AUTO = 0, LOGFMT_TERM, LOGFMT_PLAIN, LOGFMT_JSON } agent_log_format;

#define INSPECT_DEFAULT_ADDR "127.0.0.1:4040"
#define INSPECT_DEFAULT_BUDGET ((size_t)4 << 20)   /* bytes the inspector keeps in all */
#define INSPECT_DEFAULT_BODY_MAX ((size_t)1 << 20) /* bytes kept per body */

typedef struct agent_config {
    /* pointers and sizes first, then ints and enums, then flags (no padding holes) */
    char *endpoint;     /* as given */
    char *endpoint_log; /* the endpoint with any token= query value masked, for logs */
    tunnel_url url;     /* parsed endpoint */
    char *local_host;   /* --host: a name, an IPv4 or an IPv6 address (stored without brackets) */
    bool local_host_given; /* by --host or the positional argument (else 127.0.0.1, then ::1) */
    char *token;           /* NULL when none */
    char *ca_file;
    char *host_header_name; /* HOST_HEADER_NAME: the Host value */
    char *subdomain;        /* --subdomain, lower-cased and checked (tunnel_id.h); NULL when none */
    char *inspect_addr;     /* --inspect ADDR; NULL with --no-inspect */
    char *config_file;      /* --config FILE; NULL when none */
    /* The tunnels of the session, in wire order (>= 1 after a successful parse). The fields
     * local_host, local_port, subdomain and host_header* above are those of tunnels[0]. */
    agent_tunnel *tunnels;
    size_t ntunnels;
    size_t max_response_head;     /* --max-response-header-size, bytes */
    size_t inspect_budget;        /* --inspect-budget */
    size_t inspect_body_max;      /* --inspect-body-max */
    int local_port;               /* --port / --local-port */
    int connect_timeout;          /* seconds */
    int request_timeout;          /* seconds */
    host_header_mode host_header; /* --host-header: preserve (default), rewrite, or a name */
    agent_protocol protocol;
    agent_log_format log_format;
    bool verbose;
    bool insecure;
    bool forget;           /* --forget: neither ask for nor remember the last id */
    bool path_added;       /* the endpoint had no path: /_tunnel was added (hint on 404) */
    bool inspect_explicit; /* given on the command line (else the default may move to +1..+9) */
    bool qr;               /* --qr: a QR code of the public URL */
    bool local_tls;        /* the local service is https:// (tunnels[0]'s local_tls) */
    /* Access control the server enforces before requests reach us (lib/access.h):
     * --basic-auth (env TUNNEL_BASIC_AUTH), --allow-cidr, --deny-cidr, --rate-limit. */
    char *basic_auth; /* "user:pass" or NULL */
    char **allow_cidr, **deny_cidr;
    size_t nallow, ndeny;
    access_rate rate;  /* requests 0: none */
    char *access_json; /* ready's `access` object (NULL: nothing asked) */
} agent_config;

typedef enum {
    CONFIG_OK = 0,   /* run */
    CONFIG_EXIT = 1, /* --help or --version printed: exit 0 */
    CONFIG_ERROR = -1,
} config_result;

/* Lets tests inject the environment. */
typedef const char *(*config_getenv_fn)(const char *name);

/* Parses argv (getopt_long, so it permutes argv) and the environment (TUNNEL_ENDPOINT,
 * TUNNEL_TOKEN, TUNNEL_BASIC_AUTH; flags win). One positional argument names the local service:
 * "3000", "localhost:3000", "[::1]:3000" or "http://localhost:3000". An endpoint without a path
 * gets ttfd's "/_tunnel". Help and version text go to out. On CONFIG_ERROR a one-line reason is in
 * err. Call agent_config_free in every case. */
config_result agent_config_parse(int argc, char **argv, config_getenv_fn env, agent_config *cfg,
                                 void *out /* FILE* */, char *err, size_t errcap);
void agent_config_free(agent_config *cfg);

/* Copies url with the value of every token= query parameter replaced by "***". malloc'd. */
char *agent_config_redact_url(const char *url);

/* Parses "1048576", "512k", "32M", "1G" (binary multiples) into *out, in [lo, hi]. 0 or -1. */
int agent_config_parse_size(const char *s, size_t lo, size_t hi, size_t *out);

/* "host:port" as the local service expects it in Host ("[::1]:3000" for IPv6). */
void agent_config_local_hostport(const agent_config *cfg, char *out, size_t cap);
#endif
