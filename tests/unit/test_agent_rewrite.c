/* SPDX-License-Identifier: MIT */
/* test_agent_rewrite.c - the agent's Host rules (--host-header preserve, rewrite, NAME) and the
 * rewriting of Location, Content-Location and Refresh that point at the local address
 * (issue 11 item 9). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rewrite.h"

static void add(http_headers *h, const char *n, const char *v)
{
    assert_int_equal(http_headers_add(h, n, strlen(n), v, strlen(v)), 0);
}

static void public_request(http_headers *h)
{
    http_headers_init(h);
    add(h, "Host", "abc123def456.localhost:8080");
    add(h, "X-Forwarded-For", "127.0.0.1");
    add(h, "X-Forwarded-Proto", "https");
    add(h, "X-Forwarded-Host", "abc123def456.localhost:8080");
}

static void test_host_modes(void **state)
{
    (void)state;
    rewrite_host rh;
    http_headers h;
    char *base = (char *)"unset";

    /* default: the public Host reaches the local service unchanged */
    rewrite_host_init(&rh, HOST_HEADER_PRESERVE, NULL, "127.0.0.1", 3000);
    public_request(&h);
    assert_int_equal(rewrite_request_host(&rh, &h, &base), 0);
    assert_null(base);
    assert_string_equal(http_headers_get(&h, "Host"), "abc123def456.localhost:8080");
    assert_int_equal(http_headers_count_id(&h, HTTP_H_HOST), 1);
    http_headers_free(&h);

    /* rewrite: the local host:port, and the public base remembered */
    rewrite_host_init(&rh, HOST_HEADER_REWRITE, NULL, "127.0.0.1", 3000);
    public_request(&h);
    assert_int_equal(rewrite_request_host(&rh, &h, &base), 0);
    assert_string_equal(http_headers_get(&h, "Host"), "127.0.0.1:3000");
    assert_int_equal(http_headers_count_id(&h, HTTP_H_HOST), 1);
    assert_string_equal(base, "https://abc123def456.localhost:8080");
    free(base);
    http_headers_free(&h);

    /* path routing: the prefix is part of the public base; IPv6 local address in brackets */
    rewrite_host_init(&rh, HOST_HEADER_REWRITE, NULL, "::1", 8000);
    assert_string_equal(rh.hostport, "[::1]:8000");
    http_headers_init(&h);
    add(&h, "Host", "tunnel.example:8080");
    add(&h, "X-Forwarded-Prefix", "/abc123def456");
    assert_int_equal(rewrite_request_host(&rh, &h, &base), 0);
    assert_string_equal(http_headers_get(&h, "Host"), "[::1]:8000");
    assert_string_equal(base, "http://tunnel.example:8080/abc123def456");
    free(base);
    http_headers_free(&h);

    /* no usable public host: no base */
    http_headers_init(&h);
    add(&h, "Host", "");
    assert_int_equal(rewrite_request_host(&rh, &h, &base), 0);
    assert_null(base);
    http_headers_free(&h);
    http_headers_init(&h);
    add(&h, "Host", "a b");
    assert_int_equal(rewrite_request_host(&rh, &h, &base), 0);
    assert_null(base);
    http_headers_free(&h);

    /* a name */
    rewrite_host_init(&rh, HOST_HEADER_NAME, "app.test:8443", "127.0.0.1", 3000);
    public_request(&h);
    assert_int_equal(rewrite_request_host(&rh, &h, NULL), 0);
    assert_string_equal(http_headers_get(&h, "Host"), "app.test:8443");
    assert_int_equal(http_headers_count_id(&h, HTTP_H_HOST), 1);
    http_headers_free(&h);
}

static void expect_url(const rewrite_host *rh, const char *in, const char *want)
{
    char *got = rewrite_local_url(rh, "https://pub.example/p", in, strlen(in));
    if (!want) {
        if (got)
            fail_msg("%s rewritten to %s", in, got);
        return;
    }
    if (!got)
        fail_msg("%s not rewritten (want %s)", in, want);
    assert_string_equal(got, want);
    free(got);
}

static void test_local_url(void **state)
{
    (void)state;
    rewrite_host rh;
    rewrite_host_init(&rh, HOST_HEADER_REWRITE, NULL, "127.0.0.1", 3000);
    expect_url(&rh, "http://127.0.0.1:3000/docs/", "https://pub.example/p/docs/");
    expect_url(&rh, "http://127.0.0.1:3000", "https://pub.example/p/");
    expect_url(&rh, "http://127.0.0.1:3000?x=1#f", "https://pub.example/p/?x=1#f");
    expect_url(&rh, "HTTP://LOCALHOST:3000/a", "https://pub.example/p/a"); /* any loopback */
    expect_url(&rh, "http://[::1]:3000/a", "https://pub.example/p/a");
    expect_url(&rh, "http://127.0.0.2:3000/a", "https://pub.example/p/a");
    expect_url(&rh, "//127.0.0.1:3000/a", "https://pub.example/p/a");
    expect_url(&rh, "https://127.0.0.1:3000/a", "https://pub.example/p/a");
    /* not the local address */
    expect_url(&rh, "http://127.0.0.1:3001/a", NULL);
    expect_url(&rh, "http://127.0.0.1/a", NULL); /* port 80 */
    expect_url(&rh, "http://example.com:3000/a", NULL);
    expect_url(&rh, "http://user@127.0.0.1:3000/a", NULL);
    expect_url(&rh, "http://127.0.0.1.evil.example:3000/a", NULL);
    expect_url(&rh, "/a", NULL);
    expect_url(&rh, "a/b", NULL);
    expect_url(&rh, "ftp://127.0.0.1:3000/a", NULL);
    expect_url(&rh, "http://127.0.0.1:3000x/a", NULL);
    expect_url(&rh, "http://127.0.0.1:99999999/a", NULL);
    expect_url(&rh, "http://[::1/a", NULL);

    /* a named local service: that name only (and its port) */
    rewrite_host_init(&rh, HOST_HEADER_REWRITE, NULL, "app.internal", 80);
    expect_url(&rh, "http://app.internal/x", "https://pub.example/p/x");
    expect_url(&rh, "http://APP.internal:80/x", "https://pub.example/p/x");
    expect_url(&rh, "http://localhost/x", NULL);
    expect_url(&rh, "https://app.internal/x", NULL); /* https's port is 443 */
    /* no base: nothing */
    assert_null(rewrite_local_url(&rh, NULL, "http://app.internal/x", 21));
}

static void test_response_location(void **state)
{
    (void)state;
    rewrite_host rh;
    rewrite_host_init(&rh, HOST_HEADER_REWRITE, NULL, "localhost", 3000);
    http_headers h;
    http_headers_init(&h);
    add(&h, "Content-Type", "text/html");
    add(&h, "Location", "http://localhost:3000/docs/");
    add(&h, "Content-Location", "http://127.0.0.1:3000/docs/index.html");
    add(&h, "Refresh", "5; url=http://localhost:3000/next");
    add(&h, "Link", "<http://localhost:3000/a.css>; rel=preload"); /* not ours to change */
    add(&h, "X-Other", "http://localhost:3000/");
    assert_int_equal(rewrite_response_location(&rh, "https://t.example", &h), 0);
    assert_int_equal(h.n, 6);
    /* order kept */
    assert_string_equal(h.v[0].name, "Content-Type");
    assert_string_equal(h.v[1].name, "Location");
    assert_string_equal(h.v[1].value, "https://t.example/docs/");
    assert_string_equal(h.v[2].value, "https://t.example/docs/index.html");
    assert_string_equal(h.v[3].value, "5; url=https://t.example/next");
    assert_string_equal(h.v[4].value, "<http://localhost:3000/a.css>; rel=preload");
    assert_string_equal(h.v[5].value, "http://localhost:3000/");
    http_headers_free(&h);

    /* quoted Refresh URL, and one pointing elsewhere */
    http_headers_init(&h);
    add(&h, "Refresh", "0;URL='http://localhost:3000/q?a=1'");
    add(&h, "Location", "https://elsewhere.example/");
    add(&h, "Refresh", "3");
    assert_int_equal(rewrite_response_location(&rh, "http://t", &h), 0);
    assert_string_equal(h.v[0].value, "0;URL='http://t/q?a=1'");
    assert_string_equal(h.v[1].value, "https://elsewhere.example/");
    assert_string_equal(h.v[2].value, "3");
    http_headers_free(&h);

    /* other modes, or no public base: unchanged */
    rewrite_host_init(&rh, HOST_HEADER_PRESERVE, NULL, "localhost", 3000);
    http_headers_init(&h);
    add(&h, "Location", "http://localhost:3000/docs/");
    assert_int_equal(rewrite_response_location(&rh, "http://t", &h), 0);
    assert_string_equal(h.v[0].value, "http://localhost:3000/docs/");
    rewrite_host_init(&rh, HOST_HEADER_REWRITE, NULL, "localhost", 3000);
    assert_int_equal(rewrite_response_location(&rh, NULL, &h), 0);
    assert_string_equal(h.v[0].value, "http://localhost:3000/docs/");
    http_headers_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_modes),
        cmocka_unit_test(test_local_url),
        cmocka_unit_test(test_response_location),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
