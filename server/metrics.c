/* SPDX-License-Identifier: MIT */
/* metrics.c - counters and their Prometheus text (see metrics.h). */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define NBUCKETS 14
#define MAX_CODE 999

/* Request duration buckets (seconds, as the `le` labels say), from a fast local answer to the
 * default --request-timeout (120 s: the long polls it lets through). */
static const uint64_t bucket_us[NBUCKETS] = {5000,     10000,    25000,    50000,    100000,
                                             250000,   500000,   1000000,  2500000,  5000000,
                                             10000000, 30000000, 60000000, 120000000};
static const char *const bucket_le[NBUCKETS] = {"0.005", "0.01", "0.025", "0.05", "0.1",
                                                "0.25",  "0.5",  "1",     "2.5",  "5",
                                                "10",    "30",   "60",    "120"};
static const char *const class_names[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx", "other"};
#define NCLASSES (sizeof class_names / sizeof class_names[0])

struct metrics {
    int64_t start_unix_s;
    char version[32];
    uint64_t by_code[MAX_CODE + 1]; /* [0]: no response */
    uint64_t by_class[NCLASSES];
    uint64_t hist[NBUCKETS]; /* per bucket (not cumulative) */
    uint64_t hist_count, hist_sum_us;
    uint64_t bytes_in, bytes_out;
    uint64_t refused[REFUSED_COUNT];
    uint64_t connects, reconnects, disconnects;
    uint64_t room[ROOM_KINDS]; /* closed to make room at --max-connections */
};

metrics *metrics_new(int64_t start_unix_s, const char *version)
{
    metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->start_unix_s = start_unix_s;
    snprintf(m->version, sizeof m->version, "%s", version ? version : "");
    return m;
}

void metrics_free(metrics *m)
{
    free(m);
}

void edge_note_start(edge_note *n)
{
    n->t0_us = clock_now_us();
}

edge_refusal edge_refusal_of(access_result r)
{
    switch (r) {
    case ACCESS_REFUSE_AUTH:
        return REFUSED_AUTH;
    case ACCESS_REFUSE_CIDR:
        return REFUSED_CIDR;
    case ACCESS_REFUSE_RATE:
        return REFUSED_RATE;
    default:
        return REFUSED_NONE;
    }
}

const char *edge_refusal_name(edge_refusal r)
{
    static const char *const names[REFUSED_COUNT] = {
        "", "auth", "cidr", "rate_limit", "not_found", "busy", "server_busy"};
    return r < REFUSED_COUNT ? names[r] : "";
}

void metrics_on_request_end(metrics *m, const metrics_request *r)
{
    int code = r->status >= 100 && r->status <= MAX_CODE ? r->status : 0;
    m->by_code[code]++;
    size_t cls = code == 0 ? 0 : code < 600 ? (size_t)(code / 100) : NCLASSES - 1;
    m->by_class[cls]++;
    size_t b = 0;
    while (b < NBUCKETS && r->duration_us > bucket_us[b])
        b++;
    if (b < NBUCKETS)
        m->hist[b]++;
    m->hist_count++;
    m->hist_sum_us += r->duration_us;
    m->bytes_in += r->bytes_in;
    m->bytes_out += r->bytes_out;
    if (r->refused > REFUSED_NONE && r->refused < REFUSED_COUNT)
        m->refused[r->refused]++;
}

void metrics_on_agent_connect(metrics *m, bool returning)
{
    m->connects++;
    if (returning)
        m->reconnects++;
}

void metrics_on_agent_disconnect(metrics *m)
{
    m->disconnects++;
}

void metrics_on_room_made(metrics *m, room_kind kind, size_t n)
{
    if (kind < ROOM_KINDS)
        m->room[kind] += n;
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
    head(f, name, type, help);
    fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

/* A label value in the exposition format: backslash, double quote and newline escaped. */
static void label_value(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

char *metrics_render(const metrics *m, const metrics_gauges *g, double uptime_s, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    head(f, "ttfd_build_info", "gauge", "ttfd's version (the value is always 1).");
    fputs("ttfd_build_info{version=\"", f);
    label_value(f, m->version);
    fputs("\"} 1\n", f);
    head(f, "ttfd_start_time_seconds", "gauge", "When ttfd started (Unix time, seconds).");
    fprintf(f, "ttfd_start_time_seconds %lld\n", (long long)m->start_unix_s);
    head(f, "ttfd_uptime_seconds", "gauge", "Seconds since ttfd started.");
    fprintf(f, "ttfd_uptime_seconds %.3f\n", uptime_s);
    one(f, "ttfd_tunnels", "gauge", "Tunnels connected (names held by live agents).", g->tunnels);
    one(f, "ttfd_agents", "gauge", "Agent WebSocket sessions open, ready or not.", g->agents);
    one(f, "ttfd_streams_open", "gauge", "Exchanges in flight between public clients and agents.",
        g->streams);
    one(f, "ttfd_public_connections", "gauge", "Public client connections open.",
        g->public_connections);

    head(f, "ttfd_http_requests_total", "counter",
         "Public HTTP requests answered, by status code sent (none: the client left first).");
    for (int c = 0; c <= MAX_CODE; c++) {
        if (!m->by_code[c])
            continue;
        if (c == 0)
            fprintf(f, "ttfd_http_requests_total{code=\"none\"} %llu\n",
                    (unsigned long long)m->by_code[c]);
        else
            fprintf(f, "ttfd_http_requests_total{code=\"%d\"} %llu\n", c,
                    (unsigned long long)m->by_code[c]);
    }
    head(f, "ttfd_http_requests_by_class_total", "counter",
         "Public HTTP requests answered, by status class.");
    for (size_t i = 0; i < NCLASSES; i++)
        fprintf(f, "ttfd_http_requests_by_class_total{class=\"%s\"} %llu\n", class_names[i],
                (unsigned long long)m->by_class[i]);
    head(f, "ttfd_http_request_duration_seconds", "histogram",
         "Time from a public request's head to the end of its response.");
    uint64_t cum = 0;
    for (size_t b = 0; b < NBUCKETS; b++) {
        cum += m->hist[b];
        fprintf(f, "ttfd_http_request_duration_seconds_bucket{le=\"%s\"} %llu\n", bucket_le[b],
                (unsigned long long)cum);
    }
    fprintf(f, "ttfd_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
            (unsigned long long)m->hist_count);
    fprintf(f, "ttfd_http_request_duration_seconds_sum %.6f\n", (double)m->hist_sum_us / 1e6);
    fprintf(f, "ttfd_http_request_duration_seconds_count %llu\n",
            (unsigned long long)m->hist_count);
    one(f, "ttfd_request_body_bytes_total", "counter",
        "Request body bytes received from public clients (decoded; upgraded connections: the "
        "client's bytes).",
        m->bytes_in);
    one(f, "ttfd_response_bytes_total", "counter",
        "Bytes written to public clients (response heads and bodies).", m->bytes_out);
    head(f, "ttfd_requests_refused_total", "counter",
         "Public requests ttfd answered itself, by reason (auth 401, cidr 403, rate_limit 429, "
         "not_found 404).");
    for (int r = REFUSED_AUTH; r < REFUSED_COUNT; r++)
        fprintf(f, "ttfd_requests_refused_total{reason=\"%s\"} %llu\n",
                edge_refusal_name((edge_refusal)r), (unsigned long long)m->refused[r]);
    one(f, "ttfd_agent_connects_total", "counter", "Agent sessions whose tunnel was established.",
        m->connects);
    one(f, "ttfd_agent_reconnects_total", "counter",
        "Of those, agents given back a name they held before (reconnects and restarts).",
        m->reconnects);
    one(f, "ttfd_agent_disconnects_total", "counter", "Established agent sessions that ended.",
        m->disconnects);
    one(f, "ttfd_accept_backoffs_total", "counter",
        "Times accepting public connections failed (descriptors or memory exhausted).",
        g->accept_backoffs);
    one(f, "ttfd_accept_full_total", "counter",
        "Times accepting paused with --max-connections connections open.", g->accept_fulls);
    head(f, "ttfd_accept_room_closes_total", "counter",
         "Connections closed at --max-connections to make room: public ones idle (no octet "
         "sent), in the middle of a head or TLS handshake, or lingering after their last "
         "answer, or whose whole answers their client took none of; agents' sessions that "
         "sent no ready.");
    static const char *const room_names[ROOM_KINDS] = {"idle", "head", "linger", "ready",
                                                       "stalled"};
    for (size_t i = 0; i < ROOM_KINDS; i++)
        fprintf(f, "ttfd_accept_room_closes_total{state=\"%s\"} %llu\n", room_names[i],
                (unsigned long long)m->room[i]);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}
