/* SPDX-License-Identifier: MIT */
/* resolve.h - the addresses of the local service's host, found without blocking the event loop
 * (issue 11 item 10): an IP literal is converted at once (AI_NUMERICHOST); "localhost" and names
 * under ".localhost" are the loopback addresses ::1 then 127.0.0.1 without asking any resolver
 * (RFC 6761 §6.3; curl does the same, so an app listening only on ::1 is reached); any other
 * name goes to glibc's resolver in the background (getaddrinfo_a: /etc/hosts, DNS, in
 * getaddrinfo's order), polled from a timer of the loop. A result is kept for RESOLVE_TTL_MS
 * and used while a newer one is looked up.
 * Owns: the lookup in flight and the current address list (reference-counted: a connect in
 * progress keeps the list it walks alive). */
#ifndef TTF_RESOLVE_H
#define TTF_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct addrinfo;

#define RESOLVE_TTL_MS 30000u

typedef struct resolver resolver;

/* A resolved list: ai in order; refcounted (resolve_addrs_ref / _unref). */
typedef struct resolve_addrs {
    struct addrinfo *ai;
    int refs;
    bool ours; /* built here (loopback list), not by getaddrinfo */
} resolve_addrs;

/* host: a name or an IP literal (IPv6 without brackets); port 1..65535. NULL on ENOMEM. */
resolver *resolver_new(struct event_base *base, const char *host, int port);
/* The default local service (no host given): 127.0.0.1, then ::1 when that is refused (a dev
 * server that binds "localhost" may listen on ::1 only: Node 17+, Vite). NULL on ENOMEM. */
resolver *resolver_new_default(struct event_base *base, int port);
/* Cancels a lookup in flight (waiting briefly for glibc's worker when it cannot be cancelled),
 * drops the current list (connects holding a reference keep theirs). */
void resolver_free(resolver *r);

/* The result callback: addrs (a new reference, or NULL with a reason in err). */
typedef void (*resolve_cb)(void *ud, resolve_addrs *addrs, const char *err);

/* Calls cb with the addresses: from the loop, never inside this call. A later resolve_cancel
 * with the same ud drops the call. 0, or -1 on ENOMEM. */
int resolve_get(resolver *r, resolve_cb cb, void *ud);
void resolve_cancel(resolver *r, void *ud);

resolve_addrs *resolve_addrs_ref(resolve_addrs *a);
void resolve_addrs_unref(resolve_addrs *a);

#endif
