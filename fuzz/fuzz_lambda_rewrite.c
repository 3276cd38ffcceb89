/* SPDX-License-Identifier: MIT */
/* fuzz_lambda_rewrite.c - libFuzzer target: path-mode rewriting of what an agent answers (bytes
 * from the network): the body, the Location value, and the choice of rewrite from the
 * Content-Type / Content-Encoding values. Byte 0 picks: bit 7 set = rest is a Location value;
 * else bit 6 set = rest is "content-type\ncontent-encoding"; else (byte 0 % 5) is the body kind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rewrite.h"

#define FUZZ_TID "abc123def456"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The rest of the input as a C string (header values stop at the first NUL like callers'). */
static char *cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return NULL;
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static void location(const uint8_t *data, size_t size)
{
    char *loc = cstr(data, size);
    if (!loc)
        return;
    char *nl = rewrite_location(FUZZ_TID, loc);
    /* a root-relative location gains the prefix; nothing else may change it */
    if (nl && (loc[0] != '/' || loc[1] == '/' || strncmp(nl, "/" FUZZ_TID, 13) != 0 ||
               strcmp(nl + 13, loc) != 0))
        abort();
    free(nl);
    free(loc);
}

static void kind_for(const uint8_t *data, size_t size)
{
    char *s = cstr(data, size);
    if (!s)
        return;
    char *nl = strchr(s, '\n');
    const char *enc = NULL;
    if (nl) {
        *nl = '\0';
        enc = nl + 1;
    }
    rewrite_kind k = rewrite_kind_for(s, enc);
    if (k < RW_NONE || k > RW_JS)
        abort();
    if (k != RW_NONE && enc) { /* an encoded body is never rewritten */
        size_t a = strspn(enc, " \t"), n = strlen(enc);
        while (n > a && (enc[n - 1] == ' ' || enc[n - 1] == '\t'))
            n--;
        if (n > a && (n - a != 8 || strncasecmp(enc + a, "identity", 8) != 0))
            abort();
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 0x80) {
        location(data + 1, size - 1);
        return 0;
    }
    if (data[0] & 0x40) {
        kind_for(data + 1, size - 1);
        return 0;
    }
    rewrite_kind k = (rewrite_kind)(data[0] % 5);
    uint8_t *out = NULL;
    size_t out_len = 0;
    int r = rewrite_body(k, FUZZ_TID, data + 1, size - 1, &out, &out_len);
    if (r == 1 && !out)
        abort();
    if (r != 1 && out)
        abort();
    free(out);
    return 0;
}
