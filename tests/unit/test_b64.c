/* SPDX-License-Identifier: MIT */
/* test_b64.c - base64: RFC 4648 vectors, strict decoding rules, base64url, large inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "b64.h"

static const struct {
    const char *raw, *enc;
} vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_encode_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        size_t n = strlen(vectors[i].raw);
        char out[32];
        assert_int_equal(b64_encoded_len(n), strlen(vectors[i].enc));
        assert_int_equal(b64_encode((const uint8_t *)vectors[i].raw, n, out),
                         strlen(vectors[i].enc));
        assert_string_equal(out, vectors[i].enc);
    }
}

static void test_decode_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const char *e = vectors[i].enc;
        uint8_t out[32];
        size_t n = 99;
        assert_true(b64_decoded_max(strlen(e)) <= sizeof out);
        assert_int_equal(b64_decode(e, strlen(e), out, &n), 0);
        assert_int_equal(n, strlen(vectors[i].raw));
        if (n)
            assert_memory_equal(out, vectors[i].raw, n);
    }
    /* upstream's example: the JSON body of an http_response */
    uint8_t out[32];
    size_t n;
    assert_int_equal(b64_decode("eyJ0ZXN0IjoidmFsdWUifQ==", 24, out, &n), 0);
    assert_int_equal(n, 16);
    assert_memory_equal(out, "{\"test\":\"value\"}", 16);
}

static void test_decode_strict(void **state)
{
    (void)state;
    static const char *bad[] = {
        "SGVsbG8", /* missing padding (upstream rejects it too) */
        "Zg",           "Zg=",      "Z===",       "====",
        "=Zg=",         "Zg==Zg==", /* pad inside */
        "Zm9v\n",       "Zm 9v",    " Zm9v",      "Zm9v ",
        "Zm9-",         "Zm9_",     "Zm9v====",   "Zm=v",
        "Z=9v",         "Zm9\x80",  "Zm9v\tYmFy", "Zm9",
        "Zm9v    Zm9v", "    Zm9v", "Zm9v    ",   "Zm9v\r\n\r\nZm9v",
        "Zm9v====Zm9v", /* OpenSSL skips some */
    };
    uint8_t out[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = 0;
        assert_int_equal(b64_decode(bad[i], strlen(bad[i]), out, &n), -1);
    }
    /* NUL byte inside the given length */
    size_t n;
    assert_int_equal(b64_decode("Zm\0v", 4, out, &n), -1);
    /* empty input is an empty body */
    n = 7;
    assert_int_equal(b64_decode("", 0, out, &n), 0);
    assert_int_equal(n, 0);
}

static void test_all_bytes_roundtrip(void **state)
{
    (void)state;
    uint8_t raw[256];
    for (int i = 0; i < 256; i++)
        raw[i] = (uint8_t)i;
    for (size_t len = 0; len <= 256; len++) {
        char enc[400];
        size_t el = b64_encode(raw, len, enc);
        assert_int_equal(el, b64_encoded_len(len));
        assert_int_equal(strlen(enc), el);
        uint8_t dec[300];
        size_t dl = 0;
        assert_true(b64_decoded_max(el) <= sizeof dec);
        assert_int_equal(b64_decode(enc, el, dec, &dl), 0);
        assert_int_equal(dl, len);
        if (len)
            assert_memory_equal(dec, raw, len);
    }
}

/* Crosses the internal block sizes of encoder and decoder. */
static void test_large_roundtrip(void **state)
{
    (void)state;
    const size_t sizes[] = {12287, 12288, 12289, 100000, 1 << 20};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t len = sizes[s];
        uint8_t *raw = malloc(len);
        assert_non_null(raw);
        uint32_t x = 2463534242u;
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            raw[i] = (uint8_t)x;
        }
        char *enc = malloc(b64_encoded_len(len) + 1);
        assert_non_null(enc);
        size_t el = b64_encode(raw, len, enc);
        assert_int_equal(el, b64_encoded_len(len));
        uint8_t *dec = malloc(b64_decoded_max(el));
        size_t dl = 0;
        assert_int_equal(b64_decode(enc, el, dec, &dl), 0);
        assert_int_equal(dl, len);
        assert_memory_equal(dec, raw, len);
        /* a bad character deep inside a later block is still found */
        enc[el - 10] = '*';
        assert_int_equal(b64_decode(enc, el, dec, &dl), -1);
        /* whitespace OpenSSL would skip at the start or end of a block it is given */
        if (el > 4104) {
            b64_encode(raw, len, enc);
            memcpy(enc + 4096, "    ", 4);
            assert_int_equal(b64_decode(enc, el, dec, &dl), -1);
            memcpy(enc + 4092, "\n\n\n\n", 4);
            assert_int_equal(b64_decode(enc, el, dec, &dl), -1);
        }
        free(raw);
        free(enc);
        free(dec);
    }
}

static void test_b64url(void **state)
{
    (void)state;
    uint8_t out[64];
    size_t n;
    /* 0xfb 0xff 0xbf -> "+/+/" standard, "-_-_" url */
    assert_int_equal(b64url_decode("-_-_", 4, out, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "\xfb\xff\xbf", 3);
    /* padding optional */
    assert_int_equal(b64url_decode("Zg", 2, out, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 'f');
    assert_int_equal(b64url_decode("Zg==", 4, out, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(b64url_decode("Zm8", 3, out, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "fo", 2);
    assert_int_equal(b64url_decode("Zm8=", 4, out, &n), 0);
    assert_int_equal(n, 2);
    /* JWK exponent 65537 */
    assert_int_equal(b64url_decode("AQAB", 4, out, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "\x01\x00\x01", 3);
    /* bad: standard-only chars, one leftover char, wrong padding, whitespace */
    static const char *bad[] = {"+/+/", "Zm9v/w", "Z",    "Zm9vY", "Zg=", "Zg===",
                                "Z===", "Zm8==",  "Zm 8", "Zm8\n", "=Zg", "Zg=a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(b64url_decode(bad[i], strlen(bad[i]), out, &n), -1);
    assert_int_equal(b64url_decode("", 0, out, &n), 0);
    assert_int_equal(n, 0);
}

static void test_b64url_large(void **state)
{
    (void)state;
    /* 513 bytes of a 2048-bit RSA modulus sized key: crosses the 4096-char block for larger
     * sizes; check 10000 bytes too */
    const size_t sizes[] = {256, 513, 3072, 3073, 10000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t len = sizes[s];
        uint8_t *raw = malloc(len);
        for (size_t i = 0; i < len; i++)
            raw[i] = (uint8_t)(i * 7 + 3);
        char *enc = malloc(b64_encoded_len(len) + 1);
        size_t el = b64_encode(raw, len, enc);
        for (size_t i = 0; i < el; i++) {
            if (enc[i] == '+')
                enc[i] = '-';
            else if (enc[i] == '/')
                enc[i] = '_';
        }
        uint8_t *dec = malloc(b64_decoded_max(el));
        size_t dl;
        /* with and without the padding */
        assert_int_equal(b64url_decode(enc, el, dec, &dl), 0);
        assert_int_equal(dl, len);
        assert_memory_equal(dec, raw, len);
        while (el && enc[el - 1] == '=')
            el--;
        assert_int_equal(b64url_decode(enc, el, dec, &dl), 0);
        assert_int_equal(dl, len);
        assert_memory_equal(dec, raw, len);
        free(raw);
        free(enc);
        free(dec);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_vectors),  cmocka_unit_test(test_decode_vectors),
        cmocka_unit_test(test_decode_strict),   cmocka_unit_test(test_all_bytes_roundtrip),
        cmocka_unit_test(test_large_roundtrip), cmocka_unit_test(test_b64url),
        cmocka_unit_test(test_b64url_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
