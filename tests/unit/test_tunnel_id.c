/* SPDX-License-Identifier: MIT */
/* test_tunnel_id.c - id format, validation, and uniformity over the 36 symbols (upstream drew
 * from 62 symbols and lowercased, making letters twice as likely as digits). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "tunnel_id.h"

static void test_valid(void **state)
{
    (void)state;
    assert_true(tunnel_id_valid("abc123def456", 12));
    assert_true(tunnel_id_valid("000000000000", 12));
    assert_true(tunnel_id_valid("zzzzzzzzzzzz", 12));
    assert_true(tunnel_id_valid("abc123def456/x", 12)); /* only the first n bytes count */
    assert_false(tunnel_id_valid("abc123def45", 11));
    assert_false(tunnel_id_valid("abc123def4567", 13));
    assert_false(tunnel_id_valid("Abc123def456", 12));
    assert_false(tunnel_id_valid("abc123-ef456", 12));
    assert_false(tunnel_id_valid("abc123_ef456", 12));
    assert_false(tunnel_id_valid("abc123.ef456", 12));
    assert_false(tunnel_id_valid("abc123\0ef456", 12));
    assert_false(tunnel_id_valid("abc123\xe9"
                                 "ef45",
                                 12));
    assert_false(tunnel_id_valid("", 0));
    assert_false(tunnel_id_valid(NULL, 12));
}

static void test_generate_format(void **state)
{
    (void)state;
    char prev[TUNNEL_ID_LEN + 1] = "";
    for (int i = 0; i < 1000; i++) {
        char id[TUNNEL_ID_LEN + 1];
        memset(id, 'X', sizeof id);
        assert_int_equal(tunnel_id_generate(id), 0);
        assert_int_equal(strlen(id), TUNNEL_ID_LEN);
        assert_true(tunnel_id_valid(id, TUNNEL_ID_LEN));
        assert_string_not_equal(id, prev); /* 36^12 ids: a repeat means a broken source */
        memcpy(prev, id, sizeof id);
    }
}

/* 24000 symbols: expected 666.7 per symbol, sd about 25.4. Bounds of +-160 (over 6 sd) never
 * fail for a uniform source; the upstream bias (letters 2/62, digits 1/62 -> 774 vs 387) and a
 * modulo bias from 256 % 36 (first 4 symbols 8/256 vs 7/256 -> 750 vs 656 expected) show up in
 * the totals checked below. */
static void test_generate_uniform(void **state)
{
    (void)state;
    enum { IDS = 2000 };
    unsigned counts[36] = {0};
    for (int i = 0; i < IDS; i++) {
        char id[TUNNEL_ID_LEN + 1];
        assert_int_equal(tunnel_id_generate(id), 0);
        for (int k = 0; k < TUNNEL_ID_LEN; k++) {
            char c = id[k];
            int idx = (c >= 'a' && c <= 'z') ? c - 'a' : 26 + (c - '0');
            counts[idx]++;
        }
    }
    const double expected = IDS * TUNNEL_ID_LEN / 36.0;
    unsigned digits = 0, first4 = 0;
    double chi2 = 0;
    for (int i = 0; i < 36; i++) {
        assert_in_range(counts[i], (unsigned)(expected - 160), (unsigned)(expected + 160));
        chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
        if (i >= 26)
            digits += counts[i];
        if (i < 4)
            first4 += counts[i];
    }
    /* 35 degrees of freedom: P(chi2 > 80) is about 2e-5 */
    assert_true(chi2 < 80.0);
    /* digits: expected 6667 (sd ~69); upstream's bias gives ~3871 */
    assert_in_range(digits, 6667 - 450, 6667 + 450);
    /* first four symbols: expected 2667 (sd ~49, bounds 5 sd); a modulo bias gives ~3000 */
    assert_in_range(first4, 2667 - 250, 2667 + 250);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(tunnel_name_valid("a", 1));
    assert_true(tunnel_name_valid("my-app", 6));
    assert_true(tunnel_name_valid("a-b-c-1", 7));
    assert_false(tunnel_name_valid("", 0));
    assert_false(tunnel_name_valid("-a", 2));
    assert_false(tunnel_name_valid("a-", 2));
    assert_false(tunnel_name_valid("My", 2));
    assert_false(tunnel_name_valid("a.b", 3));
    assert_false(tunnel_name_valid("a_b", 3));
    char long64[65];
    memset(long64, 'a', 64);
    long64[64] = '\0';
    assert_true(tunnel_name_valid(long64, 63));
    assert_false(tunnel_name_valid(long64, 64));

    assert_true(tunnel_name_reserved("www", 3));
    assert_true(tunnel_name_reserved("admin", 5));
    assert_true(tunnel_name_reserved("xn--pypal-4ve", 13));
    assert_false(tunnel_name_reserved("wwww", 4));
    assert_false(tunnel_name_reserved("ww", 2));
    assert_false(tunnel_name_reserved("myapp", 5));

    char out[TUNNEL_NAME_MAX + 1];
    const char *why = NULL;
    assert_int_equal(tunnel_name_normalize("MyApp", out, &why), 0);
    assert_string_equal(out, "myapp");
    assert_int_equal(tunnel_name_normalize(long64 + 1, out, &why), 0);
    const char *const bad[] = {"",
                               "-x",
                               "x-",
                               "a.b",
                               "a_b",
                               "caf\xc3\xa9",
                               "a b",
                               "WWW",
                               "Api",
                               "_tunnel",
                               "xn--80ak6aa92e",
                               long64};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        if (tunnel_name_normalize(bad[i], out, &why) == 0)
            fail_msg("'%s' accepted", bad[i]);
        assert_non_null(why);
    }
    assert_int_equal(tunnel_name_normalize("www", out, &why), -1);
    assert_string_equal(why, "the name is reserved");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_generate_format),
        cmocka_unit_test(test_generate_uniform),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
