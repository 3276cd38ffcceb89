/* SPDX-License-Identifier: MIT */
/* bev_io.h - direct socket I/O on a plain (non-TLS) bufferevent's buffers, for hot paths:
 * one readv of up to max bytes into the input (no ioctl(FIONREAD), no 4 KiB cap as in libevent
 * 2.1's own reads), and one write of the output outside the bufferevent's write event.
 * Owns nothing: the bufferevent and its buffers stay the caller's. */
#ifndef TUNNEL_BEV_IO_H
#define TUNNEL_BEV_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct bufferevent;

/* Reads once from the socket into bev's input. Returns bytes read (> 0), 0 at end of input, or
 * -1 with *err set (errno, or 0 when no buffer space could be reserved). */
ssize_t bev_read_direct(struct bufferevent *bev, size_t max, int *err);
/* Writes bev's output to the socket once. Returns evbuffer_write's result, *err set when < 0. */
int bev_write_direct(struct bufferevent *bev, int *err);
/* EAGAIN, EWOULDBLOCK, EINTR: try again on the next readiness. */
bool bev_io_transient(int err);

#endif
