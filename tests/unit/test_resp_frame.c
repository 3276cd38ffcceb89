/* SPDX-License-Identifier: MIT */
/* Response framing toward the client (lib/resp_frame.h): the framing table (length, chunked,
 * close x HTTP/1.0, 1.1 x HEAD, 204, 304 x keep-alive), interim responses, 101, overruns,
 * truncation, a response after the final one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "resp_frame.h"

typedef struct sink {
    char buf[4096];
    size_t len;
} sink;

static void emit(void *ud, const void *data, size_t len)
{
    sink *s = ud;
    assert_true(s->len + len < sizeof s->buf);
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    s->buf[s->len] = '\0';
}

static http_headers hdrs(const char *cl)
{
    http_headers h;
    http_headers_init(&h);
    http_headers_add(&h, "Content-Type", 12, "text/plain", 10);
    if (cl)
        http_headers_add(&h, "Content-Length", 14, cl, strlen(cl));
    return h;
}

typedef struct row {
    const char *name;
    bool http11, keep_alive, head, done;
    int status;
    const char *cl;   /* the peer's Content-Length, NULL: none */
    int64_t known;    /* known_len */
    rframe_mode mode; /* expected */
    bool persist;
    const char *conn; /* expected Connection value, NULL: none */
    const char *te;   /* expected Transfer-Encoding */
    const char *ecl;  /* expected Content-Length */
} row;

static const row table[] = {
    /* length */
    {"1.1 ka CL", true, true, false, true, 200, "5", -1, RFRAME_LENGTH, true, NULL, NULL, "5"},
    {"1.1 close CL", true, false, false, true, 200, "5", -1, RFRAME_LENGTH, false, "close", NULL,
     "5"},
    {"1.0 ka CL", false, true, false, true, 200, "5", -1, RFRAME_LENGTH, true, "keep-alive", NULL,
     "5"},
    {"1.0 CL", false, false, false, true, 200, "5", -1, RFRAME_LENGTH, false, "close", NULL, "5"},
    {"1.1 ka CL, body unread", true, true, false, false, 200, "5", -1, RFRAME_LENGTH, false,
     "close", NULL, "5"},
    /* known whole body, no CL from the peer */
    {"1.1 ka known", true, true, false, true, 200, NULL, 7, RFRAME_LENGTH, true, NULL, NULL, "7"},
    {"1.0 ka known", false, true, false, true, 200, NULL, 0, RFRAME_LENGTH, true, "keep-alive",
     NULL, "0"},
    /* chunked / close */
    {"1.1 ka none", true, true, false, true, 200, NULL, -1, RFRAME_CHUNKED, true, NULL, "chunked",
     NULL},
    {"1.1 close none", true, false, false, true, 200, NULL, -1, RFRAME_CHUNKED, false, "close",
     "chunked", NULL},
    {"1.0 ka none", false, true, false, true, 200, NULL, -1, RFRAME_CLOSE, false, "close", NULL,
     NULL},
    {"1.0 none", false, false, false, true, 200, NULL, -1, RFRAME_CLOSE, false, "close", NULL,
     NULL},
    /* bodiless */
    {"HEAD 1.1 ka CL", true, true, true, true, 200, "99", -1, RFRAME_NONE, true, NULL, NULL, "99"},
    {"HEAD 1.1 ka none", true, true, true, true, 200, NULL, -1, RFRAME_NONE, true, NULL, NULL,
     NULL},
    {"HEAD 1.0 ka", false, true, true, true, 200, NULL, -1, RFRAME_NONE, true, "keep-alive", NULL,
     NULL},
    {"204 1.1 ka CL", true, true, false, true, 204, "0", -1, RFRAME_NONE, true, NULL, NULL, NULL},
    {"204 1.0", false, false, false, true, 204, NULL, -1, RFRAME_NONE, false, "close", NULL, NULL},
    {"304 1.1 ka CL", true, true, false, true, 304, "42", -1, RFRAME_NONE, true, NULL, NULL, "42"},
    {"304 1.0 ka", false, true, false, true, 304, NULL, -1, RFRAME_NONE, true, "keep-alive", NULL,
     NULL},
};

static void framing_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const row *r = &table[i];
        rframe f;
        rframe_request req = {
            .head = r->head, .http11 = r->http11, .keep_alive = r->keep_alive, .upgrade = false};
        rframe_init(&f, &req);
        http_headers h = hdrs(r->cl);
        /* the peer's own framing fields never pass */
        http_headers_add(&h, "Transfer-Encoding", 17, "gzip, chunked", 13);
        http_headers_add(&h, "Connection", 10, "keep-alive", 10);
        assert_int_equal(rframe_head(&f, r->status, &h, r->known, r->done), RFRAME_OK);
        if (f.mode != r->mode || f.persist != r->persist)
            fail_msg("%s: mode %d persist %d", r->name, (int)f.mode, (int)f.persist);
        const char *conn = http_headers_get(&h, "Connection");
        const char *te = http_headers_get(&h, "Transfer-Encoding");
        const char *cl = http_headers_get(&h, "Content-Length");
        if ((!conn != !r->conn) || (conn && strcmp(conn, r->conn) != 0))
            fail_msg("%s: Connection %s", r->name, conn ? conn : "(none)");
        if ((!te != !r->te) || (te && strcmp(te, r->te) != 0))
            fail_msg("%s: Transfer-Encoding %s", r->name, te ? te : "(none)");
        if ((!cl != !r->ecl) || (cl && strcmp(cl, r->ecl) != 0))
            fail_msg("%s: Content-Length %s", r->name, cl ? cl : "(none)");
        assert_int_equal(http_headers_count_id(&h, HTTP_H_CONNECTION), conn ? 1 : 0);
        assert_int_equal(http_headers_count_id(&h, HTTP_H_TRANSFER_ENCODING), te ? 1 : 0);
        assert_int_equal(rframe_close_after(&f), !r->persist);
        http_headers_free(&h);
    }
}

static void bodies(void **state)
{
    (void)state;
    rframe_request req = {.http11 = true, .keep_alive = true};
    rframe f;
    sink s = {0};
    /* chunked: one chunk per piece, trailers on the last chunk */
    rframe_init(&f, &req);
    http_headers h = hdrs(NULL);
    assert_int_equal(rframe_head(&f, 200, &h, -1, true), RFRAME_OK);
    assert_int_equal(rframe_body(&f, "hello", 5, emit, &s), RFRAME_OK);
    assert_int_equal(rframe_body(&f, "", 0, emit, &s), RFRAME_OK);
    assert_int_equal(rframe_body(&f, "0123456789abcdefX", 17, emit, &s), RFRAME_OK);
    http_headers tr;
    http_headers_init(&tr);
    http_headers_add(&tr, "X-Sum", 5, "7", 1);
    assert_int_equal(rframe_end(&f, &tr, emit, &s), RFRAME_OK);
    assert_string_equal(s.buf, "5\r\nhello\r\n11\r\n0123456789abcdefX\r\n0\r\nX-Sum: 7\r\n\r\n");
    http_headers_free(&tr);
    http_headers_free(&h);
    /* chunked end without trailers */
    s.len = 0;
    rframe_init(&f, &req);
    h = hdrs(NULL);
    rframe_head(&f, 200, &h, -1, true);
    assert_int_equal(rframe_end(&f, NULL, emit, &s), RFRAME_OK);
    assert_string_equal(s.buf, "0\r\n\r\n");
    http_headers_free(&h);
    /* close-delimited for 1.0: raw bytes, trailers dropped */
    s.len = 0;
    rframe_request r10 = {.http11 = false, .keep_alive = true};
    rframe_init(&f, &r10);
    h = hdrs(NULL);
    rframe_head(&f, 200, &h, -1, true);
    assert_int_equal(rframe_body(&f, "abc", 3, emit, &s), RFRAME_OK);
    assert_int_equal(rframe_end(&f, &h, emit, &s), RFRAME_OK);
    assert_string_equal(s.buf, "abc");
    assert_true(rframe_close_after(&f));
    http_headers_free(&h);
}

static void overrun_and_truncation(void **state)
{
    (void)state;
    rframe_request req = {.http11 = true, .keep_alive = true};
    rframe f;
    sink s = {0};
    /* 5 bytes allowed, 3 + 4 sent: the first 5 written, never the rest */
    rframe_init(&f, &req);
    http_headers h = hdrs("5");
    rframe_head(&f, 200, &h, -1, true);
    assert_int_equal(rframe_body(&f, "abc", 3, emit, &s), RFRAME_OK);
    assert_int_equal(rframe_body(&f, "deHTTP/1.1 200 OK\r\n", 19, emit, &s), RFRAME_OVERRUN);
    assert_string_equal(s.buf, "abcde");
    assert_int_equal(f.sent, 5);
    assert_non_null(f.why);
    /* once at the end, any byte is an overrun and nothing is written */
    assert_int_equal(rframe_body(&f, "x", 1, emit, &s), RFRAME_OVERRUN);
    assert_string_equal(s.buf, "abcde");
    http_headers_free(&h);
    /* bodiless: any byte is an overrun */
    s.len = 0;
    s.buf[0] = '\0';
    rframe_request rh = {.http11 = true, .keep_alive = true, .head = true};
    rframe_init(&f, &rh);
    h = hdrs("100");
    rframe_head(&f, 200, &h, -1, true);
    assert_int_equal(rframe_body(&f, "x", 1, emit, &s), RFRAME_OVERRUN);
    assert_int_equal(s.len, 0);
    assert_int_equal(rframe_end(&f, NULL, emit, &s), RFRAME_OK);
    http_headers_free(&h);
    rframe_init(&f, &req);
    h = hdrs(NULL);
    rframe_head(&f, 304, &h, -1, true);
    assert_int_equal(rframe_body(&f, "x", 1, emit, &s), RFRAME_OVERRUN);
    http_headers_free(&h);
    /* truncated */
    rframe_init(&f, &req);
    h = hdrs("10");
    rframe_head(&f, 200, &h, -1, true);
    assert_int_equal(rframe_body(&f, "abc", 3, emit, &s), RFRAME_OK);
    assert_int_equal(rframe_end(&f, NULL, emit, &s), RFRAME_TRUNCATED);
    http_headers_free(&h);
    /* body before any head */
    rframe_init(&f, &req);
    assert_int_equal(rframe_body(&f, "x", 1, emit, &s), RFRAME_OVERRUN);
    /* end after end */
    rframe_init(&f, &req);
    h = hdrs("0");
    rframe_head(&f, 200, &h, -1, true);
    assert_int_equal(rframe_end(&f, NULL, emit, &s), RFRAME_OK);
    assert_int_equal(rframe_end(&f, NULL, emit, &s), RFRAME_OVERRUN);
    assert_int_equal(rframe_body(&f, "x", 1, emit, &s), RFRAME_OVERRUN);
    http_headers_free(&h);
}

static void heads(void **state)
{
    (void)state;
    rframe_request req = {.http11 = true, .keep_alive = true};
    rframe f;
    rframe_init(&f, &req);
    http_headers h = hdrs("3");
    /* interim: forwarded to 1.1, its framing fields removed; more heads may follow */
    assert_int_equal(rframe_head(&f, 103, &h, -1, true), RFRAME_OK);
    assert_null(http_headers_get(&h, "Content-Length"));
    assert_int_equal(f.mode, RFRAME_UNSET);
    http_headers_free(&h);
    h = hdrs("3");
    assert_int_equal(rframe_head(&f, 200, &h, -1, true), RFRAME_OK);
    http_headers_free(&h);
    /* after the final one: refused, interim or final */
    h = hdrs(NULL);
    assert_int_equal(rframe_head(&f, 200, &h, -1, true), RFRAME_REFUSED);
    assert_int_equal(rframe_head(&f, 100, &h, -1, true), RFRAME_REFUSED);
    http_headers_free(&h);
    /* HTTP/1.0: interim dropped */
    rframe_request r10 = {.http11 = false};
    rframe_init(&f, &r10);
    h = hdrs(NULL);
    assert_int_equal(rframe_head(&f, 100, &h, -1, true), RFRAME_SKIP);
    assert_int_equal(rframe_head(&f, 103, &h, -1, true), RFRAME_SKIP);
    /* 101 only to an upgrade */
    assert_int_equal(rframe_head(&f, 101, &h, -1, true), RFRAME_REFUSED);
    rframe_request up = {.http11 = true, .keep_alive = true, .upgrade = true};
    rframe_init(&f, &up);
    assert_int_equal(rframe_head(&f, 101, &h, -1, true), RFRAME_OK);
    assert_int_equal(f.mode, RFRAME_PIPE);
    assert_true(rframe_close_after(&f));
    http_headers_free(&h);
    /* bad statuses and lengths */
    rframe_init(&f, &req);
    h = hdrs("12, 13");
    assert_int_equal(rframe_head(&f, 200, &h, -1, true), RFRAME_REFUSED);
    http_headers_free(&h);
    h = hdrs("-1");
    assert_int_equal(rframe_head(&f, 200, &h, -1, true), RFRAME_REFUSED);
    http_headers_free(&h);
    h = hdrs("5");
    http_headers_add(&h, "Content-Length", 14, "6", 1);
    assert_int_equal(rframe_head(&f, 200, &h, -1, true), RFRAME_REFUSED);
    http_headers_free(&h);
    h = hdrs(NULL);
    assert_int_equal(rframe_head(&f, 99, &h, -1, true), RFRAME_REFUSED);
    assert_int_equal(rframe_head(&f, 600, &h, -1, true), RFRAME_REFUSED);
    http_headers_free(&h);
    /* equal repeated lengths become one */
    h = hdrs("4, 4");
    http_headers_add(&h, "Content-Length", 14, "4", 1);
    assert_int_equal(rframe_head(&f, 200, &h, -1, true), RFRAME_OK);
    assert_int_equal(http_headers_count_id(&h, HTTP_H_CONTENT_LENGTH), 1);
    assert_string_equal(http_headers_get(&h, "Content-Length"), "4");
    http_headers_free(&h);
}

/* The same rules for a relay that assembles the whole body (the Lambda, rframe_request.assembled):
 * what each head allows, body octets counted as they arrive in any order, the fields left as
 * they are but for one Content-Length line. */
typedef struct whole_row {
    const char *name;
    int status;
    bool head;          /* HEAD request */
    const char *cl;     /* NULL: none */
    rframe_result hres; /* rframe_head */
    rframe_mode mode;
    size_t a, b;        /* body octets in two arrivals */
    rframe_result bres; /* the worse of the two rframe_body results */
    rframe_result eres; /* rframe_end, when the body results were OK */
    const char *ecl;    /* Content-Length after the head */
} whole_row;

static const whole_row whole_table[] = {
    {"CL exact", 200, false, "5", RFRAME_OK, RFRAME_LENGTH, 2, 3, RFRAME_OK, RFRAME_OK, "5"},
    {"CL over", 200, false, "5", RFRAME_OK, RFRAME_LENGTH, 3, 3, RFRAME_OVERRUN, 0, "5"},
    {"CL short", 200, false, "5", RFRAME_OK, RFRAME_LENGTH, 3, 0, RFRAME_OK, RFRAME_TRUNCATED, "5"},
    {"CL 0 with a body", 200, false, "0", RFRAME_OK, RFRAME_LENGTH, 0, 1, RFRAME_OVERRUN, 0, "0"},
    {"CL list", 200, false, "4, 4", RFRAME_OK, RFRAME_LENGTH, 4, 0, RFRAME_OK, RFRAME_OK, "4"},
    {"no CL", 200, false, NULL, RFRAME_OK, RFRAME_WHOLE, 7, 9, RFRAME_OK, RFRAME_OK, NULL},
    {"no CL, empty", 500, false, NULL, RFRAME_OK, RFRAME_WHOLE, 0, 0, RFRAME_OK, RFRAME_OK, NULL},
    {"204 with a body", 204, false, NULL, RFRAME_OK, RFRAME_NONE, 0, 1, RFRAME_OVERRUN, 0, NULL},
    {"304 CL", 304, false, "42", RFRAME_OK, RFRAME_NONE, 0, 0, RFRAME_OK, RFRAME_OK, "42"},
    {"HEAD CL", 200, true, "99", RFRAME_OK, RFRAME_NONE, 0, 0, RFRAME_OK, RFRAME_OK, "99"},
    {"HEAD with a body", 200, true, "5", RFRAME_OK, RFRAME_NONE, 5, 0, RFRAME_OVERRUN, 0, "5"},
    {"bad CL", 200, false, "5x", RFRAME_REFUSED, RFRAME_UNSET, 0, 0, 0, 0, "5x"},
    {"bad CL on HEAD", 200, true, "-1", RFRAME_REFUSED, RFRAME_UNSET, 0, 0, 0, 0, "-1"},
    {"status 600", 600, false, NULL, RFRAME_REFUSED, RFRAME_UNSET, 0, 0, 0, 0, NULL},
};

static void assembled_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof whole_table / sizeof whole_table[0]; i++) {
        const whole_row *r = &whole_table[i];
        rframe f;
        rframe_init(&f, &(rframe_request){.head = r->head, .assembled = true});
        http_headers h = hdrs(r->cl);
        http_headers_add(&h, "Transfer-Encoding", 17, "chunked", 7);
        http_headers_add(&h, "Connection", 10, "x-a", 3);
        rframe_result res = rframe_head(&f, r->status, &h, -1, true);
        if (res != r->hres || f.mode != r->mode)
            fail_msg("%s: head %d mode %d", r->name, (int)res, (int)f.mode);
        const char *cl = http_headers_get(&h, "Content-Length");
        if ((!cl != !r->ecl) || (cl && strcmp(cl, r->ecl) != 0))
            fail_msg("%s: Content-Length %s", r->name, cl ? cl : "(none)");
        /* the caller's fields: nothing added or removed */
        assert_string_equal(http_headers_get(&h, "Transfer-Encoding"), "chunked");
        assert_string_equal(http_headers_get(&h, "Connection"), "x-a");
        assert_int_equal(h.n, r->cl ? 4 : 3);
        http_headers_free(&h);
        if (res != RFRAME_OK)
            continue;
        sink s = {0};
        static const char body[32] = "0123456789abcdef0123456789abcde";
        rframe_result b = RFRAME_OK;
        size_t parts[2] = {r->a, r->b};
        for (int k = 0; k < 2 && b == RFRAME_OK; k++)
            b = rframe_body(&f, body, parts[k], emit, &s);
        if (b != r->bres)
            fail_msg("%s: body %d", r->name, (int)b);
        if (b != RFRAME_OK)
            continue;
        assert_int_equal(s.len, r->a + r->b); /* passed on unframed */
        res = rframe_end(&f, NULL, emit, &s);
        if (res != r->eres)
            fail_msg("%s: end %d", r->name, (int)res);
        assert_int_equal(s.len, r->a + r->b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(framing_table),          cmocka_unit_test(bodies),
        cmocka_unit_test(overrun_and_truncation), cmocka_unit_test(heads),
        cmocka_unit_test(assembled_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
