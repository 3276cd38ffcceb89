/* SPDX-License-Identifier: MIT */
/* test_agent_wire.c - the binary wire adapter (agent/wire_bin.c) through a real session over a
 * socketpair (agent_wire_fixture.h): the frames each exchange event becomes (RESPONSE/DATA/
 * TRAILERS/RESET and WINDOW credit), early answers, overruns, cancels both ways, local failures,
 * routing by tunnel index, a stream kept and reused. The JSON-mode tests are in
 * test_agent_wire_json.c. */
#include "agent_wire_fixture.h"

#include "hold.h"

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
    /* credit for what the local service took (batched: at least 16 KiB), back to the window */
    ttf_frame fr = next_frame(f);
    assert_int_equal(fr.type, TTF_WINDOW);
    assert_int_equal(fr.window, 40000);
    assert_true(fl_wait_text(&f->fl, 0, "\r\n\r\n9c40\r\nzzz", 3000));
    send_frame(f, TTF_DATA, 0, 3, "abc", 3);
    send_frame(f, TTF_TRAILERS, TTF_FLAG_FIN, 3, "X-Sum: 1\r\n\r\n", 12);
    assert_true(fl_wait_text(&f->fl, 0, "3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n", 3000));
    assert_non_null(strstr(f->fl.got[0], "Transfer-Encoding: chunked\r\n"));
    fl_send_str(&f->fl, 0, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    fr = next_frame(f);
    assert_int_equal(fr.type, TTF_RESPONSE);
    assert_int_equal(fr.flags, TTF_FLAG_FIN); /* no body */
    destroy(f);
}

/* ttfd took the first request window ttf asked for (connection_established.request_window =
 * HOLD_WINDOW_FIRST): the session does not shed (credit bounds what it holds, agent/hold.h), a
 * stream's window grows with its credit to binary mode's 256 KiB once the service took its body
 * (what ttf holds unwritten counts against it), and an ended stream leaves the totals. */
static void test_bin_asked_request_window(void **state)
{
    (void)state;
    fx *f = make(true);
    assert_true(next_msg(f)->text); /* ready */
    send_established(f, 0, HOLD_WINDOW_FIRST);
    for (int i = 0; i < 100 && !f->s->established; i++)
        fl_pass(&f->fl);
    assert_false(f->s->hold_shed);
    send_open(f, 3, 0, false, "POST /u HTTP/1.1\r\nHost: h\r\n\r\n");
    static uint8_t big[60000];
    memset(big, 'w', sizeof big);
    send_frame(f, TTF_DATA, 0, 3, big, 60000);
    /* credits until the service took it all: the window back at 256 KiB, none beyond */
    uint64_t credited = 0;
    while (credited < TTF_BIN_INITIAL_WINDOW - (HOLD_WINDOW_FIRST - 60000)) {
        ttf_frame fr = next_frame(f);
        assert_int_equal(fr.type, TTF_WINDOW);
        credited += fr.window;
    }
    assert_int_equal(credited, TTF_BIN_INITIAL_WINDOW - (HOLD_WINDOW_FIRST - 60000));
    assert_true(fl_wait_text(&f->fl, 0, "wwww", 3000));
    for (int i = 0; i < 20; i++)
        fl_pass(&f->fl);
    assert_int_equal(f->srv.n, f->seen); /* no more credit */
    assert_int_equal(f->s->hold.avail, TTF_BIN_INITIAL_WINDOW);
    send_frame(f, TTF_RESET, 0, 3, (uint8_t[]){TTF_RST_CANCEL}, 1);
    for (int i = 0; i < 100 && hmap_count(f->s->streams) > 0; i++)
        fl_pass(&f->fl);
    assert_int_equal(f->s->hold.uploads + f->s->hold.avail + f->s->hold.held, 0);
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

/* Stream 1 answers an endless chunked body (local connection 0); the server RESETs it (CANCEL)
 * after the first DATA, and the local connection is closed at once. */
static void cancel_mid_response(fx *f)
{
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
}

/* RESET from the server mid-response: the local connection is closed at once. */
static void test_bin_cancel(void **state)
{
    (void)state;
    fx *f = make(true);
    cancel_mid_response(f);
    assert_int_equal(hmap_count(f->s->streams), 0);
    destroy(f);
}

/* An ended stream is kept as a spare and the next OPEN takes it: the new stream's frames carry
 * its own id and octets only. */
static void test_bin_stream_reused(void **state)
{
    (void)state;
    fx *f = make(true);
    cancel_mid_response(f);
    assert_int_equal(f->s->spare_streams.n, 1);
    send_open(f, 3, 0, true, "GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_true(fl_wait_text(&f->fl, 1, "\r\n\r\n", 3000));
    assert_int_equal(f->s->spare_streams.n, 0); /* taken */
    fl_send_str(&f->fl, 1, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    ttf_frame fr = next_frame(f);
    assert_int_equal(fr.type, TTF_RESPONSE);
    assert_int_equal(fr.stream_id, 3);
    assert_int_equal(fr.flags, 0);
    fr = next_frame(f);
    assert_int_equal(fr.type, TTF_DATA);
    assert_int_equal(fr.stream_id, 3);
    assert_int_equal(fr.flags, TTF_FLAG_FIN);
    assert_int_equal(fr.len, 2);
    assert_memory_equal(fr.payload, "ok", 2);
    assert_int_equal(hmap_count(f->s->streams), 0);
    assert_int_equal(f->s->spare_streams.n, 1);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bin_response_frames),
        cmocka_unit_test(test_bin_request_framing_and_credit),
        cmocka_unit_test(test_bin_asked_request_window),
        cmocka_unit_test(test_bin_early_answer),
        cmocka_unit_test(test_bin_overrun_and_resets),
        cmocka_unit_test(test_bin_cancel),
        cmocka_unit_test(test_bin_stream_reused),
        cmocka_unit_test(test_bin_failures),
        cmocka_unit_test(test_bin_routes_by_tunnel_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
