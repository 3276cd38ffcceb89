/* SPDX-License-Identifier: MIT */
/* test_mem_budget.c - lib/mem_budget: what holders keep beyond their shares is counted, never
 * past the limit (a refusal changes nothing), less is never refused, everything comes back, and
 * no budget counts nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mem_budget.h"

static void test_share_is_free(void **state)
{
    (void)state;
    mem_budget b = {.limit = 10};
    size_t c = 0;
    assert_true(mem_budget_charge(&b, NULL, &c, 100, 100));
    assert_int_equal(c, 0);
    assert_int_equal(b.used, 0);
    assert_true(mem_budget_charge(&b, NULL, &c, 100, 104)); /* 4 beyond the share */
    assert_int_equal(c, 4);
    assert_int_equal(b.used, 4);
}

static void test_limit_over_holders(void **state)
{
    (void)state;
    mem_budget b = {.limit = 10};
    size_t one = 0, two = 0;
    assert_true(mem_budget_charge(&b, NULL, &one, 0, 6));
    assert_true(mem_budget_charge(&b, NULL, &two, 0, 4)); /* exactly at the limit */
    assert_int_equal(b.used, 10);
    assert_false(mem_budget_charge(&b, NULL, &two, 0, 5)); /* one past: refused, nothing changed */
    assert_int_equal(two, 4);
    assert_int_equal(b.used, 10);
    assert_true(mem_budget_charge(&b, NULL, &one, 0, 2)); /* less: never refused */
    assert_int_equal(b.used, 6);
    assert_true(mem_budget_charge(&b, NULL, &two, 0, 8)); /* what one gave back, two may take */
    assert_int_equal(b.used, 10);
    assert_true(mem_budget_charge(&b, NULL, &one, 0, 0));
    assert_true(mem_budget_charge(&b, NULL, &two, 0, 0));
    assert_int_equal(b.used, 0);
    assert_int_equal(one + two, 0);
}

static void test_no_limit_and_no_budget(void **state)
{
    (void)state;
    mem_budget b = {0};
    size_t c = 0;
    assert_true(mem_budget_charge(&b, NULL, &c, 0, (size_t)1 << 40));
    assert_int_equal(b.used, (size_t)1 << 40);
    assert_true(mem_budget_charge(&b, NULL, &c, 0, 0));
    assert_int_equal(b.used, 0);
    assert_true(mem_budget_charge(NULL, NULL, &c, 0, 99));
    assert_int_equal(c, 0);
}

/* One group (a peer address) counts at most a MEM_BUDGET_GROUP_PARTS-th of the limit: a peer
 * whose holders filled the whole budget before leaves room for another peer's larger holder (the
 * newcomer was refused before); a group is freed once it counts nothing. */
static void test_group_part(void **state)
{
    (void)state;
    mem_budget b = {.limit = 400}; /* a group: at most 100 */
    size_t hostile[8] = {0}, honest = 0;
    size_t taken = 0;
    for (int i = 0; i < 8; i++)
        if (mem_budget_charge(&b, "10.0.0.1", &hostile[i], 10, 10 + 40))
            taken++;
    assert_int_equal(taken, 2); /* 40 + 40; a third would make 120 */
    assert_int_equal(mem_budget_group_used(&b, "10.0.0.1"), 80);
    assert_false(mem_budget_charge(&b, "10.0.0.1", &hostile[2], 10, 10 + 21));
    assert_true(mem_budget_charge(&b, "10.0.0.1", &hostile[2], 10, 10 + 20)); /* to 100 exactly */
    assert_int_equal(b.used, 100);
    assert_true(mem_budget_charge(&b, "10.0.0.2", &honest, 10, 10 + 100)); /* its own part */
    assert_false(mem_budget_charge(&b, "10.0.0.2", &honest, 10, 10 + 101));
    assert_int_equal(b.used, 200);
    assert_true(mem_budget_charge(&b, "10.0.0.2", &honest, 0, 0));
    assert_int_equal(mem_budget_group_used(&b, "10.0.0.2"), 0);
    for (int i = 0; i < 8; i++)
        assert_true(mem_budget_charge(&b, "10.0.0.1", &hostile[i], 10, 0));
    assert_int_equal(b.used, 0);
    assert_null(b.groups); /* no group left counting nothing */
}

/* The whole budget still bounds many groups, each within its part. */
static void test_groups_within_the_limit(void **state)
{
    (void)state;
    mem_budget b = {.limit = 400};
    size_t c[5] = {0};
    const char *peer[5] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 4; i++)
        assert_true(mem_budget_charge(&b, peer[i], &c[i], 0, 100));
    assert_false(mem_budget_charge(&b, peer[4], &c[4], 0, 1)); /* its part, not the whole */
    assert_int_equal(mem_budget_group_used(&b, peer[4]), 0);
    for (int i = 0; i < 4; i++)
        assert_true(mem_budget_charge(&b, peer[i], &c[i], 0, 0));
    assert_int_equal(b.used, 0);
    assert_null(b.groups);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_share_is_free),           cmocka_unit_test(test_limit_over_holders),
        cmocka_unit_test(test_no_limit_and_no_budget),  cmocka_unit_test(test_group_part),
        cmocka_unit_test(test_groups_within_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
