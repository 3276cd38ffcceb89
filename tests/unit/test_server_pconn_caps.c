/* SPDX-License-Identifier: MIT */
/* ttfd --max-streams (server/mux.h mux_budget, server/pconn_xchg.c): a public request past the
 * server-wide limit gets the per-agent limit's 503 with Retry-After at once, never reaches the
 * agent, is logged `refused: server_busy` with a warning naming the flag; when a stream ends,
 * its place is given back and the next request goes through. */
#include "pconn_fixture.h"

#include <string.h>
#include <unistd.h>

static void past_the_server_limit_a_503_at_once(void **state)
{
    fixture *f = *state;
    capture_log(f);
    f->srv.streams.max = 1;
    mux_set_budget(f->tun.mux, &f->srv.streams); /* as session_accept does */
    connect_client(f);
    int first = f->cl;
    get(f, "GET", "/slow", "HTTP/1.1", NULL);
    uint32_t sid = open_sid(f);
    assert_int_equal(f->srv.streams.open, 1);
    connect_client(f);
    client_sends(f, "GET /more HTTP/1.1\r\nHost: ");
    client_sends(f, f->host);
    client_sends(f, "\r\n\r\n");
    wait_eof(f, 2000);
    assert_non_null(strstr(f->in, "HTTP/1.1 503 Service Unavailable\r\n"));
    assert_non_null(strstr(f->in, "Retry-After: 1\r\n"));
    assert_non_null(strstr(f->in, "\r\n\r\n" MUX_BUSY_TEXT "\n"));
    assert_int_equal(f->link.n, 1); /* only the first request's OPEN */
    assert_non_null(strstr(logged(f), "GET /more 503 "));
    assert_non_null(strstr(logged(f), "refused: server_busy"));
    assert_non_null(strstr(logged(f), "--max-streams:"));
    close(f->cl);
    /* the first ends: its place is given back, a new request goes through */
    f->cl = first;
    agent_s(f, TTF_RESPONSE, TTF_FLAG_FIN, sid, "HTTP/1.1 204 No Content\r\n\r\n");
    wait_text(f, "204 No Content");
    f->in_len = 0;
    f->in[0] = '\0';
    get(f, "GET", "/next", "HTTP/1.1", NULL);
    assert_int_equal(f->link.n, 2);
    end_log(f);
}

int main(void)
{
    conn_process_init(); /* SIGPIPE ignored: the tests write to connections ttfd closed */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(past_the_server_limit_a_503_at_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
