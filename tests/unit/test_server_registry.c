/* SPDX-License-Identifier: MIT */
/* test_server_registry.c - ttfd's tunnel names: fresh ids, reclaiming a remembered id with and
 * without auth, chosen names (granted, refused when live or owned), the reconnect grace without
 * auth, retention with auth, and uniqueness against live and recorded names. The state is a real
 * SQLite database (in memory here; test_server_state.c covers files and restarts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "registry.h"

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
#define T0 1700000000

typedef struct fixture {
    state *st;
    registry *r;
} fixture;

static fixture make(bool auth, seq_gen *g)
{
    char err[256];
    fixture f;
    f.st = state_open(":memory:", T0, err, sizeof err);
    assert_non_null(f.st);
    registry_policy pol = {.auth_on = auth, .grace_s = 300, .retention_s = 30 * 86400};
    f.r = registry_new(f.st, &pol, g ? gen_seq : NULL, g);
    assert_non_null(f.r);
    return f;
}

static void done(fixture *f)
{
    registry_free(f->r);
    state_close(f->st);
}

static registry_claim_result claim(fixture *f, const char *name, bool chosen, const char *owner,
                                   int64_t now, void *agent, registry_answer *ans)
{
    registry_ask ask = {.name = name, .chosen = chosen, .owner = owner};
    return registry_claim(f->r, &ask, now, agent, ans);
}

static void release(fixture *f, const char *name, void *agent, int64_t now)
{
    char err[256];
    assert_int_equal(registry_release(f->r, name, agent, now, err, sizeof err), 0);
}

static void test_fresh_and_lookup(void **state)
{
    (void)state;
    fixture f = make(false, NULL);
    registry_answer a1, a2;
    assert_int_equal(claim(&f, NULL, false, "", T0, &A1, &a1), REG_FRESH);
    assert_null(a1.code);
    assert_int_equal(claim(&f, "Not_an-id", false, "", T0, &A2, &a2), REG_FRESH);
    assert_string_equal(a2.code, "name_invalid");
    assert_true(tunnel_id_valid(a1.name, strlen(a1.name)));
    assert_string_not_equal(a1.name, a2.name);
    assert_ptr_equal(registry_lookup(f.r, a1.name, TUNNEL_ID_LEN), &A1);
    assert_ptr_equal(registry_lookup(f.r, a2.name, TUNNEL_ID_LEN), &A2);
    assert_null(registry_lookup(f.r, a1.name, 5));
    assert_int_equal(registry_live(f.r), 2);
    release(&f, a1.name, &A2, T0); /* not the holder: no effect */
    assert_ptr_equal(registry_lookup(f.r, a1.name, TUNNEL_ID_LEN), &A1);
    release(&f, a1.name, &A1, T0);
    assert_null(registry_lookup(f.r, a1.name, TUNNEL_ID_LEN));
    assert_int_equal(registry_live(f.r), 1);
    done(&f);
}

static void test_reclaim_without_auth(void **state)
{
    (void)state;
    fixture f = make(false, NULL);
    registry_answer a, b;
    char k1[STATE_OWNER_MAX + 1], k2[STATE_OWNER_MAX + 1];
    assert_int_equal(tunnel_owner(k1, sizeof k1, false, "", "secret-one"), 0);
    assert_int_equal(tunnel_owner(k2, sizeof k2, false, "", "secret-two"), 0);
    assert_int_equal(strlen(k1), 4 + 64);
    assert_string_not_equal(k1, k2);
    assert_null(strstr(k1, "secret")); /* stored hashed */

    assert_int_equal(claim(&f, NULL, false, k1, T0, &A1, &a), REG_FRESH);
    /* held by a live agent: someone else asking for it gets a fresh one, and is told why */
    assert_int_equal(claim(&f, a.name, false, k2, T0, &A2, &b), REG_FRESH);
    assert_string_not_equal(a.name, b.name);
    assert_string_equal(b.code, "name_in_use");
    release(&f, a.name, &A1, T0 + 10);
    /* within the grace period only the agent with the same key gets it back */
    assert_int_equal(claim(&f, a.name, false, k2, T0 + 20, &A3, &b), REG_FRESH);
    assert_string_equal(b.code, "name_owned");
    assert_int_equal(claim(&f, a.name, false, "", T0 + 20, &A3, &b), REG_FRESH);
    assert_false(a.returning); /* a first connect */
    assert_false(b.returning);
    assert_int_equal(claim(&f, a.name, false, k1, T0 + 20, &A3, &b), REG_GRANTED);
    assert_string_equal(b.name, a.name);
    assert_true(b.returning); /* its own name back: a reconnect (ttfd_agent_reconnects) */
    assert_ptr_equal(registry_lookup(f.r, a.name, strlen(a.name)), &A3);
    release(&f, a.name, &A3, T0 + 30);
    /* after it, anyone */
    assert_int_equal(claim(&f, a.name, false, k2, T0 + 30 + 300, &A2, &b), REG_GRANTED);
    assert_false(b.returning); /* another owner's old name */
    /* an id this server never saw (its state was lost) is granted */
    assert_int_equal(claim(&f, "abc123def456", false, "", T0, &A1, &b), REG_GRANTED);
    assert_string_equal(b.name, "abc123def456");
    done(&f);
}

static void test_reclaim_with_auth(void **state)
{
    (void)state;
    fixture f = make(true, NULL);
    registry_answer a, b;
    assert_int_equal(claim(&f, NULL, false, "sub:alice", T0, &A1, &a), REG_FRESH);
    release(&f, a.name, &A1, T0);
    /* another subject may not take alice's id, even long after the grace period */
    assert_int_equal(claim(&f, a.name, false, "sub:bob", T0 + 86400, &A2, &b), REG_FRESH);
    assert_string_not_equal(a.name, b.name);
    assert_string_equal(b.code, "name_owned");
    assert_non_null(strstr(b.message, "another user"));
    assert_null(registry_lookup(f.r, a.name, strlen(a.name)));
    /* alice gets it back */
    assert_int_equal(claim(&f, a.name, false, "sub:alice", T0 + 86400, &A3, &b), REG_GRANTED);
    /* but not twice while she holds it */
    registry_answer c;
    assert_int_equal(claim(&f, a.name, false, "sub:alice", T0 + 86400, &A1, &c), REG_FRESH);
    assert_string_equal(c.code, "name_in_use");
    /* after the retention period (30 days unused), another subject may have it */
    release(&f, a.name, &A3, T0 + 86400);
    assert_int_equal(claim(&f, a.name, false, "sub:bob", T0 + 86400 + 29 * 86400, &A2, &c),
                     REG_FRESH);
    assert_int_equal(claim(&f, a.name, false, "sub:bob", T0 + 86400 + 30 * 86400 + 1, &A2, &c),
                     REG_GRANTED);
    done(&f);
}

static void test_chosen_names(void **state)
{
    (void)state;
    fixture f = make(true, NULL);
    registry_answer a;
    assert_int_equal(claim(&f, "myapp", true, "sub:alice", T0, &A1, &a), REG_GRANTED);
    assert_string_equal(a.name, "myapp");
    assert_ptr_equal(registry_lookup(f.r, "myapp", 5), &A1);
    /* a chosen name is refused, never replaced */
    assert_int_equal(claim(&f, "myapp", true, "sub:alice", T0, &A2, &a), REG_REFUSED);
    assert_string_equal(a.code, "name_in_use");
    assert_non_null(strstr(a.message, "subdomain 'myapp'"));
    release(&f, "myapp", &A1, T0 + 5);
    assert_int_equal(claim(&f, "myapp", true, "sub:mallory", T0 + 10, &A2, &a), REG_REFUSED);
    assert_string_equal(a.code, "name_owned");
    assert_null(registry_lookup(f.r, "myapp", 5));
    assert_int_equal(registry_live(f.r), 0);
    /* reserved and malformed names */
    assert_int_equal(claim(&f, "www", true, "sub:alice", T0, &A2, &a), REG_REFUSED);
    assert_string_equal(a.code, "name_invalid");
    assert_int_equal(claim(&f, "-x", true, "sub:alice", T0, &A2, &a), REG_REFUSED);
    assert_string_equal(a.code, "name_invalid");
    /* the owner gets it back, by name or as a remembered id */
    assert_int_equal(claim(&f, "myapp", false, "sub:alice", T0 + 20, &A3, &a), REG_GRANTED);
    done(&f);
}

static void test_fresh_ids_avoid_taken(void **state)
{
    (void)state;
    static const char *const ids[] = {"aaaaaaaaaaaa", "aaaaaaaaaaaa", "bbbbbbbbbbbb",
                                      "bbbbbbbbbbbb", "cccccccccccc"};
    seq_gen g = {ids, 5, 0};
    fixture f = make(false, &g);
    registry_answer a;
    assert_int_equal(claim(&f, NULL, false, "", T0, &A1, &a), REG_FRESH);
    assert_string_equal(a.name, "aaaaaaaaaaaa");
    /* the generator repeats a live id: skipped */
    assert_int_equal(claim(&f, NULL, false, "", T0, &A2, &a), REG_FRESH);
    assert_string_equal(a.name, "bbbbbbbbbbbb");
    release(&f, "bbbbbbbbbbbb", &A2, T0);
    /* a recorded (released) id is not handed to a newcomer either */
    assert_int_equal(claim(&f, NULL, false, "", T0, &A3, &a), REG_FRESH);
    assert_string_equal(a.name, "cccccccccccc");
    /* generator exhausted: error, nothing registered */
    assert_int_equal(claim(&f, NULL, false, "", T0, &A3, &a), REG_ERROR);
    assert_true(a.message[0] != '\0');
    assert_int_equal(registry_live(f.r), 2);
    done(&f);
}

static void test_owner_strings(void **state)
{
    (void)state;
    char o[STATE_OWNER_MAX + 1];
    assert_int_equal(tunnel_owner(o, sizeof o, true, "alice", "ignored"), 0);
    assert_string_equal(o, "sub:alice");
    assert_int_equal(tunnel_owner(o, sizeof o, false, "", NULL), 0);
    assert_string_equal(o, "");
    assert_int_equal(tunnel_owner(o, sizeof o, false, "", ""), 0);
    assert_string_equal(o, "");
    /* sha256("abc") */
    assert_int_equal(tunnel_owner(o, sizeof o, false, "", "abc"), 0);
    assert_string_equal(o, "key:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char small[8];
    assert_int_equal(tunnel_owner(small, sizeof small, true, "a-long-subject", NULL), -1);
}

/* A claim undone because another tunnel of the same ready was refused: a name it created is
 * anybody's again at once (no grace hold for a session that never served); a name the owner
 * held before stays held for it as a release would leave it. */
static void test_unclaim(void **state)
{
    (void)state;
    fixture f = make(false, NULL);
    char err[256];
    registry_answer a;
    assert_int_equal(claim(&f, "fresh-name", true, "key:aaa", T0, &A1, &a), REG_GRANTED);
    assert_true(a.created);
    assert_int_equal(registry_unclaim(f.r, "fresh-name", &A1, a.created, T0, err, sizeof err), 0);
    assert_null(registry_lookup(f.r, "fresh-name", 10));
    assert_int_equal(claim(&f, "fresh-name", true, "key:bbb", T0 + 1, &A2, &a), REG_GRANTED);
    release(&f, "fresh-name", &A2, T0 + 2);
    /* key:bbb held it before: its claim does not create the record, undoing it keeps the hold */
    assert_int_equal(claim(&f, "fresh-name", true, "key:bbb", T0 + 3, &A2, &a), REG_GRANTED);
    assert_false(a.created);
    assert_int_equal(registry_unclaim(f.r, "fresh-name", &A2, a.created, T0 + 4, err, sizeof err),
                     0);
    assert_int_equal(claim(&f, "fresh-name", true, "key:ccc", T0 + 5, &A3, &a), REG_REFUSED);
    assert_string_equal(a.code, "name_owned");
    /* a fresh random id is created by its claim */
    assert_int_equal(claim(&f, NULL, false, "key:ccc", T0 + 6, &A3, &a), REG_FRESH);
    assert_true(a.created);
    /* not the holder: nothing happens */
    assert_int_equal(registry_unclaim(f.r, a.name, &A1, true, T0 + 7, err, sizeof err), 0);
    assert_ptr_equal(registry_lookup(f.r, a.name, strlen(a.name)), &A3);
    done(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unclaim),
        cmocka_unit_test(test_fresh_and_lookup),
        cmocka_unit_test(test_reclaim_without_auth),
        cmocka_unit_test(test_reclaim_with_auth),
        cmocka_unit_test(test_chosen_names),
        cmocka_unit_test(test_fresh_ids_avoid_taken),
        cmocka_unit_test(test_owner_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
