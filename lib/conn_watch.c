/* SPDX-License-Identifier: MIT */
/* conn_watch.c - the peer's close noticed while reading is off (see conn.h "conn_watch_close"),
 * as nginx notices a client that leaves while its request waits (EPOLLRDHUP, then the socket's
 * pending error). A connection not reading is out of the loop's epoll set; one that asked for
 * the watch is put, the first time its reading stops, into a second epoll set of the loop's own,
 * for EPOLLRDHUP only and edge-triggered, and stays in it until it is freed: one epoll_ctl per
 * connection, none per pause. That set's descriptor is one read event of the loop's base.
 *
 * Why a second set rather than libevent's EV_CLOSED on the socket: an EV_CLOSED-only event
 * registers EPOLLRDHUP, and at a reset epoll reports EPOLLERR, which libevent hands only to
 * EV_READ and EV_WRITE events; with neither added, the level-triggered report would come back
 * at every loop pass, a busy loop until reading resumed.
 *
 * Edge-triggered, each report comes once per change (the FIN, the reset). A report while reading
 * is on is only noted: the read itself meets the EOF or the error. When reading stops later with
 * the peer's close noted and not yet told, it is told from the loop (PEND_HUP).
 *
 * Also the peer's state as the socket shows it: the octets it sent that wait unread
 * (conn_queued_in, and a look at them: conn_peek_queued), its advertised receive window
 * (conn_peer_window), and how much the kernel keeps unsent toward it (conn_set_unsent_max). */
#include "conn_int.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/tcp.h>

#define WATCH_BATCH 64 /* reports handled per wake-up; the level-triggered set wakes us again */

/* Reading is off: the peer's reset fails the connection (ERROR), a FIN told before or not; its
 * FIN is RDHUP, once. */
void conn_watch_report(conn *c)
{
    if (c->dead || !c->watch || c->state != CS_OPEN || c->eof || c->rd_on)
        return;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err) {
        conn_fail(c, err, 0);
        conn_emit_event(c, CONN_EV_ERROR);
        return;
    }
    if (c->hup_told)
        return;
    c->hup_told = true;
    if (c->ssl) { /* what it sent before its end, as plain octets (conn_queued_in, peek) */
        conn_tls_read_ahead(c);
        if (c->state == CS_FAILED) {
            conn_emit_event(c, CONN_EV_ERROR);
            return;
        }
    }
    conn_emit_event(c, CONN_EV_RDHUP);
}

static void watch_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)what;
    (void)ud;
    /* One report per epoll_wait: a callback may free any other connection, whose report would
     * otherwise wait in our array with a dangling pointer (conn_destroy takes a connection out
     * of the set, so the kernel never hands one out). */
    for (int i = 0; i < WATCH_BATCH; i++) {
        struct epoll_event ev;
        if (epoll_wait(fd, &ev, 1, 0) != 1)
            return;
        conn *c = ev.data.ptr;
        conn_enter(c);
        if (!c->dead && c->state == CS_OPEN && !c->eof) {
            c->peer_hup = true;
            conn_watch_report(c);
        }
        conn_leave(c);
    }
}

/* The loop's set, made with the first connection that asks for the watch. 0 or -1. */
static int loop_watch_set(conn_loop *l)
{
    if (l->watch_ev)
        return 0;
    int fd = epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0)
        return -1;
    l->watch_ev = event_new(l->base, fd, EV_READ | EV_PERSIST, watch_cb, l);
    if (!l->watch_ev || event_add(l->watch_ev, NULL) != 0) {
        if (l->watch_ev)
            event_free(l->watch_ev);
        l->watch_ev = NULL;
        close(fd);
        return -1;
    }
    l->watch_fd = fd;
    return 0;
}

void conn_watch_paused(conn *c)
{
    if (c->watch_added) {
        if (c->peer_hup && !c->hup_told)
            conn_schedule(c, PEND_HUP);
        return;
    }
    if (loop_watch_set(c->loop) != 0)
        return; /* no descriptor or memory: the close is noticed when reading resumes */
    struct epoll_event ev = {.events = EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(c->loop->watch_fd, EPOLL_CTL_ADD, c->fd, &ev) == 0)
        c->watch_added = true; /* a close that came already is reported at once */
}

void conn_watch_forget(conn *c)
{
    if (c->watch_added && c->fd >= 0)
        epoll_ctl(c->loop->watch_fd, EPOLL_CTL_DEL, c->fd, NULL);
    c->watch_added = false;
}

void conn_watch_loop_free(conn_loop *l)
{
    if (!l->watch_ev)
        return;
    event_free(l->watch_ev);
    close(l->watch_fd);
}

void conn_watch_close(conn *c, bool on)
{
    c->watch = on;
    if (on)
        loop_watch_set(c->loop); /* the loop's descriptor from the first watched connection on,
                                    not from its first pause: a steady count of descriptors */
    else
        conn_watch_forget(c);
    conn_update_io(c);
}

void conn_set_unsent_max(conn *c, size_t bytes)
{
    int v = bytes > INT32_MAX ? INT32_MAX : (int)bytes;
    if (c->fd >= 0)
        setsockopt(c->fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof v);
}

size_t conn_peer_window(const conn *c)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (c->fd < 0 || getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_snd_wnd) + sizeof ti.tcpi_snd_wnd)
        return SIZE_MAX; /* not TCP, or a kernel before 6.0: unknown */
    return ti.tcpi_snd_wnd;
}

size_t conn_queued_in(const conn *c)
{
    int q = 0;
    size_t n = c->fd >= 0 && ioctl(c->fd, FIONREAD, &q) == 0 && q > 0 ? (size_t)q : 0;
    if (c->ssl) {
        if (c->tls_ahead)
            n += evbuffer_get_length(c->tls_ahead);
        n += BIO_ctrl_pending(SSL_get_rbio(c->ssl)) + (size_t)SSL_pending(c->ssl);
        /* OpenSSL's record buffer: at most one record, since the read BIO hands one at a time */
        if (SSL_has_pending(c->ssl))
            n += TLS_RECORD + 256;
    }
    return n;
}

ssize_t conn_peek_queued(const conn *c, void *buf, size_t cap)
{
    if (c->ssl) /* the queue holds records: plain octets only once all came (the peer's end) */
        return c->tls_ahead_all ? evbuffer_copyout(c->tls_ahead, buf, cap) : -1;
    if (c->fd < 0)
        return -1;
    ssize_t n = recv(c->fd, buf, cap, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    return n;
}
