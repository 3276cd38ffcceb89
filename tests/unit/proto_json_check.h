/* SPDX-License-Identifier: MIT */
/* proto_json_check.h - what the JSON-mode codec's unit tests share (test_proto_json.c,
 * test_proto_json_v2.c): decode a C string, expect a refusal with its reason, expect an exact
 * encoding, encode then decode. Include after cmocka.h. */
#ifndef TESTS_PROTO_JSON_CHECK_H
#define TESTS_PROTO_JSON_CHECK_H

#include <stdlib.h>
#include <string.h>

#include "proto_json.h"

static inline int dec(const char *s, tmsg *m, const char **err)
{
    return tmsg_decode(s, strlen(s), m, err);
}

/* Decodes s and expects a refusal whose reason contains want (when given). */
static inline void expect_bad(const char *s, const char *want)
{
    tmsg m;
    const char *err = NULL;
    if (dec(s, &m, &err) != -1)
        fail_msg("decoded: %s", s);
    assert_non_null(err);
    if (want && !strstr(err, want))
        fail_msg("%s: reason \"%s\", want \"%s\"", s, err, want);
    tmsg_free(&m);
}

static inline void expect_encoded(const tmsg *m, const char *want)
{
    size_t len = 0;
    char *s = tmsg_encode(m, &len);
    assert_non_null(s);
    assert_string_equal(s, want);
    assert_int_equal(len, strlen(want));
    free(s);
}

static inline void roundtrip(const tmsg *in, tmsg *out)
{
    size_t len;
    char *s = tmsg_encode(in, &len);
    assert_non_null(s);
    const char *err = NULL;
    if (tmsg_decode(s, len, out, &err) != 0)
        fail_msg("roundtrip decode: %s: %s", err, s);
    free(s);
}

#endif
