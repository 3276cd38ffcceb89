/* SPDX-License-Identifier: MIT */
/* fake_local.h - a fake local service for the agent's unit tests: a listening socket on
 * 127.0.0.1 (port 0), whose accepted connections the test reads and writes by hand while the
 * agent's event loop runs, plus a loop driver with deadlines. Compiled once in the unit tests'
 * support library (fake_local.c); used by test_agent_exchange.c and agent_wire_fixture.c.
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

#define FL_MAX_CONNS 32
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

uint64_t fl_now_ms(void);

void fl_init(fake_local *f, struct event_base *base);

void fl_free(fake_local *f);

/* One pass: the agent's loop once (without blocking long), then accept and read what is
 * there. */
void fl_pass(fake_local *f);

/* Runs passes until cond(ud) holds; fails the test after ms. */
bool fl_until(fake_local *f, bool (*cond)(void *ud), void *ud, unsigned ms);

typedef struct fl_want {
    fake_local *f;
    int conn;
    const char *text;
    size_t len;
} fl_want;

bool fl_has_cond(void *ud);

/* Waits until connection conn received text. */
bool fl_wait_text(fake_local *f, int conn, const char *text, unsigned ms);

bool fl_eof_cond(void *ud);

/* Waits until the agent closed connection conn. */
bool fl_wait_eof(fake_local *f, int conn, unsigned ms);

void fl_send(fake_local *f, int conn, const void *data, size_t len);

void fl_send_str(fake_local *f, int conn, const char *s);

void fl_close(fake_local *f, int conn);

/* The request head the connection received (up to CRLF CRLF), NUL-terminated copy. */
char *fl_head(const fake_local *f, int conn);

#endif
