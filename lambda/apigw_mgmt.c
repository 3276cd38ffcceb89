/* SPDX-License-Identifier: MIT */
/* apigw_mgmt.c - @connections calls. */
#include "apigw_mgmt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int mgmt_url(char *out, size_t cap, const char *endpoint, const char *connection_id)
{
    char *esc = aws_path_escape(connection_id);
    if (!esc)
        return -1;
    int n = snprintf(out, cap, "%s/@connections/%s", endpoint, esc);
    free(esc);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

static int call(apigw_mgmt *m, const char *method, const char *cid, const void *data, size_t len,
                char *err, size_t errcap)
{
    if (!m->endpoint) {
        snprintf(err, errcap, "WEBSOCKET_API_ENDPOINT is not set");
        return MGMT_ERR;
    }
    char url[1024];
    if (mgmt_url(url, sizeof url, m->endpoint, cid) < 0) {
        snprintf(err, errcap, "connection id too long");
        return MGMT_ERR;
    }
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    aws_resp r;
    long budget = m->limit_budget_ms > 0 ? m->limit_budget_ms : LIMIT_RETRY_MS_DEFAULT;
    long waited = 0, cap_ms = 25;
    for (;;) {
        if (aws_call(m->http, method, url, data ? hdrs : NULL, data, len, &r, err, errcap) < 0)
            return MGMT_ERR;
        if (r.status != 429)
            break;
        aws_resp_free(&r);
        /* full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): a random wait
         * in [0, cap), the cap doubling up to 1 s, for at most the budget */
        uint32_t rnd = 0;
        if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
            rnd = (uint32_t)time(NULL);
        long wait = 1 + (long)(rnd % (uint32_t)cap_ms);
        if (waited + wait > budget) {
            snprintf(err, errcap, "%s @connections: LimitExceededException after %ld ms of retries",
                     method, waited);
            return MGMT_LIMIT;
        }
        m->limit_retries++;
        struct timespec ts = {wait / 1000, (wait % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        waited += wait;
        cap_ms = cap_ms * 2 > 1000 ? 1000 : cap_ms * 2;
    }
    int rc;
    if (r.status >= 200 && r.status < 300) {
        rc = MGMT_OK;
    } else if (r.status == 410) {
        rc = MGMT_GONE;
        snprintf(err, errcap, "GoneException");
    } else if (r.status == 413) {
        rc = MGMT_TOO_BIG;
        snprintf(err, errcap, "payload too large");
    } else {
        rc = MGMT_ERR;
        snprintf(err, errcap, "%s @connections: HTTP %ld %.120s", method, r.status, r.body);
    }
    aws_resp_free(&r);
    return rc;
}

int mgmt_post(apigw_mgmt *m, const char *connection_id, const void *data, size_t len, char *err,
              size_t errcap)
{
    return call(m, "POST", connection_id, data, len, err, errcap);
}

int mgmt_get(apigw_mgmt *m, const char *connection_id, char *err, size_t errcap)
{
    return call(m, "GET", connection_id, NULL, 0, err, errcap);
}

int mgmt_delete(apigw_mgmt *m, const char *connection_id, char *err, size_t errcap)
{
    return call(m, "DELETE", connection_id, NULL, 0, err, errcap);
}
