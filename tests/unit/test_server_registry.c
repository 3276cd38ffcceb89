/* test_server_registry.c - ttfd's tunnel id table: fresh ids, reclaim rules with and without
 * auth, uniqueness against live and recorded ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* The unit-test glob links tunnelcore only, so the module under test is compiled in here. */
#include "../../server/registry.c"

typedef struct seq_gen {
    const char *const *ids;
    size_t n, i;
} seq_gen;

static int gen_seq(void *ud, char out[TUNNEL_ID_LEN + 1])
{
    seq_gen *g = ud;
    if (g->i >= g->n)
        return -1;
    memcpy(out, g->ids[g->i++], TUNNEL_ID_LEN + 1);
    return 0;
}

static int A1, A2, A3; /* agent identities (only their addresses matter) */

static void test_fresh_and_lookup(void **state)
{
    (void)state;
    registry *r = registry_new(NULL, NULL);
    assert_non_null(r);
    char id1[TUNNEL_ID_LEN + 1], id2[TUNNEL_ID_LEN + 1];
    assert_int_equal(registry_claim(r, NULL, "", false, &A1, id1), REG_FRESH);
    assert_int_equal(registry_claim(r, "not-an-id", "", false, &A2, id2), REG_FRESH);
    assert_true(tunnel_id_valid(id1, strlen(id1)));
    assert_string_not_equal(id1, id2);
    assert_ptr_equal(registry_lookup(r, id1, TUNNEL_ID_LEN), &A1);
    assert_ptr_equal(registry_lookup(r, id2, TUNNEL_ID_LEN), &A2);
    assert_null(registry_lookup(r, id1, 5));
    assert_int_equal(registry_live(r), 2);
    registry_release(r, id1, &A2); /* not the holder: no effect */
    assert_ptr_equal(registry_lookup(r, id1, TUNNEL_ID_LEN), &A1);
    registry_release(r, id1, &A1);
    assert_null(registry_lookup(r, id1, TUNNEL_ID_LEN));
    assert_int_equal(registry_live(r), 1);
    registry_free(r);
}

static void test_reclaim_without_auth(void **state)
{
    (void)state;
    registry *r = registry_new(NULL, NULL);
    char id[TUNNEL_ID_LEN + 1], again[TUNNEL_ID_LEN + 1];
    assert_int_equal(registry_claim(r, NULL, "", false, &A1, id), REG_FRESH);
    /* held by a live agent: someone else asking for it gets a fresh one */
    assert_int_equal(registry_claim(r, id, "", false, &A2, again), REG_FRESH);
    assert_string_not_equal(id, again);
    registry_release(r, id, &A1);
    assert_int_equal(registry_claim(r, id, "", false, &A3, again), REG_RECLAIMED);
    assert_string_equal(id, again);
    assert_ptr_equal(registry_lookup(r, id, TUNNEL_ID_LEN), &A3);
    /* an id this server never saw (it restarted) is granted */
    assert_int_equal(registry_claim(r, "abc123def456", "", false, &A1, again), REG_RECLAIMED);
    assert_string_equal(again, "abc123def456");
    registry_free(r);
}

static void test_reclaim_with_auth(void **state)
{
    (void)state;
    registry *r = registry_new(NULL, NULL);
    char id[TUNNEL_ID_LEN + 1], got[TUNNEL_ID_LEN + 1];
    assert_int_equal(registry_claim(r, NULL, "alice", true, &A1, id), REG_FRESH);
    registry_release(r, id, &A1);
    /* another subject may not take alice's id */
    assert_int_equal(registry_claim(r, id, "bob", true, &A2, got), REG_FRESH);
    assert_string_not_equal(id, got);
    assert_null(registry_lookup(r, id, TUNNEL_ID_LEN));
    /* alice gets it back */
    assert_int_equal(registry_claim(r, id, "alice", true, &A3, got), REG_RECLAIMED);
    assert_string_equal(id, got);
    /* but not twice while she holds it */
    char other[TUNNEL_ID_LEN + 1];
    assert_int_equal(registry_claim(r, id, "alice", true, &A1, other), REG_FRESH);
    assert_string_not_equal(id, other);
    registry_free(r);
}

static void test_fresh_ids_avoid_taken(void **state)
{
    (void)state;
    static const char *const ids[] = {"aaaaaaaaaaaa", "aaaaaaaaaaaa", "bbbbbbbbbbbb",
                                      "bbbbbbbbbbbb", "cccccccccccc"};
    seq_gen g = {ids, 5, 0};
    registry *r = registry_new(gen_seq, &g);
    char id[TUNNEL_ID_LEN + 1];
    assert_int_equal(registry_claim(r, NULL, "", false, &A1, id), REG_FRESH);
    assert_string_equal(id, "aaaaaaaaaaaa");
    /* the generator repeats a live id: skipped */
    assert_int_equal(registry_claim(r, NULL, "", false, &A2, id), REG_FRESH);
    assert_string_equal(id, "bbbbbbbbbbbb");
    registry_release(r, "bbbbbbbbbbbb", &A2);
    /* a recorded (released) id is not handed to a newcomer either */
    assert_int_equal(registry_claim(r, NULL, "", false, &A3, id), REG_FRESH);
    assert_string_equal(id, "cccccccccccc");
    /* generator exhausted: error, nothing registered */
    assert_int_equal(registry_claim(r, NULL, "", false, &A3, id), REG_ERROR);
    assert_int_equal(registry_live(r), 2);
    registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_and_lookup),
        cmocka_unit_test(test_reclaim_without_auth),
        cmocka_unit_test(test_reclaim_with_auth),
        cmocka_unit_test(test_fresh_ids_avoid_taken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
