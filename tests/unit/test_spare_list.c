/* SPDX-License-Identifier: MIT */
/* lib/spare_list.h: kept objects come back last kept first, at most max are kept, the link lives
 * where the owner set it aside and nothing else of a spare is touched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "spare_list.h"

typedef struct obj {
    int id;
    void *link;
    char tail[8];
} obj;

#define LINK offsetof(obj, link)

static void keeps_up_to_max_and_gives_back_last_first(void **state)
{
    (void)state;
    spare_list l = {0};
    obj o[4] = {{.id = 0}, {.id = 1}, {.id = 2}, {.id = 3}};
    assert_null(spare_take(&l, LINK));
    for (int i = 0; i < 3; i++)
        assert_true(spare_keep(&l, &o[i], LINK, 3));
    assert_false(spare_keep(&l, &o[3], LINK, 3)); /* full: still the caller's */
    assert_int_equal(l.n, 3);
    for (int i = 2; i >= 0; i--) {
        obj *p = spare_take(&l, LINK);
        assert_ptr_equal(p, &o[i]);
        assert_int_equal(p->id, i); /* only the link was written */
    }
    assert_null(spare_take(&l, LINK));
    assert_int_equal(l.n, 0);
    assert_false(spare_keep(&l, &o[0], LINK, 0)); /* max 0: nothing kept */
}

static void link_at_offset_zero(void **state)
{
    (void)state;
    spare_list l = {0};
    for (int i = 0; i < 5; i++) {
        void **xs = malloc(4 * sizeof *xs);
        assert_non_null(xs);
        assert_true(spare_keep(&l, xs, 0, 64));
    }
    void **xs;
    int n = 0;
    while ((xs = spare_take(&l, 0))) {
        free(xs);
        n++;
    }
    assert_int_equal(n, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keeps_up_to_max_and_gives_back_last_first),
        cmocka_unit_test(link_at_offset_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
