/* SPDX-License-Identifier: MIT */
/* test_auth.c - JWT verification: HS256, RS256/384/512 and ES256 via a JWKS built from keys
 * generated here, claim checks (exp, nbf, sub), alg confusion, alg none, kid selection, garbage,
 * and token extraction from requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "b64.h"

#define NOW ((int64_t)1790000000)

typedef struct keyset {
    EVP_PKEY *rsa1, *rsa2, *ec1;
    char *rsa1_priv, *rsa2_priv, *ec1_priv, *rsa1_pub;
    char *jwks; /* rsa1 (kid r1), ec1 (kid e1), rsa2 without kid but alg RS256 */
} keyset;

/* ---------------------------------------------------------------- helpers */

static char *b64url(const uint8_t *in, size_t n)
{
    char *out = malloc(b64_encoded_len(n) + 1);
    assert_non_null(out);
    b64_encode(in, n, out);
    size_t o = 0;
    for (size_t i = 0; out[i]; i++) {
        if (out[i] == '=')
            break;
        out[o++] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    }
    out[o] = '\0';
    return out;
}

static char *bn_param_b64url(EVP_PKEY *k, const char *name, int pad)
{
    BIGNUM *bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(k, name, &bn), 1);
    int len = pad ? pad : BN_num_bytes(bn);
    uint8_t *buf = malloc((size_t)len);
    assert_non_null(buf);
    assert_int_equal(BN_bn2binpad(bn, buf, len), len);
    char *s = b64url(buf, (size_t)len);
    free(buf);
    BN_free(bn);
    return s;
}

static char *pem_of(EVP_PKEY *k, bool priv)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    if (priv)
        assert_int_equal(PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL), 1);
    else
        assert_int_equal(PEM_write_bio_PUBKEY(bio, k), 1);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *s = strndup(data, (size_t)n);
    BIO_free(bio);
    return s;
}

static char *rsa_jwk(EVP_PKEY *k, const char *kid, const char *alg)
{
    char *n = bn_param_b64url(k, OSSL_PKEY_PARAM_RSA_N, 0);
    char *e = bn_param_b64url(k, OSSL_PKEY_PARAM_RSA_E, 0);
    char *s = NULL;
    char kidf[64] = "", algf[64] = "";
    if (kid)
        snprintf(kidf, sizeof kidf, "\"kid\":\"%s\",", kid);
    if (alg)
        snprintf(algf, sizeof algf, "\"alg\":\"%s\",", alg);
    assert_true(asprintf(&s, "{\"kty\":\"RSA\",%s%s\"use\":\"sig\",\"n\":\"%s\",\"e\":\"%s\"}",
                         kidf, algf, n, e) > 0);
    free(n);
    free(e);
    return s;
}

/* Not inlined: gcc 12 -O3 then took the strstr into its result for a pointer to the local s
 * (-Wdangling-pointer), which broke the Release build. */
__attribute__((noinline)) static char *ec_jwk(EVP_PKEY *k, const char *kid)
{
    char *x = bn_param_b64url(k, OSSL_PKEY_PARAM_EC_PUB_X, 32);
    char *y = bn_param_b64url(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
    char *s = NULL;
    assert_true(
        asprintf(&s, "{\"kty\":\"EC\",\"kid\":\"%s\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}",
                 kid, x, y) > 0);
    free(x);
    free(y);
    return s;
}

/* Signs claims with libjwt. kid may be NULL; exp/nbf 0 = absent; sub NULL = absent. */
static char *sign(jwt_alg_t alg, const char *key, const char *kid, const char *sub, long exp,
                  long nbf)
{
    jwt_t *jwt = NULL;
    assert_int_equal(jwt_new(&jwt), 0);
    if (sub)
        assert_int_equal(jwt_add_grant(jwt, "sub", sub), 0);
    if (exp)
        assert_int_equal(jwt_add_grant_int(jwt, "exp", exp), 0);
    if (nbf)
        assert_int_equal(jwt_add_grant_int(jwt, "nbf", nbf), 0);
    if (kid)
        assert_int_equal(jwt_add_header(jwt, "kid", kid), 0);
    assert_int_equal(jwt_set_alg(jwt, alg, (const unsigned char *)key, key ? (int)strlen(key) : 0),
                     0);
    char *tok = jwt_encode_str(jwt);
    assert_non_null(tok);
    jwt_free(jwt);
    return tok;
}

static int verify(const auth_verifier *v, const char *tok, char *sub, size_t cap)
{
    const char *err = NULL;
    int rc = auth_verify(v, tok, NOW, sub, cap, &err);
    if (rc != 0)
        assert_non_null(err);
    return rc;
}

static int teardown(void **state);

static int setup(void **state)
{
    keyset *ks = calloc(1, sizeof *ks);
    if (!ks)
        return -1;
    *state = ks;
    ks->rsa1 = EVP_RSA_gen(2048);
    ks->rsa2 = EVP_RSA_gen(2048);
    ks->ec1 = EVP_EC_gen("P-256");
    if (!ks->rsa1 || !ks->rsa2 || !ks->ec1) {
        teardown(state);
        return -1;
    }
    ks->rsa1_priv = pem_of(ks->rsa1, true);
    ks->rsa2_priv = pem_of(ks->rsa2, true);
    ks->ec1_priv = pem_of(ks->ec1, true);
    ks->rsa1_pub = pem_of(ks->rsa1, false);
    char *j1 = rsa_jwk(ks->rsa1, "r1", NULL);
    char *j2 = ec_jwk(ks->ec1, "e1");
    char *j3 = rsa_jwk(ks->rsa2, NULL, "RS256");
    /* An encryption key and an unknown kty are skipped, not fatal. */
    if (asprintf(&ks->jwks,
                 "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"},%s,%s,%s,"
                 "{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
                 j1, j2, j3) < 0)
        ks->jwks = NULL;
    free(j1);
    free(j2);
    free(j3);
    if (!ks->jwks) {
        teardown(state);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    keyset *ks = *state;
    EVP_PKEY_free(ks->rsa1);
    EVP_PKEY_free(ks->rsa2);
    EVP_PKEY_free(ks->ec1);
    free(ks->rsa1_priv);
    free(ks->rsa2_priv);
    free(ks->ec1_priv);
    free(ks->rsa1_pub);
    free(ks->jwks);
    free(ks);
    return 0;
}

/* ---------------------------------------------------------------- tests */

static void test_hs256(void **state)
{
    (void)state;
    const char *err = NULL;
    auth_verifier *v = auth_new("s3cret-s3cret-s3cret-s3cret-0123", NULL, &err);
    assert_non_null(v);
    char sub[64];
    char *t = sign(JWT_ALG_HS256, "s3cret-s3cret-s3cret-s3cret-0123", NULL, "alice", NOW + 600, 0);
    assert_int_equal(verify(v, t, sub, sizeof sub), 0);
    assert_string_equal(sub, "alice");
    /* Never truncated: a subject that does not fit is refused (owners compare by subject). */
    char small[4];
    const char *why = NULL;
    assert_int_equal(auth_verify(v, t, NOW, small, sizeof small, &why), -1);
    assert_string_equal(why, "token sub claim too long");
    free(t);
    char longsub[AUTH_SUB_MAX + 2];
    memset(longsub, 'a', sizeof longsub - 1);
    longsub[AUTH_SUB_MAX + 1] = '\0';
    char big[1024];
    t = sign(JWT_ALG_HS256, "s3cret-s3cret-s3cret-s3cret-0123", NULL, longsub, NOW + 600, 0);
    assert_int_equal(verify(v, t, big, sizeof big), -1);
    free(t);
    longsub[AUTH_SUB_MAX] = '\0';
    t = sign(JWT_ALG_HS256, "s3cret-s3cret-s3cret-s3cret-0123", NULL, longsub, NOW + 600, 0);
    assert_int_equal(verify(v, t, big, sizeof big), 0);
    assert_string_equal(big, longsub);
    free(t);

    t = sign(JWT_ALG_HS256, "another-secret-another-secret-00", NULL, "alice", NOW + 600, 0);
    assert_int_equal(verify(v, t, sub, sizeof sub), -1);
    assert_string_equal(sub, "");
    free(t);
    /* HS384 is not one of the accepted algs. */
    t = sign(JWT_ALG_HS384, "s3cret-s3cret-s3cret-s3cret-0123", NULL, "alice", NOW + 600, 0);
    assert_int_equal(verify(v, t, sub, sizeof sub), -1);
    free(t);
    /* RS256 tokens need a JWKS. */
    keyset *ks = *state;
    t = sign(JWT_ALG_RS256, ks->rsa1_priv, "r1", "alice", NOW + 600, 0);
    assert_int_equal(verify(v, t, sub, sizeof sub), -1);
    free(t);
    auth_free(v);
}

static void test_claims(void **state)
{
    (void)state;
    const char *key = "k-k-k-k-k-k-k-k-k-k-k-k-k-k-k-k-";
    auth_verifier *v = auth_new(key, NULL, NULL);
    assert_non_null(v);
    char sub[64];
    struct {
        const char *sub;
        long exp, nbf;
        int want;
    } cases[] = {
        {"bob", NOW - 120, 0, -1},         /* expired beyond leeway */
        {"bob", NOW - 30, 0, 0},           /* expired within leeway */
        {"bob", NOW + 600, NOW + 600, -1}, /* nbf in the future */
        {"bob", NOW + 600, NOW + 30, 0},   /* nbf within leeway */
        {"bob", NOW + 600, NOW - 10, 0},   /* nbf in the past */
        {"bob", 0, 0, -1},                 /* no exp */
        {NULL, NOW + 600, 0, -1},          /* no sub */
        {"", NOW + 600, 0, -1},            /* empty sub */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = sign(JWT_ALG_HS256, key, NULL, cases[i].sub, cases[i].exp, cases[i].nbf);
        assert_int_equal(verify(v, t, sub, sizeof sub), cases[i].want);
        free(t);
    }
    /* sub must be a string. */
    jwt_t *jwt = NULL;
    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_add_grants_json(jwt, "{\"sub\":42,\"exp\":1790000600}"), 0);
    assert_int_equal(jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)key, (int)strlen(key)),
                     0);
    char *t = jwt_encode_str(jwt);
    jwt_free(jwt);
    assert_int_equal(verify(v, t, sub, sizeof sub), -1);
    free(t);
    auth_free(v);
}

static void test_jwks_algs(void **state)
{
    keyset *ks = *state;
    const char *err = NULL;
    auth_verifier *v = auth_new(NULL, ks->jwks, &err);
    if (!v)
        fail_msg("auth_new: %s", err);
    char sub[64];
    jwt_alg_t rs[] = {JWT_ALG_RS256, JWT_ALG_RS384, JWT_ALG_RS512};
    for (size_t i = 0; i < 3; i++) {
        char *t = sign(rs[i], ks->rsa1_priv, "r1", "carol", NOW + 600, 0);
        assert_int_equal(verify(v, t, sub, sizeof sub), 0);
        assert_string_equal(sub, "carol");
        free(t);
        /* Without kid every key of the family is tried. */
        t = sign(rs[i], ks->rsa1_priv, NULL, "carol", NOW + 600, 0);
        assert_int_equal(verify(v, t, sub, sizeof sub), 0);
        free(t);
    }
    char *t = sign(JWT_ALG_ES256, ks->ec1_priv, "e1", "dave", NOW + 600, 0);
    assert_int_equal(verify(v, t, sub, sizeof sub), 0);
    assert_string_equal(sub, "dave");
    free(t);
    t = sign(JWT_ALG_ES256, ks->ec1_priv, NULL, "dave", NOW + 600, 0);
    assert_int_equal(verify(v, t, sub, sizeof sub), 0);
    free(t);
    /* rsa2 has no kid but alg RS256: found by trying, RS512 with it is refused (JWK alg). */
    t = sign(JWT_ALG_RS256, ks->rsa2_priv, NULL, "erin", NOW + 600, 0);
    assert_int_equal(verify(v, t, sub, sizeof sub), 0);
    free(t);
    t = sign(JWT_ALG_RS512, ks->rsa2_priv, NULL, "erin", NOW + 600, 0);
    assert_int_equal(verify(v, t, sub, sizeof sub), -1);
    free(t);
    /* Expiry applies to JWKS tokens too. */
    t = sign(JWT_ALG_RS256, ks->rsa1_priv, "r1", "carol", NOW - 3600, 0);
    assert_int_equal(verify(v, t, sub, sizeof sub), -1);
    free(t);
    auth_free(v);
}

static void test_wrong_key_and_kid(void **state)
{
    keyset *ks = *state;
    auth_verifier *v = auth_new(NULL, ks->jwks, NULL);
    assert_non_null(v);
    char sub[64];
    /* Signed by rsa2 but claims kid r1: only r1 is tried, and it does not match. */
    char *t = sign(JWT_ALG_RS256, ks->rsa2_priv, "r1", "mallory", NOW + 600, 0);
    assert_int_equal(verify(v, t, sub, sizeof sub), -1);
    free(t);
    /* Unknown kid. */
    t = sign(JWT_ALG_RS256, ks->rsa1_priv, "nope", "mallory", NOW + 600, 0);
    const char *err = NULL;
    assert_int_equal(auth_verify(v, t, NOW, sub, sizeof sub, &err), -1);
    assert_non_null(strstr(err, "kid"));
    free(t);
    /* A key unknown to the JWKS, no kid. */
    EVP_PKEY *other = EVP_EC_gen("P-256");
    char *other_priv = pem_of(other, true);
    t = sign(JWT_ALG_ES256, other_priv, NULL, "mallory", NOW + 600, 0);
    assert_int_equal(verify(v, t, sub, sizeof sub), -1);
    free(t);
    /* ES256 token with an RSA key's kid. */
    t = sign(JWT_ALG_ES256, ks->ec1_priv, "r1", "mallory", NOW + 600, 0);
    assert_int_equal(verify(v, t, sub, sizeof sub), -1);
    free(t);
    free(other_priv);
    EVP_PKEY_free(other);
    auth_free(v);
}

static void test_alg_none_and_confusion(void **state)
{
    keyset *ks = *state;
    auth_verifier *v = auth_new("shared-secret-shared-secret-0000", ks->jwks, NULL);
    assert_non_null(v);
    char sub[64];
    /* alg none, signature empty. */
    char *t = sign(JWT_ALG_NONE, NULL, NULL, "mallory", NOW + 600, 0);
    assert_int_equal(verify(v, t, sub, sizeof sub), -1);
    free(t);
    /* HS256 token whose HMAC key is the RSA public key PEM (the classic confusion attack). */
    t = sign(JWT_ALG_HS256, ks->rsa1_pub, "r1", "mallory", NOW + 600, 0);
    assert_int_equal(verify(v, t, sub, sizeof sub), -1);
    free(t);
    auth_verifier *jonly = auth_new(NULL, ks->jwks, NULL);
    t = sign(JWT_ALG_HS256, ks->rsa1_pub, NULL, "mallory", NOW + 600, 0);
    assert_int_equal(verify(jonly, t, sub, sizeof sub), -1);
    free(t);
    /* A valid RS256 token with its header rewritten to HS256 is refused too. */
    t = sign(JWT_ALG_RS256, ks->rsa1_priv, "r1", "mallory", NOW + 600, 0);
    const char *hdr = "{\"alg\":\"HS256\",\"kid\":\"r1\",\"typ\":\"JWT\"}";
    char *h64 = b64url((const uint8_t *)hdr, strlen(hdr));
    char *forged = NULL;
    assert_true(asprintf(&forged, "%s%s", h64, strchr(t, '.')) > 0);
    assert_int_equal(verify(v, forged, sub, sizeof sub), -1);
    assert_int_equal(verify(jonly, forged, sub, sizeof sub), -1);
    free(forged);
    free(h64);
    free(t);
    auth_free(jonly);
    auth_free(v);
}

/* An HS256 token with any header: the signature is a good one over that header. */
static char *hs_token_with_header(const char *hdr, const char *claims, const char *key)
{
    char *h64 = b64url((const uint8_t *)hdr, strlen(hdr));
    char *c64 = b64url((const uint8_t *)claims, strlen(claims));
    char *input = NULL;
    assert_true(asprintf(&input, "%s.%s", h64, c64) > 0);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    assert_non_null(HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)input,
                         strlen(input), mac, &mlen));
    char *sig = b64url(mac, mlen);
    char *t = NULL;
    assert_true(asprintf(&t, "%s.%s", input, sig) > 0);
    free(h64);
    free(c64);
    free(input);
    free(sig);
    return t;
}

/* alg names are case-sensitive (RFC 7515 §4.1.1); a header listing critical extensions is
 * invalid, since we understand none (§4.1.11). Both with a good signature. */
static void test_alg_exact_and_crit(void **state)
{
    (void)state;
    const char *key = "shared-secret-shared-secret-0000";
    auth_verifier *v = auth_new(key, NULL, NULL);
    assert_non_null(v);
    char sub[64], claims[128];
    snprintf(claims, sizeof claims, "{\"sub\":\"alice\",\"exp\":%lld}", (long long)NOW + 600);
    struct {
        const char *hdr;
        int rc;
    } cases[] = {
        {"{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 0},
        {"{\"alg\":\"hs256\",\"typ\":\"JWT\"}", -1},
        {"{\"alg\":\"Hs256\"}", -1},
        {"{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}", -1},
        {"{\"alg\":\"HS256\",\"crit\":[]}", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = hs_token_with_header(cases[i].hdr, claims, key);
        assert_int_equal(verify(v, t, sub, sizeof sub), cases[i].rc);
        free(t);
    }
    auth_free(v);
}

static void test_garbage(void **state)
{
    keyset *ks = *state;
    auth_verifier *v = auth_new("shared-secret-shared-secret-0000", ks->jwks, NULL);
    char sub[64];
    const char *bad[] = {"",
                         "abc",
                         "a.b.c",
                         "...",
                         ".",
                         "eyJhbGciOiJIUzI1NiJ9",
                         "eyJhbGciOiJIUzI1NiJ9.",
                         "eyJhbGciOiJIUzI1NiJ9..",
                         "bm90IGpzb24.e30.AAAA",                 /* header not JSON */
                         "eyJhbGciOjF9.e30.AAAA",                /* alg not a string */
                         "eyJhbGciOiJSUzI1NiIsImtpZCI6MX0.e30.", /* kid not a string */
                         "e30.e30.e30"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(verify(v, bad[i], sub, sizeof sub), -1);
    assert_int_equal(verify(v, NULL, sub, sizeof sub), -1);
    char *huge = malloc(20000);
    memset(huge, 'a', 19999);
    huge[19999] = '\0';
    assert_int_equal(verify(v, huge, sub, sizeof sub), -1);
    free(huge);
    auth_free(v);
}

static void test_jwks_errors(void **state)
{
    keyset *ks = *state;
    const char *err = NULL;
    assert_null(auth_new(NULL, NULL, &err));
    assert_non_null(err);
    const char *bad[] = {
        "not json",
        "{}",
        "{\"keys\":{}}",
        "{\"keys\":[]}",
        "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}",                /* nothing usable */
        "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"!!\",\"e\":\"AQAB\"}]}",   /* bad base64url */
        "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}", /* tiny modulus */
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}]}",
        "{\"keys\":[1]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err = NULL;
        assert_null(auth_new(NULL, bad[i], &err));
        assert_non_null(err);
    }
    /* An EC point off the curve is refused. */
    char *j = ec_jwk(ks->ec1, "e1");
    char *x = strstr(j, "\"x\":\"") + 5;
    x[0] = x[0] == 'A' ? 'B' : 'A';
    char *doc = NULL;
    assert_true(asprintf(&doc, "{\"keys\":[%s]}", j) > 0);
    assert_null(auth_new(NULL, doc, &err));
    free(doc);
    free(j);

    /* From a file. */
    char path[] = "/tmp/test_auth_jwksXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, ks->jwks, strlen(ks->jwks)), (ssize_t)strlen(ks->jwks));
    close(fd);
    auth_verifier *v = auth_new_from_file(NULL, path, &err);
    assert_non_null(v);
    auth_free(v);
    unlink(path);
    assert_null(auth_new_from_file(NULL, "/nonexistent/jwks.json", &err));
    assert_non_null(err);
    v = auth_new_from_file("secret-only", NULL, &err);
    assert_non_null(v);
    auth_free(v);
}

static void test_token_from_request(void **state)
{
    (void)state;
    char *t = auth_token_from_request("Bearer abc.def.ghi", NULL);
    assert_string_equal(t, "abc.def.ghi");
    free(t);
    t = auth_token_from_request("bearer   tok  ", "token=other");
    assert_string_equal(t, "tok");
    free(t);
    t = auth_token_from_request("Basic dXNlcjpwYXNz", "a=1&token=q%2Eb_c&z=2");
    assert_string_equal(t, "q.b_c");
    free(t);
    t = auth_token_from_request(NULL, "?token=xyz");
    assert_string_equal(t, "xyz");
    free(t);
    assert_null(auth_token_from_request(NULL, "mytoken=1&tokens=2"));
    assert_null(auth_token_from_request("Bearer", NULL));
    assert_null(auth_token_from_request("Bearer ", NULL));
    assert_null(auth_token_from_request("Bearerx y", NULL));
    assert_null(auth_token_from_request(NULL, "token=%zz"));
    assert_null(auth_token_from_request(NULL, "token=%4"));
    assert_null(auth_token_from_request(NULL, "token=a%00b"));
    assert_null(auth_token_from_request(NULL, NULL));
    assert_null(auth_token_from_request(NULL, ""));
}

/* auth_mint_hs256 (ttfd token): what it mints is what auth_verify accepts, until exp. */
static void test_mint(void **state)
{
    (void)state;
    const char *secret = "mint-secret-mint-secret-01234567";
    const char *err = NULL;
    auth_verifier *v = auth_new(secret, NULL, &err);
    assert_non_null(v);
    char *t = auth_mint_hs256(secret, "carol", NOW, 3600, &err);
    assert_non_null(t);
    char sub[64];
    assert_int_equal(verify(v, t, sub, sizeof sub), 0);
    assert_string_equal(sub, "carol");
    /* exp = now + ttl: refused once it (and the leeway) passed */
    assert_int_equal(auth_verify(v, t, NOW + 3600 + AUTH_LEEWAY_SECONDS + 1, sub, sizeof sub, &err),
                     -1);
    assert_string_equal(err, "token expired");
    free(t);
    /* another secret does not verify */
    t = auth_mint_hs256("another-secret-another-secret-00", "carol", NOW, 3600, &err);
    assert_non_null(t);
    assert_int_equal(verify(v, t, sub, sizeof sub), -1);
    free(t);
    assert_null(auth_mint_hs256(secret, "", NOW, 60, &err));
    assert_null(auth_mint_hs256(secret, "x", NOW, 0, &err));
    assert_null(auth_mint_hs256(secret, "x", NOW, AUTH_MINT_MAX_TTL + 1, &err));
    assert_null(auth_mint_hs256("", "x", NOW, 60, &err));
    auth_free(v);
}

/* auth_token_exp (ttf): the exp a token carries, read without a key; -1 when it has none. */
static void test_token_exp(void **state)
{
    (void)state;
    const char *err = NULL;
    char *t = auth_mint_hs256("exp-secret-exp-secret-0123456789", "dave", NOW, 90, &err);
    int64_t exp = 0;
    assert_int_equal(auth_token_exp(t, &exp), 0);
    assert_int_equal(exp, NOW + 90);
    free(t);
    char *noexp = hs_token_with_header("{\"alg\":\"HS256\"}", "{\"sub\":\"x\"}", "k");
    char *strexp = hs_token_with_header("{\"alg\":\"HS256\"}", "{\"exp\":\"soon\"}", "k");
    assert_int_equal(auth_token_exp(noexp, &exp), -1);
    assert_int_equal(auth_token_exp(strexp, &exp), -1);
    free(noexp);
    free(strexp);
    const char *bad[] = {"", "abc", "a.b", "a.!!.c", ".e30.", "x.bm90IGpzb24.y"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(auth_token_exp(bad[i], &exp), -1);
    assert_int_equal(auth_token_exp(NULL, &exp), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hs256),
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_jwks_algs),
        cmocka_unit_test(test_alg_exact_and_crit),
        cmocka_unit_test(test_wrong_key_and_kid),
        cmocka_unit_test(test_alg_none_and_confusion),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_jwks_errors),
        cmocka_unit_test(test_token_from_request),
        cmocka_unit_test(test_mint),
        cmocka_unit_test(test_token_exp),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
