/* SPDX-License-Identifier: MIT */
/* test_url.c - endpoint URLs: schemes, default ports, IPv6 literals, paths, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

static void ok(const char *s, bool tls, const char *host, int port, const char *path)
{
    tunnel_url u;
    if (tunnel_url_parse(s, &u) != 0)
        fail_msg("refused: %s", s);
    assert_int_equal(u.tls, tls);
    assert_string_equal(u.host, host);
    assert_int_equal(u.port, port);
    assert_string_equal(u.path, path);
}

static void test_good(void **state)
{
    (void)state;
    ok("ws://127.0.0.1:8080/_tunnel", false, "127.0.0.1", 8080, "/_tunnel");
    ok("wss://tunnel.example.com/_tunnel", true, "tunnel.example.com", 443, "/_tunnel");
    ok("ws://localhost", false, "localhost", 80, "/");
    ok("http://localhost/", false, "localhost", 80, "/");
    ok("https://x.execute-api.us-east-1.amazonaws.com/dev", true,
       "x.execute-api.us-east-1.amazonaws.com", 443, "/dev");
    ok("WSS://Host:1/", true, "Host", 1, "/");
    ok("ws://[::1]:9000/_tunnel?token=abc", false, "::1", 9000, "/_tunnel?token=abc");
    ok("wss://[2001:db8::1]/x", true, "2001:db8::1", 443, "/x");
    ok("ws://[::ffff:127.0.0.1]", false, "::ffff:127.0.0.1", 80, "/");
    ok("ws://h?x=1", false, "h", 80, "/?x=1");
    ok("ws://h:65535/a/b#frag", false, "h", 65535, "/a/b");
    ok("ws://h:/p", false, "h", 80, "/p"); /* empty port: the default */
    ok("ws://h#f", false, "h", 80, "/");
}

static void test_bad(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "localhost:8080",
        "ftp://h/",
        "wss:/h",
        "ws//h",
        "ws://",
        "ws:///path",
        "ws://:8080/",
        "ws://h:0/",
        "ws://h:65536/",
        "ws://h:-1/",
        "ws://h:80x/",
        "ws://h:123456/",
        "ws://user@h/",
        "ws://[::1/",
        "ws://[::1]x/",
        "ws://[]/",
        "ws://[::g]/",
        "ws://h h/",
        "ws://h/a b",
        "ws://h/a\r\nX: y",
        "wsx://h/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tunnel_url u;
        if (tunnel_url_parse(bad[i], &u) != -1)
            fail_msg("accepted: %s", bad[i]);
    }
    tunnel_url u;
    assert_int_equal(tunnel_url_parse(NULL, &u), -1);
}

static void test_lengths(void **state)
{
    (void)state;
    char s[2100];
    tunnel_url u;
    /* host of 255 fits, 256 does not */
    snprintf(s, sizeof s, "ws://%0255d/", 0);
    assert_int_equal(tunnel_url_parse(s, &u), 0);
    assert_int_equal(strlen(u.host), 255);
    snprintf(s, sizeof s, "ws://%0256d/", 0);
    assert_int_equal(tunnel_url_parse(s, &u), -1);
    /* path of 1023 fits, 1024 does not */
    char path[1100];
    memset(path, 'p', sizeof path);
    path[0] = '/';
    path[1023] = '\0';
    snprintf(s, sizeof s, "ws://h%s", path);
    assert_int_equal(tunnel_url_parse(s, &u), 0);
    assert_int_equal(strlen(u.path), 1023);
    path[1023] = 'p';
    path[1024] = '\0';
    snprintf(s, sizeof s, "ws://h%s", path);
    assert_int_equal(tunnel_url_parse(s, &u), -1);
    /* a query-only tail gets its "/" added inside the limit */
    path[0] = '?';
    path[1023] = '\0';
    snprintf(s, sizeof s, "ws://h%s", path);
    assert_int_equal(tunnel_url_parse(s, &u), -1);
    path[1022] = '\0';
    snprintf(s, sizeof s, "ws://h%s", path);
    assert_int_equal(tunnel_url_parse(s, &u), 0);
    assert_int_equal(strlen(u.path), 1023);
}

/* ALPHA, DIGIT and keep pass; every other byte (NUL, '%', high bytes) is %XX in upper case. */
static void test_pct_encode(void **state)
{
    (void)state;
    char *e = url_pct_encode("Ab9-._~/x y%\xc3\xa9", 14, "-._~");
    assert_string_equal(e, "Ab9-._~%2Fx%20y%25%C3%A9");
    free(e);
    e = url_pct_encode("", 0, "");
    assert_string_equal(e, "");
    free(e);
    char out[16];
    assert_int_equal(url_pct_encode_into(out, "a/\0b", 4, "/"), 6);
    assert_string_equal(out, "a/%00b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_pct_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
