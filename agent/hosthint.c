/* SPDX-License-Identifier: MIT */
/* hosthint.c - the --host-header rewrite hint (see hosthint.h). */
#include "hosthint.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spare_list.h"

#define HOSTHINT_SPARE 16

typedef struct hint_x {
    void *link; /* spare_list's */
    size_t tunnel;
    size_t n;
    bool refused_status; /* a 400, 403 or 421 final head */
    char body[HOSTHINT_BODY_MAX];
} hint_x;

struct hosthint {
    const agent_config *cfg;
    const tlog *log;
    bool *said;     /* per tunnel of cfg */
    size_t pending; /* tunnels that preserve Host and have not had the hint */
    spare_list spare;
};

static const char *const refusals[] = {
    "invalid host header",        /* webpack-dev-server, Angular CLI */
    "blocked request. this host", /* Vite */
    "blocked host",               /* Rails' HostAuthorization */
    "disallowedhost",             /* Django (DEBUG) */
    "invalid http_host header",   /* Django */
};

static bool contains_ci(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (strncasecmp(s + i, needle, m) == 0)
            return true;
    return false;
}

/* The final statuses a local service refuses a Host with (hosthint.h). */
static bool refusal_status(int status)
{
    return status == 400 || status == 403 || status == 421;
}

bool hosthint_is_refusal(int status, const char *body, size_t len)
{
    if (!refusal_status(status))
        return false;
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++)
        if (contains_ci(body, len, refusals[i]))
            return true;
    return false;
}

static size_t tunnel_index(const agent_config *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->ntunnels; i++)
        if (cfg->tunnels[i].name && strcmp(cfg->tunnels[i].name, name) == 0)
            return i;
    return 0; /* the command line's one tunnel */
}

static void *on_request_head(void *ud, const obs_request *rq)
{
    hosthint *h = ud;
    if (h->pending == 0 || strcmp(rq->mode, "replay") == 0)
        return NULL;
    size_t t = tunnel_index(h->cfg, rq->tunnel);
    if (h->said[t])
        return NULL;
    hint_x *x = spare_take(&h->spare, 0);
    if (!x && !(x = malloc(sizeof *x)))
        return NULL;
    x->tunnel = t;
    x->n = 0;
    x->refused_status = false;
    return x;
}

static void on_response_head(void *ud, void *xv, const obs_response *rs)
{
    (void)ud;
    hint_x *x = xv;
    if (x && !rs->interim)
        x->refused_status = refusal_status(rs->status);
}

static void on_response_body(void *ud, void *xv, const uint8_t *data, size_t len)
{
    (void)ud;
    hint_x *x = xv;
    if (!x || !x->refused_status || x->n == sizeof x->body)
        return;
    size_t k = len < sizeof x->body - x->n ? len : sizeof x->body - x->n;
    memcpy(x->body + x->n, data, k);
    x->n += k;
}

static void on_end(void *ud, void *xv, const exchange_info *info)
{
    hosthint *h = ud;
    hint_x *x = xv;
    if (!x)
        return;
    if (!h->said[x->tunnel] && x->refused_status &&
        hosthint_is_refusal(info->status, x->body, x->n)) {
        const agent_tunnel *t = &h->cfg->tunnels[x->tunnel];
        char hp[300];
        agent_tunnel_hostport(t, hp, sizeof hp);
        h->said[x->tunnel] = true;
        h->pending--;
        TLOG_W(h->log,
               "%s%sthe local service refused the public Host header (%d: a development server's "
               "host check, e.g. Vite's server.allowedHosts, webpack's allowedHosts, Django's "
               "ALLOWED_HOSTS); --host-header rewrite sends it Host: %s instead",
               t->name ? t->name : "", t->name ? ": " : "", info->status, hp);
    }
    if (!spare_keep(&h->spare, x, 0, HOSTHINT_SPARE))
        free(x);
}

static const exchange_observer_ops hint_ops = {on_request_head, NULL, on_response_head,
                                               on_response_body, on_end};

hosthint *hosthint_new(const agent_config *cfg, const tlog *lg)
{
    hosthint *h = calloc(1, sizeof *h);
    if (h)
        h->said = calloc(cfg->ntunnels ? cfg->ntunnels : 1, sizeof *h->said);
    if (!h || !h->said) {
        free(h);
        return NULL;
    }
    h->cfg = cfg;
    h->log = lg;
    for (size_t i = 0; i < cfg->ntunnels; i++) {
        h->said[i] = cfg->tunnels[i].host_header != HOST_HEADER_PRESERVE;
        h->pending += !h->said[i];
    }
    return h;
}

void hosthint_free(hosthint *h)
{
    if (!h)
        return;
    void *p;
    while ((p = spare_take(&h->spare, 0)))
        free(p);
    free(h->said);
    free(h);
}

exchange_observer hosthint_observer(hosthint *h)
{
    exchange_observer o = {&hint_ops, h};
    return o;
}
