/* SPDX-License-Identifier: MIT */
/* inspect.c - the inspector's HTTP server: routes, security checks, event stream (see inspect.h).
 * JSON documents are built by inspect_api.c, replays run in replay.c, the page is in
 * inspect_assets (generated from agent/inspect/). */
#include "inspect.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "capture.h"
#include "inspect_api.h"
#include "inspect_assets.h"
#include "replay.h"

#define MAX_ENTRIES 1000          /* exchanges kept, whatever their size */
#define LIST_LIMIT_DEFAULT 200    /* /api/requests without ?limit */
#define SSE_FLUSH_MS 100          /* changes are batched this long */
#define SSE_PING_SEC 15           /* a comment line keeps the stream (and proxies) alive */
#define SSE_MAX_PENDING (1 << 20) /* a client this far behind is dropped */
#define SSE_MAX_PER_FLUSH 100     /* entries sent per flush (the page refetches past it) */

static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                          "form-action 'none'; frame-ancestors 'none'";

typedef struct sse_client {
    inspector *in;
    struct sse_client *prev, *next;
    struct evhttp_request *req;
    uint64_t last_seq;
} sse_client;

struct inspector {
    struct event_base *base;
    const tlog *log;
    struct evhttp *http;
    char host[256]; /* as bound, without brackets */
    int port;
    char url[300];
    const agent_config *cfg; /* its tunnels: a replay goes to its entry's local service */
    capture *cap;
    replay_ctx *rp;
    sse_client *clients;
    struct event *flush_ev, *ping_ev;
    bool flush_armed;
    char *state, *public_url, *path_url;
    char local[300];
    char **urls; /* per tunnel of cfg (ttf --config), NULL when none */
};

/* ---- addresses ---- */

int inspector_parse_addr(const char *addr, char *host, size_t hostcap, int *port)
{
    const char *p = NULL;
    size_t hlen = 0;
    const char *h = addr;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return -1;
        h = addr + 1;
        hlen = (size_t)(close - h);
        p = close + 2;
    } else if (strchr(addr, ':')) {
        const char *colon = strrchr(addr, ':');
        if (strchr(addr, ':') != colon)
            return -1; /* an IPv6 literal needs brackets */
        hlen = (size_t)(colon - addr);
        p = colon + 1;
    } else {
        p = addr;
        h = "127.0.0.1";
        hlen = strlen(h);
    }
    if (hlen == 0 || hlen >= hostcap || !*p)
        return -1;
    char *end = NULL;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (errno || *end || v < 0 || v > 65535)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)v;
    return 0;
}

static bool ip_literal(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

bool inspector_host_allowed(const char *hv, const char *bound_host, int port)
{
    if (!hv)
        return false;
    char name[256];
    const char *ps = NULL;
    size_t n;
    if (hv[0] == '[') {
        const char *close = strchr(hv, ']');
        if (!close)
            return false;
        n = (size_t)(close - hv - 1);
        if (n >= sizeof name)
            return false;
        memcpy(name, hv + 1, n);
        if (close[1] == ':')
            ps = close + 2;
        else if (close[1])
            return false;
    } else {
        const char *colon = strchr(hv, ':');
        n = colon ? (size_t)(colon - hv) : strlen(hv);
        if (n >= sizeof name)
            return false;
        memcpy(name, hv, n);
        ps = colon ? colon + 1 : NULL;
    }
    name[n] = '\0';
    if (ps) {
        char *end = NULL;
        long v = strtol(ps, &end, 10);
        if (!*ps || *end || v != port)
            return false;
    } else if (port != 80) {
        return false;
    }
    /* Names could be rebound to us by a hostile DNS server; IP literals cannot. */
    return ip_literal(name) || strcasecmp(name, "localhost") == 0 ||
           strcasecmp(name, bound_host) == 0;
}

/* ---- responses ---- */

static void common_headers(struct evhttp_request *req, const char *ctype)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "Content-Security-Policy", csp);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_add_header(h, "Cross-Origin-Resource-Policy", "same-origin");
    evhttp_add_header(h, "Cross-Origin-Opener-Policy", "same-origin");
    evhttp_add_header(h, "Cache-Control", "no-store");
}

static void send_json(struct evhttp_request *req, int status, json_t *doc)
{
    common_headers(req, "application/json");
    struct evbuffer *out = evbuffer_new();
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!out || !text) {
        free(text);
        if (out)
            evbuffer_free(out);
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    evbuffer_add(out, text, strlen(text));
    evbuffer_add(out, "\n", 1);
    free(text);
    evhttp_send_reply(req, status, http_reason(status), out);
    evbuffer_free(out);
}

static void send_problem(struct evhttp_request *req, int status, const char *msg)
{
    send_json(req, status, json_pack("{s:s,s:i}", "error", msg, "status", status));
}

/* ---- the event stream ---- */

static void sse_drop(sse_client *c, bool end_reply)
{
    inspector *in = c->in;
    if (c->prev)
        c->prev->next = c->next;
    else
        in->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    struct evhttp_connection *evcon = evhttp_request_get_connection(c->req);
    if (evcon)
        evhttp_connection_set_closecb(evcon, NULL, NULL);
    /* A request whose connection is gone is ours to free (evhttp_send_reply_end does). */
    if (end_reply || !evcon)
        evhttp_send_reply_end(c->req);
    free(c);
}

static void sse_closed(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    sse_client *c = arg;
    /* evhttp detached the request when the peer left; when the server itself is being freed the
     * connection still holds it and frees it. */
    sse_drop(c, false);
}

static size_t sse_pending(const sse_client *c)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(c->req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

static void sse_send(sse_client *c, struct evbuffer *buf)
{
    if (evbuffer_get_length(buf) > 0)
        evhttp_send_reply_chunk(c->req, buf);
}

static void sse_add_event(struct evbuffer *buf, const char *event, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return;
    evbuffer_add_printf(buf, "event: %s\ndata: %s\n\n", event, text);
    free(text);
}

/* Sends every entry that changed since the client's last event (newest first), or a "reset"
 * when too much changed or entries were evicted since. */
static void sse_catch_up(inspector *in, sse_client *c)
{
    struct evbuffer *buf = evbuffer_new();
    if (!buf)
        return;
    size_t n = 0;
    bool reset = false;
    for (const cap_entry *e = capture_newest(in->cap); e; e = e->older) {
        if (e->seq <= c->last_seq)
            continue;
        if (++n > SSE_MAX_PER_FLUSH) {
            reset = true;
            break;
        }
        sse_add_event(buf, "update", inspect_json_summary(e));
    }
    if (reset) {
        evbuffer_drain(buf, evbuffer_get_length(buf));
        sse_add_event(buf, "reset", json_pack("{s:I}", "seq", (json_int_t)capture_seq(in->cap)));
    }
    c->last_seq = capture_seq(in->cap);
    sse_send(c, buf);
    evbuffer_free(buf);
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    inspector *in = arg;
    in->flush_armed = false;
    sse_client *next;
    for (sse_client *c = in->clients; c; c = next) {
        next = c->next;
        if (sse_pending(c) > SSE_MAX_PENDING) {
            TLOG_D(in->log, "inspector: dropping a slow event-stream client");
            sse_drop(c, true);
            continue;
        }
        sse_catch_up(in, c);
    }
}

static void ping_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    inspector *in = arg;
    for (sse_client *c = in->clients; c; c = c->next) {
        struct evbuffer *buf = evbuffer_new();
        if (!buf)
            return;
        evbuffer_add(buf, ": ping\n\n", 8);
        sse_send(c, buf);
        evbuffer_free(buf);
    }
}

static void on_capture_change(void *ud, const cap_entry *e)
{
    (void)e;
    inspector *in = ud;
    if (!in->clients || in->flush_armed)
        return;
    in->flush_armed = true;
    struct timeval tv = {0, (suseconds_t)SSE_FLUSH_MS * 1000};
    evtimer_add(in->flush_ev, &tv);
}

static void handle_events(inspector *in, struct evhttp_request *req)
{
    sse_client *c = calloc(1, sizeof *c);
    if (!c) {
        send_problem(req, 500, "out of memory");
        return;
    }
    c->in = in;
    c->req = req;
    common_headers(req, "text/event-stream");
    evhttp_send_reply_start(req, 200, "OK");
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    evhttp_connection_set_closecb(evcon, sse_closed, c);
    /* No read timeout on a stream the client only reads; writes must progress. */
    struct timeval wt = {60, 0};
    bufferevent_set_timeouts(evhttp_connection_get_bufferevent(evcon), NULL, &wt);
    c->next = in->clients;
    if (in->clients)
        in->clients->prev = c;
    in->clients = c;
    struct evbuffer *buf = evbuffer_new();
    if (buf) {
        evbuffer_add_printf(buf, "retry: 2000\n\n");
        sse_add_event(buf, "hello", json_pack("{s:I}", "seq", (json_int_t)capture_seq(in->cap)));
        sse_send(c, buf);
        evbuffer_free(buf);
    }
    c->last_seq = capture_seq(in->cap);
}

/* ---- API handlers ---- */

static uint64_t query_u64(struct evhttp_request *req, const char *name, uint64_t dflt)
{
    const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    struct evkeyvalq kv;
    TAILQ_INIT(&kv);
    if (!q || evhttp_parse_query_str(q, &kv) != 0)
        return dflt;
    const char *v = evhttp_find_header(&kv, name);
    uint64_t out = dflt;
    if (v && *v && strspn(v, "0123456789") == strlen(v) && strlen(v) < 20)
        out = strtoull(v, NULL, 10);
    evhttp_clear_headers(&kv);
    return out;
}

static void handle_status(inspector *in, struct evhttp_request *req)
{
    json_t *doc = json_pack("{s:s,s:s,s:{s:s?,s:s?,s:s?},s:s,s:{s:I,s:I,s:I,s:I}}", "version",
                            TTF_VERSION, "inspector", in->url, "tunnel", "state", in->state,
                            "public_url", in->public_url, "path_url", in->path_url, "local",
                            in->local, "capture", "count", (json_int_t)capture_count(in->cap),
                            "used_bytes", (json_int_t)capture_used(in->cap), "budget_bytes",
                            (json_int_t)capture_budget(in->cap), "body_max_bytes",
                            (json_int_t)capture_body_max(in->cap));
    json_t *list = in->cfg->config_file ? json_array() : NULL;
    for (size_t i = 0; list && i < in->cfg->ntunnels; i++) {
        const agent_tunnel *t = &in->cfg->tunnels[i];
        char local[300];
        agent_tunnel_hostport(t, local, sizeof local);
        json_array_append_new(list, json_pack("{s:s,s:s?,s:s}", "name", t->name, "public_url",
                                              in->urls ? in->urls[i] : NULL, "local", local));
    }
    if (doc && list)
        json_object_set_new(doc, "tunnels", list);
    else
        json_decref(list);
    send_json(req, 200, doc);
}

static void handle_raw_body(inspector *in, struct evhttp_request *req, const cap_entry *e,
                            bool request)
{
    (void)in;
    const cap_body *b = request ? &e->req_body : &e->resp_body;
    common_headers(req, "application/octet-stream");
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char disp[96];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s-%llu.bin\"",
             request ? "request" : "response", (unsigned long long)e->id);
    evhttp_add_header(h, "Content-Disposition", disp);
    evhttp_remove_header(h, "Content-Security-Policy");
    evhttp_add_header(h, "Content-Security-Policy", "sandbox; default-src 'none'");
    if (cap_body_truncated(b))
        evhttp_add_header(h, "X-Body-Truncated", "true");
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    if (b->len)
        evbuffer_add(out, b->data, b->len);
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static bool json_content_type(struct evhttp_request *req)
{
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    if (!ct)
        return false;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

static void handle_replay(inspector *in, struct evhttp_request *req, const cap_entry *e)
{
    if (!json_content_type(req)) {
        send_problem(req, 415, "send the replay request as Content-Type: application/json");
        return;
    }
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(body);
    const char *text = len ? (const char *)evbuffer_pullup(body, -1) : "";
    char err[256] = "";
    replay_edits ed;
    if (inspect_parse_replay(text ? text : "", len, &ed, err, sizeof err) != 0) {
        send_problem(req, 400, err);
        return;
    }
    if (!ed.has_body && cap_body_truncated(&e->req_body)) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "the captured request body was cut at %zu of %llu bytes (--inspect-body-max): "
                 "send a body to replay it",
                 e->req_body.len, (unsigned long long)e->req_body.total);
        replay_edits_free(&ed);
        send_problem(req, 409, msg);
        return;
    }
    replay_request rq = {
        .method = ed.method ? ed.method : e->method,
        .target = ed.target ? ed.target : e->target,
        .headers = ed.has_headers ? &ed.headers : &e->req_headers,
        .body = ed.has_body ? ed.body : e->req_body.data,
        .body_len = ed.has_body ? ed.body_len : e->req_body.len,
        .tunnel = e->tunnel,
        .tls = in->cfg->local_tls,
    };
    for (size_t i = 0; e->tunnel && i < in->cfg->ntunnels; i++) {
        const agent_tunnel *t = &in->cfg->tunnels[i];
        if (t->name && strcmp(t->name, e->tunnel) == 0) {
            rq.host = t->local_host;
            rq.port = t->local_port;
            rq.host_default = t->local_host_default;
            rq.tls = t->local_tls;
        }
    }
    uint64_t id = replay_start(in->rp, &rq, e->id, err, sizeof err);
    replay_edits_free(&ed);
    if (!id) {
        send_problem(req, 400, err);
        return;
    }
    char loc[64];
    snprintf(loc, sizeof loc, "/api/requests/%llu", (unsigned long long)id);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Location", loc);
    send_json(req, 201, json_pack("{s:I,s:s}", "id", (json_int_t)id, "href", loc));
}

/* /api/requests/{id}[/replay|/request/body|/response/body] */
static void route_entry(inspector *in, struct evhttp_request *req, enum evhttp_cmd_type cmd,
                        const char *rest)
{
    char *end = NULL;
    errno = 0;
    unsigned long long id = strtoull(rest, &end, 10);
    if (errno || end == rest || !isdigit((unsigned char)rest[0])) {
        send_problem(req, 404, "no such route");
        return;
    }
    const cap_entry *e = capture_find(in->cap, id);
    if (!e) {
        send_problem(req, 404, "no such exchange (evicted, or never captured)");
        return;
    }
    if (strcmp(end, "") == 0 && (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD)) {
        send_json(req, 200, inspect_json_detail(e));
    } else if (strcmp(end, "/replay") == 0 && cmd == EVHTTP_REQ_POST) {
        handle_replay(in, req, e);
    } else if (strcmp(end, "/request/body") == 0 && cmd == EVHTTP_REQ_GET) {
        handle_raw_body(in, req, e, true);
    } else if (strcmp(end, "/response/body") == 0 && cmd == EVHTTP_REQ_GET) {
        handle_raw_body(in, req, e, false);
    } else {
        send_problem(req, strcmp(end, "") == 0 || strcmp(end, "/replay") == 0 ? 405 : 404,
                     "no such route");
    }
}

/* Cross-site requests that change state: refuse unless same-origin. */
static bool same_origin(inspector *in, struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *site = evhttp_find_header(h, "Sec-Fetch-Site");
    if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        return false;
    const char *origin = evhttp_find_header(h, "Origin");
    if (!origin)
        return true; /* not a browser's cross-site request (those always carry Origin) */
    const char *host = evhttp_find_header(h, "Host");
    if (!host || strncmp(origin, "http://", 7) != 0 || strcmp(origin + 7, host) != 0)
        return false;
    (void)in;
    return true;
}

static void handle(struct evhttp_request *req, void *arg)
{
    inspector *in = arg;
    const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
    if (!inspector_host_allowed(host, in->host, in->port)) {
        send_problem(req, 403,
                     "this inspector answers only to its own address (Host must be an IP "
                     "literal or localhost with its port)");
        return;
    }
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    if (!path || !*path)
        path = "/";
    if ((cmd == EVHTTP_REQ_POST || cmd == EVHTTP_REQ_DELETE) && !same_origin(in, req)) {
        send_problem(req, 403, "cross-origin request refused");
        return;
    }
    if (strncmp(path, "/api/", 5) != 0) {
        const inspect_asset *a = inspect_asset_find(path);
        if (!a || (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD)) {
            send_problem(req, a ? 405 : 404, a ? "method not allowed" : "not found");
            return;
        }
        common_headers(req, a->content_type);
        struct evbuffer *out = evbuffer_new();
        if (!out) {
            evhttp_send_error(req, 500, "out of memory");
            return;
        }
        evbuffer_add_reference(out, a->data, a->len, NULL, NULL);
        evhttp_send_reply(req, 200, "OK", out);
        evbuffer_free(out);
        return;
    }
    if (strcmp(path, "/api/requests") == 0) {
        if (cmd == EVHTTP_REQ_DELETE) {
            capture_clear(in->cap);
            send_json(req, 200, json_pack("{s:b}", "cleared", 1));
        } else if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD) {
            uint64_t limit = query_u64(req, "limit", LIST_LIMIT_DEFAULT);
            send_json(req, 200,
                      inspect_json_list(in->cap, query_u64(req, "since", 0),
                                        limit > MAX_ENTRIES ? MAX_ENTRIES : (size_t)limit));
        } else {
            send_problem(req, 405, "method not allowed");
        }
    } else if (strncmp(path, "/api/requests/", 14) == 0) {
        route_entry(in, req, cmd, path + 14);
    } else if (strcmp(path, "/api/events") == 0 && cmd == EVHTTP_REQ_GET) {
        handle_events(in, req);
    } else if (strcmp(path, "/api/status") == 0 && cmd == EVHTTP_REQ_GET) {
        handle_status(in, req);
    } else {
        send_problem(req, 404, "no such route");
    }
}

/* ---- life cycle ---- */

static struct evhttp_bound_socket *bind_any(inspector *in, const char *host, int port, int tries)
{
    for (int i = 0; i < tries && port + i <= 65535; i++) {
        struct evhttp_bound_socket *b =
            evhttp_bind_socket_with_handle(in->http, host, (uint16_t)(port + i));
        if (b)
            return b;
        if (port == 0)
            break;
    }
    return NULL;
}

inspector *inspector_new(struct event_base *base, const agent_config *cfg, const tlog *lg,
                         char *err, size_t errcap)
{
    char host[256];
    int port = 0;
    if (inspector_parse_addr(cfg->inspect_addr, host, sizeof host, &port) != 0) {
        snprintf(err, errcap, "invalid --inspect address %s (HOST:PORT, [IPv6]:PORT or PORT)",
                 cfg->inspect_addr);
        return NULL;
    }
    inspector *in = calloc(1, sizeof *in);
    if (!in) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    in->base = base;
    in->log = lg;
    in->cfg = cfg;
    snprintf(in->host, sizeof in->host, "%s", host);
    agent_config_local_hostport(cfg, in->local, sizeof in->local);
    in->cap = capture_new(cfg->inspect_budget, cfg->inspect_body_max, MAX_ENTRIES);
    in->rp = in->cap ? replay_new(base, cfg->local_host, !cfg->local_host_given, cfg->local_port,
                                  cfg->request_timeout, in->cap, lg)
                     : NULL;
    in->http = evhttp_new(base);
    in->flush_ev = evtimer_new(base, flush_cb, in);
    in->ping_ev = event_new(base, -1, EV_PERSIST, ping_cb, in);
    if (!in->cap || !in->rp || !in->http || !in->flush_ev || !in->ping_ev) {
        snprintf(err, errcap, "out of memory");
        inspector_free(in);
        return NULL;
    }
    capture_set_listener(in->cap, on_capture_change, in);
    evhttp_set_allowed_methods(in->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                             EVHTTP_REQ_DELETE);
    evhttp_set_max_headers_size(in->http, (ev_ssize_t)64 * 1024);
    evhttp_set_max_body_size(in->http,
                             (ev_ssize_t)(capture_body_max(in->cap) * 2 + ((size_t)1 << 20)));
    evhttp_set_timeout(in->http, 30);
    evhttp_set_gencb(in->http, handle, in);
    int tries = cfg->inspect_explicit ? 1 : INSPECT_FALLBACK_PORTS;
    struct evhttp_bound_socket *b = bind_any(in, host, port, tries);
    if (!b) {
        if (tries > 1)
            snprintf(err, errcap, "%s:%d to %d are in use or not available", host, port,
                     port + tries - 1);
        else
            snprintf(err, errcap, "cannot listen on %s: %s", cfg->inspect_addr,
                     strerror(errno ? errno : EADDRINUSE));
        inspector_free(in);
        return NULL;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl = sizeof ss;
    if (getsockname(evhttp_bound_socket_get_fd(b), (struct sockaddr *)&ss, &sl) == 0)
        in->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                  : ((struct sockaddr_in *)&ss)->sin_port);
    bool v6 = strchr(host, ':') != NULL;
    const char *shown = host;
    if (strcmp(host, "0.0.0.0") == 0)
        shown = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        shown = "::1";
    snprintf(in->url, sizeof in->url, v6 ? "http://[%s]:%d" : "http://%s:%d", shown, in->port);
    struct timeval ping = {SSE_PING_SEC, 0};
    event_add(in->ping_ev, &ping);
    return in;
}

void inspector_free(inspector *in)
{
    if (!in)
        return;
    sse_client *next;
    for (sse_client *c = in->clients; c; c = next) {
        next = c->next;
        sse_drop(c, true);
    }
    replay_free(in->rp); /* before the capture: it ends its entries there */
    if (in->http)
        evhttp_free(in->http);
    if (in->flush_ev)
        event_free(in->flush_ev);
    if (in->ping_ev)
        event_free(in->ping_ev);
    capture_free(in->cap);
    free(in->state);
    free(in->public_url);
    free(in->path_url);
    for (size_t i = 0; in->urls && i < in->cfg->ntunnels; i++)
        free(in->urls[i]);
    free(in->urls);
    free(in);
}

const char *inspector_url(const inspector *in)
{
    return in->url;
}

exchange_observer inspector_observer(inspector *in)
{
    return capture_observer(in->cap);
}

static void set_copy(char **dst, const char *s)
{
    if (!s)
        return;
    char *c = strdup(s);
    if (!c)
        return;
    free(*dst);
    *dst = c;
}

void inspector_set_tunnel_url(inspector *in, size_t i, const char *public_url)
{
    if (!in || i >= in->cfg->ntunnels)
        return;
    if (!in->urls && !(in->urls = calloc(in->cfg->ntunnels, sizeof *in->urls)))
        return;
    char *c = public_url ? strdup(public_url) : NULL;
    free(in->urls[i]);
    in->urls[i] = c;
}

void inspector_set_tunnel(inspector *in, const char *state, const char *public_url,
                          const char *path_url)
{
    if (!in)
        return;
    set_copy(&in->state, state);
    set_copy(&in->public_url, public_url);
    set_copy(&in->path_url, path_url);
}
