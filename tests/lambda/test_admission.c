/* SPDX-License-Identifier: MIT */
/* lambda/admission against the fake DynamoDB, through the HTTP function (http_handler_fixture.h):
 * a request takes a lease in the admission item and gives it back once answered; with
 * MAX_WAITING_REQUESTS leases live the next request is answered 503 at once and never reaches
 * the agent; expired leases (invocations that died) are removed to make room; the map is made
 * when missing; a DynamoDB failure is a 503 too; a release never creates the item. */
#include "http_handler_fixture.h"

#include "admission.h"

static json_t *leases(fixture *f)
{
    json_t *it = fake_ddb_get(f->h.db, H_PEND_TABLE, STORE_ADMISSION_KEY);
    return it ? json_object_get(json_object_get(it, "leases"), "M") : NULL;
}

/* The admission item with leases ids[i] -> now + in_ms[i]. */
static void put_leases(fixture *f, const char *const *ids, const int64_t *in_ms, size_t n)
{
    json_t *m = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(m, ids[i], ddb_n(clock_wall_ms() + in_ms[i]));
    json_t *it = json_pack("{s:{s:s},s:{s:o},s:{s:s}}", "requestId", "S", STORE_ADMISSION_KEY,
                           "leases", "M", m, "ttl", "N", "9999999999");
    assert_int_equal(fake_ddb_put(f->h.db, H_PEND_TABLE, it), 0);
    json_decref(it);
}

static void expect_refused(fixture *f, json_t *a)
{
    assert_int_equal(status_of(a), 503);
    assert_string_equal(harness_header(a, "retry-after"), "1");
    expect_body(a, "too many requests waiting: try again\n", 37);
    assert_int_equal(f->requests, 0); /* never posted */
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

static void no_limit_no_item(void **state)
{
    fixture *f = *state; /* MAX_WAITING_REQUESTS unset: 0 */
    json_t *a = request(f, PLAIN, "GET", "/", NULL, 0);
    assert_int_equal(status_of(a), 200);
    json_decref(a);
    assert_null(fake_ddb_get(f->h.db, H_PEND_TABLE, STORE_ADMISSION_KEY));
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
        cmocka_unit_test_setup_teardown(no_limit_no_item, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
