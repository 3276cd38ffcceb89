/* SPDX-License-Identifier: MIT */
/* lambda/admission against the fake DynamoDB, through the HTTP function (http_handler_fixture.h):
 * a request takes a lease in the admission item and gives it back once answered; with
 * MAX_WAITING_REQUESTS leases live the next request is answered 503 at once and never reaches
 * the agent; expired leases (invocations that died) are removed to make room; the map is made
 * when missing; a DynamoDB failure is a 503 too; a release never creates the item. Per agent
 * connection (MAX_WAITING_PER_AGENT): the same, in that connection's own item, answered as ttfd
 * answers a busy agent; other connections' leases do not count. */
#include "http_handler_fixture.h"

#include "admission.h"

static json_t *leases_of(fixture *f, const char *key)
{
    json_t *it = fake_ddb_get(f->h.db, H_PEND_TABLE, key);
    return it ? json_object_get(json_object_get(it, "leases"), "M") : NULL;
}

static json_t *leases(fixture *f)
{
    return leases_of(f, STORE_ADMISSION_KEY);
}

/* Admission item key with leases ids[i] -> now + in_ms[i]. */
static void put_leases_of(fixture *f, const char *key, const char *const *ids, const int64_t *in_ms,
                          size_t n)
{
    json_t *m = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(m, ids[i], ddb_n(clock_wall_ms() + in_ms[i]));
    json_t *it = json_pack("{s:{s:s},s:{s:o},s:{s:s}}", "requestId", "S", key, "leases", "M", m,
                           "ttl", "N", "9999999999");
    assert_int_equal(fake_ddb_put(f->h.db, H_PEND_TABLE, it), 0);
    json_decref(it);
}

static void put_leases(fixture *f, const char *const *ids, const int64_t *in_ms, size_t n)
{
    put_leases_of(f, STORE_ADMISSION_KEY, ids, in_ms, n);
}

#define AGENT_KEY STORE_ADMISSION_CONN_PREFIX CID

static void expect_refused(fixture *f, json_t *a)
{
    assert_int_equal(status_of(a), 503);
    assert_string_equal(harness_header(a, "retry-after"), "1");
    expect_body(a, "tunnel agent busy: try again\n", 29); /* ttfd's answer past --max-streams */
    assert_int_equal(f->requests, 0);                     /* never posted */
    json_t *keys = fake_ddb_keys(f->h.db, H_PEND_TABLE, "");
    assert_int_equal(json_array_size(keys), 1); /* the admission item alone: no request item */
    json_decref(keys);
}

static void admitted_and_released(void **state)
{
    fixture *f = *state;
    f->h.cfg.max_waiting = 2;
    json_t *a = request(f, PLAIN, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    json_decref(a);
    json_t *m = leases(f); /* made on first use, the lease given back after the response */
    assert_non_null(m);
    assert_int_equal(json_object_size(m), 0);
    assert_false(f->h.http.lease_held);
}

static void full_is_503_at_once(void **state)
{
    fixture *f = *state;
    f->h.cfg.max_waiting = 2;
    put_leases(f, (const char *[]){"other-1", "other-2"}, (int64_t[]){20000, 20000}, 2);
    json_t *a = request(f, PLAIN, "GET", "/", NULL, 0);
    expect_refused(f, a);
    json_decref(a);
    assert_int_equal(json_object_size(leases(f)), 2); /* theirs, untouched */
}

static void expired_leases_make_room(void **state)
{
    fixture *f = *state;
    f->h.cfg.max_waiting = 2;
    put_leases(f, (const char *[]){"dead", "live"}, (int64_t[]){-1000, 20000}, 2);
    json_t *a = request(f, PLAIN, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    json_decref(a);
    json_t *m = leases(f);
    assert_int_equal(json_object_size(m), 1);
    assert_non_null(json_object_get(m, "live"));
    assert_true(harness_log_has(&f->h, "admission", "expired"));
}

static void map_made_when_missing(void **state)
{
    fixture *f = *state;
    f->h.cfg.max_waiting = 1;
    json_t *it = json_pack("{s:{s:s}}", "requestId", "S", STORE_ADMISSION_KEY); /* no map */
    fake_ddb_put(f->h.db, H_PEND_TABLE, it);
    json_decref(it);
    json_t *a = request(f, PLAIN, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    json_decref(a);
    assert_non_null(leases(f));
}

/* The first UpdateItem of a request without an access policy is the lease's: throttled through
 * ddb_call's retries. */
static void throttle_first_update(harness *h, const char *op, void *ud)
{
    bool *done = ud;
    if (!*done && strcmp(op, "UpdateItem") == 0) {
        *done = true;
        fake_ddb_throttle(h->db, 4);
    }
}

static void dynamodb_failure_is_503(void **state)
{
    fixture *f = *state;
    f->h.cfg.max_waiting = 2;
    bool done = false;
    put_leases(f, (const char *[]){"other"}, (int64_t[]){20000}, 1);
    f->h.meanwhile = throttle_first_update;
    f->h.meanwhile_ud = &done;
    json_t *a = request(f, PLAIN, "GET", "/", NULL, 0);
    f->h.meanwhile = NULL;
    assert_true(done);
    expect_refused(f, a);
    json_decref(a);
    assert_true(harness_log_has(&f->h, "admission", "Throttl"));
}

/* Another invocation makes the map between this one's take (no map yet) and its read. */
static void map_made_meanwhile(harness *h, const char *op, void *ud)
{
    fixture *f = ud;
    if (strcmp(op, "GetItem") == 0 && !fake_ddb_get(h->db, H_PEND_TABLE, STORE_ADMISSION_KEY))
        put_leases(f, NULL, NULL, 0);
}

static void a_map_made_by_another_invocation_meanwhile_admits(void **state)
{
    fixture *f = *state;
    f->h.cfg.max_waiting = 2;
    f->h.meanwhile = map_made_meanwhile;
    f->h.meanwhile_ud = f;
    json_t *a = request(f, PLAIN, "GET", "/", NULL, 0);
    f->h.meanwhile = NULL;
    assert_int_equal(status_of(a), 200); /* it was 503: an empty map read as a full one */
    json_decref(a);
}

static void release_never_creates_the_item(void **state)
{
    fixture *f = *state;
    f->h.cfg.max_waiting = 2;
    snprintf(f->h.http.invocation_id, sizeof f->h.http.invocation_id, "gone-lease");
    f->h.http.lease_held = true; /* its item deleted meanwhile (the cleanup, or by hand) */
    admission_leave(&f->h.http);
    assert_false(f->h.http.lease_held);
    assert_null(fake_ddb_get(f->h.db, H_PEND_TABLE, STORE_ADMISSION_KEY));
}

/* The expiry of the lease (the map's only one) when the request's item is written. */
static void lease_expiry_at_put(harness *h, const char *op, void *ud)
{
    int64_t *expiry = ud;
    json_t *it = fake_ddb_get(h->db, H_PEND_TABLE, STORE_ADMISSION_KEY);
    json_t *m = it ? json_object_get(json_object_get(it, "leases"), "M") : NULL;
    const char *k;
    json_t *v;
    if (strcmp(op, "PutItem") == 0 && m && json_object_size(m) == 1)
        json_object_foreach(m, k, v) *expiry = atoll(json_string_value(json_object_get(v, "N")));
}

/* A crashed invocation's lease is left behind: it lasts until 1 s after its request's own wait
 * bound (27 s after API Gateway got it), not until the invocation's deadline (it held a
 * tunnel's places ~2-3 s longer than any live request could). */
static void lease_ends_with_the_requests_wait_bound(void **state)
{
    fixture *f = *state;
    f->h.cfg.max_waiting = 2;
    f->h.http.deadline_ms = clock_wall_ms() + 40000; /* a longer function timeout */
    int64_t expiry = 0, t0 = clock_wall_ms();
    f->h.meanwhile = lease_expiry_at_put;
    f->h.meanwhile_ud = &expiry;
    json_t *a = request(f, PLAIN, "GET", "/", NULL, 0);
    f->h.meanwhile = NULL;
    int64_t t1 = clock_wall_ms();
    assert_int_equal(status_of(a), 200);
    json_decref(a);
    assert_true(expiry >= t0 + 28000 && expiry <= t1 + 28000); /* was the deadline, t0 + 40 s */
    assert_int_equal(f->h.http.wait_until_ms, 0);              /* the bound is the request's only */
}

static void per_agent_admitted_and_released(void **state)
{
    fixture *f = *state;
    f->h.cfg.max_waiting = 4;
    f->h.cfg.max_waiting_agent = 2;
    json_t *a = request(f, PLAIN, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    json_decref(a);
    json_t *m = leases_of(f, AGENT_KEY); /* made on first use, given back after the response */
    assert_non_null(m);
    assert_int_equal(json_object_size(m), 0);
    assert_int_equal(json_object_size(leases(f)), 0);
    assert_string_equal(f->h.http.agent_lease, "");
}

static void per_agent_full_is_503_busy_at_once(void **state)
{
    fixture *f = *state;
    f->h.cfg.max_waiting = 10; /* room in all: only the agent's own limit refuses */
    f->h.cfg.max_waiting_agent = 2;
    put_leases_of(f, AGENT_KEY, (const char *[]){"mine-1", "mine-2"}, (int64_t[]){20000, 20000}, 2);
    json_t *a = request(f, PLAIN, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 503);
    assert_string_equal(harness_header(a, "retry-after"), "1");
    expect_body(a, "tunnel agent busy: try again\n", 29);
    assert_int_equal(f->requests, 0); /* never posted */
    json_decref(a);
    assert_int_equal(json_object_size(leases_of(f, AGENT_KEY)), 2); /* theirs, untouched */
    json_t *g = leases(f); /* no place taken among all the waiting requests */
    assert_true(!g || json_object_size(g) == 0);
    assert_string_equal(f->h.http.agent_lease, "");
}

static void per_agent_other_connections_do_not_count(void **state)
{
    fixture *f = *state;
    f->h.cfg.max_waiting_agent = 1;
    put_leases_of(f, STORE_ADMISSION_CONN_PREFIX "otherConn=", (const char *[]){"theirs"},
                  (int64_t[]){20000}, 1);
    json_t *a = request(f, PLAIN, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    json_decref(a);
}

static void per_agent_expired_leases_make_room(void **state)
{
    fixture *f = *state;
    f->h.cfg.max_waiting_agent = 1;
    put_leases_of(f, AGENT_KEY, (const char *[]){"dead"}, (int64_t[]){-1000}, 1);
    json_t *a = request(f, PLAIN, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    json_decref(a);
    assert_int_equal(json_object_size(leases_of(f, AGENT_KEY)), 0);
}

static void no_limit_no_item(void **state)
{
    fixture *f = *state; /* MAX_WAITING_REQUESTS unset: 0 */
    json_t *a = request(f, PLAIN, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    json_decref(a);
    assert_null(fake_ddb_get(f->h.db, H_PEND_TABLE, STORE_ADMISSION_KEY));
    assert_null(fake_ddb_get(f->h.db, H_PEND_TABLE, AGENT_KEY));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(admitted_and_released, setup, teardown),
        cmocka_unit_test_setup_teardown(full_is_503_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(expired_leases_make_room, setup, teardown),
        cmocka_unit_test_setup_teardown(map_made_when_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(dynamodb_failure_is_503, setup, teardown),
        cmocka_unit_test_setup_teardown(release_never_creates_the_item, setup, teardown),
        cmocka_unit_test_setup_teardown(a_map_made_by_another_invocation_meanwhile_admits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(no_limit_no_item, setup, teardown),
        cmocka_unit_test_setup_teardown(lease_ends_with_the_requests_wait_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(per_agent_admitted_and_released, setup, teardown),
        cmocka_unit_test_setup_teardown(per_agent_full_is_503_busy_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(per_agent_other_connections_do_not_count, setup, teardown),
        cmocka_unit_test_setup_teardown(per_agent_expired_leases_make_room, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
