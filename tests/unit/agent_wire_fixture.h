/* SPDX-License-Identifier: MIT */
/* agent_wire_fixture.h - the fixture shared by test_agent_wire.c (binary mode) and
 * test_agent_wire_json.c (JSON mode): a real session over a socketpair whose other end is a
 * fake server (a server-side ws_conn recording every frame and message), the local service
 * fake_local.h. Compiled once in the unit tests' support library (agent_wire_fixture.c).
 * Owns: the fixture (make/make_tunnels allocate it, destroy frees it). */
#ifndef TTF_TEST_AGENT_WIRE_FIXTURE_H
#define TTF_TEST_AGENT_WIRE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fake_local.h"

#include <event2/buffer.h>

#include "proto_bin.h"
#include "session.h"

#define MAX_MSGS 256

/* ---- the fake server: a server-side WebSocket recording what the agent sends ---- */

typedef struct msg {
    bool text;
    uint8_t *data;
    size_t len;
} msg;

typedef struct server {
    ws_conn *ws;
    msg msgs[MAX_MSGS];
    size_t n;
    bool closed;
} server;

void srv_text(void *ud, const uint8_t *data, size_t len);

void srv_binary(void *ud, const uint8_t *data, size_t len);

void srv_drain(void *ud);

void srv_close(void *ud, uint16_t code, const char *reason);

extern const ws_handlers srv_handlers;

/* ---- the session's owner ---- */

void on_established(void *ud, const tmsg *m);
void on_closed(void *ud, uint16_t code, const char *reason);
void on_refused(void *ud, const char *code, const char *message);
extern const session_cbs scbs;

typedef struct fx {
    struct event_base *base;
    conn_loop *loop;
    fake_local fl, fl2; /* tunnel 0's local service, tunnel 1's (make_tunnels(.., 2)) */
    local_pool *pools[2];
    agent_tunnel tun[2];
    agent_config cfg;
    tlog log;
    exchange_observer obs;
    session *s;
    server srv;
    size_t seen; /* messages consumed by next_msg */
} fx;

/* The ids ready asks for again, per tunnel (NULL: none). */
extern const char *const *fx_held;

/* ntun 2: a config file's two tunnels, "web" (fl) and "api" (fl2). */
fx *make_tunnels(bool binary, size_t ntun);

fx *make(bool binary);

void destroy(fx *f);

bool has_msg(void *ud);

/* The next message the agent sent (waits up to 5 s). */
msg *next_msg(fx *f);

/* The next binary frame, decoded. */
ttf_frame next_frame(fx *f);

/* The next JSON message, decoded (the caller frees it). */
void next_json(fx *f, tmsg *out);

void send_open(fx *f, uint32_t sid, uint8_t tunnel, bool fin, const char *head);

void send_frame(fx *f, uint8_t type, uint8_t flags, uint32_t sid, const void *p, size_t n);

void send_json(fx *f, const tmsg *m);

/* An ack of the agent's answer `of` (rid, seq for body pieces), as the Lambda sends it; rid NULL
 * for ready (acknowledgements on). */
void send_ack(fx *f, tmsg_type of, const char *rid, uint32_t seq);

/* ttfd's connection_established for one tunnel "c" (http://c.x), announcing the JSON response
 * and request windows given (bytes; 0: not announced). */
void send_established(fx *f, uint32_t stream_window, uint32_t request_window);

#endif
