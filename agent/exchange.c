/* SPDX-License-Identifier: MIT */
/* exchange.c - one local HTTP exchange (see exchange.h): the request toward the local service,
 * the lifetime rules (deferred free, timers, the pool decision) and the observer. The response
 * side (strict parsing, interim heads, the body as the tunnel can take it, upgrades) is in
 * exchange_resp.c; both share exchange_int.h. */
#include "exchange_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "clock.h"
#include "edge_answer.h"
#include "proxy.h"

const char *exchange_fail_name(exchange_fail why)
{
    switch (why) {
    case XFAIL_UNAVAILABLE:
        return "local_service_unavailable";
    case XFAIL_TIMEOUT:
        return "timeout";
    case XFAIL_BAD_REQUEST:
        return "invalid_request";
    default:
        return "internal_error";
    }
}

uint64_t xc_now_ms(const exchange *x)
{
    (void)x;
    return clock_now_ms();
}

/* ---- lifetime: upcalls may free the exchange; the memory goes when the outermost call
 * returns ---- */

static void destroy(exchange *x);

void xc_enter(exchange *x)
{
    x->depth++;
}

void xc_leave(exchange *x)
{
    if (--x->depth == 0 && x->free_pending)
        destroy(x);
}

bool xc_gone(const exchange *x)
{
    return x->free_pending;
}

static void observe_end(exchange *x, const char *error)
{
    exchange_info info = {
        .mode = x->mode,
        .id = x->id,
        .method = x->method,
        .target = x->target,
        .req_headers = &x->req_headers,
        .status = x->final_status,
        .resp_headers = x->final_status ? &x->resp.head.headers : NULL,
        .req_bytes = x->req_bytes,
        .resp_bytes = x->resp_bytes,
        .head_ms = x->final_status ? x->t_head - x->t0 : 0,
        .total_ms = xc_now_ms(x) - x->t0,
        .error = error,
        .upgraded = x->upgraded,
        .tunnel = x->env->tunnel,
    };
    obs_end(&x->obs, x->env->obs, &info);
}

/* May the local connection serve another request? (docs/protocol.md §4: the request written in
 * full, the response read in full with nothing after it, neither side asked to close.) */
static bool reusable(const exchange *x)
{
    return x->lc.sk && x->lc.connected && x->resp_done && x->req_done && !x->upgraded &&
           !x->no_reuse && !x->local_eof && !x->local_dead && x->resp.head.keep_alive &&
           lconn_pending(&x->lc) == 0 && evbuffer_get_length(lconn_in(&x->lc)) == 0;
}

static void destroy(exchange *x)
{
    if (x->timer)
        event_free(x->timer);
    lconn_close(&x->lc, reusable(x));
    http1_free(&x->resp);
    http_headers_free(&x->req_headers);
    free(x->retry_head);
    free(x->deferred_msg);
    free(x->public_base);
    free(x->id); /* method and target share its block */
    free(x);
}

void exchange_free(exchange *x, const char *error)
{
    if (!x || x->free_pending)
        return;
    if (!x->ended && !error)
        error = "cancelled";
    observe_end(x, x->ended ? x->end_error : error);
    x->free_pending = true;
    if (x->depth == 0)
        destroy(x);
}

/* ---- upcalls that end the exchange ---- */

void xc_fail(exchange *x, exchange_fail why, const char *message)
{
    if (xc_gone(x) || x->ended)
        return;
    x->ended = true;
    x->end_error = exchange_fail_name(why);
    x->local_dead = true; /* never pooled after a failure */
    if (x->timer)
        event_del(x->timer);
    TLOG_D(x->env->log, "%s %s: %s (%s)", x->mode, x->id, exchange_fail_name(why), message);
    x->sink->fail(x->ud, why, message, x->head_sent);
}

void xc_end(exchange *x, const http_headers *trailers)
{
    if (xc_gone(x) || x->ended)
        return;
    x->ended = true;
    x->resp_done = true;
    if (x->timer)
        event_del(x->timer);
    x->sink->end(x->ud, trailers, x->req_done);
}

/* RFC 9112 §9.5: a client that sees an error response closing the connection while it sends a
 * body should cease sending it. The local service answered so (a 413 with Connection: close, as
 * Go's net/http does when it will not read a large body) and will not read the rest: what is
 * unwritten is dropped and later body octets are not written, so that nothing waits for room the
 * local service will never make (JSON mode holds its whole link for it, and the window credit of
 * this very response would queue behind the body it holds back: every tunnel of the agent
 * stalled until the local service closed). */
void xc_drop_request(exchange *x)
{
    if (x->req_done || x->upgrade_req || x->req_dropped || !x->lc.open)
        return;
    x->req_dropped = true;
    x->no_reuse = true;
    struct evbuffer *out = lconn_out(&x->lc);
    evbuffer_drain(out, evbuffer_get_length(out));
    if (x->sink->drained)
        x->sink->drained(x->ud);
}

/* ---- timers ---- */

static void timer_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    exchange *x = ud;
    xc_enter(x);
    if (x->deferred) {
        x->deferred = 0;
        xc_fail(x, x->deferred_why, x->deferred_msg ? x->deferred_msg : "out of memory");
    } else if (!x->head_sent) {
        /* the edges' words for the same fault (whichever wait ran out first), the time here */
        TLOG_I(x->env->log, "%s %s: no response from the local service within %u s", x->mode, x->id,
               x->env->request_timeout_ms / 1000);
        xc_fail(x, XFAIL_TIMEOUT, edge_answer_of(EDGE_NO_ANSWER_IN_TIME)->text);
    }
    xc_leave(x);
}

void xc_arm_timer(exchange *x)
{
    if (!x->timer || x->head_sent || x->deferred)
        return;
    unsigned ms = x->env->request_timeout_ms;
    struct timeval tv = clock_timeval_ms(ms);
    evtimer_add(x->timer, &tv);
}

/* A failure found inside exchange_new (or another call the adapter cannot take an upcall in)
 * is reported from the loop. */
static void defer_fail(exchange *x, exchange_fail why, const char *message)
{
    if (x->deferred)
        return;
    x->deferred = 1;
    x->deferred_why = why;
    x->deferred_msg = strdup(message);
    struct timeval now = {0, 0};
    if (x->timer)
        evtimer_add(x->timer, &now);
}

/* ---- the local connection ---- */

static void local_read(void *ud)
{
    exchange *x = ud;
    xc_enter(x);
    xc_pump(x);
    xc_leave(x);
}

static void local_write(void *ud)
{
    exchange *x = ud;
    xc_enter(x);
    if (!xc_gone(x) && x->sink->drained)
        x->sink->drained(x->ud);
    xc_leave(x);
}

/* A pooled connection that the local service closed while it was idle (it ended before one
 * octet of the answer): a bodiless request with an idempotent method goes again on a fresh
 * connection, once. Another method is not sent again: the service may have applied it before
 * closing (RFC 9112 §9.3.1: a proxy MUST NOT automatically retry non-idempotent requests). */
static bool retry_fresh(exchange *x)
{
    if (!x->retry_head || x->resp_octets > 0 || !lconn_stale(&x->lc, false))
        return false;
    lconn_close(&x->lc, false);
    x->local_eof = x->local_dead = false;
    bool ok = lconn_open(&x->lc, x->env->pool, &xc_local_cbs, x, true) == 0;
    if (ok)
        evbuffer_add(lconn_out(&x->lc), x->retry_head, x->retry_len);
    free(x->retry_head);
    x->retry_head = NULL;
    if (!ok)
        return false;
    TLOG_D(x->env->log, "%s %s: idle local connection was closed; sent again", x->mode, x->id);
    return true;
}

static void local_event(void *ud, short what)
{
    exchange *x = ud;
    xc_enter(x);
    if (xc_gone(x) || retry_fresh(x)) {
        xc_leave(x);
        return;
    }
    if (what & LOCAL_EV_ERROR) {
        x->local_dead = true;
        if (!x->lc.connected) {
            char msg[400];
            /* ngrok's ERR_NGROK_8012 says what to do too: nothing listens on that port */
            snprintf(
                msg, sizeof msg, "local service %s: %s%s", x->env->host->hostport,
                x->lc.errmsg[0] ? x->lc.errmsg : strerror(x->lc.err ? x->lc.err : ECONNREFUSED),
                x->lc.err == ECONNREFUSED ? " (is it running? nothing listens on that port)" : "");
            TLOG_W(x->env->log, "%s", msg);
            xc_fail(x, XFAIL_UNAVAILABLE, msg);
            xc_leave(x);
            return;
        }
    }
    /* EOF, or an error once connected: what was read still goes out, then the end of input
     * decides (a close-delimited body ends; anything else was cut short). */
    x->local_eof = true;
    xc_pump(x);
    xc_leave(x);
}

const lconn_cbs xc_local_cbs = {local_read, local_write, local_event};

/* ---- the request ---- */

static bool method_has_body(const char *m)
{
    return strcasecmp(m, "POST") == 0 || strcasecmp(m, "PUT") == 0 || strcasecmp(m, "PATCH") == 0;
}

/* The request framing toward the local service (docs/protocol.md §4): Content-Length when
 * known, else chunked when a body follows. -1 with *why set for a head that cannot go. */
static int frame_request(exchange *x, const exchange_request *req, const char **why)
{
    http_headers *h = &x->req_headers;
    bool upgrade = req->upgrade && http_headers_get_id(h, HTTP_H_UPGRADE) &&
                   http_headers_has_token(h, "Connection", "upgrade");
    /* the edge applied the request rules; the framing of this hop is ours */
    if (proxy_remove_hop_by_hop(h, upgrade, false, req->trailers) != 0)
        return *why = "out of memory", -1;
    x->upgrade_req = upgrade;
    int64_t cl = -1;
    uint64_t v = 0;
    int has_cl = http_headers_one_content_length(h, &v); /* one field on this hop */
    if (has_cl < 0)
        return *why = "bad Content-Length", -1;
    if (has_cl) {
        cl = (int64_t)v;
    } else if (req->content_length >= 0 &&
               (req->content_length > 0 || req->body || method_has_body(req->method))) {
        cl = req->content_length;
        char buf[24];
        snprintf(buf, sizeof buf, "%lld", (long long)cl);
        if (http_headers_add(h, "Content-Length", 14, buf, strlen(buf)) != 0)
            return *why = "out of memory", -1;
    } else if (!req->body && method_has_body(req->method)) {
        cl = 0;
        if (http_headers_add(h, "Content-Length", 14, "0", 1) != 0)
            return *why = "out of memory", -1;
    }
    if (cl > 0 && !req->body)
        return *why = "the request has a Content-Length but no body", -1;
    if (cl < 0 && req->body && !upgrade) {
        if (http_headers_add(h, "Transfer-Encoding", 17, "chunked", 7) != 0)
            return *why = "out of memory", -1;
        x->req_chunked = true;
    }
    x->req_left = cl;
    return 0;
}

exchange *exchange_new(const exchange_env *env, const exchange_request *req,
                       const exchange_sink *sink, void *ud)
{
    exchange *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->env = env;
    x->sink = sink;
    x->ud = ud;
    x->mode = req->mode;
    x->t0 = 0;
    /* id, method and target: one block, owned through x->id */
    const char *id = req->id ? req->id : "?";
    size_t il = strlen(id) + 1, ml = strlen(req->method) + 1, tl = strlen(req->target) + 1;
    x->id = malloc(il + ml + tl);
    if (x->id) {
        memcpy(x->id, id, il);
        x->method = memcpy(x->id + il, req->method, ml);
        x->target = memcpy(x->id + il + ml, req->target, tl);
    }
    x->timer = evtimer_new(env->base, timer_cb, x);
    http_headers_init(&x->req_headers);
    /* the size limit is the one that matters: a field line is at least 3 octets */
    http1_limits lim = {.max_head = env->max_response_head,
                        .max_fields = env->max_response_head / 16 > HTTP1_DEFAULT_MAX_FIELDS
                                          ? env->max_response_head / 16
                                          : HTTP1_DEFAULT_MAX_FIELDS,
                        /* the local service is the developer's own: a head with bare LF line
                         * ends is read (RFC 9112 §2.2) and goes on with CRLF, as nginx and
                         * Go-based tunnels relay it */
                        .bare_lf = true};
    http1_init_limits(&x->resp, false, &lim);
    if (!x->id || !x->method || !x->target || !x->timer) {
        x->free_pending = true; /* nothing observed yet */
        destroy(x);
        return NULL;
    }
    x->t0 = xc_now_ms(x);
    x->req_headers = *req->headers;
    http_headers_init(req->headers);
    x->interim = req->interim;
    x->trailers_ok = req->trailers;
    x->req_done = !req->body;
    x->is_head = strcmp(req->method, "HEAD") == 0;
    xc_resp_init(x);

    const char *why = NULL;
    size_t hlen = 0;
    char *head = NULL;
    if (frame_request(x, req, &why) != 0 ||
        rewrite_request_host(env->host, &x->req_headers, &x->public_base) != 0) {
        why = why ? why : "out of memory";
    } else if (!(head = http_format_request_head(x->method, x->target, &x->req_headers, &hlen))) {
        why = "the request head cannot be written";
    }
    obs_request orq = {x->mode, x->id, x->method, x->target, &x->req_headers, env->tunnel};
    obs_begin(&x->obs, env->obs, &orq);
    if (why) {
        defer_fail(x, XFAIL_BAD_REQUEST, why);
        return x;
    }
    if (lconn_open(&x->lc, env->pool, &xc_local_cbs, x, false) != 0) {
        free(head);
        char msg[400];
        snprintf(msg, sizeof msg, "local service %s: %s", env->host->hostport,
                 strerror(x->lc.err ? x->lc.err : ECONNREFUSED));
        TLOG_W(env->log, "%s", msg);
        defer_fail(x, XFAIL_UNAVAILABLE, msg);
        return x;
    }
    evbuffer_add(lconn_out(&x->lc), head, hlen);
    if (x->lc.reused && x->req_done && proxy_method_idempotent(x->method)) {
        x->retry_head = head; /* kept: a stale pooled connection gets it again */
        x->retry_len = hlen;
    } else {
        free(head);
    }
    xc_arm_timer(x);
    TLOG_D(env->log, "%s %s: %s %s", x->mode, x->id, x->method, x->target);
    return x;
}

void exchange_body(exchange *x, const uint8_t *data, size_t len)
{
    if (!x || xc_gone(x) || len == 0)
        return;
    xc_enter(x);
    bool writable = x->lc.open && !x->local_dead;
    if (x->upgraded) {
        if (writable)
            evbuffer_add(lconn_out(&x->lc), data, len);
        x->req_bytes += len;
    } else if (x->req_done || x->ended || x->req_dropped) {
        /* the response ended first, or refused it: the rest of the request is not wanted */
    } else if (x->req_left >= 0 && (uint64_t)len > (uint64_t)x->req_left) {
        xc_fail(x, XFAIL_BAD_REQUEST, "request body longer than its Content-Length");
    } else {
        if (writable) {
            struct evbuffer *out = lconn_out(&x->lc);
            if (x->req_chunked) {
                char pre[HTTP1_CHUNK_PREFIX_MAX];
                evbuffer_add(out, pre, http1_chunk_prefix(pre, len));
                evbuffer_add(out, data, len);
                evbuffer_add(out, HTTP1_CHUNK_SUFFIX, sizeof HTTP1_CHUNK_SUFFIX - 1);
            } else {
                evbuffer_add(out, data, len);
            }
        }
        if (x->req_left > 0)
            x->req_left -= (int64_t)len;
        x->req_bytes += len;
        obs_request_body(&x->obs, data, len);
        xc_arm_timer(x); /* the request is still moving: the wait for the answer restarts */
    }
    xc_leave(x);
}

void exchange_end_body(exchange *x, const http_headers *trailers)
{
    if (!x || xc_gone(x))
        return;
    xc_enter(x);
    if (x->upgraded) {
        x->req_done = true;
        if (x->lc.open && !x->local_dead)
            lconn_shutdown(&x->lc); /* the local service sees the end once the rest is written */
    } else if (x->req_done || x->ended || x->req_dropped) {
        x->req_done = true;
    } else if (x->req_left > 0) {
        xc_fail(x, XFAIL_BAD_REQUEST, "request body shorter than its Content-Length");
    } else {
        if (x->req_chunked && x->lc.open && !x->local_dead) {
            size_t n = 0;
            char *last = http1_chunk_last(trailers, &n);
            if (!last) {
                xc_fail(x, XFAIL_INTERNAL, "out of memory");
                xc_leave(x);
                return;
            }
            evbuffer_add(lconn_out(&x->lc), last, n);
            free(last);
        }
        x->req_done = true;
    }
    xc_leave(x);
}

void exchange_resume(exchange *x)
{
    if (!x || xc_gone(x))
        return;
    xc_enter(x);
    xc_pump(x); /* reads again unless the tunnel still has no room */
    xc_leave(x);
}

size_t exchange_pending(const exchange *x)
{
    return x && x->lc.open ? lconn_pending(&x->lc) : 0;
}

size_t exchange_pending_body(const exchange *x)
{
    size_t n = exchange_pending(x);
    return n && x->req_bytes < n ? (size_t)x->req_bytes : n;
}

bool exchange_started(const exchange *x)
{
    return x && x->head_sent;
}
