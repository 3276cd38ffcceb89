/* SPDX-License-Identifier: MIT */
/* lambda_ctx.h - everything one bootstrap process passes to its handlers: configuration, log,
 * the DynamoDB and @connections clients, the token verifier, and per-invocation state (deadline,
 * work deferred until after the response is sent).
 * Owns nothing itself: main builds it and frees what it built. */
#ifndef LAMBDA_CTX_H
#define LAMBDA_CTX_H

#include <stdbool.h>
#include <stdint.h>

#include "apigw_mgmt.h"
#include "auth.h"
#include "config.h"
#include "log.h"
#include "store.h"
#include "tunnel_id.h"

typedef struct lambda_ctx {
    const lambda_config *cfg;
    const tlog *log;
    store st;
    apigw_mgmt mgmt;
    auth_verifier *auth;      /* NULL when auth is off or has no usable key material */
    const char *auth_problem; /* why auth cannot work (REQUIRE_AUTH with no key), or NULL */
    int64_t deadline_ms;      /* the current invocation's deadline (Unix ms), 0 = unknown */
    int64_t wait_until_ms;    /* the current request's own wait bound (answer_wait_bound, Unix
                                 ms): no answer is waited for later; 0 = unknown */
    char invocation_id[128];  /* its Lambda request id ("" = unknown) */
    bool lease_held;          /* it holds an admission lease (admission.h) */
    /* and the item of its agent connection's lease (admission_enter_agent), "" when none */
    char agent_lease[STORE_ADMISSION_KEY_SIZE];
    /* Deleting a finished request's items happens after the response is posted. */
    char defer_rid[64];
    char defer_cid[STORE_CONN_ID_SIZE];
    uint32_t defer_pieces;
    uint32_t defer_heads; /* response head continuations to delete */
    /* Requests this process recently found to belong to a connection: the next body pieces of
     * the same response skip the ownership read (a warm process gets several of them). */
    struct {
        char rid[64];
        char cid[STORE_CONN_ID_SIZE];
        int64_t at_ms;
    } verified[8];
    unsigned verified_next;
    /* The connection a tunnel's last request was delivered to, trusted for ROUTE_CACHE_MS
     * (at_ms on clock_now_ms, 0 = empty): the
     * next request skips the GSI query (a post to a gone connection meets 410 and queries). */
    struct {
        char tid[TUNNEL_NAME_MAX + 1]; /* any tunnel name, chosen ones included */
        char cid[STORE_CONN_ID_SIZE];
        char *access; /* that connection's access policy (gate.h; malloc'd, NULL: none) */
        int64_t at_ms;
    } routes[16];
    unsigned routes_next;
} lambda_ctx;

#define ROUTE_CACHE_MS 2000

#endif
