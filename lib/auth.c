/* SPDX-License-Identifier: MIT */
/* auth.c - JWT verification for agent tokens: HS256 with a shared secret (libjwt), and
 * RS256/384/512 / ES256 against a JWKS whose keys are turned into PEM with OpenSSL 3.
 * The token header's alg picks the key family before any signature check, so an HMAC token is
 * never checked against a public key used as a secret (alg confusion), and alg "none" is refused.
 * Claims are checked here on the payload JSON: exp required, nbf optional, sub required. */
#include "auth.h"

#include "b64.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AUTH_MAX_TOKEN 8192 /* bounds the work an unauthenticated peer can cause */
#define AUTH_MAX_JWKS ((size_t)1024 * 1024)
#define AUTH_MIN_RSA_BITS 2048

typedef enum { KEY_SECRET, KEY_RSA, KEY_EC256 } key_family; /* KEY_SECRET: HS256's secret */

/* The algorithms we verify, by their exact names: alg values are case-sensitive (RFC 7515
 * §4.1.1) and libjwt's jwt_str_alg is not ("hs256" passed as HS256); and the key each needs. */
typedef struct alg_info {
    const char *name;
    jwt_alg_t alg;
    key_family family;
} alg_info;

static const alg_info ALGS[] = {{"HS256", JWT_ALG_HS256, KEY_SECRET},
                                {"RS256", JWT_ALG_RS256, KEY_RSA},
                                {"RS384", JWT_ALG_RS384, KEY_RSA},
                                {"RS512", JWT_ALG_RS512, KEY_RSA},
                                {"ES256", JWT_ALG_ES256, KEY_EC256}};

/* The algorithm named alg exactly, NULL for one we do not verify. */
static const alg_info *alg_named(const char *alg)
{
    for (size_t i = 0; i < sizeof ALGS / sizeof ALGS[0]; i++)
        if (strcmp(alg, ALGS[i].name) == 0)
            return &ALGS[i];
    return NULL;
}

typedef struct auth_key {
    char *kid; /* NULL when the JWK has none */
    char *alg; /* the JWK's "alg" when given (must then equal the token's) */
    char *pem; /* SubjectPublicKeyInfo PEM, as libjwt wants it */
    key_family family;
} auth_key;

struct auth_verifier {
    char *secret; /* HS256 secret, NULL when not configured */
    auth_key *keys;
    size_t nkeys;
};

/* ---------------------------------------------------------------- JWK -> PEM */

/* Decodes a base64url JSON string member; returns malloc'd bytes or NULL. */
static uint8_t *b64url_member(json_t *obj, const char *name, size_t *len)
{
    const char *s = json_string_value(json_object_get(obj, name));
    if (!s || !*s)
        return NULL;
    size_t n = strlen(s);
    uint8_t *out = malloc(b64_decoded_max(n + 3) + 1);
    if (!out)
        return NULL;
    if (b64url_decode(s, n, out, len) != 0 || *len == 0) {
        free(out);
        return NULL;
    }
    return out;
}

static char *pkey_to_pem(EVP_PKEY *pkey)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    if (bio && PEM_write_bio_PUBKEY(bio, pkey) == 1) {
        char *data = NULL;
        long n = BIO_get_mem_data(bio, &data);
        if (n > 0 && (pem = malloc((size_t)n + 1)) != NULL) {
            memcpy(pem, data, (size_t)n);
            pem[n] = '\0';
        }
    }
    BIO_free(bio);
    return pem;
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    if (pkey) {
        /* fromdata does not prove an EC point is on the curve: check it. */
        EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        bool ok = chk && EVP_PKEY_public_check(chk) == 1;
        EVP_PKEY_CTX_free(chk);
        if (!ok) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
    }
    return pkey;
}

/* The public key the parameters in bld describe, as PEM (malloc'd); NULL when they do not
 * make a valid key of that type, or out of memory. */
static char *pem_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = pkey_from_params(type, bld);
    char *pem = pkey ? pkey_to_pem(pkey) : NULL;
    EVP_PKEY_free(pkey);
    return pem;
}

static char *rsa_jwk_pem(json_t *jwk)
{
    size_t nlen = 0, elen = 0;
    uint8_t *nb = b64url_member(jwk, "n", &nlen);
    uint8_t *eb = b64url_member(jwk, "e", &elen);
    BIGNUM *n = nb ? BN_bin2bn(nb, (int)nlen, NULL) : NULL;
    BIGNUM *e = eb ? BN_bin2bn(eb, (int)elen, NULL) : NULL;
    free(nb);
    free(eb);
    char *pem = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (n && e && bld && BN_num_bits(n) >= AUTH_MIN_RSA_BITS &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1)
        pem = pem_from_params("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pem;
}

static char *ec_jwk_pem(json_t *jwk)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    if (!crv || strcmp(crv, "P-256") != 0)
        return NULL;
    size_t xlen = 0, ylen = 0;
    uint8_t *x = b64url_member(jwk, "x", &xlen);
    uint8_t *y = b64url_member(jwk, "y", &ylen);
    char *pem = NULL;
    if (x && y && xlen == 32 && ylen == 32) {
        uint8_t point[65]; /* uncompressed: 0x04 || x || y */
        point[0] = 0x04;
        memcpy(point + 1, x, 32);
        memcpy(point + 33, y, 32);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        if (bld &&
            OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ==
                1 &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point) ==
                1)
            pem = pem_from_params("EC", bld);
        OSSL_PARAM_BLD_free(bld);
    }
    free(x);
    free(y);
    return pem;
}

static void key_free(auth_key *k)
{
    free(k->kid);
    free(k->alg);
    free(k->pem);
}

/* One JWK. Returns 1 when added, 0 when skipped (not a signing key we support), -1 on a key
 * that claims to be supported but is malformed. */
static int add_jwk(auth_verifier *v, json_t *jwk)
{
    if (!json_is_object(jwk))
        return -1;
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *use = json_string_value(json_object_get(jwk, "use"));
    const char *alg = json_string_value(json_object_get(jwk, "alg"));
    const char *kid = json_string_value(json_object_get(jwk, "kid"));
    if (!kty || (use && strcmp(use, "sig") != 0))
        return 0;
    key_family fam;
    if (strcmp(kty, "RSA") == 0) {
        fam = KEY_RSA;
    } else if (strcmp(kty, "EC") == 0) {
        const char *crv = json_string_value(json_object_get(jwk, "crv"));
        if (crv && strcmp(crv, "P-256") != 0)
            return 0; /* other curves: not supported, skip */
        fam = KEY_EC256;
    } else {
        return 0;
    }
    const alg_info *ai = alg ? alg_named(alg) : NULL;
    if (alg && (!ai || ai->family != fam))
        return 0; /* an alg we do not verify with this key type: skip */
    auth_key k = {.family = fam};
    k.pem = fam == KEY_RSA ? rsa_jwk_pem(jwk) : ec_jwk_pem(jwk);
    if (!k.pem)
        return -1;
    k.kid = kid ? strdup(kid) : NULL;
    k.alg = alg ? strdup(alg) : NULL;
    auth_key *keys = realloc(v->keys, (v->nkeys + 1) * sizeof *keys);
    if ((kid && !k.kid) || (alg && !k.alg) || !keys) {
        if (keys)
            v->keys = keys;
        key_free(&k);
        return -1;
    }
    v->keys = keys;
    v->keys[v->nkeys++] = k;
    return 1;
}

static int load_jwks(auth_verifier *v, const char *jwks_json, const char **err)
{
    json_error_t jerr;
    json_t *root = json_loads(jwks_json, 0, &jerr);
    json_t *keys = root ? json_object_get(root, "keys") : NULL;
    if (!json_is_array(keys)) {
        json_decref(root);
        *err = "JWKS is not a JSON object with a \"keys\" array";
        return -1;
    }
    size_t i;
    json_t *jwk;
    json_array_foreach(keys, i, jwk)
    {
        if (add_jwk(v, jwk) < 0) {
            json_decref(root);
            *err = "JWKS holds a malformed key (RSA needs n/e of 2048+ bits, EC needs P-256 x/y)";
            return -1;
        }
    }
    json_decref(root);
    if (v->nkeys == 0) {
        *err = "JWKS holds no usable signing key (RSA or EC P-256)";
        return -1;
    }
    return 0;
}

auth_verifier *auth_new(const char *secret, const char *jwks_json, const char **err)
{
    const char *dummy;
    if (!err)
        err = &dummy;
    if ((!secret || !*secret) && !jwks_json) {
        *err = "need a JWT secret or a JWKS";
        return NULL;
    }
    auth_verifier *v = calloc(1, sizeof *v);
    if (!v) {
        *err = "out of memory";
        return NULL;
    }
    if (secret && *secret && !(v->secret = strdup(secret))) {
        auth_free(v);
        *err = "out of memory";
        return NULL;
    }
    if (jwks_json && load_jwks(v, jwks_json, err) != 0) {
        auth_free(v);
        return NULL;
    }
    return v;
}

auth_verifier *auth_new_from_file(const char *secret, const char *jwks_path, const char **err)
{
    const char *dummy;
    if (!err)
        err = &dummy;
    if (!jwks_path)
        return auth_new(secret, NULL, err);
    FILE *f = fopen(jwks_path, "rb");
    if (!f) {
        *err = "cannot open the JWKS file";
        return NULL;
    }
    char *buf = malloc(AUTH_MAX_JWKS + 1);
    size_t n = buf ? fread(buf, 1, AUTH_MAX_JWKS + 1, f) : 0;
    bool bad = !buf || ferror(f) || n > AUTH_MAX_JWKS;
    fclose(f);
    if (bad) {
        free(buf);
        *err = buf ? "cannot read the JWKS file (or it is over 1 MiB)" : "out of memory";
        return NULL;
    }
    buf[n] = '\0';
    auth_verifier *v = auth_new(secret, buf, err);
    free(buf);
    return v;
}

void auth_free(auth_verifier *v)
{
    if (!v)
        return;
    if (v->secret) {
        OPENSSL_cleanse(v->secret, strlen(v->secret));
        free(v->secret);
    }
    for (size_t i = 0; i < v->nkeys; i++)
        key_free(&v->keys[i]);
    free(v->keys);
    free(v);
}

/* ---------------------------------------------------------------- verification */

/* One base64url part of a compact JWT (n octets at seg), decoded and read as JSON; NULL when
 * it is not. */
static json_t *segment_json(const char *seg, size_t n)
{
    if (n == 0)
        return NULL;
    uint8_t *raw = malloc(b64_decoded_max(n + 3) + 1);
    size_t rlen = 0;
    if (!raw || b64url_decode(seg, n, raw, &rlen) != 0) {
        free(raw);
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb((const char *)raw, rlen, 0, &jerr);
    free(raw);
    return j;
}

/* Reads alg and kid from the (unverified) token header. 0, -1 (malformed) or -2: the header
 * lists critical extensions ("crit"), of which we understand none, so the token is invalid
 * (RFC 7515 §4.1.11). */
static int read_header(const char *token, char *alg, size_t alg_cap, char *kid, size_t kid_cap)
{
    const char *dot = strchr(token, '.');
    if (!dot || dot == token)
        return -1;
    json_t *h = segment_json(token, (size_t)(dot - token));
    const char *a = json_string_value(json_object_get(h, "alg"));
    json_t *k = json_object_get(h, "kid");
    int rc = -1;
    if (json_is_object(h) && a && strlen(a) < alg_cap && (!k || json_is_string(k)) &&
        (!k || strlen(json_string_value(k)) < kid_cap)) {
        strcpy(alg, a);
        if (k)
            strcpy(kid, json_string_value(k));
        else
            kid[0] = '\0';
        rc = json_object_get(h, "crit") ? -2 : 0;
    }
    json_decref(h);
    return rc;
}

static bool number_claim(json_t *claims, const char *name, double *out)
{
    json_t *c = json_object_get(claims, name);
    if (!json_is_number(c))
        return false;
    *out = json_number_value(c);
    return true;
}

int auth_token_exp(const char *token, int64_t *exp)
{
    const char *p = token ? strchr(token, '.') : NULL;
    const char *end = p ? strchr(p + 1, '.') : NULL;
    json_t *claims = end ? segment_json(p + 1, (size_t)(end - p - 1)) : NULL;
    double v = 0;
    int rc =
        json_is_object(claims) && number_claim(claims, "exp", &v) && v > 0 && v < 1e15 ? 0 : -1;
    if (rc == 0)
        *exp = (int64_t)v;
    json_decref(claims);
    return rc;
}

/* Checks exp / nbf / sub on the verified token's payload. */
static int check_claims(jwt_t *jwt, int64_t now, char *sub, size_t cap, const char **err)
{
    char *js = jwt_get_grants_json(jwt, NULL);
    json_error_t jerr;
    json_t *claims = js ? json_loads(js, 0, &jerr) : NULL;
    free(js);
    int rc = -1;
    double exp = 0, nbf = 0;
    const char *s = json_string_value(json_object_get(claims, "sub"));
    json_t *nbf_j = json_object_get(claims, "nbf");
    if (!json_is_object(claims))
        *err = "token payload is not a JSON object";
    else if (!number_claim(claims, "exp", &exp))
        *err = "token has no numeric exp claim";
    else if ((double)now > exp + AUTH_LEEWAY_SECONDS)
        *err = "token expired";
    else if (nbf_j && !number_claim(claims, "nbf", &nbf))
        *err = "token nbf claim is not a number";
    else if (nbf_j && (double)now + AUTH_LEEWAY_SECONDS < nbf)
        *err = "token not valid yet (nbf)";
    else if (!s || !*s)
        *err = "token has no sub claim";
    else if (strlen(s) > AUTH_SUB_MAX || (sub && cap && strlen(s) >= cap))
        *err = "token sub claim too long"; /* never truncated: owners are compared by sub */
    else {
        if (sub && cap) {
            snprintf(sub, cap, "%s", s);
        }
        rc = 0;
    }
    json_decref(claims);
    return rc;
}

/* Verifies the signature with one key; on success returns the decoded token. */
static jwt_t *try_key(const char *token, jwt_alg_t want, const unsigned char *key, size_t len)
{
    jwt_t *jwt = NULL;
    if (len > (size_t)INT32_MAX || jwt_decode(&jwt, token, key, (int)len) != 0 || !jwt)
        return NULL;
    if (jwt_get_alg(jwt) != want) { /* belt and braces: libjwt must agree on the alg */
        jwt_free(jwt);
        return NULL;
    }
    return jwt;
}

static bool key_matches(const auth_key *k, const alg_info *ai)
{
    return k->family == ai->family && (!k->alg || strcmp(k->alg, ai->name) == 0);
}

int auth_verify(const auth_verifier *v, const char *token, int64_t now, char *sub, size_t cap,
                const char **err)
{
    const char *dummy;
    if (!err)
        err = &dummy;
    if (sub && cap)
        sub[0] = '\0';
    if (!v || !token || !*token) {
        *err = "no token";
        return -1;
    }
    if (strlen(token) > AUTH_MAX_TOKEN) {
        *err = "token too long";
        return -1;
    }
    char alg[16], kid[256];
    int hrc = read_header(token, alg, sizeof alg, kid, sizeof kid);
    if (hrc != 0) {
        *err = hrc == -2 ? "token header lists critical extensions (crit)" : "malformed token";
        return -1;
    }
    const alg_info *ai = alg_named(alg);
    jwt_t *jwt = NULL;
    if (!ai) {
        *err = "token alg not accepted";
        return -1;
    }
    if (ai->family == KEY_SECRET) {
        if (!v->secret) {
            *err = "HS256 tokens are not accepted (no secret configured)";
            return -1;
        }
        jwt = try_key(token, ai->alg, (const unsigned char *)v->secret, strlen(v->secret));
        if (!jwt) {
            *err = "bad token signature";
            return -1;
        }
    } else {
        bool any = false;
        for (size_t i = 0; i < v->nkeys && !jwt; i++) {
            const auth_key *k = &v->keys[i];
            /* With a kid only that key is tried; without, every key of the right family. */
            if (kid[0] && (!k->kid || strcmp(k->kid, kid) != 0))
                continue;
            if (!key_matches(k, ai))
                continue;
            any = true;
            jwt = try_key(token, ai->alg, (const unsigned char *)k->pem, strlen(k->pem));
        }
        if (!jwt) {
            *err = !any ? (kid[0] ? "no key with the token's kid" : "no key for the token's alg")
                        : "bad token signature";
            return -1;
        }
    }
    int rc = check_claims(jwt, now, sub, cap, err);
    jwt_free(jwt);
    return rc;
}

/* ---------------------------------------------------------------- token extraction */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) ('+' as space, as forms do). Returns malloc'd text, NULL on bad input. */
static char *pct_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    out[o] = '\0';
    return out;
}

char *auth_token_from_request(const char *authorization, const char *query)
{
    if (authorization) {
        const char *s = authorization;
        while (*s == ' ' || *s == '\t')
            s++;
        if (strncasecmp(s, "Bearer", 6) == 0 && (s[6] == ' ' || s[6] == '\t')) {
            s += 6;
            while (*s == ' ' || *s == '\t')
                s++;
            size_t n = strlen(s);
            while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
            if (n)
                return strndup(s, n);
        }
    }
    if (query) {
        if (*query == '?')
            query++;
        const char *p = query;
        while (*p) {
            const char *end = strchr(p, '&');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            if (len > 6 && strncmp(p, "token=", 6) == 0)
                return pct_decode(p + 6, len - 6);
            if (!end)
                break;
            p = end + 1;
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- minting */

char *auth_mint_hs256(const char *secret, const char *sub, int64_t now, int64_t ttl,
                      const char **err)
{
    const char *dummy;
    if (!err)
        err = &dummy;
    if (!secret || !*secret) {
        *err = "no secret";
        return NULL;
    }
    if (!sub || !*sub || strlen(sub) > AUTH_SUB_MAX) {
        *err = "sub must be 1 to 255 bytes";
        return NULL;
    }
    if (ttl <= 0 || ttl > AUTH_MINT_MAX_TTL) {
        *err = "ttl out of range";
        return NULL;
    }
    size_t klen = strlen(secret);
    jwt_t *jwt = NULL;
    char *out = NULL;
    if (klen > (size_t)INT32_MAX || jwt_new(&jwt) != 0) {
        *err = "out of memory";
        return NULL;
    }
    if (jwt_add_grant(jwt, "sub", sub) != 0 || jwt_add_grant_int(jwt, "iat", (long)now) != 0 ||
        jwt_add_grant_int(jwt, "exp", (long)(now + ttl)) != 0 ||
        jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)klen) != 0)
        *err = "cannot build the token";
    else if (!(out = jwt_encode_str(jwt)))
        *err = "cannot sign the token";
    jwt_free(jwt);
    return out;
}
