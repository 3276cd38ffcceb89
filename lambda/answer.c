/* SPDX-License-Identifier: MIT */
/* answer.c - waiting for and judging the agent's answer (see answer.h). */
#include "answer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "edge_answer.h"
#include "httpresp.h"
#include "path_rewrite.h"
#include "proto_json.h"
#include "proxy.h"
#include "resp_frame.h"

#define ERRCAP 256
/* A started response body may arrive until 27 s after API Gateway got the request: 2 s are
 * left to assemble and return up to 4 MiB before its 29 s integration limit. */
#define BODY_DEADLINE_MS 27000
/* The pieces are read as they land, with the request item, in one BatchGetItem per poll (the
 * agent sends them in order, a window of them unacknowledged), so that little is left to read
 * once the last one is in: the final read of a 4 MiB answer would be 5.6 MB at once. A poll asks
 * for the lowest missing pieces: twice as many as the poll before found, EARLY_AHEAD to
 * AHEAD_MAX (they land in bursts of the agent's window; each key asked costs a read unit, found
 * or not). */
#define EARLY_PIECES 512u
#define EARLY_AHEAD 8u
#define AHEAD_MAX 64u
/* After the agent's cancel, how long what is in the table may still complete the response: the
 * $default invocations of the messages sent before it may run after it. */
#define CANCEL_GRACE_MS 2000
/* Most pieces a response may have (ttf sends 93 KiB ones; smaller ones are allowed). */
#define MAX_PIECES PROXY_JSON_MAX_PIECES

typedef struct answer {
    bool head;           /* the response head has arrived (body pieces may still be coming) */
    bool head_more;      /* its fields continue in http_response_headers messages not yet read */
    uint32_t head_parts; /* how many continuations it had */
    int64_t head_ms;     /* when it was first seen, relative to the start */
    bool more;           /* pieces follow the head */
    int status;
    char *text;         /* an error text, or NULL */
    bool overrun;       /* the error is the agent's breach of the response rules (logged) */
    const char *cancel; /* why the Lambda gives up on a request the agent still holds, or NULL */
    http_headers headers;
    rframe frame;    /* lib/resp_frame's rules for this response (assembled: no field edited) */
    bool framed;     /* frame has the head (the whole head is in) */
    uint64_t judged; /* body octets frame has counted */
    uint8_t *body;   /* the head's piece, then the whole body */
    size_t len;
    piece_set ps;         /* pieces read: 1..lastSeq once lastSeq is known, EARLY_PIECES before */
    bool last_known;      /* lastSeq read: ps.n is the count */
    bool backlog;         /* the last poll found most of what it asked for: poll again at once */
    uint32_t ahead;       /* how many missing pieces the next poll asks for */
    int64_t progress_ms;  /* when a piece was last found, or the count (wall ms) */
    int64_t cancelled_ms; /* when the agent's cancel was first seen (wall ms), 0: none */
} answer;

static int fail(answer *a, int status, const char *text)
{
    a->status = status;
    a->text = strdup(text);
    return -1;
}

static int breach(answer *a, const char *why)
{
    a->overrun = true;
    a->cancel = "protocol_error: the response broke the framing rules";
    return fail(a, 502, why);
}

static int too_large(answer *a)
{
    a->cancel = "response body over the serverless back-end's limit";
    return fail(a, 502, "response body too large");
}

static void count_only(void *ud, const void *data, size_t len)
{
    (void)ud, (void)data, (void)len; /* assembled: the body is joined by assemble() */
}

/* The response rules (lib/resp_frame.h, the ones ttfd frames its clients' responses by) on
 * what has arrived so far, in any order: the octets counted against the head's Content-Length
 * or bodiless status; complete: every octet is in. 0, or -1 (a breach). */
static int judge(answer *a, bool complete)
{
    if (!a->framed)
        return 0;
    size_t have = a->len + a->ps.bytes;
    rframe_result fr = RFRAME_OK;
    if (have > a->judged) {
        fr = rframe_body(&a->frame, NULL, have - a->judged, count_only, NULL);
        a->judged = have;
    }
    if (fr == RFRAME_OK && a->frame.mode == RFRAME_NONE && a->more)
        fr = RFRAME_OVERRUN; /* pieces announced for a response that has no body */
    if (fr == RFRAME_OK && complete && !a->frame.ended)
        fr = rframe_end(&a->frame, NULL, count_only, NULL);
    if (fr == RFRAME_OVERRUN)
        return breach(a, a->frame.mode == RFRAME_NONE ? ANSWER_BODILESS : ANSWER_OVER_LENGTH);
    if (fr == RFRAME_TRUNCATED)
        return breach(a, ANSWER_SHORT);
    return 0;
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

/* Every piece 1..lastSeq is in and the poll that read the last of them found no piece after
 * them (check): the rules, then the body is joined. */
static int complete(answer *a)
{
    if (judge(a, true) < 0)
        return -1;
    return assemble(a);
}

/* The request item of one poll: its status, the head (the first time it is there), the count
 * of pieces. 1 = the answer is complete (no pieces), 0 = go on, -1 = finished with an error
 * answer (text set). */
static int take_item(lambda_ctx *ctx, const answer_req *r, answer *a, json_t *it, char *err)
{
    const char *st = ddb_get_s(it, "status");
    int64_t sc = 502, last = 0;
    ddb_get_n(it, "statusCode", &sc);
    if (st && strcmp(st, PEND_ERROR) == 0) {
        const char *msg = ddb_get_s(it, "errMsg");
        int over = 0;
        ddb_get_bool(it, "overrun", &over);
        a->overrun = over;
        return fail(a, (int)sc, msg && *msg ? msg : "tunnel agent error");
    }
    int cancelled = 0;
    if (ddb_get_bool(it, "cancelled", &cancelled) == 0 && cancelled && !a->cancelled_ms)
        a->cancelled_ms = clock_wall_ms();
    if (!st || strcmp(st, PEND_RESPONDED) != 0)
        return 0;
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
        int hm = 0;
        ddb_get_bool(it, "respHeadMore", &hm);
        a->head_more = hm;
    }
    if (a->head_more) { /* the rest of the head first: the last continuation names the count */
        int64_t hs = 0;
        json_t *parts = NULL;
        if (ddb_get_n(it, "headSeq", &hs) != 0)
            return 0;
        if (hs < 1 || hs > (int64_t)STORE_MAX_HEAD_PARTS) {
            a->cancel = "response head over the serverless back-end's limit";
            return fail(a, 502, "response head too large");
        }
        if (store_fetch_head_parts(&ctx->st, r->rid, r->cid, (uint32_t)hs, &parts, err, ERRCAP))
            return 0; /* a continuation is still being written (or the read failed) */
        for (size_t i = 0; i < json_array_size(parts); i++)
            httpresp_headers_from_json(json_string_value(json_array_get(parts, i)), &a->headers);
        json_decref(parts);
        a->head_more = false;
        a->head_parts = (uint32_t)hs;
    }
    if (!a->framed) { /* the whole head is in: what it says of the body */
        rframe_init(&a->frame, &(rframe_request){.head = r->head_request, .assembled = true});
        /* ws_handlers passes final statuses only: a bad Content-Length is the one refusal */
        if (rframe_head(&a->frame, a->status, &a->headers, -1, true) != RFRAME_OK)
            return breach(a, ANSWER_BAD_LENGTH);
        a->framed = true;
    }
    if (judge(a, !a->more) < 0)
        return -1;
    if (!a->more)
        return a->len > ctx->cfg->max_body ? too_large(a) : 1;
    if (ddb_get_n(it, "lastSeq", &last) != 0)
        return 0; /* the count is not known yet */
    if (last < 1 || last > (int64_t)MAX_PIECES)
        return too_large(a);
    for (uint32_t q = (uint32_t)last; q < a->ps.n; q++)
        if (a->ps.data[q]) /* read early: a piece past the last one */
            return breach(a, ANSWER_AFTER_END);
    if ((a->ps.n ? piece_set_resize(&a->ps, (uint32_t)last)
                 : piece_set_init(&a->ps, (uint32_t)last)) < 0)
        return fail(a, 500, "out of memory");
    a->last_known = true;
    a->progress_ms = clock_wall_ms();
    return 0;
}

/* One poll: the request item (until the count of pieces is known) and the pieces, in one read.
 * 1 = answer complete, 0 = keep waiting, -1 = finished with an error answer (text set). */
static int check(lambda_ctx *ctx, const answer_req *r, answer *a, char *err)
{
    bool pieces = a->head && !a->head_more && a->more; /* pieces follow the whole head */
    if (pieces && !a->ps.n && piece_set_init(&a->ps, EARLY_PIECES) < 0)
        return fail(a, 500, "out of memory");
    bool was_known = a->last_known;
    answer_poll p = {
        .item = !was_known, .want = pieces ? a->ahead : 0, .probe = was_known ? a->ps.n + 1 : 0};
    uint32_t before = a->ps.have;
    if (store_poll_answer(&ctx->st, r->rid, r->cid, &a->ps, &p, err, ERRCAP) < 0)
        return 0; /* a failed read is retried until the deadline */
    uint32_t found = a->ps.have - before;
    a->backlog = p.asked > 0 && found * 2 >= p.asked;
    a->ahead = found * 2 < EARLY_AHEAD ? EARLY_AHEAD
               : found * 2 > AHEAD_MAX ? AHEAD_MAX
                                       : found * 2;
    if (found)
        a->progress_ms = clock_wall_ms();
    if (p.probe_found) /* a piece after the last one */
        return breach(a, ANSWER_AFTER_END);
    if (p.item) {
        if (!p.got_item)
            return fail(a, 502, "request lost");
        int rc = take_item(ctx, r, a, p.got_item, err);
        json_decref(p.got_item);
        if (rc != 0 || !a->head || a->head_more || !a->more)
            return rc;
        if (!pieces) { /* the head just came: its pieces from the next poll on, at once */
            a->backlog = true;
            a->ahead = EARLY_AHEAD;
            return 0;
        }
    }
    if (judge(a, false) < 0)
        return -1;
    if (a->len + a->ps.bytes > ctx->cfg->max_body)
        return too_large(a);
    if (!a->last_known || a->ps.have < a->ps.n)
        return 0; /* a piece is still being written */
    /* Every piece is in. Nothing may follow the last one (a piece a warm process wrote after it,
     * having skipped the ownership read): the same read asked for the one after it (the probe,
     * or among the pieces asked when this very read brought the count), else one more read. */
    if (!was_known && p.asked_to <= a->ps.n) {
        a->backlog = true;
        return 0;
    }
    return complete(a);
}

static char *finish(lambda_ctx *ctx, answer *a, const answer_req *r, size_t *len)
{
    if (a->text)
        return httpresp_text(a->status, a->text, len);
    const route_result *rr = r->rr;
    proxy_cookie_scope(&a->headers, ctx->cfg->route_domain); /* never every tunnel's cookies */
    if (rr->mode == ROUTE_PATH) {
        /* the rule ttfd applies: HEAD and 304 get the fields GET and 200 get */
        int k = path_rewrite_response_head(rr->tunnel_id, a->status,
                                           proxy_bodiless(a->status, r->head_request), &a->headers);
        uint8_t *nb;
        size_t nlen;
        int rc = k > PATH_RW_NONE ? path_rewrite_body((path_rewrite_kind)k, rr->tunnel_id, a->body,
                                                      a->len, &nb, &nlen)
                                  : 0;
        if (rc == 1 && nlen <= ctx->cfg->max_body + 4096) {
            free(a->body);
            a->body = nb;
            a->len = nlen;
        } else if (rc == 1) {
            free(nb);
        }
        if (k > PATH_RW_NONE) { /* its Content-Length went: the length sent is the body's */
            char n[32];
            snprintf(n, sizeof n, "%zu", a->len);
            http_headers_set(&a->headers, "content-length", n);
        }
    }
    /* an invalid Date from the agent removed: API Gateway writes its own (lib/proxy's rule) */
    if (proxy_response_date(&a->headers, a->status, NULL) != 0)
        return NULL;
    return httpresp_build(a->status, &a->headers, a->body, a->len, len);
}

void answer_cleanup(lambda_ctx *ctx)
{
    if (ctx->defer_rid[0]) {
        char err[ERRCAP];
        if (store_delete_pending(&ctx->st, ctx->defer_rid, ctx->defer_cid, ctx->defer_pieces,
                                 ctx->defer_heads, err, sizeof err) < 0)
            TLOG_W(ctx->log, "cleanup of %s: %s (TTL will expire it)", ctx->defer_rid, err);
    }
    ctx->defer_rid[0] = '\0';
    ctx->defer_cid[0] = '\0';
    ctx->defer_pieces = 0;
    ctx->defer_heads = 0;
}

void answer_cancel(lambda_ctx *ctx, const char *cid, const char *rid, const char *reason)
{
    tmsg c;
    tmsg_init(&c, TMSG_CANCEL);
    c.request_id = (char *)rid; /* borrowed: not freed */
    c.reason = (char *)reason;  /* borrowed */
    size_t n;
    char *text = tmsg_encode(&c, &n);
    char err[ERRCAP];
    if (!text || mgmt_post(&ctx->mgmt, cid, text, n, err, sizeof err) != MGMT_OK)
        TLOG_D(ctx->log, "cancel %s not delivered: %s", rid, text ? err : "out of memory");
    free(text);
}

int64_t answer_wait_bound(const lambda_ctx *ctx, int64_t start)
{
    int64_t head_deadline = start + (int64_t)ctx->cfg->request_timeout_s * 1000;
    int64_t body_deadline = start + BODY_DEADLINE_MS;
    if (body_deadline < head_deadline)
        body_deadline = head_deadline;
    if (ctx->deadline_ms > 0 && ctx->deadline_ms - 500 < body_deadline)
        body_deadline = ctx->deadline_ms - 500;
    return body_deadline;
}

char *answer_wait(lambda_ctx *ctx, const answer_req *r, int *status, size_t *len)
{
    /* wall-clock ms: start is API Gateway's timeEpoch, the deadline Lambda's (both Unix ms) */
    int64_t start = r->start, posted_ms = clock_wall_ms();
    /* As ttfd: 504 when no response head came within the request timeout. Once the head is
     * in, the body may take until just under API Gateway's 29 s integration limit. */
    int64_t head_deadline = start + (int64_t)ctx->cfg->request_timeout_s * 1000;
    int64_t body_deadline = answer_wait_bound(ctx, start);
    if (head_deadline > body_deadline)
        head_deadline = body_deadline;
    answer a = {.ahead = EARLY_AHEAD};
    http_headers_init(&a.headers);
    char err[ERRCAP];
    int64_t next_live = start + 1000;
    for (;;) {
        bool had_head = a.head;
        int done = check(ctx, r, &a, err);
        int64_t now = clock_wall_ms();
        if (a.head && !had_head)
            a.head_ms = now - start;
        if (done != 0)
            break;
        /* the agent went away: no (more) answer will come. Once every piece is counted the
         * answer is complete in the table whatever happens to the agent. */
        if (now >= next_live && !a.last_known) {
            conn_rec c;
            if (store_get_connection(&ctx->st, r->cid, &c, err, sizeof err) == 1) {
                fail(&a, edge_answer_of(EDGE_AGENT_GONE)->status,
                     edge_answer_of(EDGE_AGENT_GONE)->text);
                if (r->lost && !a.head)
                    *r->lost = true;
                break;
            }
            next_live = now + 1000;
        }
        if (a.cancelled_ms && now - a.cancelled_ms >= CANCEL_GRACE_MS) {
            fail(&a, 502, "the local service failed during its response");
            break;
        }
        int64_t deadline = a.head ? body_deadline : head_deadline;
        if (now >= deadline) {
            fail(&a, 504,
                 a.head ? "response body not complete in time"
                        : edge_answer_of(EDGE_NO_ANSWER_IN_TIME)->text);
            a.cancel = "timeout: the serverless back-end stopped waiting";
            break;
        }
        if (a.backlog)
            continue;
        long left = (long)(deadline - now);
        /* Polls an eighth of the time waited so far apart (4 ms to 250 ms): a quick answer is
         * seen within a few ms, a slow one costs few reads (~50 in the first 2 s, 4 a second
         * after). Once the last piece is in, the others are on their way (the agent's window):
         * an eighth of the time since one was last found. */
        long d = (long)((now - (a.last_known ? a.progress_ms : posted_ms)) / 8);
        d = d < 4 ? 4 : d > 250 ? 250 : d;
        clock_sleep_ms(d < left ? d : left);
    }
    if (a.overrun)
        TLOG_W(ctx->log, "tunnel %s: request %s: %s: answered 502, nothing of it forwarded",
               r->rr->tunnel_id, r->rid, a.text);
    if (a.cancel) /* the local request may still be running: stop it */
        answer_cancel(ctx, r->cid, r->rid, a.cancel);
    TLOG_D(ctx->log,
           "http %s: head after %" PRId64 " ms, %" PRIu32 " pieces, done after %" PRId64 " ms",
           r->rid, a.head_ms, a.ps.n, clock_wall_ms() - start);
    if (!a.text && a.frame.mode == RFRAME_NONE)
        a.len = 0; /* HEAD, 204, 304: the head only (judge refused any body for them) */
    char *doc = finish(ctx, &a, r, len);
    *status = a.status;
    snprintf(ctx->defer_rid, sizeof ctx->defer_rid, "%s", r->rid);
    snprintf(ctx->defer_cid, sizeof ctx->defer_cid, "%s", r->cid);
    /* the pieces to delete: all of them once counted, else those seen (the rest expire) */
    uint32_t seen = a.ps.n;
    while (!a.last_known && seen > 0 && !a.ps.data[seen - 1])
        seen--;
    ctx->defer_pieces = seen;
    ctx->defer_heads = a.head_parts;
    piece_set_free(&a.ps);
    free(a.text);
    free(a.body);
    http_headers_free(&a.headers);
    return doc;
}
