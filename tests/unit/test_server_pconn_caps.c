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
    assert_int_equal(f->srv.streams.open, 1);
    busy_then_freed(f, first, open_sid(f), "server_busy"); /* the place given back at the end */
    assert_non_null(strstr(logged(f), "--max-streams:"));
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
