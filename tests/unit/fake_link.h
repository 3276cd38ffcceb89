/* SPDX-License-Identifier: MIT */
/* fake_link.h - a mux_link (server/mux.h) that records what a mux sends, and a stream owner
 * that records the upcalls it gets, for the unit tests of the muxes and of pconn. Compiled once
 * in the unit tests' support library (fake_link.c). */
#ifndef TEST_FAKE_LINK_H
#define TEST_FAKE_LINK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mux.h"
#include "proto_bin.h"

#define FAKE_MAX_MSGS 512

typedef struct fake_msg {
    bool text;
    uint8_t *data;
    size_t len;
} fake_msg;

typedef struct fake_link {
    fake_msg msgs[FAKE_MAX_MSGS];
    size_t n;
    size_t pending; /* what pending() answers */
    bool paused;
    int refuse; /* send_* return -1 while set */
} fake_link;

int fake_send_binary(void *ud, const void *hdr, size_t hlen, const void *data, size_t len);

int fake_send_text(void *ud, const void *data, size_t len);

size_t fake_pending(void *ud);

void fake_pause(void *ud, bool on);

mux_link fake_link_of(fake_link *f);

void fake_clear(fake_link *f);

/* A JSON-mode mux over f, for tunnel t1 of agent 127.0.0.1 (asserted non-NULL). */
mux *fake_mux_json(fake_link *f);

/* The i-th recorded binary frame's fields. */
uint8_t fake_type(const fake_link *f, size_t i);
uint8_t fake_flags(const fake_link *f, size_t i);
uint32_t fake_sid(const fake_link *f, size_t i);

/* ---- a stream owner recording upcalls ---- */

typedef struct owner {
    int heads, bodies, ends, fails, resumes;
    int status, last_known_fin;
    int64_t known_len;
    bool fin;
    char body[8192];
    size_t body_len;
    int fail_status;
    char fail_why[200]; /* the text the client is answered */
    bool fail_protocol;
    char trailers[512];
    /* what to do inside an upcall */
    mux_stream *close_on_head; /* closes this stream from the head upcall */
    const mux_ops *ops;
    bool reads_nothing; /* peer_window answers 0: the client's receive window is shut */
} owner;

void own_head(void *ud, int status, const char *reason, http_headers *h, int64_t known_len,
              bool fin);

void own_body(void *ud, const uint8_t *data, size_t len);

void own_end(void *ud, const http_headers *trailers);

void own_fail(void *ud, int status, const char *why, bool protocol);

void own_resume(void *ud);

size_t own_peer_window(void *ud);

/* A GET / with Host x.localhost opened on m for own (owner_upcalls); NULL when refused. */
mux_stream *fake_open_get(mux *m, owner *own);

extern const mux_upcalls owner_upcalls;

/* Asks m whether one stream more may open and checks (cmocka) that it is refused as the agent's
 * limit (mux_set_max_streams: MUX_ADMIT_AGENT_FULL), with nothing sent on link. */
void assert_agent_full(mux *m, const fake_link *link);

#endif
