/* SPDX-License-Identifier: MIT */
/* test_conn_watch.c - lib/conn's watch for the peer's close while reading is off
 * (conn_watch_close, conn_watch.c): a FIN is RDHUP with the bytes still queued, a reset is ERROR
 * (after a FIN told too), bytes waiting alone are no close, a close seen while reading and met by
 * a later pause, TLS (close_notify, then the FIN), freeing inside the report, many peers leaving
 * at once (one of them freeing others), the watch turned on after the FIN came. Without the watch
 * a connection that does not read hears nothing (the gap it closes). */
#include "conn_fixture.h"

#include <sys/ioctl.h>

#define QUIET_MS 300 /* "nothing happens" checks */

static bool b_rdhup(fixture *f)
{
    return (f->b.events & (CONN_EV_RDHUP | CONN_EV_ERROR | CONN_EV_EOF)) != 0;
}

static bool b_freed_or_event(fixture *f)
{
    return f->b.c == NULL || b_rdhup(f);
}

/* b watches and does not read; a sends n bytes of a pattern. */
static void paused_pair(fixture *f, size_t n)
{
    plain_pair(f);
    conn_watch_close(f->b.c, true);
    conn_read(f->b.c, false);
    uint8_t *data = malloc(n ? n : 1);
    fill_pattern(data, n, 3);
    conn_write(f->a.c, data, n);
    free(data);
    conn_loop_flush(f->loop);
}

/* b, on a TCP connection from a raw socket (returned), watches and does not read. */
static int watched_raw_peer(fixture *f)
{
    int peer = raw_peer(f, 0, 0);
    conn_watch_close(f->b.c, true);
    conn_read(f->b.c, false);
    return peer;
}

/* The peer sends, then half-closes: RDHUP (not EOF, not ERROR) with its bytes still queued;
 * reading again delivers all of them, then the EOF. */
static void test_fin_while_paused_is_rdhup(void **state)
{
    fixture *f = *state;
    paused_pair(f, 1000);
    conn_shutdown(f->a.c);
    run_until(f, b_rdhup);
    assert_int_equal(f->b.events, CONN_EV_RDHUP);
    assert_int_equal(conn_queued_in(f->b.c), 1000);
    assert_int_equal(evbuffer_get_length(f->b.got), 0);
    run_for(f, QUIET_MS); /* once */
    assert_int_equal(f->b.events, CONN_EV_RDHUP);
    conn_read(f->b.c, true);
    run_until(f, b_eof);
    check_pattern(f->b.got, 1000, 3);
}

/* The gap the watch closes: a connection that does not read hears nothing of the FIN. */
static void test_fin_while_paused_is_unnoticed_without_the_watch(void **state)
{
    fixture *f = *state;
    paused_pair(f, 1000);
    conn_watch_close(f->b.c, false);
    conn_shutdown(f->a.c);
    run_for(f, QUIET_MS);
    assert_int_equal(f->b.events, 0);
}

/* Bytes waiting (a pipelined request) are no close, however long they wait. */
static void test_bytes_waiting_are_no_close(void **state)
{
    fixture *f = *state;
    paused_pair(f, 5000);
    run_for(f, QUIET_MS);
    assert_int_equal(f->b.events, 0);
    assert_int_equal(conn_queued_in(f->b.c), 5000);
}

/* A reset (SO_LINGER 0) with bytes queued: ERROR, ECONNRESET, at once. */
static void test_reset_while_paused_is_error(void **state)
{
    fixture *f = *state;
    int peer = watched_raw_peer(f);
    assert_int_equal(write(peer, "POST / HTTP/1.1\r\n", 17), 17);
    run_for(f, 50);
    reset_close(peer);
    run_until(f, b_rdhup);
    assert_int_equal(f->b.events, CONN_EV_ERROR);
    assert_int_equal(conn_error(f->b.c), ECONNRESET);
}

/* A half-close first (RDHUP, told once), then the peer closes for good with a reset, reading
 * still off: the reset is ERROR as it comes (after the FIN it was never told, and a client that
 * half-closed then gave up held its exchange until a timeout). */
static void test_reset_after_a_fin_told_is_error(void **state)
{
    fixture *f = *state;
    int peer = watched_raw_peer(f);
    assert_int_equal(write(peer, "GET / HTTP/1.1\r\n\r\n", 18), 18);
    shutdown(peer, SHUT_WR);
    run_until(f, b_rdhup);
    assert_int_equal(f->b.events, CONN_EV_RDHUP);
    reset_close(peer);
    run_until(f, b_error);
    assert_int_equal(conn_error(f->b.c), EPIPE); /* Linux's tcp_reset in CLOSE_WAIT */
}

/* A unix peer that closes with our bytes unread: its reset (ECONNRESET) while we do not read. */
static void test_unix_close_with_unread_bytes_is_error(void **state)
{
    fixture *f = *state;
    paused_pair(f, 10);
    conn_write(f->b.c, "answer", 6); /* a never reads it */
    conn_loop_flush(f->loop);
    conn_free(f->a.c);
    f->a.c = NULL;
    run_until(f, b_rdhup);
    assert_int_equal(f->b.events, CONN_EV_ERROR);
    assert_int_equal(conn_error(f->b.c), ECONNRESET);
}

/* The FIN arrives while b reads; b stops at its input cap before meeting it: RDHUP then. */
static void test_fin_seen_while_reading_then_paused(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    conn_watch_close(f->b.c, true);
    f->b.keep_input = true;
    conn_set_in_max(f->b.c, 10000);
    size_t n = 100000;
    uint8_t *data = malloc(n);
    fill_pattern(data, n, 4);
    conn_write(f->a.c, data, n);
    free(data);
    conn_shutdown(f->a.c);
    run_until(f, b_rdhup);
    assert_int_equal(f->b.events, CONN_EV_RDHUP);
    assert_int_equal(evbuffer_get_length(conn_in(f->b.c)) + conn_queued_in(f->b.c), n);
    f->b.keep_input = false;
    evbuffer_add_buffer(f->b.got, conn_in(f->b.c));
    run_until(f, b_eof);
    check_pattern(f->b.got, n, 4);
}

/* The watch turned on after the FIN came: reported at once. */
static void test_watch_after_the_fin(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    conn_read(f->b.c, false);
    conn_shutdown(f->a.c);
    run_for(f, 50);
    assert_int_equal(f->b.events, 0);
    conn_watch_close(f->b.c, true);
    run_until(f, b_rdhup);
    assert_int_equal(f->b.events, CONN_EV_RDHUP);
}

static void test_free_inside_rdhup(void **state)
{
    fixture *f = *state;
    paused_pair(f, 100);
    f->b.free_on_event = true;
    conn_shutdown(f->a.c);
    run_until(f, b_freed_or_event);
    assert_null(f->b.c);
    assert_int_equal(f->b.events, CONN_EV_RDHUP);
    run_for(f, 50);
}

/* TLS: the peer's close_notify and FIN while the server does not read; the queued ciphertext
 * counts (an upper bound of the plain bytes). */
static void test_tls_close_while_paused_is_rdhup(void **state)
{
    fixture *f = *state;
    tcp_pair(f, true, f->cli_ctx);
    conn_watch_close(f->b.c, true);
    conn_read(f->b.c, false);
    run_until(f, a_connected);
    assert_true(f->a.events & CONN_EV_CONNECTED);
    conn_write(f->a.c, "GET / HTTP/1.1\r\n", 16);
    conn_shutdown(f->a.c);
    run_until(f, b_rdhup);
    assert_int_equal(f->b.events, CONN_EV_RDHUP);
    assert_true(conn_queued_in(f->b.c) >= 16);
    conn_read(f->b.c, true);
    run_until(f, b_eof);
    assert_int_equal(evbuffer_get_length(f->b.got), 16);
}

/* The decrypted-ahead octets are bounded over the loop (conn_loop_set_tls_ahead_max): past the
 * budget the queue stays ciphertext (no peek, judged as before), and reading still hands every
 * octet out, in order. Without the budget all 100 kB were decrypted at the FIN (peeked whole). */
static void test_tls_ahead_is_bounded_by_the_loop_s_budget(void **state)
{
    fixture *f = *state;
    conn_loop_set_tls_ahead_max(f->loop, 32 * 1024);
    tcp_pair(f, true, f->cli_ctx);
    conn_watch_close(f->b.c, true);
    conn_read(f->b.c, false);
    run_until(f, a_connected);
    size_t n = 100000;
    uint8_t *data = malloc(n);
    fill_pattern(data, n, 5);
    conn_write(f->a.c, data, n);
    conn_shutdown(f->a.c);
    run_until(f, b_rdhup);
    assert_int_equal(f->b.events, CONN_EV_RDHUP);
    assert_true(conn_queued_in(f->b.c) >= n);
    assert_int_equal(conn_peek_queued(f->b.c, data, n), -1);
    free(data);
    conn_read(f->b.c, true);
    run_until(f, b_eof);
    check_pattern(f->b.got, n, 5);
}

/* conn_set_unsent_max: toward a peer that reads nothing, the kernel keeps about that much and the
 * rest waits in conn_out; without it the send buffer grows to megabytes. */
static size_t kernel_kept(fixture *f, size_t unsent_max)
{
    int peer = raw_peer(f, 4096, 0);
    int sfd = conn_fd(f->b.c);
    if (unsent_max)
        conn_set_unsent_max(f->b.c, unsent_max);
    size_t n = 8 << 20;
    uint8_t *data = calloc(1, n);
    conn_write(f->b.c, data, n);
    free(data);
    run_for(f, 500); /* the kernel takes what it will */
    int queued = 0;
    assert_int_equal(ioctl(sfd, TIOCOUTQ, &queued), 0);
    assert_true((size_t)queued + conn_out_len(f->b.c) <= n); /* the peer took a few KiB */
    conn_free(f->b.c);
    f->b.c = NULL;
    close(peer);
    return (size_t)queued;
}

static void test_unsent_max_bounds_the_kernel_s_share(void **state)
{
    fixture *f = *state;
    size_t bounded = kernel_kept(f, 64 << 10);
    size_t grown = kernel_kept(f, 0);
    print_message("kernel queue toward a peer reading nothing: %zu KiB with a 64 KiB unsent "
                  "max, %zu KiB without\n",
                  bounded >> 10, grown >> 10);
    assert_true(bounded <= (192u << 10)); /* 64 KiB, one skb (64 KiB) more, in flight */
    assert_true(grown > bounded);         /* 2.9 MiB here: tcp_wmem lets it grow to 4 MiB */
}

/* ---- many at once ---- */

#define MANY 100

typedef struct many {
    conn *srv[MANY];
    int cli[MANY];
    int told[MANY];
    int freed_by_other;
} many;

static many *g_many;

static void many_read(conn *c, void *ud)
{
    (void)c;
    (void)ud;
}

/* Each report frees its connection and the next two still open: reports already due for them
 * must not reach freed memory. */
static void many_event(conn *c, void *ud, int what)
{
    (void)c;
    many *m = g_many;
    int i = (int)(intptr_t)ud;
    m->told[i] |= what;
    conn_free(m->srv[i]);
    m->srv[i] = NULL;
    for (int k = 1, freed = 0; k < MANY && freed < 2; k++) {
        int j = (i + k) % MANY;
        if (m->srv[j]) {
            conn_free(m->srv[j]);
            m->srv[j] = NULL;
            m->freed_by_other++;
            freed++;
        }
    }
}

static const conn_cbs MANY_CBS = {many_read, NULL, many_event};

static bool all_gone(fixture *f)
{
    (void)f;
    for (int i = 0; i < MANY; i++)
        if (g_many->srv[i])
            return false;
    return true;
}

static void test_many_leave_at_once(void **state)
{
    fixture *f = *state;
    many *m = calloc(1, sizeof *m);
    g_many = m;
    for (int i = 0; i < MANY; i++) {
        int fds[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
        nonblock(fds[0]);
        m->cli[i] = fds[1];
        m->srv[i] = conn_new(f->loop, fds[0], NULL, &MANY_CBS, (void *)(intptr_t)i);
        conn_watch_close(m->srv[i], true);
        conn_read(m->srv[i], false);
        assert_int_equal(write(fds[1], "x", 1), 1);
    }
    run_for(f, 20);
    for (int i = 0; i < MANY; i++)
        shutdown(m->cli[i], SHUT_WR);
    run_until(f, all_gone);
    int told = 0;
    for (int i = 0; i < MANY; i++) {
        assert_true(m->told[i] == 0 || m->told[i] == CONN_EV_RDHUP);
        told += m->told[i] != 0;
        close(m->cli[i]);
    }
    assert_int_equal(told + m->freed_by_other, MANY);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fin_while_paused_is_rdhup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fin_while_paused_is_unnoticed_without_the_watch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bytes_waiting_are_no_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_while_paused_is_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_after_a_fin_told_is_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unix_close_with_unread_bytes_is_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fin_seen_while_reading_then_paused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_after_the_fin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_inside_rdhup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_close_while_paused_is_rdhup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_ahead_is_bounded_by_the_loop_s_budget, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unsent_max_bounds_the_kernel_s_share, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_leave_at_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
