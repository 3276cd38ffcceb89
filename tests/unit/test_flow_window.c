/* SPDX-License-Identifier: MIT */
/* test_flow_window.c - lib/flow_window: spending, the batched credit once the backlog is down to
 * FLOW_CREDIT_MARK (flow_window_credit), and the credit counted as the receiver writes
 * (flow_window_credit_written): never more than was spent, never for bytes the backlog holds
 * beyond the mark, and a slow steady writer credited a batch at a time rather than a window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flow_window.h"

#define KIB ((size_t)1024)
#define WINDOW (1024 * KIB)
#define BATCH (WINDOW / 4)

static void test_spend_and_overrun(void **state)
{
    (void)state;
    flow_window w = {.left = (int64_t)WINDOW};
    assert_true(flow_window_spend(&w, WINDOW - 1));
    assert_true(flow_window_spend(&w, 1));
    assert_int_equal(w.left, 0);
    assert_int_equal(w.unacked, WINDOW);
    assert_false(flow_window_spend(&w, 1));       /* one byte beyond */
    assert_int_equal(flow_window_grow(&w, 2), 2); /* room for the byte refused and one more */
    assert_true(flow_window_spend(&w, 1));
    assert_false(flow_window_spend(&w, 1));
}

static void test_credit_waits_for_the_mark(void **state)
{
    (void)state;
    flow_window w = {.left = (int64_t)WINDOW};
    assert_true(flow_window_spend(&w, WINDOW));
    assert_int_equal(flow_window_credit(&w, FLOW_CREDIT_MARK + 1, BATCH), 0);
    assert_int_equal(flow_window_credit(&w, FLOW_CREDIT_MARK, BATCH), WINDOW);
    assert_int_equal(w.left, (int64_t)WINDOW);
    assert_int_equal(flow_window_credit(&w, 0, BATCH), 0); /* nothing new */
}

/* A receiver that writes 16 KiB at a time out of a full window: the all-or-nothing rule credits
 * once the backlog is down to the mark (a window less 64 KiB written first); the written rule
 * credits each batch as soon as it left, so the sender moves every BATCH, not every window. */
static void test_credit_written_follows_a_slow_writer(void **state)
{
    (void)state;
    flow_window all = {.left = (int64_t)WINDOW}, wr = {.left = (int64_t)WINDOW};
    assert_true(flow_window_spend(&all, WINDOW));
    assert_true(flow_window_spend(&wr, WINDOW));
    size_t backlog = WINDOW, credited_all = 0, credited_wr = 0, first_all = 0, first_wr = 0;
    while (backlog > 0) {
        backlog -= 16 * KIB;
        size_t a = flow_window_credit(&all, backlog, BATCH);
        size_t b = flow_window_credit_written(&wr, backlog, BATCH);
        if (a && !first_all)
            first_all = WINDOW - backlog;
        if (b && !first_wr)
            first_wr = WINDOW - backlog;
        credited_all += a;
        credited_wr += b;
        /* never credit what the backlog holds beyond the mark */
        size_t held = backlog > FLOW_CREDIT_MARK ? backlog - FLOW_CREDIT_MARK : 0;
        assert_true(credited_wr + held <= WINDOW);
        assert_true(b == 0 || b >= BATCH);
    }
    assert_int_equal(first_all, WINDOW - FLOW_CREDIT_MARK);
    assert_int_equal(first_wr, BATCH - FLOW_CREDIT_MARK);
    assert_int_equal(credited_all, WINDOW);
    assert_int_equal(credited_wr, WINDOW);
    assert_int_equal(wr.left, (int64_t)WINDOW);
    assert_int_equal(wr.unacked, 0);
}

/* Credit never exceeds what was spent, whatever the backlog says. */
static void test_credit_written_never_beyond_spent(void **state)
{
    (void)state;
    flow_window w = {.left = 1000};
    assert_true(flow_window_spend(&w, 300));
    assert_int_equal(flow_window_credit_written(&w, 0, 1), 300);
    assert_int_equal(flow_window_credit_written(&w, 0, 1), 0);
    assert_true(flow_window_spend(&w, 700));
    assert_int_equal(flow_window_credit_written(&w, 0, 701), 0); /* under the batch */
    assert_int_equal(flow_window_credit_written(&w, FLOW_CREDIT_MARK + 200, 1), 500);
    assert_int_equal(flow_window_credit_written(&w, FLOW_CREDIT_MARK, 1), 200);
    assert_int_equal(w.left, 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spend_and_overrun),
        cmocka_unit_test(test_credit_waits_for_the_mark),
        cmocka_unit_test(test_credit_written_follows_a_slow_writer),
        cmocka_unit_test(test_credit_written_never_beyond_spent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
