/* SPDX-License-Identifier: MIT */
/* test_agent_wire.c - the two wire adapters (agent/wire_bin.c, agent/wire_json.c) through a real
 * session over a socketpair: the other end is a fake server (a server-side ws_conn recording
 * every frame and message), the local service is fake_local.h. Checks the frames and messages
 * each exchange event becomes: RESPONSE/DATA/TRAILERS/RESET and WINDOW credit in binary mode,
 * http_response (+ continuation) / pieces / error / cancel in JSON mode, interim heads, early
 * answers, overruns, cancels both ways, head continuation, octets, backpressure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fake_local.h"

#include <event2/buffer.h>

#include "proto_bin.h"
#include "session.h"

#define MAX_MSGS 256

/* ---- the fake server: a server-side WebSocket recording what the agent sends ---- */

typedef struct msg {
    bool text;
    uint8_t *data;
    size_t len;
} msg;

typedef struct server {
    ws_conn *ws;
    msg msgs[MAX_MSGS];
    size_t n;
    bool closed;
} server;

static void srv_text(void *ud, const uint8_t *data, size_t len)
{
    server *s = ud;
    assert_true(s->n < MAX_MSGS);
    s->msgs[s->n].text = true;
    s->msgs[s->n].data = malloc(len + 1);
    memcpy(s->msgs[s->n].data, data, len);
    s->msgs[s->n].data[len] = 0;
    s->msgs[s->n++].len = len;
}

static void srv_binary(void *ud, const uint8_t *data, size_t len)
{
    server *s = ud;
    assert_true(s->n < MAX_MSGS);
    s->msgs[s->n].text = false;
    s->msgs[s->n].data = malloc(len + 1);
    memcpy(s->msgs[s->n].data, data, len);
    s->msgs[s->n++].len = len;
}

static void srv_drain(void *ud)
{
    (void)ud;
}

static void srv_close(void *ud, uint16_t code, const char *reason)
{
    (void)code;
    (void)reason;
    ((server *)ud)->closed = true;
}

static const ws_handlers srv_handlers = {srv_text, srv_binary, srv_drain, srv_close};

/* ---- the session's owner ---- */

static void on_established(void *ud, const tmsg *m)
{
    (void)ud;
    (void)m;
}
static void on_closed(void *ud, uint16_t code, const char *reason)
{
    (void)ud;
    (void)code;
    (void)reason;
}
static void on_refused(void *ud, const char *code, const char *message)
{
    (void)ud;
    (void)code;
    (void)message;
}
static const session_cbs scbs = {on_established, on_closed, on_refused};

typedef struct fx {
    struct event_base *base;
    conn_loop *loop;
    fake_local fl, fl2; /* tunnel 0's local service, tunnel 1's (make_tunnels(.., 2)) */
    local_pool *pools[2];
    agent_tunnel tun[2];
    agent_config cfg;
    tlog log;
    exchange_observer obs;
    session *s;
    server srv;
    size_t seen; /* messages consumed by next_msg */
} fx;

/* The ids ready asks for again, per tunnel (NULL: none). */
static const char *const *fx_held;

/* ntun 2: a config file's two tunnels, "web" (fl) and "api" (fl2). */
static fx *make_tunnels(bool binary, size_t ntun)
{
    fx *f = calloc(1, sizeof *f);
    f->base = event_base_new();
    f->loop = conn_loop_new(f->base);
    fl_init(&f->fl, f->base);
    fl_init(&f->fl2, f->base);
    char err[256];
    static char *names[2] = {"web", "api"};
    for (size_t i = 0; i < 2; i++) {
        int port = i ? f->fl2.port : f->fl.port;
        f->pools[i] = local_pool_new(f->loop, "127.0.0.1", port, 8, 3000, err, sizeof err);
        f->tun[i] = (agent_tunnel){.name = ntun > 1 ? names[i] : NULL,
                                   .local_host = (char *)"127.0.0.1",
                                   .local_port = port};
    }
    f->cfg.tunnels = f->tun;
    f->cfg.ntunnels = ntun;
    f->cfg.config_file = ntun > 1 ? (char *)"test.yml" : NULL;
    f->cfg.local_host = (char *)"127.0.0.1";
    f->cfg.local_port = f->fl.port;
    f->cfg.request_timeout = 5;
    f->cfg.max_response_head = 65536;
    f->log = (tlog){.level = TLOG_ERROR, .out = stderr, .prog = "test"};
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    conn *ca = conn_new(f->loop, sv[0], NULL, NULL, NULL);
    conn *cb = conn_new(f->loop, sv[1], NULL, NULL, NULL);
    f->srv.ws = ws_conn_new(cb, true, &srv_handlers, &f->srv, 64u << 20);
    session_ready ready = {.tunnel_id = fx_held ? fx_held[0] : NULL, .tunnel_ids = fx_held};
    f->s = session_new(f->base, ca, binary, &f->cfg, &f->log, f->pools, &f->obs, &ready, &scbs, f);
    assert_non_null(f->s);
    return f;
}

static fx *make(bool binary)
{
    return make_tunnels(binary, 1);
}

static void destroy(fx *f)
{
    session_free(f->s);
    ws_conn_free(f->srv.ws);
    for (size_t i = 0; i < f->srv.n; i++)
        free(f->srv.msgs[i].data);
    local_pool_free(f->pools[0]);
    local_pool_free(f->pools[1]);
    fl_free(&f->fl);
    fl_free(&f->fl2);
    conn_loop_free(f->loop);
    event_base_free(f->base);
    free(f);
}

static bool has_msg(void *ud)
{
    fx *f = ud;
    return f->srv.n > f->seen;
}

/* The next message the agent sent (waits up to 5 s). */
static msg *next_msg(fx *f)
{
    if (!fl_until(&f->fl, has_msg, f, 5000))
        fail_msg("no message from the agent");
    return &f->srv.msgs[f->seen++];
}

/* The next binary frame, decoded. */
static ttf_frame next_frame(fx *f)
{
    msg *m;
    do
        m = next_msg(f);
    while (m->text); /* ready, pings */
    ttf_frame fr;
    assert_int_equal(ttf_frame_decode(m->data, m->len, &fr), 0);
    return fr;
}

/* The next JSON message, decoded (the caller frees it). */
static void next_json(fx *f, tmsg *out)
{
    for (;;) {
        msg *m = next_msg(f);
        if (!m->text)
            continue;
        const char *err = NULL;
        assert_int_equal(tmsg_decode((const char *)m->data, m->len, out, &err), 0);
        if (out->type == TMSG_READY || out->type == TMSG_PING) {
            tmsg_free(out);
            continue;
        }
        return;
    }
}

static void send_open(fx *f, uint32_t sid, uint8_t tunnel, bool fin, const char *head)
{
    uint8_t hdr[TTF_BIN_OPEN_HDR];
    ttf_frame_open_header(hdr, fin ? TTF_FLAG_FIN : 0, sid, tunnel);
    ws_send_binary2(f->srv.ws, hdr, sizeof hdr, head, strlen(head));
}

static void send_frame(fx *f, uint8_t type, uint8_t flags, uint32_t sid, const void *p, size_t n)
{
    uint8_t hdr[TTF_BIN_HDR];
    ttf_frame_header(hdr, type, flags, sid);
    ws_send_binary2(f->srv.ws, hdr, sizeof hdr, p, n);
}

static void send_json(fx *f, const tmsg *m)
{
    size_t len = 0;
    char *s = tmsg_encode(m, &len);
    ws_send_text(f->srv.ws, s, len);
    free(s);
}

/* ================================================================ binary mode */

static void test_bin_response_frames(void **state)
{
    (void)state;
    fx *f = make(true);
    send_open(f, 1, 0, true, "GET /x HTTP/1.1\r\nHost: pub.example\r\n\r\n");
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    assert_non_null(strstr(f->fl.got[0], "Host: pub.example\r\n"));
    fl_send_str(&f->fl, 0,
                "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\n"
                "Transfer-Encoding: chunked\r\nX-App: 1\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n");
    ttf_frame fr = next_frame(f);
    assert_int_equal(fr.type, TTF_RESPONSE);
    assert_int_equal(fr.flags, 0); /* interim: no FIN */
    assert_memory_equal(fr.payload, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n", fr.len);
    fr = next_frame(f);
    assert_int_equal(fr.type, TTF_RESPONSE);
    assert_int_equal(fr.flags, 0);
    assert_memory_equal(fr.payload, "HTTP/1.1 200 OK\r\nX-App: 1\r\n\r\n", fr.len);
    fr = next_frame(f);
    assert_int_equal(fr.type, TTF_DATA);
    assert_int_equal(fr.len, 5);
    assert_memory_equal(fr.payload, "hello", 5);
    fr = next_frame(f);
    assert_int_equal(fr.type, TTF_TRAILERS);
    assert_int_equal(fr.flags, TTF_FLAG_FIN);
    assert_memory_equal(fr.payload, "X-T: 1\r\n\r\n", fr.len);
    assert_int_equal(hmap_count(f->s->streams), 0); /* both directions ended */
    destroy(f);
}

/* Request body framed by us: Content-Length kept, else chunked (one chunk per DATA), TRAILERS as
 * the trailer section; WINDOW credit once the local service took the octets. */
static void test_bin_request_framing_and_credit(void **state)
{
    (void)state;
    fx *f = make(true);
    send_open(f, 3, 0, false, "POST /u HTTP/1.1\r\nHost: h\r\n\r\n");
    static uint8_t big[40000];
    memset(big, 'z', sizeof big);
    send_frame(f, TTF_DATA, 0, 3, big, sizeof big);
    send_frame(f, TTF_DATA, 0, 3, "abc", 3);
    send_frame(f, TTF_TRAILERS, TTF_FLAG_FIN, 3, "X-Sum: 1\r\n\r\n", 12);
    assert_true(fl_wait_text(&f->fl, 0, "3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n", 3000));
    assert_non_null(strstr(f->fl.got[0], "Transfer-Encoding: chunked\r\n"));
    assert_non_null(strstr(f->fl.got[0], "\r\n\r\n9c40\r\nzzz"));
    /* credit for what the local service took (batched: at least 16 KiB) */
    ttf_frame fr = next_frame(f);
    assert_int_equal(fr.type, TTF_WINDOW);
    assert_int_equal(fr.window, 40000);
    fl_send_str(&f->fl, 0, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    fr = next_frame(f);
    assert_int_equal(fr.type, TTF_RESPONSE);
    assert_int_equal(fr.flags, TTF_FLAG_FIN); /* no body */
    destroy(f);
}

/* An early 403: RESPONSE, DATA FIN, then RESET cancel for the request body nobody wants. */
static void test_bin_early_answer(void **state)
{
    (void)state;
    fx *f = make(true);
    send_open(f, 5, 0, false, "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n");
    send_frame(f, TTF_DATA, 0, 5, "12345", 5);
    assert_true(fl_wait_text(&f->fl, 0, "12345", 3000));
    fl_send_str(&f->fl, 0, "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno");
    ttf_frame fr = next_frame(f);
    assert_int_equal(fr.type, TTF_RESPONSE);
    fr = next_frame(f);
    assert_int_equal(fr.type, TTF_DATA);
    assert_int_equal(fr.flags, TTF_FLAG_FIN);
    assert_memory_equal(fr.payload, "no", 2);
    fr = next_frame(f);
    assert_int_equal(fr.type, TTF_RESET);
    assert_int_equal(fr.reset_code, TTF_RST_CANCEL);
    assert_true(fl_wait_eof(&f->fl, 0, 3000)); /* not pooled */
    destroy(f);
}

/* What the server must never get: octets past Content-Length; what it gets for bad OPENs and
 * protocol breaks: a RESET with the right code. */
static void test_bin_overrun_and_resets(void **state)
{
    (void)state;
    fx *f = make(true);
    send_open(f, 7, 0, true, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    fl_send_str(&f->fl, 0, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcFORGED");
    ttf_frame fr = next_frame(f);
    assert_int_equal(fr.type, TTF_RESPONSE);
    fr = next_frame(f);
    assert_int_equal(fr.type, TTF_DATA);
    assert_int_equal(fr.flags, TTF_FLAG_FIN);
    assert_int_equal(fr.len, 3);

    send_open(f, 9, 0, false, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    fr = next_frame(f);
    assert_int_equal(fr.type, TTF_RESET);
    assert_int_equal(fr.stream_id, 9);
    assert_int_equal(fr.reset_code, TTF_RST_PROTOCOL_ERROR);
    send_open(f, 11, 1, true, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    fr = next_frame(f);
    assert_int_equal(fr.reset_code, TTF_RST_INVALID_REQUEST);
    /* DATA after FIN */
    send_open(f, 13, 0, true, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    send_frame(f, TTF_DATA, 0, 13, "x", 1);
    fr = next_frame(f);
    assert_int_equal(fr.stream_id, 13);
    assert_int_equal(fr.reset_code, TTF_RST_PROTOCOL_ERROR);
    destroy(f);
}

/* RESET from the server mid-response: the local connection is closed at once. */
static void test_bin_cancel(void **state)
{
    (void)state;
    fx *f = make(true);
    send_open(f, 1, 0, true, "GET /sse HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    fl_send_str(&f->fl, 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ndata\r\n");
    ttf_frame fr = next_frame(f);
    assert_int_equal(fr.type, TTF_RESPONSE);
    fr = next_frame(f);
    assert_int_equal(fr.type, TTF_DATA);
    uint8_t buf[64];
    ws_send_binary(f->srv.ws, buf, ttf_frame_reset(buf, sizeof buf, 1, TTF_RST_CANCEL, "gone"));
    assert_true(fl_wait_eof(&f->fl, 0, 3000));
    assert_int_equal(hmap_count(f->s->streams), 0);
    destroy(f);
}

/* A local failure mid-response is RESET internal_error; before it, the code names the cause. */
static void test_bin_failures(void **state)
{
    (void)state;
    fx *f = make(true);
    send_open(f, 1, 0, true, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    fl_send_str(&f->fl, 0, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    fl_pass(&f->fl);
    fl_close(&f->fl, 0);
    ttf_frame fr = next_frame(f);
    assert_int_equal(fr.type, TTF_RESPONSE);
    fr = next_frame(f);
    if (fr.type == TTF_DATA)
        fr = next_frame(f);
    assert_int_equal(fr.type, TTF_RESET);
    assert_int_equal(fr.reset_code, TTF_RST_INTERNAL);

    send_open(f, 3, 0, true, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_true(fl_wait_text(&f->fl, 1, "\r\n\r\n", 3000));
    fl_send_str(&f->fl, 1, "HTTP/1.1 200 OK\r\nX-Big: ");
    static char big[70000];
    memset(big, 'b', sizeof big);
    fl_send(&f->fl, 1, big, sizeof big);
    fr = next_frame(f);
    assert_int_equal(fr.type, TTF_RESET);
    assert_int_equal(fr.reset_code, TTF_RST_LOCAL_UNAVAILABLE);
    assert_non_null(memmem(fr.payload, fr.len, "--max-response-header-size (65536 bytes)", 40));
    destroy(f);
}

/* ================================================================ JSON mode */

static void test_json_exchange(void **state)
{
    (void)state;
    fx *f = make(false);
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_REQUEST);
    m.request_id = strdup("r1");
    m.method = strdup("POST");
    m.uri = strdup("/caf\xe9");
    http_headers_add(&m.headers, "Host", 4, "pub", 3);
    http_headers_add(&m.headers, "X-Name", 6, "J\xf6rg", 4);
    m.body = (uint8_t *)strdup("abc");
    m.body_len = 3;
    m.more = true;
    send_json(f, &m);
    tmsg_free(&m);
    tmsg_init(&m, TMSG_HTTP_REQUEST_BODY);
    m.request_id = strdup("r1");
    m.seq = 1;
    m.body = (uint8_t *)strdup("def");
    m.body_len = 3;
    send_json(f, &m);
    tmsg_free(&m);
    assert_true(fl_wait_text(&f->fl, 0, "3\r\ndef\r\n0\r\n\r\n", 3000));
    char *head = fl_head(&f->fl, 0);
    assert_non_null(strstr(head, "POST /caf\xe9 HTTP/1.1\r\n"));
    assert_non_null(strstr(head, "X-Name: J\xf6rg\r\n"));
    assert_non_null(strstr(head, "Transfer-Encoding: chunked\r\n"));
    free(head);
    fl_send_str(&f->fl, 0, "HTTP/1.1 200 Fine\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n");
    tmsg r;
    next_json(f, &r);
    assert_int_equal(r.type, TMSG_HTTP_RESPONSE);
    assert_int_equal(r.status_code, 200);
    assert_string_equal(r.reason, "Fine");
    assert_true(r.more);
    assert_null(http_headers_get(&r.headers, "Transfer-Encoding"));
    assert_int_equal(r.body_len, 2); /* the body read in the same pass goes with the head */
    tmsg_free(&r);
    fl_send_str(&f->fl, 0, "3\r\nmore\r\n"); /* a bad chunk: failure after the start */
    next_json(f, &r);
    assert_int_equal(r.type, TMSG_CANCEL);
    assert_string_equal(r.request_id, "r1");
    tmsg_free(&r);
    assert_int_equal(hmap_count(f->s->exchanges), 0);
    destroy(f);
}

/* A head in several messages reaches the app whole; a large response head leaves in parts. */
static void test_json_head_continuation(void **state)
{
    (void)state;
    fx *f = make(false);
    f->cfg.max_response_head = 1 << 20;
    f->s->tun[0].env.max_response_head = 1 << 20;
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_REQUEST);
    m.request_id = strdup("r2");
    m.method = strdup("GET");
    m.uri = strdup("/");
    m.headers_more = true;
    http_headers_add(&m.headers, "Host", 4, "pub", 3);
    send_json(f, &m);
    tmsg_free(&m);
    tmsg_init(&m, TMSG_HTTP_REQUEST_HEADERS);
    m.request_id = strdup("r2");
    m.seq = 1;
    http_headers_add(&m.headers, "Cookie", 6, "a=1", 3);
    send_json(f, &m);
    tmsg_free(&m);
    assert_true(fl_wait_text(&f->fl, 0, "Cookie: a=1\r\n", 3000));
    /* 200 fields of 1000 bytes: over one message */
    size_t cap = 300000;
    char *resp = malloc(cap);
    size_t n = (size_t)snprintf(resp, cap, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 200; i++) {
        n += (size_t)snprintf(resp + n, cap - n, "X-F%03d: ", i);
        memset(resp + n, 'v', 1000);
        n += 1000;
        n += (size_t)snprintf(resp + n, cap - n, "\r\n");
    }
    n += (size_t)snprintf(resp + n, cap - n, "Content-Length: 2\r\n\r\nok");
    fl_send(&f->fl, 0, resp, n);
    free(resp);
    tmsg r;
    next_json(f, &r);
    assert_int_equal(r.type, TMSG_HTTP_RESPONSE);
    assert_true(r.headers_more);
    assert_true(r.more);
    size_t fields = r.headers.n;
    tmsg_free(&r);
    uint32_t seq = 0;
    bool more = true;
    while (more) {
        next_json(f, &r);
        assert_int_equal(r.type, TMSG_HTTP_RESPONSE_HEADERS);
        assert_int_equal(r.seq, ++seq);
        fields += r.headers.n;
        more = r.headers_more;
        tmsg_free(&r);
    }
    assert_int_equal(fields, 201);
    next_json(f, &r);
    assert_int_equal(r.type, TMSG_HTTP_RESPONSE_BODY);
    assert_int_equal(r.seq, 1);
    assert_false(r.more);
    assert_memory_equal(r.body, "ok", 2);
    tmsg_free(&r);
    destroy(f);
}

/* cancel from the server drops the exchange at once; errors before the start keep their codes. */
static void test_json_cancel_and_errors(void **state)
{
    (void)state;
    fx *f = make(false);
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_REQUEST);
    m.request_id = strdup("r3");
    m.method = strdup("GET");
    m.uri = strdup("/sse");
    http_headers_add(&m.headers, "Host", 4, "pub", 3);
    send_json(f, &m);
    tmsg_free(&m);
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    tmsg_init(&m, TMSG_CANCEL);
    m.request_id = strdup("r3");
    m.reason = strdup("client went away");
    send_json(f, &m);
    tmsg_free(&m);
    assert_true(fl_wait_eof(&f->fl, 0, 3000));
    assert_int_equal(hmap_count(f->s->exchanges), 0);

    /* body pieces out of order: invalid_request */
    tmsg_init(&m, TMSG_HTTP_REQUEST);
    m.request_id = strdup("r4");
    m.method = strdup("POST");
    m.uri = strdup("/");
    m.more = true;
    send_json(f, &m);
    tmsg_free(&m);
    tmsg_init(&m, TMSG_HTTP_REQUEST_BODY);
    m.request_id = strdup("r4");
    m.seq = 2;
    send_json(f, &m);
    tmsg_free(&m);
    tmsg r;
    next_json(f, &r);
    assert_int_equal(r.type, TMSG_ERROR);
    assert_int_equal(r.code, TERR_INVALID_REQUEST);
    tmsg_free(&r);
    destroy(f);
}

/* A local service that does not read the request body: the session stops reading the
 * WebSocket; once the service reads, it goes on. */
static void test_json_backpressure(void **state)
{
    (void)state;
    fx *f = make(false);
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_REQUEST);
    m.request_id = strdup("r5");
    m.method = strdup("PUT");
    m.uri = strdup("/slow");
    http_headers_add(&m.headers, "Host", 4, "pub", 3);
    m.more = true;
    send_json(f, &m);
    tmsg_free(&m);
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    /* stop reading the fake local connection: its socket buffers fill (9 MB is more than the
     * kernel buffers of a loopback connection hold) */
    int keep = f->fl.conns[0];
    f->fl.conns[0] = -1;
    static uint8_t piece[90000];
    memset(piece, 'p', sizeof piece);
    enum { PIECES = 100 };
    for (uint32_t seq = 1; seq <= PIECES; seq++) {
        tmsg_init(&m, TMSG_HTTP_REQUEST_BODY);
        m.request_id = strdup("r5");
        m.seq = seq;
        m.body = malloc(sizeof piece);
        memcpy(m.body, piece, sizeof piece);
        m.body_len = sizeof piece;
        m.more = true;
        send_json(f, &m);
        tmsg_free(&m);
    }
    for (int i = 0; i < 300 && f->s->json_blocked == 0; i++)
        fl_pass(&f->fl);
    assert_int_equal(f->s->json_blocked, 1);
    f->fl.conns[0] = keep;
    size_t want = PIECES * sizeof piece;
    uint64_t end = fl_now_ms() + 10000;
    while (fl_now_ms() < end && f->s->json_blocked)
        fl_pass(&f->fl);
    assert_int_equal(f->s->json_blocked, 0);
    while (fl_now_ms() < end && f->fl.got_len[0] < want)
        fl_pass(&f->fl);
    assert_true(f->fl.got_len[0] > want); /* every piece arrived (plus the chunk framing) */
    destroy(f);
}

static void send_ack(fx *f, tmsg_type of, const char *rid, uint32_t seq)
{
    tmsg a;
    tmsg_init(&a, TMSG_ACK);
    a.ack_of = of;
    a.request_id = rid ? strdup(rid) : NULL;
    a.seq = seq;
    send_json(f, &a);
    tmsg_free(&a);
}

/* With a server that acknowledges answers (the Lambda: each message is an invocation), a body
 * piece shorter than the largest waits while an earlier answer of its request awaits its ack,
 * and grows meanwhile (Nagle's rule, RFC 896); the ack sends it. */
static void test_json_short_pieces_wait_for_acks(void **state)
{
    (void)state;
    fx *f = make(false);
    send_ack(f, TMSG_READY, NULL, 0); /* acknowledgements on */
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_REQUEST);
    m.request_id = strdup("r6");
    m.method = strdup("GET");
    m.uri = strdup("/stream");
    http_headers_add(&m.headers, "Host", 4, "pub", 3);
    send_json(f, &m);
    tmsg_free(&m);
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    static char part[1001];
    memset(part, 'x', 1000);
    fl_send_str(&f->fl, 0, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
    fl_send_str(&f->fl, 0, part);
    tmsg r;
    next_json(f, &r);
    assert_int_equal(r.type, TMSG_HTTP_RESPONSE);
    assert_true(r.more);
    size_t first = r.body_len;
    tmsg_free(&r);
    /* five more short reads while the head awaits its ack: nothing leaves */
    for (int i = 0; i < 5; i++) {
        fl_send_str(&f->fl, 0, part);
        for (int k = 0; k < 20; k++)
            fl_pass(&f->fl);
    }
    assert_int_equal(f->srv.n, f->seen);
    send_ack(f, TMSG_HTTP_RESPONSE, "r6", 0);
    next_json(f, &r); /* the ack: one piece with all of it */
    assert_int_equal(r.type, TMSG_HTTP_RESPONSE_BODY);
    assert_int_equal(r.seq, 1);
    assert_int_equal(first + r.body_len, 6000);
    tmsg_free(&r);
    destroy(f);
}

/* ================================================================ several tunnels */

/* ready names both tunnels (tunnels[], in the config's order); OPEN's index picks the local
 * service: index 1 reaches "api" only, index 0 "web" only, an index the session does not have
 * is refused with RESET invalid_request and reaches nobody. */
static void test_bin_routes_by_tunnel_index(void **state)
{
    (void)state;
    fx *f = make_tunnels(true, 2);
    assert_true(fl_until(&f->fl, has_msg, f, 5000));
    msg *m = &f->srv.msgs[f->seen++];
    assert_true(m->text);
    tmsg rd;
    const char *err = NULL;
    assert_int_equal(tmsg_decode((const char *)m->data, m->len, &rd, &err), 0);
    assert_int_equal(rd.type, TMSG_READY);
    assert_int_equal(rd.ntunnels, 2);
    assert_string_equal(rd.tunnels[0].name, "web");
    assert_string_equal(rd.tunnels[1].name, "api");
    tmsg_free(&rd);

    send_open(f, 1, 1, true, "GET /to-api HTTP/1.1\r\nHost: api.pub\r\n\r\n");
    assert_true(fl_wait_text(&f->fl2, 0, "\r\n\r\n", 3000));
    assert_non_null(strstr(f->fl2.got[0], "GET /to-api HTTP/1.1\r\n"));
    send_open(f, 3, 0, true, "GET /to-web HTTP/1.1\r\nHost: web.pub\r\n\r\n");
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    assert_non_null(strstr(f->fl.got[0], "GET /to-web HTTP/1.1\r\n"));
    assert_null(strstr(f->fl.got[0], "to-api"));
    fl_send_str(&f->fl2, 0, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\napi");
    ttf_frame fr = next_frame(f);
    assert_int_equal(fr.type, TTF_RESPONSE);
    assert_int_equal(fr.stream_id, 1);
    fr = next_frame(f);
    assert_int_equal(fr.stream_id, 1);
    assert_memory_equal(fr.payload, "api", 3);

    send_open(f, 5, 2, true, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
    fr = next_frame(f);
    assert_int_equal(fr.type, TTF_RESET);
    assert_int_equal(fr.stream_id, 5);
    assert_int_equal(fr.reset_code, TTF_RST_INVALID_REQUEST);
    assert_int_equal(f->fl.nconns + f->fl2.nconns, 2); /* nobody got /nowhere */
    destroy(f);
}

static void send_established2(fx *f)
{
    tmsg e;
    tmsg_init(&e, TMSG_CONNECTION_ESTABLISHED);
    tmsg_tunnel t[2] = {
        {.name = "web", .tunnel_id = "webid", .public_url = "http://webid.x"},
        {.name = "api", .tunnel_id = "apiid", .public_url = "http://apiid.x"},
    };
    e.connection_id = "c";
    e.tunnel_id = "webid";
    e.public_url = "http://webid.x";
    e.tunnels = t;
    e.ntunnels = 2;
    size_t len = 0;
    char *js = tmsg_encode(&e, &len);
    ws_send_text(f->srv.ws, js, len);
    free(js);
}

static void send_get(fx *f, const char *rid, const char *tunnel_id, const char *uri)
{
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_REQUEST);
    m.request_id = strdup(rid);
    m.method = strdup("GET");
    m.uri = strdup(uri);
    m.tunnel_id = tunnel_id ? strdup(tunnel_id) : NULL;
    http_headers_add(&m.headers, "Host", 4, "pub", 3);
    send_json(f, &m);
    tmsg_free(&m);
}

/* JSON mode: http_request's tunnel_id (the ids connection_established gave) picks the tunnel;
 * no tunnel_id = the first; an unknown one is answered with error invalid_request. */
static void test_json_routes_by_tunnel_id(void **state)
{
    (void)state;
    fx *f = make_tunnels(false, 2);
    send_established2(f);
    send_get(f, "r1", "apiid", "/to-api");
    assert_true(fl_wait_text(&f->fl2, 0, "\r\n\r\n", 3000));
    assert_non_null(strstr(f->fl2.got[0], "GET /to-api HTTP/1.1\r\n"));
    send_get(f, "r2", NULL, "/to-web");
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    assert_non_null(strstr(f->fl.got[0], "GET /to-web HTTP/1.1\r\n"));
    send_get(f, "r3", "webid", "/web-again");
    assert_true(fl_wait_text(&f->fl, 1, "\r\n\r\n", 3000));
    assert_non_null(strstr(f->fl.got[1], "GET /web-again HTTP/1.1\r\n"));
    send_get(f, "r4", "otherid", "/nowhere");
    tmsg r;
    next_json(f, &r);
    assert_int_equal(r.type, TMSG_ERROR);
    assert_string_equal(r.request_id, "r4");
    assert_int_equal(r.code, TERR_INVALID_REQUEST);
    tmsg_free(&r);
    assert_int_equal(f->fl2.nconns, 1);
    assert_int_equal(f->fl.nconns, 2);
    destroy(f);
}

/* Before connection_established, a request naming the id a tunnel asked for again is that
 * tunnel's (the Lambda routes to the new connection once it recorded the name); once the answer
 * came, only the ids it gave count. */
static void test_json_asked_names_before_established(void **state)
{
    (void)state;
    static const char *const held[2] = {"heldweb", "heldapi"};
    fx_held = held;
    fx *f = make_tunnels(false, 2);
    fx_held = NULL;
    send_get(f, "r1", "heldapi", "/early-api");
    assert_true(fl_wait_text(&f->fl2, 0, "\r\n\r\n", 3000));
    assert_non_null(strstr(f->fl2.got[0], "GET /early-api HTTP/1.1\r\n"));
    send_established2(f); /* gives webid / apiid */
    send_get(f, "r2", "heldapi", "/late");
    tmsg r;
    next_json(f, &r);
    assert_int_equal(r.type, TMSG_ERROR);
    assert_string_equal(r.request_id, "r2");
    tmsg_free(&r);
    send_get(f, "r3", "apiid", "/given");
    assert_true(fl_wait_text(&f->fl2, 1, "\r\n\r\n", 3000));
    assert_int_equal(f->fl.nconns, 0);
    destroy(f);
}

/* A server that announced a window: ready asks for one; the agent sends no more response body
 * than the window allows until `window` credits more (docs/protocol.md §2 "Flow control"). */
static uint64_t body_until(fx *f, uint64_t want, unsigned ms, bool *last)
{
    uint64_t got = 0;
    uint64_t end = fl_now_ms() + ms;
    while (got < want && fl_now_ms() < end) {
        if (f->srv.n == f->seen) {
            fl_pass(&f->fl);
            continue;
        }
        tmsg r;
        next_json(f, &r);
        got += r.body_len;
        *last = !r.more;
        tmsg_free(&r);
    }
    return got;
}

static void test_json_window(void **state)
{
    (void)state;
    fx *f = make(false);
    assert_non_null(strstr((char *)next_msg(f)->data, "\"stream_windows\":true"));
    tmsg e;
    tmsg_init(&e, TMSG_CONNECTION_ESTABLISHED);
    e.connection_id = e.tunnel_id = "c";
    e.public_url = "http://c.x";
    e.stream_window = 100000;
    send_json(f, &e);
    send_get(f, "r9", NULL, "/big");
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n", 3000));
    static char body[150000];
    memset(body, 'b', sizeof body);
    fl_send_str(&f->fl, 0, "HTTP/1.1 200 OK\r\nContent-Length: 150000\r\n\r\n");
    fl_send(&f->fl, 0, body, sizeof body);
    bool last = false;
    assert_int_equal(body_until(f, 100000, 3000, &last), 100000);
    assert_int_equal(body_until(f, 1, 300, &last), 0); /* the window is spent: it waits */
    tmsg w;
    tmsg_init(&w, TMSG_WINDOW);
    w.request_id = "r9";
    w.increment = 50000;
    send_json(f, &w);
    assert_int_equal(body_until(f, 50000, 3000, &last), 50000);
    assert_true(last);
    destroy(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bin_response_frames),
        cmocka_unit_test(test_bin_request_framing_and_credit),
        cmocka_unit_test(test_bin_early_answer),
        cmocka_unit_test(test_bin_overrun_and_resets),
        cmocka_unit_test(test_bin_cancel),
        cmocka_unit_test(test_bin_failures),
        cmocka_unit_test(test_json_exchange),
        cmocka_unit_test(test_json_window),
        cmocka_unit_test(test_json_head_continuation),
        cmocka_unit_test(test_bin_routes_by_tunnel_index),
        cmocka_unit_test(test_json_routes_by_tunnel_id),
        cmocka_unit_test(test_json_asked_names_before_established),
        cmocka_unit_test(test_json_cancel_and_errors),
        cmocka_unit_test(test_json_backpressure),
        cmocka_unit_test(test_json_short_pieces_wait_for_acks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
