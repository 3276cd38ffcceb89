/* SPDX-License-Identifier: MIT */
/* jsonx.c - JSON-mode exchanges (see jsonx.h).
 * The local response is parsed with http1 (body decoded through on_body) and re-emitted in pieces
 * of at most TTF_JSON_CHUNK raw bytes; reading the local socket pauses while the WebSocket output
 * is above its high mark, so memory stays bounded whatever the body size. */
#include "jsonx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "b64.h"
#include "proxy.h"
#include "rewrite.h"

static const size_t chunk = (size_t)TTF_JSON_CHUNK;

typedef struct jx {
    session *s;
    char *rid;
    lconn lc;
    http1_parser resp;
    char *method, *target;
    http_headers req_headers; /* as sent to the local service */
    struct evbuffer *body;    /* decoded response body not yet sent */
    struct event *timer;
    uint32_t next_req_seq; /* next http_request_body seq expected */
    uint32_t resp_seq;     /* last http_response_body seq sent */
    uint64_t t0, t_head;
    uint64_t req_bytes, resp_bytes;
    bool chunked_req; /* we frame the request body with chunked coding */
    bool req_done;    /* the whole request body was written to our buffer */
    bool is_head;
    bool got_head;
    bool sent_first; /* http_response sent */
    bool resp_done;
    bool final_sent; /* the piece with more=false went out */
    bool local_eof;
    bool paused;
    bool streaming; /* no Content-Length: send pieces as they come */
    bool notified;
    bool cap0_known;  /* cap0 computed */
    size_t cap0;      /* exact capacity of the first message */
    char *retry_head; /* a bodiless request on a reused connection: kept to send it again */
    size_t retry_len;
    obs_exchange obs;
} jx;

static void notify(jx *x, const char *error)
{
    if (x->notified)
        return;
    x->notified = true;
    exchange_info info = {
        .mode = "json",
        .id = x->rid,
        .method = x->method,
        .target = x->target,
        .req_headers = &x->req_headers,
        .status = x->got_head ? x->resp.head.status : 0,
        .resp_headers = x->got_head ? &x->resp.head.headers : NULL,
        .req_bytes = x->req_bytes,
        .resp_bytes = x->resp_bytes,
        .head_ms = x->got_head ? x->t_head - x->t0 : 0,
        .total_ms = session_now_ms(x->s) - x->t0,
        .error = error,
    };
    obs_end(&x->obs, x->s->obs, &info);
}

static void jx_free(jx *x, bool reuse)
{
    hmap_del(x->s->exchanges, x->rid, strlen(x->rid));
    if (x->timer)
        event_free(x->timer);
    lconn_close(&x->lc, reuse);
    free(x->retry_head);
    http1_free(&x->resp);
    http_headers_free(&x->req_headers);
    if (x->body)
        evbuffer_free(x->body);
    free(x->rid);
    free(x->method);
    free(x->target);
    free(x);
}

static void send_error(session *s, const char *rid, tmsg_error_code code, const char *message)
{
    tmsg m;
    tmsg_init(&m, TMSG_ERROR);
    m.request_id = (char *)rid;
    m.code = code;
    m.message = (char *)message;
    session_send_answer(s, &m);
}

/* Fails the exchange with an error message (or nothing more once the response began). */
static void jx_fail(jx *x, tmsg_error_code code, const char *message)
{
    if (!x->sent_first) {
        send_error(x->s, x->rid, code, message);
    } else {
        /* Mid-body: a final empty piece would claim success; an error tells the server to drop
         * what it relayed so far. */
        send_error(x->s, x->rid, TERR_INTERNAL, message);
    }
    TLOG_D(x->s->log, "request %s: %s (%s)", x->rid, tmsg_error_name(code), message);
    notify(x, tmsg_error_name(code));
    jx_free(x, false);
}

/* Sends up to n bytes of the pending body as the next message. Returns 0 or -1 (x not freed). */
static int send_piece(jx *x, size_t n, bool last)
{
    uint8_t *buf = NULL;
    if (n > 0) {
        buf = evbuffer_pullup(x->body, (ev_ssize_t)n);
        if (!buf)
            return -1;
    }
    tmsg m;
    if (!x->sent_first) {
        tmsg_init(&m, TMSG_HTTP_RESPONSE);
        m.status_code = x->resp.head.status;
        m.headers = x->resp.head.headers; /* borrowed */
        m.processing_time_ms = session_now_ms(x->s) - x->t0;
    } else {
        tmsg_init(&m, TMSG_HTTP_RESPONSE_BODY);
        m.seq = ++x->resp_seq;
    }
    m.request_id = x->rid;
    m.body = buf;
    m.body_len = n;
    m.more = !last;
    if (session_send_answer(x->s, &m) != 0)
        return -1;
    if (n > 0)
        evbuffer_drain(x->body, n);
    x->sent_first = true;
    x->final_sent = last;
    x->resp_bytes += n;
    return 0;
}

/* Capacity of the first message, from the size of the head alone (computed once: the head does
 * not change once parsed). 0 when the head cannot be encoded or leaves no room. */
static size_t first_cap_exact(jx *x)
{
    if (x->cap0_known)
        return x->cap0;
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_RESPONSE);
    m.request_id = x->rid;
    m.status_code = x->resp.head.status;
    m.headers = x->resp.head.headers;
    m.processing_time_ms = UINT32_MAX; /* widest value */
    m.more = true;
    size_t len = 0;
    char *json = tmsg_encode(&m, &len);
    x->cap0 = json ? proxy_json_first_piece(len) : 0;
    x->cap0_known = true;
    free(json);
    return x->cap0;
}

/* An upper bound of the encoded head: every byte escaped (6 bytes each), plus the fixed fields. */
static size_t head_bound(const jx *x)
{
    size_t n = 256 + 6 * strlen(x->rid);
    const http_headers *h = &x->resp.head.headers;
    for (size_t i = 0; i < h->n; i++)
        n += 16 + 6 * (h->v[i].nlen + h->v[i].vlen);
    return n;
}

/* The capacity emit works with. A small body (most answers) fits under the capacity the bound
 * guarantees; the exact figure would change no decision, so the head is not encoded twice. */
static size_t first_cap(jx *x, size_t have, bool *estimated)
{
    size_t est = x->cap0_known ? 0 : proxy_json_first_piece(head_bound(x));
    *estimated = have < est;
    return *estimated ? est : first_cap_exact(x);
}

/* Emits what is ready. flush: also send a short piece (streaming, or the end). Returns -1 when
 * the exchange failed (x freed). */
static int emit(jx *x, bool flush)
{
    while (!x->final_sent) {
        size_t have = evbuffer_get_length(x->body);
        size_t cap = chunk;
        bool estimated = false;
        if (!x->sent_first) {
            cap = first_cap(x, have, &estimated);
            if (cap == 0) {
                jx_fail(x, TERR_INTERNAL, "response head too large for one message");
                return -1;
            }
        }
        bool last = x->resp_done && have <= cap;
        if (have < cap && !last && !(flush && (have > 0 || !x->sent_first)))
            return 0;
        size_t n = have < cap ? have : cap;
        if (send_piece(x, n, last) != 0) {
            /* As if the exact capacity had been asked for first. */
            bool head_bad = estimated && first_cap_exact(x) == 0;
            jx_fail(x, TERR_INTERNAL,
                    head_bad ? "response head too large for one message"
                             : "cannot encode the response (headers not UTF-8?)");
            return -1;
        }
        if (last)
            return 0;
        if (evbuffer_get_length(x->body) == 0)
            return 0;
    }
    return 0;
}

static void on_body(void *ud, const char *at, size_t len)
{
    jx *x = ud;
    evbuffer_add(x->body, at, len);
    obs_response_body(&x->obs, at, len);
}

static void finish(jx *x)
{
    bool reuse = x->lc.sk && !x->local_eof && x->req_done && x->resp.head.keep_alive &&
                 evbuffer_get_length(lconn_out(&x->lc)) == 0 &&
                 evbuffer_get_length(lconn_in(&x->lc)) == 0;
    notify(x, NULL);
    jx_free(x, reuse);
}

/* Parses local input. Returns true when x was freed. */
static bool pump(jx *x)
{
    while (!x->resp_done && x->lc.sk) {
        if (x->got_head && session_congested(x->s)) {
            x->paused = true;
            lconn_pause(&x->lc, true);
            return false;
        }
        struct evbuffer *in = lconn_in(&x->lc);
        if (evbuffer_get_length(in) == 0)
            break;
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        size_t used = 0;
        http1_event ev = http1_execute(&x->resp, v.iov_base, v.iov_len, &used);
        if (ev == HTTP1_ERROR) {
            char why[160];
            snprintf(why, sizeof why, "unparsable response from the local service: %s",
                     x->resp.err.reason ? x->resp.err.reason : "?");
            TLOG_W(x->s->log, "request %s: %s", x->rid, why);
            jx_fail(x, TERR_INTERNAL, why);
            return true;
        }
        evbuffer_drain(in, used);
        if (ev == HTTP1_HEAD) {
            int st = x->resp.head.status;
            if (st >= 100 && st < 200) {
                /* Interim (100 Continue); 101 cannot be relayed in JSON mode. */
                if (st == 101) {
                    jx_fail(x, TERR_INTERNAL, "protocol upgrades need the binary mode");
                    return true;
                }
                obs_response_head(&x->obs, st, &x->resp.head.headers, true);
                http1_free(&x->resp);
                http1_init(&x->resp, false, 0);
                x->resp.on_body = on_body;
                x->resp.ud = x;
                if (x->is_head)
                    http1_expect_no_body(&x->resp);
                continue;
            }
            x->got_head = true;
            x->t_head = session_now_ms(x->s);
            if (x->timer)
                event_del(x->timer);
            x->streaming = x->resp.head.content_length < 0;
            obs_response_head(&x->obs, st, &x->resp.head.headers, false);
            if (rewrite_json_response_headers(st, &x->resp.head.headers) != 0) {
                jx_fail(x, TERR_INTERNAL, "out of memory");
                return true;
            }
            /* A bodiless response ends at its head. */
            size_t dummy = 0;
            if (http1_execute(&x->resp, "", 0, &dummy) == HTTP1_MSG_END)
                ev = HTTP1_MSG_END;
        }
        if (ev == HTTP1_MSG_END) {
            x->resp_done = true;
            if (evbuffer_get_length(in) > 0)
                x->local_eof = true; /* extra bytes: do not reuse */
        }
        if (x->got_head && emit(x, false) != 0)
            return true;
    }
    if (!x->resp_done && x->local_eof && x->lc.sk && evbuffer_get_length(lconn_in(&x->lc)) == 0) {
        if (x->got_head && http1_finish(&x->resp) == HTTP1_MSG_END) {
            x->resp_done = true;
        } else {
            jx_fail(x, x->got_head ? TERR_INTERNAL : TERR_LOCAL_UNAVAILABLE,
                    x->got_head ? "local service closed the connection mid-response"
                                : "local service closed the connection");
            return true;
        }
    }
    if (x->got_head && emit(x, x->streaming || x->resp_done) != 0)
        return true;
    if (x->resp_done) {
        finish(x);
        return true;
    }
    if (x->paused && !session_congested(x->s)) {
        x->paused = false;
        lconn_pause(&x->lc, false);
    }
    return false;
}

static void local_read(void *ud)
{
    pump(ud);
}

static void local_write(void *ud)
{
    (void)ud;
}

static const lconn_cbs local_cbs;

/* The local service closed a kept-alive connection before answering: send the (bodiless)
 * request again on a fresh connection. Returns true when it did. */
static bool retry_fresh(jx *x)
{
    if (!x->retry_head || x->got_head || x->resp.head_bytes > 0 ||
        !lconn_stale(&x->lc, evbuffer_get_length(lconn_in(&x->lc)) > 0))
        return false;
    lconn_close(&x->lc, false);
    x->local_eof = false;
    bool ok = lconn_open(&x->lc, x->s->pool, &local_cbs, x, true) == 0;
    if (ok)
        evbuffer_add(lconn_out(&x->lc), x->retry_head, x->retry_len);
    free(x->retry_head);
    x->retry_head = NULL;
    if (!ok)
        jx_fail(x, TERR_LOCAL_UNAVAILABLE, "cannot reconnect to the local service");
    return true;
}

static void local_event(void *ud, short what)
{
    jx *x = ud;
    if (retry_fresh(x))
        return;
    if ((what & LOCAL_EV_ERROR) && !x->got_head) {
        char msg[400];
        snprintf(msg, sizeof msg, "local service %s: %s", x->s->hostport,
                 strerror(x->lc.err ? x->lc.err : EIO));
        if (!x->lc.connected)
            TLOG_W(x->s->log, "%s", msg);
        jx_fail(x, x->lc.connected ? TERR_INTERNAL : TERR_LOCAL_UNAVAILABLE, msg);
        return;
    }
    x->local_eof = true;
    pump(x);
}

static const lconn_cbs local_cbs = {local_read, local_write, local_event};

static void on_timeout(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    jx *x = ud;
    char msg[96];
    snprintf(msg, sizeof msg, "no response from the local service within %d s",
             x->s->cfg->request_timeout);
    jx_fail(x, TERR_TIMEOUT, msg);
}

/* Writes one request body piece, chunk-framed when we chose chunked coding. */
static void write_piece(jx *x, const uint8_t *p, size_t n, bool last)
{
    struct evbuffer *out = lconn_out(&x->lc);
    if (x->chunked_req) {
        if (n > 0) {
            char hdr[HTTP1_CHUNK_PREFIX_MAX];
            evbuffer_add(out, hdr, http1_chunk_prefix(hdr, n));
            evbuffer_add(out, p, n);
            evbuffer_add(out, HTTP1_CHUNK_SUFFIX, sizeof HTTP1_CHUNK_SUFFIX - 1);
        }
        if (last)
            evbuffer_add(out, HTTP1_LAST_CHUNK, sizeof HTTP1_LAST_CHUNK - 1);
    } else if (n > 0) {
        evbuffer_add(out, p, n);
    }
    obs_request_body(&x->obs, p, n);
    x->req_bytes += n;
    if (last)
        x->req_done = true;
}

static void on_request(session *s, tmsg *m)
{
    if (hmap_get(s->exchanges, m->request_id, strlen(m->request_id))) {
        send_error(s, m->request_id, TERR_INVALID_REQUEST, "duplicate request_id");
        return;
    }
    jx *x = calloc(1, sizeof *x);
    if (!x) {
        send_error(s, m->request_id, TERR_INTERNAL, "out of memory");
        return;
    }
    x->s = s;
    x->t0 = session_now_ms(s);
    x->next_req_seq = 1;
    http1_init(&x->resp, false, 0);
    x->resp.on_body = on_body;
    x->resp.ud = x;
    http_headers_init(&x->req_headers);
    x->rid = strdup(m->request_id);
    x->method = strdup(m->method);
    x->target = strdup(m->uri && m->uri[0] ? m->uri : "/");
    x->body = evbuffer_new();
    if (!x->rid || !x->method || !x->target || !x->body ||
        hmap_put(s->exchanges, x->rid, strlen(x->rid), x) != 0) {
        send_error(s, m->request_id, TERR_INTERNAL, "out of memory");
        if (x->body)
            evbuffer_free(x->body);
        http1_free(&x->resp);
        free(x->rid);
        free(x->method);
        free(x->target);
        free(x);
        return;
    }
    x->is_head = strcasecmp(x->method, "HEAD") == 0;
    if (x->is_head)
        http1_expect_no_body(&x->resp);
    /* Take the decoded headers: they become the local request's. */
    x->req_headers = m->headers;
    http_headers_init(&m->headers);
    size_t hlen = 0;
    char *head = rewrite_json_request_head(x->method, x->target, &x->req_headers, s->hostport,
                                           s->cfg->host_header, m->body_len, m->more,
                                           &x->chunked_req, &hlen);
    if (!head) {
        jx_fail(x, TERR_INVALID_REQUEST, "cannot build the request head");
        return;
    }
    obs_request orq = {"json", x->rid, x->method, x->target, &x->req_headers};
    obs_begin(&x->obs, s->obs, &orq);
    if (lconn_open(&x->lc, s->pool, &local_cbs, x, false) != 0) {
        free(head);
        char msg[400];
        snprintf(msg, sizeof msg, "local service %s: %s", s->hostport,
                 strerror(x->lc.err ? x->lc.err : ECONNREFUSED));
        TLOG_W(s->log, "%s", msg);
        jx_fail(x, TERR_LOCAL_UNAVAILABLE, msg);
        return;
    }
    evbuffer_add(lconn_out(&x->lc), head, hlen);
    write_piece(x, m->body, m->body_len, !m->more);
    if (x->lc.reused && x->req_done && m->body_len == 0 && !x->chunked_req) {
        x->retry_head = head; /* owned by the exchange now */
        x->retry_len = hlen;
    } else {
        free(head);
    }
    x->timer = evtimer_new(s->base, on_timeout, x);
    if (x->timer) {
        struct timeval tv = {s->cfg->request_timeout, 0};
        evtimer_add(x->timer, &tv);
    }
    TLOG_D(s->log, "request %s: %s %s", x->rid, x->method, x->target);
}

static void on_request_body(session *s, tmsg *m)
{
    jx *x = hmap_get(s->exchanges, m->request_id, strlen(m->request_id));
    if (!x) {
        TLOG_D(s->log, "body piece for unknown request %s dropped", m->request_id);
        return;
    }
    if (x->req_done || m->seq != x->next_req_seq) {
        jx_fail(x, TERR_INVALID_REQUEST, "request body piece out of order");
        return;
    }
    x->next_req_seq++;
    if (x->timer && !x->got_head) {
        /* The request is still moving: the wait for the answer starts again. */
        struct timeval tv = {s->cfg->request_timeout, 0};
        evtimer_add(x->timer, &tv);
    }
    if (x->lc.sk)
        write_piece(x, m->body, m->body_len, !m->more);
}

void jsonx_reject(session *s, const char *rid, const char *why)
{
    jx *x = hmap_get(s->exchanges, rid, strlen(rid));
    char msg[300];
    snprintf(msg, sizeof msg, "the agent cannot use this request: %s", why);
    TLOG_W(s->log, "request %s rejected: %s", rid, why);
    if (x)
        jx_fail(x, TERR_INVALID_REQUEST, msg);
    else
        send_error(s, rid, TERR_INVALID_REQUEST, msg);
}

void jsonx_on_message(session *s, tmsg *m)
{
    if (!m->request_id)
        return;
    if (m->type == TMSG_HTTP_REQUEST)
        on_request(s, m);
    else if (m->type == TMSG_HTTP_REQUEST_BODY)
        on_request_body(s, m);
}

typedef struct collect {
    char **ids;
    size_t n, cap;
    bool paused_only;
} collect;

static void collect_fn(void *ud, const void *key, size_t klen, void *value)
{
    collect *c = ud;
    const jx *x = value;
    if (c->paused_only && !x->paused)
        return;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 32;
        char **p = realloc(c->ids, nc * sizeof *p);
        if (!p)
            return;
        c->ids = p;
        c->cap = nc;
    }
    char *id = strndup(key, klen);
    if (id)
        c->ids[c->n++] = id;
}

static void for_each(session *s, bool paused_only, void (*fn)(jx *x))
{
    collect c = {.paused_only = paused_only};
    hmap_each(s->exchanges, collect_fn, &c);
    for (size_t i = 0; i < c.n; i++) {
        jx *x = hmap_get(s->exchanges, c.ids[i], strlen(c.ids[i]));
        if (x)
            fn(x);
        free(c.ids[i]);
    }
    free(c.ids);
}

static void resume_one(jx *x)
{
    if (!x->paused || session_congested(x->s))
        return;
    x->paused = false;
    lconn_pause(&x->lc, false);
    pump(x);
}

static void drop_one(jx *x)
{
    notify(x, "tunnel closed");
    jx_free(x, false);
}

void jsonx_resume_all(session *s)
{
    for_each(s, true, resume_one);
}

void jsonx_free_all(session *s)
{
    for_each(s, false, drop_one);
}
