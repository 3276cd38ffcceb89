/* SPDX-License-Identifier: MIT */
/* test_agent_acks.c - agent/acks: answers go out at once until the server acknowledges one; then
 * at most a window of them are in flight (ACKS_WINDOW at first, one more per ack up to
 * ACKS_WINDOW_MAX, halved when answers were lost), the rest wait, acks release them, what is not
 * acknowledged goes again (after a timeout that follows the round trips and backs off, or at once
 * when API Gateway reports a lost message), and is given up after ACKS_MAX_TRIES. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acks.h"

typedef struct sink {
    int sent;
    char last[512];
} sink;

static int record(void *ud, const char *text, size_t len)
{
    sink *k = ud;
    k->sent++;
    snprintf(k->last, sizeof k->last, "%.*s", (int)len, text);
    return 0;
}

static void piece(tmsg *m, const char *rid, uint32_t seq)
{
    tmsg_init(m, seq ? TMSG_HTTP_RESPONSE_BODY : TMSG_HTTP_RESPONSE);
    m->request_id = (char *)rid;
    m->seq = seq;
    m->status_code = 200;
    m->more = true;
}

static void ack(acks *a, tmsg_type of, const char *rid, uint32_t seq, uint64_t now)
{
    tmsg m;
    tmsg_init(&m, TMSG_ACK);
    m.ack_of = of;
    m.request_id = (char *)rid;
    m.seq = seq;
    acks_on_ack(a, &m, now);
}

/* Pieces from..to of request rid, handed to acks at now. */
static void send_pieces(acks *a, const char *rid, uint32_t from, uint32_t to, uint64_t now)
{
    tmsg m;
    for (uint32_t seq = from; seq <= to; seq++) {
        piece(&m, rid, seq);
        assert_int_equal(acks_send(a, &m, now), 0);
    }
}

/* acks sending into k, with a server that acknowledges (ready acknowledged at 0). */
static acks *acknowledged(sink *k)
{
    acks *a = acks_new(record, k);
    assert_non_null(a);
    ack(a, TMSG_READY, NULL, 0, 0);
    return a;
}

static void test_window(void **state)
{
    (void)state;
    sink k = {0};
    acks *a = acks_new(record, &k);
    assert_non_null(a);
    tmsg m;
    /* no ack seen yet (ttfd, or no route response): everything goes at once */
    piece(&m, "r1", 0);
    assert_int_equal(acks_send(a, &m, 0), 0);
    assert_int_equal(k.sent, 1);
    assert_false(acks_enabled(a));
    assert_int_equal(acks_in_flight(a), 0);
    ack(a, TMSG_READY, NULL, 0, 0); /* the server acknowledges: the window applies */
    assert_true(acks_enabled(a));
    send_pieces(a, "r1", 1, ACKS_WINDOW + 3, 10);
    assert_int_equal(k.sent, 1 + ACKS_WINDOW);
    assert_int_equal(acks_in_flight(a), ACKS_WINDOW);
    assert_int_equal(acks_waiting(a), 3);
    /* an ack for another request or another piece releases nothing */
    ack(a, TMSG_HTTP_RESPONSE_BODY, "r2", 1, 20);
    ack(a, TMSG_HTTP_RESPONSE, "r1", 0, 20);
    assert_int_equal(acks_waiting(a), 3);
    /* out of order acks release two each: the answer acknowledged, and one more in the window */
    ack(a, TMSG_HTTP_RESPONSE_BODY, "r1", 3, 20);
    assert_int_equal(acks_window(a), ACKS_WINDOW + 1);
    assert_int_equal(acks_waiting(a), 1);
    assert_non_null(strstr(k.last, "\"seq\":10"));
    ack(a, TMSG_HTTP_RESPONSE_BODY, "r1", 1, 20);
    assert_int_equal(acks_waiting(a), 0);
    assert_int_equal(k.sent, 1 + ACKS_WINDOW + 3);
    assert_non_null(strstr(k.last, "\"seq\":11"));
    acks_free(a);
}

/* Acknowledges, at now, every answer of request rid in flight (they went out in order). */
static void ack_in_flight(acks *a, const char *rid, uint32_t *acked, uint64_t now)
{
    for (size_t n = acks_in_flight(a); n > 0; n--)
        ack(a, TMSG_HTTP_RESPONSE_BODY, rid, (*acked)++, now);
}

/* The window grows by one per ack up to ACKS_WINDOW_MAX (each answer in flight is one $default
 * invocation: the function's concurrency) while the round trip stays short, halves when API
 * Gateway reports a lost answer or one waited out its timeout, and never goes under
 * ACKS_WINDOW_MIN. */
static void test_window_adapts(void **state)
{
    (void)state;
    sink k = {0};
    acks *a = acknowledged(&k);
    assert_int_equal(acks_window(a), ACKS_WINDOW);
    uint32_t acked = 1;
    uint64_t now = 10;
    send_pieces(a, "big", 1, 200, now);
    assert_int_equal(acks_in_flight(a), ACKS_WINDOW);
    /* every answer acknowledged 20 ms after it went out: the window grows to its most */
    for (int round = 0; round < 4; round++)
        ack_in_flight(a, "big", &acked, now += 20);
    assert_int_equal(acks_window(a), ACKS_WINDOW_MAX);
    assert_int_equal(acks_in_flight(a), ACKS_WINDOW_MAX);
    /* API Gateway reports a throttled message: all go again, the window halves (once for the
     * reports of one burst) */
    acks_resend_older(a, now + 200, 100);
    acks_resend_older(a, now + 201, 100);
    assert_int_equal(acks_window(a), ACKS_WINDOW_MAX / 2);
    ack(a, TMSG_HTTP_RESPONSE_BODY, "big", acked++, now + 300);
    assert_true(acks_in_flight(a) < ACKS_WINDOW_MAX); /* no new answer went out */
    /* timeouts halve it again, down to ACKS_WINDOW_MIN at least */
    for (int i = 1; i <= 10; i++)
        acks_tick(a, now + 300 + (uint64_t)i * ACKS_RTO_MAX_MS);
    assert_int_equal(acks_window(a), ACKS_WINDOW_MIN);
    acks_free(a);
}

/* A round trip over half again the shortest seen: the answers in flight already queue at the
 * server (invocations sharing CPU, environments starting): the window does not grow. */
static void test_window_stays_when_answers_queue(void **state)
{
    (void)state;
    sink k = {0};
    acks *a = acknowledged(&k);
    uint32_t acked = 1;
    send_pieces(a, "q", 1, 1, 100);
    ack(a, TMSG_HTTP_RESPONSE_BODY, "q", acked++, 120); /* 20 ms: one more */
    assert_int_equal(acks_window(a), ACKS_WINDOW + 1);
    send_pieces(a, "q", 2, 100, 120);
    ack_in_flight(a, "q", &acked, 200); /* 80 ms each */
    assert_int_equal(acks_window(a), ACKS_WINDOW + 1);
    assert_int_equal(acks_in_flight(a), ACKS_WINDOW + 1);
    acks_free(a);
}

static void test_resend(void **state)
{
    (void)state;
    sink k = {0};
    acks *a = acknowledged(&k);
    tmsg m;
    piece(&m, "r9", 2);
    acks_send(a, &m, 100);
    tmsg_init(&m, TMSG_ERROR);
    m.request_id = "r8";
    m.code = TERR_TIMEOUT;
    acks_send(a, &m, 150);
    assert_int_equal(k.sent, 2);
    acks_tick(a, 100 + ACKS_RESEND_MS - 1);
    assert_int_equal(k.sent, 2);
    acks_tick(a, 100 + ACKS_RESEND_MS); /* the piece waited long enough, the error not yet */
    assert_int_equal(k.sent, 3);
    assert_int_equal(acks_resent(a), 1);
    /* API Gateway reported a lost message: whatever is in flight for 100 ms goes again */
    acks_resend_older(a, 100 + ACKS_RESEND_MS + 50, 100);
    assert_int_equal(k.sent, 4); /* the error (the piece was just sent again) */
    ack(a, TMSG_ERROR, "r8", 0, 2000);
    assert_int_equal(acks_in_flight(a), 1);
    /* never acknowledged: given up after ACKS_MAX_TRIES sends (waits doubling up to the most) */
    uint64_t now = 2000;
    int sent = k.sent;
    for (int i = 0; i < 3 * ACKS_MAX_TRIES * ACKS_RTO_MAX_MS / ACKS_RESEND_MS; i++) {
        now += ACKS_RESEND_MS;
        acks_tick(a, now);
    }
    assert_int_equal(acks_in_flight(a), 0);
    assert_int_equal(k.sent - sent, ACKS_MAX_TRIES - 2); /* sent twice above already */
    acks_free(a);
}

/* The retransmission timeout follows the acks' round trips (RFC 6298) and backs off per send: a
 * server whose $default invocations take 2.5 s under load is not sent every answer again after
 * 1 s (doubling its load); an answer that is lost still goes again, later each time. */
static void test_timeout_follows_round_trips(void **state)
{
    (void)state;
    sink k = {0};
    acks *a = acknowledged(&k);
    assert_int_equal(acks_rto(a), ACKS_RESEND_MS);
    uint64_t now = 1000;
    for (uint32_t seq = 1; seq <= 6; seq++) { /* acknowledged 2.5 s after each send */
        send_pieces(a, "slow", seq, seq, now);
        acks_tick(a, now + 1200);
        acks_tick(a, now + 2400);
        ack(a, TMSG_HTTP_RESPONSE_BODY, "slow", seq, now + 2500);
        now += 3000;
    }
    /* only the first ones went twice, while the timeout learnt the round trip */
    assert_true(acks_resent(a) <= 2);
    assert_true(acks_rto(a) >= 2500 && acks_rto(a) <= ACKS_RTO_MAX_MS);
    uint64_t rto = acks_rto(a);
    uint64_t resent = acks_resent(a);
    /* a lost answer: sent again after rto, then after 2 rto (at most ACKS_RTO_MAX_MS) */
    send_pieces(a, "lost", 1, 1, now);
    acks_tick(a, now + rto - 1);
    assert_int_equal(acks_resent(a), resent);
    acks_tick(a, now + rto);
    assert_int_equal(acks_resent(a), resent + 1);
    uint64_t second = rto * 2 > ACKS_RTO_MAX_MS ? ACKS_RTO_MAX_MS : rto * 2;
    acks_tick(a, now + rto + second - 1);
    assert_int_equal(acks_resent(a), resent + 1);
    acks_tick(a, now + rto + second);
    assert_int_equal(acks_resent(a), resent + 2);
    /* the timeout stays backed off: a sample from a message sent more than once is not taken
     * (Karn's rule) */
    uint64_t backed_off = acks_rto(a);
    assert_true(backed_off > rto || backed_off == ACKS_RTO_MAX_MS);
    ack(a, TMSG_HTTP_RESPONSE_BODY, "lost", 1, now + rto + second + 1);
    assert_int_equal(acks_rto(a), backed_off);
    assert_int_equal(acks_in_flight(a), 0);
    acks_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_window_adapts),
        cmocka_unit_test(test_window_stays_when_answers_queue),
        cmocka_unit_test(test_resend),
        cmocka_unit_test(test_timeout_follows_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
