/* SPDX-License-Identifier: MIT */
/* fake_local.h - a fake local service for the agent's unit tests: a listening socket on
 * 127.0.0.1 (port 0), whose accepted connections the test reads and writes by hand while the
 * agent's event loop runs, plus a loop driver with deadlines. Header-only (static functions),
 * included by test_agent_exchange.c and test_agent_wire.c.
 * Owns: the listening socket and the accepted sockets (fl_free closes them). */
#ifndef TTF_TEST_FAKE_LOCAL_H
#define TTF_TEST_FAKE_LOCAL_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#define FL_MAX_CONNS 16
#define FL_BUF (16u << 20)

typedef struct fake_local {
    struct event_base *base;
    int lfd;
    int port;
    int conns[FL_MAX_CONNS]; /* accepted, in order; -1 once closed by the test */
    int nconns;
    char *got[FL_MAX_CONNS]; /* what each connection received so far */
    size_t got_len[FL_MAX_CONNS];
    bool eof[FL_MAX_CONNS]; /* the agent closed (or half-closed) that connection */
} fake_local;

static uint64_t fl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void fl_init(fake_local *f, struct event_base *base)
{
    memset(f, 0, sizeof *f);
    f->base = base;
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(f->lfd, 16) != 0)
        abort();
    socklen_t al = sizeof a;
    getsockname(f->lfd, (struct sockaddr *)&a, &al);
    f->port = ntohs(a.sin_port);
}

static void fl_free(fake_local *f)
{
    for (int i = 0; i < f->nconns; i++) {
        if (f->conns[i] >= 0)
            close(f->conns[i]);
        free(f->got[i]);
    }
    close(f->lfd);
}

/* One pass: the agent's loop once (without blocking long), then accept and read what is
 * there. */
static void fl_pass(fake_local *f)
{
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    for (;;) {
        int c = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK);
        if (c < 0)
            break;
        if (f->nconns == FL_MAX_CONNS)
            abort();
        f->got[f->nconns] = malloc(FL_BUF);
        f->conns[f->nconns++] = c;
    }
    for (int i = 0; i < f->nconns; i++) {
        if (f->conns[i] < 0 || f->eof[i])
            continue;
        for (;;) {
            size_t room = FL_BUF - f->got_len[i];
            if (room == 0)
                break;
            ssize_t n = read(f->conns[i], f->got[i] + f->got_len[i], room);
            if (n > 0) {
                f->got_len[i] += (size_t)n;
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                f->eof[i] = true;
            break;
        }
    }
    struct timespec ts = {0, 1000000}; /* 1 ms: the kernel moves the bytes */
    nanosleep(&ts, NULL);
}

/* Runs passes until cond(ud) holds; fails the test after ms. */
static bool fl_until(fake_local *f, bool (*cond)(void *ud), void *ud, unsigned ms)
{
    uint64_t end = fl_now_ms() + ms;
    while (!cond(ud)) {
        if (fl_now_ms() > end)
            return false;
        fl_pass(f);
    }
    return true;
}

typedef struct fl_want {
    fake_local *f;
    int conn;
    const char *text;
    size_t len;
} fl_want;

static bool fl_has_cond(void *ud)
{
    fl_want *w = ud;
    fake_local *f = w->f;
    if (w->conn >= f->nconns)
        return false;
    const char *g = f->got[w->conn];
    size_t n = f->got_len[w->conn];
    for (size_t i = 0; i + w->len <= n; i++) {
        if (memcmp(g + i, w->text, w->len) == 0)
            return true;
    }
    return false;
}

/* Waits until connection conn received text. */
static bool fl_wait_text(fake_local *f, int conn, const char *text, unsigned ms)
{
    fl_want w = {f, conn, text, strlen(text)};
    return fl_until(f, fl_has_cond, &w, ms);
}

static bool fl_eof_cond(void *ud)
{
    fl_want *w = ud;
    return w->conn < w->f->nconns && w->f->eof[w->conn];
}

/* Waits until the agent closed connection conn. */
static bool fl_wait_eof(fake_local *f, int conn, unsigned ms)
{
    fl_want w = {f, conn, NULL, 0};
    return fl_until(f, fl_eof_cond, &w, ms);
}

static void fl_send(fake_local *f, int conn, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(f->conns[conn], p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            fl_pass(f);
        } else {
            abort();
        }
    }
}

static void fl_send_str(fake_local *f, int conn, const char *s)
{
    fl_send(f, conn, s, strlen(s));
}

static inline void fl_close(fake_local *f, int conn)
{
    close(f->conns[conn]);
    f->conns[conn] = -1;
}

/* The request head the connection received (up to CRLF CRLF), NUL-terminated copy. */
static inline char *fl_head(const fake_local *f, int conn)
{
    const char *g = f->got[conn];
    size_t n = f->got_len[conn];
    for (size_t i = 0; i + 4 <= n; i++) {
        if (memcmp(g + i, "\r\n\r\n", 4) == 0) {
            char *h = malloc(i + 5);
            memcpy(h, g, i + 4);
            h[i + 4] = '\0';
            return h;
        }
    }
    return NULL;
}

#endif
