/* SPDX-License-Identifier: MIT */
/* listener.c - see listener.h. */
#include "listener.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "clock.h"

#define BACKOFF_MIN_MS 100u
#define BACKOFF_MAX_MS 1000u
#define LOG_EVERY_MS 1000u
#define ROOM_RETRY_MS 250u

struct listener {
    struct evconnlistener *lis;
    struct event *timer;      /* resumes accepting */
    struct event *room_timer; /* at the cap: asks for room again while one waits to come in */
    const tlog *log;
    listener_accept_fn fn;
    void *ud;
    void (*room_fn)(void *ud); /* listener_on_full */
    void *room_ud;
    unsigned backoff_ms; /* the next pause */
    bool paused;         /* by a failure, until the timer or a release */
    bool stopped;
    size_t open, max;       /* connections accepted and not yet released; the cap (0: none) */
    uint64_t fulls;         /* times accepting paused at the cap (ttfd_accept_full_total) */
    tlog_every full_warn;   /* the warning at the cap: one a second, pauses since */
    unsigned long failures; /* since the last log line */
    uint64_t backoffs;      /* pauses since the start (ttfd_accept_backoffs_total) */
    uint64_t last_log_ms;
    int last_err;
};

/* Whether accepting waits for a release: max connections are open (--max-connections). */
static bool full(const listener *l)
{
    return l->max && l->open >= l->max;
}

static void resume(listener *l)
{
    if (!l->paused || l->stopped)
        return;
    l->paused = false;
    evtimer_del(l->timer);
    if (!full(l))
        evconnlistener_enable(l->lis);
}

static void timer_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    resume(ud);
}

/* A connection waits in the kernel's queue. */
static bool queued(const listener *l)
{
    struct pollfd p = {.fd = evconnlistener_get_fd(l->lis), .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void room_later(listener *l)
{
    struct timeval tv = clock_timeval_ms(ROOM_RETRY_MS);
    evtimer_add(l->room_timer, &tv);
}

/* Paused at the cap: what was not closable at the last accept may be now (a head under way that
 * waited long enough, a keep-alive connection whose exchange ended), so room is asked for again
 * while a connection waits to come in. */
static void room_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    listener *l = ud;
    if (!full(l) || l->stopped)
        return;
    if (queued(l))
        l->room_fn(l->room_ud); /* each close releases its place: listener_release enables */
    if (full(l))
        room_later(l);
}

static void log_failures(listener *l, bool force)
{
    uint64_t now = clock_now_ms();
    if (l->failures == 0 || (!force && now - l->last_log_ms < LOG_EVERY_MS))
        return;
    TLOG_W(l->log,
           "accept failed %lu time%s: %s; not accepting new connections for up to %u ms "
           "at a time (connections already open are served)",
           l->failures, l->failures == 1 ? "" : "s", strerror(l->last_err), BACKOFF_MAX_MS);
    l->failures = 0;
    l->last_log_ms = now;
}

static void accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *ud)
{
    (void)lis;
    (void)socklen;
    listener *l = ud;
    l->backoff_ms = BACKOFF_MIN_MS;
    log_failures(l, true); /* the count of the episode that just ended */
    l->open++;
    l->fn(l->ud, fd, sa);
    if (full(l) && l->room_fn)
        l->room_fn(l->room_ud); /* idle connections closed: their places are released */
    if (full(l)) {
        /* As HAProxy at maxconn: no accept until a connection closes. The kernel's queue holds
         * the next ones meanwhile; accepting and closing them would spin, and refuse clients
         * that a closing connection would let in a moment later. libevent stops its accept loop
         * once the listener is disabled from its callback. */
        l->fulls++;
        evconnlistener_disable(l->lis);
        if (l->room_fn)
            room_later(l);
        unsigned long long since;
        if (tlog_every_due(&l->full_warn, clock_now_ms(), LOG_EVERY_MS, &since))
            TLOG_W(l->log,
                   "%zu connections open, ttfd's --max-connections: not accepting until one "
                   "closes (%llu time%s since the last warning)",
                   l->open, since, since == 1 ? "" : "s");
    }
}

static void error_cb(struct evconnlistener *lis, void *ud)
{
    (void)lis;
    listener *l = ud;
    l->last_err = EVUTIL_SOCKET_ERROR();
    l->failures++;
    log_failures(l, false);
    /* Failing again at once would spin: the socket stays readable while the queue is full. */
    l->paused = true;
    l->backoffs++;
    evconnlistener_disable(l->lis);
    struct timeval tv = clock_timeval_ms(l->backoff_ms);
    evtimer_add(l->timer, &tv);
    l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
}

listener *listener_new(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
                       size_t max, const tlog *log, listener_accept_fn fn, void *ud)
{
    listener *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->max = max;
    l->log = log;
    l->fn = fn;
    l->ud = ud;
    l->backoff_ms = BACKOFF_MIN_MS;
    l->timer = evtimer_new(base, timer_cb, l);
    l->room_timer = evtimer_new(base, room_cb, l);
    if (l->timer && l->room_timer)
        l->lis = evconnlistener_new_bind(
            base, accept_cb, l, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1, sa, (int)salen);
    if (!l->lis) {
        int e = errno;
        listener_free(l);
        errno = e;
        return NULL;
    }
    evconnlistener_set_error_cb(l->lis, error_cb);
    return l;
}

void listener_free(listener *l)
{
    if (!l)
        return;
    log_failures(l, true);
    if (l->lis)
        evconnlistener_free(l->lis);
    if (l->timer)
        event_free(l->timer);
    if (l->room_timer)
        event_free(l->room_timer);
    free(l);
}

uint64_t listener_backoffs(const listener *l)
{
    return l ? l->backoffs : 0;
}

uint64_t listener_fulls(const listener *l)
{
    return l ? l->fulls : 0;
}

int listener_fd(const listener *l)
{
    return evconnlistener_get_fd(l->lis);
}

void listener_on_full(listener *l, void (*fn)(void *ud), void *ud)
{
    l->room_fn = fn;
    l->room_ud = ud;
}

void listener_stop(listener *l)
{
    l->stopped = true;
    evtimer_del(l->timer);
    evtimer_del(l->room_timer);
    evconnlistener_disable(l->lis);
}

void listener_release(void *ud)
{
    listener *l = ud;
    bool was_full = full(l);
    if (l->open > 0)
        l->open--;
    if (was_full && !full(l)) {
        evtimer_del(l->room_timer);
        if (!l->paused && !l->stopped)
            evconnlistener_enable(l->lis);
    }
    resume(l); /* a descriptor was freed: accept again now if paused by a failure */
}
