/* SPDX-License-Identifier: MIT */
/* test_conn.c - lib/conn over socketpairs and loopback TCP, plain (conn_fixture.h): output waits
 * for the end of the loop pass, large transfers with partial writes, backpressure (conn_read,
 * in_max), EOF and half-close, write errors, freeing from inside callbacks (itself and another
 * connection), idle and deadline timers, trigger_read, connect (refusal, fallback to the next
 * address), the release hook. The TLS tests are in test_conn_tls.c. */
#include "conn_fixture.h"

#include <locale.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>

/* ---- tests ---- */

static void test_output_waits_for_end_of_pass(void **state)
{
    fixture *f = *state;
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    nonblock(fds[0]);
    nonblock(fds[1]);
    f->a.c = conn_new(f->loop, fds[0], NULL, &CBS, &f->a);
    conn_write(f->a.c, "hello ", 6);
    evbuffer_add_printf(conn_out(f->a.c), "world");
    char buf[64];
    assert_int_equal(read(fds[1], buf, sizeof buf), -1); /* nothing written yet */
    assert_int_equal(errno, EAGAIN);
    conn_loop_flush(f->loop); /* what the end of the pass does */
    ssize_t n = read(fds[1], buf, sizeof buf);
    assert_int_equal(n, 11); /* both pieces in one write */
    assert_memory_equal(buf, "hello world", 11);
    assert_int_equal(conn_out_len(f->a.c), 0);
    close(fds[1]);
}

static void test_big_transfer_plain(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    int small = 4096;
    setsockopt(conn_fd(f->a.c), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    big_transfer(f);
}

static void test_backpressure_plain(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    backpressure(f);
}

/* in_max: the input never holds more; consuming it resumes reading. */
static void test_in_max(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    in_max(f, 200000, 5);
}

static void test_half_close_plain(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    half_close(f);
}

static void test_write_error(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    conn_free(f->b.c);
    f->b.c = NULL;
    conn_write(f->a.c, "into the void", 13);
    run_until(f, a_eof);
    assert_true(f->a.events & CONN_EV_ERROR);
    assert_int_equal(conn_error(f->a.c), EPIPE);
    char buf[64];
    assert_non_null(strstr(conn_strerror(f->a.c, buf, sizeof buf), "pipe"));
}

static int g_drains_before;
static bool b_drained_again(fixture *f)
{
    return f->b.drains > g_drains_before;
}

static bool b_write_failed(fixture *f)
{
    return (f->b.events & CONN_EV_ERROR) || conn_write_ended(f->b.c);
}

/* The peer of b (a raw socket) answers `answer` bytes to output it never reads, waits until our
 * kernel took all of them, and resets (SO_LINGER 0); b has reading off and output pending, so
 * its write fails with the answer still queued in its socket. */
static void reset_with_answer_queued(fixture *f, bool read_after_reset, size_t answer)
{
    int small = 4096;
    int peer = raw_peer(f, small, 4 << 20); /* the whole answer fits b's receive buffer */
    setsockopt(conn_fd(f->b.c), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    conn_set_read_after_reset(f->b.c, read_after_reset);
    conn_read(f->b.c, false);
    size_t upload = (size_t)1 << 20; /* output the peer never reads */
    uint8_t *data = malloc(answer > upload ? answer : upload);
    assert_non_null(data);
    memset(data, 'u', upload);
    conn_write(f->b.c, data, upload);
    conn_loop_flush(f->loop);
    assert_true(conn_out_len(f->b.c) > 0);
    fill_pattern(data, answer, 9);
    for (size_t off = 0; off < answer;) { /* blocking: b's kernel takes it all */
        ssize_t n = write(peer, data + off, answer - off);
        assert_true(n > 0);
        off += (size_t)n;
    }
    free(data);
    uint64_t end = clock_now_ms() + WAIT_MS;
    int unsent = 1;
    while (ioctl(peer, TIOCOUTQ, &unsent) == 0 && unsent > 0 && clock_now_ms() < end)
        usleep(1000);
    assert_int_equal(unsent, 0);
    reset_close(peer);
    run_until(f, b_write_failed);
}

/* An early answer of 3 MiB, then a reset: the owner that asked reads all of it when it likes,
 * then ERROR (ECONNRESET). Output is dropped from then on, with on_drain for an owner waiting
 * for room. Before, at most 1 MiB was read right at the failure and the rest was lost. */
static void test_reset_with_answer_queued_reads_it_whole(void **state)
{
    fixture *f = *state;
    size_t answer = 3 << 20;
    reset_with_answer_queued(f, true, answer);
    assert_false(f->b.events & CONN_EV_ERROR);
    assert_true(conn_write_ended(f->b.c));
    assert_int_equal(conn_out_len(f->b.c), 0);
    assert_true(f->b.drains > 0);
    g_drains_before = f->b.drains;
    conn_write(f->b.c, "more", 4); /* dropped, and reported as room */
    run_until(f, b_drained_again);
    assert_int_equal(evbuffer_get_length(f->b.got), 0); /* reading is still the owner's call */
    conn_read(f->b.c, true);
    run_until(f, b_error);
    check_pattern(f->b.got, answer, 9);
    assert_false(f->b.events & CONN_EV_EOF); /* a reset, not an end */
    assert_true(conn_error(f->b.c) == ECONNRESET || conn_error(f->b.c) == EPIPE);
}

/* Without conn_set_read_after_reset the failed write is ERROR at once (an owner that paused
 * reading but writes on, such as ttfd streaming to a client that left, must hear of it). */
static void test_reset_with_answer_queued_fails_at_once_by_default(void **state)
{
    fixture *f = *state;
    reset_with_answer_queued(f, false, 256 << 10);
    assert_true(f->b.events & CONN_EV_ERROR);
    assert_false(conn_write_ended(f->b.c));
}

static void test_free_inside_on_read(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    f->b.free_on_read = true;
    conn_write(f->a.c, "bye", 3);
    run_until(f, b_read_once);
    assert_null(f->b.c);
    /* the other end sees the socket closed */
    run_until(f, a_eof);
}

static void test_free_inside_on_drain(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    f->a.free_on_drain = true;
    conn_write(f->a.c, "data", 4);
    run_until(f, a_freed);
    g_want = 4;
    run_until(f, b_got_want);
    run_until(f, b_eof);
}

static void test_free_inside_on_event(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    f->a.free_on_event = true;
    conn_free(f->b.c);
    f->b.c = NULL;
    run_until(f, a_freed);
    assert_true(f->a.events & CONN_EV_EOF);
}

/* Freeing another connection that waits on the pending list, from a callback that runs earlier
 * in the same flush: the flush goes on without it, and its output is never written. */
static void test_free_other_pending(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    nonblock(fds[0]);
    side third = {.got = evbuffer_new()};
    conn *c3 = conn_new(f->loop, fds[0], NULL, &CBS, &third);
    conn_write(f->a.c, "go", 2);      /* a is first on the pending list */
    conn_write(c3, "never sent", 10); /* c3 after it */
    f->a.free_other = &c3;            /* a's on_drain frees c3 */
    conn_loop_flush(f->loop);
    assert_null(c3);
    assert_int_equal(f->a.drains, 1);
    char buf[16];
    assert_int_equal(read(fds[1], buf, sizeof buf), 0); /* closed, nothing written */
    g_want = 2;
    run_until(f, b_got_want);
    close(fds[1]);
    evbuffer_free(third.got);
}

static void test_idle_timer(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    conn_set_idle(f->a.c, 50);
    run_until(f, a_idle);
    /* reading off: no idle report */
    f->a.events = 0;
    conn_read(f->a.c, false);
    run_for(f, 200);
    assert_false(f->a.events & CONN_EV_IDLE);
    /* input keeps it from firing */
    conn_read(f->a.c, true);
    conn_set_idle(f->a.c, 300);
    for (int i = 0; i < 6; i++) {
        conn_write(f->b.c, "k", 1);
        run_for(f, 100);
    }
    assert_false(f->a.events & CONN_EV_IDLE);
    run_until(f, a_idle);
}

static bool a_read_some(fixture *f)
{
    return f->a.reads > 0 || (f->a.events & CONN_EV_IDLE);
}

/* The loop does not run for longer than the idle time (a stopped or starved process) while the
 * peer's bytes arrive: when it runs again, they are read and no IDLE is reported. */
static void test_idle_timer_with_input_waiting(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    conn_set_idle(f->a.c, 50);
    conn_loop_flush(f->loop);
    conn_write(f->b.c, "late", 4);
    conn_loop_flush(f->loop);
    usleep(150 * 1000);
    f->a.reads = 0;
    f->a.events = 0;
    run_until(f, a_read_some);
    assert_false(f->a.events & CONN_EV_IDLE);
    assert_true(f->a.reads > 0);
    run_until(f, a_idle); /* idle again after it */
}

static void test_deadline(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    conn_set_deadline(f->a.c, 50);
    run_until(f, a_deadline);
    f->a.events = 0;
    conn_set_deadline(f->a.c, 50);
    conn_set_deadline(f->a.c, 0); /* cancelled */
    run_for(f, 200);
    assert_false(f->a.events & CONN_EV_DEADLINE);
}

/* The deadline is lazy (a later one leaves the armed timer alone, a cancel only forgets the
 * time): a deadline moved later fires at the later time, not the first; one set after a
 * cancelled later one fires at its own, earlier, time; each fires once. */
static void test_deadline_moves(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    uint64_t t0 = clock_now_ms();
    conn_set_deadline(f->a.c, 40);
    conn_set_deadline(f->a.c, 250); /* moved later */
    run_until(f, a_deadline);
    assert_true(clock_now_ms() - t0 >= 240);
    f->a.events = 0;
    conn_set_deadline(f->a.c, 5000);
    conn_set_deadline(f->a.c, 0);
    t0 = clock_now_ms();
    conn_set_deadline(f->a.c, 40); /* earlier than the timer armed for 5 s */
    run_until(f, a_deadline);
    assert_true(clock_now_ms() - t0 < 2000);
    f->a.events = 0;
    run_for(f, 120);
    assert_false(f->a.events & CONN_EV_DEADLINE); /* once */
}

static void test_trigger_read(void **state)
{
    fixture *f = *state;
    plain_pair(f);
    f->b.keep_input = true;
    conn_write(f->a.c, "two requests", 12);
    run_until(f, b_read_once);
    conn_read(f->b.c, false);
    int before = f->b.reads;
    run_for(f, 50);
    assert_int_equal(f->b.reads, before);
    f->b.keep_input = false;
    conn_trigger_read(f->b.c);            /* buffered input, no new bytes */
    assert_int_equal(f->b.reads, before); /* never inside the call */
    run_until(f, b_got_want);
    assert_int_equal(f->b.reads, before + 1);
    assert_int_equal(evbuffer_get_length(f->b.got), 12);
}

static void test_connect_refused(void **state)
{
    fixture *f = *state;
    struct addrinfo ai;
    struct sockaddr_in sin;
    int lfd = listener(&ai, &sin);
    close(lfd); /* nobody listens there now */
    int err = 0;
    f->a.c = conn_connect(f->loop, &ai, NULL, 5000, &CBS, &f->a, &err);
    assert_non_null(f->a.c);
    assert_int_equal(f->a.events, 0); /* reported from the loop only */
    run_until(f, a_connected);
    assert_int_equal(f->a.events, CONN_EV_ERROR);
    assert_int_equal(conn_error(f->a.c), ECONNREFUSED);
}

static void test_connect_falls_back(void **state)
{
    fixture *f = *state;
    struct addrinfo dead, live;
    struct sockaddr_in dsin, lsin;
    close(listener(&dead, &dsin));
    int lfd = listener(&live, &lsin);
    dead.ai_next = &live;
    int err = 0;
    f->a.c = conn_connect(f->loop, &dead, NULL, 5000, &CBS, &f->a, &err);
    assert_non_null(f->a.c);
    conn_write(f->a.c, "early", 5); /* waits for the connect */
    run_until(f, a_connected);
    assert_int_equal(f->a.events, CONN_EV_CONNECTED);
    int sfd = accept(lfd, NULL, NULL);
    nonblock(sfd);
    f->b.c = conn_new(f->loop, sfd, NULL, &CBS, &f->b);
    g_want = 5;
    run_until(f, b_got_want);
    assert_memory_equal(evbuffer_pullup(f->b.got, -1), "early", 5);
    close(lfd);
}

static void count_release(void *ud)
{
    (*(int *)ud)++;
}

/* The loop's release hook runs once per closed socket (a paused listener resumes on it). */
static void test_release_hook(void **state)
{
    fixture *f = *state;
    int released = 0;
    conn_loop_on_release(f->loop, count_release, &released);
    plain_pair(f);
    conn_free(f->a.c);
    f->a.c = NULL;
    assert_int_equal(released, 1);
    f->b.free_on_event = true; /* freed inside its EOF callback */
    run_until(f, b_freed);
    assert_int_equal(released, 2);
}

/* After conn_process_init the thread runs in glibc's static "C" locale object, which duplocale
 * and newlocale hand back without copying (what json-c's parser does around every text), and
 * numbers still print in the C locale. */
static void test_process_locale(void **state)
{
    (void)state;
    conn_process_init();
    locale_t cur = uselocale((locale_t)0);
    assert_true(cur != LC_GLOBAL_LOCALE);
    locale_t dup = duplocale(cur);
    assert_true(dup == cur); /* no copy: the static object */
    locale_t num = newlocale(LC_NUMERIC_MASK, "C", dup);
    assert_true(num == cur);
    freelocale(num);
    char buf[16];
    snprintf(buf, sizeof buf, "%.1f", 0.5);
    assert_string_equal(buf, "0.5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_process_locale),
        cmocka_unit_test_setup_teardown(test_output_waits_for_end_of_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_transfer_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_close_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_with_answer_queued_reads_it_whole, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reset_with_answer_queued_fails_at_once_by_default,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_inside_on_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_inside_on_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_inside_on_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_other_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timer_with_input_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trigger_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_hook, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
