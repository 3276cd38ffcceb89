/* SPDX-License-Identifier: MIT */
/* test_proto_json_text.c - the wire codec on json-c accepts and refuses what it did on jansson
 * (lib/json_text): embedded NUL, ill-formed UTF-8, unpaired surrogate escapes, control
 * characters, numbers outside RFC 8259's grammar or jansson's range, literals, trailing bytes,
 * deep nesting (jansson's limit of 2048 levels, exactly), duplicate keys (the last value wins,
 * in the first one's place); and the encoder writes the bytes jansson wrote (golden texts taken
 * from the jansson codec). fuzz_proto_json_jansson compares the two libraries directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_text.h"
#include "proto_json.h"
#include "proto_json_check.h"

/* {"type":"ping","x":<value>} of n bytes (the value may hold NUL). */
static char *ping_with(const char *value, size_t vlen, size_t *n)
{
    static const char pre[] = "{\"type\":\"ping\",\"x\":";
    char *s = malloc(sizeof pre + vlen + 1);
    memcpy(s, pre, sizeof pre - 1);
    memcpy(s + sizeof pre - 1, value, vlen);
    s[sizeof pre - 1 + vlen] = '}';
    *n = sizeof pre + vlen;
    return s;
}

/* The ping decodes (ok) or is refused as "invalid JSON" (the error jansson's failure gave). */
static void check_value(const char *value, size_t vlen, bool ok)
{
    size_t n;
    char *s = ping_with(value, vlen, &n);
    tmsg m;
    const char *err = NULL;
    int rc = tmsg_decode(s, n, &m, &err);
    if (ok && rc != 0)
        fail_msg("refused (%s): %.*s", err, (int)n, s);
    if (!ok && (rc == 0 || strcmp(err, "invalid JSON") != 0))
        fail_msg("not refused as invalid JSON (%s): %.*s", rc == 0 ? "decoded" : err, (int)n, s);
    assert_int_equal(json_text_lexical_ok(s, n), ok);
    tmsg_free(&m);
    free(s);
}

#define OK(lit) check_value(lit, sizeof(lit) - 1, true)
#define BAD(lit) check_value(lit, sizeof(lit) - 1, false)

static void test_nul(void **state)
{
    (void)state;
    BAD("\"a\\u0000b\""); /* json-c would keep it */
    BAD("\"a\0b\"");      /* raw NUL in a string */
    BAD("1\0");           /* after a number (jansson itself skipped this one) */
    expect_bad("{\"type\":\"ping\",\"a\\u0000\":1}", "invalid JSON"); /* json-c cut the key */
    expect_bad("{\"type\":\"ping\\u0000\"}", "invalid JSON");
    size_t n = 16;
    const char trail[] = "{\"type\":\"ping\"}\0";
    tmsg m;
    const char *err = NULL;
    assert_int_equal(tmsg_decode(trail, n, &m, &err), -1);
    assert_string_equal(err, "invalid JSON");
    tmsg_free(&m);
    /* a NUL that arrives as an octet of a header value uses the {"b64"} form, refused later */
    expect_bad("{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
               "\"headers\":{\"X\":{\"b64\":\"YQBi\"}}}",
               "bad headers");
}

static void test_utf8(void **state)
{
    (void)state;
    OK("\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"");
    BAD("\"\xc3\"");             /* truncated */
    BAD("\"\xc3(\"");            /* bad continuation */
    BAD("\"\xc0\x80\"");         /* overlong NUL: json-c's VALIDATE_UTF8 takes it */
    BAD("\"\xe0\x80\x80\"");     /* overlong */
    BAD("\"\xed\xa0\x80\"");     /* a surrogate encoded */
    BAD("\"\xf4\x90\x80\x80\""); /* above U+10FFFF */
    BAD("\"\xf5\x80\x80\x80\"");
    BAD("\"\x80\"");                                      /* a continuation byte first */
    BAD("\xc3\xa9");                                      /* non-ASCII outside a string */
    OK("\"\\u00e9\\u20ac\\ud83d\\ude00\\uDBFF\\uDFFF\""); /* escapes, a pair in either case */
    BAD("\"\\ud83d\"");                                   /* a high half alone: json-c: U+FFFD */
    BAD("\"\\ude00\"");                                   /* a low half alone */
    BAD("\"\\ud83d\\u0041\"");
    BAD("\"\\ud83dx\"");
    BAD("\"\\u12\"");
    BAD("\"\\u12g4\"");
    BAD("\"\\x\"");
    BAD("\"\\'\"");
}

static void test_controls_and_escapes(void **state)
{
    (void)state;
    BAD("\"a\x01"
        "b\"");
    BAD("\"a\tb\""); /* raw HTAB inside a string: json-c takes it */
    BAD("\"a\nb\"");
    BAD("\"a\x1f\"");
    OK("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
    OK("\"a\x7f\""); /* DEL is not a control character to JSON */
    OK(" \t\n\r[ 1 , \"x\" ]\r\n");
}

static void test_numbers(void **state)
{
    (void)state;
    OK("[0,-0,1,-1,123,0.5,-0.0,1e5,1E+5,1e-5,-1.5e-3,12.34E2]");
    OK("9223372036854775807");
    OK("-9223372036854775808");
    OK("1e-400"); /* underflow is not an error to jansson */
    OK("0.00000000000000000000000000000000000000000000000000000000000000000000000001");
    BAD("00");
    BAD("01");
    BAD("-01");
    BAD("-00");
    BAD("1.");
    BAD(".5");
    BAD("+1");
    BAD("1e");
    BAD("1e+");
    BAD("1-2");
    BAD("1.2.3");
    BAD("-");
    BAD("0x10");
    BAD("9223372036854775808");  /* json-c: a uint64 */
    BAD("-9223372036854775809"); /* json-c: clamped */
    BAD("18446744073709551616");
    BAD("100000000000000000000000");
    BAD("1e400");
    BAD("-1e400");
    BAD("NaN");
    BAD("Infinity");
    BAD("-Infinity");
}

/* A refused answer still names its exchange (tmsg_request_id_of reads the structure alone):
 * a seq beyond int64 makes the whole text invalid to the codec, but the receiver must fail
 * that request at once rather than leave its client waiting for the timeout. */
static void test_refused_answer_names_its_request(void **state)
{
    (void)state;
    static const char big_seq[] = "{\"type\":\"http_response_body\",\"request_id\":\"r-1\","
                                  "\"seq\":18446744073709551616,\"body\":\"\",\"more\":false}";
    tmsg m;
    const char *err = NULL;
    assert_int_equal(tmsg_decode(big_seq, strlen(big_seq), &m, &err), -1);
    tmsg_type t = TMSG_UNKNOWN;
    char *rid = tmsg_request_id_of(big_seq, strlen(big_seq), &t);
    assert_non_null(rid);
    assert_string_equal(rid, "r-1");
    assert_int_equal(t, TMSG_HTTP_RESPONSE_BODY);
    free(rid);
    static const char no_id[] = "{\"type\":\"http_response\",\"status\":1e400}";
    assert_null(tmsg_request_id_of(no_id, strlen(no_id), &t));
    assert_int_equal(t, TMSG_HTTP_RESPONSE);
    static const char broken[] = "{\"type\":\"http_response\",\"request_id\":\"r-2\"";
    assert_null(tmsg_request_id_of(broken, strlen(broken), &t));
    assert_int_equal(t, TMSG_UNKNOWN);
}

/* A response head of `lines` values of one name ("x"), with `pre` members before type (none
 * counted: they are strings): 11 tokens besides the values. */
static char *many_values(size_t lines, const char *pre, size_t *n)
{
    static const char head[] = "\"type\":\"http_response\",\"request_id\":\"r-9\","
                               "\"status_code\":200,\"headers\":{\"x\":[";
    size_t cap = strlen(pre) + sizeof head + lines * 4 + 16;
    char *s = malloc(cap);
    size_t k = (size_t)snprintf(s, cap, "{%s%s", pre, head);
    for (size_t i = 0; i < lines; i++) {
        memcpy(s + k, i ? ",\"a\"" : "\"a\"", i ? 4 : 3);
        k += i ? 4 : 3;
    }
    memcpy(s + k, "]}}", 3);
    *n = k + 3;
    return s;
}

/* The message `{"type":"cancel",<pre>"z":[[],[],...],"request_id":"r-7"}` of `arrays` empty
 * arrays: 7 tokens besides those and pre's. */
static char *tiny_values(size_t arrays, const char *pre, size_t *n)
{
    size_t cap = strlen(pre) + arrays * 3 + 128;
    char *s = malloc(cap);
    size_t k = (size_t)snprintf(s, cap, "{\"type\":\"cancel\",%s\"z\":[", pre);
    for (size_t i = 0; i < arrays; i++)
        k += (size_t)snprintf(s + k, cap - k, i ? ",[]" : "[]");
    k += (size_t)snprintf(s + k, cap - k, "],\"request_id\":\"r-7\"}");
    *n = k;
    return s;
}

/* s[0..n) is refused for its tokens before json-c builds it, and names no exchange: more than
 * any message holds (the receiver closes the link). */
static void expect_too_many(const char *s, size_t n)
{
    tmsg m;
    const char *err = NULL;
    assert_false(json_text_lexical_ok(s, n));
    assert_int_equal(tmsg_decode(s, n, &m, &err), TMSG_TOO_MANY_TOKENS);
    assert_string_equal(err, TMSG_ERR_TOO_MANY_TOKENS);
    tmsg_type t = TMSG_UNKNOWN;
    assert_null(tmsg_request_id_of(s, n, &t));
    assert_int_equal(t, TMSG_UNKNOWN);
    json_text_status st;
    assert_null(json_text_parse_object(s, n, 0, &st));
    assert_int_equal(st, JSON_TEXT_TOO_MANY);
}

/* More than JSON_TEXT_MAX_TOKENS tokens are refused before json-c builds an object for each (a
 * hostile agent's 5 MB head of 1M lines cost ttfd 330 MB), as TMSG_TOO_MANY_TOKENS, and
 * tmsg_request_id_of reads nothing of them. A lexical fault before them does not stop the count
 * (it once did: the text was then parsed by its structure alone, every token built), and a
 * string's content, escaped quotes, brackets and a bad escape included, counts as one token. */
static void test_token_limit(void **state)
{
    (void)state;
    size_t n;
    char *s = many_values(JSON_TEXT_MAX_TOKENS - 11, "", &n);
    tmsg m;
    const char *err = NULL;
    assert_true(json_text_lexical_ok(s, n));
    assert_int_equal(tmsg_decode(s, n, &m, &err), 0);
    assert_int_equal(m.headers.n, JSON_TEXT_MAX_TOKENS - 11);
    tmsg_free(&m);
    free(s);

    s = many_values(JSON_TEXT_MAX_TOKENS - 10, "\"x\":{\"request_id\":\"evil\"},", &n);
    expect_too_many(s, n);
    free(s);

    /* the limit exactly, then one more, past a string of quotes and brackets (2 tokens) */
    static const char quoted[] = "\"y\":\"\\\"]}{,[[\\\\\",";
    s = tiny_values(JSON_TEXT_MAX_TOKENS - 9, quoted, &n);
    assert_true(json_text_lexical_ok(s, n));
    assert_int_equal(tmsg_decode(s, n, &m, &err), 0);
    assert_int_equal(m.type, TMSG_CANCEL);
    assert_string_equal(m.request_id, "r-7");
    tmsg_free(&m);
    free(s);
    s = tiny_values(JSON_TEXT_MAX_TOKENS - 8, quoted, &n);
    expect_too_many(s, n);
    free(s);

    /* lexical faults first: an integer beyond int64, a bad escape, a raw control character */
    s = tiny_values(JSON_TEXT_MAX_TOKENS - 8, "\"seq\":18446744073709551616,", &n);
    expect_too_many(s, n);
    free(s);
    s = tiny_values(JSON_TEXT_MAX_TOKENS - 8, "\"y\":\"\\q\\\"[[\x01\",", &n);
    expect_too_many(s, n);
    free(s);

    /* a refused string of many brackets: a few tokens, read by its structure (json-c fails) */
    size_t cnt = JSON_TEXT_MAX_TOKENS + 1, cap = cnt + 64;
    s = malloc(cap);
    size_t k = (size_t)snprintf(s, cap, "{\"type\":\"cancel\",\"request_id\":\"r-8\",\"y\":\"\\q");
    memset(s + k, '[', cnt);
    k += cnt;
    k += (size_t)snprintf(s + k, cap - k, "\"}");
    assert_false(json_text_lexical_ok(s, k));
    assert_int_equal(tmsg_decode(s, k, &m, &err), -1);
    assert_string_equal(err, "invalid JSON");
    tmsg_type t = TMSG_UNKNOWN;
    assert_null(tmsg_request_id_of(s, k, &t)); /* json-c refuses \q too */
    free(s);
}

static void test_literals(void **state)
{
    (void)state;
    OK("[true,false,null]");
    BAD("TRUE");
    BAD("True");
    BAD("nul");
    BAD("nulls");
    BAD("undefined");
    BAD("'x'");
}

static void test_structure(void **state)
{
    (void)state;
    expect_bad("{\"type\":\"ping\"}x", "invalid JSON");
    expect_bad("{\"type\":\"ping\"}{}", "invalid JSON");
    expect_bad("{\"type\":\"ping\"},", "invalid JSON");
    expect_bad("{\"type\":\"ping\"} // c", "invalid JSON");
    expect_bad("{\"type\":\"ping\" /* c */}", "invalid JSON");
    expect_bad("{'type':'ping'}", "invalid JSON");
    expect_bad("{\"type\":\"ping\",}", "invalid JSON");
    expect_bad("{\"type\":\"ping\",\"x\":[1,]}", "invalid JSON");
    expect_bad("{\"type\":\"ping\",\"x\":[,1]}", "invalid JSON");
    expect_bad("{\"type\":\"ping\"", "invalid JSON");
    expect_bad("{\"type\" \"ping\"}", "invalid JSON");
    expect_bad("{type:\"ping\"}", "invalid JSON");
    expect_bad("", "invalid JSON");
    expect_bad(" \n", "invalid JSON");
    expect_bad("\"ping\"", "invalid JSON"); /* jansson took an object or an array only */
    expect_bad("1", "invalid JSON");
    expect_bad("null", "invalid JSON");
    expect_bad("true", "invalid JSON");
    expect_bad("[]", "not an object");
    expect_bad("[{\"type\":\"ping\"}]", "not an object");
    expect_bad("{\"type\":1}", "missing type");
    tmsg m;
    const char *err = NULL;
    assert_int_equal(dec("\r\n {\"type\":\"ping\"} \t\r\n", &m, &err), 0);
    assert_int_equal(m.type, TMSG_PING);
    tmsg_free(&m);
    assert_int_equal(tmsg_decode(NULL, 0, &m, &err), -1);
    assert_string_equal(err, "invalid JSON");
}

/* {"type":"ping","x":[[...]]} with `levels` arrays: the object is one more level. */
static int decode_nested(size_t levels)
{
    char *v = malloc(2 * levels);
    memset(v, '[', levels);
    memset(v + levels, ']', levels);
    size_t n;
    char *s = ping_with(v, 2 * levels, &n);
    tmsg m;
    const char *err = NULL;
    int rc = tmsg_decode(s, n, &m, &err);
    if (rc != 0)
        assert_string_equal(err, "invalid JSON");
    tmsg_free(&m);
    free(s);
    free(v);
    return rc;
}

/* levels nested {"a": ... 1 ... } parse as an object. */
static bool objects_parse(size_t levels)
{
    char *s = malloc(levels * 6 + 1);
    size_t n = 0;
    for (size_t i = 0; i < levels; i++, n += 5)
        memcpy(s + n, "{\"a\":", 5);
    s[n++] = '1';
    memset(s + n, '}', levels);
    n += levels;
    json_text_status st;
    json_object *o = json_text_parse_object(s, n, 0, &st);
    bool ok = o != NULL;
    if (!ok)
        assert_int_equal(st, JSON_TEXT_INVALID);
    json_object_put(o);
    free(s);
    return ok;
}

static void test_depth(void **state)
{
    (void)state;
    assert_int_equal(decode_nested(40), 0); /* beyond json-c's first, shallow parse */
    assert_int_equal(decode_nested(JSON_TEXT_MAX_DEPTH - 1), 0);
    assert_int_equal(decode_nested(JSON_TEXT_MAX_DEPTH), -1); /* jansson: 2049 levels */
    assert_int_equal(decode_nested(100000), -1);
    /* objects: a scalar in the innermost one counts as a level too */
    assert_true(objects_parse(JSON_TEXT_MAX_DEPTH - 1));
    assert_false(objects_parse(JSON_TEXT_MAX_DEPTH));
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    tmsg m;
    const char *err = NULL;
    assert_int_equal(dec("{\"type\":\"ping\",\"type\":\"pong\"}", &m, &err), 0);
    assert_int_equal(m.type, TMSG_PONG); /* the last one wins */
    tmsg_free(&m);
    expect_bad("{\"type\":\"pong\",\"type\":\"nope\"}", "unknown type");
    /* in a headers object: one member, the last value, at the first one's place */
    assert_int_equal(dec("{\"type\":\"http_response\",\"request_id\":\"r\",\"status_code\":200,"
                         "\"headers\":{\"A\":\"1\",\"B\":\"2\",\"A\":[\"3\",\"4\"]}}",
                         &m, &err),
                     0);
    assert_int_equal(m.headers.n, 3);
    assert_string_equal(m.headers.v[0].name, "A");
    assert_string_equal(m.headers.v[0].value, "3");
    assert_string_equal(m.headers.v[1].name, "A");
    assert_string_equal(m.headers.v[1].value, "4");
    assert_string_equal(m.headers.v[2].name, "B");
    tmsg_free(&m);
    /* a later wrong-typed duplicate is what is read */
    expect_bad("{\"type\":\"http_response_body\",\"request_id\":\"r\",\"seq\":1,\"seq\":\"2\"}",
               "bad seq");
}

/* The encoder's bytes, as the jansson codec wrote them (JSON_COMPACT | JSON_PRESERVE_ORDER). */
static void test_encoding_bytes(void **state)
{
    (void)state;
    uint8_t body[5];
    for (int i = 0; i < 5; i++)
        body[i] = (uint8_t)(i * 7);
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_REQUEST);
    m.request_id = "abc";
    m.method = "GET";
    m.uri = "/a/b?c=d&e=\xff";
    m.timestamp = 1700000000000ull;
    m.body = body;
    m.body_len = 5;
    m.more = true;
    http_headers_add(&m.headers, "Host", 4, "x.example", 9);
    http_headers_add(&m.headers, "X-A", 3, "1\t\"q\"\\ /", 8);
    http_headers_add(&m.headers, "x-a", 3, "caf\xc3\xa9", 5);
    http_headers_add(&m.headers, "X-Bin", 5, "\xff\xfe", 2);
    expect_encoded(&m,
                   "{\"type\":\"http_request\",\"request_id\":\"abc\",\"method\":\"GET\","
                   "\"uri\":{\"b64\":\"L2EvYj9jPWQmZT3/\"},\"headers\":{\"Host\":[\"x.example\"],"
                   "\"X-A\":[\"1\\t\\\"q\\\"\\\\ "
                   "/\"],\"x-a\":[\"caf\xc3\xa9\"],\"X-Bin\":[{\"b64\":\"//4=\"}]},"
                   "\"body\":\"AAcOFRw=\",\"timestamp\":1700000000000,\"more\":true}");
    http_headers_free(&m.headers);
    tmsg_init(&m, TMSG_HTTP_RESPONSE_BODY);
    m.request_id = "r-1/\xc3\xa9";
    m.seq = 3;
    expect_encoded(&m, "{\"type\":\"http_response_body\",\"request_id\":\"r-1/\xc3\xa9\",\"seq\":3,"
                       "\"body\":\"\",\"more\":false}");
    tmsg_init(&m, TMSG_ERROR);
    m.code = TERR_TIMEOUT;
    m.message = "took too long\n";
    expect_encoded(&m, "{\"type\":\"error\",\"request_id\":null,\"code\":\"timeout\","
                       "\"message\":\"took too long\\n\"}");
    tmsg_init(&m, TMSG_CONNECTION_ESTABLISHED);
    m.connection_id = "c=";
    m.tunnel_id = "t";
    m.public_url = "https://t.example.com/";
    m.max_lifetime_s = 7200;
    m.stream_window = 1 << 20;
    m.access_applied = true;
    tmsg_tunnel tt[2] = {
        {.name = "web", .tunnel_id = "t", .public_url = "https://t/", .access_applied = true},
        {.name = "api",
         .tunnel_id = "u",
         .public_url = "https://u/",
         .subdomain_url = "https://u.x/"}};
    m.tunnels = tt;
    m.ntunnels = 2;
    expect_encoded(
        &m, "{\"type\":\"connection_established\",\"connection_id\":\"c=\",\"tunnel_id\":\"t\","
            "\"public_url\":\"https://t.example.com/\",\"max_lifetime_s\":7200,\"tunnels\":"
            "[{\"name\":\"web\",\"tunnel_id\":\"t\",\"public_url\":\"https://t/\","
            "\"access_applied\":true},{\"name\":\"api\",\"tunnel_id\":\"u\",\"public_url\":"
            "\"https://u/\",\"subdomain_url\":\"https://u.x/\"}],\"access_applied\":true,"
            "\"stream_window\":1048576}");
    tmsg_init(&m, TMSG_READY);
    m.tunnel_id = "t";
    m.agent_key = "k\xe9y"; /* not UTF-8: read as Latin-1 */
    m.access = "{\"basic_auth\":[\"a:b\"],\"s\":\"/x\"}";
    m.stream_windows = true;
    expect_encoded(&m,
                   "{\"type\":\"ready\",\"tunnel_id\":\"t\",\"agent_key\":\"k\xc3\xa9y\","
                   "\"access\":{\"basic_auth\":[\"a:b\"],\"s\":\"/x\"},\"stream_windows\":true}");
}

/* A 93 KiB body piece, as the bulk path sends it, round trips byte for byte. */
static void test_bulk_piece(void **state)
{
    (void)state;
    size_t n = TTF_JSON_CHUNK;
    uint8_t *body = malloc(n);
    for (size_t i = 0; i < n; i++)
        body[i] = (uint8_t)(i * 2654435761u >> 13);
    tmsg m, d;
    tmsg_init(&m, TMSG_HTTP_RESPONSE_BODY);
    m.request_id = "0123456789abcdef";
    m.seq = 7;
    m.body = body;
    m.body_len = n;
    m.more = true;
    size_t len = 0;
    char *s = tmsg_encode(&m, &len);
    assert_non_null(s);
    assert_true(len <= TTF_JSON_MAX_MSG);
    assert_int_equal(strlen(s), len);
    const char *err = NULL;
    assert_int_equal(tmsg_decode(s, len, &d, &err), 0);
    assert_int_equal(d.body_len, n);
    assert_memory_equal(d.body, body, n);
    assert_int_equal(d.seq, 7);
    assert_true(d.more);
    tmsg_free(&d);
    free(s);
    free(body);
}

/* A string's bytes are looked at sixteen and eight at a time (lib/json_text): a byte that needs
 * a look is found at every offset of those blocks, in strings of every length around them. */
static void test_string_scan_offsets(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        bool ok;
    } probes[] = {
        {"\x01", false},    /* a control character */
        {"\x1f", false},    /* the last one */
        {"\x7f", true},     /* DEL is no control for JSON */
        {"\xe9", false},    /* Latin-1, ill-formed UTF-8 */
        {"\xc3\xa9", true}, /* é */
        {"\\\"", true},     /* an escaped quote */
        {"\\x", false},     /* a bad escape */
        {"\"", false},      /* the string ends early: the rest is no JSON */
    };
    char v[64];
    for (size_t len = 1; len <= 40; len++) {
        for (size_t pos = 0; pos < len; pos++) {
            for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
                size_t pl = strlen(probes[k].bytes), n = 0;
                v[n++] = '"';
                memset(v + n, 'a', pos);
                n += pos;
                memcpy(v + n, probes[k].bytes, pl);
                n += pl;
                memset(v + n, 'b', len - pos - 1);
                n += len - pos - 1;
                v[n++] = '"';
                check_value(v, n, probes[k].ok);
            }
        }
    }
}

/* s decoded by d (reused) and by tmsg_decode alone: the same result, the same reason, and the
 * same message (compared by its encoding). */
static void same_with(tmsg_decoder *d, const char *s, size_t n)
{
    tmsg a, b;
    const char *ea = NULL, *eb = NULL;
    int ra = tmsg_decode_with(d, s, n, &a, &ea);
    int rb = tmsg_decode(s, n, &b, &eb);
    if (ra != rb || (ra != 0 && strcmp(ea, eb) != 0))
        fail_msg("reused: %d (%s), alone: %d (%s): %.60s", ra, ra ? ea : "", rb, rb ? eb : "", s);
    if (ra == 0) {
        size_t la = 0, lb = 0;
        char *ta = tmsg_encode(&a, &la), *tb = tmsg_encode(&b, &lb);
        assert_non_null(ta);
        assert_non_null(tb);
        assert_int_equal(la, lb);
        assert_memory_equal(ta, tb, la);
        free(ta);
        free(tb);
    }
    tmsg_free(&a);
    tmsg_free(&b);
}

#define SAME(d, lit) same_with(d, lit, sizeof(lit) - 1)

/* One decoder reused across texts (lib/json_text's parser, json-c's tokener reset between
 * them) decodes each as a fresh one does: after refusals at every stage (lexical, mid-parse,
 * trailing bytes, depth), after a text deeper than its first parse, and after a string long
 * enough that its buffer is let go. */
static void test_reused_decoder(void **state)
{
    (void)state;
    tmsg_decoder *d = tmsg_decoder_new();
    assert_non_null(d);
    static const char head[] =
        "{\"type\":\"http_response\",\"request_id\":\"r1\",\"status_code\":200,"
        "\"headers\":{\"A\":[\"1\",{\"b64\":\"6Q==\"}],\"B\":\"2\"},\"header_order\":[0,1,0],"
        "\"body\":\"aGVsbG8=\",\"processing_time_ms\":3}";
    SAME(d, head);
    SAME(d, "{\"type\":\"http_response\",\"request_id\":\"r1\",\"headers\":{\"A\":[\"1\",");
    SAME(d, head);
    SAME(d, "{\"type\":\"ping\"} x");
    SAME(d, "{\"type\":\"ping\",\"x\":\"a\\u0000\"}");
    SAME(d, "[{\"type\":\"ping\"}]");
    SAME(d, "{\"type\":\"ready\",\"access\":{\"rate_limit\":{\"requests\":1,\"per_sec\":2}}}");
    size_t levels[] = {40, JSON_TEXT_MAX_DEPTH - 1, JSON_TEXT_MAX_DEPTH, 15, 16, 17};
    for (size_t k = 0; k < sizeof levels / sizeof levels[0]; k++) {
        char *v = malloc(2 * levels[k]);
        memset(v, '[', levels[k]);
        memset(v + levels[k], ']', levels[k]);
        size_t n;
        char *s = ping_with(v, 2 * levels[k], &n);
        same_with(d, s, n);
        SAME(d, head);
        free(s);
        free(v);
    }
    /* a body piece of 93 KiB: a string of 124 KiB in json-c's buffer */
    size_t bn = TTF_JSON_CHUNK;
    uint8_t *body = malloc(bn);
    for (size_t i = 0; i < bn; i++)
        body[i] = (uint8_t)(i * 2654435761u >> 13);
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_RESPONSE_BODY);
    m.request_id = "r1";
    m.seq = 1;
    m.body = body;
    m.body_len = bn;
    size_t len = 0;
    char *s = tmsg_encode(&m, &len);
    assert_non_null(s);
    same_with(d, s, len);
    SAME(d, head);
    s[len - 2] = '!'; /* "more":fals! */
    same_with(d, s, len);
    SAME(d, head);
    free(s);
    free(body);
    tmsg_decoder_free(d);
    tmsg_decoder_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nul),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_controls_and_escapes),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_refused_answer_names_its_request),
        cmocka_unit_test(test_token_limit),
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_encoding_bytes),
        cmocka_unit_test(test_bulk_piece),
        cmocka_unit_test(test_reused_decoder),
        cmocka_unit_test(test_string_scan_offsets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
