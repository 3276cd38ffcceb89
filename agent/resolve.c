/* SPDX-License-Identifier: MIT */
/* resolve.c - the local service's addresses without blocking the loop (see resolve.h). */
#include "resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "clock.h"

#define POLL_FIRST_MS 1u
#define POLL_MAX_MS 50u

typedef struct waiter {
    resolve_cb cb;
    void *ud;
    struct waiter *next;
} waiter;

typedef enum { KIND_NUMERIC, KIND_LOOPBACK, KIND_NAME } host_kind;

struct resolver {
    struct event_base *base;
    char host[256];
    char port[8];
    host_kind kind;
    resolve_addrs *cur; /* the latest good list, NULL before the first */
    uint64_t cur_at;    /* when it was found (monotonic ms) */
    char err[200];      /* why the last lookup failed */
    /* a lookup in flight (KIND_NAME) */
    struct gaicb req;
    struct addrinfo hints;
    bool inflight;
    unsigned poll_ms;
    struct event *poll_ev;
    struct event *dispatch_ev;
    waiter *waiters;
};

static uint64_t now_ms(void)
{
    return clock_now_ms();
}

resolve_addrs *resolve_addrs_ref(resolve_addrs *a)
{
    if (a)
        a->refs++;
    return a;
}

static void free_ours(struct addrinfo *ai)
{
    while (ai) {
        struct addrinfo *next = ai->ai_next;
        free(ai->ai_addr);
        free(ai);
        ai = next;
    }
}

void resolve_addrs_unref(resolve_addrs *a)
{
    if (!a || --a->refs > 0)
        return;
    if (a->ours)
        free_ours(a->ai);
    else if (a->ai)
        freeaddrinfo(a->ai);
    free(a);
}

static resolve_addrs *wrap(struct addrinfo *ai, bool ours)
{
    resolve_addrs *a = calloc(1, sizeof *a);
    if (!a) {
        if (ours)
            free_ours(ai);
        else
            freeaddrinfo(ai);
        return NULL;
    }
    a->ai = ai;
    a->refs = 1;
    a->ours = ours;
    return a;
}

/* One addrinfo holding a copy of sa. */
static struct addrinfo *one_addr(const void *sa, socklen_t len, int family)
{
    struct addrinfo *ai = calloc(1, sizeof *ai);
    void *copy = malloc(len);
    if (!ai || !copy) {
        free(ai);
        free(copy);
        return NULL;
    }
    memcpy(copy, sa, len);
    ai->ai_family = family;
    ai->ai_socktype = SOCK_STREAM;
    ai->ai_protocol = IPPROTO_TCP;
    ai->ai_addrlen = len;
    ai->ai_addr = copy;
    return ai;
}

/* ::1 then 127.0.0.1 (RFC 6761 §6.3: localhost names are the loopback addresses); v4_first:
 * 127.0.0.1 then ::1 (the default local service). */
static resolve_addrs *loopback_list(int port, bool v4_first)
{
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    s6.sin6_addr = in6addr_loopback;
    struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct addrinfo *a6 = one_addr(&s6, sizeof s6, AF_INET6);
    struct addrinfo *a4 = one_addr(&s4, sizeof s4, AF_INET);
    if (!a6 || !a4) {
        free_ours(a6);
        free_ours(a4);
        return NULL;
    }
    if (v4_first) {
        a4->ai_next = a6;
        return wrap(a4, true);
    }
    a6->ai_next = a4;
    return wrap(a6, true);
}

static bool is_localhost_name(const char *h)
{
    size_t n = strlen(h);
    if (n > 0 && h[n - 1] == '.') /* the absolute form */
        n--;
    if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
        return true;
    return n > 10 && strncasecmp(h + n - 10, ".localhost", 10) == 0;
}

/* ---- delivering results: always from the loop ---- */

static void dispatch_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    resolver *r = ud;
    if (r->inflight && !r->cur)
        return; /* the lookup's end dispatches again */
    waiter *w = r->waiters;
    r->waiters = NULL;
    while (w) {
        waiter *next = w->next;
        if (r->cur)
            w->cb(w->ud, resolve_addrs_ref(r->cur), NULL);
        else
            w->cb(w->ud, NULL, r->err);
        free(w);
        w = next;
    }
}

static void dispatch_soon(resolver *r)
{
    struct timeval now = {0, 0};
    evtimer_add(r->dispatch_ev, &now);
}

static void poll_cb(evutil_socket_t fd, short what, void *ud);

static void start_lookup(resolver *r)
{
    memset(&r->req, 0, sizeof r->req);
    r->hints = (struct addrinfo){
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    r->req.ar_name = r->host;
    r->req.ar_service = r->port;
    r->req.ar_request = &r->hints;
    struct gaicb *list[1] = {&r->req};
    struct sigevent none = {.sigev_notify = SIGEV_NONE};
    int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, &none);
    if (rc != 0) {
        snprintf(r->err, sizeof r->err, "cannot resolve local host %s: %s", r->host,
                 gai_strerror(rc));
        dispatch_soon(r);
        return;
    }
    r->inflight = true;
    r->poll_ms = POLL_FIRST_MS;
    struct timeval tv = {0, (suseconds_t)r->poll_ms * 1000};
    evtimer_add(r->poll_ev, &tv);
}

static void poll_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    resolver *r = ud;
    int rc = gai_error(&r->req);
    if (rc == EAI_INPROGRESS) {
        if (r->poll_ms < POLL_MAX_MS)
            r->poll_ms *= 2;
        struct timeval tv = {0, (suseconds_t)r->poll_ms * 1000};
        evtimer_add(r->poll_ev, &tv);
        return;
    }
    r->inflight = false;
    if (rc == 0 && r->req.ar_result) {
        resolve_addrs *a = wrap(r->req.ar_result, false);
        if (a) {
            resolve_addrs_unref(r->cur);
            r->cur = a;
            r->cur_at = now_ms();
        }
    } else {
        if (r->req.ar_result)
            freeaddrinfo(r->req.ar_result);
        snprintf(r->err, sizeof r->err, "cannot resolve local host %s: %s", r->host,
                 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
    }
    r->req.ar_result = NULL;
    dispatch_cb(-1, 0, r);
}

resolver *resolver_new(struct event_base *base, const char *host, int port)
{
    resolver *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->base = base;
    snprintf(r->host, sizeof r->host, "%s", host);
    snprintf(r->port, sizeof r->port, "%d", port);
    r->poll_ev = evtimer_new(base, poll_cb, r);
    r->dispatch_ev = evtimer_new(base, dispatch_cb, r);
    if (!r->poll_ev || !r->dispatch_ev) {
        resolver_free(r);
        return NULL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, r->port, &hints, &ai) == 0) { /* a literal: no lookup at all */
        r->kind = KIND_NUMERIC;
        r->cur = wrap(ai, false);
    } else if (is_localhost_name(host)) {
        r->kind = KIND_LOOPBACK;
        r->cur = loopback_list(port, false);
    } else {
        r->kind = KIND_NAME;
        start_lookup(r); /* the first request finds it done, or waits for it */
        return r;
    }
    if (!r->cur) {
        resolver_free(r);
        return NULL;
    }
    return r;
}

resolver *resolver_new_default(struct event_base *base, int port)
{
    resolver *r = resolver_new(base, "localhost", port);
    if (!r)
        return NULL;
    resolve_addrs *v4 = loopback_list(port, true);
    if (!v4) {
        resolver_free(r);
        return NULL;
    }
    resolve_addrs_unref(r->cur);
    r->cur = v4;
    snprintf(r->host, sizeof r->host, "127.0.0.1");
    return r;
}

void resolver_free(resolver *r)
{
    if (!r)
        return;
    if (r->inflight) {
        struct gaicb *list[1] = {&r->req};
        if (gai_cancel(&r->req) == EAI_NOTCANCELED) {
            /* glibc's worker still writes into req: wait for it (at exit, bounded) */
            struct timespec ts = {2, 0};
            gai_suspend((const struct gaicb *const *)list, 1, &ts);
        }
        if (gai_error(&r->req) == 0 && r->req.ar_result)
            freeaddrinfo(r->req.ar_result);
    }
    while (r->waiters) {
        waiter *next = r->waiters->next;
        free(r->waiters);
        r->waiters = next;
    }
    if (r->poll_ev)
        event_free(r->poll_ev);
    if (r->dispatch_ev)
        event_free(r->dispatch_ev);
    resolve_addrs_unref(r->cur);
    free(r);
}

int resolve_get(resolver *r, resolve_cb cb, void *ud)
{
    waiter *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    w->cb = cb;
    w->ud = ud;
    waiter **tail = &r->waiters;
    while (*tail)
        tail = &(*tail)->next;
    *tail = w;
    bool stale = !r->cur || now_ms() - r->cur_at > RESOLVE_TTL_MS;
    if (r->kind == KIND_NAME && stale && !r->inflight)
        start_lookup(r);
    if (r->cur || !r->inflight)
        dispatch_soon(r); /* a list (maybe a stale one while a fresh one comes), or the error */
    return 0;
}

void resolve_cancel(resolver *r, void *ud)
{
    for (waiter **p = &r->waiters; *p;) {
        if ((*p)->ud == ud) {
            waiter *w = *p;
            *p = w->next;
            free(w);
        } else {
            p = &(*p)->next;
        }
    }
}
