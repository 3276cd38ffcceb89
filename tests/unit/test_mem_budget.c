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
    assert_true(mem_budget_charge(&b, &c, 100, 100));
    assert_int_equal(c, 0);
    assert_int_equal(b.used, 0);
    assert_true(mem_budget_charge(&b, &c, 100, 104)); /* 4 beyond the share */
    assert_int_equal(c, 4);
    assert_int_equal(b.used, 4);
}

static void test_limit_over_holders(void **state)
{
    (void)state;
    mem_budget b = {.limit = 10};
    size_t one = 0, two = 0;
    assert_true(mem_budget_charge(&b, &one, 0, 6));
    assert_true(mem_budget_charge(&b, &two, 0, 4)); /* exactly at the limit */
    assert_int_equal(b.used, 10);
    assert_false(mem_budget_charge(&b, &two, 0, 5)); /* one past: refused, nothing changed */
    assert_int_equal(two, 4);
    assert_int_equal(b.used, 10);
    assert_true(mem_budget_charge(&b, &one, 0, 2)); /* less: never refused */
    assert_int_equal(b.used, 6);
    assert_true(mem_budget_charge(&b, &two, 0, 8)); /* what one gave back, two may take */
    assert_int_equal(b.used, 10);
    assert_true(mem_budget_charge(&b, &one, 0, 0));
    assert_true(mem_budget_charge(&b, &two, 0, 0));
    assert_int_equal(b.used, 0);
    assert_int_equal(one + two, 0);
}

static void test_no_limit_and_no_budget(void **state)
{
    (void)state;
    mem_budget b = {0};
    size_t c = 0;
    assert_true(mem_budget_charge(&b, &c, 0, (size_t)1 << 40));
    assert_int_equal(b.used, (size_t)1 << 40);
    assert_true(mem_budget_charge(&b, &c, 0, 0));
    assert_int_equal(b.used, 0);
    assert_true(mem_budget_charge(NULL, &c, 0, 99));
    assert_int_equal(c, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_share_is_free),
        cmocka_unit_test(test_limit_over_holders),
        cmocka_unit_test(test_no_limit_and_no_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
