/* SPDX-License-Identifier: MIT */
/* ttfd --max-streams (server/mux.h mux_budget, server/pconn_xchg.c): a public request past the
 * server-wide limit gets the per-agent limit's 503 with Retry-After at once, never reaches the
 * agent, is logged `refused: server_busy` with a warning naming the flag; when a stream ends,
 * its place is given back and the next request goes through.
 * ttfd --max-connections (pconn_make_room, server/pconn.h): at the cap the public connections
 * that have waited longest for a request head are closed, kept-alive idle ones at once, others
 * (new ones, idle or in a head) once they waited cfg.head_grace_ms; requests in progress (a body
 * still uploading too) and the newest connection never. */
#include "pconn_fixture.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

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

/* ---- room at --max-connections ---- */

enum { KEPT_ALIVE, UPLOAD, LIVE, IDLE, HALF, NEWEST, NCLIENTS };

/* The client's end of the connection just made, now the test's. */
static int take_client(fixture *f)
{
    int fd = f->cl;
    f->cl = -1;
    return fd;
}

/* ttfd closed the connection (EOF or reset; what it sent before is read and dropped). */
static bool closed(int fd)
{
    char b[4096];
    for (;;) {
        ssize_t n = read(fd, b, sizeof b);
        if (n > 0)
            continue;
        return n == 0 || (n < 0 && errno == ECONNRESET);
    }
}

/* Waits until the clock moves on, so that what follows begins to wait later than what came
 * before (the waits are ordered by their start in ms). */
static void next_ms(void)
{
    uint64_t t = clock_now_ms();
    while (clock_now_ms() <= t)
        usleep(200);
}

/* Six public connections, in the order accepted: one whose request was answered (kept alive,
 * idle since after HALF came), a request whose body is half uploaded, a request waiting for its
 * answer, one that sent nothing, one that sent half a head, and the newest (half a head too). */
static void six_connections(fixture *f, int c[NCLIENTS])
{
    connect_client(f);
    get(f, "GET", "/ka", "HTTP/1.1", NULL);
    uint32_t ka = open_sid(f);
    c[KEPT_ALIVE] = take_client(f);
    connect_client(f);
    char head[256];
    snprintf(head, sizeof head, "POST /up HTTP/1.1\r\nHost: %s\r\nContent-Length: 10\r\n\r\n01234",
             f->host);
    size_t before = f->link.n;
    client_sends(f, head);
    wait_msgs(f, before + 2); /* its OPEN and the body's first DATA */
    c[UPLOAD] = take_client(f);
    connect_client(f);
    get(f, "GET", "/wait", "HTTP/1.1", NULL);
    c[LIVE] = take_client(f);
    next_ms();
    connect_client(f);
    c[IDLE] = take_client(f);
    next_ms();
    connect_client(f);
    client_sends(f, "GET /half HTTP/1.1\r\nHost: x\r\n");
    c[HALF] = take_client(f);
    next_ms();
    agent_s(f, TTF_RESPONSE, TTF_FLAG_FIN, ka, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    f->cl = c[KEPT_ALIVE];
    wait_text(f, "200 OK"); /* its answer out: it waits for its next head from now */
    take_client(f);
    next_ms();
    connect_client(f);
    client_sends(f, "GET /new HTTP/1.1\r\nHost: x\r\n");
    c[NEWEST] = take_client(f);
    run_until(f, have_eof, 0); /* one pass of the loop */
}

/* Which of them ttfd closed so far, one bit each. */
static unsigned closed_set(const int c[NCLIENTS])
{
    unsigned set = 0;
    for (int i = 0; i < NCLIENTS; i++)
        if (closed(c[i]))
            set |= 1u << i;
    return set;
}

/* The requests in progress are whole: the upload's rest reaches the agent. */
static void requests_went_on(fixture *f, int c[NCLIENTS])
{
    f->cl = c[UPLOAD];
    client_sends(f, "56789");
    wait_body_fin(f);
    take_client(f);
    for (int i = 0; i < NCLIENTS; i++)
        close(c[i]);
}

static void at_the_cap_the_longest_waiting_for_a_head_go_first(void **state)
{
    fixture *f = *state;
    f->cfg.head_grace_ms = 0;
    int c[NCLIENTS];
    six_connections(f, c);
    /* six open: one at a time (an eighth, at least one); by the start of their wait, not by
     * their accept: the kept-alive one began to wait last */
    pconn_make_room(&f->srv);
    assert_int_equal(closed_set(c), 1u << IDLE);
    pconn_make_room(&f->srv);
    assert_int_equal(closed_set(c), 1u << IDLE | 1u << HALF);
    pconn_make_room(&f->srv);
    assert_int_equal(closed_set(c), 1u << IDLE | 1u << HALF | 1u << KEPT_ALIVE);
    /* the newest waits too, but is the one room is made for; the others are requests */
    pconn_make_room(&f->srv);
    assert_int_equal(closed_set(c), 1u << IDLE | 1u << HALF | 1u << KEPT_ALIVE);
    assert_int_equal(pconn_count(&f->srv), 3);
    requests_went_on(f, c);
}

static void a_new_connection_has_its_grace_a_kept_alive_idle_one_none(void **state)
{
    fixture *f = *state;
    f->cfg.head_grace_ms = 60000;
    int c[NCLIENTS];
    six_connections(f, c);
    pconn_make_room(&f->srv);
    pconn_make_room(&f->srv);
    /* the kept-alive one goes; the new ones stay within their grace, whether they sent nothing
     * yet or half a head (a client that sends its head at once is never closed) */
    assert_int_equal(closed_set(c), 1u << KEPT_ALIVE);
    assert_int_equal(pconn_count(&f->srv), 5);
    requests_went_on(f, c);
}

int main(void)
{
    conn_process_init(); /* SIGPIPE ignored: the tests write to connections ttfd closed */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(past_the_server_limit_a_503_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(at_the_cap_the_longest_waiting_for_a_head_go_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_new_connection_has_its_grace_a_kept_alive_idle_one_none,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
