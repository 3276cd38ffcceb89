/* SPDX-License-Identifier: MIT */
/* conn_connect.c - the client side of lib/conn: a non-blocking connect to each address of a
 * list in turn, the connect timeout, then the TLS handshake (see conn.h, conn_connect). */
#include "conn_int.h"

#include <errno.h>
#include <netdb.h>
#include <unistd.h>
#include <sys/socket.h>

/* Starts a non-blocking connect to the next address that takes one. 0, or -1 when none is left
 * (c->err says why). A refusal found later comes through wr_cb. */
static int connect_next(conn *c)
{
    while (c->next_addr) {
        const struct addrinfo *a = c->next_addr;
        c->next_addr = a->ai_next;
        int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            c->err = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            c->err = errno;
            close(fd);
            continue;
        }
        if (conn_assign_fd(c, fd) != 0) {
            close(fd);
            c->fd = -1;
            c->err = ENOMEM;
            return -1;
        }
        c->wr_on = false;
        conn_update_io(c); /* the write event reports the end of the connect */
        return 0;
    }
    if (!c->err)
        c->err = ECONNREFUSED;
    return -1;
}

void conn_connect_done(conn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err == EINPROGRESS || err == EINTR)
        return;
    if (err) {
        c->err = err;
        event_del(&c->wr);
        c->wr_on = false;
        close(c->fd);
        c->fd = -1;
        if (connect_next(c) == 0)
            return;
        conn_fail(c, c->err, 0);
        conn_emit_event(c, CONN_EV_ERROR);
        return;
    }
    c->err = 0;
    conn_set_nodelay(c->fd);
    if (!c->ssl) {
        conn_opened(c);
        return;
    }
    if (conn_tls_set_fd(c, c->ssl) != 0) {
        conn_tls_fail(c, SSL_ERROR_SSL);
        conn_emit_event(c, CONN_EV_ERROR);
        return;
    }
    SSL_set_connect_state(c->ssl);
    c->state = CS_HANDSHAKE;
    conn_handshake(c);
}

conn *conn_connect(conn_loop *l, const struct addrinfo *addrs, SSL *ssl, unsigned timeout_ms,
                   const conn_cbs *cbs, void *ud, int *err)
{
    conn *c = conn_alloc(l, cbs, ud);
    if (!c) {
        SSL_free(ssl);
        *err = ENOMEM;
        return NULL;
    }
    c->client = true;
    c->ssl = ssl;
    if (ssl)
        conn_tls_setup(ssl);
    c->state = CS_CONNECTING;
    c->next_addr = addrs;
    if (timeout_ms > 0) {
        if (conn_ensure_timer(c) != 0) {
            *err = ENOMEM;
            conn_destroy(c);
            return NULL;
        }
        struct timeval tv = clock_timeval_ms(timeout_ms);
        evtimer_add(c->timer, &tv);
        c->timer_connects = true;
    }
    if (connect_next(c) != 0) {
        int e = c->err;
        if (e == EMFILE || e == ENFILE || e == ENOMEM || e == ENOBUFS || e == EAFNOSUPPORT) {
            *err = e; /* no socket at all */
            conn_destroy(c);
            return NULL;
        }
        conn_fail(c, e, 0); /* refused at once: reported from the loop like a later refusal */
        conn_schedule(c, PEND_FAIL);
    }
    return c;
}
