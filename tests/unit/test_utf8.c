/* SPDX-License-Identifier: MIT */
/* lib/utf8.h: well-formed UTF-8, and octets read as ISO-8859-1 written as UTF-8 (what JSON
 * mode and the Lambda send for header values that are not UTF-8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "utf8.h"

static void valid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool ok;
    } cases[] = {
        {"plain ASCII, longer than eight bytes", true},
        {"caf\xc3\xa9", true},
        {"\xe2\x82\xac and \xf0\x9f\x98\x80", true},
        {"caf\xe9", false},          /* Latin-1 */
        {"\xc0\xaf", false},         /* overlong */
        {"\xed\xa0\x80", false},     /* a surrogate */
        {"\xf4\x90\x80\x80", false}, /* above U+10FFFF */
        {"\xe2\x82", false},         /* cut short */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(utf8_valid((const uint8_t *)cases[i].s, strlen(cases[i].s)), cases[i].ok);
}

static void from_latin1(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t n;
        const char *want;
        size_t wn;
    } cases[] = {
        {"caf\xe9", 4, "caf\xc3\xa9", 5},
        {"\x7f\x80\xff", 3, "\x7f\xc2\x80\xc3\xbf", 5},
        {"a\0b", 3, "a\0b", 3}, /* NUL stays an octet of the text */
        {"", 0, "", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = 99;
        char *u = utf8_from_latin1((const uint8_t *)cases[i].in, cases[i].n, &n);
        assert_non_null(u);
        assert_int_equal(n, cases[i].wn);
        assert_memory_equal(u, cases[i].want, n);
        assert_int_equal(u[n], '\0');
        assert_true(utf8_valid((const uint8_t *)u, n));
        free(u);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid),
        cmocka_unit_test(from_latin1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
