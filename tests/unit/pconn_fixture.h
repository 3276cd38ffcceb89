/* SPDX-License-Identifier: MIT */
/* pconn_fixture.h - the fixture shared by test_server_pconn.c (relaying) and
 * test_server_pconn_leave.c (departures and limits): ttfd's public connections (server/pconn*.c)
 * over socketpairs, against a tunnel whose binary mux sends to a fake link (fake_link.h; the test
 * plays the agent by feeding frames to the mux). It owns the event base, the server and its
 * registry, the tunnel's mux, the client's end of the socketpair, what the client read, and an
 * access log the test can read (capture_log). Compiled once in the unit tests' support library
 * (pconn_fixture.c). */
#ifndef TTF_TEST_PCONN_FIXTURE_H
#define TTF_TEST_PCONN_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>

#include "fake_link.h"
#include "log.h"
#include "pconn.h"
#include "session.h"

typedef struct fixture {
    struct event_base *base;
    server_config cfg;
    server srv;
    state *st;
    fake_link link;
    tunnel tun;
    int cl; /* the client's end */
    char host[128];
    char in[65536]; /* what the client read */
    size_t in_len;
    bool eof;
    /* what the wait_* conditions wait for */
    size_t want_msgs;
    const char *want_text;
    /* the access log while capture_log is on (an open_memstream of log/log_len) */
    tlog tlog;
    char *log;
    size_t log_len;
} fixture;

/* cmocka's setup and teardown: a ready tunnel "t" (binary mode) with the default deadlines. */
int setup(void **state);
int teardown(void **state);

/* A new client connection (f->cl); what it read starts empty. */
void connect_client(fixture *f);

void client_send(fixture *f, const char *s, size_t n);
void client_sends(fixture *f, const char *s);

/* Runs the loop and reads what the client got, until cond(f) or the deadline (ms). */
bool run_until(fixture *f, bool (*cond)(fixture *), unsigned ms);

/* Conditions for run_until: f->want_msgs frames reached the agent, f->want_text reached the
 * client, the client read EOF, the agent got a RESET, the last DATA the agent got ends the
 * request body (FIN). */
bool have_msgs(fixture *f);
bool have_text(fixture *f);
bool have_eof(fixture *f);
bool have_reset(fixture *f);
bool have_body_fin(fixture *f);

/* The same waits, failing the test at their deadline. */
void wait_msgs(fixture *f, size_t n);
void wait_text(fixture *f, const char *t);
void wait_eof(fixture *f, unsigned ms);
void wait_body_fin(fixture *f);

/* The agent's frames, fed to the mux. */
void agent(fixture *f, uint8_t type, uint8_t flags, uint32_t sid, const char *payload, size_t len);
void agent_s(fixture *f, uint8_t type, uint8_t flags, uint32_t sid, const char *payload);

/* The index of the last frame of a type sent to the agent (or -1); the last OPEN's stream id. */
long last_of(const fixture *f, uint8_t type);
uint32_t open_sid(fixture *f);

/* Sends a bodiless request and waits until its OPEN reaches the agent. */
void get(fixture *f, const char *method, const char *target, const char *version,
         const char *extra);

/* Sends two bodiless requests, "GET /1" and "GET /2", in one write (pipelined). */
void client_sends_two_gets(fixture *f);

/* Sends "POST /up" with this framing header and waits for its OPEN. */
void post_head(fixture *f, const char *framing);

/* Sends up to n body octets while ttfd takes them (it stops reading when the stream's window is
 * shut); returns how many went. */
size_t push_body(fixture *f, size_t n);

/* The agent got a RESET and the last one carries this code (TTF_RST_*); returns its stream id. */
uint32_t assert_reset(fixture *f, uint8_t code);

/* The stream was cancelled (RESET cancel) and everything of the exchange freed. */
void assert_cancelled(fixture *f);

/* With one stream open (sid, on client connection first) and the limit at one: a second
 * request gets 503 with Retry-After and "tunnel agent busy: try again" at once, never reaches the
 * agent, and is logged `refused: <reason>`; once the first ends, a new request goes through. The
 * log must be captured. */
void busy_then_freed(fixture *f, int first, uint32_t sid, const char *reason);
/* The access log: capture_log starts it (the server logs into f->log), logged() is what it holds
 * so far, end_log stops it and frees it. */
void capture_log(fixture *f);
const char *logged(fixture *f);
void end_log(fixture *f);

#endif
