/* SPDX-License-Identifier: MIT */
/* conn_timer.c - a connection's times (see conn.h "timers"): the idle period, which is the read
 * event's timeout (conn.c reports it from the read callback), and the one timer, created when
 * first needed, that is the connect timeout until the connection opens and the owner's deadline
 * after; the send timeout, which is the write event's own timeout. */
#include "conn_int.h"

#include <stdint.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>

#include "clock.h"

static void arm(conn *c, uint64_t ms)
{
    struct timeval tv = clock_timeval_ms(ms);
    evtimer_add(c->timer, &tv);
}

static void timer_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    conn *c = ud;
    conn_enter(c);
    if (c->timer_connects) {
        c->timer_connects = false;
        conn_fail(c, ETIMEDOUT, 0);
        conn_emit_event(c, CONN_EV_ERROR);
    } else {
        c->timer_at = 0; /* fired: armed no more */
        uint64_t now = c->deadline_at ? clock_now_ms() : 0;
        if (c->state == CS_FAILED || !c->deadline_at) {
            /* failed, or the deadline was cancelled since the timer was set */
        } else if (now < c->deadline_at) { /* the deadline moved on since the timer was set */
            c->timer_at = c->deadline_at;
            arm(c, c->deadline_at - now);
        } else {
            c->deadline_at = 0;
            conn_emit_event(c, CONN_EV_DEADLINE);
        }
    }
    conn_leave(c);
}

int conn_ensure_timer(conn *c)
{
    if (!c->timer)
        c->timer = evtimer_new(c->loop->base, timer_cb, c);
    return c->timer ? 0 : -1;
}

void conn_cancel_connect_timer(conn *c)
{
    if (c->timer_connects) {
        event_del(c->timer);
        c->timer_connects = false;
    }
}

void conn_set_idle(conn *c, unsigned ms)
{
    c->idle_ms = ms;
    if (!c->rd_on) {
        conn_update_io(c);
        return;
    }
    /* Only the timer changes (restarting the period): the descriptor stays in epoll. */
    if (ms) {
        struct timeval tv = clock_timeval_ms(ms);
        event_add(&c->rd, &tv);
    } else {
        event_remove_timer(&c->rd);
    }
    c->rd_idle = ms > 0;
}

/* Lazy, as nginx and HAProxy keep their timers: a deadline set or cancelled once per request
 * (ttfd's request timeout) would cost two timer-heap operations each time. Cancelling only
 * forgets the time; a later deadline than the armed timer's leaves the timer alone, and the
 * timer, when it fires, re-arms itself for what is left or finds nothing due. */
void conn_set_deadline(conn *c, unsigned ms)
{
    conn_cancel_connect_timer(c);
    if (ms == 0) {
        c->deadline_at = 0;
        return;
    }
    if (conn_ensure_timer(c) != 0)
        return;
    c->deadline_at = clock_now_ms() + ms;
    if (c->timer_at && c->timer_at <= c->deadline_at && evtimer_pending(c->timer, NULL))
        return;
    c->timer_at = c->deadline_at;
    arm(c, ms);
}

/* The write event carries the send timeout as its own timeout, checked every half of it
 * (nginx's send_timeout is the write event's timer too): a persistent event's timeout starts
 * again whenever the socket takes output, so it fires only after half the time without any. */
void conn_send_watch(conn *c)
{
    if (!c->send_ms || c->state != CS_OPEN) {
        event_add(&c->wr, NULL);
        return;
    }
    unsigned half = (c->send_ms + 1) / 2;
    struct timeval tv = clock_timeval_ms(half);
    c->send_outq = SIZE_MAX; /* not known yet: the first check takes it */
    c->send_idle = 0;
    event_add(&c->wr, &tv);
}

size_t conn_unacked(const conn *c)
{
    int q = 0;
    return ioctl(c->fd, SIOCOUTQ, &q) == 0 && q >= 0 ? (size_t)q : SIZE_MAX;
}

bool conn_send_stalled(conn *c)
{
    size_t q = conn_unacked(c);
    if (c->writes != c->send_writes || q == SIZE_MAX || q < c->send_outq) {
        c->send_writes = c->writes; /* a write, or the peer took octets (or the first check) */
        c->send_outq = q;
        c->send_idle = 0;
        return false;
    }
    c->send_outq = q;
    return ++c->send_idle >= 2; /* two halves: nothing for the whole time */
}

void conn_set_send_timeout(conn *c, unsigned ms)
{
    c->send_ms = ms;
    if (c->wr_on)
        conn_send_watch(c);
}
