/* SPDX-License-Identifier: MIT */
/* fuzz_proto_json.c - libFuzzer target: tmsg_decode on arbitrary bytes must never crash or leak
 * (one tmsg_decoder for the input and the messages after it, as a connection reuses it);
 * whatever decodes must encode (header values as arrays or, for odd sizes, single values as
 * strings), and decode again to the same message: field lines (headers,
 * trailers) in their order and spelling (header_order, trailer_order), header values, method,
 * uri and reason octet for octet (the {"b64":...} form), tunnels[], continuation fields, relay
 * flags. A
 * decoded head message also goes through tmsg_send_head, whose messages must decode and fit. */
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

/* Field lines travel in their order and spelling (headers / trailers with header_order /
 * trailer_order): what decodes must come back line for line. */
static int headers_eq(const http_headers *a, const http_headers *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        const http_header *x = &a->v[i], *y = &b->v[i];
        if (x->nlen != y->nlen || memcmp(x->name, y->name, x->nlen) != 0 || x->vlen != y->vlen ||
            memcmp(x->value, y->value, x->vlen) != 0)
            return 0;
    }
    return 1;
}

static int tunnels_eq(const tmsg *a, const tmsg *b)
{
    if (a->ntunnels != b->ntunnels)
        return 0;
    for (size_t i = 0; i < a->ntunnels; i++) {
        const tmsg_tunnel *x = &a->tunnels[i], *y = &b->tunnels[i];
        if (!str_eq(x->name, y->name) || !str_eq(x->subdomain, y->subdomain) ||
            !str_eq(x->tunnel_id, y->tunnel_id) || !str_eq(x->public_url, y->public_url) ||
            !str_eq(x->subdomain_url, y->subdomain_url) ||
            !str_eq(x->path_based_url, y->path_based_url))
            return 0;
    }
    return 1;
}

static int check_sent(void *ud, const tmsg *m)
{
    size_t *count = ud;
    size_t len = 0;
    char *enc = tmsg_encode(m, &len);
    if (!enc || len > TTF_JSON_MAX_MSG)
        abort();
    tmsg d;
    const char *err = NULL;
    if (tmsg_decode(enc, len, &d, &err) != 0)
        abort();
    tmsg_free(&d);
    free(enc);
    (*count)++;
    return 0;
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

    /* one decoder for the input and what follows it, as a connection reuses its own */
    tmsg_decoder *dec = tmsg_decoder_new();
    if (!dec)
        abort();
    tmsg m;
    const char *err = NULL;
    if (tmsg_decode_with(dec, buf, size, &m, &err) != 0) {
        if (!err)
            abort(); /* a refusal always says why */
        tmsg_free(&m);
        static const char ping[] = "{\"type\":\"ping\"}"; /* the decoder still serves */
        if (tmsg_decode_with(dec, ping, sizeof ping - 1, &m, &err) != 0 || m.type != TMSG_PING)
            abort();
        tmsg_decoder_free(dec);
        free(buf);
        return 0;
    }

    m.header_strings = (size & 1) != 0; /* both forms of header values read back the same */
    size_t len = 0;
    char *enc = tmsg_encode(&m, &len);
    if (!enc || strlen(enc) != len)
        abort();
    tmsg d;
    if (tmsg_decode_with(dec, enc, len, &d, &err) != 0)
        abort();
    tmsg_decoder_free(dec);
    if (d.type != m.type || !str_eq(d.request_id, m.request_id) || !str_eq(d.method, m.method) ||
        !str_eq(d.uri, m.uri) || !str_eq(d.tunnel_id, m.tunnel_id) ||
        !str_eq(d.connection_id, m.connection_id) || !str_eq(d.public_url, m.public_url) ||
        !str_eq(d.subdomain_url, m.subdomain_url) || !str_eq(d.path_based_url, m.path_based_url) ||
        d.status_code != m.status_code || d.more != m.more || d.seq != m.seq ||
        d.timestamp != m.timestamp || d.processing_time_ms != m.processing_time_ms ||
        d.code != m.code || !headers_eq(&m.headers, &d.headers) || d.body_len != m.body_len ||
        (m.body_len && memcmp(d.body, m.body, m.body_len) != 0) ||
        d.headers_more != m.headers_more || !str_eq(d.reason, m.reason) || !tunnels_eq(&m, &d) ||
        !headers_eq(&m.trailers, &d.trailers) || d.relay_interim != m.relay_interim ||
        d.relay_trailers != m.relay_trailers)
        abort();
    if ((m.type == TMSG_HTTP_REQUEST || m.type == TMSG_HTTP_RESPONSE) && !m.headers_more) {
        size_t count = 0;
        int rc = tmsg_send_head(&m, check_sent, &count);
        if (rc < 0 || count == 0 || (rc == 1 && count != 1))
            abort();
    }
    /* error messages are always re-encoded with a message string */
    if (m.type == TMSG_ERROR && !str_eq(d.message, m.message ? m.message : ""))
        abort();
    tmsg_free(&d);
    free(enc);
    tmsg_free(&m);
    free(buf);
    return 0;
}
