/* SPDX-License-Identifier: MIT */
/* test_route.c - subdomain and path routing, forwarded targets, fallbacks and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "route.h"

/* Runs route_resolve with an exactly sized fwd buffer (ASan catches any overflow). */
static route_mode run(const char *host, const char *target, const char *domain, route_result *r,
                      char **fwd_out)
{
    size_t tl = target ? strlen(target) : 0;
    char *fwd = malloc(tl + 2);
    assert_non_null(fwd);
    size_t fl = 12345;
    route_mode m = route_resolve(host, host ? strlen(host) : 0, target, tl, domain, r, fwd, &fl);
    assert_int_equal(fl, strlen(fwd));
    assert_int_equal(m, r->mode);
    *fwd_out = fwd;
    return m;
}

static void expect(const char *host, const char *target, const char *domain, route_mode mode,
                   const char *id, const char *fwd)
{
    route_result r;
    char *f = NULL;
    route_mode m = run(host, target, domain, &r, &f);
    if (m != mode)
        fail_msg("host=%s target=%s: mode %d, want %d", host ? host : "(null)", target, m, mode);
    if (mode == ROUTE_NONE) {
        assert_string_equal(r.tunnel_id, "");
    } else {
        assert_string_equal(r.tunnel_id, id);
        assert_string_equal(f, fwd);
    }
    free(f);
}

static void test_subdomain(void **state)
{
    (void)state;
    expect("abc123def456.localhost:8080", "/x?y=1", "localhost", ROUTE_SUBDOMAIN, "abc123def456",
           "/x?y=1");
    expect("abc123def456.localhost", "/", "localhost", ROUTE_SUBDOMAIN, "abc123def456", "/");
    /* case-insensitive host, id comes out lowercase */
    expect("ABC123DEF456.LocalHost", "/A", "localhost", ROUTE_SUBDOMAIN, "abc123def456", "/A");
    expect("abc123def456.tunnel.example.com", "/p", "Tunnel.Example.COM", ROUTE_SUBDOMAIN,
           "abc123def456", "/p");
    /* trailing dot on host or domain */
    expect("abc123def456.localhost.", "/", "localhost", ROUTE_SUBDOMAIN, "abc123def456", "/");
    expect("abc123def456.localhost.:80", "/", "localhost", ROUTE_SUBDOMAIN, "abc123def456", "/");
    expect("abc123def456.localhost", "/", "localhost.", ROUTE_SUBDOMAIN, "abc123def456", "/");
    /* the whole target is forwarded, even one that looks like a path route */
    expect("abc123def456.localhost", "/zzz999zzz999/x?q=%20", "localhost", ROUTE_SUBDOMAIN,
           "abc123def456", "/zzz999zzz999/x?q=%20");
    /* an empty target becomes "/" */
    expect("abc123def456.localhost", "", "localhost", ROUTE_SUBDOMAIN, "abc123def456", "/");
}

static void test_not_subdomain(void **state)
{
    (void)state;
    /* label not an id: falls back to path mode (upstream answered 500) */
    expect("www.localhost", "/abc123def456/x", "localhost", ROUTE_PATH, "abc123def456", "/x");
    expect("www.localhost", "/", "localhost", ROUTE_NONE, NULL, NULL);
    expect("API.localhost", "/", "localhost", ROUTE_NONE, NULL, NULL);
    expect("xn--pypal-4ve.localhost", "/", "localhost", ROUTE_NONE, NULL, NULL);
    /* multi-level, no dot boundary, wrong domain, not a label */
    expect("foo.abc123def456.localhost", "/", "localhost", ROUTE_NONE, NULL, NULL);
    expect("abc123def456.localhostx", "/", "localhost", ROUTE_NONE, NULL, NULL);
    expect("abc123def456localhost", "/", "localhost", ROUTE_NONE, NULL, NULL);
    expect("abc123def456.evil.com", "/", "localhost", ROUTE_NONE, NULL, NULL);
    expect("abc123def456.xlocalhost", "/", "localhost", ROUTE_NONE, NULL, NULL);
    expect("-abc.localhost", "/", "localhost", ROUTE_NONE, NULL, NULL);
    expect("abc-.localhost", "/", "localhost", ROUTE_NONE, NULL, NULL);
    expect("a_b.localhost", "/", "localhost", ROUTE_NONE, NULL, NULL);
    expect("a%62.localhost", "/", "localhost", ROUTE_NONE, NULL, NULL);
    expect("a b.localhost", "/", "localhost", ROUTE_NONE, NULL, NULL);
    /* 64 characters: one more than a DNS label holds */
    expect("a123456789012345678901234567890123456789012345678901234567890123.localhost", "/",
           "localhost", ROUTE_NONE, NULL, NULL);
    expect("localhost", "/", "localhost", ROUTE_NONE, NULL, NULL);
    expect(".localhost", "/", "localhost", ROUTE_NONE, NULL, NULL);
    expect("[::1]:8080", "/", "localhost", ROUTE_NONE, NULL, NULL);
    expect("", "/", "localhost", ROUTE_NONE, NULL, NULL);
    expect(NULL, "/", "localhost", ROUTE_NONE, NULL, NULL);
}

/* Chosen names (ttf --subdomain): any one unreserved label, lower-cased. */
static void test_names(void **state)
{
    (void)state;
    expect("myapp.localhost:8080", "/x", "localhost", ROUTE_SUBDOMAIN, "myapp", "/x");
    expect("My-App.Example.com", "/", "example.com", ROUTE_SUBDOMAIN, "my-app", "/");
    expect("a.localhost", "/", "localhost", ROUTE_SUBDOMAIN, "a", "/");
    expect("0.localhost", "/", "localhost", ROUTE_SUBDOMAIN, "0", "/");
    expect("a12345678901234567890123456789012345678901234567890123456789012.localhost", "/",
           "localhost", ROUTE_SUBDOMAIN,
           "a12345678901234567890123456789012345678901234567890123456789012", "/");
    expect("localhost", "/myapp", "localhost", ROUTE_PATH, "myapp", "/");
    expect("localhost", "/my-app/a/b?c", "localhost", ROUTE_PATH, "my-app", "/a/b?c");
    expect("localhost", "/x?q", "localhost", ROUTE_PATH, "x", "/?q");
    /* reserved or not a lower-case label in a path: no tunnel */
    expect("localhost", "/www/x", "localhost", ROUTE_NONE, NULL, NULL);
    expect("localhost", "/MyApp/x", "localhost", ROUTE_NONE, NULL, NULL);
    expect("localhost", "/_tunnel", "localhost", ROUTE_NONE, NULL, NULL);
    expect("localhost", "/favicon.ico", "localhost", ROUTE_NONE, NULL, NULL);
    expect("localhost", "/-x/", "localhost", ROUTE_NONE, NULL, NULL);
}

static void test_path(void **state)
{
    (void)state;
    expect("localhost:8080", "/abc123def456", "localhost", ROUTE_PATH, "abc123def456", "/");
    expect("localhost:8080", "/abc123def456/", "localhost", ROUTE_PATH, "abc123def456", "/");
    expect("localhost", "/abc123def456/api/users", "localhost", ROUTE_PATH, "abc123def456",
           "/api/users");
    expect("localhost", "/abc123def456?a=1&b=%20&c", "localhost", ROUTE_PATH, "abc123def456",
           "/?a=1&b=%20&c");
    expect("localhost", "/abc123def456/?a", "localhost", ROUTE_PATH, "abc123def456", "/?a");
    expect("localhost", "/abc123def456//x", "localhost", ROUTE_PATH, "abc123def456", "//x");
    expect("localhost", "/abc123def456/x/?y=/z?w", "localhost", ROUTE_PATH, "abc123def456",
           "/x/?y=/z?w");
    expect("127.0.0.1:9", "/abc123def456/x", "localhost", ROUTE_PATH, "abc123def456", "/x");
    expect("[::1]:8080", "/abc123def456/x", "localhost", ROUTE_PATH, "abc123def456", "/x");
    expect(NULL, "/abc123def456/x", "localhost", ROUTE_PATH, "abc123def456", "/x");
    expect("", "/abc123def456", "localhost", ROUTE_PATH, "abc123def456", "/");
    expect("other.example", "/abc123def456", NULL, ROUTE_PATH, "abc123def456", "/");
}

static void test_path_refused(void **state)
{
    (void)state;
    static const char *bad[] = {
        "/ABC123DEF456/x",
        "//abc123def456",
        "/abc123def456#x",
        "abc123def456",
        "",
        "/",
        "*",
        "/abc123def456.x",
        "/abc123def456%2f",
        "/abc123-ef456-/",
        "/a123456789012345678901234567890123456789012345678901234567890123",
        "http://localhost/abc123def456/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect("localhost", bad[i], "localhost", ROUTE_NONE, NULL, NULL);
}

/* Host and target are byte ranges, not C strings. */
static void test_lengths(void **state)
{
    (void)state;
    const char *host = "abc123def456.localhostGARBAGE";
    const char *target = "/abc123def456/xyzGARBAGE";
    route_result r;
    char fwd[64];
    size_t fl;
    assert_int_equal(route_resolve(host, 22, target, 17, "localhost", &r, fwd, &fl),
                     ROUTE_SUBDOMAIN);
    assert_string_equal(fwd, "/abc123def456/xyz");
    assert_int_equal(fl, 17);
    assert_int_equal(route_resolve(host, 23, target, 17, "localhost", &r, fwd, &fl), ROUTE_PATH);
    assert_string_equal(r.tunnel_id, "abc123def456");
    assert_string_equal(fwd, "/xyz");
    assert_int_equal(route_resolve("localhost", 9, target, 13, "localhost", &r, fwd, NULL),
                     ROUTE_PATH);
    assert_string_equal(fwd, "/");
    /* NUL inside the host range */
    assert_int_equal(
        route_resolve("abc123def456.local\0ost", 22, "/", 1, "localhost", &r, fwd, &fl),
        ROUTE_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subdomain), cmocka_unit_test(test_not_subdomain),
        cmocka_unit_test(test_path),      cmocka_unit_test(test_path_refused),
        cmocka_unit_test(test_lengths),   cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
