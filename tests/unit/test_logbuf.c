/* SPDX-License-Identifier: MIT */
/* test_logbuf.c - lib/logbuf: lines reach the fd at the end of the loop pass in one write, in
 * order; a backlog over the limit is written at once; logbuf_free writes what is pending. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "logbuf.h"

typedef struct fixture {
    struct event_base *base;
    int fds[2]; /* pipe: logbuf writes [1], the test reads [0] */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->base = event_base_new();
    assert_int_equal(pipe2(f->fds, O_NONBLOCK), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    close(f->fds[0]);
    close(f->fds[1]);
    event_base_free(f->base);
    free(f);
    return 0;
}

/* What the pipe holds now (NUL-terminated, static buffer). */
static const char *drain(fixture *f)
{
    static char buf[1 << 16];
    ssize_t n = read(f->fds[0], buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void test_lines_wait_for_the_end_of_the_pass(void **state)
{
    fixture *f = *state;
    logbuf *lb = logbuf_new(f->base, f->fds[1]);
    assert_non_null(lb);
    FILE *out = logbuf_file(lb);
    fprintf(out, "one\n");
    fflush(out);
    fprintf(out, "two\n");
    fflush(out);
    assert_string_equal(drain(f), ""); /* nothing written inside the pass */
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    assert_string_equal(drain(f), "one\ntwo\n");
    logbuf_free(lb);
}

/* logbuf_add (the tlog sink) and the stdio stream share one queue: lines keep their order, and
 * the flush is armed again in the pass after one ran. */
static void test_add_keeps_order_with_the_stream(void **state)
{
    fixture *f = *state;
    logbuf *lb = logbuf_new(f->base, f->fds[1]);
    FILE *out = logbuf_file(lb);
    logbuf_add(lb, "one\n", 4);
    fprintf(out, "two\n");
    fflush(out);
    logbuf_add(lb, "three\n", 6);
    assert_string_equal(drain(f), "");
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    assert_string_equal(drain(f), "one\ntwo\nthree\n");
    logbuf_add(lb, "four\n", 5);
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    assert_string_equal(drain(f), "four\n");
    logbuf_free(lb);
}

static void test_free_writes_pending_lines(void **state)
{
    fixture *f = *state;
    logbuf *lb = logbuf_new(f->base, f->fds[1]);
    fprintf(logbuf_file(lb), "last words\n");
    fflush(logbuf_file(lb));
    logbuf_free(lb); /* no loop pass ran */
    assert_string_equal(drain(f), "last words\n");
}

static void test_big_backlog_is_written_at_once(void **state)
{
    fixture *f = *state;
    /* a pipe that holds the whole backlog */
    fcntl(f->fds[1], F_SETPIPE_SZ, 4 << 20);
    logbuf *lb = logbuf_new(f->base, f->fds[1]);
    FILE *out = logbuf_file(lb);
    char line[1024];
    memset(line, 'x', sizeof line - 2);
    line[sizeof line - 2] = '\n';
    line[sizeof line - 1] = '\0';
    for (int i = 0; i < 1100; i++) { /* > 1 MiB */
        fputs(line, out);
        fflush(out);
    }
    assert_true(strlen(drain(f)) > 0); /* written without a loop pass */
    logbuf_free(lb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lines_wait_for_the_end_of_the_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_keeps_order_with_the_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_writes_pending_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_backlog_is_written_at_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
