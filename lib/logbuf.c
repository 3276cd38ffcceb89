/* SPDX-License-Identifier: MIT */
/* logbuf.c - log lines batched once per loop pass (see logbuf.h). */
#include "logbuf.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#define LOGBUF_MAX ((size_t)1 << 20) /* a backlog this big is written at once */
#define LOGBUF_EXIT_WAIT_MS 1000     /* at exit, how long a full pipe may hold us */

struct logbuf {
    int fd;
    FILE *file;
    struct evbuffer *pending;
    struct event *flush_ev;
    bool armed; /* flush_ev is active for this pass */
};

/* Writes what fd takes now; a non-blocking fd that is full keeps the rest for the next pass. */
static void write_pending(logbuf *lb)
{
    while (evbuffer_get_length(lb->pending) > 0) {
        int n = evbuffer_write(lb->pending, lb->fd);
        if (n <= 0 && !(n < 0 && errno == EINTR))
            return;
    }
}

static void flush_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    logbuf *lb = ud;
    lb->armed = false;
    write_pending(lb);
}

static ssize_t cookie_write(void *ud, const char *buf, size_t len)
{
    logbuf *lb = ud;
    if (evbuffer_add(lb->pending, buf, len) != 0) {
        write_pending(lb); /* no memory: keep the order, write directly */
        return write(lb->fd, buf, len);
    }
    if (evbuffer_get_length(lb->pending) > LOGBUF_MAX)
        write_pending(lb);
    else if (!lb->armed) {
        lb->armed = true;
        event_active(lb->flush_ev, EV_TIMEOUT, 0);
    }
    return (ssize_t)len;
}

void logbuf_add(void *lb, const char *line, size_t n)
{
    (void)cookie_write(lb, line, n);
}

logbuf *logbuf_new(struct event_base *base, int fd)
{
    logbuf *lb = calloc(1, sizeof *lb);
    if (!lb)
        return NULL;
    lb->fd = fd;
    lb->pending = evbuffer_new();
    lb->flush_ev = event_new(base, -1, 0, flush_cb, lb);
    cookie_io_functions_t io = {.write = cookie_write};
    lb->file = lb->pending && lb->flush_ev ? fopencookie(lb, "w", io) : NULL;
    if (!lb->file) {
        logbuf_free(lb);
        return NULL;
    }
    /* tlog flushes after every line, which hands the line to cookie_write */
    setvbuf(lb->file, NULL, _IOFBF, 8192);
    return lb;
}

FILE *logbuf_file(const logbuf *lb)
{
    return lb->file;
}

void logbuf_free(logbuf *lb)
{
    if (!lb)
        return;
    if (lb->file)
        fclose(lb->file); /* hands over what stdio still holds */
    if (lb->pending) {
        /* The last lines (an authentication failure, say) must not be lost at exit. */
        while (evbuffer_get_length(lb->pending) > 0) {
            int n = evbuffer_write(lb->pending, lb->fd);
            if (n > 0 || (n < 0 && errno == EINTR))
                continue;
            struct pollfd p = {.fd = lb->fd, .events = POLLOUT};
            if (n == 0 || errno != EAGAIN || poll(&p, 1, LOGBUF_EXIT_WAIT_MS) <= 0)
                break;
        }
        evbuffer_free(lb->pending);
    }
    if (lb->flush_ev)
        event_free(lb->flush_ev);
    free(lb);
}
