/* SPDX-License-Identifier: MIT */
/* conn_timer.c - a connection's times (see conn.h "timers"): the idle period, which is the read
 * event's timeout (conn.c reports it from the read callback), and the one timer, created when
 * first needed, that is the connect timeout until the connection opens and the owner's deadline
 * after. */
#include "conn_int.h"

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
    } else if (c->state != CS_FAILED) {
        conn_emit_event(c, CONN_EV_DEADLINE);
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
        struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};
        event_add(&c->rd, &tv);
    } else {
        event_remove_timer(&c->rd);
    }
    c->rd_idle = ms > 0;
}

void conn_set_deadline(conn *c, unsigned ms)
{
    conn_cancel_connect_timer(c);
    if (ms == 0) {
        if (c->timer)
            event_del(c->timer);
        return;
    }
    if (conn_ensure_timer(c) != 0)
        return;
    struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
}
