/* SPDX-License-Identifier: MIT */
/* ttfd's limits across agents: the server-wide stream budget (--max-streams, server/mux.h
 * mux_budget) that every agent's mux counts its streams in, whatever ends them (close, the
 * agent's reset, the link going away), in both wire modes; and the listener's cap on the
 * connections open at once (--max-connections, server/listener.h), which stops accepting at the
 * cap, with nothing left polling (no busy loop), and starts again when one is released, or when
 * its owner makes room later (what was not closable at the cap's accept may become so: a slow
 * head that waited long enough). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <event2/event.h>

#include "fake_link.h"
#include "listener.h"

/* ---- the stream budget ---- */

typedef struct two_muxes {
    fake_link lb, lj;
    mux *bin, *json;
    owner own;
    mux_budget budget;
} two_muxes;

static int setup_muxes(void **state)
{
    two_muxes *f = calloc(1, sizeof *f);
    mux_link lb = fake_link_of(&f->lb), lj = fake_link_of(&f->lj);
    mux_ident id = {.log = NULL, .agent = "127.0.0.1", .tunnel = "t1"}; /* NULL: not logged */
    f->bin = mux_bin_new(&lb, &id);
    f->json = mux_json_new(&lj, &id);
    assert_non_null(f->bin);
    assert_non_null(f->json);
    f->budget.max = 3;
    mux_set_budget(f->bin, &f->budget);
    mux_set_budget(f->json, &f->budget);
    *state = f;
    return 0;
}

static int teardown_muxes(void **state)
{
    two_muxes *f = *state;
    if (f->bin)
        f->bin->vt->free(f->bin, NULL);
    if (f->json)
        f->json->vt->free(f->json, NULL);
    fake_clear(&f->lb);
    fake_clear(&f->lj);
    free(f);
    return 0;
}

static mux_stream *open_on(two_muxes *f, mux *m)
{
    return fake_open_get(m, &f->own);
}

static void streams_of_every_agent_count_in_one_budget(void **state)
{
    two_muxes *f = *state;
    mux_stream *b1 = open_on(f, f->bin);
    mux_stream *j1 = open_on(f, f->json);
    assert_non_null(b1);
    assert_non_null(j1);
    assert_int_equal(f->budget.open, 2);
    assert_int_equal(mux_admit_stream(f->bin), MUX_ADMIT_OK);
    mux_stream *b2 = open_on(f, f->bin);
    assert_non_null(b2);
    assert_int_equal(f->budget.open, 3);
    /* each mux has room, the server none */
    assert_int_equal(mux_admit_stream(f->bin), MUX_ADMIT_SERVER_FULL);
    assert_int_equal(mux_admit_stream(f->json), MUX_ADMIT_SERVER_FULL);
    /* a stream closed by its owner gives its place back */
    f->json->ops->close(j1, MUX_CANCEL, "gone");
    assert_int_equal(f->budget.open, 2);
    assert_int_equal(mux_admit_stream(f->json), MUX_ADMIT_OK);
    /* a stream the agent resets too (the fail upcall: it is gone) */
    uint8_t rst[64];
    size_t n = ttf_frame_reset(rst, sizeof rst, 1, TTF_RST_LOCAL_UNAVAILABLE, "down");
    assert_true(n > 0);
    f->bin->vt->on_binary(f->bin, rst, n);
    assert_int_equal(f->own.fails, 1);
    assert_int_equal(f->budget.open, 1);
    /* the link going away takes its streams' places with it */
    f->bin->vt->free(f->bin, "the agent left");
    f->bin = NULL;
    assert_int_equal(f->budget.open, 0);
    (void)b2;
}

static void a_budget_without_a_limit_is_never_full(void **state)
{
    two_muxes *f = *state;
    f->budget.max = 0;
    for (int i = 0; i < 5; i++)
        assert_non_null(open_on(f, f->json));
    assert_int_equal(f->budget.open, 5);
    assert_int_equal(mux_admit_stream(f->json), MUX_ADMIT_OK);
}

static void the_per_agent_limit_still_holds_under_the_budget(void **state)
{
    two_muxes *f = *state;
    f->budget.max = 10;
    mux_set_max_streams(f->bin, 1);
    assert_non_null(open_on(f, f->bin));
    assert_int_equal(mux_admit_stream(f->bin), MUX_ADMIT_AGENT_FULL);
    assert_int_equal(mux_admit_stream(f->json), MUX_ADMIT_OK); /* the budget has room */
}

/* ---- the listener's cap ---- */

typedef struct accepted {
    int fds[8];
    int n;
} accepted;

static void on_accept(void *ud, int fd, const struct sockaddr *sa)
{
    (void)sa;
    accepted *a = ud;
    if (a->n < 8)
        a->fds[a->n++] = fd;
    else
        close(fd);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Runs the loop until a->n reaches n or ms pass. */
static void run_until(struct event_base *base, accepted *a, int n, unsigned ms)
{
    uint64_t deadline = now_ms() + ms;
    while (a->n < n && now_ms() < deadline) {
        struct timeval tv = {0, 10000};
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
}

static int dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin),
                     0); /* the backlog takes it */
    return fd;
}

/* A listener on 127.0.0.1 at a port the system chose (*port), capped at max connections (0:
 * none), each accepted one recorded in *a; lg outlives it. */
static listener *loopback_listener(struct event_base *base, size_t max, const tlog *lg, accepted *a,
                                   uint16_t *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listener *l = listener_new(base, (struct sockaddr *)&sin, sizeof sin, max, lg, on_accept, a);
    assert_non_null(l);
    struct sockaddr_in bound;
    socklen_t blen = sizeof bound;
    assert_int_equal(getsockname(listener_fd(l), (struct sockaddr *)&bound, &blen), 0);
    *port = ntohs(bound.sin_port);
    return l;
}

static void the_listener_stops_accepting_at_its_cap_and_resumes_on_a_release(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    assert_non_null(base);
    accepted a = {0};
    tlog lg = {.level = TLOG_ERROR, .out = stderr, .prog = "test"};
    uint16_t port;
    listener *l = loopback_listener(base, 2, &lg, &a, &port);
    int c[4];
    for (int i = 0; i < 4; i++)
        c[i] = dial(port);
    run_until(base, &a, 2, 5000);
    run_until(base, &a, 3, 200); /* (what a listener past its cap would take meanwhile) */
    assert_int_equal(a.n, 2);    /* the two others wait in the kernel's queue */
    assert_int_equal(listener_fulls(l), 1);
    /* nothing polls the listening socket while it is full: a loop pass finds no event at all
     * (a listener accepting and closing, or failing at once, would keep one active) */
    assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 1);
    /* one connection closes: one more is accepted, and the cap holds again */
    close(a.fds[0]);
    listener_release(l);
    run_until(base, &a, 3, 5000);
    run_until(base, &a, 4, 200);
    assert_int_equal(a.n, 3);
    assert_int_equal(listener_fulls(l), 2);
    assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 1);
    /* two close: the last one comes in, and the listener stays open for more */
    close(a.fds[1]);
    listener_release(l);
    close(a.fds[2]);
    listener_release(l);
    run_until(base, &a, 4, 5000);
    assert_int_equal(a.n, 4);
    assert_int_equal(listener_fulls(l), 2);
    for (int i = 3; i < a.n; i++)
        close(a.fds[i]);
    for (int i = 0; i < 4; i++)
        close(c[i]);
    listener_free(l);
    event_base_free(base);
}

static void a_listener_without_a_cap_accepts_them_all(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    accepted a = {0};
    tlog lg = {.level = TLOG_ERROR, .out = stderr, .prog = "test"};
    uint16_t port;
    listener *l = loopback_listener(base, 0, &lg, &a, &port);
    int c[5];
    for (int i = 0; i < 5; i++)
        c[i] = dial(port);
    run_until(base, &a, 5, 5000);
    assert_int_equal(a.n, 5);
    assert_int_equal(listener_fulls(l), 0);
    for (int i = 0; i < a.n; i++)
        close(a.fds[i]);
    for (int i = 0; i < 5; i++)
        close(c[i]);
    listener_free(l);
    event_base_free(base);
}

/* The owner's room-making (listener_on_full): closes the oldest connection still open, once
 * each time it is allowed to. */
typedef struct room {
    accepted *a;
    listener *l;
    bool allow;
    int calls, next;
} room;

static void make_room(void *ud)
{
    room *r = ud;
    r->calls++;
    if (!r->allow || r->next >= r->a->n)
        return;
    r->allow = false;
    close(r->a->fds[r->next++]);
    listener_release(r->l);
}

static void paused_at_its_cap_the_listener_asks_for_room_again_while_one_waits(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    accepted a = {0};
    tlog lg = {.level = TLOG_ERROR, .out = stderr, .prog = "test"};
    uint16_t port;
    listener *l = loopback_listener(base, 2, &lg, &a, &port);
    room r = {.a = &a, .l = l};
    listener_on_full(l, make_room, &r);
    int c[3];
    for (int i = 0; i < 3; i++)
        c[i] = dial(port);
    run_until(base, &a, 2, 5000);
    assert_int_equal(r.calls, 1); /* at the accept that reached the cap: nothing closable */
    assert_int_equal(listener_fulls(l), 1);
    /* still full: it asks again while the third waits in the queue (every 250 ms) */
    uint64_t t0 = now_ms();
    while (r.calls < 2 && now_ms() - t0 < 5000)
        event_base_loop(base, EVLOOP_ONCE);
    assert_int_equal(r.calls, 2);
    assert_int_equal(a.n, 2);
    /* a connection becomes closable: the next ask closes it and the third comes in (before,
     * it waited for a connection to close by itself) */
    r.allow = true;
    run_until(base, &a, 3, 5000);
    assert_int_equal(a.n, 3);
    assert_int_equal(r.next, 1);
    for (int i = r.next; i < a.n; i++)
        close(a.fds[i]);
    for (int i = 0; i < 3; i++)
        close(c[i]);
    listener_free(l);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(streams_of_every_agent_count_in_one_budget, setup_muxes,
                                        teardown_muxes),
        cmocka_unit_test_setup_teardown(a_budget_without_a_limit_is_never_full, setup_muxes,
                                        teardown_muxes),
        cmocka_unit_test_setup_teardown(the_per_agent_limit_still_holds_under_the_budget,
                                        setup_muxes, teardown_muxes),
        cmocka_unit_test(the_listener_stops_accepting_at_its_cap_and_resumes_on_a_release),
        cmocka_unit_test(a_listener_without_a_cap_accepts_them_all),
        cmocka_unit_test(paused_at_its_cap_the_listener_asks_for_room_again_while_one_waits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
