/* SPDX-License-Identifier: MIT */
/* fuzz_proto_json_jansson.c - libFuzzer target, differential: the wire codec (json-c with
 * lib/json_text's rules) must accept exactly the JSON texts jansson 2.14's json_loadb(..., 0, ...)
 * accepts, the codec it replaced, and read the same "type" (duplicate keys: the last wins).
 * tmsg_decode says "invalid JSON" where jansson fails or returns a scalar, "not an object" for an
 * array; any other outcome means the text parsed. One difference is wanted: jansson skips a NUL
 * byte right after a number or a literal ({"a":true<NUL>}: its lexer's pushed-back lookahead
 * byte is taken for an empty buffer); the codec refuses every NUL outside a string's escapes,
 * as RFC 8259 does. Seeds: fuzz/corpus/fuzz_proto_json_jansson
 * (strings, escapes, numbers, literals, depth, trailing bytes, NUL). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    tmsg m;
    const char *err = NULL;
    int rc = tmsg_decode((const char *)data, size, &m, &err);
    bool text_ok = rc == 0 || (err && strcmp(err, "invalid JSON") != 0);
    bool is_object = text_ok && !(err && strcmp(err, "not an object") == 0);
    if (memchr(data, 0, size) != NULL) {
        if (text_ok)
            abort(); /* a raw NUL is never JSON text */
    } else if (text_ok != (j != NULL) || is_object != json_is_object(j)) {
        abort(); /* the codec and jansson disagree on whether this is JSON text */
    }
    if (is_object) {
        json_t *t = json_object_get(j, "type");
        tmsg_type want = TMSG_UNKNOWN;
        for (int k = TMSG_READY; json_is_string(t) && k <= TMSG_TYPE_LAST; k++) {
            if (strcmp(tmsg_type_name((tmsg_type)k), json_string_value(t)) == 0)
                want = (tmsg_type)k;
        }
        if (m.type != want)
            abort(); /* read another type than jansson */
    }
    tmsg_free(&m);
    json_decref(j);
    return 0;
}
