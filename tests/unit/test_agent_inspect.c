/* SPDX-License-Identifier: MIT */
/* test_agent_inspect.c - the inspector's and terminal view's pure parts: their flags and
 * TUNNEL_INSPECT, --inspect addresses, the Host check against DNS rebinding, replay edits and
 * methods, the JSON octet form, percentiles, the QR text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "inspect.h"
#include "inspect_api.h"
#include "qr.h"
#include "replay.h"
#include "termview.h"

static const char *env_inspect;

static const char *fake_env(const char *name)
{
    return strcmp(name, "TUNNEL_INSPECT") == 0 ? env_inspect : NULL;
}

static config_result parse(agent_config *cfg, char *err, int argc, ...)
{
    char *argv[16];
    va_list ap;
    va_start(ap, argc);
    argv[0] = "ttf";
    for (int i = 1; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    argv[argc] = NULL;
    FILE *devnull = fopen("/dev/null", "w");
    config_result r = agent_config_parse(argc, argv, fake_env, cfg, devnull, err, 256);
    fclose(devnull);
    return r;
}

static void test_flags(void **state)
{
    (void)state;
    agent_config c;
    char err[256];
    env_inspect = NULL;
    assert_int_equal(parse(&c, err, 1), CONFIG_OK);
    assert_string_equal(c.inspect_addr, "127.0.0.1:4040");
    assert_false(c.inspect_explicit);
    assert_int_equal(c.inspect_budget, 4u << 20);
    assert_int_equal(c.inspect_body_max, 1u << 20);
    assert_int_equal(c.log_format, LOGFMT_AUTO);
    assert_false(c.qr);
    agent_config_free(&c);

    assert_int_equal(parse(&c, err, 10, "--inspect", "[::1]:5000", "--inspect-budget", "8M",
                           "--inspect-body-max", "64k", "--log-format", "plain", "--qr"),
                     CONFIG_OK);
    assert_string_equal(c.inspect_addr, "[::1]:5000");
    assert_true(c.inspect_explicit);
    assert_int_equal(c.inspect_budget, 8u << 20);
    assert_int_equal(c.inspect_body_max, 64u << 10);
    assert_int_equal(c.log_format, LOGFMT_PLAIN);
    assert_true(c.qr);
    agent_config_free(&c);

    assert_int_equal(parse(&c, err, 2, "--no-inspect"), CONFIG_OK);
    assert_null(c.inspect_addr);
    agent_config_free(&c);

    /* The environment, and flags over it. */
    env_inspect = "off";
    assert_int_equal(parse(&c, err, 1), CONFIG_OK);
    assert_null(c.inspect_addr);
    agent_config_free(&c);
    env_inspect = "127.0.0.1:0";
    assert_int_equal(parse(&c, err, 1), CONFIG_OK);
    assert_string_equal(c.inspect_addr, "127.0.0.1:0");
    assert_true(c.inspect_explicit);
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 2, "--no-inspect"), CONFIG_OK);
    assert_null(c.inspect_addr);
    agent_config_free(&c);
    env_inspect = NULL;

    assert_int_equal(parse(&c, err, 3, "--inspect-budget", "1k"), CONFIG_ERROR); /* < 64k */
    assert_non_null(strstr(err, "--inspect-budget"));
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "--inspect-budget", "12Q"), CONFIG_ERROR);
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "--log-format", "fancy"), CONFIG_ERROR);
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "--inspect", ""), CONFIG_ERROR);
    agent_config_free(&c);
}

static void test_sizes(void **state)
{
    (void)state;
    size_t v = 0;
    assert_int_equal(agent_config_parse_size("1048576", 0, SIZE_MAX, &v), 0);
    assert_int_equal(v, 1048576);
    assert_int_equal(agent_config_parse_size("2G", 0, (size_t)1 << 40, &v), 0);
    assert_int_equal(v, (size_t)2 << 30);
    assert_int_equal(agent_config_parse_size("3MiB", 0, SIZE_MAX, &v), 0);
    assert_int_equal(v, 3u << 20);
    assert_int_equal(agent_config_parse_size("-1", 0, SIZE_MAX, &v), -1);
    assert_int_equal(agent_config_parse_size("", 0, SIZE_MAX, &v), -1);
    assert_int_equal(agent_config_parse_size("5Mx", 0, SIZE_MAX, &v), -1);
    assert_int_equal(agent_config_parse_size("2048G", 0, (size_t)1 << 40, &v), -1);
}

static void test_addresses(void **state)
{
    (void)state;
    char host[64];
    int port = -1;
    assert_int_equal(inspector_parse_addr("127.0.0.1:4040", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 4040);
    assert_int_equal(inspector_parse_addr("[::1]:0", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_int_equal(inspector_parse_addr("4041", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 4041);
    assert_int_equal(inspector_parse_addr("localhost:80", host, sizeof host, &port), 0);
    assert_string_equal(host, "localhost");
    assert_int_equal(inspector_parse_addr("::1:4040", host, sizeof host, &port), -1);
    assert_int_equal(inspector_parse_addr("127.0.0.1:", host, sizeof host, &port), -1);
    assert_int_equal(inspector_parse_addr("127.0.0.1:70000", host, sizeof host, &port), -1);
    assert_int_equal(inspector_parse_addr(":4040", host, sizeof host, &port), -1);
}

static void test_host_check(void **state)
{
    (void)state;
    /* Our address and other IP literals / localhost with our port: yes. */
    assert_true(inspector_host_allowed("127.0.0.1:4040", "127.0.0.1", 4040));
    assert_true(inspector_host_allowed("localhost:4040", "127.0.0.1", 4040));
    assert_true(inspector_host_allowed("LOCALHOST:4040", "127.0.0.1", 4040));
    assert_true(inspector_host_allowed("[::1]:4040", "::1", 4040));
    assert_true(inspector_host_allowed("192.168.1.9:4040", "0.0.0.0", 4040));
    assert_true(inspector_host_allowed("devbox:4040", "devbox", 4040)); /* the name bound */
    /* Names that could be rebound, wrong ports, junk: no. */
    assert_false(inspector_host_allowed("evil.example:4040", "127.0.0.1", 4040));
    assert_false(inspector_host_allowed("localhost.evil.example:4040", "127.0.0.1", 4040));
    assert_false(inspector_host_allowed("127.0.0.1:4041", "127.0.0.1", 4040));
    assert_false(inspector_host_allowed("127.0.0.1", "127.0.0.1", 4040));
    assert_true(inspector_host_allowed("127.0.0.1", "127.0.0.1", 80));
    assert_false(inspector_host_allowed("127.0.0.1:", "127.0.0.1", 4040));
    assert_false(inspector_host_allowed("[::1]x", "::1", 4040));
    assert_false(inspector_host_allowed("", "127.0.0.1", 4040));
    assert_false(inspector_host_allowed(NULL, "127.0.0.1", 4040));
}

static void test_replay_edits(void **state)
{
    (void)state;
    char err[256] = "";
    replay_edits e;
    assert_int_equal(inspect_parse_replay("  ", 2, &e, err, sizeof err), 0);
    assert_null(e.method);
    assert_false(e.has_body || e.has_headers);
    replay_edits_free(&e);
    const char *doc =
        "{\"method\":\"PUT\",\"target\":\"/x\",\"headers\":[[\"A\",\"1\"],[\"B\",\"\"]],"
        "\"body_b64\":\"AAE=\"}";
    assert_int_equal(inspect_parse_replay(doc, strlen(doc), &e, err, sizeof err), 0);
    assert_string_equal(e.method, "PUT");
    assert_string_equal(e.target, "/x");
    assert_int_equal(e.headers.n, 2);
    assert_string_equal(e.headers.v[1].name, "B");
    assert_true(e.has_body);
    assert_int_equal(e.body_len, 2);
    assert_memory_equal(e.body, "\x00\x01", 2);
    replay_edits_free(&e);
    static const char *const bad[] = {"[1]",
                                      "{\"method\":1}",
                                      "{\"headers\":[[\"a\"]]}",
                                      "{\"body\":\"a\",\"body_b64\":\"YQ==\"}",
                                      "{\"body_b64\":\"!!\"}",
                                      "{\"target\":\"/a\\u0000b\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(inspect_parse_replay(bad[i], strlen(bad[i]), &e, err, sizeof err), -1);
        assert_true(err[0] != '\0');
    }
    assert_true(replay_method_cmd("PATCH") >= 0);
    assert_int_equal(replay_method_cmd("PROPFIND"), -1);
    assert_int_equal(replay_method_cmd("get"), -1); /* methods are case-sensitive */
}

static void test_octets(void **state)
{
    (void)state;
    json_t *s = inspect_json_octets("caf\xc3\xa9", 5);
    assert_true(json_is_string(s));
    json_decref(s);
    json_t *o = inspect_json_octets("\xff\x00", 2);
    assert_true(json_is_object(o));
    assert_string_equal(json_string_value(json_object_get(o, "b64")), "/wA=");
    json_decref(o);
}

static void test_percentile(void **state)
{
    (void)state;
    uint64_t v[10] = {10, 1, 9, 2, 8, 3, 7, 4, 6, 5};
    assert_int_equal(termview_percentile(v, 10, 50), 5);
    assert_int_equal(termview_percentile(v, 10, 90), 9);
    assert_int_equal(termview_percentile(v, 10, 100), 10);
    uint64_t one[1] = {42};
    assert_int_equal(termview_percentile(one, 1, 90), 42);
    assert_int_equal(termview_percentile(NULL, 0, 50), 0);
}

static void test_qr_text(void **state)
{
    (void)state;
    int w = 0, h = 0;
    char *plain = qr_render("http://abcdefghijkl.localhost:8080", false, &w, &h);
    assert_non_null(plain);
    /* Version 3 (29 modules) + the quiet zone on both sides; two module rows per line. */
    assert_int_equal(w, 29 + 2 * QR_QUIET);
    assert_int_equal(h, (w + 1) / 2);
    int lines = 1;
    for (char *p = plain; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, h);
    /* The first line is quiet zone only; the second opens the top-left finder pattern: a full
     * block (two dark rows) then upper halves (its top edge over its light ring). */
    for (int i = 0; i < w; i++)
        assert_int_equal(plain[i], ' ');
    assert_int_equal(plain[w], '\n');
    assert_memory_equal(plain + w + 1, "  \xe2\x96\x88\xe2\x96\x80", 2 + 3 + 3);
    assert_null(strchr(plain, '\x1b'));
    char *colored = qr_render("http://abcdefghijkl.localhost:8080", true, NULL, NULL);
    assert_non_null(strstr(colored, "\x1b[30;107m"));
    free(plain);
    free(colored);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags),        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_addresses),    cmocka_unit_test(test_host_check),
        cmocka_unit_test(test_replay_edits), cmocka_unit_test(test_octets),
        cmocka_unit_test(test_percentile),   cmocka_unit_test(test_qr_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
