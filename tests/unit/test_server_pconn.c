/* SPDX-License-Identifier: MIT */
/* Public connections (server/pconn*.c) over socketpairs, against a tunnel whose mux sends to a
 * fake link (the test plays the agent by feeding frames to the mux): the framing table from the
 * client's side, overruns, truncation, early responses, interim responses, the client leaving,
 * the header/body/request deadlines, strict chunked bodies, pipelining. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "fake_link.h"
#include "pconn.h"
#include "session.h"

typedef struct fixture {
    struct event_base *base;
    server_config cfg;
    server srv;
    state *st;
    fake_link link;
    tunnel tun;
    int cl; /* the client's end */
    char host[128];
    char in[65536]; /* what the client read */
    size_t in_len;
    bool eof;
} fixture;

static fixture *F;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    F = f;
    f->base = event_base_new();
    f->cfg = (server_config){.domain = "localhost",
                             .request_timeout = 30,
                             .header_timeout = 30,
                             .body_timeout = 60,
                             .send_timeout = 60,
                             .max_header = 16384};
    char err[256];
    f->st = state_open(":memory:", 0, err, sizeof err);
    assert_non_null(f->st);
    registry_policy pol = {.grace_s = 300, .retention_s = 86400};
    f->srv = (server){.base = f->base, .log = NULL, .cfg = &f->cfg, .scheme = "http"};
    f->srv.loop = conn_loop_new(f->base);
    f->srv.reg = registry_new(f->st, &pol, NULL, NULL);
    mux_link l = fake_link_of(&f->link);
    mux_ident id = {.log = NULL, .agent = "127.0.0.1", .tunnel = "t"};
    f->tun.mux = mux_bin_new(&l, &id);
    registry_ask ask = {.name = NULL, .chosen = false, .owner = ""};
    registry_answer ans;
    assert_true(registry_claim(f->srv.reg, &ask, 0, &f->tun, &ans) >= 0);
    snprintf(f->tun.name, sizeof f->tun.name, "%s", ans.name);
    f->tun.ready = true;
    snprintf(f->host, sizeof f->host, "%s.localhost:8080", f->tun.name);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->cl >= 0)
        close(f->cl);
    pconn_free_all(&f->srv);
    f->tun.mux->vt->free(f->tun.mux, NULL);
    registry_free(f->srv.reg);
    state_close(f->st);
    conn_loop_free(f->srv.loop);
    event_base_free(f->base);
    fake_clear(&f->link);
    free(f);
    return 0;
}

/* A new client connection; returns nothing (f->cl). */
static void connect_client(fixture *f)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    pconn_accept(&f->srv, sv[0], (struct sockaddr *)&sa);
    f->cl = sv[1];
    f->in_len = 0;
    f->eof = false;
}

static void client_send(fixture *f, const char *s, size_t n)
{
    assert_int_equal(write(f->cl, s, n), (ssize_t)n);
}

static void client_sends(fixture *f, const char *s)
{
    client_send(f, s, strlen(s));
}

/* Runs the loop and reads what the client got, until cond() or the deadline (ms). */
static bool run_until(fixture *f, bool (*cond)(fixture *), unsigned ms)
{
    uint64_t end = clock_now_ms() + ms;
    for (;;) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        for (;;) {
            ssize_t n = read(f->cl, f->in + f->in_len, sizeof f->in - 1 - f->in_len);
            if (n > 0) {
                f->in_len += (size_t)n;
                f->in[f->in_len] = '\0';
                continue;
            }
            if (n == 0 || (n < 0 && errno == ECONNRESET))
                f->eof = true;
            break;
        }
        if (cond(f))
            return true;
        if (clock_now_ms() > end)
            return false;
        usleep(500);
    }
}

static size_t want_msgs;
static bool have_msgs(fixture *f)
{
    return f->link.n >= want_msgs;
}
static const char *want_text;
static bool have_text(fixture *f)
{
    return strstr(f->in, want_text) != NULL;
}
static bool have_eof(fixture *f)
{
    return f->eof;
}

static void wait_msgs(fixture *f, size_t n)
{
    want_msgs = n;
    if (!run_until(f, have_msgs, 3000))
        fail_msg("the agent got %zu messages, not %zu", f->link.n, n);
}

static void wait_text(fixture *f, const char *t)
{
    want_text = t;
    if (!run_until(f, have_text, 3000))
        fail_msg("the client never got \"%s\"; it got:\n%s", t, f->in);
}

static void wait_eof(fixture *f, unsigned ms)
{
    if (!run_until(f, have_eof, ms))
        fail_msg("the connection stayed open; the client got:\n%s", f->in);
}

/* The agent's frames */
static void agent(fixture *f, uint8_t type, uint8_t flags, uint32_t sid, const char *payload,
                  size_t len)
{
    uint8_t buf[70000];
    ttf_frame_header(buf, type, flags, sid);
    memcpy(buf + TTF_BIN_HDR, payload, len);
    f->tun.mux->vt->on_binary(f->tun.mux, buf, TTF_BIN_HDR + len);
}

static void agent_s(fixture *f, uint8_t type, uint8_t flags, uint32_t sid, const char *payload)
{
    agent(f, type, flags, sid, payload, strlen(payload));
}

/* The last OPEN's stream id, the index of the last frame of a type (or -1). */
static long last_of(const fixture *f, uint8_t type)
{
    for (size_t i = f->link.n; i-- > 0;)
        if (!f->link.msgs[i].text && fake_type(&f->link, i) == type)
            return (long)i;
    return -1;
}

static uint32_t open_sid(fixture *f)
{
    long i = last_of(f, TTF_OPEN);
    assert_true(i >= 0);
    return fake_sid(&f->link, (size_t)i);
}

static void get(fixture *f, const char *method, const char *target, const char *version,
                const char *extra)
{
    char req[1024];
    snprintf(req, sizeof req, "%s %s %s\r\nHost: %s\r\n%s\r\n", method, target, version, f->host,
             extra ? extra : "");
    size_t before = f->link.n;
    client_sends(f, req);
    wait_msgs(f, before + 1);
}

/* ---- tests ---- */

static void chunked_to_11(void **state)
{
    fixture *f = *state;
    connect_client(f);
    get(f, "GET", "/a", "HTTP/1.1", NULL);
    uint32_t sid = open_sid(f);
    assert_non_null(strstr((char *)f->link.msgs[0].data + 7, "GET /a HTTP/1.1\r\n"));
    assert_int_equal(fake_flags(&f->link, 0), TTF_FLAG_FIN);
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
    agent_s(f, TTF_DATA, 0, sid, "abc");
    agent_s(f, TTF_DATA, TTF_FLAG_FIN, sid, "");
    wait_text(f, "0\r\n\r\n");
    assert_non_null(strstr(f->in, "Transfer-Encoding: chunked\r\n"));
    assert_null(strstr(f->in, "Connection: close"));
    assert_non_null(strstr(f->in, "\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
    /* keep-alive: the next request goes out on the same connection */
    f->in_len = 0;
    f->in[0] = '\0';
    get(f, "GET", "/b", "HTTP/1.1", NULL);
    sid = open_sid(f);
    agent_s(f, TTF_RESPONSE, TTF_FLAG_FIN, sid, "HTTP/1.1 200 OK\r\n\r\n");
    wait_text(f, "Content-Length: 0\r\n");
}

static void close_delimited_to_10(void **state)
{
    fixture *f = *state;
    connect_client(f);
    get(f, "GET", "/r", "HTTP/1.0", "Connection: keep-alive\r\n");
    uint32_t sid = open_sid(f);
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\n\r\n");
    agent_s(f, TTF_DATA, 0, sid, "chunk-free");
    agent_s(f, TTF_DATA, TTF_FLAG_FIN, sid, "");
    wait_eof(f, 3000);
    assert_non_null(strstr(f->in, "Connection: close\r\n"));
    assert_null(strstr(f->in, "Transfer-Encoding"));
    assert_non_null(strstr(f->in, "\r\n\r\nchunk-free"));
    /* 1.0 keep-alive with a length stays open and says so */
    fake_clear(&f->link);
    close(f->cl);
    connect_client(f);
    get(f, "GET", "/k", "HTTP/1.0", "Connection: keep-alive\r\n");
    sid = open_sid(f);
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
    agent_s(f, TTF_DATA, TTF_FLAG_FIN, sid, "ok");
    wait_text(f, "\r\n\r\nok");
    assert_non_null(strstr(f->in, "Connection: keep-alive\r\n"));
    assert_false(run_until(f, have_eof, 100));
}

static void bodiless(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *method, *head;
        const char *expect_cl;
    } rows[] = {
        {"HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", "Content-Length: 1234"},
        {"GET", "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", NULL},
        {"GET", "HTTP/1.1 204 No Content\r\n\r\n", NULL},
    };
    connect_client(f);
    for (size_t i = 0; i < 3; i++) {
        f->in_len = 0;
        f->in[0] = '\0';
        get(f, rows[i].method, "/h", "HTTP/1.1", NULL);
        uint32_t sid = open_sid(f);
        agent_s(f, TTF_RESPONSE, TTF_FLAG_FIN, sid, rows[i].head);
        wait_text(f, "\r\n\r\n");
        if (rows[i].expect_cl)
            assert_non_null(strstr(f->in, rows[i].expect_cl));
        assert_null(strstr(f->in, "Transfer-Encoding"));
        assert_null(strstr(f->in, "Connection: close"));
    }
    /* DATA on a bodiless response: reset, nothing written after the head, closed */
    f->in_len = 0;
    f->in[0] = '\0';
    get(f, "HEAD", "/h", "HTTP/1.1", NULL);
    uint32_t sid = open_sid(f);
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
    agent_s(f, TTF_DATA, TTF_FLAG_FIN, sid, "HTTP/1.1 200 OK\r\n\r\n");
    wait_eof(f, 3000);
    assert_null(strstr(strstr(f->in, "\r\n\r\n") + 4, "HTTP"));
    long r = last_of(f, TTF_RESET);
    assert_true(r >= 0);
    assert_int_equal(f->link.msgs[r].data[6], TTF_RST_PROTOCOL_ERROR);
}

static void overrun(void **state)
{
    fixture *f = *state;
    connect_client(f);
    get(f, "GET", "/o", "HTTP/1.1", NULL);
    uint32_t sid = open_sid(f);
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
    agent_s(f, TTF_DATA, 0, sid, "helloHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged");
    wait_eof(f, 3000);
    const char *body = strstr(f->in, "\r\n\r\n") + 4;
    assert_string_equal(body, "hello");
    long r = last_of(f, TTF_RESET);
    assert_true(r >= 0);
    assert_int_equal(fake_sid(&f->link, (size_t)r), sid);
    assert_int_equal(f->link.msgs[r].data[6], TTF_RST_PROTOCOL_ERROR);
    /* a second final response after a complete one */
    fake_clear(&f->link);
    close(f->cl);
    connect_client(f);
    get(f, "GET", "/o", "HTTP/1.1", NULL);
    sid = open_sid(f);
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
    agent_s(f, TTF_DATA, 0, sid, "ok");
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n");
    wait_eof(f, 3000);
    assert_string_equal(strstr(f->in, "\r\n\r\n") + 4, "ok");
}

static void truncated(void **state)
{
    fixture *f = *state;
    connect_client(f);
    get(f, "GET", "/t", "HTTP/1.1", NULL);
    uint32_t sid = open_sid(f);
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
    agent_s(f, TTF_DATA, TTF_FLAG_FIN, sid, "abc");
    wait_eof(f, 3000);
    assert_string_equal(strstr(f->in, "\r\n\r\n") + 4, "abc");
}

static void interim(void **state)
{
    fixture *f = *state;
    connect_client(f);
    get(f, "GET", "/i", "HTTP/1.1", NULL);
    uint32_t sid = open_sid(f);
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
    wait_text(f, "103 Early Hints\r\nLink: </s.css>\r\n\r\n");
    agent_s(f, TTF_RESPONSE, TTF_FLAG_FIN, sid, "HTTP/1.1 200 OK\r\n\r\n");
    wait_text(f, "200 OK");
    /* an HTTP/1.0 client never sees it */
    close(f->cl);
    connect_client(f);
    get(f, "GET", "/i", "HTTP/1.0", NULL);
    sid = open_sid(f);
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
    agent_s(f, TTF_RESPONSE, TTF_FLAG_FIN, sid, "HTTP/1.1 200 OK\r\n\r\n");
    wait_eof(f, 3000);
    assert_null(strstr(f->in, "103"));
    assert_non_null(strstr(f->in, "200 OK"));
}

static void expect_relayed(void **state)
{
    fixture *f = *state;
    connect_client(f);
    client_sends(f, "POST /e HTTP/1.1\r\nHost: ");
    client_sends(f, f->host);
    client_sends(f, "\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    wait_msgs(f, 1);
    uint32_t sid = open_sid(f);
    assert_non_null(strstr((char *)f->link.msgs[0].data + 7, "Expect: 100-continue\r\n"));
    assert_int_equal(f->in_len, 0); /* ttfd did not answer 100 itself in binary mode */
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 100 Continue\r\n\r\n");
    wait_text(f, "HTTP/1.1 100 Continue\r\n\r\n");
    client_sends(f, "body");
    wait_msgs(f, 2);
    assert_int_equal(fake_type(&f->link, 1), TTF_DATA);
    assert_string_equal((char *)f->link.msgs[1].data + 6, "body");
}

static void early_response(void **state)
{
    fixture *f = *state;
    connect_client(f);
    client_sends(f, "POST /up HTTP/1.1\r\nHost: ");
    client_sends(f, f->host);
    client_sends(f, "\r\nContent-Length: 100\r\n\r\n12345");
    wait_msgs(f, 2); /* OPEN, DATA */
    uint32_t sid = open_sid(f);
    agent_s(f, TTF_RESPONSE, TTF_FLAG_FIN, sid, "HTTP/1.1 403 Forbidden\r\n\r\n");
    wait_text(f, "403 Forbidden");
    /* the rest (short) is drained; the connection serves the next request */
    long rst = last_of(f, TTF_RESET);
    assert_true(rst >= 0);
    assert_int_equal(f->link.msgs[rst].data[6], TTF_RST_CANCEL);
    char rest[96];
    memset(rest, 'x', 95);
    rest[95] = '\0';
    client_sends(f, rest);
    size_t before = f->link.n;
    get(f, "GET", "/next", "HTTP/1.1", NULL);
    assert_true(f->link.n > before);
    assert_non_null(strstr((char *)f->link.msgs[f->link.n - 1].data + 7, "GET /next"));
    /* a chunked body cannot be drained: Connection: close */
    agent_s(f, TTF_RESPONSE, TTF_FLAG_FIN, open_sid(f), "HTTP/1.1 200 OK\r\n\r\n");
    close(f->cl);
    connect_client(f);
    client_sends(f, "POST /up HTTP/1.1\r\nHost: ");
    client_sends(f, f->host);
    client_sends(f, "\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n12345\r\n");
    wait_msgs(f, f->link.n + 2);
    agent_s(f, TTF_RESPONSE, TTF_FLAG_FIN, open_sid(f), "HTTP/1.1 413 Too Big\r\n\r\n");
    wait_text(f, "Connection: close");
}

/* The stream was cancelled (RESET cancel) and everything of the exchange freed. */
static void assert_cancelled(fixture *f)
{
    long r = last_of(f, TTF_RESET);
    assert_true(r >= 0);
    assert_int_equal(f->link.msgs[r].data[6], TTF_RST_CANCEL);
    assert_int_equal(f->tun.mux->vt->streams(f->tun.mux), 0);
    assert_int_equal(pconn_count(&f->srv), 0);
}

static bool have_reset(fixture *f)
{
    return last_of(f, TTF_RESET) >= 0;
}

/* A client that closed (a FIN, as a half-close looks) during an event stream: the next event
 * written meets its reset, and the stream is cancelled. */
static void client_leaves(void **state)
{
    fixture *f = *state;
    connect_client(f);
    get(f, "GET", "/sse", "HTTP/1.1", NULL);
    uint32_t sid = open_sid(f);
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n");
    agent_s(f, TTF_DATA, 0, sid, "data: 1\n\n");
    wait_text(f, "data: 1");
    close(f->cl);
    f->cl = -1;
    agent_s(f, TTF_DATA, 0, sid, "data: 2\n\n");
    assert_true(run_until(f, have_reset, 3000));
    assert_cancelled(f);
}

/* A log that the test reads (the access log lines: the status of an exchange). */
static char *g_log;
static size_t g_log_len;
static tlog g_tlog;

static void capture_log(fixture *f)
{
    g_log = NULL;
    g_log_len = 0;
    g_tlog = (tlog){.level = TLOG_INFO, .out = open_memstream(&g_log, &g_log_len), .prog = "t"};
    f->srv.log = &g_tlog;
}

static const char *logged(void)
{
    fflush(g_tlog.out);
    return g_log ? g_log : "";
}

static void end_log(fixture *f)
{
    f->srv.log = NULL;
    fclose(g_tlog.out);
    free(g_log);
}

/* Sends up to n body octets while ttfd takes them (it stops reading when the stream's window is
 * shut); returns how many went. */
static size_t push_body(fixture *f, size_t n)
{
    static char block[16384];
    memset(block, 'b', sizeof block);
    size_t sent = 0;
    uint64_t last = clock_now_ms();
    while (sent < n && clock_now_ms() - last < 300) {
        size_t k = n - sent < sizeof block ? n - sent : sizeof block;
        ssize_t w = write(f->cl, block, k);
        if (w > 0) {
            sent += (size_t)w;
            last = clock_now_ms();
        }
        event_base_loop(f->base, EVLOOP_NONBLOCK);
    }
    return sent;
}

static void post_head(fixture *f, const char *framing)
{
    char req[512];
    snprintf(req, sizeof req, "POST /up HTTP/1.1\r\nHost: %s\r\n%s\r\n\r\n", f->host, framing);
    client_sends(f, req);
    wait_msgs(f, 1);
}

/* The client leaves in the middle of an upload while ttfd does not read it (the stream's window
 * is shut) and the local service is silent: its FIN comes with bytes still queued, too few for
 * the Content-Length. The stream is cancelled at once (not at --request-timeout), logged 499. */
static void client_leaves_mid_upload_while_held_back(void **state)
{
    fixture *f = *state;
    capture_log(f);
    connect_client(f);
    post_head(f, "Content-Length: 1048576");
    size_t sent = push_body(f, 600 << 10);
    assert_true(sent > TTF_BIN_INITIAL_WINDOW && sent < (1u << 20)); /* held back */
    assert_false(have_reset(f));
    shutdown(f->cl, SHUT_WR);
    assert_true(run_until(f, have_reset, 2000));
    assert_cancelled(f);
    assert_non_null(strstr(logged(), "POST /up 499 "));
    assert_null(strstr(f->in, "HTTP/1.1"));
    end_log(f);
}

/* The same with a reset (the client had unread bytes: an Early Hints it never read). */
static void client_resets_mid_upload_while_held_back(void **state)
{
    fixture *f = *state;
    capture_log(f);
    connect_client(f);
    post_head(f, "Content-Length: 1048576");
    agent_s(f, TTF_RESPONSE, 0, open_sid(f), "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    assert_true(push_body(f, 600 << 10) < (1u << 20));
    close(f->cl); /* the 103 unread: a reset */
    f->cl = -1;
    assert_true(run_until(f, have_reset, 2000));
    assert_cancelled(f);
    assert_non_null(strstr(logged(), "POST /up 499 "));
    end_log(f);
}

/* A half-close after the whole body, while ttfd does not read it: no departure. The body goes
 * on as the window opens and the answer reaches the client, then the connection closes. */
static void half_close_after_the_whole_upload(void **state)
{
    fixture *f = *state;
    connect_client(f);
    size_t total = 400 << 10;
    char framing[64];
    snprintf(framing, sizeof framing, "Content-Length: %zu", total);
    post_head(f, framing);
    uint32_t sid = open_sid(f);
    assert_int_equal(push_body(f, total), total);
    shutdown(f->cl, SHUT_WR);
    run_until(f, have_reset, 300);
    assert_false(have_reset(f));
    uint8_t win[10];
    size_t n = ttf_frame_window(win, sid, 1u << 20);
    f->tun.mux->vt->on_binary(f->tun.mux, win, n);
    want_msgs = 0;
    uint64_t end = clock_now_ms() + 3000;
    while (clock_now_ms() < end) { /* the body's FIN reaches the agent */
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        long d = last_of(f, TTF_DATA);
        if (d >= 0 && (fake_flags(&f->link, (size_t)d) & TTF_FLAG_FIN))
            break;
        usleep(500);
    }
    long d = last_of(f, TTF_DATA);
    assert_true(d >= 0 && (fake_flags(&f->link, (size_t)d) & TTF_FLAG_FIN));
    agent_s(f, TTF_RESPONSE, TTF_FLAG_FIN, sid, "HTTP/1.1 201 Created\r\n\r\n");
    wait_eof(f, 3000);
    assert_non_null(strstr(f->in, "HTTP/1.1 201 Created\r\n"));
    assert_false(have_reset(f));
}

/* shutdown(SHUT_WR) after two pipelined requests (as `nc -N` sends): both are answered, in
 * order, then the connection closes. */
static void half_close_after_pipelined_requests(void **state)
{
    fixture *f = *state;
    connect_client(f);
    char two[512];
    snprintf(two, sizeof two,
             "GET /1 HTTP/1.1\r\nHost: %s\r\n\r\nGET /2 HTTP/1.1\r\nHost: %s\r\n\r\n", f->host,
             f->host);
    client_sends(f, two);
    shutdown(f->cl, SHUT_WR);
    wait_msgs(f, 1);
    run_until(f, have_reset, 200);
    agent_s(f, TTF_RESPONSE, 0, open_sid(f), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n");
    agent_s(f, TTF_DATA, TTF_FLAG_FIN, open_sid(f), "one");
    wait_msgs(f, 2);
    agent_s(f, TTF_RESPONSE, 0, open_sid(f), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n");
    agent_s(f, TTF_DATA, TTF_FLAG_FIN, open_sid(f), "two");
    wait_eof(f, 3000);
    assert_non_null(strstr(f->in, "one"));
    assert_true(strstr(f->in, "one") < strstr(f->in, "two"));
    assert_false(have_reset(f));
}

/* A chunked upload cut by the client's FIN, its bytes all read: the request cannot end. */
static void client_leaves_mid_chunked_upload(void **state)
{
    fixture *f = *state;
    capture_log(f);
    connect_client(f);
    post_head(f, "Transfer-Encoding: chunked");
    client_sends(f, "5\r\nhello\r\n");
    shutdown(f->cl, SHUT_WR);
    assert_true(run_until(f, have_reset, 2000));
    assert_cancelled(f);
    assert_non_null(strstr(logged(), "POST /up 499 "));
    end_log(f);
}

/* The client's FIN comes while its first request is answered and a pipelined upload waits unread
 * behind it (ttfd holds 64 KiB of it and stops reading): no departure then. When that upload's
 * turn comes and the stream takes nothing (the link backed up), its FIN is judged again, for
 * this request: cut short (body_sent < declared) is a client that left (499 at once, not at
 * --request-timeout), whole is a half-close that goes on. */
static void fin_judged_again_for_a_pipelined_upload(fixture *f, size_t declared, size_t body_sent)
{
    capture_log(f);
    connect_client(f);
    char req[512];
    snprintf(req, sizeof req,
             "GET /1 HTTP/1.1\r\nHost: %s\r\n\r\nPOST /up HTTP/1.1\r\nHost: %s\r\n"
             "Content-Length: %zu\r\n\r\n",
             f->host, f->host, declared);
    client_sends(f, req);
    wait_msgs(f, 1);
    uint32_t first = open_sid(f);
    assert_int_equal(push_body(f, body_sent), body_sent);
    shutdown(f->cl, SHUT_WR);
    run_until(f, have_reset, 200);
    assert_false(have_reset(f));
    f->link.pending = (size_t)2 << 20; /* the agent's link backed up: the upload waits */
    agent_s(f, TTF_RESPONSE, TTF_FLAG_FIN, first, "HTTP/1.1 204 No Content\r\n\r\n");
    wait_msgs(f, 2);
    assert_int_not_equal(open_sid(f), first);
    bool left = run_until(f, have_reset, 1000);
    f->link.pending = 0;
    if (body_sent < declared) {
        assert_true(left);
        assert_cancelled(f);
        assert_non_null(strstr(logged(), "POST /up 499 "));
    } else {
        assert_false(left);
        f->tun.mux->vt->on_drain(f->tun.mux);
        uint64_t end = clock_now_ms() + 3000;
        long d = -1;
        while (clock_now_ms() < end &&
               !(d >= 0 && (fake_flags(&f->link, (size_t)d) & TTF_FLAG_FIN))) {
            event_base_loop(f->base, EVLOOP_NONBLOCK);
            d = last_of(f, TTF_DATA);
            usleep(500);
        }
        assert_true(d >= 0 && (fake_flags(&f->link, (size_t)d) & TTF_FLAG_FIN)); /* the body */
        assert_false(have_reset(f));
    }
    end_log(f);
}

static void pipelined_upload_cut_after_a_fin_seen_earlier(void **state)
{
    fin_judged_again_for_a_pipelined_upload(*state, 200000, 100000);
}

static void pipelined_upload_whole_after_a_fin_seen_earlier(void **state)
{
    fin_judged_again_for_a_pipelined_upload(*state, 100000, 100000);
}

/* --send-timeout: a client that takes nothing of its answer for that long is let go (the stream
 * cancelled, the connection freed with what waited for it): it held its stream, and a place
 * under --max-streams-per-agent, for as long as it kept the socket. */
static void send_timeout_lets_a_client_that_takes_nothing_go(void **state)
{
    fixture *f = *state;
    capture_log(f);
    f->cfg.send_timeout = 1;
    connect_client(f);
    get(f, "GET", "/big", "HTTP/1.1", NULL);
    uint32_t sid = open_sid(f);
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n");
    static char block[65536];
    memset(block, 'd', sizeof block);
    for (int i = 0; i < 4; i++) /* the window: more than the socket takes */
        agent(f, TTF_DATA, 0, sid, block, sizeof block);
    uint64_t t0 = clock_now_ms();
    uint64_t end = t0 + 4000;
    while (clock_now_ms() < end && pconn_count(&f->srv) > 0) { /* the client reads nothing */
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
    assert_int_equal(pconn_count(&f->srv), 0);
    assert_true(clock_now_ms() - t0 >= 900);
    assert_cancelled(f);
    assert_non_null(strstr(logged(), "GET /big 200 "));
    end_log(f);
}

/* --max-streams-per-agent: a request past the agent's limit gets 503 with Retry-After at once
 * and never reaches the agent; when a stream ends the next request goes through. */
static void stream_limit(void **state)
{
    fixture *f = *state;
    capture_log(f);
    mux_set_max_streams(f->tun.mux, 1);
    connect_client(f);
    int first = f->cl;
    get(f, "GET", "/slow", "HTTP/1.1", NULL);
    uint32_t sid = open_sid(f);
    connect_client(f);
    client_sends(f, "GET /more HTTP/1.1\r\nHost: ");
    client_sends(f, f->host);
    client_sends(f, "\r\n\r\n");
    wait_eof(f, 2000);
    assert_non_null(strstr(f->in, "HTTP/1.1 503 Service Unavailable\r\n"));
    assert_non_null(strstr(f->in, "Retry-After: 1\r\n"));
    assert_non_null(strstr(f->in, "\r\n\r\n" MUX_BUSY_TEXT "\n"));
    assert_int_equal(f->link.n, 1); /* only the first request's OPEN */
    assert_non_null(strstr(logged(), "GET /more 503 "));
    assert_non_null(strstr(logged(), "refused: busy"));
    close(f->cl);
    /* the first ends: a new request goes through */
    f->cl = first;
    agent_s(f, TTF_RESPONSE, TTF_FLAG_FIN, sid, "HTTP/1.1 204 No Content\r\n\r\n");
    wait_text(f, "204 No Content");
    f->in_len = 0;
    f->in[0] = '\0';
    get(f, "GET", "/next", "HTTP/1.1", NULL);
    assert_int_equal(f->link.n, 2);
    end_log(f);
}

static void header_deadline(void **state)
{
    fixture *f = *state;
    f->cfg.header_timeout = 1;
    connect_client(f);
    client_sends(f, "GET / HTTP/1.1\r\nHo");
    uint64_t t0 = clock_now_ms();
    wait_eof(f, 4000);
    assert_true(clock_now_ms() - t0 >= 900);
    assert_non_null(strstr(f->in, "HTTP/1.1 408 "));
    assert_int_equal(f->link.n, 0);
}

static void body_deadline(void **state)
{
    fixture *f = *state;
    f->cfg.body_timeout = 1;
    connect_client(f);
    client_sends(f, "POST /slow HTTP/1.1\r\nHost: ");
    client_sends(f, f->host);
    client_sends(f, "\r\nContent-Length: 10\r\n\r\nabc");
    wait_eof(f, 4000);
    assert_non_null(strstr(f->in, "HTTP/1.1 408 "));
    long r = last_of(f, TTF_RESET);
    assert_true(r >= 0);
    assert_int_equal(f->link.msgs[r].data[6], TTF_RST_CANCEL);
}

static void request_deadline(void **state)
{
    fixture *f = *state;
    f->cfg.request_timeout = 1;
    connect_client(f);
    get(f, "GET", "/silent", "HTTP/1.1", NULL);
    wait_eof(f, 4000);
    assert_non_null(strstr(f->in, "HTTP/1.1 504 "));
    long r = last_of(f, TTF_RESET);
    assert_true(r >= 0);
    assert_int_equal(f->link.msgs[r].data[6], TTF_RST_TIMEOUT);
}

static void strict_chunked(void **state)
{
    fixture *f = *state;
    static const char *const bodies[] = {
        "0;x\n\nGET /other HTTP/1.1\r\nHost: a\r\n\r\n", /* bare LF in an extension */
        "5\r\nhelloXYGET /other HTTP/1.1\r\n\r\n",       /* two bytes in place of CRLF */
    };
    for (size_t i = 0; i < 2; i++) {
        /* the head and the bad body in one piece: nothing reaches the agent at all */
        fake_clear(&f->link);
        connect_client(f);
        char req[512];
        snprintf(req, sizeof req,
                 "POST /c HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n%s", f->host,
                 bodies[i]);
        client_sends(f, req);
        wait_eof(f, 3000);
        assert_non_null(strstr(f->in, "HTTP/1.1 400 "));
        assert_int_equal(f->link.n, 0);
        close(f->cl);
        /* the bad bytes after the stream opened: the stream is reset, nothing smuggled */
        connect_client(f);
        snprintf(req, sizeof req,
                 "POST /c HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n", f->host);
        client_sends(f, req);
        wait_msgs(f, 1);
        client_sends(f, bodies[i]);
        wait_eof(f, 3000);
        assert_non_null(strstr(f->in, "HTTP/1.1 400 "));
        for (size_t m = 0; m < f->link.n; m++)
            assert_null(memmem(f->link.msgs[m].data, f->link.msgs[m].len, "/other", 6));
        long r = last_of(f, TTF_RESET);
        assert_true(r >= 0);
        assert_int_equal(f->link.msgs[r].data[6], TTF_RST_INVALID_REQUEST);
        close(f->cl);
        f->cl = -1;
    }
}

static void pipelined(void **state)
{
    fixture *f = *state;
    connect_client(f);
    char two[512];
    snprintf(two, sizeof two,
             "GET /1 HTTP/1.1\r\nHost: %s\r\n\r\nGET /2 HTTP/1.1\r\nHost: %s\r\n\r\n", f->host,
             f->host);
    client_sends(f, two);
    wait_msgs(f, 1);
    assert_false(run_until(f, have_msgs, 100) && f->link.n > 1); /* one at a time */
    assert_int_equal(f->link.n, 1);
    agent_s(f, TTF_RESPONSE, TTF_FLAG_FIN, open_sid(f), "HTTP/1.1 200 OK\r\nX-N: 1\r\n\r\n");
    wait_msgs(f, 2);
    assert_non_null(strstr((char *)f->link.msgs[1].data + 7, "GET /2"));
    agent_s(f, TTF_RESPONSE, TTF_FLAG_FIN, open_sid(f), "HTTP/1.1 200 OK\r\nX-N: 2\r\n\r\n");
    wait_text(f, "X-N: 2");
    assert_true(strstr(f->in, "X-N: 1") < strstr(f->in, "X-N: 2"));
}

static void agent_gone(void **state)
{
    fixture *f = *state;
    connect_client(f);
    get(f, "GET", "/g", "HTTP/1.1", NULL);
    f->tun.mux->vt->free(f->tun.mux, "the tunnel agent went away");
    mux_link l = fake_link_of(&f->link);
    mux_ident id = {.log = NULL};
    f->tun.mux = mux_bin_new(&l, &id);
    wait_eof(f, 3000);
    assert_non_null(strstr(f->in, "HTTP/1.1 502 "));
    assert_non_null(strstr(f->in, "went away"));
}

int main(void)
{
    conn_process_init(); /* SIGPIPE ignored: the tests write to connections ttfd closed */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(chunked_to_11, setup, teardown),
        cmocka_unit_test_setup_teardown(close_delimited_to_10, setup, teardown),
        cmocka_unit_test_setup_teardown(bodiless, setup, teardown),
        cmocka_unit_test_setup_teardown(overrun, setup, teardown),
        cmocka_unit_test_setup_teardown(truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(interim, setup, teardown),
        cmocka_unit_test_setup_teardown(expect_relayed, setup, teardown),
        cmocka_unit_test_setup_teardown(early_response, setup, teardown),
        cmocka_unit_test_setup_teardown(client_leaves, setup, teardown),
        cmocka_unit_test_setup_teardown(client_leaves_mid_upload_while_held_back, setup, teardown),
        cmocka_unit_test_setup_teardown(client_resets_mid_upload_while_held_back, setup, teardown),
        cmocka_unit_test_setup_teardown(half_close_after_the_whole_upload, setup, teardown),
        cmocka_unit_test_setup_teardown(half_close_after_pipelined_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(client_leaves_mid_chunked_upload, setup, teardown),
        cmocka_unit_test_setup_teardown(send_timeout_lets_a_client_that_takes_nothing_go, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(pipelined_upload_cut_after_a_fin_seen_earlier, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(pipelined_upload_whole_after_a_fin_seen_earlier, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stream_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(header_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(body_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(request_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(strict_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(agent_gone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
