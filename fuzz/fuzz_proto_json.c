/* SPDX-License-Identifier: MIT */
/* fuzz_proto_json.c - libFuzzer target: tmsg_decode on arbitrary bytes must never crash or leak;
 * whatever decodes must encode, and decode again to the same message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto_json.h"

static int str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy so any read past the end is caught. */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);

    tmsg m;
    const char *err = NULL;
    if (tmsg_decode(buf, size, &m, &err) != 0) {
        if (!err)
            abort(); /* a refusal always says why */
        tmsg_free(&m);
        free(buf);
        return 0;
    }

    size_t len = 0;
    char *enc = tmsg_encode(&m, &len);
    if (!enc || strlen(enc) != len)
        abort();
    tmsg d;
    if (tmsg_decode(enc, len, &d, &err) != 0)
        abort();
    if (d.type != m.type || !str_eq(d.request_id, m.request_id) || !str_eq(d.method, m.method) ||
        !str_eq(d.uri, m.uri) || !str_eq(d.tunnel_id, m.tunnel_id) ||
        !str_eq(d.connection_id, m.connection_id) || !str_eq(d.public_url, m.public_url) ||
        !str_eq(d.subdomain_url, m.subdomain_url) || !str_eq(d.path_based_url, m.path_based_url) ||
        d.status_code != m.status_code || d.more != m.more || d.seq != m.seq ||
        d.timestamp != m.timestamp || d.processing_time_ms != m.processing_time_ms ||
        d.code != m.code || d.headers.n != m.headers.n || d.body_len != m.body_len ||
        (m.body_len && memcmp(d.body, m.body, m.body_len) != 0))
        abort();
    /* error messages are always re-encoded with a message string */
    if (m.type == TMSG_ERROR && !str_eq(d.message, m.message ? m.message : ""))
        abort();
    tmsg_free(&d);
    free(enc);
    tmsg_free(&m);
    free(buf);
    return 0;
}
