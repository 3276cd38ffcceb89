/* SPDX-License-Identifier: MIT */
/* fuzz_auth_token.c - token verification, token extraction and JWKS loading over arbitrary
 * input. Byte 0 picks the mode: 0 verify (rest = token, against an HS256 secret and a JWKS with
 * one EC P-256 and one RSA key), 1 extract (rest = "Authorization value\nquery"), 2 load (rest =
 * JWKS JSON). The keys are derived by fuzz/seeds.py (--print-jwks), which signs the seed tokens.
 * Modes 1 and 2 keep nothing between inputs; mode 0 reuses one const verifier. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

#define FUZZ_SECRET "fuzz-secret-fuzz-secret-fuzz-sec"
#define FUZZ_JWKS                                                                                  \
    "{\"keys\":["                                                                                  \
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"fuzz-ec\",\"use\":\"sig\",\"alg\":\"ES256\","     \
    "\"x\":\"BExxkDpZ2waz7uxEEh61EiugRd7svRishnNwcEIrzaQ\","                                       \
    "\"y\":\"Ba7O_RPza5XnGFPBhUzSnycUdL1LRL2nzddIFnaG6DM\"},"                                      \
    "{\"kty\":\"RSA\",\"kid\":\"fuzz-rsa\",\"use\":\"sig\",\"e\":\"AQAB\",\"n\":\""                \
    "sCJV4IEV1EWsMfVYW6nli0kwHhxvZWIShjEK260Ry89FufOmI49SSWcLv2R4iv4RgEmED3OAaKzSrBs6"             \
    "fHhUkcTpfPO_KrLRIHeo5AgBsSZqmWSUBcPQ1If8wu_K5uPxvidHhqcDyIuF9FIZiSpkOpG8IUh7F6Nd"             \
    "Ngxzc2G0KNg98TNhzPjPvqxrPB87JDcfjfd3rkVEPUdDD_vWIOHFnsGa4Ocx5a6o0ilz102iReyrEkaF"             \
    "cNiGe9x3lO2Vd1OfXg0JuZbiNV7SXe-rna-LYkzS0Au2_HIsCFlPKDXozo111Sa34jPkTIZE_gcHaPXp"             \
    "OCFRe5OgesC734LxlnnTXQ"                                                                       \
    "\"}]}"

static void verify(const char *token)
{
    /* One verifier for every input: auth_verify takes it const (no state survives an input),
     * and building it (an RSA and an EC key into OpenSSL) would cost more than a verification. */
    static auth_verifier *v;
    const char *err = NULL;
    if (!v && !(v = auth_new(FUZZ_SECRET, FUZZ_JWKS, &err)))
        abort();
    char sub[64];
    /* A fixed clock keeps runs reproducible. */
    int rc = auth_verify(v, token, 1790000000, sub, sizeof sub, &err);
    if (rc != 0 && !err)
        abort();
    if (rc == 0 && strnlen(sub, sizeof sub) == sizeof sub)
        abort();
}

static void extract(char *s)
{
    char *nl = strchr(s, '\n');
    const char *query = NULL;
    if (nl) {
        *nl = '\0';
        query = nl + 1;
    }
    char *t = auth_token_from_request(s, query);
    free(t);
}

static void load(const char *json)
{
    const char *err = NULL;
    auth_verifier *v = auth_new(NULL, json, &err);
    if (!v && !err)
        abort();
    auth_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    char *s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0'; /* the APIs take C strings: stop at the first NUL like callers do */
    switch (data[0] % 3) {
    case 0:
        verify(s);
        break;
    case 1:
        extract(s);
        break;
    default:
        load(s);
        break;
    }
    free(s);
    return 0;
}
