/* SPDX-License-Identifier: MIT */
/* harness.h - the Lambda's handlers in one test process: two lambda_ctx (the WebSocket
 * function's and the HTTP function's, as infra/ deploys them) over one fake DynamoDB
 * (fake_ddb.h) and one fake @connections (fake_mgmt.h), events built as API Gateway sends them,
 * and a scripted agent: every message the Lambda posts to a connection is decoded and handed to
 * the test's agent function, whose answers go back through $default, at once or at the HTTP
 * function's next poll of its request.
 * Owns: the fakes, both contexts, the configuration and the captured log. */
#ifndef TESTS_LAMBDA_HARNESS_H
#define TESTS_LAMBDA_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "fake_ddb.h"
#include "fake_mgmt.h"
#include "lambda_ctx.h"
#include "proto_json.h"

#define H_CONN_TABLE "conns"
#define H_PEND_TABLE "pending"
#define H_DOMAIN "tunnel.test"

typedef struct harness harness;
/* The scripted agent: m is a message the Lambda posted to connection cid (borrowed). */
typedef void (*agent_fn)(harness *h, const char *cid, const tmsg *m, void *ud);

struct harness {
    fake_ddb *db;
    fake_mgmt *mgmt;
    aws_client db_http, mgmt_http;
    ddb dbc;
    lambda_config cfg;
    tlog log;
    FILE *logf;
    char *logtext;
    size_t loglen;
    lambda_ctx http, ws;
    agent_fn agent;
    void *agent_ud;
    json_t *later; /* [[cid, text], ...] waiting for the HTTP function's next poll */
    bool delivering;
    unsigned events;
    /* The test's own "meanwhile" before each DynamoDB call (may be NULL): the fake's hook is
     * the harness's (fake_ddb_on_call), which calls this. */
    void (*meanwhile)(harness *h, const char *op, void *ud);
    void *meanwhile_ud;
};

/* env: "NAME=value" strings (NULL-terminated, may be NULL) on top of the harness's defaults.
 * 0 or -1. */
int harness_init(harness *h, const char *const *env);
void harness_free(harness *h);
/* cmocka setup and teardown: *state a harness (harness_init with no env), then freed. */
int harness_setup(void **state);
int harness_teardown(void **state);

/* One invocation through dispatch_event + dispatch_after; the answer document parsed (caller
 * decrefs), NULL when the handler failed. event is stolen. */
json_t *harness_invoke(harness *h, lambda_ctx *ctx, json_t *event);

json_t *ev_connect(harness *h, const char *cid, const char *offer);
json_t *ev_message(harness *h, const char *cid, const char *text);
json_t *ev_disconnect(harness *h, const char *cid);
/* A payload 2.0 event: headers (stolen, may be NULL) as API Gateway lowercases them. */
json_t *ev_http(harness *h, const char *method, const char *host, const char *raw_path,
                const char *query, json_t *headers, const void *body, size_t len);

/* $connect + ready for connection cid: 0 with the tunnel id in tid (16 bytes), or -1. */
int harness_agent_connect(harness *h, const char *cid, char tid[16]);
/* The agent sends text on cid now: the $default answer (caller decrefs). */
json_t *harness_agent_send(harness *h, const char *cid, const char *text);
/* The agent sends text on cid once the HTTP function next reads its request (it is waiting). */
void harness_agent_later(harness *h, const char *cid, const char *text);
/* An encoded message (tmsg_encode of m), malloc'd. */
char *harness_encode(const tmsg *m);
/* A public request for tunnel tid through the HTTP function (subdomain routing); the 2.0
 * answer document (caller decrefs). */
json_t *harness_request(harness *h, const char *tid, const char *method, const char *path,
                        json_t *headers, const void *body, size_t len);
/* The decoded body of a 2.0 answer (malloc'd, *len), NULL when absent. */
unsigned char *harness_body(const json_t *answer, size_t *len);
/* A response header of a 2.0 answer (case-insensitive name), or NULL. */
const char *harness_header(const json_t *answer, const char *name);
/* True when the captured log has a line containing a and b (b may be NULL). */
bool harness_log_has(harness *h, const char *a, const char *b);

#endif
