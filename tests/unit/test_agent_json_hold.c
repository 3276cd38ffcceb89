/* SPDX-License-Identifier: MIT */
/* JSON mode: what ttf holds of request bodies over all of a session's exchanges
 * (agent/hold.h HOLD_AGENT). Uploads to local services that stopped reading are
 * sent without windows (as the Lambda sends them: a whole body of up to 4 MiB at once), each
 * under the per-exchange bound (WIRE_JSON_REQUEST_HOLD), so that only the agent-wide bound
 * limits them: past HOLD_AGENT the stalest exchange is failed once its service has
 * taken nothing for HOLD_STALL_MS, past HOLD_AGENT_MAX at once; the error is
 * `timeout` (504); the link is never paused, and another request still reaches its service. */
#include "agent_wire_fixture.h"

#include "hold.h"
#include "wire_json.h"

enum { PIECE = 93000, PIECES = 43 }; /* 3.8 MiB per upload: under WIRE_JSON_REQUEST_HOLD */

static const char shed_text[] = "the local service did not take the request body in time";

typedef struct uploads {
    int keep[FL_MAX_CONNS]; /* the stalled services' sockets, closed at the end */
    int n;
    uint64_t t0; /* when the first one started */
} uploads;

static void send_request(fx *f, const char *rid, const char *method, bool more)
{
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_REQUEST);
    m.request_id = strdup(rid);
    m.method = strdup(method);
    m.uri = strdup("/up");
    http_headers_add(&m.headers, "Host", 4, "pub", 3);
    m.more = more;
    send_json(f, &m);
    tmsg_free(&m);
}

static void send_piece(fx *f, const char *rid, uint32_t seq)
{
    static uint8_t piece[PIECE];
    memset(piece, 'u', sizeof piece);
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_REQUEST_BODY);
    m.request_id = strdup(rid);
    m.seq = seq;
    m.body = malloc(PIECE);
    memcpy(m.body, piece, PIECE);
    m.body_len = PIECE;
    m.more = true; /* the body never ends: the service is to read it first */
    send_json(f, &m);
    tmsg_free(&m);
}

static fx *start(void)
{
    fx *f = make(false);
    f->cfg.request_timeout = 60; /* no exchange times out by itself during the test */
    msg *ready = next_msg(f);
    assert_true(ready->text);
    send_established(f, 0, 0); /* no windows: the Lambda's way */
    return f;
}

/* Starts upload u<i> to a local service that reads its head, then nothing; sends its body and
 * runs the loop a while. The most the session held meanwhile goes to *peak. */
static void stalled_upload(fx *f, uploads *u, size_t *peak)
{
    char rid[16];
    snprintf(rid, sizeof rid, "u%d", u->n);
    int conn = f->fl.nconns;
    if (u->n == 0)
        u->t0 = fl_now_ms();
    send_request(f, rid, "PUT", true);
    assert_true(fl_wait_text(&f->fl, conn, "\r\n\r\n", 3000));
    u->keep[u->n++] = f->fl.conns[conn];
    f->fl.conns[conn] = -1; /* the service stops reading */
    for (uint32_t seq = 1; seq <= PIECES; seq++) {
        send_piece(f, rid, seq);
        if (seq % 8 == 0 || seq == PIECES)
            fl_pass(&f->fl);
        if (f->s->hold.held > *peak)
            *peak = f->s->hold.held;
    }
    for (int i = 0; i < 20; i++) {
        fl_pass(&f->fl);
        if (f->s->hold.held > *peak)
            *peak = f->s->hold.held;
        assert_int_equal(f->s->json_blocked, 0); /* the link is never paused */
    }
}

static void finish(fx *f, uploads *u)
{
    destroy(f);
    for (int i = 0; i < u->n; i++)
        close(u->keep[i]);
}

/* The next message the agent sent must be the error failing rid with `timeout`. */
static void expect_shed(fx *f, const char *rid)
{
    tmsg m;
    next_json(f, &m);
    assert_int_equal(m.type, TMSG_ERROR);
    assert_string_equal(m.request_id, rid);
    assert_int_equal(m.code, TERR_TIMEOUT);
    assert_string_equal(m.message, shed_text);
    tmsg_free(&m);
}

static void past_the_bound_a_stalled_upload_is_failed_after_the_stall_time(void **state)
{
    (void)state;
    fx *f = start();
    uploads u = {0};
    size_t peak = 0;
    while (f->s->hold.held <= HOLD_AGENT && u.n < FL_MAX_CONNS - 1)
        stalled_upload(f, &u, &peak);
    assert_true(f->s->hold.held > HOLD_AGENT);
    assert_true(peak <= HOLD_AGENT_MAX); /* one upload more cannot cross it */
    /* nothing is failed before the stalest has taken nothing for HOLD_STALL_MS */
    expect_shed(f, "u0");
    assert_true(fl_now_ms() - u.t0 >= HOLD_STALL_MS);
    for (int i = 0; i < 10; i++)
        fl_pass(&f->fl);
    assert_true(f->s->hold.held <= HOLD_AGENT);
    /* the others go on: a new request reaches its service */
    int conn = f->fl.nconns;
    send_request(f, "g", "GET", false);
    assert_true(fl_wait_text(&f->fl, conn, "GET /up", 3000));
    finish(f, &u);
}

static void past_the_hard_bound_the_stalest_is_failed_at_once(void **state)
{
    (void)state;
    fx *f = start();
    uploads u = {0};
    size_t peak = 0;
    while (f->srv.n == f->seen && u.n < FL_MAX_CONNS - 1) {
        uint64_t t = fl_now_ms();
        stalled_upload(f, &u, &peak);
        if (f->srv.n > f->seen) /* failed within the upload that crossed the bound */
            assert_true(fl_now_ms() - t < HOLD_STALL_MS);
    }
    assert_true(f->srv.n > f->seen);
    print_message("hard bound crossed at upload %d, %llu ms after the first\n", u.n,
                  (unsigned long long)(fl_now_ms() - u.t0));
    expect_shed(f, "u0"); /* the stalest */
    /* never more than the hard bound after a message, whatever came in the meantime */
    assert_true(peak <= HOLD_AGENT_MAX);
    assert_true(f->s->hold.held <= HOLD_AGENT_MAX);
    int conn = f->fl.nconns;
    send_request(f, "g", "GET", false);
    assert_true(fl_wait_text(&f->fl, conn, "GET /up", 3000));
    finish(f, &u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(past_the_bound_a_stalled_upload_is_failed_after_the_stall_time),
        cmocka_unit_test(past_the_hard_bound_the_stalest_is_failed_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
