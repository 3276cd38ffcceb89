/* SPDX-License-Identifier: MIT */
/* fuzz_ws_frames.c - lib/ws's reader (RFC 6455 frames, lib/ws_frame.h) fed raw bytes from the
 * peer: one ws_conn per input on one end of a socketpair of this process, the bytes written to
 * the other end in pieces, then that end closed.
 *
 * Input: byte 0 = flags (bit 0: we are the server, so frames must be masked; bits 1-3: the
 * message limit, 16 << n bytes; bits 4-7: piece size, 1 + 97 * n bytes), the rest = what the peer
 * sends.
 *
 * Checks, whatever the bytes: on_close exactly once and nothing after it, every text message
 * valid UTF-8, no message over the limit, every message's bytes made only of bytes the peer sent
 * (no more message bytes than input bytes), and ws_frame_header's answer on the raw input
 * consistent with its promises (header length 2..14 within the input, control frames <= 125
 * bytes with FIN, the mask bit as asked). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "conn.h"
#include "utf8.h"
#include "ws.h"
#include "ws_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct check {
    struct event_base *base;
    ws_conn *ws;
    size_t max_msg, msg_bytes;
    int closes;
} check;

static void got_msg(check *c, const uint8_t *d, size_t n, bool text)
{
    (void)d;
    if (c->closes || n > c->max_msg || (text && !utf8_valid(d, n)))
        abort();
    c->msg_bytes += n;
}

static void on_text(void *ud, const uint8_t *d, size_t n)
{
    got_msg(ud, d, n, true);
}

static void on_binary(void *ud, const uint8_t *d, size_t n)
{
    got_msg(ud, d, n, false);
}

static void on_close(void *ud, uint16_t code, const char *reason)
{
    (void)code;
    (void)reason;
    check *c = ud;
    if (c->closes++)
        abort();
    ws_conn_free(c->ws);
    c->ws = NULL;
    event_base_loopbreak(c->base);
}

static void no_read(conn *cn, void *ud)
{
    (void)cn;
    (void)ud;
}

static void no_event(conn *cn, void *ud, int what)
{
    (void)cn;
    (void)ud;
    (void)what;
}

static const conn_cbs NO_CBS = {no_read, NULL, no_event};
static const ws_handlers H = {on_text, on_binary, NULL, on_close};

static void check_header(const uint8_t *p, size_t n, bool server)
{
    ws_frame_hdr h;
    const char *why = NULL;
    int r = ws_frame_header(p, n, server, &h, &why);
    if (r < 0 && !why)
        abort();
    if (r == 1 && (h.hdrlen < 2 || h.hdrlen > 14 || h.hdrlen > n || h.masked != server ||
                   ((h.opcode & 0x8) && (!h.fin || h.len > WS_CONTROL_MAX))))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool server = data[0] & 1;
    size_t max_msg = (size_t)16 << ((data[0] >> 1) & 7);
    size_t piece = 1 + 97 * (size_t)(data[0] >> 4);
    data++;
    size--;
    check_header(data, size, server);

    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
        return 0;
    struct event_base *base = event_base_new();
    conn_loop *loop = base ? conn_loop_new(base) : NULL;
    conn *cn = loop ? conn_new(loop, fds[0], NULL, &NO_CBS, NULL) : NULL;
    check c = {.base = base, .max_msg = max_msg};
    c.ws = cn ? ws_conn_new(cn, server, &H, &c, max_msg) : NULL;
    if (!c.ws) {
        if (cn)
            conn_free(cn);
        else
            close(fds[0]);
        close(fds[1]);
        if (loop)
            conn_loop_free(loop);
        if (base)
            event_base_free(base);
        return 0;
    }
    /* the peer's bytes in pieces, each read by the loop before the next */
    for (size_t off = 0; off < size && !c.closes; off += piece) {
        size_t n = size - off < piece ? size - off : piece;
        if (write(fds[1], data + off, n) != (ssize_t)n)
            break;
        event_base_loop(base, EVLOOP_NONBLOCK);
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
    shutdown(fds[1], SHUT_WR);
    /* drain what we answer (pongs, close) so that our writes never block the loop */
    for (int i = 0; i < 64 && !c.closes; i++) {
        uint8_t sink[4096];
        event_base_loop(base, EVLOOP_NONBLOCK);
        while (recv(fds[1], sink, sizeof sink, MSG_DONTWAIT) > 0) {
        }
        if (!c.closes)
            event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    }
    if (!c.closes) {
        /* a peer that sent everything and closed its side must end the connection */
        struct timeval tv = {2, 0};
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
    if (c.closes != 1 || c.msg_bytes > size)
        abort();
    if (c.ws)
        ws_conn_free(c.ws);
    close(fds[1]);
    conn_loop_free(loop);
    event_base_free(base);
    return 0;
}
