/* SPDX-License-Identifier: MIT */
/* admin.h - ttfd's admin listener (`ttfd --admin 127.0.0.1:9090`, off by default), on libevent's
 * evhttp, for monitoring only (no authentication: bind it to loopback or a private network):
 *   GET /healthz  200, {"status":"ok","version":"…","uptime_s":12.3,"tunnels":2,"agents":2}
 *   GET /metrics  200, Prometheus text exposition format 0.0.4 (metrics.h)
 *   other paths 404; methods other than GET and HEAD are refused by evhttp.
 * Owns: the evhttp instance and its listening socket. */
#ifndef TTFD_ADMIN_H
#define TTFD_ADMIN_H

#include <stddef.h>
#include <sys/socket.h>

#include "metrics.h"

struct event_base;
typedef struct admin admin;

/* Fills g at scrape time (the server's live gauges). */
typedef void (*admin_gauges_fn)(void *ud, metrics_gauges *g);

/* Listens on sa. m and the callback's data are borrowed and must outlive the admin.
 * NULL with a reason in err. */
admin *admin_new(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
                 const metrics *m, const char *version, admin_gauges_fn gauges, void *ud, char *err,
                 size_t cap);
void admin_free(admin *a); /* NULL is allowed */
/* The bound address as "127.0.0.1:9090" / "[::1]:9090" (for the start-up line). */
void admin_address(const admin *a, char *out, size_t cap);

#endif
