/* SPDX-License-Identifier: MIT */
/* admin.c - /healthz and /metrics over evhttp (see admin.h). */
#include "admin.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "clock.h"

#define ADMIN_TIMEOUT_S 10
#define ADMIN_MAX_HEADERS 8192

struct admin {
    struct evhttp *http;
    const metrics *m;
    const char *version;
    admin_gauges_fn gauges;
    void *ud;
    uint64_t start_us;
    struct sockaddr_storage bound;
};

static void reply(struct evhttp_request *req, int code, const char *reason, const char *ctype,
                  const char *body, size_t len)
{
    struct evbuffer *out = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (out)
        evbuffer_add(out, body, len);
    evhttp_send_reply(req, code, reason, out);
    if (out)
        evbuffer_free(out);
}

/* Only GET and HEAD: anything else is answered 405 (true when it was). */
static bool refuse_method(struct evhttp_request *req)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD)
        return false;
    static const char body[] = "method not allowed: GET or HEAD\n";
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
    reply(req, 405, "Method Not Allowed", "text/plain; charset=utf-8", body, sizeof body - 1);
    return true;
}

static double uptime(const admin *a)
{
    return (double)(clock_now_us() - a->start_us) / 1e6;
}

static void metrics_cb(struct evhttp_request *req, void *ud)
{
    admin *a = ud;
    if (refuse_method(req))
        return;
    metrics_gauges g = {0};
    a->gauges(a->ud, &g);
    size_t len = 0;
    char *text = metrics_render(a->m, &g, uptime(a), &len);
    if (!text) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

static void healthz_cb(struct evhttp_request *req, void *ud)
{
    admin *a = ud;
    if (refuse_method(req))
        return;
    metrics_gauges g = {0};
    a->gauges(a->ud, &g);
    json_t *o =
        json_pack("{s:s,s:s,s:f,s:I,s:I}", "status", "ok", "version", a->version, "uptime_s",
                  uptime(a), "tunnels", (json_int_t)g.tunnels, "agents", (json_int_t)g.agents);
    char *text =
        o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(o);
    if (!text) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    reply(req, 200, "OK", "application/json", text, strlen(text));
    free(text);
}

static void other_cb(struct evhttp_request *req, void *ud)
{
    (void)ud;
    static const char body[] = "not found: the admin listener serves /healthz and /metrics\n";
    reply(req, 404, "Not Found", "text/plain; charset=utf-8", body, sizeof body - 1);
}

admin *admin_new(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
                 const metrics *m, const char *version, admin_gauges_fn gauges, void *ud, char *err,
                 size_t cap)
{
    admin *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    a->m = m;
    a->version = version;
    a->gauges = gauges;
    a->ud = ud;
    a->start_us = clock_now_us();
    a->http = evhttp_new(base);
    struct evconnlistener *lis =
        a->http ? evconnlistener_new_bind(base, NULL, NULL,
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                              LEV_OPT_CLOSE_ON_EXEC,
                                          -1, sa, (int)salen)
                : NULL;
    if (!lis) {
        snprintf(err, cap, "%s", a->http ? strerror(errno) : "out of memory");
        admin_free(a);
        return NULL;
    }
    if (!evhttp_bind_listener(a->http, lis)) { /* the evhttp owns lis from now on */
        evconnlistener_free(lis);
        snprintf(err, cap, "out of memory");
        admin_free(a);
        return NULL;
    }
    socklen_t blen = sizeof a->bound;
    getsockname(evconnlistener_get_fd(lis), (struct sockaddr *)&a->bound, &blen);
    /* methods evhttp knows reach the callbacks (405 there); others get evhttp's 501 */
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_timeout(a->http, ADMIN_TIMEOUT_S);
    evhttp_set_max_headers_size(a->http, ADMIN_MAX_HEADERS);
    evhttp_set_max_body_size(a->http, 0);
    if (evhttp_set_cb(a->http, "/metrics", metrics_cb, a) != 0 ||
        evhttp_set_cb(a->http, "/healthz", healthz_cb, a) != 0) {
        snprintf(err, cap, "out of memory");
        admin_free(a);
        return NULL;
    }
    evhttp_set_gencb(a->http, other_cb, a);
    return a;
}

void admin_free(admin *a)
{
    if (!a)
        return;
    if (a->http)
        evhttp_free(a->http);
    free(a);
}

void admin_address(const admin *a, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (a->bound.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *)&a->bound;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
        snprintf(out, cap, "[%s]:%d", ip, ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const void *)&a->bound;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
        snprintf(out, cap, "%s:%d", ip, ntohs(s4->sin_port));
    }
}
