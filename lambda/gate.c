/* SPDX-License-Identifier: MIT */
/* gate.c - access control on the Lambda path (see gate.h). */
#include "gate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "httpresp.h"

#define ERRCAP 256

int gate_prepare(const char *json, char **stored, bool *applied, char *why, size_t cap)
{
    *applied = false;
    *stored = NULL;
    access_policy *p = NULL;
    if (json && access_policy_from_request(json, strlen(json), &p, why, cap) != 0)
        return 1;
    *stored = access_policy_dump(p);
    *applied = p != NULL;
    access_policy_free(p);
    if (!*stored) {
        snprintf(why, cap, "out of memory");
        return -1;
    }
    return 0;
}

typedef struct rate_ctx {
    lambda_ctx *ctx;
    const char *tid;
} rate_ctx;

/* One more request of client in the current window: DynamoDB's count decides. */
static int64_t count(void *ud, const access_policy *p, const access_addr *client, int64_t now)
{
    rate_ctx *rc = ud;
    uint8_t k[ACCESS_RATE_KEY_MAX];
    size_t kl = access_rate_key(client, k);
    char hex[2 * ACCESS_RATE_KEY_MAX + 1];
    for (size_t i = 0; i < kl; i++)
        snprintf(hex + 2 * i, 3, "%02x", k[i]);
    int64_t per = p->rate.per_sec, win = now / 1000 / per;
    char key[160], err[ERRCAP];
    snprintf(key, sizeof key, "rate#%s#%s#%lld", rc->tid, hex, (long long)win);
    int64_t hits = 0, end_ms = (win + 1) * per * 1000;
    if (store_count_request(&rc->ctx->st, key, (win + 1) * per + 60, &hits, err, sizeof err) != 0) {
        TLOG_W(rc->ctx->log, "rate limit of tunnel %s not counted (request let through): %s",
               rc->tid, err);
        return -1;
    }
    if (hits <= (int64_t)p->rate.requests)
        return 0;
    return end_ms - now > 0 ? end_ms - now : 1;
}

gate_result gate_check(lambda_ctx *ctx, const char *tid, const char *access_text,
                       const http_event *e, http_headers *fwd, access_verdict *v)
{
    memset(v, 0, sizeof *v);
    if (!access_text)
        return GATE_ALLOW;
    if (strcmp(access_text, STORE_ACCESS_PENDING) == 0)
        return GATE_NOT_READY;
    access_policy *p = NULL;
    char why[300];
    if (access_policy_load(access_text, strlen(access_text), &p, why, sizeof why) != 0) {
        TLOG_E(ctx->log, "tunnel %s: stored access policy unusable: %s", tid, why);
        return GATE_ERROR; /* never "no policy" by mistake */
    }
    access_addr client;
    (void)access_addr_parse(e->source_ip, &client); /* none: family 0, in no network */
    rate_ctx rc = {ctx, tid};
    access_result r = access_decide(p, &client, &e->headers, clock_wall_ms(), count, &rc, v);
    access_policy_free(p);
    if (r != ACCESS_ALLOW)
        return GATE_REFUSED;
    if (v->strip_authorization)
        http_headers_remove(fwd, "authorization");
    return GATE_ALLOW;
}

char *gate_response(const access_verdict *v, const char *tid, size_t *len)
{
    http_headers h;
    http_headers_init(&h);
    char body[160];
    int status = v ? v->status : 503;
    snprintf(body, sizeof body, "%s\n",
             v ? access_refusal_body(v) : "the tunnel is not ready yet: try again");
    static const char ctype[] = "text/plain; charset=utf-8";
    char *doc = NULL;
    if (http_headers_add(&h, "content-type", 12, ctype, sizeof ctype - 1) == 0 &&
        (v ? access_refusal_headers(v, tid, &h) : edge_answer_fields(&h, status)) == 0)
        doc = httpresp_build(status, &h, (const uint8_t *)body, strlen(body), len);
    http_headers_free(&h);
    return doc;
}
