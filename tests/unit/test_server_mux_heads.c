/* SPDX-License-Identifier: MIT */
/* Response heads the muxes hold for an agent count in the server's head budget
 * (mux_set_held_budget): a JSON head assembled from http_response_headers continuations counts
 * beyond the stream's share while it is assembled; a stream whose head would pass the budget
 * fails (502 MUX_HELD_OVER, the agent told with a cancel) and holds nothing; what a stream held
 * comes back when its head is whole or the stream is closed; an agent's address counts at most its
 * part of the budget. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "fake_link.h"
#include "proto_json.h"

#define SHARE 10
#define LIMIT 100

typedef struct fixture {
    fake_link link;
    mem_budget heads;
    mux *m;
    owner own[3];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->m = fake_mux_json(&f->link);
    f->heads.limit = LIMIT;
    f->m->id.agent[0] = '\0'; /* no address: the whole budget alone (an_agents_part: with one) */
    mux_set_held_budget(f->m, &f->heads, SHARE);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    f->m->vt->free(f->m, NULL);
    assert_int_equal(f->heads.used, 0); /* every stream gave its part back */
    fake_clear(&f->link);
    free(f);
    return 0;
}

/* Opens a GET for owner i and returns its stream; *rid gets its request id. */
static mux_stream *open_get(fixture *f, int i, char rid[64])
{
    f->own[i].ops = f->m->ops;
    mux_stream *s = fake_open_get(f->m, &f->own[i]);
    assert_non_null(s);
    f->m->ops->flush(s);
    tmsg m;
    const char *err = NULL;
    const fake_msg *last = &f->link.msgs[f->link.n - 1];
    assert_int_equal(tmsg_decode((const char *)last->data, last->len, &m, &err), 0);
    snprintf(rid, 64, "%s", m.request_id);
    tmsg_free(&m);
    return s;
}

static void agent_says(fixture *f, const char *fmt, const char *rid, const char *more)
{
    char buf[512];
    snprintf(buf, sizeof buf, fmt, rid, more);
    tmsg m;
    const char *err = NULL;
    if (tmsg_decode(buf, strlen(buf), &m, &err) != 0)
        fail_msg("test message does not decode: %s", err);
    f->m->vt->on_message(f->m, &m);
    tmsg_free(&m);
}

/* 60 octets of value: with the status line, beyond a share of 10 */
#define FIRST                                                                                      \
    "{\"type\":\"http_response\",\"request_id\":\"%s\",\"status_code\":200,\"headers\":{\"a\":["   \
    "\"012345678901234567890123456789012345678901234567890123456789\"]},\"headers_more\":%s}"
#define NEXT                                                                                       \
    "{\"type\":\"http_response_headers\",\"request_id\":\"%s\",\"seq\":1,\"headers\":{\"b\":["     \
    "\"2\"]},\"headers_more\":%s}"

static void continuations_share_the_budget(void **state)
{
    fixture *f = *state;
    char a[64], b[64], c[64];
    mux_stream *sa = open_get(f, 0, a);
    open_get(f, 1, b);
    agent_says(f, FIRST, a, "true");
    size_t one = f->heads.used;
    assert_true(one > 0 && one <= LIMIT && 2 * one > LIMIT); /* a second one does not fit */
    /* the second head in progress would pass the budget: that exchange alone fails */
    agent_says(f, FIRST, b, "true");
    assert_int_equal(f->own[1].fails, 1);
    assert_int_equal(f->own[1].fail_status, 502);
    assert_string_equal(f->own[1].fail_why, MUX_HELD_OVER);
    assert_int_equal(f->heads.used, one);
    tmsg m;
    const char *err = NULL;
    const fake_msg *last = &f->link.msgs[f->link.n - 1];
    assert_int_equal(tmsg_decode((const char *)last->data, last->len, &m, &err), 0);
    assert_int_equal(m.type, TMSG_CANCEL);
    assert_string_equal(m.request_id, b);
    tmsg_free(&m);
    /* the first one goes on, and gives its part back once whole */
    assert_int_equal(f->own[0].fails, 0);
    agent_says(f, NEXT, a, "false");
    assert_int_equal(f->own[0].heads, 1);
    assert_int_equal(f->heads.used, 0);
    f->m->ops->close(sa, MUX_CANCEL, "done");
    /* a head in progress whose exchange is closed gives its part back too */
    mux_stream *sc = open_get(f, 2, c);
    agent_says(f, FIRST, c, "true");
    assert_int_equal(f->heads.used, one);
    f->m->ops->close(sc, MUX_CANCEL, "client left");
    assert_int_equal(f->heads.used, 0);
}

static void small_heads_are_within_the_share(void **state)
{
    fixture *f = *state;
    char a[64];
    f->heads.limit = 1; /* nothing beyond the shares */
    mux_set_held_budget(f->m, &f->heads, 1000);
    open_get(f, 0, a);
    agent_says(f, FIRST, a, "true");
    assert_int_equal(f->heads.used, 0);
    agent_says(f, NEXT, a, "false");
    assert_int_equal(f->own[0].heads, 1);
    assert_int_equal(f->own[0].fails, 0);
}

/* With its address, an agent's heads count in its group too, at most LIMIT /
 * MEM_BUDGET_GROUP_PARTS: the head that fits the whole budget but not the part fails alone. */
static void an_agents_part(void **state)
{
    fixture *f = *state;
    char a[64];
    snprintf(f->m->id.agent, sizeof f->m->id.agent, "192.0.2.1");
    open_get(f, 0, a);
    agent_says(f, FIRST, a, "true"); /* over 50 beyond the share (continuations_share_...) */
    assert_int_equal(f->own[0].fails, 1);
    assert_string_equal(f->own[0].fail_why, MUX_HELD_OVER);
    assert_int_equal(f->heads.used, 0);
    assert_int_equal(mem_budget_group_used(&f->heads, "192.0.2.1"), 0);
    assert_null(f->heads.groups);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(continuations_share_the_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(small_heads_are_within_the_share, setup, teardown),
        cmocka_unit_test_setup_teardown(an_agents_part, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
