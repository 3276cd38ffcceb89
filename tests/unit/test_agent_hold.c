/* SPDX-License-Identifier: MIT */
/* The credit rule of ttf's request-body hold (agent/hold.h): each windowed upload's window grows
 * to min(the mode's window, HOLD_BUDGET / uploads), never under HOLD_WINDOW_MIN; above that floor
 * only within HOLD_BUDGET; what ttf holds unwritten counts against the window; credit comes back
 * as uploads end. Driven as the wire modules drive it, with fake senders and local services (the
 * octets a service takes are what it takes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "hold.h"

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)
#define BIN_NORMAL (256 * KIB) /* TTF_BIN_INITIAL_WINDOW */
#define JSON_NORMAL MIB        /* TTF_JSON_REQUEST_WINDOW */

/* A fake upload: its sender sends whatever its window allows, its service takes `takes` octets
 * per round (SIZE_MAX: all, 0: none). */
typedef struct upload {
    hold_entry e;
    size_t pending; /* octets ttf holds unwritten for its service */
    size_t takes;
} upload;

static void open_upload(hold_total *t, upload *u, size_t takes)
{
    hold_start(&u->e, 0);
    u->pending = 0;
    u->takes = takes;
    hold_window(t, &u->e, HOLD_WINDOW_FIRST);
}

/* One round: the sender fills the window, the service takes its share, ttf notes and credits. */
static size_t round_of(hold_total *t, upload *u, size_t normal, size_t min)
{
    size_t n = u->e.avail;
    assert_true(hold_spend(t, &u->e, n));
    u->pending += n;
    size_t took = u->takes < u->pending ? u->takes : u->pending;
    u->pending -= took;
    hold_note(t, &u->e, u->pending, 1);
    return hold_credit(t, &u->e, normal, min);
}

static void one_upload_grows_to_the_modes_window(void **state)
{
    (void)state;
    hold_total t = {0};
    upload u;
    open_upload(&t, &u, SIZE_MAX);
    assert_int_equal(t.avail, HOLD_WINDOW_FIRST);
    assert_int_equal(hold_target(&t, BIN_NORMAL), BIN_NORMAL);
    assert_int_equal(hold_target(&t, JSON_NORMAL), JSON_NORMAL);
    /* all taken at once: the window goes to the mode's, as the old rule kept it */
    assert_int_equal(round_of(&t, &u, BIN_NORMAL, 16 * KIB), BIN_NORMAL);
    assert_int_equal(u.e.avail, BIN_NORMAL);
    assert_int_equal(round_of(&t, &u, BIN_NORMAL, 16 * KIB), BIN_NORMAL);
    /* what ttf still holds counts against the window */
    u.takes = 0;
    assert_int_equal(round_of(&t, &u, BIN_NORMAL, 16 * KIB), 0);
    u.pending -= 40 * KIB; /* the service took 40 KiB */
    hold_note(&t, &u.e, u.pending, 2);
    assert_int_equal(hold_credit(&t, &u.e, BIN_NORMAL, 16 * KIB), 40 * KIB);
    u.pending -= 10 * KIB; /* less than the batch: wait */
    hold_note(&t, &u.e, u.pending, 3);
    assert_int_equal(hold_credit(&t, &u.e, BIN_NORMAL, 16 * KIB), 0);
    assert_int_equal(u.e.avail + u.pending, BIN_NORMAL - 10 * KIB);
    /* beyond the window is the sender's error */
    assert_false(hold_spend(&t, &u.e, u.e.avail + 1));
    hold_forget(&t, &u.e);
    assert_int_equal(t.avail + t.held + t.uploads, 0);
}

static void many_uploads_share_the_budget_with_a_floor(void **state)
{
    (void)state;
    hold_total t = {.uploads = 40};
    assert_int_equal(hold_target(&t, JSON_NORMAL), HOLD_BUDGET / 40);
    assert_int_equal(hold_target(&t, BIN_NORMAL), BIN_NORMAL); /* 410 KiB each would fit */
    t.uploads = 100;
    assert_int_equal(hold_target(&t, BIN_NORMAL), HOLD_BUDGET / 100);
    t.uploads = 256;
    assert_int_equal(hold_target(&t, JSON_NORMAL), HOLD_WINDOW_MIN);
    t.uploads = 1000;
    assert_int_equal(hold_target(&t, BIN_NORMAL), HOLD_WINDOW_MIN);
}

/* Uploads whose services take nothing, arriving one after the other (each grows to its target
 * at the time): what ttf holds plus what senders may still send stays within HOLD_BUDGET plus a
 * floor per upload, while every upload got at least its floor. */
static void stalled_uploads_stay_within_the_budget(void **state)
{
    (void)state;
    static upload u[256];
    for (int normal_i = 0; normal_i < 2; normal_i++) {
        size_t normal = normal_i ? JSON_NORMAL : BIN_NORMAL;
        hold_total t = {0};
        for (size_t i = 0; i < 256; i++) {
            open_upload(&t, &u[i], 0);
            for (int r = 0; r < 4; r++)
                round_of(&t, &u[i], normal, normal / 4);
            assert_true(u[i].pending >= HOLD_WINDOW_MIN);
            assert_true(t.avail + t.held <= HOLD_BUDGET + (i + 1) * HOLD_WINDOW_MIN);
        }
        /* without the budget check 256 staggered arrivals would hold about 60 MiB (JSON) */
        assert_true(t.held <= HOLD_BUDGET + 256 * HOLD_WINDOW_MIN);
        for (size_t i = 0; i < 256; i++)
            hold_forget(&t, &u[i].e);
        assert_int_equal(t.avail + t.held + t.uploads, 0);
    }
}

/* A stream that holds nothing and may be sent nothing always gets its floor, however spent the
 * budget: every upload keeps moving. */
static void the_floor_is_given_when_the_budget_is_spent(void **state)
{
    (void)state;
    hold_total t = {.held = 2 * HOLD_BUDGET, .uploads = 2};
    hold_entry e;
    hold_start(&e, 0);
    hold_window(&t, &e, HOLD_WINDOW_FIRST);
    assert_true(hold_spend(&t, &e, HOLD_WINDOW_FIRST));
    assert_int_equal(hold_credit(&t, &e, JSON_NORMAL, JSON_NORMAL / 4), HOLD_WINDOW_MIN);
    assert_int_equal(hold_credit(&t, &e, JSON_NORMAL, JSON_NORMAL / 4), 0);
    hold_forget(&t, &e);
    assert_int_equal(t.uploads, 2);
}

/* 40 uploads at their share (16 MiB / 40); 30 end: the 10 left grow to 1 MiB each at their next
 * credit. An upload whose body ended stops counting. */
static void credit_goes_to_the_others_as_uploads_end(void **state)
{
    (void)state;
    static upload u[40];
    hold_total t = {0};
    for (int i = 0; i < 40; i++)
        open_upload(&t, &u[i], SIZE_MAX);
    for (int i = 0; i < 40; i++)
        assert_int_equal(round_of(&t, &u[i], JSON_NORMAL, JSON_NORMAL / 4), HOLD_BUDGET / 40);
    for (int i = 0; i < 30; i++) {
        if (i % 2)
            hold_body_done(&t, &u[i].e); /* the body ended, the exchange goes on */
        hold_forget(&t, &u[i].e);
    }
    assert_int_equal(t.uploads, 10);
    for (int i = 30; i < 40; i++) {
        assert_int_equal(round_of(&t, &u[i], JSON_NORMAL, JSON_NORMAL / 4), JSON_NORMAL);
        assert_int_equal(u[i].e.avail, JSON_NORMAL);
    }
    assert_true(t.avail + t.held <= HOLD_BUDGET);
    hold_body_done(&t, &u[30].e);
    assert_int_equal(t.uploads, 9);
    assert_int_equal(hold_credit(&t, &u[30].e, JSON_NORMAL, 1), 0); /* no more wanted */
    for (int i = 30; i < 40; i++)
        hold_forget(&t, &u[i].e);
    assert_int_equal(t.avail + t.held + t.uploads, 0);
}

/* A bursty service (takes 1 MiB once in a while) among 40: its upload gets credit whenever it
 * took some, never more than its share, and is never refused for what the others hold. */
static void a_bursty_service_gets_credit_after_each_burst(void **state)
{
    (void)state;
    static upload u[40];
    hold_total t = {0};
    for (int i = 0; i < 40; i++)
        open_upload(&t, &u[i], 0);
    size_t got = 0;
    for (int r = 0; r < 50; r++) {
        for (int i = 0; i < 40; i++) {
            u[i].takes = (r + i) % 3 == 0 ? MIB : 0;
            size_t n = round_of(&t, &u[i], JSON_NORMAL, JSON_NORMAL / 4);
            if (i == 0)
                got += n;
            assert_true(u[i].e.avail + u[i].pending <= HOLD_BUDGET / 40);
        }
        assert_true(t.avail + t.held <= HOLD_BUDGET);
    }
    assert_true(got >= 16 * HOLD_BUDGET / 40); /* it moved, every burst */
    for (int i = 0; i < 40; i++)
        hold_forget(&t, &u[i].e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_upload_grows_to_the_modes_window),
        cmocka_unit_test(many_uploads_share_the_budget_with_a_floor),
        cmocka_unit_test(stalled_uploads_stay_within_the_budget),
        cmocka_unit_test(the_floor_is_given_when_the_budget_is_spent),
        cmocka_unit_test(credit_goes_to_the_others_as_uploads_end),
        cmocka_unit_test(a_bursty_service_gets_credit_after_each_burst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
