/* SPDX-License-Identifier: MIT */
/* fuzz_auth_token.c - token verification, token extraction and JWKS loading over arbitrary
 * input. Byte 0 picks the mode: 0 verify (rest = token, against an HS256 secret and a one-key
 * EC JWKS), 1 extract (rest = "Authorization value\nquery"), 2 load (rest = JWKS JSON).
 * The verifier is rebuilt per input: no state survives between inputs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

#define FUZZ_SECRET "fuzz-secret-fuzz-secret-fuzz-sec"
#define FUZZ_JWKS                                                                                  \
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"fuzz-ec\","                            \
    "\"x\":\"u5tPyrqtr6S_bXBxi3RkzIfXxTXPrku3qXF8ye378kk\","                                       \
    "\"y\":\"TIInzeOHfotLewEtWejoafaZILDThWaIEl4NzNdkDiQ\"}]}"

static void verify(const char *token)
{
    const char *err = NULL;
    auth_verifier *v = auth_new(FUZZ_SECRET, FUZZ_JWKS, &err);
    if (!v)
        abort();
    char sub[64];
    /* A fixed clock keeps runs reproducible. */
    int rc = auth_verify(v, token, 1790000000, sub, sizeof sub, &err);
    if (rc != 0 && !err)
        abort();
    if (rc == 0 && strnlen(sub, sizeof sub) == sizeof sub)
        abort();
    auth_free(v);
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
