/* SPDX-License-Identifier: MIT */
/* apigw_mgmt.h - the API Gateway WebSocket management API (@connections): post a message to an
 * agent, ask whether a connection is live, close it. Signed for service "execute-api".
 * Owns nothing: uses the caller's aws_client. */
#ifndef LAMBDA_APIGW_MGMT_H
#define LAMBDA_APIGW_MGMT_H

#include <stddef.h>

#include "aws_http.h"

typedef struct apigw_mgmt {
    aws_client *http;
    const char *endpoint; /* "https://host/stage"; NULL = not configured */
    /* 429 LimitExceededException ("the client is sending more than the allowed number of
     * requests per unit of time or the WebSocket client side buffer is full", PostToConnection
     * in the API Gateway management API reference) is retried with exponential backoff and full
     * jitter, for at most this many ms per call (0: LIMIT_RETRY_MS_DEFAULT). */
    long limit_budget_ms;
    long limit_retries; /* calls retried after a 429 (figures for logs and tests) */
} apigw_mgmt;

#define LIMIT_RETRY_MS_DEFAULT 3000

enum {
    MGMT_OK = 0,
    MGMT_GONE = -2,    /* 410 GoneException: the agent is not connected (any more, or yet) */
    MGMT_TOO_BIG = -3, /* 413: over 128 KiB */
    MGMT_LIMIT = -4,   /* 429 LimitExceededException still after the retries */
    MGMT_ERR = -1,     /* anything else (reason in err) */
};

/* Builds "{endpoint}/@connections/{escaped id}" into out. 0 or -1. */
int mgmt_url(char *out, size_t cap, const char *endpoint, const char *connection_id);

/* POST a message. */
int mgmt_post(apigw_mgmt *m, const char *connection_id, const void *data, size_t len, char *err,
              size_t errcap);
/* GET: MGMT_OK when connected, MGMT_GONE when not. */
int mgmt_get(apigw_mgmt *m, const char *connection_id, char *err, size_t errcap);
/* DELETE (disconnect the agent). */
int mgmt_delete(apigw_mgmt *m, const char *connection_id, char *err, size_t errcap);

#endif
