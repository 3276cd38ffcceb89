/* SPDX-License-Identifier: MIT */
/* cleanup.c - expired-item sweep. */
#include "cleanup.h"

#include "clock.h"
#include <jansson.h>
#include <stdio.h>
#include <string.h>

char *cleanup_run(lambda_ctx *ctx, size_t *len, char *err, size_t errcap)
{
    int64_t now = clock_wall_ms() / 1000;
    long conns = 0, reqs = 0;
    if (store_cleanup(&ctx->st, ctx->st.conn_table, "connectionId", now, &conns, err, errcap) < 0)
        return NULL;
    if (store_cleanup(&ctx->st, ctx->st.pend_table, "requestId", now, &reqs, err, errcap) < 0)
        return NULL;
    TLOG_I(ctx->log, "cleanup: %ld connection items, %ld request items expired", conns, reqs);
    json_t *o = json_pack("{s:I,s:I,s:I}", "connectionsDeleted", (json_int_t)conns,
                          "requestsDeleted", (json_int_t)reqs, "timestamp", (json_int_t)now);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (s)
        *len = strlen(s);
    else
        snprintf(err, errcap, "out of memory");
    return s;
}
