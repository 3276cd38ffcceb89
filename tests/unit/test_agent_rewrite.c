/* SPDX-License-Identifier: MIT */
/* test_agent_rewrite.c - the agent's head rewriting (Host, hop-by-hop, JSON framing) and the
 * JSON first-piece size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "proto_json.h"
#include "proxy.h"
#include "rewrite.h"

static void add(http_headers *h, const char *n, const char *v)
{
    assert_int_equal(http_headers_add(h, n, strlen(n), v, strlen(v)), 0);
}

static void test_request_host(void **state)
{
    (void)state;
    http_headers h;
    http_headers_init(&h);
    add(&h, "Host", "abc123def456.localhost:8080");
    add(&h, "X-Forwarded-For", "127.0.0.1");
    add(&h, "Cookie", "a=1");
    size_t len = 0;
    char *head = rewrite_request_head("PROPFIND", "/a?b=1&b=2", &h, "127.0.0.1:3000", false, &len);
    assert_non_null(head);
    assert_int_equal(strlen(head), len);
    assert_memory_equal(head, "PROPFIND /a?b=1&b=2 HTTP/1.1\r\n", 30);
    assert_non_null(strstr(head, "Host: 127.0.0.1:3000\r\n"));
    assert_null(strstr(head, "abc123def456"));
    assert_non_null(strstr(head, "X-Forwarded-For: 127.0.0.1\r\n"));
    assert_string_equal(head + len - 4, "\r\n\r\n");
    free(head);
    http_headers_free(&h);

    /* --host-header keeps the public one. */
    http_headers_init(&h);
    add(&h, "Host", "abc123def456.localhost:8080");
    head = rewrite_request_head("GET", "/", &h, "127.0.0.1:3000", true, &len);
    assert_non_null(strstr(head, "Host: abc123def456.localhost:8080\r\n"));
    assert_null(strstr(head, "127.0.0.1:3000"));
    free(head);
    http_headers_free(&h);
}

static void test_response_bin(void **state)
{
    (void)state;
    http_headers h;
    http_headers_init(&h);
    add(&h, "Content-Type", "text/plain");
    add(&h, "Transfer-Encoding", "chunked");
    add(&h, "Connection", "keep-alive, X-Private");
    add(&h, "Keep-Alive", "timeout=5");
    add(&h, "X-Private", "1");
    add(&h, "Set-Cookie", "a=1");
    add(&h, "Set-Cookie", "b=2");
    size_t len = 0;
    char *head = rewrite_response_head_bin(200, &h, &len);
    assert_non_null(head);
    assert_memory_equal(head, "HTTP/1.1 200 OK\r\n", 17);
    assert_non_null(strstr(head, "Transfer-Encoding: chunked\r\n"));
    assert_null(strstr(head, "Connection"));
    assert_null(strstr(head, "Keep-Alive"));
    assert_null(strstr(head, "X-Private"));
    assert_non_null(strstr(head, "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n"));
    free(head);
    http_headers_free(&h);

    /* 101 keeps Connection and Upgrade. */
    http_headers_init(&h);
    add(&h, "Connection", "Upgrade");
    add(&h, "Upgrade", "websocket");
    add(&h, "Sec-WebSocket-Accept", "x");
    head = rewrite_response_head_bin(101, &h, &len);
    assert_memory_equal(head, "HTTP/1.1 101 Switching Protocols\r\n", 34);
    assert_non_null(strstr(head, "Connection: Upgrade\r\n"));
    assert_non_null(strstr(head, "Upgrade: websocket\r\n"));
    free(head);
    http_headers_free(&h);
}

static void test_json_request_framing(void **state)
{
    (void)state;
    http_headers h;
    bool chunked = true;
    size_t len = 0;

    /* Whole body, no length given: Content-Length from the body. */
    http_headers_init(&h);
    add(&h, "host", "x.localhost");
    add(&h, "transfer-encoding", "chunked");
    add(&h, "connection", "close");
    char *head = rewrite_json_request_head("POST", "/todos", &h, "127.0.0.1:3000", false, 5, false,
                                           &chunked, &len);
    assert_false(chunked);
    assert_non_null(strstr(head, "Content-Length: 5\r\n"));
    assert_null(strstr(head, "chunked"));
    assert_null(strstr(head, "close"));
    assert_non_null(strstr(head, "Host: 127.0.0.1:3000\r\n"));
    free(head);
    http_headers_free(&h);

    /* More pieces follow without a length: chunked towards the local service. */
    http_headers_init(&h);
    head = rewrite_json_request_head("PUT", "/u", &h, "h:1", false, 16384, true, &chunked, &len);
    assert_true(chunked);
    assert_non_null(strstr(head, "Transfer-Encoding: chunked\r\n"));
    assert_null(strstr(head, "Content-Length"));
    free(head);
    http_headers_free(&h);

    /* A given Content-Length is kept. */
    http_headers_init(&h);
    add(&h, "content-length", "1048576");
    head = rewrite_json_request_head("POST", "/u", &h, "h:1", false, 16384, true, &chunked, &len);
    assert_false(chunked);
    assert_non_null(strstr(head, "content-length: 1048576\r\n"));
    free(head);
    http_headers_free(&h);

    /* GET without a body gets no length. */
    http_headers_init(&h);
    head = rewrite_json_request_head("GET", "/", &h, "h:1", false, 0, false, &chunked, &len);
    assert_null(strstr(head, "Content-Length"));
    free(head);
    http_headers_free(&h);
}

static void test_json_response_headers(void **state)
{
    (void)state;
    http_headers h;
    http_headers_init(&h);
    add(&h, "Transfer-Encoding", "chunked");
    add(&h, "Content-Length", "10");
    add(&h, "Connection", "keep-alive");
    add(&h, "Set-Cookie", "a=1");
    add(&h, "Set-Cookie", "b=2");
    assert_int_equal(rewrite_json_response_headers(200, &h), 0);
    /* the body was chunked: its Content-Length meant nothing (RFC 9112 §6.3) and goes too */
    assert_int_equal(h.n, 2);
    assert_null(http_headers_get(&h, "Transfer-Encoding"));
    assert_null(http_headers_get(&h, "Content-Length"));
    http_headers_free(&h);

    http_headers_init(&h);
    add(&h, "Content-Length", "10");
    add(&h, "Keep-Alive", "timeout=5");
    assert_int_equal(rewrite_json_response_headers(200, &h), 0);
    assert_int_equal(h.n, 1);
    assert_string_equal(http_headers_get(&h, "Content-Length"), "10");
    http_headers_free(&h);
}

static void test_first_piece_cap(void **state)
{
    (void)state;
    assert_int_equal(proxy_json_first_piece(200), TTF_JSON_CHUNK);
    assert_int_equal(proxy_json_first_piece(TTF_JSON_MAX_MSG), 0);
    size_t base = 20000;
    size_t cap = proxy_json_first_piece(base);
    assert_true(cap > 0 && cap < TTF_JSON_CHUNK);
    assert_true(base + (cap + 2) / 3 * 4 <= TTF_JSON_MAX_MSG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_host),         cmocka_unit_test(test_response_bin),
        cmocka_unit_test(test_json_request_framing), cmocka_unit_test(test_json_response_headers),
        cmocka_unit_test(test_first_piece_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
