/* SPDX-License-Identifier: MIT */
/* test_proto_json_v2.c - the JSON codec's v2 additions (docs/protocol.md §1-2): the lossless
 * octet form ({"b64":...}) and what it refuses, cancel, head continuation messages
 * (http_request_headers / http_response_headers, tmsg_send_head's splitting and
 * tmsg_take_headers), tunnels[] and tunnel_id, per-request windows (ready.stream_windows,
 * connection_established.stream_window, window). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "proto_json.h"
#include "proto_json_check.h"

/* ---------------------------------------------------------------- octets (issue 11 item 5) */

static char *b64_of(const char *s, size_t n)
{
    char *b = malloc(b64_encoded_len(n) + 1);
    b64_encode((const uint8_t *)s, n, b);
    return b;
}

/* Every octet a field value may hold (HTAB, SP, VCHAR, obs-text 0x80-0xFF) survives a round
 * trip, in one value and one octet at a time; valid UTF-8 stays a plain string. */
static void test_octets_lossless(void **state)
{
    (void)state;
    char all[256];
    size_t n = 0;
    all[n++] = '\t';
    for (int c = 0x20; c <= 0xff; c++) {
        if (c != 0x7f)
            all[n++] = (char)c;
    }
    tmsg m, d;
    tmsg_init(&m, TMSG_HTTP_RESPONSE);
    m.request_id = strdup("r");
    m.status_code = 200;
    http_headers_add(&m.headers, "X-All", 5, all, n);
    for (int c = 0x80; c <= 0xff; c++) {
        char v[3] = {'a', (char)c, 'z'};
        http_headers_add(&m.headers, "X-One", 5, v, 3);
    }
    http_headers_add(&m.headers, "X-Utf8", 6, "caf\xc3\xa9 \xe2\x82\xac", 9);
    http_headers_add(&m.headers, "Content-Disposition", 19, "attachment; filename=\"caf\xe9.txt\"",
                     31);
    m.reason = strdup("Gr\xfc\xdf Gott"); /* Latin-1 reason-phrase */
    roundtrip(&m, &d);
    assert_int_equal(d.headers.n, m.headers.n);
    for (size_t i = 0; i < m.headers.n; i++) {
        assert_int_equal(d.headers.v[i].vlen, m.headers.v[i].vlen);
        assert_memory_equal(d.headers.v[i].value, m.headers.v[i].value, m.headers.v[i].vlen);
    }
    assert_string_equal(d.reason, m.reason);
    tmsg_free(&d);
    /* the encoded forms: UTF-8 plain, the rest {"b64":...} */
    char *json = tmsg_encode(&m, NULL);
    assert_non_null(strstr(json, "\"X-Utf8\":[\"caf\xc3\xa9 \xe2\x82\xac\"]"));
    assert_non_null(strstr(json, "\"reason\":{\"b64\":\"R3L83yBHb3R0\"}"));
    assert_non_null(
        strstr(json, "\"Content-Disposition\":[{\"b64\":\"YXR0YWNobWVudDsgZmlsZW5hbWU9ImNhZ"));
    free(json);
    tmsg_free(&m);

    /* request: method, uri and header values */
    tmsg_init(&m, TMSG_HTTP_REQUEST);
    m.request_id = strdup("r");
    m.method = strdup("GET");
    m.uri = strdup("/caf\xe9.txt?q=\xff");
    http_headers_add(&m.headers, "X-Name", 6, "J\xf6rg", 4);
    roundtrip(&m, &d);
    assert_string_equal(d.uri, "/caf\xe9.txt?q=\xff");
    assert_string_equal(http_headers_get(&d.headers, "X-Name"), "J\xf6rg");
    tmsg_free(&d);
    json = tmsg_encode(&m, NULL);
    assert_non_null(strstr(json, "\"uri\":{\"b64\":\"L2NhZukudHh0P3E9/w==\"}"));
    assert_non_null(strstr(json, "\"method\":\"GET\""));
    assert_non_null(strstr(json, "\"X-Name\":[{\"b64\":\"SvZyZw==\"}]"));
    free(json);
    tmsg_free(&m);

    /* the object form is accepted for every octet field, even for UTF-8 octets */
    const char *err;
    assert_int_equal(dec("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":{\"b64\":"
                         "\"UFVU\"},\"uri\":{\"b64\":\"L2Nhw6k=\"},\"headers\":{\"a\":{\"b64\":"
                         "\"\"},\"b\":[\"x\",{\"b64\":\"6Q==\"}]}}",
                         &m, &err),
                     0);
    assert_string_equal(m.method, "PUT");
    assert_string_equal(m.uri, "/ca\xc3\xa9");
    assert_int_equal(m.headers.n, 3);
    assert_string_equal(m.headers.v[0].value, "");
    assert_string_equal(m.headers.v[1].value, "x");
    assert_string_equal(m.headers.v[2].value, "\xe9");
    tmsg_free(&m);
}

/* Octets a head cannot carry are refused in both forms; malformed octet objects are refused. */
static void test_octets_refused(void **state)
{
    (void)state;
    for (int c = 0; c < 0x20; c++) {
        if (c == '\t')
            continue;
        char v[3] = {'a', (char)c, 'z'};
        char *b = b64_of(v, 3);
        char buf[256];
        snprintf(buf, sizeof buf,
                 "{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
                 "\"headers\":{\"x\":[{\"b64\":\"%s\"}]}}",
                 b);
        expect_bad(buf, "headers");
        snprintf(buf, sizeof buf,
                 "{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"GET\","
                 "\"uri\":{\"b64\":\"%s\"}}",
                 b);
        expect_bad(buf, "uri");
        snprintf(buf, sizeof buf,
                 "{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
                 "\"reason\":{\"b64\":\"%s\"}}",
                 b);
        expect_bad(buf, "reason");
        free(b);
        if (c == 0)
            continue; /* \u0000 is refused by the JSON parser itself */
        snprintf(buf, sizeof buf,
                 "{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
                 "\"headers\":{\"x\":\"a\\u%04xz\"}}",
                 c);
        expect_bad(buf, NULL);
    }
    /* DEL, and NUL through the octet form (no truncation at the NUL) */
    expect_bad("{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
               "\"headers\":{\"x\":{\"b64\":\"YX96\"}}}",
               "headers");
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"GET\","
               "\"uri\":{\"b64\":\"L2EAYg==\"}}",
               "uri");
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":{\"b64\":\"R0UAVA==\"},"
               "\"uri\":\"/\"}",
               "method");
    /* space in a target or method, empty target */
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"GET\","
               "\"uri\":{\"b64\":\"L2EgYg==\"}}",
               "uri");
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"GET\","
               "\"uri\":{\"b64\":\"\"}}",
               "uri");
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":{\"b64\":\"RyBU\"},"
               "\"uri\":\"/\"}",
               "method");
    /* malformed objects */
    static const char *objs[] = {
        "{}",
        "{\"b64\":5}",
        "{\"b64\":null}",
        "{\"b64\":\"abc\"}",
        "{\"b64\":\"QQ\"}",
        "{\"b64\":\"Q Q=\"}",
        "{\"b64\":\"-_==\"}",
        "{\"B64\":\"QQ==\"}",
        "{\"b64\":\"QQ==\",\"x\":1}",
        "{\"b64\":[\"QQ==\"]}",
        "[\"QQ==\"]",
        "5",
        "true",
    };
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf,
                 "{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
                 "\"headers\":{\"x\":[%s]}}",
                 objs[i]);
        expect_bad(buf, "headers");
        snprintf(buf, sizeof buf,
                 "{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"GET\",\"uri\":%s}",
                 objs[i]);
        expect_bad(buf, "uri");
        snprintf(buf, sizeof buf,
                 "{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":%s,\"uri\":\"/\"}",
                 objs[i]);
        expect_bad(buf, "method");
        snprintf(buf, sizeof buf,
                 "{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
                 "\"reason\":%s}",
                 objs[i]);
        expect_bad(buf, "reason");
    }
}

/* ---------------------------------------------------------------- cancel */

static void test_cancel(void **state)
{
    (void)state;
    tmsg m;
    const char *err;
    assert_int_equal(dec("{\"type\":\"cancel\",\"request_id\":\"r7\",\"reason\":\"client went "
                         "away\"}",
                         &m, &err),
                     0);
    assert_int_equal(m.type, TMSG_CANCEL);
    assert_string_equal(m.request_id, "r7");
    assert_string_equal(m.reason, "client went away");
    expect_encoded(&m,
                   "{\"type\":\"cancel\",\"request_id\":\"r7\",\"reason\":\"client went away\"}");
    tmsg_free(&m);
    assert_int_equal(dec("{\"type\":\"cancel\",\"request_id\":\"r7\"}", &m, &err), 0);
    assert_null(m.reason);
    expect_encoded(&m, "{\"type\":\"cancel\",\"request_id\":\"r7\"}");
    tmsg_free(&m);
    expect_bad("{\"type\":\"cancel\"}", "request_id");
    expect_bad("{\"type\":\"cancel\",\"request_id\":\"\"}", "request_id");
    expect_bad("{\"type\":\"cancel\",\"request_id\":5}", "request_id");
    expect_bad("{\"type\":\"cancel\",\"request_id\":\"r\",\"reason\":5}", "reason");
    assert_string_equal(tmsg_type_name(TMSG_CANCEL), "cancel");
}

/* ---------------------------------------------------------------- head continuation */

static void test_head_continuation_messages(void **state)
{
    (void)state;
    tmsg m;
    const char *err;
    assert_int_equal(dec("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"GET\","
                         "\"uri\":\"/\",\"headers\":{\"a\":[\"1\"]},\"headers_more\":true}",
                         &m, &err),
                     0);
    assert_true(m.headers_more);
    assert_false(m.more);
    tmsg_free(&m);
    assert_int_equal(dec("{\"type\":\"http_request_headers\",\"request_id\":\"r\",\"seq\":1,"
                         "\"headers\":{\"Cookie\":[\"a=1\",{\"b64\":\"6Q==\"}]},"
                         "\"headers_more\":true}",
                         &m, &err),
                     0);
    assert_int_equal(m.type, TMSG_HTTP_REQUEST_HEADERS);
    assert_int_equal(m.seq, 1);
    assert_true(m.headers_more);
    assert_int_equal(m.headers.n, 2);
    assert_string_equal(m.headers.v[1].value, "\xe9");
    expect_encoded(&m, "{\"type\":\"http_request_headers\",\"request_id\":\"r\",\"seq\":1,"
                       "\"headers\":{\"Cookie\":[\"a=1\",{\"b64\":\"6Q==\"}]},"
                       "\"headers_more\":true}");
    /* appending continuation fields to a head */
    http_headers head;
    http_headers_init(&head);
    http_headers_add(&head, "Host", 4, "x", 1);
    assert_int_equal(tmsg_take_headers(&head, &m.headers), 0);
    assert_int_equal(head.n, 3);
    assert_int_equal(m.headers.n, 0);
    assert_string_equal(head.v[2].name, "Cookie");
    http_headers_free(&head);
    tmsg_free(&m);
    assert_int_equal(dec("{\"type\":\"http_response_headers\",\"request_id\":\"r\",\"seq\":2,"
                         "\"headers\":{}}",
                         &m, &err),
                     0);
    assert_int_equal(m.type, TMSG_HTTP_RESPONSE_HEADERS);
    assert_false(m.headers_more);
    tmsg_free(&m);
    expect_bad("{\"type\":\"http_request_headers\",\"request_id\":\"r\",\"headers\":{}}", "seq");
    expect_bad("{\"type\":\"http_request_headers\",\"request_id\":\"r\",\"seq\":0}", "seq");
    expect_bad("{\"type\":\"http_response_headers\",\"seq\":1}", "request_id");
    expect_bad("{\"type\":\"http_response_headers\",\"request_id\":\"r\",\"seq\":1,"
               "\"headers_more\":1}",
               "headers_more");
    expect_bad("{\"type\":\"http_response_headers\",\"request_id\":\"r\",\"seq\":1,"
               "\"headers\":{\"a b\":\"1\"}}",
               "headers");
    expect_bad("{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
               "\"headers_more\":\"yes\"}",
               "headers_more");
    /* a body piece before the last fields */
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"method\":\"POST\","
               "\"uri\":\"/\",\"headers_more\":true,\"body\":\"YQ==\"}",
               "body");
    /* acknowledgements of continuation messages name their seq */
    tmsg_init(&m, TMSG_ACK);
    m.ack_of = TMSG_HTTP_RESPONSE_HEADERS;
    m.request_id = strdup("r");
    m.seq = 3;
    expect_encoded(&m, "{\"type\":\"ack\",\"of\":\"http_response_headers\",\"request_id\":\"r\","
                       "\"seq\":3}");
    tmsg_free(&m);
}

/* What tmsg_send_head sends, decoded again. */
typedef struct sent {
    tmsg msgs[64];
    size_t n;
    size_t max_len;
    int fail_at; /* send returns -1 for this message (0 = never) */
} sent;

static int record(void *ud, const tmsg *m)
{
    sent *s = ud;
    if (s->fail_at && (int)s->n + 1 == s->fail_at)
        return -1;
    size_t len = 0;
    char *json = tmsg_encode(m, &len);
    assert_non_null(json);
    assert_true(s->n < 64);
    const char *err = NULL;
    if (tmsg_decode(json, len, &s->msgs[s->n], &err) != 0)
        fail_msg("sent message does not decode: %s", err);
    s->n++;
    if (len > s->max_len)
        s->max_len = len;
    free(json);
    return 0;
}

static void sent_free(sent *s)
{
    for (size_t i = 0; i < s->n; i++)
        tmsg_free(&s->msgs[i]);
}

/* n fields of vlen octets each (obs-text when latin1) */
static void big_head(tmsg *m, tmsg_type t, size_t n, size_t vlen, bool latin1)
{
    tmsg_init(m, t);
    m->request_id = strdup("550e8400-e29b-41d4-a716-446655440000");
    if (t == TMSG_HTTP_REQUEST) {
        m->method = strdup("GET");
        m->uri = strdup("/big");
    } else {
        m->status_code = 200;
    }
    char *v = malloc(vlen);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < vlen; k++)
            v[k] = latin1 ? (char)(0x80 + (i + k) % 0x80) : (char)('a' + (i + k) % 26);
        char name[32];
        int nl = snprintf(name, sizeof name, "%s", i % 3 ? "Set-Cookie" : "X-Field");
        http_headers_add(&m->headers, name, (size_t)nl, v, vlen);
    }
    free(v);
}

static void check_reassembled(const tmsg *m, sent *s)
{
    http_headers all;
    http_headers_init(&all);
    for (size_t i = 0; i < s->n; i++) {
        tmsg *x = &s->msgs[i];
        if (i > 0) {
            assert_int_equal(x->type, m->type == TMSG_HTTP_REQUEST ? TMSG_HTTP_REQUEST_HEADERS
                                                                   : TMSG_HTTP_RESPONSE_HEADERS);
            assert_int_equal(x->seq, i);
            assert_string_equal(x->request_id, m->request_id);
        }
        assert_int_equal(x->headers_more, i + 1 < s->n);
        assert_int_equal(x->body_len, 0);
        assert_int_equal(tmsg_take_headers(&all, &x->headers), 0);
    }
    /* every line in its place, spelled as sent (the JSON form groups a message's lines by
     * name and says their order in header_order: RFC 9110 §5.3) */
    assert_int_equal(all.n, m->headers.n);
    for (size_t i = 0; i < all.n; i++) {
        assert_string_equal(all.v[i].name, m->headers.v[i].name);
        assert_int_equal(all.v[i].vlen, m->headers.v[i].vlen);
        assert_memory_equal(all.v[i].value, m->headers.v[i].value, all.v[i].vlen);
    }
    http_headers_free(&all);
}

static void test_send_head(void **state)
{
    (void)state;
    /* a usual head: one message, the body with it */
    tmsg m;
    sent s = {0};
    big_head(&m, TMSG_HTTP_RESPONSE, 20, 1024, false); /* 20 Set-Cookie of 1 KB (issue 11.2) */
    m.body = (uint8_t *)strdup("hello");
    m.body_len = 5;
    assert_int_equal(tmsg_send_head(&m, record, &s), 1);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.msgs[0].body_len, 5);
    assert_false(s.msgs[0].headers_more);
    assert_int_equal(s.msgs[0].headers.n, 20);
    sent_free(&s);
    tmsg_free(&m);

    /* 1 MiB of request head (ttfd's largest --max-header-size), ASCII and obs-text */
    for (int latin1 = 0; latin1 < 2; latin1++) {
        memset(&s, 0, sizeof s);
        big_head(&m, TMSG_HTTP_REQUEST, 256, 4000, latin1);
        m.body = (uint8_t *)strdup("abc");
        m.body_len = 3;
        assert_int_equal(tmsg_send_head(&m, record, &s), 0);
        assert_true(s.n > 8);
        assert_true(s.max_len <= TTF_JSON_MAX_MSG);
        assert_true(s.msgs[0].more); /* the body follows as piece 1 */
        assert_string_equal(s.msgs[0].uri, "/big");
        check_reassembled(&m, &s);
        sent_free(&s);
        tmsg_free(&m);
    }

    /* a head that fits only without its body: one head message, the body as piece 1 */
    memset(&s, 0, sizeof s);
    big_head(&m, TMSG_HTTP_RESPONSE, 30, 3000, false);
    m.body_len = 40000;
    m.body = calloc(1, m.body_len);
    assert_int_equal(tmsg_send_head(&m, record, &s), 0);
    assert_int_equal(s.n, 1);
    assert_false(s.msgs[0].headers_more);
    assert_true(s.msgs[0].more);
    sent_free(&s);
    tmsg_free(&m);

    /* one field line larger than a message: refused, nothing sent */
    memset(&s, 0, sizeof s);
    big_head(&m, TMSG_HTTP_RESPONSE, 1, TTF_JSON_MAX_MSG, false);
    assert_int_equal(tmsg_send_head(&m, record, &s), -1);
    assert_int_equal(s.n, 0);
    tmsg_free(&m);

    /* send failing: -1 */
    memset(&s, 0, sizeof s);
    s.fail_at = 2;
    big_head(&m, TMSG_HTTP_REQUEST, 64, 4000, false);
    assert_int_equal(tmsg_send_head(&m, record, &s), -1);
    assert_int_equal(s.n, 1);
    sent_free(&s);
    tmsg_free(&m);

    /* not a head message */
    tmsg_init(&m, TMSG_PING);
    assert_int_equal(tmsg_send_head(&m, record, &s), -1);

    /* the size is exact for one entry (plain UTF-8 or the octet form), never under */
    http_header e = {.name = "X\"\\", .nlen = 3, .value = "\t\"\\\xe9", .vlen = 4};
    assert_int_equal(tmsg_header_encoded_max(&e),
                     strlen("\"X\\\"\\\\\":[{\"b64\":\"CSJc6Q==\"}],"));
    http_header u = {.name = "A", .nlen = 1, .value = "caf\xc3\xa9\t", .vlen = 6};
    assert_int_equal(tmsg_header_encoded_max(&u), strlen("\"A\":[\"caf\xc3\xa9\\t\"],"));
    /* the bound from the lengths is never under it: controls (6 bytes each), the octet form,
     * empty names and values */
    http_header worst[] = {e,
                           u,
                           {.name = "\x01", .nlen = 1, .value = "\x02\x03", .vlen = 2},
                           {.name = "", .nlen = 0, .value = "\xff", .vlen = 1},
                           {.name = "", .nlen = 0, .value = "", .vlen = 0},
                           {.name = "B", .nlen = 1, .value = "\xff\xfe\xfd\xfc", .vlen = 4}};
    for (size_t i = 0; i < sizeof worst / sizeof worst[0]; i++)
        assert_true(tmsg_header_encoded_bound(&worst[i]) >= tmsg_header_encoded_max(&worst[i]));

    /* one plain ASCII field of 120 KB fits a message of its own (its octet form would not) */
    memset(&s, 0, sizeof s);
    big_head(&m, TMSG_HTTP_REQUEST, 1, 120000, false);
    assert_true(tmsg_send_head(&m, record, &s) >= 0);
    assert_true(s.max_len <= TTF_JSON_MAX_MSG);
    check_reassembled(&m, &s);
    sent_free(&s);
    tmsg_free(&m);
}

/* Heads just under and over the message size, with start-line strings in their longest
 * encoded form (non-UTF-8 octets: {"b64":...}): whichever way tmsg_send_head decides (its quick
 * bound or the measured size), no message exceeds TTF_JSON_MAX_MSG and every field arrives. */
static void test_send_head_near_limit(void **state)
{
    (void)state;
    char bad[200];
    bad[0] = '/';
    memset(bad + 1, '\xff', sizeof bad - 2);
    bad[sizeof bad - 1] = '\0';
    for (int t = 0; t < 2; t++) {
        for (size_t vlen = 4000; vlen <= 4400; vlen += 25) {
            tmsg m;
            sent s = {0};
            big_head(&m, t ? TMSG_HTTP_REQUEST : TMSG_HTTP_RESPONSE, 30, vlen, false);
            if (t) {
                free(m.uri);
                m.uri = strdup(bad);
            } else {
                m.reason = strdup(bad + 1);
            }
            assert_true(tmsg_send_head(&m, record, &s) >= 0);
            assert_true(s.n >= 1);
            assert_true(s.max_len <= TTF_JSON_MAX_MSG);
            check_reassembled(&m, &s);
            sent_free(&s);
            tmsg_free(&m);
        }
    }
}

/* ---------------------------------------------------------------- several tunnels */

static void test_tunnels(void **state)
{
    (void)state;
    tmsg m;
    const char *err;
    assert_int_equal(dec("{\"type\":\"ready\",\"tunnels\":[{\"name\":\"web\",\"subdomain\":"
                         "\"myapp\"},{\"name\":\"api\"}]}",
                         &m, &err),
                     0);
    assert_int_equal(m.ntunnels, 2);
    assert_string_equal(m.tunnels[0].name, "web");
    assert_string_equal(m.tunnels[0].subdomain, "myapp");
    assert_string_equal(m.tunnels[1].name, "api");
    assert_null(m.tunnels[1].subdomain);
    expect_encoded(&m,
                   "{\"type\":\"ready\",\"tunnels\":[{\"name\":\"web\",\"subdomain\":\"myapp\"},"
                   "{\"name\":\"api\"}]}");
    tmsg_free(&m);

    assert_int_equal(
        dec("{\"type\":\"connection_established\",\"connection_id\":\"c\",\"tunnel_id\":\"myapp\","
            "\"public_url\":\"http://myapp.localhost:8080\",\"tunnels\":[{\"name\":\"web\","
            "\"tunnel_id\":\"myapp\",\"public_url\":\"http://myapp.localhost:8080\","
            "\"subdomain_url\":\"http://myapp.localhost:8080\",\"path_based_url\":"
            "\"http://localhost:8080/myapp\"},{\"name\":\"api\",\"tunnel_id\":\"k3v9q2m8x0ab\","
            "\"public_url\":\"http://k3v9q2m8x0ab.localhost:8080\"}]}",
            &m, &err),
        0);
    assert_int_equal(m.ntunnels, 2);
    assert_string_equal(m.tunnels[0].tunnel_id, "myapp");
    assert_string_equal(m.tunnels[0].path_based_url, "http://localhost:8080/myapp");
    assert_string_equal(m.tunnels[1].public_url, "http://k3v9q2m8x0ab.localhost:8080");
    assert_null(m.tunnels[1].subdomain_url);
    tmsg d;
    roundtrip(&m, &d);
    assert_int_equal(d.ntunnels, 2);
    assert_string_equal(d.tunnels[1].tunnel_id, "k3v9q2m8x0ab");
    assert_string_equal(d.tunnels[0].subdomain_url, "http://myapp.localhost:8080");
    tmsg_free(&d);
    tmsg_free(&m);

    /* http_request names its tunnel (absent: the first) */
    assert_int_equal(dec("{\"type\":\"http_request\",\"request_id\":\"r\",\"tunnel_id\":\"api1\","
                         "\"method\":\"GET\",\"uri\":\"/\"}",
                         &m, &err),
                     0);
    assert_string_equal(m.tunnel_id, "api1");
    expect_encoded(&m, "{\"type\":\"http_request\",\"request_id\":\"r\",\"tunnel_id\":\"api1\","
                       "\"method\":\"GET\",\"uri\":\"/\",\"headers\":{},\"body\":\"\","
                       "\"timestamp\":0}");
    tmsg_free(&m);
    expect_bad("{\"type\":\"http_request\",\"request_id\":\"r\",\"tunnel_id\":7,"
               "\"method\":\"GET\",\"uri\":\"/\"}",
               "tunnel_id");

    static const char *bad_ready[] = {
        "{}",
        "[]",
        "\"web\"",
        "[{}]",
        "[{\"name\":\"\"}]",
        "[{\"name\":5}]",
        "[{\"name\":\"web\",\"subdomain\":5}]",
        "[\"web\"]",
        "[{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]",
    };
    for (size_t i = 0; i < sizeof bad_ready / sizeof bad_ready[0]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "{\"type\":\"ready\",\"tunnels\":%s}", bad_ready[i]);
        expect_bad(buf, "tunnels");
    }
    static const char *bad_est[] = {
        "[{\"name\":\"web\",\"public_url\":\"u\"}]",
        "[{\"name\":\"web\",\"tunnel_id\":\"t\"}]",
        "[{\"tunnel_id\":\"t\",\"public_url\":5}]",
        "[{\"tunnel_id\":\"t\",\"public_url\":\"u\",\"subdomain_url\":[]}]",
        "[]",
        "{\"tunnel_id\":\"t\",\"public_url\":\"u\"}",
    };
    for (size_t i = 0; i < sizeof bad_est / sizeof bad_est[0]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf,
                 "{\"type\":\"connection_established\",\"connection_id\":\"c\",\"tunnel_id\":\"t\","
                 "\"public_url\":\"u\",\"tunnels\":%s}",
                 bad_est[i]);
        expect_bad(buf, "tunnels");
    }
    /* at most TTF_JSON_MAX_TUNNELS entries */
    size_t cap = 32 + (TTF_JSON_MAX_TUNNELS + 1) * 16;
    char *big = malloc(cap);
    size_t o = (size_t)snprintf(big, cap, "{\"type\":\"ready\",\"tunnels\":[");
    for (size_t i = 0; i <= TTF_JSON_MAX_TUNNELS; i++)
        o += (size_t)snprintf(big + o, cap - o, "%s{\"name\":\"t%zu\"}", i ? "," : "", i);
    snprintf(big + o, cap - o, "]}");
    expect_bad(big, "tunnels");
    /* exactly the maximum is fine */
    char *last = strrchr(big, '{');
    strcpy(last - 1, "]}");
    assert_int_equal(dec(big, &m, &err), 0);
    assert_int_equal(m.ntunnels, TTF_JSON_MAX_TUNNELS);
    tmsg_free(&m);
    free(big);
}

/* ---------------------------------------------------------------- windows */

/* The window negotiation (ready asks, connection_established announces) and the credit
 * message, both ways through the codec, and what is refused (docs/protocol.md §2 "Flow
 * control"). */
static void test_window(void **state)
{
    (void)state;
    tmsg m;
    const char *err;
    assert_int_equal(
        dec("{\"type\":\"window\",\"request_id\":\"r7\",\"increment\":262144}", &m, &err), 0);
    assert_int_equal(m.type, TMSG_WINDOW);
    assert_string_equal(m.request_id, "r7");
    assert_int_equal(m.increment, 262144);
    expect_encoded(&m, "{\"type\":\"window\",\"request_id\":\"r7\",\"increment\":262144}");
    tmsg_free(&m);
    assert_int_equal(
        dec("{\"type\":\"window\",\"request_id\":\"r\",\"increment\":4294967295}", &m, &err), 0);
    assert_int_equal(m.increment, UINT32_MAX);
    tmsg_free(&m);
    expect_bad("{\"type\":\"window\",\"increment\":1}", "request_id");
    expect_bad("{\"type\":\"window\",\"request_id\":\"r\"}", "increment");
    expect_bad("{\"type\":\"window\",\"request_id\":\"r\",\"increment\":0}", "increment");
    expect_bad("{\"type\":\"window\",\"request_id\":\"r\",\"increment\":-1}", "increment");
    expect_bad("{\"type\":\"window\",\"request_id\":\"r\",\"increment\":4294967296}", "increment");
    expect_bad("{\"type\":\"window\",\"request_id\":\"r\",\"increment\":\"1\"}", "increment");
    assert_string_equal(tmsg_type_name(TMSG_WINDOW), "window");

    /* ready asks for windows; absent = false (an old agent) */
    assert_int_equal(dec("{\"type\":\"ready\",\"stream_windows\":true}", &m, &err), 0);
    assert_true(m.stream_windows);
    expect_encoded(&m, "{\"type\":\"ready\",\"stream_windows\":true}");
    tmsg_free(&m);
    assert_int_equal(dec("{\"type\":\"ready\"}", &m, &err), 0);
    assert_false(m.stream_windows);
    expect_encoded(&m, "{\"type\":\"ready\"}");
    tmsg_free(&m);
    expect_bad("{\"type\":\"ready\",\"stream_windows\":1}", "stream_windows");

    /* connection_established announces it; absent = 0 (the Lambda: no limit) */
    const char *est = "{\"type\":\"connection_established\",\"connection_id\":\"c\","
                      "\"tunnel_id\":\"t\",\"public_url\":\"http://t\",\"stream_window\":1048576}";
    assert_int_equal(dec(est, &m, &err), 0);
    assert_int_equal(m.stream_window, 1048576);
    expect_encoded(&m, est);
    tmsg_free(&m);
    assert_int_equal(dec("{\"type\":\"connection_established\",\"connection_id\":\"c\","
                         "\"tunnel_id\":\"t\",\"public_url\":\"http://t\"}",
                         &m, &err),
                     0);
    assert_int_equal(m.stream_window, 0);
    tmsg_free(&m);
    expect_bad("{\"type\":\"connection_established\",\"connection_id\":\"c\",\"tunnel_id\":"
               "\"t\",\"public_url\":\"http://t\",\"stream_window\":-5}",
               "stream_window");
    expect_bad("{\"type\":\"connection_established\",\"connection_id\":\"c\",\"tunnel_id\":"
               "\"t\",\"public_url\":\"http://t\",\"stream_window\":\"1\"}",
               "stream_window");
}

/* Request-body windows (docs/protocol.md §2 "Flow control"): ready.request_windows,
 * connection_established.request_window beside stream_window, and the agent's own window
 * message (the agent -> server direction) as ttf builds it. */
static void test_request_window(void **state)
{
    (void)state;
    tmsg m;
    const char *err;
    const char *ready = "{\"type\":\"ready\",\"stream_windows\":true,\"request_windows\":true}";
    assert_int_equal(dec(ready, &m, &err), 0);
    assert_true(m.stream_windows);
    assert_true(m.request_windows);
    expect_encoded(&m, ready);
    tmsg_free(&m);
    assert_int_equal(dec("{\"type\":\"ready\",\"stream_windows\":true}", &m, &err), 0);
    assert_false(m.request_windows); /* an agent that does not credit request bodies */
    tmsg_free(&m);
    expect_bad("{\"type\":\"ready\",\"request_windows\":\"yes\"}", "request_windows");
    /* the first request window the agent asks for (both modes; agent/hold.h) */
    const char *asks = "{\"type\":\"ready\",\"request_windows\":true,\"request_window\":65536}";
    assert_int_equal(dec(asks, &m, &err), 0);
    assert_int_equal(m.request_window, 65536);
    expect_encoded(&m, asks);
    tmsg_free(&m);
    expect_bad("{\"type\":\"ready\",\"request_window\":4294967296}", "request_window");

    const char *est = "{\"type\":\"connection_established\",\"connection_id\":\"c\","
                      "\"tunnel_id\":\"t\",\"public_url\":\"http://t\",\"stream_window\":1048576,"
                      "\"request_window\":1048576}";
    assert_int_equal(dec(est, &m, &err), 0);
    assert_int_equal(m.stream_window, 1048576);
    assert_int_equal(m.request_window, TTF_JSON_REQUEST_WINDOW);
    expect_encoded(&m, est);
    tmsg_free(&m);
    assert_int_equal(dec("{\"type\":\"connection_established\",\"connection_id\":\"c\","
                         "\"tunnel_id\":\"t\",\"public_url\":\"http://t\",\"stream_window\":5}",
                         &m, &err),
                     0);
    assert_int_equal(m.request_window, 0); /* an older ttfd, the Lambda: no request window */
    tmsg_free(&m);
    expect_bad("{\"type\":\"connection_established\",\"connection_id\":\"c\",\"tunnel_id\":"
               "\"t\",\"public_url\":\"http://t\",\"request_window\":4294967296}",
               "request_window");
    expect_bad("{\"type\":\"connection_established\",\"connection_id\":\"c\",\"tunnel_id\":"
               "\"t\",\"public_url\":\"http://t\",\"request_window\":-1}",
               "request_window");

    /* the agent's credit: encoded as ttf sends it, decoded as ttfd reads it */
    tmsg w;
    tmsg_init(&w, TMSG_WINDOW);
    w.request_id = (char *)"q1";
    w.increment = 262144;
    expect_encoded(&w, "{\"type\":\"window\",\"request_id\":\"q1\",\"increment\":262144}");
    w.request_id = NULL;
    tmsg_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_octets_lossless), cmocka_unit_test(test_octets_refused),
        cmocka_unit_test(test_cancel),          cmocka_unit_test(test_head_continuation_messages),
        cmocka_unit_test(test_send_head),       cmocka_unit_test(test_send_head_near_limit),
        cmocka_unit_test(test_tunnels),         cmocka_unit_test(test_window),
        cmocka_unit_test(test_request_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
