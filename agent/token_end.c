/* SPDX-License-Identifier: MIT */
/* token_end.c - the end of ttf's own token (see token_end.h). */
#include "token_end.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "auth.h"

struct token_end {
    int64_t exp; /* Unix seconds */
    const tlog *log;
    struct event *timer;
};

static void utc(int64_t when, char *out, size_t cap)
{
    time_t t = (time_t)when;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(out, cap, "%lld (Unix time)", (long long)when);
}

/* "12 s", "5 min", "3 h", "2 days" */
static void span(int64_t s, char *out, size_t cap)
{
    if (s < 120)
        snprintf(out, cap, "%lld s", (long long)s);
    else if (s < 7200)
        snprintf(out, cap, "%lld min", (long long)(s / 60));
    else if (s < 172800)
        snprintf(out, cap, "%lld h", (long long)(s / 3600));
    else
        snprintf(out, cap, "%lld days", (long long)(s / 86400));
}

/* at_start: before any connection (a server checking tokens will refuse it, save for its
 * leeway); else while the tunnel may be up. */
static void warn_expired(const token_end *t, int64_t now, bool at_start)
{
    char when[64], ago[32];
    utc(t->exp, when, sizeof when);
    span(now - t->exp, ago, sizeof ago);
    if (at_start)
        TLOG_W(t->log,
               "the token (--token / TUNNEL_TOKEN) expired at %s (%s ago): a server that checks "
               "tokens will refuse it; give ttf a new token",
               when, ago);
    else
        TLOG_W(t->log,
               "the token (--token / TUNNEL_TOKEN) expired at %s (%s ago): a connection already "
               "up stays up, but the server will refuse the next one once its allowance for clock "
               "skew (%d s on ttfd and the Lambda) has passed (after a drop, a restart of the "
               "server, or the "
               "serverless back-end's move before its 2-hour limit); give ttf a new token",
               when, ago, AUTH_LEEWAY_SECONDS);
}

static void expired_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    const token_end *t = ud;
    warn_expired(t, (int64_t)time(NULL), false);
}

token_end *token_end_new(struct event_base *base, const char *token, const tlog *log)
{
    int64_t exp = 0;
    if (!token || auth_token_exp(token, &exp) != 0)
        return NULL;
    token_end *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->exp = exp;
    t->log = log;
    int64_t now = (int64_t)time(NULL);
    if (exp < now) {
        warn_expired(t, now, true);
        return t;
    }
    t->timer = evtimer_new(base, expired_cb, t);
    struct timeval tv = {(time_t)(exp - now + 1), 0};
    if (!t->timer || evtimer_add(t->timer, &tv) != 0) {
        token_end_free(t);
        return NULL;
    }
    return t;
}

void token_end_free(token_end *t)
{
    if (!t)
        return;
    if (t->timer)
        event_free(t->timer);
    free(t);
}

void token_end_hint(const token_end *t, int64_t now, char *out, size_t cap)
{
    if (cap)
        out[0] = '\0';
    if (!t || now < t->exp)
        return;
    char when[64], ago[32];
    utc(t->exp, when, sizeof when);
    span(now - t->exp, ago, sizeof ago);
    snprintf(out, cap, "the token expired at %s (%s ago): give ttf a new one", when, ago);
}
