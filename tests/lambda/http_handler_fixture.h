/* SPDX-License-Identifier: MIT */
/* http_handler_fixture.h - the fixture shared by test_http_handler.c and
 * test_http_handler_delivery.c: the harness with one tunnel whose agent is on CID, the agent's
 * messages (response, piece), the scripted agent (one script per request: answers, overruns,
 * cancels, moves), request helpers and checks on the answer. Compiled once in lambda_fakes
 * (http_handler_fixture.c). */
#ifndef TTF_TEST_HTTP_HANDLER_FIXTURE_H
#define TTF_TEST_HTTP_HANDLER_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "harness.h"
#include "proxy.h"

#define CID "agentConnA="

typedef struct fixture {
    harness h;
    char tid[16];
    /* what the scripted agent saw */
    char rid[64];
    char method[16];
    char uri[512];
    unsigned requests, pieces_seen, head_parts_seen;
    size_t body_seen, headers_seen;
    char tunnel_seen[16];
    int mode;         /* which script the agent plays (per test) */
    bool cancel_seen; /* the Lambda posted a cancel */
    bool rest_sent;   /* EARLY_413_PIECES: the rest of the answer went */
} fixture;

int setup(void **state);

int teardown(void **state);

/* ---- the agent's messages ---- */

void response(harness *h, const char *rid, int status, const char *const *hdrs, const char *body,
              size_t len, bool more, bool later);

void piece(harness *h, const char *rid, uint32_t seq, const char *body, size_t len, bool more,
           bool later);

struct collector {
    char **texts;
    size_t *n;
};

int collect(void *ud, const tmsg *m);

/* ---- scripts ---- */

enum {
    PLAIN,        /* 200, Content-Length 5, "hello" */
    CL_OVER_HEAD, /* Content-Length 5, 11 bytes in the head's piece */
    CL_OVER_PIECES,
    CL_SHORT,
    NO_CL_PIECES, /* no Content-Length, body in the head and two pieces */
    BODY_204,
    BODY_304,
    HEAD_WITH_BODY,
    HEAD_PLAIN, /* HEAD: Content-Length 1234, no body */
    PIECE_AFTER_LAST,
    SECOND_RESPONSE,
    INTERIM_THEN_FINAL,
    EARLY_403,
    EARLY_413_PIECES, /* 413 on the head, more to come (the test sends the rest) */
    FOREIGN_ANSWER,
    BIG_HEAD,         /* 20 Set-Cookie of 1 KB: one message */
    HUGE_HEAD,        /* 200 fields of 1 KB: the head over several messages */
    OBS_TEXT,         /* a header value that is not UTF-8 */
    AGENT_CANCELS,    /* the local service fails after the head: cancel */
    CANCEL_AFTER_END, /* a cancel once the whole response is in (the app closed early) */
    CANCEL_FIRST,     /* ... whose $default invocation ran before the response's */
    SILENT,           /* never answers */
    RESENT,           /* every message sent twice (acks lost: the agent sends again) */
    MOVED,            /* the connection goes away unanswered; the tunnel is on another one */
    CL_ZERO_BODY,     /* Content-Length 0 and a body in the head's piece */
    CL_BAD_HEAD,      /* an invalid Content-Length on an answer to HEAD */
    CL_LIST,          /* "Content-Length: 5, 5" and "hello" */
};

extern const char *const CL5[];
extern const char *const CL10[];

/* MOVED: connection CID goes away with the request unanswered (its record deleted, as
 * $disconnect does) and the tunnel is on "B=", which answers. */
void moved(harness *h, fixture *f, const char *cid, const char *rid);

void agent(harness *h, const char *cid, const tmsg *m, void *ud);

json_t *request(fixture *f, int mode, const char *method, const char *path, const void *body,
                size_t len);

int status_of(const json_t *a);

void expect_body(const json_t *a, const char *want, size_t n);

/* A 502 of the tunnel's own making: never the agent's bytes, a log line naming the tunnel. */
void expect_overrun(fixture *f, json_t *a, const char *what);

#endif
