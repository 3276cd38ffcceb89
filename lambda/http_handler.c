/* SPDX-License-Identifier: MIT */
/* http_handler.c - public requests: route, forward, wait, answer. */
#include "http_handler.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admission.h"
#include "answer.h"
#include "events.h"
#include "clock.h"
#include "gate.h"
#include "http1_head.h"
#include "httpresp.h"
#include "proto_json.h"
#include "proxy.h"
#include "route.h"

#define ERRCAP 256

/* protocol limits as size_t (lib/proto_json.h) */
static const size_t CHUNK = TTF_JSON_CHUNK;

int http_forward_headers(const http_event *e, const char *prefix, const char *authority,
                         const char *loop_mark, http_headers *out)
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
        .keep_port = true, /* API Gateway's own */
        .prefix = prefix,
        .authority = authority,
        .body_length = (int64_t)e->body_len,
        .loop_mark = loop_mark,
    };
    return proxy_request_headers(out, &rule);
}

/* Whether the agent already answered (or failed) request rid: one consistent read of the
 * request item, before each body piece is posted. */
static bool answered_early(lambda_ctx *ctx, const char *rid)
{
    json_t *it = NULL;
    char err[ERRCAP];
    if (store_get_pending(&ctx->st, rid, &it, err, sizeof err) != 0)
        return false;
    const char *st = ddb_get_s(it, "status");
    bool done = st && strcmp(st, PEND_PENDING) != 0;
    json_decref(it);
    return done;
}

typedef struct poster {
    lambda_ctx *ctx;
    const char *cid;
    int rc; /* MGMT_* of the last post */
    char *err;
} poster;

/* tmsg_send_head's sender: one message posted to the agent. */
static int post_msg(void *ud, const tmsg *m)
{
    poster *p = ud;
    size_t n;
    char *text = tmsg_encode(m, &n);
    if (!text) {
        snprintf(p->err, ERRCAP, "out of memory");
        p->rc = MGMT_ERR;
        return -1;
    }
    p->rc = mgmt_post(&p->ctx->mgmt, p->cid, text, n, p->err, ERRCAP);
    free(text);
    return p->rc == MGMT_OK ? 0 : -1;
}

/* Posts the request and its body pieces (docs/protocol.md §2): the http_request head with as
 * much of the body as fits the message (its fields over several messages if it must), then
 * http_request_body pieces. MGMT_* result; *head_too_big when one field line alone does not fit
 * a message (API Gateway's own 10240-byte limit on request heads keeps that from happening). */
static int post_request(lambda_ctx *ctx, const char *cid, const char *rid, const char *tid,
                        const http_event *e, const char *fwd, const http_headers *hdrs,
                        bool *head_too_big, bool *cut, char *err)
{
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_REQUEST);
    m.request_id = strdup(rid);
    m.method = strdup(e->method);
    m.uri = strdup(fwd);
    m.tunnel_id = strdup(tid);
    m.timestamp = (uint64_t)clock_wall_ms();
    bool ok = m.request_id && m.method && m.uri && m.tunnel_id &&
              http_headers_reserve(&m.headers, hdrs->n) == 0;
    for (size_t i = 0; ok && i < hdrs->n; i++)
        ok = http_headers_add(&m.headers, hdrs->v[i].name, hdrs->v[i].nlen, hdrs->v[i].value,
                              hdrs->v[i].vlen) == 0;
    size_t n = 0;
    char *bare = ok ? tmsg_encode(&m, &n) : NULL; /* the head alone sizes the first piece */
    free(bare);
    if (!bare) {
        tmsg_free(&m);
        snprintf(err, ERRCAP, "out of memory");
        return MGMT_ERR;
    }
    size_t first = proxy_json_first_piece(n);
    m.body = e->body; /* borrowed: cleared before tmsg_free */
    m.body_len = e->body_len < first ? e->body_len : first;
    m.more = e->body_len > m.body_len;
    poster p = {.ctx = ctx, .cid = cid, .rc = MGMT_OK, .err = err};
    int sent = tmsg_send_head(&m, post_msg, &p);
    m.body = NULL;
    tmsg_free(&m);
    if (sent < 0) {
        if (p.rc != MGMT_OK)
            return p.rc;
        *head_too_big = true;
        snprintf(err, ERRCAP, "a request header field over one message");
        return MGMT_TOO_BIG;
    }
    size_t off = sent == 1 ? (e->body_len < first ? e->body_len : first) : 0;
    int rc = MGMT_OK;
    uint32_t seq = 1;
    for (; rc == MGMT_OK && off < e->body_len; seq++) {
        /* The app may answer before it has read the whole body (a 403 after the first bytes of
         * an upload): that answer is returned at once, the rest of the body is not sent (*cut:
         * the agent hears so once the answer is in, not before: its cancel drops the exchange,
         * the rest of a longer answer with it). */
        if (answered_early(ctx, rid)) {
            TLOG_I(ctx->log, "http %s: answered after %zu of %zu body bytes: rest not sent", rid,
                   off, e->body_len);
            *cut = true;
            break;
        }
        size_t piece = e->body_len - off < CHUNK ? e->body_len - off : CHUNK;
        tmsg b;
        tmsg_init(&b, TMSG_HTTP_REQUEST_BODY);
        b.request_id = strdup(rid);
        b.seq = seq;
        b.body = e->body + off;
        b.body_len = piece;
        b.more = off + piece < e->body_len;
        p.rc = MGMT_OK;
        if (b.request_id)
            post_msg(&p, &b);
        else
            p.rc = MGMT_ERR;
        b.body = NULL;
        tmsg_free(&b);
        rc = p.rc;
        off += piece;
        /* refused (429: the agent stopped reading, its app answered already?): the answer wins */
        if (rc != MGMT_OK && answered_early(ctx, rid)) {
            TLOG_I(ctx->log, "http %s: answered; the rest of the body not sent (%s)", rid, err);
            *cut = true;
            rc = MGMT_OK;
        }
    }
    return rc;
}

/* A remembered route, and a copy of its connection's access policy in *access (gate.h). */
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

/* How long a request whose tunnel's connection has just gone waits for the agent's next one
 * (its takeover: a new WebSocket, $connect and ready, seconds on a slow back-end), and how often
 * it looks (a GSI query each time). */
#define MOVE_WAIT_MS 4000
#define MOVE_POLL_MS 200
enum { NO_CONNECTION = 1, CONNECTION_GONE = 2 }; /* why deliver() found no connection */

/* Whether tunnel tid is held by a live connection that the tunnel-id-index may not show yet:
 * the index is a global secondary index, "eventually consistent reads only", its changes
 * propagated "within a fraction of a second" ("Using Global Secondary Indexes in DynamoDB"),
 * so a tunnel just given to a connection (a new agent's ready, a move to the next connection)
 * can be missing from it for that long. Read consistently: tid's owner record names a holder
 * whose connection record serves tid. One GetItem for an unknown name (no owner record). */
static bool held_but_not_indexed(lambda_ctx *ctx, const char *tid)
{
    char err[ERRCAP];
    owner_rec o;
    if (store_get_owner(&ctx->st, tid, &o, err, sizeof err) != 0 || !o.holder[0])
        return false;
    return store_connection_serves(&ctx->st, o.holder, tid, err, sizeof err) == 1;
}

static void free_access(char *access[STORE_MAX_TUNNEL_CONNS])
{
    for (size_t k = 0; k < STORE_MAX_TUNNEL_CONNS; k++) {
        free(access[k]);
        access[k] = NULL;
    }
}

/* Finds the tunnel's connection (remembered, else the GSI; never `gone`), decides the request
 * under that connection's access policy (gate.h: a refused request is never posted), records it
 * (a fresh id in rid) and posts it (post_request) with the headers the policy leaves. NULL with
 * rid and cid set when it is with the agent; otherwise the answer to return (401/403/429 of the
 * policy, 404, 431, 502, 503 (not ready, busy, or admission.h's limit); *status set), or NULL with
 * rid empty when out of memory. *vanished: NO_CONNECTION when the tunnel has no connection (the
 * 404, or the 502 after `gone`), CONNECTION_GONE when every candidate met GoneException (the agent
 * may be moving to its next connection), else 0. *cut: the agent answered before the whole body
 * was posted (post_request). */
static char *deliver(lambda_ctx *ctx, const http_event *e, const route_result *rr, const char *fwd,
                     const http_headers *hdrs, int64_t start, const char *gone,
                     char rid[PROXY_REQUEST_ID_LEN + 1], char cid[STORE_CONN_ID_SIZE], int *status,
                     size_t *len, int *vanished, bool *cut)
{
    char err[ERRCAP];
    char cids[STORE_MAX_TUNNEL_CONNS][STORE_CONN_ID_SIZE];
    char *access[STORE_MAX_TUNNEL_CONNS] = {0}; /* each connection's access policy (gate.h) */
    size_t ncid = 0;
    char *doc = NULL;
    http_headers sent; /* hdrs as the policy of the connection tried leaves them */
    http_headers_init(&sent);
    rid[0] = '\0';
    bool cached = route_cached(ctx, rr->tunnel_id, cids[0], &access[0]);
    if (cached && strcmp(cids[0], gone) == 0) {
        cached = false;
        free_access(access);
    }
    if (cached) {
        ncid = 1;
    } else if (store_find_tunnel(&ctx->st, rr->tunnel_id, cids, STORE_MAX_TUNNEL_CONNS, &ncid,
                                 access, err, sizeof err) < 0) {
        TLOG_E(ctx->log, "tunnel lookup %s: %s", rr->tunnel_id, err);
        *status = 502;
        return httpresp_text(502, "tunnel lookup failed", len);
    }
    for (size_t k = 0; k < ncid; k++) /* the connection that just went away is no candidate */
        if (strcmp(cids[k], gone) == 0) {
            free(access[k]);
            memmove(cids[k], cids[ncid - 1], sizeof cids[k]);
            access[k] = access[ncid - 1];
            access[ncid - 1] = NULL;
            ncid--;
            break;
        }
    if (ncid == 0) {
        *vanished = NO_CONNECTION;
        doc = httpresp_answer(gone[0] ? EDGE_AGENT_GONE : EDGE_TUNNEL_NOT_FOUND, status, len);
        goto out;
    }
    if (proxy_request_id(rid, NULL) < 0) {
        rid[0] = '\0';
        goto out;
    }
    int rc = MGMT_GONE;
    size_t i;
    for (i = 0; i < ncid; i++) { /* stale records of gone agents are skipped and removed */
        http_headers_free(&sent);
        http_headers_init(&sent);
        if (http_headers_copy(&sent, hdrs) != 0) {
            rc = MGMT_ERR;
            snprintf(err, sizeof err, "out of memory");
            break;
        }
        /* Access control (gate.h): decided per connection record, before anything is posted */
        access_verdict av;
        gate_result g = gate_check(ctx, rr->tunnel_id, access[i], e, &sent, &av);
        if (g != GATE_ALLOW) {
            *status = g == GATE_REFUSED ? av.status : g == GATE_NOT_READY ? 503 : 502;
            doc = g == GATE_ERROR
                      ? httpresp_text(502, "tunnel access policy unusable", len)
                      : gate_response(g == GATE_REFUSED ? &av : NULL, rr->tunnel_id, len);
            rid[0] = '\0';
            goto out;
        }
        /* Admission (admission.h): only a request about to wait takes a place, first among
         * those waiting for this agent (the answer ttfd gives past --max-streams-per-agent) */
        if (admission_enter_agent(ctx, cids[i]) != ADMIT_OK) {
            doc = httpresp_answer(EDGE_AGENT_BUSY, status, len);
            rid[0] = '\0';
            goto out;
        }
        if (admission_enter(ctx) != ADMIT_OK) {
            doc = httpresp_answer(EDGE_AGENT_BUSY, status, len); /* ttfd's --max-streams too */
            rid[0] = '\0';
            goto out;
        }
        if (store_put_pending(&ctx->st, rid, cids[i], rr->tunnel_id, start / 1000, err,
                              sizeof err) != 0) {
            TLOG_E(ctx->log, "pending %s: %s", rid, err);
            rc = MGMT_ERR;
            break;
        }
        bool head_too_big = false;
        rc = post_request(ctx, cids[i], rid, rr->tunnel_id, e, fwd, &sent, &head_too_big, cut, err);
        if (rc == MGMT_OK)
            break;
        store_delete_pending(&ctx->st, rid, NULL, 0, 0, err, sizeof err);
        if (head_too_big) {
            doc = httpresp_answer(EDGE_JSON_FIELD_TOO_LARGE, status, len);
            goto out;
        }
        if (rc != MGMT_GONE)
            break;
        store_delete_connection(&ctx->st, cids[i], err, sizeof err);
        if (cached) { /* the remembered connection is gone: ask the table after all */
            cached = false;
            route_forget(ctx, rr->tunnel_id);
            free_access(access);
            if (store_find_tunnel(&ctx->st, rr->tunnel_id, cids, STORE_MAX_TUNNEL_CONNS, &ncid,
                                  access, err, sizeof err) < 0)
                break;
            i = (size_t)-1; /* the loop's i++ starts the fresh list at 0 */
        }
    }
    if (rc == MGMT_LIMIT) { /* API Gateway kept refusing: a busy agent, not a gone one */
        TLOG_W(ctx->log, "request to tunnel %s not delivered: %s", rr->tunnel_id, err);
        doc = httpresp_answer(EDGE_AGENT_BUSY, status, len);
    } else if (rc != MGMT_OK) {
        TLOG_W(ctx->log, "request to tunnel %s not delivered: %s", rr->tunnel_id, err);
        *vanished = rc == MGMT_GONE ? CONNECTION_GONE : 0;
        doc = httpresp_answer(EDGE_AGENT_GONE, status, len);
    } else {
        snprintf(cid, STORE_CONN_ID_SIZE, "%s", cids[i]);
        route_remember(ctx, rr->tunnel_id, cid, access[i]);
    }
out:
    free_access(access);
    http_headers_free(&sent);
    return doc;
}

/* The request line and Host of e read by ttfd's rules (lib/http1_head, RFC 9112 §3.2): the
 * method, the target (rawPath encoded again, rawQueryString as the client sent it: a '#' in it
 * is the client's own) and Host (two Host lines reach us joined with ","), parsed as one head
 * into h. NULL when they pass and the target is no CONNECT's, else ttfd's answer (400 with the
 * rule, 501; 500 when out of memory), its status in *status. */
static char *request_line_rules(const http_event *e, const char *host, http1_head *h, int *status,
                                size_t *len)
{
    size_t n = strlen(e->method) + strlen(e->raw_path) + strlen(e->raw_query) +
               (host ? strlen(host) : 0) + 40;
    char *buf = malloc(n);
    if (!buf) { /* an answer: NULL would mean the request passes */
        *status = 500;
        return httpresp_text(500, "internal error", len);
    }
    /* without Host (API Gateway always sends one) as ttfd takes an HTTP/1.0 request */
    int k = snprintf(buf, n, "%s %s%s%s HTTP/1.%d\r\n%s%s%s\r\n", e->method, e->raw_path,
                     e->raw_query[0] ? "?" : "", e->raw_query, host ? 1 : 0, host ? "Host: " : "",
                     host ? host : "", host ? "\r\n" : "");
    http1_limits lim = {.max_head = n, .max_fields = 1};
    http1_err err = {0};
    size_t used;
    http1_head_result r = http1_parse_head(h, buf, (size_t)k, true, &lim, &used, &err);
    free(buf);
    if (r == HTTP1_HEAD_DONE && h->form != HTTP1_TARGET_AUTHORITY)
        return NULL;
    if (r == HTTP1_HEAD_DONE)
        return httpresp_answer(EDGE_CONNECT_NOT_SUPPORTED, status, len);
    char why[160];
    *status = err.status ? err.status : 400;
    snprintf(why, sizeof why, "%s%s", *status == 400 ? "bad request: " : "",
             err.reason ? err.reason : "unparsable");
    return httpresp_text(*status, why, len);
}

static char *route_and_forward(lambda_ctx *ctx, const http_event *e, int64_t start, int *status,
                               size_t *len)
{
    const char *host = http_headers_get(&e->headers, "host");
    http1_head h;
    http1_head_init(&h);
    char *doc = request_line_rules(e, host, &h, status, len);
    const char *target = h.path ? h.path : h.target;
    size_t tlen = target ? strlen(target) : 0;
    char *fwd = malloc(tlen + 3);
    http_headers hdrs;
    http_headers_init(&hdrs);
    if (doc || !target || !fwd)
        goto out;
    /* an absolute-form target names the origin, not Host (RFC 9112 §3.2.2), as in ttfd */
    if (h.authority)
        host = h.authority;
    route_result rr;
    size_t fwd_len = 0;
    if (route_resolve(host ? host : "", host ? strlen(host) : 0, target, tlen,
                      ctx->cfg->route_domain, &rr, fwd, &fwd_len) == ROUTE_NONE) {
        doc = httpresp_answer(EDGE_TUNNEL_NOT_FOUND, status, len);
        goto out;
    }
    /* a request back through its own tunnel (ttfd's rule, at ttfd's point: before
     * 413 and 501, so both edges give one answer): the deployment's domain keys the
     * marks, the same in every instance a loop passes through */
    char mark[PROXY_LOOP_MARK_LEN + 1];
    const char *key = ctx->cfg->route_domain;
    if (proxy_loop_mark(mark, key, strlen(key), rr.tunnel_id) != 0)
        goto out;
    if (proxy_loop_seen(&e->headers, mark)) {
        TLOG_W(ctx->log, "tunnel %s: %s %s refused: loop (its own CDN-Loop mark came back)",
               rr.tunnel_id, e->method, target);
        doc = httpresp_answer(EDGE_LOOP_DETECTED, status, len);
        goto out;
    }
    if (e->too_big) {
        doc = httpresp_answer(EDGE_BODY_TOO_LARGE, status, len);
        goto out;
    }
    /* no pipe here (JSON messages only): a WebSocket upgrade gets what a JSON-mode ttfd gives */
    if (e->body_len == 0 && proxy_websocket_upgrade(&e->headers)) {
        doc = httpresp_answer(EDGE_WEBSOCKET_NEEDS_BINARY, status, len);
        goto out;
    }
    char prefix[TUNNEL_NAME_MAX + 2];
    snprintf(prefix, sizeof prefix, "/%s", rr.tunnel_id);
    if (http_forward_headers(e, rr.mode == ROUTE_PATH ? prefix : NULL,
                             h.form == HTTP1_TARGET_ABSOLUTE ? h.authority : NULL, mark, &hdrs) < 0)
        goto out;
    char rid[PROXY_REQUEST_ID_LEN + 1], cid[STORE_CONN_ID_SIZE], gone[STORE_CONN_ID_SIZE] = "";
    int64_t move_until = 0;
    for (int attempt = 0;; attempt++) {
        int vanished = 0;
        bool cut = false;
        doc = deliver(ctx, e, &rr, fwd, &hdrs, start, gone, rid, cid, status, len, &vanished, &cut);
        bool unindexed = false;
        if (doc &&
            (vanished == CONNECTION_GONE ||
             (vanished == NO_CONNECTION &&
              (gone[0] || move_until || (unindexed = held_but_not_indexed(ctx, rr.tunnel_id)))))) {
            /* The tunnel's connection went away moments ago: an agent moving to its next
             * connection (API Gateway's 2-hour limit) is back within a few seconds, its
             * takeover then routes the tunnel there. Or its new connection is not in the index
             * yet. Wait for it rather than answer 502 or 404. */
            int64_t now = clock_wall_ms();
            int64_t limit = start + (int64_t)ctx->cfg->request_timeout_s * 1000 - 1000;
            if (!move_until) {
                move_until = now + MOVE_WAIT_MS < limit ? now + MOVE_WAIT_MS : limit;
                TLOG_I(ctx->log, "tunnel %s: %s", rr.tunnel_id,
                       unindexed ? "held by a connection the index does not show yet: waiting"
                                 : "its connection went away: waiting for the next one");
            }
            if (now + MOVE_POLL_MS <= move_until) {
                free(doc);
                doc = NULL;
                clock_sleep_ms(MOVE_POLL_MS);
                attempt--;
                continue;
            }
            if (*status == 404) { /* it was there: its agent went away, not an unknown tunnel */
                free(doc);
                doc = httpresp_answer(EDGE_AGENT_GONE, status, len);
            }
        }
        if (doc || !rid[0])
            break; /* answered already (404, 431, 502, 503), or out of memory */
        int64_t posted = clock_wall_ms();
        bool lost = false;
        answer_req ar = {.rid = rid,
                         .cid = cid,
                         .rr = &rr,
                         .head_request = strcmp(e->method, "HEAD") == 0,
                         .start = start,
                         .lost = &lost};
        doc = answer_wait(ctx, &ar, status, len);
        if (cut) /* the answer is in: now the agent may drop the exchange and its connection */
            answer_cancel(ctx, cid, rid, "request body not sent: the response came first");
        TLOG_D(ctx->log, "http %s: lookup+put+post %" PRId64 " ms, wait %" PRId64 " ms", rid,
               posted - start, clock_wall_ms() - posted);
        /* The connection went away before any answer (the agent moved to its next one while
         * this request was on its way to the old one, or API Gateway closed it): an idempotent
         * request (RFC 9110 §9.2.2) is sent once more, on the tunnel's current connection, when
         * there is time for it. */
        if (!lost || attempt > 0 || !proxy_method_idempotent(e->method) ||
            clock_wall_ms() > start + (int64_t)ctx->cfg->request_timeout_s * 1000 - 1000)
            break;
        TLOG_I(ctx->log, "http %s: tunnel %s: connection %s went away before answering: sent again",
               rid, rr.tunnel_id, cid);
        answer_cleanup(ctx); /* this attempt's items, before the next attempt's */
        snprintf(gone, sizeof gone, "%s", cid);
        route_forget(ctx, rr.tunnel_id);
        free(doc);
        doc = NULL;
    }
out:
    http_headers_free(&hdrs);
    http1_head_free(&h);
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
    ctx->wait_until_ms = answer_wait_bound(ctx, budget_start); /* admission leases end there */
    doc = route_and_forward(ctx, &e, budget_start, &status, len);
    ctx->wait_until_ms = 0;
    if (!doc) {
        status = 500;
        doc = httpresp_text(500, "internal error", len);
    }
    TLOG_I(ctx->log, "http %s %s %d in=%zu out=%zu %" PRId64 "ms", e.method, e.raw_path, status,
           e.body_len, *len, clock_wall_ms() - start);
    http_event_free(&e);
    return doc;
}
