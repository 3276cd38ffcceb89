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

#include "clock.h"
#include "hmap.h"
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
    uint32_t id;
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

/* ---- a stalled upload never starves a live one (hold_shed, windowed) ---- */

/* The exchanges as a wire module keeps them: a map of uploads; fail() ends one as the wire's
 * shed_one does (the exchange leaves the totals and the map) and records it. */
typedef struct session_fake {
    hold_total t;
    hmap *m;
    uint32_t failed[300];
    size_t nfailed;
} session_fake;

static void fake_fail(void *exchange, uint64_t idle_ms, void *ud)
{
    session_fake *f = ud;
    upload *u = exchange;
    assert_true(idle_ms >= HOLD_STALL_MS);
    hold_forget(&f->t, &u->e);
    hmap_del_u32(f->m, u->id);
    f->failed[f->nfailed++] = u->id;
}

static void forget_one(void *ud, const void *key, size_t klen, void *value)
{
    (void)key;
    (void)klen;
    hold_forget(&((session_fake *)ud)->t, &((upload *)value)->e);
}

/* The session ends: every exchange left leaves the totals, which come back to nothing. */
static void end_all(session_fake *f)
{
    hmap_each(f->m, forget_one, f);
    assert_int_equal(f->t.avail + f->t.held + f->t.uploads + f->t.stalled + f->t.want, 0);
    hmap_free(f->m);
}

/* hold_shed as the hold timer runs it; the number marked or failed. */
static size_t shed(session_fake *f, size_t normal)
{
    bool later = false;
    return hold_shed(&f->t, f->m, offsetof(upload, e), normal, fake_fail, f, &later);
}

/* An upload whose service took none of its body since `since` (ms, long before now: stalled): its
 * sender sent `body` octets, or as many as the windows the rule gave it allowed. */
static void stalled_upload(session_fake *f, upload *u, uint32_t id, uint64_t since, size_t normal,
                           size_t body)
{
    hold_start(&u->e, since);
    hold_window(&f->t, &u->e, HOLD_WINDOW_FIRST);
    u->pending = 0;
    u->id = id;
    while (u->e.avail > 0) {
        size_t n = u->e.avail < body - u->pending ? u->e.avail : body - u->pending;
        assert_true(hold_spend(&f->t, &u->e, n));
        u->pending += n;
        hold_note(&f->t, &u->e, u->pending, since);
        if (u->pending == body)
            hold_body_done(&f->t, &u->e);
        else
            hold_credit(&f->t, &u->e, normal, normal / 4);
    }
    assert_int_equal(hmap_put_u32(f->m, id, u), 0);
}

/* A newcomer whose service takes all it gets, now. */
static void live_upload(session_fake *f, upload *u, uint32_t id)
{
    hold_start(&u->e, clock_now_ms());
    hold_window(&f->t, &u->e, HOLD_WINDOW_FIRST);
    u->pending = 0;
    u->id = id;
    assert_int_equal(hmap_put_u32(f->m, id, u), 0);
}

/* One round of a live upload at now; the credit it got. */
static size_t live_round(session_fake *f, upload *u, size_t normal, size_t min)
{
    size_t n = u->e.avail;
    assert_true(hold_spend(&f->t, &u->e, n));
    hold_note(&f->t, &u->e, 0, clock_now_ms()); /* its service took it all */
    return hold_credit(&f->t, &u->e, normal, min);
}

/* 16 JSON uploads to services that stopped reading fill the budget (1 MiB each). A newcomer whose
 * service reads was held at the 64 KiB floor until its --request-timeout (a 10 MiB upload at
 * 50 ms: 8.3 s instead of 0.6 s). Now it waits for credit (want), the stalest stalled upload is
 * failed, one only, and its window grows to JSON's 1 MiB at its next credit. */
static void a_stalled_upload_never_starves_a_live_one(void **state)
{
    (void)state;
    static upload u[17];
    session_fake f = {.m = hmap_new()};
    for (uint32_t i = 0; i < 16; i++)
        stalled_upload(&f, &u[i], i, 100 + i, JSON_NORMAL, SIZE_MAX);
    assert_int_equal(f.t.held, HOLD_BUDGET);
    assert_int_equal(shed(&f, JSON_NORMAL), 16); /* marked, none failed: nobody waits */
    assert_int_equal(f.nfailed, 0);
    live_upload(&f, &u[16], 16);
    assert_int_equal(live_round(&f, &u[16], JSON_NORMAL, JSON_NORMAL / 4), HOLD_WINDOW_MIN);
    assert_true(f.t.want > 0);
    assert_int_equal(hold_scan_in(&f.t, &u[16].e, JSON_NORMAL), 0); /* look at once */
    shed(&f, JSON_NORMAL);
    assert_int_equal(f.nfailed, 1);
    assert_int_equal(f.failed[0], 0); /* the stalest */
    assert_int_equal(live_round(&f, &u[16], JSON_NORMAL, JSON_NORMAL / 4), JSON_NORMAL);
    assert_int_equal(f.t.want, 0);
    assert_true(f.t.avail + f.t.held <= HOLD_BUDGET);
    for (uint32_t i = 1; i < 16; i++) /* stalled: they do not grow */
        assert_int_equal(hold_credit(&f.t, &u[i].e, JSON_NORMAL, 1), 0);
    end_all(&f);
}

/* 255 small binary uploads (64 KiB bodies, all in) to services that read nothing hold the
 * budget; a newcomer was held at the floor (its share was the floor too while they counted as
 * uploads). Now it grows to binary's 256 KiB after as few failures as make the room (5), the
 * stalest first; a stalled one whose service took an octet meanwhile (resumed), one that reads
 * slowly (it took some within HOLD_STALL_MS) and one stalled for less than HOLD_SHED_MS are never
 * failed. */
static void many_small_stalled_uploads_make_room_stalest_first(void **state)
{
    (void)state;
    static upload u[258];
    session_fake f = {.m = hmap_new()};
    for (uint32_t i = 0; i < 255; i++)
        stalled_upload(&f, &u[i], i, 100 + i, BIN_NORMAL, HOLD_WINDOW_MIN);
    assert_int_equal(f.t.held, 255 * HOLD_WINDOW_MIN);
    /* the stalest resumes: its service takes 1 KiB now */
    u[0].pending -= 1024;
    hold_note(&f.t, &u[0].e, u[0].pending, clock_now_ms());
    /* a slow reader: it took some 1 s ago, holds 64 KiB */
    stalled_upload(&f, &u[255], 255, clock_now_ms() - 1000, BIN_NORMAL, HOLD_WINDOW_MIN);
    /* one that took nothing for 5 s: stalled (out of the shares), not failed before HOLD_SHED_MS
     * (a reader of a byte at a time looks so) */
    stalled_upload(&f, &u[257], 257, clock_now_ms() - 5000, BIN_NORMAL, HOLD_WINDOW_MIN);
    live_upload(&f, &u[256], 256);
    assert_int_equal(live_round(&f, &u[256], BIN_NORMAL, 16 * KIB), HOLD_WINDOW_MIN);
    shed(&f, BIN_NORMAL);
    assert_true(u[257].e.stalled && !u[255].e.stalled && !u[0].e.stalled);
    assert_int_equal(f.nfailed, 5);
    for (size_t i = 0; i < f.nfailed; i++)
        assert_int_equal(f.failed[i], i + 1);
    assert_int_equal(live_round(&f, &u[256], BIN_NORMAL, 16 * KIB), BIN_NORMAL);
    assert_true(f.t.avail + f.t.held <= HOLD_BUDGET);
    /* the newcomer's body ends: nobody waits, nothing more is failed */
    hold_forget(&f.t, &u[256].e);
    shed(&f, BIN_NORMAL);
    assert_int_equal(f.nfailed, 5);
    end_all(&f);
}

/* An upload waits for credit only when its service took all it was sent: one that holds octets
 * (it just stalled, or reads slowly) is refused without wanting, so stalled uploads never fail
 * each other for credit none of them would take. */
static void only_an_upload_whose_service_took_all_waits(void **state)
{
    (void)state;
    static upload u[17];
    session_fake f = {.m = hmap_new()};
    for (uint32_t i = 0; i < 16; i++)
        stalled_upload(&f, &u[i], i, 100 + i, JSON_NORMAL, SIZE_MAX);
    live_upload(&f, &u[16], 16);
    assert_true(hold_spend(&f.t, &u[16].e, HOLD_WINDOW_MIN));
    hold_note(&f.t, &u[16].e, 1024, clock_now_ms()); /* 1 KiB not taken yet */
    /* its floor, no more, and it does not wait */
    assert_int_equal(hold_credit(&f.t, &u[16].e, JSON_NORMAL, JSON_NORMAL / 4),
                     HOLD_WINDOW_MIN - 1024);
    assert_int_equal(f.t.want, 0);
    assert_int_equal(hold_scan_in(&f.t, &u[16].e, JSON_NORMAL), (long)HOLD_RETRY_MS);
    shed(&f, JSON_NORMAL);
    assert_int_equal(f.nfailed, 0);
    end_all(&f);
}

/* Credit its senders have not used (idle or slow public clients: avail) is not memory: 40 uploads
 * whose clients sent their first window and then nothing fill the budget with credit while ttf
 * holds only a webhook's body, stalled for 10 s (its service computes before reading). A newcomer
 * waits for credit: failing the webhook would free little of what fills the budget and cost a
 * legitimate upload (attack13: its client got 504 after 10 s in both modes, ttf holding 256 KiB
 * (binary) and 933 KiB (JSON) of request bodies, any tunnel of the session). Stalled uploads are
 * failed only while ttf holds at least half the budget. */
static void unused_credit_never_fails_a_stalled_upload(void **state)
{
    (void)state;
    static upload u[42];
    session_fake f = {.m = hmap_new()};
    stalled_upload(&f, &u[0], 0, 100, JSON_NORMAL, SIZE_MAX);
    assert_int_equal(shed(&f, JSON_NORMAL), 1); /* marked */
    for (uint32_t i = 1; i < 41; i++) {
        live_upload(&f, &u[i], i);
        live_round(&f, &u[i], JSON_NORMAL, JSON_NORMAL / 4);
    }
    assert_true(f.t.held <= JSON_NORMAL && f.t.avail + f.t.held >= HOLD_BUDGET - HOLD_WINDOW_MIN);
    live_upload(&f, &u[41], 41);
    live_round(&f, &u[41], JSON_NORMAL, JSON_NORMAL / 4);
    assert_true(f.t.want > 0);
    shed(&f, JSON_NORMAL);
    assert_int_equal(f.nfailed, 0);
    end_all(&f);
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
        cmocka_unit_test(a_stalled_upload_never_starves_a_live_one),
        cmocka_unit_test(many_small_stalled_uploads_make_room_stalest_first),
        cmocka_unit_test(only_an_upload_whose_service_took_all_waits),
        cmocka_unit_test(unused_credit_never_fails_a_stalled_upload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
