/* SPDX-License-Identifier: MIT */
/* http_handler.c - public requests: route, forward, wait, answer. */
#include "http_handler.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "events.h"
#include "clock.h"
#include "gate.h"
#include "httpresp.h"
#include "path_rewrite.h"
#include "proto_json.h"
#include "proxy.h"
#include "rewrite.h"
#include "route.h"

#define ERRCAP 256

/* protocol limits as size_t (lib/proto_json.h) */
static const size_t CHUNK = TTF_JSON_CHUNK;
static const size_t MAX_MSG = TTF_JSON_MAX_MSG;
/* A started response body may arrive until 27 s after API Gateway got the request: 2 s are
 * left to assemble and return up to 4 MiB before its 29 s integration limit. */
#define BODY_DEADLINE_MS 27000

int http_forward_headers(const http_event *e, const char *prefix, http_headers *out)
{
    /* The request rules of lib/proxy.h: the body is whole here, so its exact length replaces
     * whatever framing the client used; API Gateway (HTTPS only) already appended the client
     * to X-Forwarded-For, which the rule sees as the last member. */
    http_headers_free(out);
    if (http_headers_copy(out, &e->headers) != 0)
        return -1;
    proxy_request rule = {
        .client_ip = e->source_ip,
        .proto = "https",
        .prefix = prefix,
        .body_length = (int64_t)e->body_len,
    };
    return proxy_request_headers(out, &rule);
}

/* Encodes the http_request head carrying the first min(len, first) body bytes. */
static char *encode_head(const char *rid, const http_event *e, const char *fwd,
                         const http_headers *hdrs, size_t first, size_t *n)
{
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_REQUEST);
    m.request_id = strdup(rid);
    m.method = strdup(e->method);
    m.uri = strdup(fwd);
    for (size_t i = 0; i < hdrs->n; i++)
        http_headers_add(&m.headers, hdrs->v[i].name, strlen(hdrs->v[i].name), hdrs->v[i].value,
                         strlen(hdrs->v[i].value));
    m.body = e->body; /* borrowed: cleared before tmsg_free */
    m.body_len = e->body_len < first ? e->body_len : first;
    m.more = e->body_len > first;
    m.timestamp = (uint64_t)clock_wall_ms();
    char *text = (m.request_id && m.method && m.uri) ? tmsg_encode(&m, n) : NULL;
    m.body = NULL;
    tmsg_free(&m);
    return text;
}

/* Posts the request and its body pieces. MGMT_* result; *head_too_big when even a head without
 * body does not fit one message. */
static int post_request(lambda_ctx *ctx, const char *cid, const char *rid, const http_event *e,
                        const char *fwd, const http_headers *hdrs, bool *head_too_big, char *err)
{
    size_t n;
    size_t first = CHUNK;
    char *text = encode_head(rid, e, fwd, hdrs, first, &n);
    if (text && n > MAX_MSG) { /* big headers: every body byte goes in pieces */
        free(text);
        first = 0;
        text = encode_head(rid, e, fwd, hdrs, first, &n);
        if (text && n > MAX_MSG) {
            free(text);
            *head_too_big = true;
            snprintf(err, ERRCAP, "request head over one message");
            return MGMT_TOO_BIG;
        }
    }
    if (!text) {
        snprintf(err, ERRCAP, "out of memory");
        return MGMT_ERR;
    }
    int rc = mgmt_post(&ctx->mgmt, cid, text, n, err, ERRCAP);
    free(text);
    uint32_t seq = 1;
    for (size_t off = first; rc == MGMT_OK && off < e->body_len; off += CHUNK, seq++) {
        size_t piece = e->body_len - off < CHUNK ? e->body_len - off : CHUNK;
        tmsg m;
        tmsg_init(&m, TMSG_HTTP_REQUEST_BODY);
        m.request_id = strdup(rid);
        m.seq = seq;
        m.body = e->body + off;
        m.body_len = piece;
        m.more = off + piece < e->body_len;
        text = m.request_id ? tmsg_encode(&m, &n) : NULL;
        m.body = NULL;
        tmsg_free(&m);
        if (!text) {
            snprintf(err, ERRCAP, "out of memory");
            return MGMT_ERR;
        }
        rc = mgmt_post(&ctx->mgmt, cid, text, n, err, ERRCAP);
        free(text);
    }
    return rc;
}

typedef struct answer {
    bool head;       /* the response head has arrived (body pieces may still be coming) */
    int64_t head_ms; /* when it was first seen, relative to the start */
    bool more;       /* pieces follow the head */
    int status;
    char *text; /* an error text, or NULL */
    http_headers headers;
    uint8_t *body; /* the head's piece, then the whole body */
    size_t len;
    piece_set ps;    /* pieces read: 1..lastSeq once lastSeq is known, EARLY_PIECES before */
    bool last_known; /* lastSeq read: ps.n is the count */
    bool backlog;    /* the last piece read found most of what it asked for */
} answer;

/* Before the last piece names the count, the pieces after those already read are read as they
 * land (the agent sends them in order, at most 8 unacknowledged), so that little is left to read
 * once the count is known: the final read of a 4 MiB answer would be 5.6 MB at once. */
#define EARLY_PIECES 512u
#define EARLY_AHEAD 8u

/* Most pieces a response may have (ttf sends 16 KiB ones; smaller ones are allowed). */
#define MAX_PIECES PROXY_JSON_MAX_PIECES

static int fail(answer *a, int status, const char *text)
{
    a->status = status;
    a->text = strdup(text);
    return -1;
}

/* Joins the head's piece and pieces 1..n into a->body. 1, or -1 when out of memory. */
static int assemble(answer *a)
{
    size_t total = a->len + a->ps.bytes;
    uint8_t *b = realloc(a->body, total ? total : 1);
    if (!b)
        return fail(a, 500, "out of memory");
    size_t off = a->len;
    for (uint32_t i = 0; i < a->ps.n; i++) {
        if (a->ps.len[i])
            memcpy(b + off, a->ps.data[i], a->ps.len[i]);
        off += a->ps.len[i];
    }
    a->body = b;
    a->len = total;
    return 1;
}

/* One look at the request. 1 = answer complete, 0 = keep waiting, -1 = finished with an error
 * answer (text set). */
static int check(lambda_ctx *ctx, const char *rid, const char *cid, answer *a, char *err)
{
    if (a->head && a->last_known) /* every remaining step is fetching pieces */
        goto pieces;
    json_t *it;
    int rc = store_get_pending(&ctx->st, rid, &it, err, ERRCAP);
    if (rc < 0)
        return 0; /* a failed read is retried until the deadline */
    if (rc == 1)
        return fail(a, 502, "request lost");
    const char *st = ddb_get_s(it, "status");
    int64_t sc = 502, last = 0;
    ddb_get_n(it, "statusCode", &sc);
    if (st && strcmp(st, PEND_ERROR) == 0) {
        const char *msg = ddb_get_s(it, "errMsg");
        rc = fail(a, (int)sc, msg && *msg ? msg : "tunnel agent error");
        json_decref(it);
        return rc;
    }
    if (!st || strcmp(st, PEND_RESPONDED) != 0) {
        json_decref(it);
        return 0;
    }
    if (!a->head) {
        a->head = true;
        a->status = (int)sc;
        int more = 0;
        ddb_get_bool(it, "respMore", &more);
        a->more = more;
        const char *hj = ddb_get_s(it, "respHeaders");
        if (hj)
            httpresp_headers_from_json(hj, &a->headers);
        ddb_get_b(it, "body0", &a->body, &a->len);
    }
    bool have_last = ddb_get_n(it, "lastSeq", &last) == 0;
    json_decref(it);
    if (!a->more)
        return a->len > ctx->cfg->max_body ? fail(a, 502, "response body too large") : 1;
    if (!have_last) {
        if (!a->ps.n && piece_set_init(&a->ps, EARLY_PIECES) < 0)
            return fail(a, 500, "out of memory");
        uint32_t asked = 0, before = a->ps.have;
        if (store_fetch_pieces(&ctx->st, rid, cid, &a->ps, piece_set_prefix(&a->ps) + EARLY_AHEAD,
                               &asked, err, ERRCAP) == 0)
            a->backlog = asked > 0 && (a->ps.have - before) * 2 >= asked;
        return a->len + a->ps.bytes > ctx->cfg->max_body ? fail(a, 502, "response body too large")
                                                         : 0;
    }
    if (last < 1 || last > (int64_t)MAX_PIECES)
        return fail(a, 502, "response body too large");
    if ((a->ps.n ? piece_set_resize(&a->ps, (uint32_t)last)
                 : piece_set_init(&a->ps, (uint32_t)last)) < 0)
        return fail(a, 500, "out of memory");
    a->last_known = true;
pieces:;
    uint32_t before = a->ps.have, asked = 0;
    a->backlog = false;
    if (store_fetch_pieces(&ctx->st, rid, cid, &a->ps, 0, &asked, err, ERRCAP) < 0)
        return 0;
    /* most of what was asked for was there: more are likely waiting, read again at once */
    a->backlog = asked > 0 && (a->ps.have - before) * 2 >= asked;
    if (a->len + a->ps.bytes > ctx->cfg->max_body)
        return fail(a, 502, "response body too large");
    if (a->ps.have < a->ps.n)
        return 0; /* a piece is still being written */
    return assemble(a);
}

static char *finish(lambda_ctx *ctx, answer *a, const route_result *rr, size_t *len)
{
    if (a->text)
        return httpresp_text(a->status, a->text, len);
    if (rr->mode == ROUTE_PATH) {
        path_rewrite_head_urls(rr->tunnel_id, &a->headers); /* the rule ttfd applies */
        rewrite_kind k = rewrite_kind_for(http_headers_get(&a->headers, "content-type"),
                                          http_headers_get(&a->headers, "content-encoding"));
        uint8_t *nb;
        size_t nlen;
        int rc = rewrite_body(k, rr->tunnel_id, a->body, a->len, &nb, &nlen);
        if (rc == 1 && nlen <= ctx->cfg->max_body + 4096) {
            free(a->body);
            a->body = nb;
            a->len = nlen;
            if (http_headers_get(&a->headers, "content-length")) {
                char n[32];
                snprintf(n, sizeof n, "%zu", nlen);
                http_headers_set(&a->headers, "content-length", n);
            }
            http_headers_set(&a->headers, "x-tunnel-rewrite-applied", "true");
        } else if (rc == 1) {
            free(nb);
        }
    }
    return httpresp_build(a->status, &a->headers, a->body, a->len, len);
}

/* Waits for the agent's answer to rid sent over cid. */
static char *wait_answer(lambda_ctx *ctx, const char *rid, const char *cid, const route_result *rr,
                         int64_t start, int *status, size_t *len)
{
    int64_t posted_ms = clock_wall_ms();
    /* As ttfd: 504 when no response head came within the request timeout. Once the head is
     * in, the body may take until just under API Gateway's 29 s integration limit. */
    int64_t head_deadline = start + (int64_t)ctx->cfg->request_timeout_s * 1000;
    int64_t body_deadline = start + BODY_DEADLINE_MS;
    if (body_deadline < head_deadline)
        body_deadline = head_deadline;
    if (ctx->deadline_ms > 0 && ctx->deadline_ms - 500 < body_deadline)
        body_deadline = ctx->deadline_ms - 500;
    if (head_deadline > body_deadline)
        head_deadline = body_deadline;
    answer a = {0};
    http_headers_init(&a.headers);
    char err[ERRCAP];
    int64_t next_live = start + 1000;
    int done = 0;
    for (;;) {
        bool had_head = a.head;
        done = check(ctx, rid, cid, &a, err);
        int64_t now = clock_wall_ms();
        if (a.head && !had_head)
            a.head_ms = now - start;
        if (done != 0)
            break;
        /* the agent went away: no (more) answer will come. Once every piece is counted the
         * answer is complete in the table whatever happens to the agent. */
        if (now >= next_live && !a.last_known) {
            conn_rec c;
            if (store_get_connection(&ctx->st, cid, &c, err, sizeof err) == 1) {
                a.status = 502;
                a.text = strdup("tunnel agent disconnected");
                break;
            }
            next_live = now + 1000;
        }
        int64_t deadline = a.head ? body_deadline : head_deadline;
        if (now >= deadline) {
            a.status = 504;
            a.text = strdup(a.head ? "response body not complete in time"
                                   : "no response from the tunnel agent in time");
            break;
        }
        if (a.backlog)
            continue;
        long left = (long)(deadline - now);
        /* reading pieces costs the table more than a poll: slower while they trickle in */
        /* Polls an eighth of the time waited so far apart (4 ms to 250 ms): a quick answer is
         * seen within a few ms, a slow one costs few reads (~50 in the first 2 s, 4 a second
         * after). Reading pieces costs the table more than a poll: slower while they trickle in. */
        long d = (long)((now - posted_ms) / 8);
        d = d < 4 ? 4 : d > 250 ? 250 : d;
        if (a.last_known)
            d = 200;
        clock_sleep_ms(d < left ? d : left);
    }
    TLOG_D(ctx->log,
           "http %s: head after %" PRId64 " ms, %" PRIu32 " pieces, done after %" PRId64 " ms", rid,
           a.head_ms, a.ps.n, clock_wall_ms() - start);
    char *doc = finish(ctx, &a, rr, len);
    *status = a.status;
    snprintf(ctx->defer_rid, sizeof ctx->defer_rid, "%s", rid);
    snprintf(ctx->defer_cid, sizeof ctx->defer_cid, "%s", cid);
    /* the pieces to delete: all of them once counted, else those seen (the rest expire) */
    uint32_t seen = a.ps.n;
    while (!a.last_known && seen > 0 && !a.ps.data[seen - 1])
        seen--;
    ctx->defer_pieces = seen;
    piece_set_free(&a.ps);
    free(a.text);
    free(a.body);
    http_headers_free(&a.headers);
    return doc;
}

/* A remembered route, and a copy of its connection's access policy in *access. */
static bool route_cached(lambda_ctx *ctx, const char *tid, char cid[STORE_CONN_ID_SIZE],
                         char **access)
{
    int64_t now = (int64_t)clock_now_ms(); /* a duration: the monotonic clock */
    for (size_t k = 0; k < sizeof ctx->routes / sizeof ctx->routes[0]; k++)
        if (ctx->routes[k].at_ms && now - ctx->routes[k].at_ms < ROUTE_CACHE_MS &&
            strcmp(ctx->routes[k].tid, tid) == 0) {
            const char *a = ctx->routes[k].access;
            if (a && !(*access = strdup(a)))
                return false; /* never "no policy" by mistake: ask the table */
            snprintf(cid, STORE_CONN_ID_SIZE, "%s", ctx->routes[k].cid);
            return true;
        }
    return false;
}

static void route_forget(lambda_ctx *ctx, const char *tid)
{
    for (size_t k = 0; k < sizeof ctx->routes / sizeof ctx->routes[0]; k++)
        if (strcmp(ctx->routes[k].tid, tid) == 0) {
            ctx->routes[k].at_ms = 0;
            free(ctx->routes[k].access);
            ctx->routes[k].access = NULL;
        }
}

static void route_remember(lambda_ctx *ctx, const char *tid, const char *cid, const char *access)
{
    if (strlen(tid) >= sizeof ctx->routes[0].tid || strlen(cid) >= sizeof ctx->routes[0].cid)
        return;
    route_forget(ctx, tid);
    char *a = access ? strdup(access) : NULL;
    if (access && !a)
        return;
    unsigned k = ctx->routes_next++ % (sizeof ctx->routes / sizeof ctx->routes[0]);
    free(ctx->routes[k].access);
    snprintf(ctx->routes[k].tid, sizeof ctx->routes[k].tid, "%s", tid);
    snprintf(ctx->routes[k].cid, sizeof ctx->routes[k].cid, "%s", cid);
    ctx->routes[k].access = a;
    ctx->routes[k].at_ms = (int64_t)clock_now_ms();
}

void http_routes_free(lambda_ctx *ctx)
{
    for (size_t k = 0; k < sizeof ctx->routes / sizeof ctx->routes[0]; k++) {
        free(ctx->routes[k].access);
        ctx->routes[k].access = NULL;
        ctx->routes[k].at_ms = 0;
    }
}

static char *route_and_forward(lambda_ctx *ctx, const http_event *e, int64_t start, int *status,
                               size_t *len)
{
    char *access[STORE_MAX_TUNNEL_CONNS] = {0}; /* each connection's access policy (gate.h) */
    const char *host = http_headers_get(&e->headers, "host");
    size_t tlen = strlen(e->raw_path) + 1 + strlen(e->raw_query);
    char *target = malloc(tlen + 1);
    char *fwd = malloc(tlen + 3);
    char *doc = NULL;
    http_headers hdrs;
    http_headers_init(&hdrs);
    if (!target || !fwd)
        goto out;
    snprintf(target, tlen + 1, "%s%s%s", e->raw_path, e->raw_query[0] ? "?" : "", e->raw_query);
    route_result rr;
    size_t fwd_len = 0;
    if (route_resolve(host ? host : "", host ? strlen(host) : 0, target, strlen(target),
                      ctx->cfg->route_domain, &rr, fwd, &fwd_len) == ROUTE_NONE) {
        *status = 404;
        doc = httpresp_text(404, "tunnel not found", len);
        goto out;
    }
    if (e->too_big) {
        *status = 413;
        doc = httpresp_text(413, "request body too large", len);
        goto out;
    }
    char prefix[TUNNEL_NAME_MAX + 2];
    snprintf(prefix, sizeof prefix, "/%s", rr.tunnel_id);
    if (http_forward_headers(e, rr.mode == ROUTE_PATH ? prefix : NULL, &hdrs) < 0)
        goto out;
    char err[ERRCAP];
    char cids[STORE_MAX_TUNNEL_CONNS][STORE_CONN_ID_SIZE];
    size_t ncid = 0;
    bool cached = route_cached(ctx, rr.tunnel_id, cids[0], &access[0]);
    if (cached) {
        ncid = 1;
    } else if (store_find_tunnel(&ctx->st, rr.tunnel_id, cids, STORE_MAX_TUNNEL_CONNS, &ncid,
                                 access, err, sizeof err) < 0) {
        TLOG_E(ctx->log, "tunnel lookup %s: %s", rr.tunnel_id, err);
        *status = 502;
        doc = httpresp_text(502, "tunnel lookup failed", len);
        goto out;
    }
    if (ncid == 0) {
        *status = 404;
        doc = httpresp_text(404, "tunnel not found", len);
        goto out;
    }
    char rid[PROXY_REQUEST_ID_LEN + 1];
    if (proxy_request_id(rid) < 0)
        goto out;
    int rc = MGMT_GONE;
    size_t i;
    for (i = 0; i < ncid; i++) { /* stale records of gone agents are skipped and removed */
        /* Access control (gate.h): a refused request is never posted to the agent. */
        access_verdict av;
        gate_result g = gate_check(ctx, rr.tunnel_id, access[i], e, &hdrs, &av);
        if (g != GATE_ALLOW) {
            *status = g == GATE_REFUSED ? av.status : g == GATE_NOT_READY ? 503 : 502;
            doc = g == GATE_ERROR
                      ? httpresp_text(502, "tunnel access policy unusable", len)
                      : gate_response(g == GATE_REFUSED ? &av : NULL, rr.tunnel_id, len);
            goto out;
        }
        if (store_put_pending(&ctx->st, rid, cids[i], rr.tunnel_id, start / 1000, err,
                              sizeof err) != 0) {
            TLOG_E(ctx->log, "pending %s: %s", rid, err);
            rc = MGMT_ERR;
            break;
        }
        bool head_too_big = false;
        rc = post_request(ctx, cids[i], rid, e, fwd, &hdrs, &head_too_big, err);
        if (rc == MGMT_OK)
            break;
        store_delete_pending(&ctx->st, rid, NULL, 0, err, sizeof err);
        if (head_too_big) {
            *status = 431;
            doc = httpresp_text(431, "request headers too large", len);
            goto out;
        }
        if (rc != MGMT_GONE)
            break;
        store_delete_connection(&ctx->st, cids[i], err, sizeof err);
        if (cached) { /* the remembered connection is gone: ask the table after all */
            cached = false;
            route_forget(ctx, rr.tunnel_id);
            free(access[0]);
            access[0] = NULL;
            if (store_find_tunnel(&ctx->st, rr.tunnel_id, cids, STORE_MAX_TUNNEL_CONNS, &ncid,
                                  access, err, sizeof err) < 0)
                break;
            i = (size_t)-1; /* the loop's i++ starts the fresh list at 0 */
        }
    }
    if (rc == MGMT_LIMIT) { /* API Gateway kept refusing: a busy agent, not a gone one */
        TLOG_W(ctx->log, "request to tunnel %s not delivered: %s", rr.tunnel_id, err);
        *status = 503;
        doc = httpresp_text(503, "tunnel agent busy: try again", len);
        goto out;
    }
    if (rc != MGMT_OK) {
        TLOG_W(ctx->log, "request to tunnel %s not delivered: %s", rr.tunnel_id, err);
        *status = 502;
        doc = httpresp_text(502, "tunnel agent disconnected", len);
        goto out;
    }
    route_remember(ctx, rr.tunnel_id, cids[i], access[i]);
    int64_t posted = clock_wall_ms();
    doc = wait_answer(ctx, rid, cids[i], &rr, start, status, len);
    TLOG_D(ctx->log, "http %s: lookup+put+post %" PRId64 " ms, wait %" PRId64 " ms", rid,
           posted - start, clock_wall_ms() - posted);
out:
    for (size_t k = 0; k < STORE_MAX_TUNNEL_CONNS; k++)
        free(access[k]);
    http_headers_free(&hdrs);
    free(target);
    free(fwd);
    return doc;
}

char *http_handle(lambda_ctx *ctx, const json_t *ev, size_t *len)
{
    /* Wall-clock time on purpose: it meets the event's requestTimeEpoch, the invocation's
     * deadline (Lambda-Runtime-Deadline-Ms) and the items' TTLs, all Unix ms. */
    int64_t start = clock_wall_ms();
    http_event e;
    const char *perr;
    char *doc;
    int status = 500;
    if (http_event_parse(ev, ctx->cfg->max_body, &e, &perr) < 0) {
        TLOG_W(ctx->log, "http: bad event: %s", perr);
        http_event_free(&e);
        return httpresp_text(400, "bad request", len);
    }
    /* The budget runs from when API Gateway received the request (its 29 s limit does), when
     * the event says so plausibly: a cold start or a queue may have used some of it. */
    int64_t budget_start = start;
    if (e.time_epoch_ms > start - 29000 && e.time_epoch_ms <= start)
        budget_start = e.time_epoch_ms;
    doc = route_and_forward(ctx, &e, budget_start, &status, len);
    if (!doc) {
        status = 500;
        doc = httpresp_text(500, "internal error", len);
    }
    TLOG_I(ctx->log, "http %s %s %d in=%zu out=%zu %" PRId64 "ms", e.method, e.raw_path, status,
           e.body_len, *len, clock_wall_ms() - start);
    http_event_free(&e);
    return doc;
}
