/* SPDX-License-Identifier: MIT */
/* lambda/store against the fake DynamoDB: records, the conditions that keep a request answerable
 * only by the connection it went to and only once, body pieces, batches (partial ones retried),
 * deletion and the paginated cleanup. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "store.h"

#define ST(h) (&(h)->http.st)

static void connections(void **state)
{
    harness *h = *state;
    char err[256];
    conn_rec c;
    assert_int_equal(store_put_connection(ST(h), "C1", "abc", "alice", 1000, err, sizeof err), 0);
    assert_int_equal(store_put_connection(ST(h), "C2", "abc", "", 1000, err, sizeof err), 0);
    assert_int_equal(store_put_connection(ST(h), "C3", "xyz", "", 1000, err, sizeof err), 0);
    assert_int_equal(store_get_connection(ST(h), "C1", &c, err, sizeof err), 0);
    assert_string_equal(c.tunnel_id, "abc");
    assert_string_equal(c.sub, "alice");
    json_t *it = fake_ddb_get(h->db, H_CONN_TABLE, "C1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(it, "ttl"), "N")),
                        "8200"); /* 2 h after createdAt */
    char cids[4][STORE_CONN_ID_SIZE];
    size_t n;
    assert_int_equal(store_find_tunnel(ST(h), "abc", cids, 4, &n, NULL, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(store_set_connection_tunnel(ST(h), "C2", "~abc", err, sizeof err), 0);
    assert_int_equal(store_find_tunnel(ST(h), "abc", cids, 4, &n, NULL, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(cids[0], "C1");
    /* only an existing record is re-pointed */
    assert_int_equal(store_set_connection_tunnel(ST(h), "nope", "abc", err, sizeof err),
                     DDB_CONDITION);
    assert_null(fake_ddb_get(h->db, H_CONN_TABLE, "nope"));
    assert_int_equal(store_delete_connection(ST(h), "C1", err, sizeof err), 0);
    assert_int_equal(store_get_connection(ST(h), "C1", &c, err, sizeof err), 1);
}

static void owners(void **state)
{
    harness *h = *state;
    char err[256];
    owner_rec o;
    assert_int_equal(store_claim_owner(ST(h), "name1", "C1", "sub:alice", true, 5000, 300, NULL,
                                       err, sizeof err),
                     0);
    /* a second claim of a held name fails: two Lambdas never give one name to two agents */
    assert_int_equal(
        store_claim_owner(ST(h), "name1", "C2", "sub:bob", true, 5000, 300, NULL, err, sizeof err),
        DDB_CONDITION);
    assert_int_equal(store_get_owner(ST(h), "name1", &o, err, sizeof err), 0);
    assert_string_equal(o.holder, "C1");
    assert_string_equal(o.owner, "sub:alice");
    assert_true(o.chosen);
    /* re-claimed on the holder we checked, not on another */
    assert_int_equal(store_claim_owner(ST(h), "name1", "C2", "sub:alice", true, 5000, 300, "C9",
                                       err, sizeof err),
                     DDB_CONDITION);
    assert_int_equal(store_claim_owner(ST(h), "name1", "C2", "sub:alice", true, 5000, 300, "C1",
                                       err, sizeof err),
                     0);
    /* release: only by the holder; ttl = now + keep */
    assert_int_equal(store_release_owner(ST(h), "name1", "C1", 7000, err, sizeof err),
                     DDB_CONDITION);
    assert_int_equal(store_release_owner(ST(h), "name1", "C2", 7000, err, sizeof err), 0);
    assert_int_equal(store_get_owner(ST(h), "name1", &o, err, sizeof err), 0);
    assert_int_equal(o.ttl, 7300);
    /* takeover: the secret is set by the holder only, used once */
    assert_int_equal(store_set_takeover(ST(h), "name1", "C1", "s3", err, sizeof err),
                     DDB_CONDITION);
    assert_int_equal(store_set_takeover(ST(h), "name1", "C2", "s3", err, sizeof err), 0);
    assert_int_equal(store_move_owner(ST(h), "name1", "C2", "C3", "wrong", 0, err, sizeof err),
                     DDB_CONDITION);
    /* the move gives the record a held name's ttl again: C2 had released it (7300) */
    assert_int_equal(store_move_owner(ST(h), "name1", "C2", "C3", "s3", 14500, err, sizeof err), 0);
    assert_int_equal(store_move_owner(ST(h), "name1", "C3", "C4", "s3", 0, err, sizeof err),
                     DDB_CONDITION);
    assert_int_equal(store_get_owner(ST(h), "name1", &o, err, sizeof err), 0);
    assert_string_equal(o.holder, "C3");
    assert_string_equal(o.takeover, "");
    assert_int_equal(o.ttl, 14500);
    /* 0 keeps the ttl the record has */
    assert_int_equal(store_set_takeover(ST(h), "name1", "C3", "s4", err, sizeof err), 0);
    assert_int_equal(store_move_owner(ST(h), "name1", "C3", "C5", "s4", 0, err, sizeof err), 0);
    assert_int_equal(store_get_owner(ST(h), "name1", &o, err, sizeof err), 0);
    assert_int_equal(o.ttl, 14500);
    /* owner records stay out of the tunnel index */
    char cids[4][STORE_CONN_ID_SIZE];
    size_t n;
    assert_int_equal(store_find_tunnel(ST(h), "name1", cids, 4, &n, NULL, err, sizeof err), 0);
    assert_int_equal(n, 0);
}

/* A connection's tunnels after its first: items in the tunnel index naming their connection,
 * deleted with the connection record, marked when they move. */
static void other_tunnels(void **state)
{
    harness *h = *state;
    char err[256];
    char cids[4][STORE_CONN_ID_SIZE];
    char *access[4] = {0};
    size_t n;
    assert_int_equal(store_put_connection(ST(h), "C1", "web", "ann", 1000, err, sizeof err), 0);
    assert_int_equal(
        store_put_tunnel(ST(h), "C1", "api", "ann", "{\"x\":1}", 1000, err, sizeof err), 0);
    assert_int_equal(store_put_tunnel(ST(h), "C1", "db", "ann", NULL, 1000, err, sizeof err), 0);
    assert_int_equal(store_set_connection_tunnels(ST(h), "C1", "api db", err, sizeof err), 0);
    assert_int_equal(store_set_connection_tunnels(ST(h), "nope", "api", err, sizeof err),
                     DDB_CONDITION);
    assert_int_equal(store_find_tunnel(ST(h), "api", cids, 4, &n, access, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(cids[0], "C1"); /* the connection, not the item's key */
    assert_string_equal(access[0], "{\"x\":1}");
    free(access[0]);
    char *names = NULL;
    assert_int_equal(store_get_connection_tunnels(ST(h), "C1", NULL, &names, err, sizeof err), 0);
    assert_string_equal(names, "api db");
    free(names);
    assert_int_equal(store_connection_serves(ST(h), "C1", "web", err, sizeof err), 1);
    assert_int_equal(store_connection_serves(ST(h), "C1", "db", err, sizeof err), 1);
    assert_int_equal(store_connection_serves(ST(h), "C1", "other", err, sizeof err), 0);
    assert_int_equal(store_connection_serves(ST(h), "C2", "web", err, sizeof err), 0);
    /* moved: out of the index for its name, on the record or on the item */
    assert_int_equal(store_mark_moved(ST(h), "C1", "db", err, sizeof err), 0);
    assert_int_equal(store_find_tunnel(ST(h), "db", cids, 4, &n, NULL, err, sizeof err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_connection_serves(ST(h), "C1", "db", err, sizeof err), 0);
    assert_int_equal(store_mark_moved(ST(h), "C1", "web", err, sizeof err), 0);
    assert_int_equal(store_connection_serves(ST(h), "C1", "web", err, sizeof err), 0);
    assert_int_equal(store_mark_moved(ST(h), "C1", "gone", err, sizeof err), DDB_CONDITION);
    /* the record goes with its items */
    assert_int_equal(store_delete_connection(ST(h), "C1", err, sizeof err), 0);
    assert_null(fake_ddb_get(h->db, H_CONN_TABLE, "C1"));
    assert_null(fake_ddb_get(h->db, H_CONN_TABLE, "tunnel#C1#api"));
    assert_null(fake_ddb_get(h->db, H_CONN_TABLE, "tunnel#C1#db"));
    assert_int_equal(store_find_tunnel(ST(h), "api", cids, 4, &n, NULL, err, sizeof err), 0);
    assert_int_equal(n, 0);
}

static void pending_answers(void **state)
{
    harness *h = *state;
    char err[256];
    assert_int_equal(store_put_pending(ST(h), "R1", "C1", "abc", 100, err, sizeof err), 0);
    /* an error or head from another connection is refused and changes nothing */
    assert_int_equal(store_complete_head(ST(h), "R1", "C2", 200, "{}", (const uint8_t *)"x", 1,
                                         false, false, err, sizeof err),
                     DDB_CONDITION);
    assert_int_equal(store_complete_error(ST(h), "R1", "C2", 502, "no", err, sizeof err),
                     DDB_CONDITION);
    json_t *it = NULL;
    assert_int_equal(store_get_pending(ST(h), "R1", &it, err, sizeof err), 0);
    assert_string_equal(ddb_get_s(it, "status"), PEND_PENDING);
    json_decref(it);
    /* the head once, from the right connection */
    assert_int_equal(store_complete_head(ST(h), "R1", "C1", 201, "{\"a\":[\"1\"]}",
                                         (const uint8_t *)"hello", 5, true, false, err, sizeof err),
                     0);
    assert_int_equal(
        store_complete_head(ST(h), "R1", "C1", 500, "{}", NULL, 0, false, false, err, sizeof err),
        DDB_CONDITION);
    assert_int_equal(store_get_pending(ST(h), "R1", &it, err, sizeof err), 0);
    int64_t sc = 0;
    assert_int_equal(ddb_get_n(it, "statusCode", &sc), 0);
    assert_int_equal(sc, 201);
    uint8_t *b;
    size_t bl;
    assert_int_equal(ddb_get_b(it, "body0", &b, &bl), 0);
    assert_memory_equal(b, "hello", 5);
    free(b);
    json_decref(it);
    /* unknown request: nothing */
    assert_int_equal(
        store_complete_head(ST(h), "R9", "C1", 200, "{}", NULL, 0, false, false, err, sizeof err),
        DDB_CONDITION);
    assert_null(fake_ddb_get(h->db, H_PEND_TABLE, "R9"));
}

static void pieces(void **state)
{
    harness *h = *state;
    char err[256];
    assert_int_equal(store_put_pending(ST(h), "R2", "C1", "abc", 100, err, sizeof err), 0);
    /* a foreign piece writes nothing */
    assert_int_equal(store_put_piece(ST(h), "R2", "C2", 1, (const uint8_t *)"zz", 2, true, false,
                                     100, err, sizeof err),
                     DDB_CONDITION);
    json_t *keys = fake_ddb_keys(h->db, H_PEND_TABLE, "R2#");
    assert_int_equal(json_array_size(keys), 0);
    json_decref(keys);
    /* pieces 3, 1, 2 (out of order); each written once */
    const char *data[] = {"aa", "bbb", "c"};
    uint32_t order[] = {3, 1, 2};
    for (int i = 0; i < 3; i++) {
        uint32_t q = order[i];
        assert_int_equal(store_put_piece(ST(h), "R2", "C1", q, (const uint8_t *)data[q - 1],
                                         strlen(data[q - 1]), q != 3, i > 0, 100, err, sizeof err),
                         0);
    }
    assert_int_equal(store_put_piece(ST(h), "R2", "C1", 2, (const uint8_t *)"X", 1, true, true, 100,
                                     err, sizeof err),
                     DDB_CONDITION);
    json_t *it;
    assert_int_equal(store_get_pending(ST(h), "R2", &it, err, sizeof err), 0);
    int64_t last = 0;
    assert_int_equal(ddb_get_n(it, "lastSeq", &last), 0);
    assert_int_equal(last, 3);
    json_decref(it);
    /* read back, with DynamoDB returning half of each batch unprocessed twice */
    piece_set ps;
    assert_int_equal(piece_set_init(&ps, 3), 0);
    fake_ddb_partial_batches(h->db, 2);
    answer_poll p = {0}; /* the pieces only, up to 98 */
    assert_int_equal(store_poll_answer(ST(h), "R2", "C1", &ps, &p, err, sizeof err), 0);
    assert_int_equal(p.asked, 3);
    assert_int_equal(ps.have, 3);
    assert_int_equal(ps.bytes, 6);
    for (uint32_t q = 1; q <= 3; q++)
        assert_memory_equal(ps.data[q - 1], data[q - 1], ps.len[q - 1]);
    piece_set_free(&ps);
    /* pieces of another connection are never read */
    assert_int_equal(piece_set_init(&ps, 3), 0);
    p = (answer_poll){0};
    assert_int_equal(store_poll_answer(ST(h), "R2", "C2", &ps, &p, err, sizeof err), 0);
    assert_int_equal(ps.have, 0);
    piece_set_free(&ps);
    /* a failed request takes no more pieces */
    assert_int_equal(store_complete_error(ST(h), "R2", "C1", 502, "gone", err, sizeof err), 0);
    assert_int_equal(store_put_piece(ST(h), "R2", "C1", 4, (const uint8_t *)"d", 1, false, false,
                                     100, err, sizeof err),
                     DDB_CONDITION);
    /* deletion: the item and its pieces, in batches of 25 */
    assert_int_equal(store_delete_pending(ST(h), "R2", "C1", 3, 0, err, sizeof err), 0);
    assert_int_equal(fake_ddb_count(h->db, H_PEND_TABLE), 0);
}

static void many_pieces_deleted_in_batches(void **state)
{
    harness *h = *state;
    char err[256];
    assert_int_equal(store_put_pending(ST(h), "R3", "C1", "abc", 100, err, sizeof err), 0);
    for (uint32_t q = 1; q <= 60; q++)
        assert_int_equal(store_put_piece(ST(h), "R3", "C1", q, (const uint8_t *)"p", 1, q<60, q> 1,
                                         100, err, sizeof err),
                         0);
    assert_int_equal(fake_ddb_count(h->db, H_PEND_TABLE), 61);
    unsigned before = fake_ddb_calls(h->db, "BatchWriteItem");
    fake_ddb_partial_batches(h->db, 1);
    assert_int_equal(store_delete_pending(ST(h), "R3", "C1", 60, 0, err, sizeof err), 0);
    assert_int_equal(fake_ddb_count(h->db, H_PEND_TABLE), 0);
    /* 61 keys: 25 + 25 + 11, one of them retried for its unprocessed half */
    assert_int_equal(fake_ddb_calls(h->db, "BatchWriteItem") - before, 4);
}

static void throttling_retried(void **state)
{
    harness *h = *state;
    char err[256];
    fake_ddb_throttle(h->db, 2);
    assert_int_equal(store_put_connection(ST(h), "C7", "abc", "", 1000, err, sizeof err), 0);
    assert_non_null(fake_ddb_get(h->db, H_CONN_TABLE, "C7"));
    fake_ddb_throttle(h->db, 10);
    assert_int_equal(store_put_connection(ST(h), "C8", "abc", "", 1000, err, sizeof err), DDB_ERR);
    assert_non_null(strstr(err, "ThrottlingException"));
    fake_ddb_throttle(h->db, 0);
}

/* n connections K00.. for the cleanup tests: even ones expired (ttl 100 + 2 h < now 100000), odd
 * ones not. */
static void put_half_expired(harness *h, int n)
{
    char err[256];
    for (int i = 0; i < n; i++) {
        char cid[16];
        snprintf(cid, sizeof cid, "K%02d", i);
        assert_int_equal(
            store_put_connection(ST(h), cid, "t", "", i % 2 ? 100000 : 100, err, sizeof err), 0);
    }
}

static void cleanup_every_page(void **state)
{
    harness *h = *state;
    char err[256];
    put_half_expired(h, 30);
    fake_ddb_scan_page(h->db, 7);
    long deleted = 0;
    assert_int_equal(
        store_cleanup(ST(h), H_CONN_TABLE, "connectionId", 100000, &deleted, err, sizeof err), 0);
    assert_int_equal(deleted, 15);
    assert_int_equal(fake_ddb_count(h->db, H_CONN_TABLE), 15);
    assert_true(fake_ddb_calls(h->db, "Scan") >= 5);
    fake_ddb_scan_page(h->db, 0);
}

/* The first page's BatchWriteItem fails (throttled through every retry): the pages after it
 * still run, and the failure is what store_cleanup returns (it was overwritten by the next
 * page's successful Scan). */
static void throttle_first_batch(void *ud, const char *op, const json_t *req)
{
    (void)req;
    fake_ddb *db = ud;
    if (strcmp(op, "BatchWriteItem") == 0 && fake_ddb_calls(db, "BatchWriteItem") == 1)
        fake_ddb_throttle(db, 4);
}

static void cleanup_reports_a_failed_page(void **state)
{
    harness *h = *state;
    char err[256];
    put_half_expired(h, 30);
    fake_ddb_scan_page(h->db, 7);
    fake_ddb_on_call(h->db, throttle_first_batch, h->db);
    long deleted = 0;
    assert_int_equal(
        store_cleanup(ST(h), H_CONN_TABLE, "connectionId", 100000, &deleted, err, sizeof err), -1);
    assert_non_null(strstr(err, "Throttling"));
    assert_true(fake_ddb_calls(h->db, "Scan") >= 5);       /* every page was still read */
    assert_true(fake_ddb_count(h->db, H_CONN_TABLE) > 15); /* the first page's items stayed */
    fake_ddb_on_call(h->db, NULL, NULL);
    fake_ddb_scan_page(h->db, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, harness_setup, harness_teardown)
    const struct CMUnitTest tests[] = {
        T(connections),
        T(owners),
        T(other_tunnels),
        T(pending_answers),
        T(pieces),
        T(many_pieces_deleted_in_batches),
        T(throttling_retried),
        T(cleanup_every_page),
        T(cleanup_reports_a_failed_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
