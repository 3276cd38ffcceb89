/* SPDX-License-Identifier: MIT */
/* test_hmap.c - put/get/del/replace, growth, churn, copied keys (inline and allocated),
 * iteration, and random operations against a plain array. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"

static void test_basic(void **state)
{
    (void)state;
    hmap *m = hmap_new();
    assert_non_null(m);
    int a = 1, b = 2, c = 3;
    assert_int_equal(hmap_count(m), 0);
    assert_null(hmap_get(m, "x", 1));
    assert_int_equal(hmap_put(m, "abc123def456", 12, &a), 0);
    assert_int_equal(hmap_put(m, "zzz999zzz999", 12, &b), 0);
    assert_int_equal(hmap_count(m), 2);
    assert_ptr_equal(hmap_get(m, "abc123def456", 12), &a);
    assert_ptr_equal(hmap_get(m, "zzz999zzz999", 12), &b);
    assert_null(hmap_get(m, "abc123def45", 11)); /* prefix is another key */
    /* replace keeps the count */
    assert_int_equal(hmap_put(m, "abc123def456", 12, &c), 0);
    assert_int_equal(hmap_count(m), 2);
    assert_ptr_equal(hmap_get(m, "abc123def456", 12), &c);
    assert_ptr_equal(hmap_del(m, "abc123def456", 12), &c);
    assert_null(hmap_del(m, "abc123def456", 12));
    assert_null(hmap_get(m, "abc123def456", 12));
    assert_int_equal(hmap_count(m), 1);
    /* a NULL value is storable (get cannot tell it from absent, count can) */
    assert_int_equal(hmap_put(m, "n", 1, NULL), 0);
    assert_int_equal(hmap_count(m), 2);
    /* empty key */
    assert_int_equal(hmap_put(m, "", 0, &a), 0);
    assert_ptr_equal(hmap_get(m, "", 0), &a);
    assert_ptr_equal(hmap_del(m, "", 0), &a);
    hmap_free(m);
    hmap_free(NULL);
}

static void test_key_copied(void **state)
{
    (void)state;
    hmap *m = hmap_new();
    char key[16];
    int v = 7;
    strcpy(key, "abc123def456");
    assert_int_equal(hmap_put(m, key, 12, &v), 0);
    memset(key, 'q', sizeof key); /* the caller's buffer changes; the map must not care */
    assert_ptr_equal(hmap_get(m, "abc123def456", 12), &v);
    hmap_free(m);
}

static void test_u32_many(void **state)
{
    (void)state;
    enum { N = 20000 };
    hmap *m = hmap_new();
    for (uint32_t i = 1; i <= N; i++)
        assert_int_equal(hmap_put_u32(m, i, (void *)(uintptr_t)(i * 3u)), 0);
    assert_int_equal(hmap_count(m), N);
    for (uint32_t i = 1; i <= N; i++)
        assert_int_equal((uintptr_t)hmap_get_u32(m, i), i * 3u);
    assert_null(hmap_get_u32(m, 0));
    assert_null(hmap_get_u32(m, N + 1));
    /* remove the odd ones */
    for (uint32_t i = 1; i <= N; i += 2)
        assert_int_equal((uintptr_t)hmap_del_u32(m, i), i * 3u);
    assert_int_equal(hmap_count(m), N / 2);
    for (uint32_t i = 1; i <= N; i++) {
        if (i % 2)
            assert_null(hmap_get_u32(m, i));
        else
            assert_int_equal((uintptr_t)hmap_get_u32(m, i), i * 3u);
    }
    hmap_free(m);
}

/* Streams come and go for hours: lookups must still end and find every live entry. */
static void test_churn(void **state)
{
    (void)state;
    hmap *m = hmap_new();
    int v = 0;
    for (uint32_t i = 1; i <= 200000; i++) {
        assert_int_equal(hmap_put_u32(m, i, &v), 0);
        if (i > 8)
            assert_ptr_equal(hmap_del_u32(m, i - 8), &v);
    }
    assert_int_equal(hmap_count(m), 8);
    for (uint32_t i = 200000 - 7; i <= 200000; i++)
        assert_ptr_equal(hmap_get_u32(m, i), &v);
    assert_null(hmap_get_u32(m, 5));
    /* delete everything, then lookups of absent keys still terminate */
    for (uint32_t i = 200000 - 7; i <= 200000; i++)
        assert_non_null(hmap_del_u32(m, i));
    assert_int_equal(hmap_count(m), 0);
    assert_null(hmap_get_u32(m, 123));
    hmap_free(m);
}

static void count_fn(void *ud, const void *key, size_t klen, void *value)
{
    size_t *acc = ud;
    assert_int_equal(klen, 12);
    assert_non_null(key);
    acc[0]++;
    acc[1] += (size_t)(uintptr_t)value;
}

static void test_each(void **state)
{
    (void)state;
    hmap *m = hmap_new();
    size_t want = 0;
    for (int i = 0; i < 100; i++) {
        char k[13];
        snprintf(k, sizeof k, "id%010d", i);
        assert_int_equal(hmap_put(m, k, 12, (void *)(uintptr_t)(i + 1)), 0);
        want += (size_t)(i + 1);
    }
    for (int i = 0; i < 100; i += 3) {
        char k[13];
        snprintf(k, sizeof k, "id%010d", i);
        assert_non_null(hmap_del(m, k, 12));
        want -= (size_t)(i + 1);
    }
    size_t acc[2] = {0, 0};
    hmap_each(m, count_fn, acc);
    assert_int_equal(acc[0], hmap_count(m));
    assert_int_equal(acc[0], 66);
    assert_int_equal(acc[1], want);
    hmap_free(m);
}

/* An empty map (new, or emptied) answers every call, and fills again. */
static void test_empty_and_again(void **state)
{
    (void)state;
    hmap *m = hmap_new();
    assert_null(hmap_get_u32(m, 7));
    assert_null(hmap_del_u32(m, 7));
    size_t acc[2] = {0, 0};
    hmap_each(m, count_fn, acc);
    assert_int_equal(acc[0], 0);
    for (int round = 0; round < 3; round++) {
        for (uint32_t i = 1; i <= 40; i++)
            assert_int_equal(hmap_put_u32(m, i, (void *)(uintptr_t)i), 0);
        assert_int_equal(hmap_count(m), 40);
        for (uint32_t i = 1; i <= 40; i++)
            assert_ptr_equal(hmap_del_u32(m, i), (void *)(uintptr_t)i);
        assert_int_equal(hmap_count(m), 0);
        assert_null(hmap_get_u32(m, 3));
    }
    hmap_free(m);
}

/* Random puts, replaces and deletes of 1..16-byte keys (inline and allocated copies, runs that
 * wrap around the table's end) against a plain array: after each step every key the array holds
 * is found with its value and every other key is absent. */
static void test_random_against_model(void **state)
{
    (void)state;
    enum { KEYS = 96 };
    void *want[KEYS] = {0};
    unsigned char keys[KEYS][16];
    size_t lens[KEYS];
    for (int k = 0; k < KEYS; k++) {
        lens[k] = 1 + (size_t)k % 16;
        for (size_t b = 0; b < lens[k]; b++)
            keys[k][b] = (unsigned char)(k * 31 + (int)b * 7);
    }
    hmap *m = hmap_new();
    unsigned seed = 12345;
    size_t live = 0;
    for (int step = 0; step < 20000; step++) {
        seed = seed * 1103515245u + 12345u;
        int k = (int)((seed >> 8) % KEYS);
        if ((seed >> 20) % 3 == 0) {
            assert_ptr_equal(hmap_del(m, keys[k], lens[k]), want[k]);
            live -= want[k] != NULL;
            want[k] = NULL;
        } else {
            void *v = (void *)(uintptr_t)(step + 1);
            assert_int_equal(hmap_put(m, keys[k], lens[k], v), 0);
            live += want[k] == NULL;
            want[k] = v;
        }
        assert_int_equal(hmap_count(m), live);
        if (step % 7 == 0) {
            for (int j = 0; j < KEYS; j++)
                assert_ptr_equal(hmap_get(m, keys[j], lens[j]), want[j]);
        }
    }
    hmap_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_key_copied),
        cmocka_unit_test(test_u32_many),
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_each),
        cmocka_unit_test(test_empty_and_again),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
