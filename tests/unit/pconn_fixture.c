/* SPDX-License-Identifier: MIT */
/* pconn_fixture.c - the public-connection fixture and its helpers (see pconn_fixture.h). */
#include "pconn_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"

int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
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
    f->tun.interim = f->tun.trailers = true; /* binary mode relays both */
    registry_ask ask = {.name = NULL, .chosen = false, .owner = ""};
    registry_answer ans;
    assert_true(registry_claim(f->srv.reg, &ask, 0, &f->tun, &ans) >= 0);
    snprintf(f->tun.name, sizeof f->tun.name, "%s", ans.name);
    /* its CDN-Loop mark, as session.c names a tunnel */
    assert_int_equal(
        proxy_loop_mark(f->tun.loop_mark, f->srv.loop_key, sizeof f->srv.loop_key, f->tun.name), 0);
    f->tun.ready = true;
    snprintf(f->host, sizeof f->host, "%s.localhost:8080", f->tun.name);
    *state = f;
    return 0;
}

int teardown(void **state)
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

void connect_client(fixture *f)
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

void client_send(fixture *f, const char *s, size_t n)
{
    assert_int_equal(write(f->cl, s, n), (ssize_t)n);
}

void client_sends(fixture *f, const char *s)
{
    client_send(f, s, strlen(s));
}

bool run_until(fixture *f, bool (*cond)(fixture *), unsigned ms)
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

bool have_msgs(fixture *f)
{
    return f->link.n >= f->want_msgs;
}
bool have_text(fixture *f)
{
    return strstr(f->in, f->want_text) != NULL;
}
bool have_eof(fixture *f)
{
    return f->eof;
}

bool have_reset(fixture *f)
{
    return last_of(f, TTF_RESET) >= 0;
}

bool have_body_fin(fixture *f)
{
    long d = last_of(f, TTF_DATA);
    return d >= 0 && (fake_flags(&f->link, (size_t)d) & TTF_FLAG_FIN);
}

void wait_msgs(fixture *f, size_t n)
{
    f->want_msgs = n;
    if (!run_until(f, have_msgs, 3000))
        fail_msg("the agent got %zu messages, not %zu", f->link.n, n);
}

void wait_text(fixture *f, const char *t)
{
    f->want_text = t;
    if (!run_until(f, have_text, 3000))
        fail_msg("the client never got \"%s\"; it got:\n%s", t, f->in);
}

void wait_eof(fixture *f, unsigned ms)
{
    if (!run_until(f, have_eof, ms))
        fail_msg("the connection stayed open; the client got:\n%s", f->in);
}

void wait_body_fin(fixture *f)
{
    if (!run_until(f, have_body_fin, 3000))
        fail_msg("the request body's FIN never reached the agent (%zu messages)", f->link.n);
}

void agent(fixture *f, uint8_t type, uint8_t flags, uint32_t sid, const char *payload, size_t len)
{
    uint8_t buf[70000];
    ttf_frame_header(buf, type, flags, sid);
    memcpy(buf + TTF_BIN_HDR, payload, len);
    f->tun.mux->vt->on_binary(f->tun.mux, buf, TTF_BIN_HDR + len);
}

void agent_s(fixture *f, uint8_t type, uint8_t flags, uint32_t sid, const char *payload)
{
    agent(f, type, flags, sid, payload, strlen(payload));
}

long last_of(const fixture *f, uint8_t type)
{
    for (size_t i = f->link.n; i-- > 0;)
        if (!f->link.msgs[i].text && fake_type(&f->link, i) == type)
            return (long)i;
    return -1;
}

uint32_t open_sid(fixture *f)
{
    long i = last_of(f, TTF_OPEN);
    assert_true(i >= 0);
    return fake_sid(&f->link, (size_t)i);
}

void get(fixture *f, const char *method, const char *target, const char *version, const char *extra)
{
    char req[1024];
    snprintf(req, sizeof req, "%s %s %s\r\nHost: %s\r\n%s\r\n", method, target, version, f->host,
             extra ? extra : "");
    size_t before = f->link.n;
    client_sends(f, req);
    wait_msgs(f, before + 1);
}

uint32_t assert_reset(fixture *f, uint8_t code)
{
    long r = last_of(f, TTF_RESET);
    if (r < 0)
        fail_msg("the agent got no RESET (%zu messages)", f->link.n);
    assert_int_equal(f->link.msgs[r].data[6], code);
    return fake_sid(&f->link, (size_t)r);
}

void assert_cancelled(fixture *f)
{
    assert_reset(f, TTF_RST_CANCEL);
    assert_int_equal(f->tun.mux->vt->streams(f->tun.mux), 0);
    assert_int_equal(pconn_count(&f->srv), 0);
}

void capture_log(fixture *f)
{
    f->log = NULL;
    f->log_len = 0;
    f->tlog = (tlog){.level = TLOG_INFO, .out = open_memstream(&f->log, &f->log_len), .prog = "t"};
    f->srv.log = &f->tlog;
    f->tun.mux->id.log = &f->tlog; /* as session.c gives the mux ttfd's log */
}

const char *logged(fixture *f)
{
    fflush(f->tlog.out);
    return f->log ? f->log : "";
}

void end_log(fixture *f)
{
    f->srv.log = NULL;
    f->tun.mux->id.log = NULL;
    fclose(f->tlog.out);
    free(f->log);
    f->log = NULL;
}

size_t push_body(fixture *f, size_t n)
{
    char block[16384];
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

void client_sends_two_gets(fixture *f)
{
    char two[512];
    snprintf(two, sizeof two,
             "GET /1 HTTP/1.1\r\nHost: %s\r\n\r\nGET /2 HTTP/1.1\r\nHost: %s\r\n\r\n", f->host,
             f->host);
    client_sends(f, two);
}

void post_head(fixture *f, const char *framing)
{
    char req[512];
    snprintf(req, sizeof req, "POST /up HTTP/1.1\r\nHost: %s\r\n%s\r\n\r\n", f->host, framing);
    client_sends(f, req);
    wait_msgs(f, 1);
}

void busy_then_freed(fixture *f, int first, uint32_t sid, const char *reason)
{
    connect_client(f);
    client_sends(f, "GET /more HTTP/1.1\r\nHost: ");
    client_sends(f, f->host);
    client_sends(f, "\r\n\r\n");
    wait_eof(f, 2000);
    assert_non_null(strstr(f->in, "HTTP/1.1 503 Service Unavailable\r\n"));
    assert_non_null(strstr(f->in, "Retry-After: 1\r\n"));
    assert_non_null(strstr(f->in, "\r\n\r\ntunnel agent busy: try again\n"));
    assert_int_equal(f->link.n, 1); /* only the first request's OPEN */
    assert_non_null(strstr(logged(f), "GET /more 503 "));
    char want[64];
    snprintf(want, sizeof want, "refused: %s", reason);
    assert_non_null(strstr(logged(f), want));
    close(f->cl);
    /* the first ends: a new request goes through */
    f->cl = first;
    agent_s(f, TTF_RESPONSE, TTF_FLAG_FIN, sid, "HTTP/1.1 204 No Content\r\n\r\n");
    wait_text(f, "204 No Content");
    f->in_len = 0;
    f->in[0] = '\0';
    get(f, "GET", "/next", "HTTP/1.1", NULL);
    assert_int_equal(f->link.n, 2);
}
