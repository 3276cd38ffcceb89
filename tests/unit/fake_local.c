/* SPDX-License-Identifier: MIT */
/* fake_local.c - a fake local service on loopback TCP (see fake_local.h). */
#include "fake_local.h"

uint64_t fl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void fl_init(fake_local *f, struct event_base *base)
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

void fl_free(fake_local *f)
{
    for (int i = 0; i < f->nconns; i++) {
        if (f->conns[i] >= 0)
            close(f->conns[i]);
        free(f->got[i]);
    }
    close(f->lfd);
}

void fl_pass(fake_local *f)
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

bool fl_until(fake_local *f, bool (*cond)(void *ud), void *ud, unsigned ms)
{
    uint64_t end = fl_now_ms() + ms;
    while (!cond(ud)) {
        if (fl_now_ms() > end)
            return false;
        fl_pass(f);
    }
    return true;
}

bool fl_has_cond(void *ud)
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

bool fl_wait_text(fake_local *f, int conn, const char *text, unsigned ms)
{
    fl_want w = {f, conn, text, strlen(text)};
    return fl_until(f, fl_has_cond, &w, ms);
}

bool fl_eof_cond(void *ud)
{
    fl_want *w = ud;
    return w->conn < w->f->nconns && w->f->eof[w->conn];
}

bool fl_wait_eof(fake_local *f, int conn, unsigned ms)
{
    fl_want w = {f, conn, NULL, 0};
    return fl_until(f, fl_eof_cond, &w, ms);
}

void fl_send(fake_local *f, int conn, const void *data, size_t len)
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

void fl_send_str(fake_local *f, int conn, const char *s)
{
    fl_send(f, conn, s, strlen(s));
}

void fl_close(fake_local *f, int conn)
{
    close(f->conns[conn]);
    f->conns[conn] = -1;
}

char *fl_head(const fake_local *f, int conn)
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
