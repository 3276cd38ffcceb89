/* SPDX-License-Identifier: MIT */
/* replay.c - replaying captured requests with evhttp (see replay.h). */
#include "replay.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "proxy.h"
#include "tls.h"

typedef struct job {
    replay_ctx *r;
    struct job *prev, *next;
    struct evhttp_connection *evcon;
    struct evhttp_request *req; /* built, not yet handed to evhttp (while the probe runs) */
    struct bufferevent *probe;  /* the default host's probe of 127.0.0.1 (probe_start) */
    int cmd;
    uint16_t port;
    bool tls;           /* an https:// local service */
    struct event *reap; /* frees evcon and the job after the request's callbacks */
    cap_entry *entry;
    char method[16];
    char *target;
    uint64_t t0_ms, head_ms;
    uint64_t req_bytes, resp_bytes;
    int status;
    bool got_head;
    bool ended; /* the capture entry got its end */
    const char *error;
} job;

struct replay_ctx {
    struct event_base *base;
    char *host;
    int port;
    bool host_default; /* no host was given: 127.0.0.1, then ::1 when that refuses */
    int timeout_sec;
    capture *cap;
    const tlog *log;
    job *jobs;
    SSL_CTX *tls; /* made at the first replay to an https:// local service */
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int replay_method_cmd(const char *m)
{
    static const struct {
        const char *name;
        enum evhttp_cmd_type cmd;
    } map[] = {{"GET", EVHTTP_REQ_GET},       {"POST", EVHTTP_REQ_POST},
               {"HEAD", EVHTTP_REQ_HEAD},     {"PUT", EVHTTP_REQ_PUT},
               {"DELETE", EVHTTP_REQ_DELETE}, {"OPTIONS", EVHTTP_REQ_OPTIONS},
               {"TRACE", EVHTTP_REQ_TRACE},   {"PATCH", EVHTTP_REQ_PATCH}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].name, m) == 0) /* methods are case-sensitive (RFC 9110 §9.1) */
            return (int)map[i].cmd;
    return -1;
}

replay_ctx *replay_new(struct event_base *base, const char *host, bool host_default, int port,
                       int timeout_sec, capture *cap, const tlog *lg)
{
    replay_ctx *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->host = strdup(host);
    if (!r->host) {
        free(r);
        return NULL;
    }
    r->base = base;
    r->host_default = host_default;
    r->port = port;
    r->timeout_sec = timeout_sec;
    r->cap = cap;
    r->log = lg;
    return r;
}

static void job_unlink(job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        j->r->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
}

static void job_free(job *j)
{
    job_unlink(j);
    if (j->evcon)
        evhttp_connection_free(j->evcon); /* frees a pending request without callbacks */
    if (j->req)
        evhttp_request_free(j->req);
    if (j->probe)
        bufferevent_free(j->probe);
    if (j->reap)
        event_free(j->reap);
    free(j->target);
    free(j);
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    job_free(arg);
}

/* Ends the capture entry; the job and its connection go at the next loop pass (evhttp is still
 * using them while it runs our callback). */
static void job_end(job *j, const char *error)
{
    if (j->ended)
        return;
    j->ended = true;
    uint64_t now = mono_ms();
    exchange_info info = {
        .mode = "replay",
        .method = j->method,
        .target = j->target,
        .status = j->status,
        .req_bytes = j->req_bytes,
        .resp_bytes = j->resp_bytes,
        .head_ms = j->got_head ? j->head_ms - j->t0_ms : 0,
        .total_ms = now - j->t0_ms,
        .error = error,
    };
    capture_end(j->r->cap, j->entry, &info);
    TLOG_D(j->r->log, "replay %s %s -> %d%s%s", j->method, j->target, j->status, error ? " " : "",
           error ? error : "");
    struct timeval now_tv = {0, 0};
    evtimer_add(j->reap, &now_tv);
}

static int on_header(struct evhttp_request *req, void *arg)
{
    job *j = arg;
    j->got_head = true;
    j->head_ms = mono_ms();
    j->status = evhttp_request_get_response_code(req);
    http_headers h;
    http_headers_init(&h);
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    for (struct evkeyval *kv = in ? in->tqh_first : NULL; kv; kv = kv->next.tqe_next)
        if (http_headers_add(&h, kv->key, strlen(kv->key), kv->value, strlen(kv->value)) != 0)
            break;
    obs_response rs = {j->status, &h, false};
    capture_response_head(j->r->cap, j->entry, &rs);
    http_headers_free(&h);
    return 0;
}

static void take_body(job *j, struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = in ? evbuffer_get_length(in) : 0;
    if (n == 0)
        return;
    struct evbuffer_iovec v[8];
    int k = evbuffer_peek(in, -1, NULL, v, 8);
    if (k > 8) {
        /* More pieces than the array: one contiguous copy (bounded by what evhttp read). */
        const uint8_t *p = evbuffer_pullup(in, -1);
        if (p)
            capture_response_body(j->r->cap, j->entry, p, n);
    } else {
        for (int i = 0; i < k; i++)
            capture_response_body(j->r->cap, j->entry, v[i].iov_base, v[i].iov_len);
    }
    j->resp_bytes += n;
    evbuffer_drain(in, n);
}

static void on_chunk(struct evhttp_request *req, void *arg)
{
    take_body(arg, req);
}

static void on_error(enum evhttp_request_error err, void *arg)
{
    job *j = arg;
    switch (err) {
    case EVREQ_HTTP_TIMEOUT:
        j->error = "timeout";
        break;
    case EVREQ_HTTP_EOF:
        j->error = "the local service closed the connection";
        break;
    case EVREQ_HTTP_INVALID_HEADER:
        j->error = "invalid response from the local service";
        break;
    case EVREQ_HTTP_BUFFER_ERROR:
        j->error = "cannot connect to the local service";
        break;
    case EVREQ_HTTP_DATA_TOO_LONG:
        j->error = "response too large";
        break;
    default:
        j->error = "cancelled";
        break;
    }
}

static void on_done(struct evhttp_request *req, void *arg)
{
    job *j = arg;
    if (!req || evhttp_request_get_response_code(req) == 0) {
        job_end(j, j->error ? j->error : "no response from the local service");
        return;
    }
    if (!j->got_head)
        on_header(req, j);
    take_body(j, req);
    job_end(j, NULL);
}

static bool token_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

static bool valid_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!token_char((unsigned char)*s))
            return false;
    return true;
}

static bool valid_value(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n' || *s == '\0')
            return false;
    return true;
}

static bool valid_target(const char *t)
{
    if (t[0] != '/')
        return false;
    for (; *t; t++)
        if ((unsigned char)*t <= 0x20 || *t == 0x7f)
            return false;
    return true;
}

/* The head evhttp sends, also kept for the capture entry. */
static int build_headers(replay_ctx *r, const replay_request *rq, struct evkeyvalq *out,
                         http_headers *sent, char *err, size_t errcap)
{
    bool have_host = false;
    for (size_t i = 0; rq->headers && i < rq->headers->n; i++) {
        const http_header *h = &rq->headers->v[i];
        if (!valid_name(h->name) || !valid_value(h->value)) {
            snprintf(err, errcap, "invalid header field: %.60s", h->name);
            return -1;
        }
        if (proxy_is_hop_by_hop(h->name) || strcasecmp(h->name, "Content-Length") == 0 ||
            strcasecmp(h->name, "Expect") == 0 ||
            strcasecmp(h->name, "Trailer") == 0) /* the body goes with its length: no trailers */
            continue;
        if (strcasecmp(h->name, "Host") == 0) {
            if (have_host)
                continue; /* one Host only (RFC 9112 §3.2) */
            have_host = true;
        }
        if (evhttp_add_header(out, h->name, h->value) != 0 ||
            http_headers_add(sent, h->name, strlen(h->name), h->value, strlen(h->value)) != 0) {
            snprintf(err, errcap, "cannot add header %.60s", h->name);
            return -1;
        }
    }
    if (!have_host) {
        char hp[300];
        const char *host = rq->host ? rq->host : r->host;
        int port = rq->host ? rq->port : r->port;
        if (strchr(host, ':'))
            snprintf(hp, sizeof hp, "[%s]:%d", host, port);
        else
            snprintf(hp, sizeof hp, "%s:%d", host, port);
        if (evhttp_add_header(out, "Host", hp) != 0 ||
            http_headers_add(sent, "Host", 4, hp, strlen(hp)) != 0)
            return -1;
    }
    bool body_method = strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") == 0 ||
                       strcmp(rq->method, "PATCH") == 0;
    if (rq->body_len > 0 || body_method) {
        char cl[32];
        snprintf(cl, sizeof cl, "%zu", rq->body_len);
        if (evhttp_add_header(out, "Content-Length", cl) != 0 ||
            http_headers_add(sent, "Content-Length", 14, cl, strlen(cl)) != 0)
            return -1;
    }
    return 0;
}

/* Hands the built request to evhttp toward host (j->port); the job ends on a failure. */
static void job_send(job *j, const char *host)
{
    struct evhttp_request *req = j->req;
    j->req = NULL;
    if (j->tls) { /* as the local pool connects: SNI, the certificate not verified */
        SSL *ssl = tls_client_ssl(j->r->tls, host, true);
        struct bufferevent *bev =
            ssl ? bufferevent_openssl_socket_new(j->r->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                 BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
                : NULL;
        if (!bev)
            SSL_free(ssl);
        j->evcon =
            bev ? evhttp_connection_base_bufferevent_new(j->r->base, NULL, bev, host, j->port)
                : NULL;
        if (!j->evcon && bev)
            bufferevent_free(bev);
    } else {
        j->evcon = evhttp_connection_base_new(j->r->base, NULL, host, j->port);
    }
    if (!j->evcon) {
        evhttp_request_free(req);
        job_end(j, "out of memory");
        return;
    }
    evhttp_connection_set_timeout(j->evcon, j->r->timeout_sec);
    evhttp_connection_set_retries(j->evcon, 0);
    if (evhttp_make_request(j->evcon, req, (enum evhttp_cmd_type)j->cmd, j->target) != 0) {
        /* Not queued (and not freed): no callback will come. */
        evhttp_request_free(req);
        job_end(j, "cannot connect to the local service");
    }
}

/* The probe's outcome: 127.0.0.1 could not be connected to (refused: nothing listens there)
 * -> ::1, as ttf's local pool does with no host given (resolve.h resolver_new_default); else
 * (connected, or no answer within the timeout) 127.0.0.1. libevent may report the failure
 * deferred, errno gone by then: any failure of a loopback connect counts as refused. */
static void probe_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    job *j = arg;
    bool failed = (what & BEV_EVENT_ERROR) != 0;
    bufferevent_free(j->probe); /* closes the probe's connection: the request gets its own */
    j->probe = NULL;
    job_send(j, failed ? "::1" : "127.0.0.1");
}

/* The default host: a connection to 127.0.0.1 first (evhttp 2.1 tries one address only). */
static void probe_start(job *j)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(j->port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    j->probe = bufferevent_socket_new(j->r->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!j->probe) {
        job_send(j, "127.0.0.1");
        return;
    }
    bufferevent_setcb(j->probe, NULL, NULL, probe_event, j);
    struct timeval tv = {j->r->timeout_sec > 0 ? j->r->timeout_sec : 30, 0};
    bufferevent_set_timeouts(j->probe, &tv, &tv);
    if (bufferevent_socket_connect(j->probe, (struct sockaddr *)&sin, sizeof sin) != 0) {
        /* no socket (a refused connect comes through probe_event) */
        bufferevent_free(j->probe);
        j->probe = NULL;
        job_send(j, "127.0.0.1");
    }
}

uint64_t replay_start(replay_ctx *r, const replay_request *rq, uint64_t replay_of, char *err,
                      size_t errcap)
{
    int cmd = replay_method_cmd(rq->method);
    if (cmd < 0) {
        snprintf(err, errcap,
                 "cannot replay %.32s: the replay client sends GET, POST, HEAD, PUT, DELETE, "
                 "OPTIONS, TRACE and PATCH",
                 rq->method);
        return 0;
    }
    if (!valid_target(rq->target)) {
        snprintf(err, errcap, "the target must start with / and hold no spaces or controls");
        return 0;
    }
    if (rq->tls && !r->tls && !(r->tls = tls_client_ctx(NULL, true, err, errcap)))
        return 0;
    job *j = calloc(1, sizeof *j);
    if (!j || !(j->target = strdup(rq->target))) {
        free(j);
        snprintf(err, errcap, "out of memory");
        return 0;
    }
    j->r = r;
    snprintf(j->method, sizeof j->method, "%s", rq->method);
    struct evhttp_request *req = evhttp_request_new(on_done, j);
    http_headers sent;
    http_headers_init(&sent);
    j->reap = evtimer_new(r->base, reap_cb, j);
    if (!j->reap || !req ||
        build_headers(r, rq, evhttp_request_get_output_headers(req), &sent, err, errcap) ||
        (rq->body_len &&
         evbuffer_add(evhttp_request_get_output_buffer(req), rq->body, rq->body_len) != 0)) {
        if (!err[0])
            snprintf(err, errcap, "out of memory");
        if (req)
            evhttp_request_free(req);
        http_headers_free(&sent);
        if (j->reap)
            event_free(j->reap);
        free(j->target);
        free(j);
        return 0;
    }
    evhttp_request_set_header_cb(req, on_header);
    evhttp_request_set_chunked_cb(req, on_chunk);
    evhttp_request_set_error_cb(req, on_error);

    obs_request orq = {"replay", NULL, j->method, j->target, &sent, rq->tunnel};
    j->entry = capture_begin(r->cap, &orq, replay_of);
    http_headers_free(&sent);
    const char *host = rq->host ? rq->host : r->host;
    bool host_default = rq->host ? rq->host_default : r->host_default;
    j->port = (uint16_t)(rq->host ? rq->port : r->port);
    j->tls = rq->tls;
    j->cmd = cmd;
    if (!j->entry) {
        evhttp_request_free(req);
        snprintf(err, errcap, "out of memory");
        event_free(j->reap);
        free(j->target);
        free(j);
        return 0;
    }
    /* From our copy: starting the entry may have evicted the one rq's bytes belong to. */
    struct evbuffer *ob = evhttp_request_get_output_buffer(req);
    if (rq->body_len)
        capture_request_body(r->cap, j->entry, evbuffer_pullup(ob, -1), evbuffer_get_length(ob));
    j->req_bytes = rq->body_len;
    uint64_t id = j->entry->id;
    j->req = req;
    j->t0_ms = mono_ms();
    j->next = r->jobs;
    if (r->jobs)
        r->jobs->prev = j;
    r->jobs = j;
    if (host_default)
        probe_start(j);
    else
        job_send(j, host);
    return id;
}

void replay_free(replay_ctx *r)
{
    if (!r)
        return;
    job *next;
    for (job *j = r->jobs; j; j = next) {
        next = j->next;
        job_end(j, "cancelled"); /* in flight: the entry ends now */
        job_free(j);
    }
    if (r->tls)
        SSL_CTX_free(r->tls);
    free(r->host);
    free(r);
}
