/* SPDX-License-Identifier: MIT */
/* test_agent_exchange.c - the exchange module (agent/exchange.h) against a fake sink (the wire
 * adapter's side) and a fake local service (fake_local.h): request framing toward the local
 * service, the strict response path (decoded body, trailers, interim heads, upgrades), octets
 * passed unchanged, overruns never forwarded, the pool rules, room/backpressure, timers, big
 * heads, failures before and after the response started, and the observer's order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fake_local.h"

#include <event2/event.h>

#include "exchange.h"

/* ---- the fake sink ---- */

typedef struct sink_rec {
    char log[4096]; /* one line per upcall */
    char *body;     /* every body octet */
    size_t body_len;
    size_t room; /* what room() answers */
    int ended;   /* end or fail seen */
    int fail_why;
    bool started;
    bool request_done;
    exchange *x;
    bool free_in_end; /* exchange_free inside `end`/`fail`, as the adapters do */
    int64_t cl;
    bool fin;
} sink_rec;

static char g_body[1 << 20];

static void say(sink_rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(sink_rec *r, const char *fmt, ...)
{
    size_t n = strlen(r->log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->log + n, sizeof r->log - n, fmt, ap);
    va_end(ap);
}

static size_t s_room(void *ud)
{
    sink_rec *r = ud;
    return r->room;
}

static void s_interim(void *ud, int status, const char *reason, const http_headers *h)
{
    sink_rec *r = ud;
    const char *link = http_headers_get(h, "Link");
    say(r, "interim %d %s link=%s;", status, reason, link ? link : "-");
}

static void s_head(void *ud, const exchange_head *h)
{
    sink_rec *r = ud;
    r->cl = h->content_length;
    r->fin = h->fin;
    say(r, "head %d cl=%lld fin=%d up=%d te=%d;", h->status, (long long)h->content_length, h->fin,
        h->upgraded, http_headers_get(h->headers, "Transfer-Encoding") != NULL);
    const char *loc = http_headers_get(h->headers, "Location");
    if (loc)
        say(r, "loc=%s;", loc);
}

static void s_body(void *ud, const uint8_t *data, size_t len)
{
    sink_rec *r = ud;
    assert_true(len <= r->room);
    assert_true(r->body_len + len < sizeof g_body);
    r->body = g_body; /* one exchange records at a time */
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
}

static void s_end(void *ud, const http_headers *trailers, bool request_done)
{
    sink_rec *r = ud;
    r->ended = 1;
    r->request_done = request_done;
    say(r, "end tr=%zu req=%d;", trailers ? trailers->n : 0, request_done);
    if (trailers && trailers->n)
        say(r, "trailer %s=%s;", trailers->v[0].name, trailers->v[0].value);
    if (r->free_in_end) {
        exchange_free(r->x, NULL);
        r->x = NULL;
    }
}

static void s_fail(void *ud, exchange_fail why, const char *message, bool started)
{
    sink_rec *r = ud;
    r->ended = 2;
    r->fail_why = (int)why;
    r->started = started;
    say(r, "fail %s started=%d msg=%s;", exchange_fail_name(why), started, message);
    if (r->free_in_end) {
        exchange_free(r->x, exchange_fail_name(why));
        r->x = NULL;
    }
}

static const exchange_sink sink = {s_room, s_interim, s_head, s_body, NULL, s_end, s_fail, NULL};

/* ---- the recording observer ---- */

typedef struct obs_rec {
    char log[2048];
} obs_rec;

static void *o_head(void *ud, const obs_request *rq)
{
    obs_rec *o = ud;
    snprintf(o->log + strlen(o->log), sizeof o->log - strlen(o->log), "req %s %s;", rq->method,
             rq->target);
    return NULL;
}
static void o_reqb(void *ud, void *x, const uint8_t *d, size_t n)
{
    (void)x;
    (void)d;
    obs_rec *o = ud;
    snprintf(o->log + strlen(o->log), sizeof o->log - strlen(o->log), "reqbody %zu;", n);
}
static void o_resp(void *ud, void *x, const obs_response *rs)
{
    (void)x;
    obs_rec *o = ud;
    snprintf(o->log + strlen(o->log), sizeof o->log - strlen(o->log), "resp %d%s;", rs->status,
             rs->interim ? " interim" : "");
}
static void o_respb(void *ud, void *x, const uint8_t *d, size_t n)
{
    (void)x;
    (void)d;
    obs_rec *o = ud;
    snprintf(o->log + strlen(o->log), sizeof o->log - strlen(o->log), "respbody %zu;", n);
}
static void o_end(void *ud, void *x, const exchange_info *info)
{
    (void)x;
    obs_rec *o = ud;
    snprintf(o->log + strlen(o->log), sizeof o->log - strlen(o->log), "end %d %s;", info->status,
             info->error ? info->error : "ok");
}
static const exchange_observer_ops oops = {o_head, o_reqb, o_resp, o_respb, o_end};

/* ---- the test fixture ---- */

typedef struct fx {
    struct event_base *base;
    conn_loop *loop;
    fake_local fl;
    local_pool *pool;
    rewrite_host host;
    exchange_env env;
    obs_rec orec;
    exchange_observer obs;
    tlog log;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->base = event_base_new();
    f->loop = conn_loop_new(f->base);
    fl_init(&f->fl, f->base);
    char err[256];
    f->pool = local_pool_new(f->loop, "127.0.0.1", f->fl.port, NULL, 8, 3000, err, sizeof err);
    assert_non_null(f->pool);
    rewrite_host_init(&f->host, HOST_HEADER_PRESERVE, NULL, "127.0.0.1", f->fl.port);
    f->obs = (exchange_observer){&oops, &f->orec};
    f->log = (tlog){.level = TLOG_ERROR, .out = stderr, .prog = "test"};
    f->env = (exchange_env){
        .base = f->base,
        .pool = f->pool,
        .obs = &f->obs,
        .log = &f->log,
        .host = &f->host,
        .request_timeout_ms = 5000,
        .max_response_head = 65536,
    };
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    local_pool_free(f->pool);
    fl_free(&f->fl);
    conn_loop_free(f->loop);
    event_base_free(f->base);
    free(f);
    return 0;
}

/* A recorder with room for 1 MiB that frees the exchange when it ends, as the adapters do. */
static sink_rec rec_new(void)
{
    return (sink_rec){.room = 1 << 20, .free_in_end = true};
}

static bool ended_cond(void *ud)
{
    return ((sink_rec *)ud)->ended != 0;
}

static void wait_end(fx *f, sink_rec *r)
{
    if (!fl_until(&f->fl, ended_cond, r, 5000))
        fail_msg("the exchange did not end: %s", r->log);
}

/* Starts an exchange with the given head fields ("Name: value" strings, NULL-terminated). */
static exchange *start(fx *f, sink_rec *r, const char *method, const char *target, int64_t cl,
                       bool body, bool interim, const char **fields)
{
    http_headers h;
    http_headers_init(&h);
    for (size_t i = 0; fields && fields[i]; i++) {
        const char *c = strchr(fields[i], ':');
        assert_non_null(c);
        assert_int_equal(
            http_headers_add(&h, fields[i], (size_t)(c - fields[i]), c + 2, strlen(c + 2)), 0);
    }
    exchange_request req = {
        .mode = "bin",
        .id = "7",
        .method = method,
        .target = target,
        .headers = &h,
        .content_length = cl,
        .body = body,
        .interim = interim,
        .upgrade = interim,
    };
    r->x = exchange_new(&f->env, &req, &sink, r);
    assert_non_null(r->x);
    assert_int_equal(h.n, 0); /* taken */
    http_headers_free(&h);
    return r->x;
}

static const char *pub_host[] = {"Host: abc.localhost:8080", "X-Forwarded-Proto: http",
                                 "X-Forwarded-Host: abc.localhost:8080", NULL};

/* ---- request framing ---- */

static void test_request_content_length(void **state)
{
    fx *f = *state;
    sink_rec r = rec_new();
    const char *fields[] = {"Host: abc.localhost:8080", "Content-Length: 5", NULL};
    start(f, &r, "POST", "/up", 5, true, false, fields);
    exchange_body(r.x, (const uint8_t *)"hel", 3);
    exchange_body(r.x, (const uint8_t *)"lo", 2);
    exchange_end_body(r.x, NULL);
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\nhello", 3000));
    char *head = fl_head(&f->fl, 0);
    assert_non_null(strstr(head, "POST /up HTTP/1.1\r\n"));
    assert_non_null(strstr(head, "Content-Length: 5\r\n"));
    assert_null(strstr(head, "Transfer-Encoding"));
    assert_non_null(strstr(head, "Host: abc.localhost:8080\r\n")); /* preserved */
    free(head);
    fl_send_str(&f->fl, 0, "HTTP/1.1 204 No Content\r\n\r\n");
    wait_end(f, &r);
    assert_string_equal(r.log, "head 204 cl=-1 fin=1 up=0 te=0;end tr=0 req=1;");
    assert_string_equal(f->orec.log, "req POST /up;reqbody 3;reqbody 2;resp 204;end 204 ok;");
}

/* "2, 2" (API Gateway joins repeated fields so) goes on as one value (RFC 9110 §8.6). */
static void test_request_content_length_list(void **state)
{
    fx *f = *state;
    sink_rec r = rec_new();
    start(f, &r, "POST", "/up", 2, true, false, (const char *[]){"Content-Length: 2, 2", NULL});
    exchange_body(r.x, (const uint8_t *)"hi", 2);
    exchange_end_body(r.x, NULL);
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\nhi", 3000));
    char *head = fl_head(&f->fl, 0);
    assert_true(strstr(head, "\r\nContent-Length: 2\r\n") && !strstr(head, "2, 2"));
    free(head);
    fl_send_str(&f->fl, 0, "HTTP/1.1 204 No Content\r\n\r\n");
    wait_end(f, &r);
}

/* More body octets than the Content-Length: refused, none of them written. */
static void test_request_overlong(void **state)
{
    fx *f = *state;
    sink_rec r = rec_new();
    const char *fields[] = {"Host: h", "Content-Length: 4", NULL};
    start(f, &r, "PUT", "/x", 4, true, false, fields);
    exchange_body(r.x, (const uint8_t *)"abc", 3);
    exchange_body(r.x, (const uint8_t *)"de", 2); /* 5 > 4 */
    assert_int_equal(r.ended, 2);
    assert_int_equal(r.fail_why, XFAIL_BAD_REQUEST);
    assert_false(r.started);
    for (int i = 0; i < 50; i++)
        fl_pass(&f->fl);
    /* the local service got at most the head and the 3 octets (the connection may not even
     * have been made before the refusal) */
    for (int i = 0; i < f->fl.nconns; i++)
        assert_null(memmem(f->fl.got[i], f->fl.got_len[i], "abcd", 4));

    /* fewer: refused at the end */
    r = rec_new();
    start(f, &r, "PUT", "/x", 4, true, false, fields);
    exchange_body(r.x, (const uint8_t *)"ab", 2);
    exchange_end_body(r.x, NULL);
    assert_int_equal(r.ended, 2);
    assert_int_equal(r.fail_why, XFAIL_BAD_REQUEST);
}

static void test_request_chunked(void **state)
{
    fx *f = *state;
    sink_rec r = rec_new();
    const char *fields[] = {"Host: h", "Transfer-Encoding: chunked", "Connection: close",
                            "TE: trailers", NULL};
    start(f, &r, "POST", "/c", -1, true, false, fields);
    exchange_body(r.x, (const uint8_t *)"ab", 2);
    exchange_body(r.x, (const uint8_t *)"cdefghijklmnopqrs", 17);
    http_headers tr;
    http_headers_init(&tr);
    http_headers_add(&tr, "X-Sum", 5, "9", 1);
    exchange_end_body(r.x, &tr);
    http_headers_free(&tr);
    assert_true(fl_wait_text(&f->fl, 0, "0\r\nX-Sum: 9\r\n\r\n", 3000));
    char *head = fl_head(&f->fl, 0);
    assert_non_null(strstr(head, "Transfer-Encoding: chunked\r\n"));
    assert_null(strstr(head, "Content-Length"));
    assert_null(strstr(head, "Connection")); /* hop-by-hop: ours to decide */
    assert_null(strstr(head, "TE:"));
    const char *b = f->fl.got[0] + strlen(head);
    assert_memory_equal(b, "2\r\nab\r\n11\r\ncdefghijklmnopqrs\r\n0\r\nX-Sum: 9\r\n\r\n", 43);
    free(head);
    fl_send_str(&f->fl, 0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    wait_end(f, &r);
    assert_string_equal(r.body, "ok");
}

/* A POST without a body gets Content-Length: 0; a GET gets neither framing field. */
static void test_request_no_body(void **state)
{
    fx *f = *state;
    sink_rec r = rec_new();
    start(f, &r, "POST", "/p", -1, false, false, pub_host);
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    char *head = fl_head(&f->fl, 0);
    assert_non_null(strstr(head, "Content-Length: 0\r\n"));
    free(head);
    fl_send_str(&f->fl, 0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    wait_end(f, &r);
    assert_string_equal(r.log, "head 200 cl=0 fin=1 up=0 te=0;end tr=0 req=1;");
    /* the connection was pooled: the GET goes on it */
    r = rec_new();
    start(f, &r, "GET", "/g", -1, false, false, pub_host);
    assert_true(fl_wait_text(&f->fl, 0, "GET /g HTTP/1.1\r\n", 3000));
    assert_int_equal(f->fl.nconns, 1);
    head = fl_head(&f->fl, 0);
    fl_send_str(&f->fl, 0, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
    wait_end(f, &r);
    free(head);
}

/* ---- the response ---- */

/* A chunked response: the body decoded, no Transfer-Encoding, trailers at the end, pooled. */
static void test_response_chunked(void **state)
{
    fx *f = *state;
    sink_rec r = rec_new();
    start(f, &r, "GET", "/c", -1, false, false, pub_host);
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    fl_send_str(&f->fl, 0,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n"
                "Keep-Alive: timeout=5\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n"
                "X-Trailer: v\r\n\r\n");
    wait_end(f, &r);
    assert_string_equal(r.body, "hello world");
    assert_string_equal(r.log, "head 200 cl=-1 fin=0 up=0 te=0;end tr=1 req=1;trailer "
                               "X-Trailer=v;");
    /* pooled: the next request goes on the same connection */
    r = rec_new();
    start(f, &r, "GET", "/2", -1, false, false, pub_host);
    assert_true(fl_wait_text(&f->fl, 0, "GET /2 ", 3000));
    assert_int_equal(f->fl.nconns, 1);
    fl_send_str(&f->fl, 0, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2");
    wait_end(f, &r);
}

/* Octets after the end of a response are never forwarded, and that connection is closed. */
static void test_response_overrun(void **state)
{
    fx *f = *state;
    sink_rec r = rec_new();
    start(f, &r, "GET", "/o", -1, false, false, pub_host);
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    fl_send_str(&f->fl, 0,
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n"
                "Content-Length: 6\r\n\r\nforged");
    wait_end(f, &r);
    assert_int_equal(r.body_len, 5);
    assert_string_equal(r.body, "hello");
    assert_true(fl_wait_eof(&f->fl, 0, 3000)); /* not pooled: closed */
    /* the next request needs a new connection */
    r = rec_new();
    start(f, &r, "GET", "/n", -1, false, false, pub_host);
    assert_true(fl_wait_text(&f->fl, 1, "GET /n ", 3000));
    fl_send_str(&f->fl, 1, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nn");
    wait_end(f, &r);
    assert_string_equal(r.body, "n");

    /* the same after a bodiless response (204, then octets) */
    r = rec_new();
    start(f, &r, "GET", "/b", -1, false, false, pub_host);
    assert_true(fl_wait_text(&f->fl, 1, "GET /b ", 3000));
    fl_send_str(&f->fl, 1, "HTTP/1.1 204 No Content\r\n\r\nXYZ");
    wait_end(f, &r);
    assert_int_equal(r.body_len, 0);
    assert_true(fl_wait_eof(&f->fl, 1, 3000));
}

/* Interim heads: relayed (binary mode) with their fields, or only observed (JSON mode). */
static void test_interim(void **state)
{
    fx *f = *state;
    for (int relay = 1; relay >= 0; relay--) {
        sink_rec r = rec_new();
        memset(&f->orec, 0, sizeof f->orec);
        start(f, &r, "GET", "/eh", -1, false, relay, pub_host);
        assert_true(fl_wait_text(&f->fl, 0, "GET /eh ", 3000));
        fl_send_str(&f->fl, 0,
                    "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n");
        fl_pass(&f->fl);
        fl_pass(&f->fl);
        fl_send_str(&f->fl, 0,
                    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
                    "Content-Length: 2\r\n\r\nok");
        wait_end(f, &r);
        assert_string_equal(r.body, "ok");
        if (relay)
            assert_string_equal(r.log, "interim 103 Early Hints link=</style.css>; rel=preload;"
                                       "interim 100 Continue link=-;head 200 cl=2 fin=0 up=0 "
                                       "te=0;end tr=0 req=1;");
        else
            assert_string_equal(r.log, "head 200 cl=2 fin=0 up=0 te=0;end tr=0 req=1;");
        assert_string_equal(f->orec.log, "req GET /eh;resp 103 interim;resp 100 interim;resp "
                                         "200;respbody 2;end 200 ok;");
        /* the connection was read to its end: pooled */
        assert_int_equal(f->fl.nconns, 1);
    }
}

/* Response heads: 20 Set-Cookie of 1 KB pass; past --max-response-header-size: the limit is
 * named. */
static void test_big_response_head(void **state)
{
    fx *f = *state;
    sink_rec r = rec_new();
    start(f, &r, "GET", "/cookies", -1, false, false, pub_host);
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    char *resp = malloc(40000);
    size_t n = (size_t)sprintf(resp, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 20; i++) {
        n += (size_t)sprintf(resp + n, "Set-Cookie: c%02d=", i);
        memset(resp + n, 'a' + i, 1000);
        n += 1000;
        n += (size_t)sprintf(resp + n, "\r\n");
    }
    n += (size_t)sprintf(resp + n, "Content-Length: 2\r\n\r\nok");
    fl_send(&f->fl, 0, resp, n);
    wait_end(f, &r);
    assert_string_equal(r.log, "head 200 cl=2 fin=0 up=0 te=0;end tr=0 req=1;");

    /* 300 fields fit 64 KiB: no limit of the field count below the size limit */
    r = rec_new();
    start(f, &r, "GET", "/many", -1, false, false, pub_host);
    assert_true(fl_wait_text(&f->fl, 0, "GET /many", 3000));
    char *many = malloc(20000);
    size_t mn = (size_t)sprintf(many, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 300; i++)
        mn += (size_t)sprintf(many + mn, "X-F%d: %d\r\n", i, i);
    mn += (size_t)sprintf(many + mn, "Content-Length: 0\r\n\r\n");
    fl_send(&f->fl, 0, many, mn);
    free(many);
    wait_end(f, &r);
    assert_string_equal(r.log, "head 200 cl=0 fin=1 up=0 te=0;end tr=0 req=1;");

    f->env.max_response_head = 8192;
    r = rec_new();
    start(f, &r, "GET", "/cookies", -1, false, false, pub_host);
    assert_true(fl_wait_text(&f->fl, 0, "GET /cookies HTTP/1.1\r\nHost", 3000));
    fl_send(&f->fl, 0, resp, n);
    wait_end(f, &r);
    assert_int_equal(r.fail_why, XFAIL_UNAVAILABLE);
    assert_non_null(strstr(r.log, "response head from the local service exceeds ttf's "
                                  "--max-response-header-size (8192 bytes)"));
    free(resp);

    /* 513 short fields fit 8 KiB but not its 512 field lines: the field limit is named */
    r = rec_new();
    start(f, &r, "GET", "/many", -1, false, false, pub_host);
    assert_true(fl_wait_text(&f->fl, 1, "GET /many HTTP/1.1\r\nHost", 3000));
    many = malloc(8192);
    mn = (size_t)sprintf(many, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n");
    for (int i = 0; i < 512; i++)
        mn += (size_t)sprintf(many + mn, "F: %d\r\n", i % 10);
    mn += (size_t)sprintf(many + mn, "\r\n");
    assert_true(mn <= 8192);
    fl_send(&f->fl, 1, many, mn);
    free(many);
    wait_end(f, &r);
    assert_int_equal(r.fail_why, XFAIL_UNAVAILABLE);
    assert_non_null(strstr(r.log, "response head from the local service has more than 512 "
                                  "header fields (ttf's limit)"));
}

static void test_bad_responses(void **state)
{
    fx *f = *state;
    static const struct {
        const char *resp;
        int why;
        bool started;
    } cases[] = {
        {"HTTP/1.1 2000 OK\r\n\r\n", XFAIL_BAD_RESPONSE, false},
        {"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", XFAIL_BAD_RESPONSE, false},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", XFAIL_BAD_RESPONSE,
         false},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", XFAIL_BAD_RESPONSE, true},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\nX\n", XFAIL_BAD_RESPONSE, true},
        {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n",
         XFAIL_BAD_RESPONSE, false}, /* no upgrade was asked for */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sink_rec r = rec_new();
        int before = f->fl.nconns;
        start(f, &r, "GET", "/bad", -1, false, true, pub_host);
        /* a fresh connection each time: a failure never pools */
        assert_true(fl_wait_text(&f->fl, before, "GET /bad ", 3000));
        fl_send_str(&f->fl, before, cases[i].resp);
        wait_end(f, &r);
        if (r.fail_why != cases[i].why || r.started != cases[i].started)
            fail_msg("case %zu: %s", i, r.log);
        assert_true(fl_wait_eof(&f->fl, before, 3000));
    }
}

/* The local service closes: mid-body is a failure after the start; a close-delimited body
 * ends; before any answer: unavailable. */
static void test_local_close(void **state)
{
    fx *f = *state;
    sink_rec r = rec_new();
    start(f, &r, "GET", "/cut", -1, false, false, pub_host);
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    fl_send_str(&f->fl, 0, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello");
    fl_pass(&f->fl);
    fl_close(&f->fl, 0);
    wait_end(f, &r);
    assert_int_equal(r.fail_why, XFAIL_BAD_RESPONSE);
    assert_true(r.started);
    assert_string_equal(r.body, "hello");

    r = rec_new();
    start(f, &r, "GET", "/close", -1, false, false, pub_host);
    assert_true(fl_wait_text(&f->fl, 1, "\r\n\r\n", 3000));
    fl_send_str(&f->fl, 1, "HTTP/1.0 200 OK\r\n\r\nuntil the end");
    fl_pass(&f->fl);
    fl_close(&f->fl, 1);
    wait_end(f, &r);
    assert_string_equal(r.log, "head 200 cl=-1 fin=0 up=0 te=0;end tr=0 req=1;");
    assert_string_equal(r.body, "until the end");

    r = rec_new();
    start(f, &r, "GET", "/none", -1, false, false, pub_host);
    assert_true(fl_wait_text(&f->fl, 2, "\r\n\r\n", 3000));
    fl_close(&f->fl, 2);
    wait_end(f, &r);
    assert_int_equal(r.fail_why, XFAIL_UNAVAILABLE);
    assert_false(r.started);
}

/* No room: nothing is read past the head; room again: the body flows. */
static void test_room(void **state)
{
    fx *f = *state;
    sink_rec r = rec_new();
    r.room = 0;
    start(f, &r, "GET", "/big", -1, false, false, pub_host);
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    size_t total = 300 * 1024;
    char *body = malloc(total);
    for (size_t i = 0; i < total; i++)
        body[i] = (char)('a' + i % 26);
    char head[64];
    int hl = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", total);
    fl_send(&f->fl, 0, head, (size_t)hl);
    fl_send(&f->fl, 0, body, 64 * 1024);
    for (int i = 0; i < 50; i++)
        fl_pass(&f->fl);
    assert_int_equal(r.body_len, 0);
    assert_non_null(strstr(r.log, "head 200"));
    r.room = 10000; /* bounded steps */
    exchange_resume(r.x);
    fl_send(&f->fl, 0, body + 64 * 1024, total - 64 * 1024);
    while (!r.ended) {
        exchange_resume(r.x);
        fl_pass(&f->fl);
    }
    assert_int_equal(r.body_len, total);
    assert_memory_equal(r.body, body, total);
    free(body);
}

/* The request timer: no head in time -> timeout; a cancel (exchange_free) closes the local
 * connection and does not pool it. */
static void test_timeout_and_cancel(void **state)
{
    fx *f = *state;
    f->env.request_timeout_ms = 200;
    sink_rec r = rec_new();
    start(f, &r, "GET", "/slow", -1, false, false, pub_host);
    wait_end(f, &r);
    assert_int_equal(r.fail_why, XFAIL_TIMEOUT);
    assert_true(fl_wait_eof(&f->fl, 0, 3000));

    f->env.request_timeout_ms = 5000;
    r = rec_new();
    memset(&f->orec, 0, sizeof f->orec);
    start(f, &r, "GET", "/sse", -1, false, false, pub_host);
    assert_true(fl_wait_text(&f->fl, 1, "\r\n\r\n", 3000));
    fl_send_str(&f->fl, 1,
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                "Transfer-Encoding: chunked\r\n\r\n6\r\ndata\n\n\r\n");
    while (r.body_len < 6)
        fl_pass(&f->fl);
    exchange_free(r.x, "cancelled");
    assert_true(fl_wait_eof(&f->fl, 1, 3000)); /* the app sees the client leave */
    assert_string_equal(f->orec.log, "req GET /sse;resp 200;respbody 6;end 200 cancelled;");
}

/* Octets that are not UTF-8 pass unchanged both ways. */
static void test_octets(void **state)
{
    fx *f = *state;
    sink_rec r = rec_new();
    const char *fields[] = {"Host: h", "X-Name: J\xf6rg", NULL};
    start(f, &r, "GET", "/caf\xe9.txt", -1, false, false, fields);
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    char *head = fl_head(&f->fl, 0);
    assert_non_null(strstr(head, "GET /caf\xe9.txt HTTP/1.1\r\n"));
    assert_non_null(strstr(head, "X-Name: J\xf6rg\r\n"));
    free(head);
    fl_send_str(&f->fl, 0,
                "HTTP/1.1 200 OK\r\nContent-Disposition: attachment; "
                "filename=\"caf\xe9.txt\"\r\nContent-Length: 0\r\n\r\n");
    wait_end(f, &r);
}

/* 101: a raw pipe both ways; the local side's end ends the response. */
static void test_upgrade(void **state)
{
    fx *f = *state;
    sink_rec r = rec_new();
    r.free_in_end = false;
    const char *fields[] = {"Host: h", "Connection: Upgrade", "Upgrade: websocket",
                            "Sec-WebSocket-Key: x", NULL};
    start(f, &r, "GET", "/ws", -1, true, true, fields);
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    char *head = fl_head(&f->fl, 0);
    assert_non_null(strstr(head, "Connection: Upgrade\r\n"));
    assert_non_null(strstr(head, "Upgrade: websocket\r\n"));
    assert_null(strstr(head, "Transfer-Encoding"));
    free(head);
    fl_send_str(&f->fl, 0,
                "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                "Upgrade: websocket\r\n\r\n\x81\x02hi");
    while (r.body_len < 4)
        fl_pass(&f->fl);
    assert_string_equal(r.log, "head 101 cl=-1 fin=0 up=1 te=0;");
    assert_memory_equal(r.body, "\x81\x02hi", 4);
    exchange_body(r.x, (const uint8_t *)"\x81\x82\x00\x00\x00\x00yo", 8);
    assert_true(fl_wait_text(&f->fl, 0, "yo", 3000));
    fl_close(&f->fl, 0);
    wait_end(f, &r);
    assert_false(r.request_done);
    exchange_end_body(r.x, NULL);
    exchange_free(r.x, NULL);
}

/* An early answer (403 after 5 bytes of a longer body): the response ends with request_done
 * false; the connection is not pooled. */
static void test_early_response(void **state)
{
    fx *f = *state;
    sink_rec r = rec_new();
    const char *fields[] = {"Host: h", "Content-Length: 1000", NULL};
    start(f, &r, "POST", "/upload", 1000, true, false, fields);
    exchange_body(r.x, (const uint8_t *)"12345", 5);
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n12345", 3000));
    fl_send_str(&f->fl, 0, "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno");
    wait_end(f, &r);
    assert_string_equal(r.log, "head 403 cl=2 fin=0 up=0 te=0;end tr=0 req=0;");
    assert_true(fl_wait_eof(&f->fl, 0, 3000));
}

/* HEAD: a Content-Length without a body; pooled. */
static void test_head_request(void **state)
{
    fx *f = *state;
    sink_rec r = rec_new();
    start(f, &r, "HEAD", "/h", -1, false, false, pub_host);
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    fl_send_str(&f->fl, 0, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
    wait_end(f, &r);
    assert_string_equal(r.log, "head 200 cl=100 fin=1 up=0 te=0;end tr=0 req=1;");
    r = rec_new();
    start(f, &r, "GET", "/after", -1, false, false, pub_host);
    assert_true(fl_wait_text(&f->fl, 0, "GET /after", 3000));
    assert_int_equal(f->fl.nconns, 1);
    fl_send_str(&f->fl, 0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    wait_end(f, &r);
}

/* Nothing listens: unavailable, reported from the loop (never inside exchange_new). */
static void test_unavailable(void **state)
{
    fx *f = *state;
    local_pool_free(f->pool);
    close(f->fl.lfd);
    f->fl.lfd = socket(AF_INET, SOCK_STREAM, 0); /* keeps fl_free happy */
    char err[256];
    f->pool = local_pool_new(f->loop, "127.0.0.1", f->fl.port, NULL, 8, 3000, err, sizeof err);
    f->env.pool = f->pool;
    sink_rec r = rec_new();
    start(f, &r, "GET", "/", -1, false, false, pub_host);
    assert_int_equal(r.ended, 0);
    wait_end(f, &r);
    assert_int_equal(r.fail_why, XFAIL_UNAVAILABLE);
    assert_non_null(strstr(r.log, "refused"));
}

/* --host-header rewrite: Host is the local address, and a redirect to it comes back public. */
static void test_host_rewrite(void **state)
{
    fx *f = *state;
    rewrite_host_init(&f->host, HOST_HEADER_REWRITE, NULL, "127.0.0.1", f->fl.port);
    sink_rec r = rec_new();
    start(f, &r, "GET", "/docs", -1, false, false, pub_host);
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    char *head = fl_head(&f->fl, 0);
    char want[64];
    snprintf(want, sizeof want, "Host: 127.0.0.1:%d\r\n", f->fl.port);
    assert_non_null(strstr(head, want));
    free(head);
    char resp[200];
    snprintf(resp, sizeof resp,
             "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:%d/docs/\r\n"
             "Content-Length: 0\r\n\r\n",
             f->fl.port);
    fl_send_str(&f->fl, 0, resp);
    wait_end(f, &r);
    assert_string_equal(r.log, "head 307 cl=0 fin=1 up=0 te=0;loc=http://abc.localhost:8080/docs/;"
                               "end tr=0 req=1;");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_request_content_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_content_length_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_overlong, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_no_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response_overrun, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_response_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_responses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_and_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_octets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_early_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unavailable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_rewrite, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
