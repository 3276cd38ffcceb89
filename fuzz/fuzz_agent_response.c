/* SPDX-License-Identifier: MIT */
/* fuzz_agent_response.c - the agent's response path (agent/exchange.h) fed raw local response
 * bytes: one exchange per input against a fake local service on a loopback socket of this
 * process (the bytes are written in pieces, then the connection is closed) and a checking sink
 * in place of a wire adapter.
 *
 * Input: byte 0 = flags (bit 0: the request was HEAD; bit 1: relay interim heads, binary mode;
 * bit 2: the request asked for an upgrade; bits 3-4: the tunnel's room: unlimited, 1, 7 octets
 * per step, or none until the first resume), byte 1 = piece size (1..256), the rest = what the
 * local service sends.
 *
 * Checks, whatever the bytes: upcalls in order (interim heads, one final head, body, then end or
 * fail, nothing after), body octets within the room and never more than the raw octets, a
 * Content-Length body exactly that long at the end, no body after a fin head or for HEAD, no
 * Transfer-Encoding in any head handed on, every head re-serialised as the binary RESPONSE
 * frame parses again (strictly) to the same status, and the JSON http_response made of it
 * encodes and decodes back with its octets. */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "exchange.h"
#include "proto_json.h"

typedef struct check {
    int stage; /* 0 waiting, 1 final head seen, 2 ended */
    bool fin, head_req;
    int64_t cl;
    uint64_t body, raw;
    size_t room_step; /* 0: unlimited */
    bool room_zero;   /* no room until the first resume */
    exchange *x;
} check;

static size_t c_room(void *ud)
{
    check *c = ud;
    if (c->room_zero)
        return 0;
    return c->room_step ? c->room_step : (size_t)1 << 20;
}

/* The binary RESPONSE frame's head must parse again; the JSON message must round-trip. */
static void check_head(int status, const char *reason, const http_headers *h)
{
    if (http_headers_get(h, "Transfer-Encoding"))
        abort();
    size_t len = 0;
    char *out = http_format_response_head(status, reason, h, &len);
    if (!out)
        abort();
    http1_head again;
    http1_head_init(&again);
    http1_err err;
    size_t used = 0;
    http1_limits lim = {.max_head = len + 1, .max_fields = h->n + 1};
    if (http1_parse_head(&again, out, len, false, &lim, &used, &err) != HTTP1_HEAD_DONE ||
        used != len || again.status != status)
        abort();
    http1_head_free(&again);
    free(out);
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_RESPONSE);
    m.request_id = (char *)"r";
    m.status_code = status;
    m.reason = (char *)reason;
    m.headers = *h;
    char *json = tmsg_encode(&m, &len);
    tmsg d;
    const char *e = NULL;
    if (!json || tmsg_decode(json, len, &d, &e) != 0 || d.headers.n != h->n ||
        strcmp(d.reason, reason) != 0)
        abort();
    tmsg_free(&d);
    free(json);
}

static void c_interim(void *ud, int status, const char *reason, const http_headers *h)
{
    check *c = ud;
    if (c->stage != 0 || status < 100 || status > 199 || status == 101)
        abort();
    check_head(status, reason, h);
}

static void c_head(void *ud, const exchange_head *h)
{
    check *c = ud;
    if (c->stage != 0)
        abort();
    c->stage = 1;
    c->fin = h->fin;
    c->cl = h->content_length;
    if (c->head_req && !h->fin && !h->upgraded)
        abort();
    check_head(h->status, h->reason, h->headers);
}

static void c_body(void *ud, const uint8_t *data, size_t len)
{
    check *c = ud;
    (void)data;
    if (c->stage != 1 || c->fin || len == 0 || (c->room_step && len > c->room_step))
        abort();
    c->body += len;
}

static void c_end(void *ud, const http_headers *trailers, bool request_done)
{
    check *c = ud;
    (void)trailers;
    (void)request_done;
    if (c->stage != 1)
        abort();
    if (c->cl >= 0 && !c->fin && c->body != (uint64_t)c->cl)
        abort();
    if (c->body > c->raw)
        abort();
    c->stage = 2;
    exchange_free(c->x, NULL);
    c->x = NULL;
}

static void c_fail(void *ud, exchange_fail why, const char *message, bool started)
{
    check *c = ud;
    if (c->stage == 2 || !message || started != (c->stage == 1) || why < XFAIL_UNAVAILABLE ||
        why > XFAIL_INTERNAL)
        abort();
    c->stage = 2;
    exchange_free(c->x, exchange_fail_name(why));
    c->x = NULL;
}

static const exchange_sink sink = {c_room, c_interim, c_head, c_body, NULL, c_end, c_fail, NULL};

/* ---- the process-wide fixture: one loop, one listener, one pool ---- */

static struct event_base *base;
static conn_loop *loop;
static int lfd = -1;
static local_pool *pool;
static rewrite_host host;
static exchange_env env;
static exchange_observer obs; /* nothing observes */

static void setup(void)
{
    base = event_base_new();
    loop = base ? conn_loop_new(base) : NULL;
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (!loop || lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 8))
        abort();
    socklen_t al = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &al);
    char err[200];
    pool = local_pool_new(loop, "127.0.0.1", ntohs(a.sin_port), NULL, 0, 5000, err, sizeof err);
    if (!pool)
        abort();
    rewrite_host_init(&host, HOST_HEADER_PRESERVE, NULL, "127.0.0.1", ntohs(a.sin_port));
    env = (exchange_env){.base = base,
                         .pool = pool,
                         .obs = &obs,
                         .log = NULL,
                         .host = &host,
                         .request_timeout_ms = 60000,
                         .max_response_head = 4096};
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    if (!base)
        setup();
    uint8_t flags = data[0];
    size_t piece = (size_t)data[1] + 1;
    data += 2;
    size -= 2;

    check c = {.head_req = flags & 1, .raw = size, .cl = -1};
    static const size_t steps[4] = {0, 1, 7, 0};
    c.room_step = steps[(flags >> 3) & 3];
    c.room_zero = ((flags >> 3) & 3) == 3;
    http_headers h;
    http_headers_init(&h);
    http_headers_add(&h, "Host", 4, "fuzz.localhost", 14);
    if (flags & 4) {
        http_headers_add(&h, "Connection", 10, "Upgrade", 7);
        http_headers_add(&h, "Upgrade", 7, "websocket", 9);
    }
    exchange_request req = {.mode = "bin",
                            .id = "1",
                            .method = c.head_req ? "HEAD" : "GET",
                            .target = "/",
                            .headers = &h,
                            .content_length = -1,
                            .body = (flags & 4) != 0,
                            .interim = (flags & 2) != 0,
                            .upgrade = (flags & 2) != 0};
    c.x = exchange_new(&env, &req, &sink, &c);
    http_headers_free(&h);
    if (!c.x)
        return 0;
    int fd = -1;
    for (int i = 0; i < 1000 && fd < 0; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        fd = accept(lfd, NULL, NULL);
    }
    if (fd < 0)
        abort();
    size_t off = 0;
    while (off < size && c.stage != 2) {
        size_t n = size - off < piece ? size - off : piece;
        ssize_t w = write(fd, data + off, n);
        if (w <= 0)
            break;
        off += (size_t)w;
        for (int i = 0; i < 3; i++)
            event_base_loop(base, EVLOOP_NONBLOCK);
        if (c.room_zero && c.stage == 1) {
            c.room_zero = false;
            exchange_resume(c.x);
        }
    }
    close(fd);
    for (int i = 0; i < 100000 && c.stage != 2; i++) {
        event_base_loop(base, EVLOOP_ONCE);
        if (c.room_zero) {
            c.room_zero = false;
            exchange_resume(c.x);
        } else if (c.x && c.room_step) {
            exchange_resume(c.x);
        }
    }
    if (c.stage != 2) /* every exchange ends once its local connection is closed */
        abort();
    return 0;
}
