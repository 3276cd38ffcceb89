/* SPDX-License-Identifier: MIT */
/* bev_io.c - see bev_io.h. */
#include "bev_io.h"

#include <errno.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

ssize_t bev_read_direct(struct bufferevent *bev, size_t max, int *err)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_iovec v[2];
    ssize_t n = -1;
    *err = 0;
    /* the bufferevent keeps its input's end frozen; we fill it here as it would */
    evbuffer_unfreeze(in, 0);
    int nv = evbuffer_reserve_space(in, (ev_ssize_t)max, v, 2);
    if (nv > 0) {
        struct iovec iov[2];
        for (int i = 0; i < nv; i++)
            iov[i] = (struct iovec){v[i].iov_base, v[i].iov_len};
        n = readv(bufferevent_getfd(bev), iov, nv);
        if (n < 0)
            *err = errno;
        size_t left = n > 0 ? (size_t)n : 0;
        int used = 0;
        for (; used < nv && left > 0; used++) {
            if (v[used].iov_len > left)
                v[used].iov_len = left;
            left -= v[used].iov_len;
        }
        evbuffer_commit_space(in, v, used);
    }
    evbuffer_freeze(in, 0);
    return n;
}

int bev_write_direct(struct bufferevent *bev, int *err)
{
    struct evbuffer *out = bufferevent_get_output(bev);
    /* the bufferevent keeps its output's start frozen; we drain it here as it would */
    evbuffer_unfreeze(out, 1);
    int n = evbuffer_write(out, bufferevent_getfd(bev));
    *err = n < 0 ? errno : 0;
    evbuffer_freeze(out, 1);
    return n;
}

bool bev_io_transient(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}
