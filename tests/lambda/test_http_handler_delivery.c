/* SPDX-License-Identifier: MIT */
/* lambda/http_handler against the fakes (http_handler_fixture.h), delivery: messages sent again,
 * an idempotent request sent again when its connection goes, answers from another request
 * ignored, errors from API Gateway (gone, busy) map to 502 / 503, the tunnel id in the request,
 * cancels both ways (the agent's, the Lambda's when it gives up), the route cache for long
 * chosen names, a gone connection waiting for the agent's next one. */
#include "http_handler_fixture.h"

static void messages_sent_again(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, RESENT, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    expect_body(a, "hello", 5);
    json_decref(a);
}

static void idempotent_request_sent_again_when_its_connection_goes(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, MOVED, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    expect_body(a, "on B", 4);
    assert_int_equal(f->requests, 2);
    json_decref(a);
    assert_true(harness_log_has(&f->h, "went away before answering", "sent again"));
}

static void other_request_not_sent_again(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, MOVED, "POST", "/", "x", 1);
    assert_int_equal(status_of(a), 502);
    assert_int_equal(f->requests, 1);
    json_decref(a);
}

static void foreign_answer_ignored(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, FOREIGN_ANSWER, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    expect_body(a, "hello", 5);
    json_decref(a);
}

static void gone_and_busy(void **state)
{
    fixture *f = *state;
    fake_mgmt_limit(f->h.mgmt, 1000);
    json_t *a = request(f, PLAIN, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 503);
    assert_string_equal(harness_header(a, "retry-after"), "1");
    json_decref(a);
    fake_mgmt_limit(f->h.mgmt, 0);
    fake_mgmt_close(f->h.mgmt, CID);
    a = request(f, PLAIN, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 502);
    json_decref(a);
    /* the stale connection record went with the 410 */
    assert_null(fake_ddb_get(f->h.db, H_CONN_TABLE, CID));
    a = request(f, PLAIN, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 404);
    json_decref(a);
}

static void tunnel_id_in_request(void **state)
{
    fixture *f = *state;
    json_decref(request(f, PLAIN, "GET", "/", NULL, 0));
    assert_string_equal(f->tunnel_seen, f->tid);
}

static void agent_cancel_after_head(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, AGENT_CANCELS, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 502);
    size_t len;
    unsigned char *b = harness_body(a, &len);
    assert_non_null(strstr((char *)b, "local service failed during its response"));
    assert_null(strstr((char *)b, "partial"));
    free(b);
    json_decref(a);
}

static void agent_cancel_after_the_end(void **state)
{
    fixture *f = *state;
    json_t *a = request(f, CANCEL_AFTER_END, "POST", "/", "x", 1);
    assert_int_equal(status_of(a), 403);
    expect_body(a, "nope!", 5);
    json_decref(a);
    /* the cancel's $default invocation ran first: the complete response still wins */
    a = request(f, CANCEL_FIRST, "POST", "/", "x", 1);
    assert_int_equal(status_of(a), 403);
    expect_body(a, "nope!", 5);
    json_decref(a);
}

/* The last message posted to the agent is a cancel for rid. */
static bool cancelled(fixture *f, const char *rid)
{
    json_t *posts = fake_mgmt_posts(f->h.mgmt, CID);
    const char *text = json_string_value(json_array_get(posts, json_array_size(posts) - 1));
    tmsg m;
    const char *err;
    if (!text || tmsg_decode(text, strlen(text), &m, &err) < 0)
        return false;
    bool ok = m.type == TMSG_CANCEL && m.request_id && strcmp(m.request_id, rid) == 0;
    tmsg_free(&m);
    return ok;
}

static void lambda_cancels_when_it_gives_up(void **state)
{
    fixture *f = *state;
    f->h.cfg.request_timeout_s = 1;
    json_t *a = request(f, SILENT, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 504);
    json_decref(a);
    assert_true(cancelled(f, f->rid));
    a = request(f, CL_OVER_HEAD, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 502);
    json_decref(a);
    assert_true(cancelled(f, f->rid));
    /* the early answer: the rest of the body is not coming */
    size_t n = 3 * TTF_JSON_CHUNK;
    char *body = calloc(1, n);
    a = request(f, EARLY_403, "POST", "/", body, n);
    free(body);
    assert_int_equal(status_of(a), 403);
    json_decref(a);
    assert_true(cancelled(f, f->rid));
}

/* An agent that answers every request 200 "hello" on the connection that got it. */
static void answer_on_its_connection(harness *h, const char *cid, const tmsg *m, void *ud)
{
    (void)ud;
    if (m->type != TMSG_HTTP_REQUEST)
        return;
    tmsg r;
    tmsg_init(&r, TMSG_HTTP_RESPONSE);
    r.request_id = strdup(m->request_id);
    r.status_code = 200;
    r.body = (uint8_t *)strdup("hello");
    r.body_len = 5;
    char *text = harness_encode(&r);
    tmsg_free(&r);
    harness_agent_later(h, cid, text);
    free(text);
}

/* The route cache holds any tunnel name: a chosen name of 16 and more characters (up to
 * TUNNEL_NAME_MAX) is looked up in the GSI once, then remembered like a generated one. */
static void long_chosen_name_uses_the_route_cache(void **state)
{
    fixture *f = *state;
    harness *h = &f->h;
    static const char *const names[] = {"a-chosen-name-16", /* 16: the old array's size */
                                        "a-much-longer-chosen-name-of-the-tunnel-with-63-chars-"
                                        "abcdefghi"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char cid[16], ready[160];
        snprintf(cid, sizeof cid, "Long%zu=", k);
        snprintf(ready, sizeof ready, "{\"type\":\"ready\",\"subdomain\":\"%s\"}", names[k]);
        json_decref(harness_invoke(h, &h->ws, ev_connect(h, cid, "ttf.json.v1")));
        fake_mgmt_open(h->mgmt, cid);
        json_decref(harness_agent_send(h, cid, ready));
        assert_non_null(fake_ddb_get(h->db, H_CONN_TABLE, cid));
        h->agent = answer_on_its_connection;
        unsigned queries = fake_ddb_calls(h->db, "Query");
        for (int i = 0; i < 3; i++) {
            json_t *a = harness_request(h, names[k], "GET", "/", NULL, NULL, 0);
            assert_int_equal(status_of(a), 200);
            expect_body(a, "hello", 5);
            json_decref(a);
        }
        /* one GSI query for the first request; the next two use the remembered connection */
        assert_int_equal(fake_ddb_calls(h->db, "Query") - queries, 1);
    }
}

typedef struct next_conn {
    fixture *f;
    unsigned queries;
} next_conn;

/* The agent's next connection "B=" appears (its takeover recorded) at the third GSI query. */
static void next_appears(harness *h, const char *op, void *ud)
{
    (void)h;
    next_conn *n = ud;
    if (strcmp(op, "Query") != 0 || ++n->queries != 3)
        return;
    json_t *item = json_pack("{s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s}}", "connectionId",
                             "S", "B=", "tunnelId", "S", n->f->tid, "sub", "S", "", "access", "S",
                             "{}", "createdAt", "N", "1", "ttl", "N", "99999999999");
    fake_ddb_put(n->f->h.db, H_CONN_TABLE, item);
    json_decref(item); /* the fake keeps its own reference */
    fake_mgmt_open(n->f->h.mgmt, "B=");
}

/* The tunnel's connection is gone (API Gateway closed it: GoneException) and its agent's next
 * connection is recorded a moment later: the request waits for it and is answered there, instead
 * of a 502 in the gap of a move. */
static void gone_connection_waits_for_the_next_one(void **state)
{
    fixture *f = *state;
    fake_mgmt_close(f->h.mgmt, CID);
    next_conn n = {.f = f};
    f->h.meanwhile = next_appears;
    f->h.meanwhile_ud = &n;
    f->h.agent = answer_on_its_connection;
    json_t *a = harness_request(&f->h, f->tid, "POST", "/", NULL, "x", 1);
    f->h.meanwhile = NULL;
    assert_int_equal(status_of(a), 200);
    expect_body(a, "hello", 5);
    json_decref(a);
    assert_true(n.queries >= 3);
    assert_true(harness_log_has(&f->h, "waiting for the next one", NULL));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(foreign_answer_ignored),
        T(messages_sent_again),
        T(idempotent_request_sent_again_when_its_connection_goes),
        T(other_request_not_sent_again),
        T(gone_and_busy),
        T(tunnel_id_in_request),
        T(agent_cancel_after_head),
        T(agent_cancel_after_the_end),
        T(lambda_cancels_when_it_gives_up),
        T(long_chosen_name_uses_the_route_cache),
        T(gone_connection_waits_for_the_next_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
