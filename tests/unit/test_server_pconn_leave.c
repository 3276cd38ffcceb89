/* SPDX-License-Identifier: MIT */
/* Public connections (server/pconn*.c) whose client leaves, and their limits, over the fixture
 * of pconn_fixture.h (the test plays the agent): a client that closes or resets mid-answer or
 * mid-upload while ttfd holds its body back (cancelled at once, logged 499), half-closes that
 * are no departure (after the whole body, after pipelined requests), a FIN judged again for a
 * pipelined upload, --send-timeout and --max-streams-per-agent. Relaying is in
 * test_server_pconn.c. */
#include "pconn_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "pconn_int.h"
#include "proto_bin.h"

/* A departure noticed at once: the agent got a RESET within 2 s (far below --request-timeout),
 * the stream was cancelled and everything of the exchange freed, and the access log (capture_log)
 * says 499 for "POST /up". */
static void assert_left_mid_upload(fixture *f)
{
    if (!run_until(f, have_reset, 2000))
        fail_msg("the client left and the agent got no RESET in 2 s");
    assert_cancelled(f);
    assert_non_null(strstr(logged(f), "POST /up 499 "));
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

/* The client leaves in the middle of an upload while ttfd does not read it (the stream's window
 * is shut) and the local service is silent: its FIN (or, reset, its reset: it had unread bytes,
 * an Early Hints it never read) comes with bytes still queued, too few for the Content-Length.
 * The stream is cancelled at once (not at --request-timeout), logged 499. */
static void leave_mid_upload_while_held_back(fixture *f, bool reset)
{
    capture_log(f);
    connect_client(f);
    post_head(f, "Content-Length: 1048576");
    if (reset) {
        agent_s(f, TTF_RESPONSE, 0, open_sid(f),
                "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
        event_base_loop(f->base, EVLOOP_NONBLOCK);
    }
    size_t sent = push_body(f, 600 << 10);
    assert_true(sent > TTF_BIN_INITIAL_WINDOW && sent < (1u << 20)); /* held back */
    assert_false(have_reset(f));
    if (reset) {
        close(f->cl); /* the 103 unread: a reset */
        f->cl = -1;
    } else {
        shutdown(f->cl, SHUT_WR);
    }
    assert_left_mid_upload(f);
    if (!reset)
        assert_null(strstr(f->in, "HTTP/1.1"));
    end_log(f);
}

static void client_leaves_mid_upload_while_held_back(void **state)
{
    leave_mid_upload_while_held_back(*state, false);
}

static void client_resets_mid_upload_while_held_back(void **state)
{
    leave_mid_upload_while_held_back(*state, true);
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
    wait_body_fin(f);
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
    client_sends_two_gets(f);
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
    assert_left_mid_upload(f);
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
        assert_left_mid_upload(f);
    } else {
        assert_false(left);
        f->tun.mux->vt->on_drain(f->tun.mux);
        wait_body_fin(f); /* the whole body goes on */
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

/* A client that takes nothing of a large answer (the agent fills the window): let go in about
 * a second (the stream cancelled, the connection freed with what waited for it), by
 * --send-timeout 1, or (half_closed: its FIN after the request, --send-timeout 0) by
 * --half-close-timeout 1 within a period or two. */
static void client_that_takes_nothing_goes(fixture *f, bool half_closed)
{
    capture_log(f);
    f->cfg.send_timeout = half_closed ? 0 : 1;
    f->cfg.half_close_timeout = half_closed ? 1 : 0;
    connect_client(f);
    get(f, "GET", "/big", "HTTP/1.1", NULL);
    uint32_t sid = open_sid(f);
    if (half_closed)
        shutdown(f->cl, SHUT_WR);
    agent_s(f, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n");
    char block[65536];
    memset(block, 'd', sizeof block);
    for (int i = 0; i < 4; i++) /* the window: more than the socket takes */
        agent(f, TTF_DATA, 0, sid, block, sizeof block);
    uint64_t t0 = clock_now_ms();
    uint64_t end = t0 + 5000;
    while (clock_now_ms() < end && pconn_count(&f->srv) > 0) { /* the client reads nothing */
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
    assert_int_equal(pconn_count(&f->srv), 0);
    assert_true(clock_now_ms() - t0 >= 900);
    assert_cancelled(f);
    assert_non_null(strstr(logged(f), "GET /big 200 "));
    end_log(f);
}

/* --send-timeout: a client that takes nothing of its answer for that long is let go: it held its
 * stream, and a place under --max-streams-per-agent, for as long as it kept the socket. */
static void send_timeout_lets_a_client_that_takes_nothing_go(void **state)
{
    client_that_takes_nothing_goes(*state, false);
}

/* A FIN after the whole request, then nothing toward the client for --half-close-timeout (1 s):
 * a departure (HAProxy's timeout client-fin), the stream cancelled, 499 logged when no head went
 * out (with_head false), else the head's status. The head written after the FIN restarts the
 * count. It was held until --request-timeout, or once a head went out for ever. */
static void half_closed_then_silent(fixture *f, bool with_head)
{
    capture_log(f);
    f->cfg.half_close_timeout = 1;
    connect_client(f);
    get(f, "GET", "/events", "HTTP/1.1", NULL);
    uint32_t sid = open_sid(f);
    shutdown(f->cl, SHUT_WR);
    uint64_t t0 = clock_now_ms();
    if (with_head) {
        run_until(f, have_reset, 500); /* half the period: the head restarts it */
        assert_false(have_reset(f));
        t0 = clock_now_ms();
        agent_s(f, TTF_RESPONSE, 0, sid,
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                "Transfer-Encoding: chunked\r\n\r\n");
        agent_s(f, TTF_DATA, 0, sid, "data: hello\n\n");
    }
    uint64_t end = t0 + 3000;
    while (clock_now_ms() < end && pconn_count(&f->srv) > 0) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
    assert_int_equal(pconn_count(&f->srv), 0);
    assert_true(clock_now_ms() - t0 >= 900);
    assert_cancelled(f);
    assert_non_null(strstr(logged(f), with_head ? "GET /events 200 " : "GET /events 499 "));
    end_log(f);
}

static void half_closed_and_no_head_is_499(void **state)
{
    half_closed_then_silent(*state, false);
}

static void half_closed_silent_stream_is_cancelled(void **state)
{
    half_closed_then_silent(*state, true);
}

/* A FIN after the whole request, then the client takes nothing of its answer, --send-timeout
 * 0: octets waiting in its output restarted --half-close-timeout at every look, and it was held
 * for ever. Now only octets taken do. */
static void half_closed_client_that_takes_nothing_goes(void **state)
{
    client_that_takes_nothing_goes(*state, true);
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
    busy_then_freed(f, first, open_sid(f), "busy");
    end_log(f);
}

/* The keep-alive idle time runs between requests, but a client may still be reading the last
 * answer slowly when it ends (the agent sent it all; part waits in ttfd's output): such a client
 * is not idle, and gets the whole answer. The connection was closed at the idle time with the
 * rest unsent (the client saw the body end short). */
static void a_client_reading_its_last_answer_slowly_is_not_idle(void **state)
{
    fixture *f = *state;
    capture_log(f);
    f->cfg.keepalive_timeout = 1;
    connect_client(f);
    get(f, "GET", "/big", "HTTP/1.1", NULL);
    uint32_t sid = open_sid(f);
    const size_t body = TTF_BIN_INITIAL_WINDOW; /* the agent sends it all: more than the socket
                                                   takes (about 200 KiB) */
    char head[128];
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", body);
    agent_s(f, TTF_RESPONSE, 0, sid, head);
    static char block[65536];
    memset(block, 'd', sizeof block);
    for (size_t sent = 0; sent < body; sent += sizeof block)
        agent(f, TTF_DATA, sent + sizeof block >= body ? TTF_FLAG_FIN : 0, sid, block,
              sizeof block);
    char *got = malloc(body + 4096);
    size_t n = 0, head_len = 0;
    uint64_t end = clock_now_ms() + 3000;
    while (clock_now_ms() < end && !strstr(logged(f), "GET /big 200 ")) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
    assert_non_null(strstr(logged(f), "GET /big 200 ")); /* the exchange is over */
    int q = 0;
    while (clock_now_ms() < end && ioctl(f->cl, FIONREAD, &q) == 0 && q == 0) {
        event_base_loop(f->base, EVLOOP_NONBLOCK); /* the output leaves from the loop */
        usleep(1000);
    }
    /* the client reads a little at a time until what ttfd still holds is under PC_OUT_MARK
     * (ttfd reads the connection again, so the idle time runs), but not nothing */
    size_t held = 0;
    do {
        ssize_t r = read(f->cl, got + n, 4096);
        assert_true(r > 0);
        n += (size_t)r;
        got[n] = '\0';
        char *e = head_len ? NULL : strstr(got, "\r\n\r\n");
        if (e)
            head_len = (size_t)(e + 4 - got);
        for (int i = 0; i < 5; i++) {
            event_base_loop(f->base, EVLOOP_NONBLOCK);
            usleep(1000);
        }
        assert_int_equal(ioctl(f->cl, FIONREAD, &q), 0);
        held = head_len + body - n - (size_t)q;
    } while (!head_len || held > PC_OUT_MARK);
    assert_true(held > 0);       /* else the test cannot tell */
    end = clock_now_ms() + 1600; /* past the idle time, the client reading nothing */
    while (clock_now_ms() < end) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
    end = clock_now_ms() + 3000;
    while (n < head_len + body && clock_now_ms() < end) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        ssize_t r = read(f->cl, got + n, head_len + body - n);
        if (r == 0)
            break; /* closed: the rest is lost */
        if (r > 0)
            n += (size_t)r;
        else
            usleep(1000);
    }
    assert_int_equal(n, head_len + body);
    assert_int_equal(pconn_count(&f->srv), 1); /* kept alive for the next request */
    free(got);
    end_log(f);
}

int main(void)
{
    conn_process_init(); /* SIGPIPE ignored: the tests write to connections ttfd closed */
    const struct CMUnitTest tests[] = {
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
        cmocka_unit_test_setup_teardown(half_closed_and_no_head_is_499, setup, teardown),
        cmocka_unit_test_setup_teardown(half_closed_silent_stream_is_cancelled, setup, teardown),
        cmocka_unit_test_setup_teardown(half_closed_client_that_takes_nothing_goes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stream_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(a_client_reading_its_last_answer_slowly_is_not_idle, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
