/* SPDX-License-Identifier: MIT */
/* observer.c - the exchange observer handle, the fan-out and the default log observer (see
 * observer.h). */
#include "observer.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the data path's handle ---- */

void obs_begin(obs_exchange *e, const exchange_observer *o, const obs_request *rq)
{
    if (e->begun)
        return;
    e->o = o;
    e->begun = true;
    if (o && o->ops && o->ops->on_request_head) {
        obs_request r = *rq;
        if (!r.method)
            r.method = "?";
        if (!r.target)
            r.target = "?";
        e->x = o->ops->on_request_head(o->ud, &r);
    }
}

static bool live(const obs_exchange *e)
{
    return e->begun && !e->ended && e->o && e->o->ops;
}

void obs_request_body(obs_exchange *e, const void *data, size_t len)
{
    if (len > 0 && live(e) && e->o->ops->on_request_body)
        e->o->ops->on_request_body(e->o->ud, e->x, data, len);
}

void obs_response_head(obs_exchange *e, int status, const http_headers *h, bool interim)
{
    if (!live(e) || !e->o->ops->on_response_head)
        return;
    obs_response rs = {status, h, interim};
    e->o->ops->on_response_head(e->o->ud, e->x, &rs);
}

void obs_response_body(obs_exchange *e, const void *data, size_t len)
{
    if (len > 0 && live(e) && e->o->ops->on_response_body)
        e->o->ops->on_response_body(e->o->ud, e->x, data, len);
}

void obs_end(obs_exchange *e, const exchange_observer *o, const exchange_info *info)
{
    if (e->ended)
        return;
    if (!e->begun) {
        obs_request rq = {info->mode,   info->id,          info->method,
                          info->target, info->req_headers, info->tunnel};
        obs_begin(e, o, &rq);
    }
    e->ended = true;
    if (e->o && e->o->ops && e->o->ops->on_end)
        e->o->ops->on_end(e->o->ud, e->x, info);
    e->x = NULL;
}

/* ---- fan-out: the state is an array of the children's states ---- */

void observer_fanout_init(observer_fanout *f)
{
    f->n = 0;
    f->spare = (spare_list){0};
}

void observer_fanout_free(observer_fanout *f)
{
    void **xs;
    while ((xs = spare_take(&f->spare, 0)))
        free(xs);
}

int observer_fanout_add(observer_fanout *f, exchange_observer o)
{
    if (f->n == OBSERVER_FANOUT_MAX)
        return -1;
    f->child[f->n++] = o;
    return 0;
}

static void *fan_request_head(void *ud, const obs_request *rq)
{
    observer_fanout *f = ud;
    void **xs = spare_take(&f->spare, 0);
    if (!xs)
        xs = malloc(OBSERVER_FANOUT_MAX * sizeof *xs);
    if (!xs)
        return NULL; /* nothing more is reported for this exchange */
    memset(xs, 0, OBSERVER_FANOUT_MAX * sizeof *xs);
    for (size_t i = 0; i < f->n; i++)
        if (f->child[i].ops && f->child[i].ops->on_request_head)
            xs[i] = f->child[i].ops->on_request_head(f->child[i].ud, rq);
    return xs;
}

static void fan_request_body(void *ud, void *x, const uint8_t *data, size_t len)
{
    observer_fanout *f = ud;
    void **xs = x;
    for (size_t i = 0; xs && i < f->n; i++)
        if (f->child[i].ops && f->child[i].ops->on_request_body)
            f->child[i].ops->on_request_body(f->child[i].ud, xs[i], data, len);
}

static void fan_response_head(void *ud, void *x, const obs_response *rs)
{
    observer_fanout *f = ud;
    void **xs = x;
    for (size_t i = 0; xs && i < f->n; i++)
        if (f->child[i].ops && f->child[i].ops->on_response_head)
            f->child[i].ops->on_response_head(f->child[i].ud, xs[i], rs);
}

static void fan_response_body(void *ud, void *x, const uint8_t *data, size_t len)
{
    observer_fanout *f = ud;
    void **xs = x;
    for (size_t i = 0; xs && i < f->n; i++)
        if (f->child[i].ops && f->child[i].ops->on_response_body)
            f->child[i].ops->on_response_body(f->child[i].ud, xs[i], data, len);
}

static void fan_end(void *ud, void *x, const exchange_info *info)
{
    observer_fanout *f = ud;
    void **xs = x;
    for (size_t i = 0; xs && i < f->n; i++)
        if (f->child[i].ops && f->child[i].ops->on_end)
            f->child[i].ops->on_end(f->child[i].ud, xs[i], info);
    if (xs && !spare_keep(&f->spare, xs, 0, OBSERVER_FANOUT_SPARE))
        free(xs);
}

static const exchange_observer_ops fan_ops = {fan_request_head, fan_request_body, fan_response_head,
                                              fan_response_body, fan_end};

exchange_observer observer_fanout_observer(observer_fanout *f)
{
    exchange_observer o = {&fan_ops, f};
    return o;
}

/* ---- the log observer ---- */

static void log_headers(const tlog *lg, const char *dir, const http_headers *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++) {
        const char *v = h->v[i].value;
        /* Credentials stay out of logs. */
        if (strcasecmp(h->v[i].name, "authorization") == 0 ||
            strcasecmp(h->v[i].name, "cookie") == 0 || strcasecmp(h->v[i].name, "set-cookie") == 0)
            v = "[redacted]";
        TLOG_D(lg, "  %s %s: %s", dir, h->v[i].name, v);
    }
}

static void log_end(void *ud, void *x, const exchange_info *info)
{
    (void)x;
    const tlog *lg = ud;
    const char *method = info->method ? info->method : "?";
    const char *target = info->target ? info->target : "?";
    /* "GET / -> 200 1234 B 5 ms", built without printf (one line per exchange); ttf --config:
     * "[web] GET / -> 200 ..." names the tunnel */
    if (tlog_enabled(lg, TLOG_INFO)) {
        tlog_msg m;
        tlog_msg_init(&m);
        if (info->tunnel) {
            tlog_msg_add(&m, "[", 1);
            tlog_msg_str(&m, info->tunnel);
            tlog_msg_add(&m, "] ", 2);
        }
        tlog_msg_str(&m, method);
        tlog_msg_add(&m, " ", 1);
        tlog_msg_str(&m, target);
        tlog_msg_add(&m, " -> ", 4);
        if (info->error) {
            tlog_msg_str(&m, info->error);
            tlog_msg_add(&m, " (", 2);
            tlog_msg_int(&m, info->status);
            tlog_msg_add(&m, ")", 1);
        } else {
            tlog_msg_int(&m, info->status);
        }
        tlog_msg_add(&m, " ", 1);
        tlog_msg_uint(&m, (unsigned long long)info->resp_bytes);
        tlog_msg_add(&m, " B ", 3);
        tlog_msg_uint(&m, (unsigned long long)info->total_ms);
        tlog_msg_add(&m, " ms", 3);
        if (!info->error && info->upgraded)
            tlog_msg_str(&m, " (upgraded)");
        tlog_write_msg(lg, TLOG_INFO, &m);
    }
    if (lg && lg->level >= TLOG_DEBUG) {
        TLOG_D(lg, "  [%s %s] request body %llu B, head after %llu ms", info->mode,
               info->id ? info->id : "-", (unsigned long long)info->req_bytes,
               (unsigned long long)info->head_ms);
        log_headers(lg, ">", info->req_headers);
        log_headers(lg, "<", info->resp_headers);
    }
}

static const exchange_observer_ops log_ops = {NULL, NULL, NULL, NULL, log_end};

exchange_observer observer_log(const tlog *lg)
{
    exchange_observer o = {&log_ops, (void *)lg};
    return o;
}
