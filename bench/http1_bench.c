/* SPDX-License-Identifier: MIT */
/* http1_bench.c - HTTP/1.1 parser speed through the driver API every caller uses
 * (http1_init / http1_execute / http1_free, decoded body bytes through on_body):
 *   - ns per message for request and response heads of real clients and servers (curl, a
 *     browser, a WebSocket upgrade; nginx, Go, uvicorn), on one parser per connection with the
 *     messages back to back (keep-alive), and on a fresh parser per message;
 *   - MB/s (wire bytes) of chunked bodies: 16 KiB chunks, and 256-byte chunks with extensions;
 *     the decoded bytes are copied on by the callback, as a relay does.
 * bench/http1_bench.sh builds this file twice, against this tree's lib/http1* and against the
 * previous libhttp-parser-based lib/http1.c (from git), and compares the two.
 * Usage: http1_bench [rounds]   Prints one line per workload: name, median, unit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http1.h"

typedef struct work {
    const char *name;
    bool request;
    const char *msg; /* one message; the stream repeats it */
    size_t body;     /* extra body bytes built at run time (chunked workloads) */
    size_t chunk;    /* chunk size for the built body */
    bool ext;        /* chunk extensions on every size line */
} work;

static const work works[] = {
    {"req_curl_get", true,
     "GET /api/items?id=7&sort=-date HTTP/1.1\r\nHost: abc123def456.localhost:8080\r\n"
     "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
     0, 0, false},
    {"req_browser_get", true,
     "GET /docs/index.html HTTP/1.1\r\nHost: abc123def456.localhost:8080\r\n"
     "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0\r\n"
     "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;"
     "q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n"
     "Connection: keep-alive\r\nCookie: session=3f2a9c0b8e7d6c5b4a39; theme=dark; lang=en\r\n"
     "Upgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\n"
     "Sec-Fetch-Site: none\r\nSec-Fetch-User: ?1\r\nIf-None-Match: \"5f3c-61a2\"\r\n\r\n",
     0, 0, false},
    {"req_post_json", true,
     "POST /api/todos HTTP/1.1\r\nHost: abc123def456.localhost:8080\r\nUser-Agent: curl/7.88.1\r\n"
     "Accept: */*\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n"
     "{\"title\":\"milk\",\"done\":fal}",
     0, 0, false},
    {"resp_nginx", false,
     "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Tue, 14 May 2024 10:00:00 GMT\r\n"
     "Content-Type: text/html\r\nContent-Length: 43\r\nLast-Modified: Mon, 13 May 2024 08:12:31 "
     "GMT\r\nConnection: keep-alive\r\nETag: \"6641cbdf-2c\"\r\nAccept-Ranges: bytes\r\n\r\n"
     "<html><body><h1>It works</h1></body></html>",
     0, 0, false},
    {"resp_uvicorn", false,
     "HTTP/1.1 200 OK\r\ndate: Tue, 14 May 2024 10:00:00 GMT\r\nserver: uvicorn\r\n"
     "content-length: 2\r\ncontent-type: application/json\r\nset-cookie: a=1; Path=/; HttpOnly\r\n"
     "set-cookie: b=2; Path=/; SameSite=lax\r\n\r\n{}",
     0, 0, false},
    {"body_chunked_16k", false,
     "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n"
     "\r\n",
     (size_t)1 << 20, 16384, false},
    {"body_chunked_256_ext", false,
     "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n"
     "\r\n",
     (size_t)1 << 20, 256, true},
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t sink_bytes;
static char scratch[64 << 10];

/* What a relay does with decoded bytes: copy them on (into a 64 KiB staging buffer here). */
static void on_body(void *ud, const char *at, size_t len)
{
    (void)ud;
    while (len) {
        size_t n = len < sizeof scratch ? len : sizeof scratch;
        memcpy(scratch, at, n);
        at += n;
        len -= n;
        sink_bytes += n;
    }
}

/* The stream for one workload: msg repeated (heads), or one head and a built chunked body. */
static char *build(const work *w, size_t reps, size_t *len, size_t *msgs)
{
    size_t ml = strlen(w->msg);
    if (!w->body) {
        char *s = malloc(ml * reps);
        for (size_t i = 0; i < reps; i++)
            memcpy(s + i * ml, w->msg, ml);
        *len = ml * reps;
        *msgs = reps;
        return s;
    }
    size_t cap = ml + w->body + (w->body / w->chunk + 2) * 48;
    char *s = malloc(cap), *p = s;
    memcpy(p, w->msg, ml);
    p += ml;
    for (size_t done = 0; done < w->body; done += w->chunk) {
        p += sprintf(p, "%zx%s\r\n", w->chunk, w->ext ? ";ext=\"v\";n=1" : "");
        memset(p, 'x', w->chunk);
        p += w->chunk;
        memcpy(p, "\r\n", 2);
        p += 2;
    }
    memcpy(p, "0\r\n\r\n", 5);
    p += 5;
    *len = (size_t)(p - s);
    *msgs = 1;
    return s;
}

/* Parses the stream on one parser; returns the messages that ended (all, or the run failed). */
static size_t parse_stream(const work *w, const char *s, size_t len)
{
    http1_parser p;
    http1_init(&p, w->request, 0);
    p.on_body = on_body;
    size_t off = 0, ended = 0;
    while (off < len) {
        size_t used = 0;
        http1_event ev = http1_execute(&p, s + off, len - off, &used);
        off += used;
        if (ev == HTTP1_ERROR)
            break;
        if (ev == HTTP1_MSG_END)
            ended++;
        else if (ev == HTTP1_NONE && used == 0)
            break;
    }
    if (off == len && http1_execute(&p, "", 0, &(size_t){0}) == HTTP1_MSG_END)
        ended++;
    http1_free(&p);
    return ended;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    if (rounds < 1 || rounds > 99)
        rounds = 7;
    for (size_t k = 0; k < sizeof works / sizeof works[0]; k++) {
        const work *w = &works[k];
        size_t len, msgs;
        char *s = build(w, 64, &len, &msgs);
        if (parse_stream(w, s, len) != msgs) {
            fprintf(stderr, "%s: the parser refused the workload\n", w->name);
            return 1;
        }
        double v[99] = {0};
        for (int r = 0; r < rounds; r++) {
            /* about 100 ms per round */
            size_t iters = w->body ? 64 : 2000;
            uint64_t t0 = now_ns();
            for (size_t i = 0; i < iters; i++)
                parse_stream(w, s, len);
            double ns = (double)(now_ns() - t0);
            v[r] = w->body ? (double)len * (double)iters / ns * 1e9 / 1e6 /* MB/s */
                           : ns / (double)(iters * msgs);                 /* ns per message */
        }
        qsort(v, (size_t)rounds, sizeof v[0], cmp_double);
        printf("%-22s %10.1f %s\n", w->name, v[rounds / 2], w->body ? "MB/s" : "ns/msg");
        if (!w->body) {
            /* a fresh parser per message (a connection per request) */
            for (int r = 0; r < rounds; r++) {
                size_t iters = 100000;
                uint64_t t0 = now_ns();
                for (size_t i = 0; i < iters; i++)
                    parse_stream(w, s, strlen(w->msg));
                v[r] = (double)(now_ns() - t0) / (double)iters;
            }
            qsort(v, (size_t)rounds, sizeof v[0], cmp_double);
            printf("%-22s %10.1f %s\n", "  (fresh parser)", v[rounds / 2], "ns/msg");
        }
        free(s);
    }
    return sink_bytes == 0 || scratch[0] != 'x'; /* the copies cannot be optimised away */
}
