/* SPDX-License-Identifier: MIT */
/* rewrite.h - what the agent changes in HTTP heads besides lib/proxy's rules (docs/protocol.md
 * §4 "Host and redirects"): the Host the local service gets (--host-header), and in rewrite
 * mode the Location, Content-Location and Refresh values that point at the local address,
 * which become the public URL (as nginx's `proxy_redirect default` does).
 * Pure functions over http1 header lists. Owns nothing; returned strings are the caller's. */
#ifndef TTF_REWRITE_H
#define TTF_REWRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "http1.h"

typedef enum {
    HOST_HEADER_PRESERVE = 0, /* the public Host reaches the local service unchanged (default) */
    HOST_HEADER_REWRITE,      /* Host: the local host:port; redirects rewritten back */
    HOST_HEADER_NAME,         /* Host: a name given by the user */
} host_header_mode;

typedef struct rewrite_host {
    host_header_mode mode;
    const char *name;   /* HOST_HEADER_NAME: the Host value */
    const char *host;   /* --host as given ("localhost", "127.0.0.1", "::1", "[::1]") */
    int port;           /* --port */
    char hostport[300]; /* "host:port" as Host spells it ("[::1]:3000") */
} rewrite_host;

/* Fills rh (name and host are borrowed: they must outlive it). */
void rewrite_host_init(rewrite_host *rh, host_header_mode mode, const char *name, const char *host,
                       int port);

/* Applies --host-header to a request's fields. In rewrite mode *public_base (when not NULL)
 * receives the URL prefix the public client used, before Host is replaced:
 * X-Forwarded-Proto ("http" when absent) "://" X-Forwarded-Host (else Host) X-Forwarded-Prefix,
 * malloc'd, or NULL when the request names no valid public host. 0 or -1 (ENOMEM). */
int rewrite_request_host(const rewrite_host *rh, http_headers *h, char **public_base);

/* Rewrite mode: a URL that points at the local address (http:// or https:// or //, then the
 * --host, or any loopback name when --host is one, and the --port or the scheme's default
 * port when it is that) as public_base + its path, query and fragment; malloc'd, or NULL when
 * it does not point there (or ENOMEM). */
char *rewrite_local_url(const rewrite_host *rh, const char *public_base, const char *url,
                        size_t len);

/* Rewrite mode: Location, Content-Location and the url= part of Refresh rewritten with
 * rewrite_local_url. Nothing changes in the other modes or without public_base. 0 or -1. */
int rewrite_response_location(const rewrite_host *rh, const char *public_base, http_headers *h);

#endif
