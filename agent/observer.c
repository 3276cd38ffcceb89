/* SPDX-License-Identifier: MIT */
/* observer.c - the default exchange observer: one log line per exchange (see observer.h). */
#include "observer.h"

#include <strings.h>

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

static void log_exchange(void *ud, const exchange_info *x)
{
    const tlog *lg = ud;
    const char *method = x->method ? x->method : "?";
    const char *target = x->target ? x->target : "?";
    if (x->error)
        TLOG_I(lg, "%s %s -> %s (%d) %llu B %llu ms", method, target, x->error, x->status,
               (unsigned long long)x->resp_bytes, (unsigned long long)x->total_ms);
    else
        TLOG_I(lg, "%s %s -> %d %llu B %llu ms%s", method, target, x->status,
               (unsigned long long)x->resp_bytes, (unsigned long long)x->total_ms,
               x->upgraded ? " (upgraded)" : "");
    if (lg && lg->level >= TLOG_DEBUG) {
        TLOG_D(lg, "  [%s %s] request body %llu B, head after %llu ms", x->mode, x->id,
               (unsigned long long)x->req_bytes, (unsigned long long)x->head_ms);
        log_headers(lg, ">", x->req_headers);
        log_headers(lg, "<", x->resp_headers);
    }
}

exchange_observer observer_log(const tlog *lg)
{
    exchange_observer o = {log_exchange, (void *)lg};
    return o;
}
