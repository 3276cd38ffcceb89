/* test_server_fwd.c - the header rewrite ttfd applies before a request enters a tunnel:
 * hop-by-hop removal (framing and upgrade kept when asked), X-Forwarded-*, repeats and order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* The unit-test glob links tunnelcore only, so the module under test is compiled in here. */
#include "../../server/fwd.c"

static void add(http_headers *h, const char *n, const char *v)
{
    assert_int_equal(http_headers_add(h, n, strlen(n), v, strlen(v)), 0);
}

static size_t count(const http_headers *h, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++)
        n += strcasecmp(h->v[i].name, name) == 0;
    return n;
}

static void test_plain_request(void **state)
{
    (void)state;
    http_headers h;
    http_headers_init(&h);
    add(&h, "Host", "abc123def456.localhost:8080");
    add(&h, "Accept", "*/*");
    add(&h, "Connection", "keep-alive, X-Secret");
    add(&h, "X-Secret", "drop me");
    add(&h, "Keep-Alive", "timeout=5");
    add(&h, "Transfer-Encoding", "chunked");
    add(&h, "Cookie", "a=1");
    add(&h, "Cookie", "b=2");
    add(&h, "Expect", "100-continue");
    assert_int_equal(fwd_headers(&h, true, false, "10.0.0.7", "http", NULL), 0);
    assert_null(http_headers_get(&h, "Connection"));
    assert_null(http_headers_get(&h, "X-Secret"));
    assert_null(http_headers_get(&h, "Keep-Alive"));
    assert_null(http_headers_get(&h, "Expect"));
    assert_string_equal(http_headers_get(&h, "Transfer-Encoding"), "chunked");
    assert_int_equal(count(&h, "Cookie"), 2);
    assert_string_equal(http_headers_get(&h, "Host"), "abc123def456.localhost:8080");
    assert_string_equal(http_headers_get(&h, "X-Forwarded-For"), "10.0.0.7");
    assert_string_equal(http_headers_get(&h, "X-Forwarded-Proto"), "http");
    assert_string_equal(http_headers_get(&h, "X-Forwarded-Host"), "abc123def456.localhost:8080");
    assert_null(http_headers_get(&h, "X-Forwarded-Prefix"));
    /* order kept: Host first, the two cookies in order */
    assert_string_equal(h.v[0].name, "Host");
    size_t first = 0, second = 0;
    for (size_t i = 0; i < h.n; i++) {
        if (strcmp(h.v[i].name, "Cookie") == 0) {
            if (!first)
                first = i;
            else
                second = i;
        }
    }
    assert_string_equal(h.v[first].value, "a=1");
    assert_string_equal(h.v[second].value, "b=2");
    http_headers_free(&h);
}

static void test_json_mode_and_path_prefix(void **state)
{
    (void)state;
    http_headers h;
    http_headers_init(&h);
    add(&h, "Host", "localhost:8080");
    add(&h, "Transfer-Encoding", "chunked");
    add(&h, "X-Forwarded-For", "1.1.1.1");
    add(&h, "X-Forwarded-For", "2.2.2.2, 3.3.3.3");
    assert_int_equal(fwd_headers(&h, false, false, "::1", "https", "/abc123def456"), 0);
    assert_null(http_headers_get(&h, "Transfer-Encoding"));
    assert_int_equal(count(&h, "X-Forwarded-For"), 1);
    assert_string_equal(http_headers_get(&h, "X-Forwarded-For"), "1.1.1.1, 2.2.2.2, 3.3.3.3, ::1");
    assert_string_equal(http_headers_get(&h, "X-Forwarded-Proto"), "https");
    assert_string_equal(http_headers_get(&h, "X-Forwarded-Prefix"), "/abc123def456");
    http_headers_free(&h);
}

static void test_upgrade_keeps_connection(void **state)
{
    (void)state;
    http_headers h;
    http_headers_init(&h);
    add(&h, "Host", "abc123def456.localhost");
    add(&h, "Connection", "Upgrade");
    add(&h, "Upgrade", "websocket");
    add(&h, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    assert_int_equal(fwd_headers(&h, true, true, "127.0.0.1", "http", NULL), 0);
    assert_string_equal(http_headers_get(&h, "Connection"), "Upgrade");
    assert_string_equal(http_headers_get(&h, "Upgrade"), "websocket");
    assert_non_null(http_headers_get(&h, "Sec-WebSocket-Key"));
    http_headers_free(&h);
}

static void test_no_host(void **state)
{
    (void)state;
    http_headers h;
    http_headers_init(&h);
    assert_int_equal(fwd_headers(&h, true, false, "127.0.0.1", "http", "/abc123def456"), 0);
    assert_null(http_headers_get(&h, "X-Forwarded-Host"));
    assert_string_equal(http_headers_get(&h, "X-Forwarded-For"), "127.0.0.1");
    http_headers_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_request),
        cmocka_unit_test(test_json_mode_and_path_prefix),
        cmocka_unit_test(test_upgrade_keeps_connection),
        cmocka_unit_test(test_no_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
