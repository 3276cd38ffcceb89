/* SPDX-License-Identifier: MIT */
/* Public connections (server/pconn*.c) relaying an exchange, over the fixture of
 * pconn_fixture.h (the test plays the agent): the framing table from the client's side, overruns,
 * truncation, early responses, interim responses, the header/body/request deadlines, strict
 * chunked bodies, pipelining, the agent going away. The client leaving and the limits are in
 * test_server_pconn_leave.c. */
#include "pconn_fixture.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"

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
    assert_reset(f, TTF_RST_PROTOCOL_ERROR);
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
    assert_int_equal(assert_reset(f, TTF_RST_PROTOCOL_ERROR), sid);
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
    assert_reset(f, TTF_RST_CANCEL);
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
    assert_reset(f, TTF_RST_CANCEL);
}

static void request_deadline(void **state)
{
    fixture *f = *state;
    f->cfg.request_timeout = 1;
    connect_client(f);
    get(f, "GET", "/silent", "HTTP/1.1", NULL);
    wait_eof(f, 4000);
    assert_non_null(strstr(f->in, "HTTP/1.1 504 "));
    assert_reset(f, TTF_RST_TIMEOUT);
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
        assert_reset(f, TTF_RST_INVALID_REQUEST);
        close(f->cl);
        f->cl = -1;
    }
}

static void pipelined(void **state)
{
    fixture *f = *state;
    connect_client(f);
    client_sends_two_gets(f);
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
        cmocka_unit_test_setup_teardown(header_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(body_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(request_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(strict_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(agent_gone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
