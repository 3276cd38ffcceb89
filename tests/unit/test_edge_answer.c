/* SPDX-License-Identifier: MIT */
/* The edges' own answers (lib/edge_answer.h): one line of printable ASCII each, as ttfd writes
 * them, and the agent's reasons made public texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edge_answer.h"
#include "proto_bin.h"

static void texts_are_short_lines(void **state)
{
    (void)state;
    for (int i = 0; i < EDGE_ANSWER_COUNT; i++) {
        const edge_answer *a = edge_answer_of((edge_answer_id)i);
        assert_true(a->status >= 400 && a->status <= 599);
        size_t n = strlen(a->text);
        assert_true(n > 0 && n < 200); /* tests/e2e/test_errors.py: a one-line body */
        for (size_t k = 0; k < n; k++)
            assert_true(a->text[k] >= 0x20 && a->text[k] < 0x7f);
    }
    assert_int_equal(edge_answer_of(EDGE_AGENT_BUSY)->status, 503);
    assert_string_equal(edge_answer_of(EDGE_AGENT_BUSY)->text, "tunnel agent busy: try again");
}

static void http_bytes(void **state)
{
    (void)state;
    static const struct {
        edge_answer_id id;
        const char *bytes;
    } cases[] = {
        /* no-store: a 404 is heuristically cacheable (RFC 9111 §4.2.2), and it says only that
         * the agent is not there now */
        {EDGE_TUNNEL_NOT_FOUND, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; "
                                "charset=utf-8\r\nContent-Length: 17\r\nCache-Control: "
                                "no-store\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nConnection: "
                                "close\r\n\r\ntunnel not found\n"},
        {EDGE_AGENT_BUSY, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; "
                          "charset=utf-8\r\nContent-Length: 29\r\nRetry-After: 1\r\nCache-"
                          "Control: no-store\r\nDate: Sun, 06 Nov 1994 08:49:37 "
                          "GMT\r\nConnection: close\r\n\r\ntunnel agent busy: try again\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const edge_answer *a = edge_answer_of(cases[i].id);
        size_t len = 0;
        /* ttfd's own answers carry its Date (RFC 9110 §6.6.1: an origin with a clock) */
        char *out = edge_answer_http(a->status, a->text, "Sun, 06 Nov 1994 08:49:37 GMT", &len);
        assert_non_null(out);
        assert_int_equal(len, strlen(cases[i].bytes));
        assert_memory_equal(out, cases[i].bytes, len);
        free(out);
    }
    assert_null(edge_answer_retry_after(502));
    assert_string_equal(edge_answer_retry_after(503), "1");
}

static void reason_texts(void **state)
{
    (void)state;
    static const struct {
        const char *reason; /* NULL: none given */
        size_t cap;
        const char *want;
    } cases[] = {
        {"connect refused", 200, "connect refused"},
        {"bad\r\nX-Injected: 1", 200, "badX-Injected: 1"}, /* controls dropped: one line */
        {"caf\xc3\xa9  ", 200, "caf"},                     /* printable ASCII, no trailing SP */
        {"\x01\x02 ", 200, "dflt"},                        /* nothing left: the default */
        {NULL, 200, "dflt"},
        {"abcdef", 4, "abc"}, /* cut to cap - 1 */
        {NULL, 3, "df"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[200];
        const char *r = cases[i].reason;
        edge_reason_text(out, cases[i].cap, (const uint8_t *)r, r ? strlen(r) : 0, "dflt");
        assert_string_equal(out, cases[i].want);
    }
    char out[200];
    edge_agent_error_text(out, sizeof out, TERR_LOCAL_UNAVAILABLE, NULL);
    assert_string_equal(out, "the local service is unavailable");
    edge_agent_error_text(out, sizeof out, TERR_LOCAL_UNAVAILABLE, "\x7f");
    assert_string_equal(out, "the local service is unavailable");
    edge_agent_error_text(out, sizeof out, TERR_TIMEOUT, "local service timed out");
    assert_string_equal(out, "local service timed out");
}

/* A failure the agent gave no words for: one text per kind, whichever mode carried it (a JSON
 * error code, a binary RESET code) and on the Lambda path (edge_agent_error_text there too).
 * Before, JSON mode and the Lambda said "tunnel error: timeout" where binary mode said "the
 * local service did not answer in time". */
static void wordless_faults_alike(void **state)
{
    (void)state;
    static const struct {
        tmsg_error_code json;
        uint8_t bin;
        const char *want;
    } t[] = {
        {TERR_INVALID_REQUEST, TTF_RST_INVALID_REQUEST, "the local service rejected the request"},
        {TERR_TIMEOUT, TTF_RST_TIMEOUT, "the local service did not answer in time"},
        {TERR_LOCAL_UNAVAILABLE, TTF_RST_LOCAL_UNAVAILABLE, "the local service is unavailable"},
        {TERR_INTERNAL, TTF_RST_INTERNAL, "the tunnel agent failed"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char out[200];
        edge_agent_error_text(out, sizeof out, t[i].json, "");
        assert_string_equal(out, t[i].want);
        assert_string_equal(edge_fault_text(t[i].bin), t[i].want);
        assert_int_equal(tmsg_error_status(t[i].json), ttf_reset_status(t[i].bin));
    }
    assert_string_equal(edge_fault_text(TTF_RST_CANCEL), "the tunnel agent failed");
    assert_string_equal(edge_fault_text(TTF_RST_PROTOCOL_ERROR),
                        "the tunnel agent reported a protocol error");
    assert_string_equal(edge_fault_text(TTF_RST_TIMEOUT),
                        edge_answer_of(EDGE_NO_ANSWER_IN_TIME)->text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(texts_are_short_lines),
        cmocka_unit_test(http_bytes),
        cmocka_unit_test(reason_texts),
        cmocka_unit_test(wordless_faults_alike),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
