/* SPDX-License-Identifier: MIT */
/* test_http1_chunked.c - the strict chunked decoder (RFC 9112 §7.1) and the encoder, and the
 * body reader by framing, table-driven: every case decoded in one piece and in every split;
 * the smuggling corpora (sizes with prefixes or whitespace, bare LF or any two bytes in place of
 * a CRLF, bad extensions, huge sizes, oversized extensions and trailers) are refused; the end
 * of the message is exact, never past it; a copy of the decoder looks ahead from any state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

typedef struct chunk_case {
    const char *in;
    size_t len;          /* 0: strlen(in) */
    int result;          /* http1_chunked_result after all of in */
    const char *payload; /* decoded (for END and MORE) */
    size_t end;          /* END: octets of the body; 0: all of in */
    const char *trailer; /* END: the trailer field lines collected, NULL: none */
} chunk_case;

#define END(in, pl)                                                                                \
    {                                                                                              \
        in, 0, HTTP1_CHUNKED_END, pl, 0, NULL                                                      \
    }
#define ERR(in)                                                                                    \
    {                                                                                              \
        in, 0, HTTP1_CHUNKED_ERROR, NULL, 0, NULL                                                  \
    }

static const chunk_case cases[] = {
    END("5\r\nhello\r\n0\r\n\r\n", "hello"),
    END("0\r\n\r\n", ""),
    END("A\r\n0123456789\r\n0\r\n\r\n", "0123456789"),
    END("a\r\n0123456789\r\n1\r\n!\r\n0\r\n\r\n", "0123456789!"),
    END("0005\r\nhello\r\n000\r\n\r\n", "hello"),
    /* chunk extensions (RFC 9112 §7.1.1) */
    END("5;a=b\r\nhello\r\n0;last\r\n\r\n", "hello"),
    END("5 ;a=b\r\nhello\r\n0\r\n\r\n", "hello"),
    END("5; a = b ;c\t;\td=\"x y\"\r\nhello\r\n0\r\n\r\n", "hello"),
    END("5;a=\"q\\\"uo\\\\ted; x\"\r\nhello\r\n0\r\n\r\n", "hello"),
    END("5;a=\"caf\xe9\";b=!#$%&'*+-.^_`|~\r\nhello\r\n0\r\n\r\n", "hello"),
    /* trailers (RFC 9112 §7.1.2) */
    {"5\r\nhello\r\n0\r\nX-Sum: abc\r\nX-Name: J\xf6rg \r\n\r\n", 0, HTTP1_CHUNKED_END, "hello", 0,
     "X-Sum: abc\r\nX-Name: J\xf6rg \r\n"},
    /* the body ends exactly: what follows is the next message */
    {"5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", 0, HTTP1_CHUNKED_END, "hello", 15, NULL},
    {"0\r\n\r\n\r\n", 0, HTTP1_CHUNKED_END, "", 5, NULL},
    /* incomplete */
    {"5\r\nhel", 0, HTTP1_CHUNKED_MORE, "hel", 0, NULL},
    {"5;a=\"x", 0, HTTP1_CHUNKED_MORE, "", 0, NULL},
    {"5\r\nhello\r\n0\r\nX: 1\r\n", 0, HTTP1_CHUNKED_MORE, "hello", 0, NULL},
    /* chunk-size = 1*HEXDIG, nothing else */
    ERR("0x5\r\nhello\r\n0\r\n\r\n"),
    ERR(" 5\r\nhello\r\n0\r\n\r\n"),
    ERR("5 \r\nhello\r\n0\r\n\r\n"),
    ERR("5\t\r\nhello\r\n0\r\n\r\n"),
    ERR("+5\r\nhello\r\n0\r\n\r\n"),
    ERR("-5\r\nhello\r\n0\r\n\r\n"),
    ERR("g\r\n"),
    ERR("\r\n0\r\n\r\n"),
    ERR("5\r\r\nhello\r\n0\r\n\r\n"),
    /* overflow: far beyond any body */
    ERR("FFFFFFFFFFFFFFFFF\r\n"),
    ERR("10000000000000000\r\n"),
    ERR("4000000000000000\r\n"),
    /* exactly CRLF after the size line and after the data */
    ERR("5\nhello\r\n0\r\n\r\n"),
    ERR("5\rhello\r\n0\r\n\r\n"),
    ERR("5\r\nhelloXX0\r\n\r\n"),
    ERR("5\r\nhello\n0\r\n\r\n"),
    ERR("5\r\nhello\r0\r\n\r\n"),
    ERR("5\r\nhello\n\r0\r\n\r\n"),
    ERR("5\r\nhello world\r\n0\r\n\r\n"),
    ERR("0\r\n\n"),
    ERR("0\r\n\rX"),
    /* extensions: strictly *( BWS ";" BWS name [ BWS "=" BWS value ] ) */
    ERR("1;a=b\nfoo"),
    ERR("0;x\n\nGET /other HTTP/1.1\r\nHost: h\r\n\r\n"),
    ERR("5;\r\nhello\r\n0\r\n\r\n"),
    ERR("5;a=\r\nhello\r\n0\r\n\r\n"),
    ERR("5;=b\r\nhello\r\n0\r\n\r\n"),
    ERR("5;a b\r\nhello\r\n0\r\n\r\n"),
    ERR("5;a=b c\r\nhello\r\n0\r\n\r\n"),
    ERR("5;a=\"x\r\nhello\r\n0\r\n\r\n"),
    ERR("5;a=\"x\"y\r\nhello\r\n0\r\n\r\n"),
    ERR("5;a=(b)\r\nhello\r\n0\r\n\r\n"),
    ERR("5;a=b;\r\nhello\r\n0\r\n\r\n"),
    ERR("5;a\x01\r\nhello\r\n0\r\n\r\n"),
    ERR("5;a=\"\x7f\"\r\nhello\r\n0\r\n\r\n"),
    ERR("5;a=b \r\nhello\r\n0\r\n\r\n"),
    {"5;a\0\r\nhello\r\n0\r\n\r\n", 18, HTTP1_CHUNKED_ERROR, NULL, 0, NULL},
    /* trailers: the field-line rules of a head */
    ERR("0\r\nX : 1\r\n\r\n"),
    ERR("0\r\nX: 1\r\n continued\r\n\r\n"),
    ERR("0\r\nX: 1\n\r\n"),
    ERR("0\r\nX: 1\rY: 2\r\n\r\n"),
    ERR("0\r\nNoColon\r\n\r\n"),
    ERR("0\r\nX: a\x01\r\n\r\n"),
    ERR("0\r\n: v\r\n\r\n"),
    {"0\r\nX: a\0b\r\n\r\n", 13, HTTP1_CHUNKED_ERROR, NULL, 0, NULL},
};

typedef struct outcome {
    int result;
    char payload[256];
    size_t plen, used;
} outcome;

/* Decodes in[0..len) handing over step octets at a time. */
static void decode(const char *in, size_t len, size_t step, const http1_limits *lim,
                   http1_chunked *c, outcome *o)
{
    http1_chunked_init(c, lim);
    memset(o, 0, sizeof *o);
    size_t off = 0;
    int r = HTTP1_CHUNKED_MORE;
    while (off < len) {
        size_t avail = len - off < step ? len - off : step, used = 0, dlen = 0;
        const char *data = NULL;
        r = http1_chunked_decode(c, in + off, avail, &used, &data, &dlen);
        assert_true(used <= avail);
        if (dlen) {
            assert_true(data >= in + off && data + dlen <= in + off + used);
            assert_true(o->plen + dlen <= sizeof o->payload);
            memcpy(o->payload + o->plen, data, dlen);
            o->plen += dlen;
        }
        off += used;
        if (r != HTTP1_CHUNKED_MORE)
            break;
        if (used == 0 && avail > 0)
            fail_msg("no progress at %zu", off);
    }
    o->result = r;
    o->used = off;
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const chunk_case *k = &cases[i];
        size_t len = k->len ? k->len : strlen(k->in);
        for (size_t step = 1; step <= len; step++) {
            http1_chunked c;
            outcome o;
            decode(k->in, len, step, NULL, &c, &o);
            if (o.result != k->result)
                fail_msg("case %zu (%s) split %zu: result %d, want %d (%s)", i, k->in, step,
                         o.result, k->result, c.reason ? c.reason : "");
            if (k->result == HTTP1_CHUNKED_ERROR) {
                assert_non_null(c.reason);
            } else {
                assert_int_equal(o.plen, strlen(k->payload));
                assert_memory_equal(o.payload, k->payload, o.plen);
            }
            if (k->result == HTTP1_CHUNKED_END) {
                assert_int_equal(o.used, k->end ? k->end : len);
                if (k->trailer) {
                    assert_int_equal(c.trailer_len, strlen(k->trailer));
                    assert_memory_equal(c.trailer, k->trailer, c.trailer_len);
                } else {
                    assert_int_equal(c.trailer_len, 0);
                }
                /* after the end nothing more is taken */
                size_t used = 9, dl = 9;
                const char *d;
                assert_int_equal(http1_chunked_decode(&c, "5\r\n", 3, &used, &d, &dl),
                                 HTTP1_CHUNKED_END);
                assert_int_equal(used, 0);
                assert_int_equal(dl, 0);
            }
            http1_chunked_free(&c);
        }
    }
}

/* Extension and trailer caps: an 8 KiB chunk-ext and an oversized trailer are refused. */
static void test_caps(void **state)
{
    (void)state;
    size_t n = 8192 + 32;
    char *in = malloc(n);
    strcpy(in, "5;x=");
    memset(in + 4, 'a', 8192);
    strcpy(in + 4 + 8192, "\r\nhello\r\n0\r\n\r\n");
    http1_chunked c;
    outcome o;
    decode(in, strlen(in), strlen(in), NULL, &c, &o);
    assert_int_equal(o.result, HTTP1_CHUNKED_ERROR);
    http1_chunked_free(&c);
    /* a cap set high enough passes it */
    http1_limits lim = {.max_chunk_ext = 16384};
    decode(in, strlen(in), 100, &lim, &c, &o);
    assert_int_equal(o.result, HTTP1_CHUNKED_END);
    http1_chunked_free(&c);
    free(in);

    /* trailer section beyond max_trailer */
    size_t tn = 21 * 1024;
    in = malloc(tn);
    size_t at = 0;
    memcpy(in, "0\r\n", 3);
    at = 3;
    while (at < 20 * 1024) {
        memcpy(in + at, "X-Pad: aaaaaaaaaa\r\n", 19);
        at += 19;
    }
    memcpy(in + at, "\r\n", 2);
    at += 2;
    decode(in, at, 4096, NULL, &c, &o);
    assert_int_equal(o.result, HTTP1_CHUNKED_ERROR);
    http1_chunked_free(&c);
    lim = (http1_limits){.max_trailer = 64 * 1024};
    decode(in, at, 4096, &lim, &c, &o);
    assert_int_equal(o.result, HTTP1_CHUNKED_END);
    http_headers t;
    http_headers_init(&t);
    assert_int_equal(http1_chunked_trailers(&c, &t), 0);
    assert_true(t.n > 1000);
    assert_string_equal(t.v[0].name, "X-Pad");
    http_headers_free(&t);
    http1_chunked_free(&c);
    free(in);
}

/* Trailer fields RFC 9110 §6.5.1 keeps out of trailers (framing, routing, authentication) are
 * not handed on; the others are, in order. */
static void test_forbidden_trailers_dropped(void **state)
{
    (void)state;
    static const char in[] = "0\r\nX-Sum: 1\r\nContent-Length: 50\r\nhost: evil\r\n"
                             "Transfer-Encoding: chunked\r\nAuthorization: Basic eDp5\r\n"
                             "X-Other: 2\r\n\r\n";
    http1_chunked c;
    outcome o;
    decode(in, sizeof in - 1, sizeof in, NULL, &c, &o);
    assert_int_equal(o.result, HTTP1_CHUNKED_END);
    http_headers t;
    http_headers_init(&t);
    assert_int_equal(http1_chunked_trailers(&c, &t), 0);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.v[0].name, "X-Sum");
    assert_string_equal(t.v[1].name, "X-Other");
    http_headers_free(&t);
    http1_chunked_free(&c);
}

/* http1_chunked_copy: a look ahead from any state (mid-chunk, mid-size line, mid-trailer line)
 * that decodes as the original would and leaves the original as it was; http1_chunked_skip. */
static void test_copy_decodes_ahead(void **state)
{
    (void)state;
    static const char in[] = "5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nX-Sum: 1\r\nX-B: 22\r\n\r\n";
    size_t len = sizeof in - 1;
    for (size_t cut = 0; cut < len; cut++) {
        http1_chunked c, ahead, cut_short;
        http1_chunked_init(&c, NULL);
        assert_int_equal(http1_chunked_skip(&c, in, cut), HTTP1_CHUNKED_MORE);
        assert_int_equal(http1_chunked_copy(&ahead, &c), 0);
        assert_int_equal(http1_chunked_copy(&cut_short, &c), 0);
        assert_int_equal(http1_chunked_skip(&ahead, in + cut, len - cut), HTTP1_CHUNKED_END);
        assert_int_equal(http1_chunked_skip(&cut_short, in + cut, len - cut - 1),
                         HTTP1_CHUNKED_MORE);
        /* the original goes on by itself, to the same trailers */
        assert_int_equal(http1_chunked_skip(&c, in + cut, len - cut), HTTP1_CHUNKED_END);
        assert_int_equal(c.trailer_len, ahead.trailer_len);
        assert_memory_equal(c.trailer, ahead.trailer, c.trailer_len);
        http1_chunked_free(&c);
        http1_chunked_free(&ahead);
        http1_chunked_free(&cut_short);
    }
    http1_chunked bad;
    http1_chunked_init(&bad, NULL);
    assert_int_equal(http1_chunked_skip(&bad, "5\r\nhello\r\nx\r\n", 13), HTTP1_CHUNKED_ERROR);
    http1_chunked_free(&bad);
}

static void test_encoder(void **state)
{
    (void)state;
    char b[HTTP1_CHUNK_PREFIX_MAX];
    assert_int_equal(http1_chunk_prefix(b, 1), 3);
    assert_memory_equal(b, "1\r\n", 3);
    assert_int_equal(http1_chunk_prefix(b, 0xabc), 5);
    assert_memory_equal(b, "abc\r\n", 5);
    assert_int_equal(http1_chunk_prefix(b, 16384), 6);
    assert_memory_equal(b, "4000\r\n", 6);
    assert_int_equal(http1_chunk_prefix(b, UINT64_MAX), 18);
    assert_memory_equal(b, "ffffffffffffffff\r\n", 18);

    size_t len;
    char *last = http1_chunk_last(NULL, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(last, HTTP1_LAST_CHUNK, 5);
    free(last);
    http_headers t;
    http_headers_init(&t);
    http_headers_add(&t, "X-Sum", 5, "abc", 3);
    http_headers_add(&t, "Bad Name", 8, "x", 1);
    http_headers_add(&t, "X-Inject", 8, "a\r\nY: b", 7);
    http_headers_add(&t, "content-length", 14, "99", 2); /* RFC 9110 §6.5.1: never a trailer */
    http_headers_add(&t, "Host", 4, "evil", 4);
    last = http1_chunk_last(&t, &len);
    assert_int_equal(len, strlen("0\r\nX-Sum: abc\r\n\r\n"));
    assert_memory_equal(last, "0\r\nX-Sum: abc\r\n\r\n", len);
    http_headers_free(&t);

    /* re-framing round trip: decode, encode with other chunk sizes, decode again */
    const char *src = "3;e=1\r\nabc\r\n1\r\nd\r\n0\r\nX-Sum: abc\r\n\r\n";
    http1_chunked c;
    outcome o;
    decode(src, strlen(src), 2, NULL, &c, &o);
    assert_int_equal(o.result, HTTP1_CHUNKED_END);
    http_headers_init(&t);
    assert_int_equal(http1_chunked_trailers(&c, &t), 0);
    http1_chunked_free(&c);
    char out[256];
    size_t n = 0;
    for (size_t i = 0; i < o.plen; i++) {
        n += http1_chunk_prefix(out + n, 1);
        out[n++] = o.payload[i];
        memcpy(out + n, HTTP1_CHUNK_SUFFIX, 2);
        n += 2;
    }
    free(last);
    last = http1_chunk_last(&t, &len);
    memcpy(out + n, last, len);
    n += len;
    outcome o2;
    decode(out, n, n, NULL, &c, &o2);
    assert_int_equal(o2.result, HTTP1_CHUNKED_END);
    assert_int_equal(o2.used, n);
    assert_int_equal(o2.plen, 4);
    assert_memory_equal(o2.payload, "abcd", 4);
    assert_memory_equal(c.trailer, "X-Sum: abc\r\n", c.trailer_len);
    http1_chunked_free(&c);
    http_headers_free(&t);
    free(last);
}

/* The body reader by framing: raw octets used, decoded span, exact end, EOF rules. */
static void test_body_reader(void **state)
{
    (void)state;
    http1_body b;
    size_t used, dl;
    const char *d;
    http1_body_init(&b, HTTP1_FRAMING_NONE, 0, NULL);
    assert_int_equal(http1_body_read(&b, "xyz", 3, &used, &d, &dl), HTTP1_BODY_END);
    assert_int_equal(used, 0);
    http1_body_free(&b);

    http1_body_init(&b, HTTP1_FRAMING_LENGTH, 5, NULL);
    assert_int_equal(http1_body_read(&b, "hel", 3, &used, &d, &dl), HTTP1_BODY_MORE);
    assert_int_equal(used, 3);
    assert_int_equal(http1_body_read(&b, "loGET", 5, &used, &d, &dl), HTTP1_BODY_END);
    assert_int_equal(used, 2);
    assert_int_equal(dl, 2);
    assert_int_equal(b.raw, 5);
    http1_body_free(&b);

    http1_body_init(&b, HTTP1_FRAMING_LENGTH, 0, NULL);
    assert_int_equal(http1_body_read(&b, "", 0, &used, &d, &dl), HTTP1_BODY_END);
    http1_body_free(&b);

    http1_body_init(&b, HTTP1_FRAMING_LENGTH, 5, NULL);
    assert_int_equal(http1_body_read(&b, "hel", 3, &used, &d, &dl), HTTP1_BODY_MORE);
    assert_int_equal(http1_body_eof(&b), HTTP1_BODY_ERROR);
    http1_body_free(&b);

    http1_body_init(&b, HTTP1_FRAMING_CLOSE, 0, NULL);
    assert_int_equal(http1_body_read(&b, "abc", 3, &used, &d, &dl), HTTP1_BODY_MORE);
    assert_int_equal(dl, 3);
    assert_int_equal(http1_body_eof(&b), HTTP1_BODY_END);
    http1_body_free(&b);

    http1_body_init(&b, HTTP1_FRAMING_CHUNKED, 0, NULL);
    const char *in = "2\r\nab\r\n0\r\n\r\nnext";
    size_t off = 0, total = 0;
    http1_body_result r;
    do {
        r = http1_body_read(&b, in + off, strlen(in) - off, &used, &d, &dl);
        off += used;
        total += dl;
    } while (r == HTTP1_BODY_MORE && used);
    assert_int_equal(r, HTTP1_BODY_END);
    assert_int_equal(off, strlen(in) - 4);
    assert_int_equal(total, 2);
    assert_int_equal(b.decoded, 2);
    http1_body_free(&b);

    http1_body_init(&b, HTTP1_FRAMING_CHUNKED, 0, NULL);
    assert_int_equal(http1_body_read(&b, "2\r\nab", 5, &used, &d, &dl), HTTP1_BODY_MORE);
    assert_int_equal(http1_body_eof(&b), HTTP1_BODY_ERROR);
    assert_non_null(b.reason);
    http1_body_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_forbidden_trailers_dropped),
        cmocka_unit_test(test_copy_decodes_ahead),
        cmocka_unit_test(test_encoder),
        cmocka_unit_test(test_body_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
