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
} apigw_mgmt;

enum {
    MGMT_OK = 0,
    MGMT_GONE = -2,    /* 410 GoneException: the agent is not connected (any more, or yet) */
    MGMT_TOO_BIG = -3, /* 413: over 128 KiB */
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
