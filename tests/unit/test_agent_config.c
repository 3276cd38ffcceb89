/* SPDX-License-Identifier: MIT */
/* test_agent_config.c - ttf's flags, aliases, environment and refusals; the upgrade request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ws_client.h"

/* A fake environment for the parser. */
static const char *env_endpoint, *env_token, *env_basic;

static const char *fake_env(const char *name)
{
    if (strcmp(name, "TUNNEL_ENDPOINT") == 0)
        return env_endpoint;
    if (strcmp(name, "TUNNEL_TOKEN") == 0)
        return env_token;
    if (strcmp(name, "TUNNEL_BASIC_AUTH") == 0)
        return env_basic;
    return NULL;
}

static config_result parse(agent_config *cfg, char *err, int argc, ...)
{
    char *argv[32];
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

static void test_defaults(void **state)
{
    (void)state;
    env_endpoint = env_token = NULL;
    agent_config c;
    char err[256];
    assert_int_equal(parse(&c, err, 1), CONFIG_OK);
    assert_string_equal(c.endpoint, "ws://127.0.0.1:8080/_tunnel");
    assert_string_equal(c.url.host, "127.0.0.1");
    assert_int_equal(c.url.port, 8080);
    assert_string_equal(c.url.path, "/_tunnel");
    assert_false(c.url.tls);
    assert_string_equal(c.local_host, "127.0.0.1");
    assert_int_equal(c.local_port, 3000);
    assert_null(c.token);
    assert_false(c.verbose);
    assert_int_equal(c.connect_timeout, 10);
    assert_int_equal(c.request_timeout, 115); /* under ttfd's 120 (long polls) */
    assert_null(c.ca_file);
    assert_false(c.insecure);
    assert_int_equal(c.host_header, HOST_HEADER_PRESERVE);
    assert_null(c.host_header_name);
    assert_int_equal(c.max_response_head, 65536);
    assert_int_equal(c.protocol, PROTO_AUTO);
    agent_config_free(&c);
}

static void test_flags(void **state)
{
    (void)state;
    env_endpoint = env_token = NULL;
    agent_config c;
    char err[256];
    assert_int_equal(parse(&c, err, 21, "-e", "wss://t.example.com/dev", "-p", "5000", "--host",
                           "localhost", "-t", "tok", "-v", "--connect-timeout", "3",
                           "--request-timeout=7", "--ca-file", "/tmp/ca.pem", "--insecure",
                           "--host-header", "rewrite", "--protocol=json",
                           "--max-response-header-size", "131072"),
                     CONFIG_OK);
    assert_string_equal(c.endpoint, "wss://t.example.com/dev");
    assert_true(c.url.tls);
    assert_int_equal(c.url.port, 443);
    assert_int_equal(c.local_port, 5000);
    assert_string_equal(c.local_host, "localhost");
    assert_string_equal(c.token, "tok");
    assert_true(c.verbose);
    assert_int_equal(c.connect_timeout, 3);
    assert_int_equal(c.request_timeout, 7);
    assert_string_equal(c.ca_file, "/tmp/ca.pem");
    assert_true(c.insecure);
    assert_int_equal(c.host_header, HOST_HEADER_REWRITE);
    assert_int_equal(c.max_response_head, 131072);
    assert_int_equal(c.protocol, PROTO_JSON);
    agent_config_free(&c);

    /* Long forms and the --local-port alias. */
    assert_int_equal(parse(&c, err, 7, "--endpoint", "ws://[::1]:9/_tunnel", "--local-port", "8081",
                           "--token=abc", "--protocol=binary"),
                     CONFIG_OK);
    assert_string_equal(c.url.host, "::1");
    assert_int_equal(c.local_port, 8081);
    assert_string_equal(c.token, "abc");
    assert_int_equal(c.protocol, PROTO_BINARY);
    agent_config_free(&c);
    /* ngrok's --authtoken (before: "unknown option: --authtoken") */
    assert_int_equal(parse(&c, err, 3, "--authtoken", "ngrok.style"), CONFIG_OK);
    assert_string_equal(c.token, "ngrok.style");
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "--port", "1"), CONFIG_OK);
    assert_int_equal(c.local_port, 1);
    agent_config_free(&c);
}

static void test_env(void **state)
{
    (void)state;
    agent_config c;
    char err[256];
    env_endpoint = "ws://10.0.0.1:9999/x";
    env_token = "envtoken";
    assert_int_equal(parse(&c, err, 1), CONFIG_OK);
    assert_string_equal(c.endpoint, "ws://10.0.0.1:9999/x");
    assert_int_equal(c.url.port, 9999);
    assert_string_equal(c.token, "envtoken");
    agent_config_free(&c);
    /* Flags win over the environment. */
    assert_int_equal(parse(&c, err, 5, "-e", "ws://127.0.0.1:1/_tunnel", "-t", "flag"), CONFIG_OK);
    assert_string_equal(c.endpoint, "ws://127.0.0.1:1/_tunnel");
    assert_string_equal(c.token, "flag");
    agent_config_free(&c);
    /* Empty values count as unset. */
    env_endpoint = "";
    env_token = "";
    assert_int_equal(parse(&c, err, 1), CONFIG_OK);
    assert_string_equal(c.endpoint, "ws://127.0.0.1:8080/_tunnel");
    assert_null(c.token);
    agent_config_free(&c);
    env_endpoint = env_token = NULL;
}

static void test_errors(void **state)
{
    (void)state;
    env_endpoint = env_token = NULL;
    agent_config c;
    char err[256];
    assert_int_equal(parse(&c, err, 3, "-p", "0"), CONFIG_ERROR);
    assert_non_null(strstr(err, "port"));
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "-p", "65536"), CONFIG_ERROR);
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "-p", "12x"), CONFIG_ERROR);
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "--connect-timeout", "0"), CONFIG_ERROR);
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "--protocol", "smoke"), CONFIG_ERROR);
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "-e", "ftp://x/"), CONFIG_ERROR);
    assert_non_null(strstr(err, "endpoint"));
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 2, "--bogus"), CONFIG_ERROR);
    assert_non_null(strstr(err, "--bogus"));
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 2, "-p"), CONFIG_ERROR);
    assert_non_null(strstr(err, "needs a value"));
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 2, "stray"), CONFIG_ERROR);
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 2, "--help"), CONFIG_EXIT);
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 2, "--version"), CONFIG_EXIT);
    agent_config_free(&c);
}

/* --host accepts names, IPv4 and IPv6 literals (brackets optional); --host-header preserve,
 * rewrite or a host[:port]; --max-response-header-size bytes. */
static void test_host_flags(void **state)
{
    (void)state;
    env_endpoint = env_token = NULL;
    agent_config c;
    char err[256];
    static const struct {
        const char *in, *stored;
    } hosts[] = {
        {"localhost", "localhost"}, {"127.0.0.1", "127.0.0.1"}, {"::1", "::1"},
        {"[::1]", "::1"},           {"fe80::1", "fe80::1"},     {"app.internal", "app.internal"},
        {"my_host-1", "my_host-1"},
    };
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        assert_int_equal(parse(&c, err, 3, "--host", hosts[i].in), CONFIG_OK);
        assert_string_equal(c.local_host, hosts[i].stored);
        agent_config_free(&c);
    }
    static const char *bad_hosts[] = {"", "a b", "[::1", "[localhost]", ":::1::", "h/x", "a@b"};
    for (size_t i = 0; i < sizeof bad_hosts / sizeof bad_hosts[0]; i++) {
        assert_int_equal(parse(&c, err, 3, "--host", bad_hosts[i]), CONFIG_ERROR);
        assert_non_null(strstr(err, "--host"));
        agent_config_free(&c);
    }
    assert_int_equal(parse(&c, err, 3, "--host-header", "preserve"), CONFIG_OK);
    assert_int_equal(c.host_header, HOST_HEADER_PRESERVE);
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 2, "--host-header=app.test:8443"), CONFIG_OK);
    assert_int_equal(c.host_header, HOST_HEADER_NAME);
    assert_string_equal(c.host_header_name, "app.test:8443");
    agent_config_free(&c);
    static const char *bad_hh[] = {"", "a b", "x@y", "h:port", "h:99999", "a/b"};
    for (size_t i = 0; i < sizeof bad_hh / sizeof bad_hh[0]; i++) {
        assert_int_equal(parse(&c, err, 3, "--host-header", bad_hh[i]), CONFIG_ERROR);
        assert_non_null(strstr(err, "--host-header"));
        agent_config_free(&c);
    }
    static const char *bad_max[] = {"0", "1023", "1048577", "17000000", "64k", "-1", ""};
    for (size_t i = 0; i < sizeof bad_max / sizeof bad_max[0]; i++) {
        assert_int_equal(parse(&c, err, 3, "--max-response-header-size", bad_max[i]), CONFIG_ERROR);
        assert_non_null(strstr(err, "--max-response-header-size"));
        agent_config_free(&c);
    }
    /* at most what ttfd takes from an agent (HTTP1_AGENT_MAX_HEAD) */
    assert_int_equal(parse(&c, err, 3, "--max-response-header-size", "1048576"), CONFIG_OK);
    assert_int_equal(c.max_response_head, 1048576);
    agent_config_free(&c);
}

static void test_hostport(void **state)
{
    (void)state;
    env_endpoint = env_token = NULL;
    agent_config c;
    char err[256], hp[300];
    assert_int_equal(parse(&c, err, 5, "--host", "::1", "-p", "8000"), CONFIG_OK);
    agent_config_local_hostport(&c, hp, sizeof hp);
    assert_string_equal(hp, "[::1]:8000");
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 1), CONFIG_OK);
    agent_config_local_hostport(&c, hp, sizeof hp);
    assert_string_equal(hp, "127.0.0.1:3000");
    agent_config_free(&c);
}

static void test_upgrade_request(void **state)
{
    (void)state;
    env_endpoint = env_token = NULL;
    agent_config c;
    char err[256];
    assert_int_equal(parse(&c, err, 5, "-e", "ws://127.0.0.1:8080/_tunnel?x=1", "-t", "secret"),
                     CONFIG_OK);
    char *req = ws_client_request(&c, "dGhlIHNhbXBsZSBub25jZQ==");
    assert_non_null(req);
    assert_non_null(strstr(req, "GET /_tunnel?x=1 HTTP/1.1\r\n"));
    assert_non_null(strstr(req, "\r\nHost: 127.0.0.1:8080\r\n"));
    assert_non_null(strstr(req, "\r\nUpgrade: websocket\r\n"));
    assert_non_null(strstr(req, "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
    assert_non_null(strstr(req, "\r\nSec-WebSocket-Version: 13\r\n"));
    assert_non_null(strstr(req, "\r\nSec-WebSocket-Protocol: ttf.bin.v2, ttf.json.v1\r\n"));
    assert_non_null(strstr(req, "\r\nAuthorization: Bearer secret\r\n"));
    assert_non_null(strstr(req, "\r\n\r\n"));
    free(req);
    agent_config_free(&c);

    /* Default port omitted, IPv6 bracketed, JSON only, no token. */
    assert_int_equal(parse(&c, err, 5, "-e", "wss://[::1]/dev", "--protocol", "json"), CONFIG_OK);
    req = ws_client_request(&c, "k");
    assert_non_null(strstr(req, "GET /dev HTTP/1.1\r\n"));
    assert_non_null(strstr(req, "\r\nHost: [::1]\r\n"));
    assert_non_null(strstr(req, "\r\nSec-WebSocket-Protocol: ttf.json.v1\r\n"));
    assert_null(strstr(req, "Authorization"));
    free(req);
    agent_config_free(&c);
}

/* The local service as the one argument: ttf 3000, ttf localhost:3000, ttf http://host:port. */
static void test_positional(void **state)
{
    (void)state;
    env_endpoint = env_token = NULL;
    agent_config c;
    char err[256];
    static const struct {
        const char *arg, *host;
        int port;
        bool tls;
    } ok[] = {
        {"3000", "127.0.0.1", 3000, false},
        {"localhost:8081", "localhost", 8081, false},
        {"http://localhost:3000", "localhost", 3000, false},
        {"HTTP://example.test", "example.test", 80, false},
        {"http://127.0.0.1:9/", "127.0.0.1", 9, false},
        {"[::1]:4000", "::1", 4000, false},
        {"http://[::1]:4001", "::1", 4001, false},
        /* an HTTPS service (ngrok http https://localhost:8443) */
        {"https://localhost:8443", "localhost", 8443, true},
        {"HTTPS://example.test/", "example.test", 443, true},
        {"https://[::1]:4002", "::1", 4002, true},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (parse(&c, err, 2, ok[i].arg) != CONFIG_OK)
            fail_msg("%s: %s", ok[i].arg, err);
        assert_string_equal(c.local_host, ok[i].host);
        assert_int_equal(c.local_port, ok[i].port);
        assert_int_equal(c.local_tls, ok[i].tls);
        assert_int_equal(c.tunnels[0].local_tls, ok[i].tls);
        agent_config_free(&c);
    }
    /* options may come after it (getopt permutes) */
    assert_int_equal(parse(&c, err, 4, "5000", "-e", "ws://h:1/_tunnel"), CONFIG_OK);
    assert_int_equal(c.local_port, 5000);
    agent_config_free(&c);
    static const char *const bad[] = {"0",       "65536",        "localhost",         "x:y",
                                      "::1:300", "https://h:0",  "ftp://h:1",         "h:1/app",
                                      ":3000",   "http://:3000", "http://h:3000/x/y", "[::1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(&c, err, 2, bad[i]) != CONFIG_ERROR)
            fail_msg("'%s' accepted", bad[i]);
        assert_true(err[0] != '\0');
        agent_config_free(&c);
    }
    assert_int_equal(parse(&c, err, 4, "-p", "3000", "4000"), CONFIG_ERROR);
    assert_non_null(strstr(err, "twice"));
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "3000", "4000"), CONFIG_ERROR);
    agent_config_free(&c);
    /* ngrok's verb: `ttf http 3000` as `ngrok http 3000`; its tcp and tls tunnels are refused
     * with the reason (before: "unexpected argument: 3000") */
    assert_int_equal(parse(&c, err, 3, "http", "3001"), CONFIG_OK);
    assert_int_equal(c.local_port, 3001);
    agent_config_free(&c);
    assert_int_equal(
        parse(&c, err, 5, "http", "https://localhost:8443", "--host-header", "rewrite"), CONFIG_OK);
    assert_true(c.local_tls);
    assert_int_equal(c.local_port, 8443);
    assert_int_equal(c.host_header, HOST_HEADER_REWRITE);
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "tcp", "22"), CONFIG_ERROR);
    assert_non_null(strstr(err, "HTTP only"));
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 2, "http"), CONFIG_ERROR); /* no service named */
    agent_config_free(&c);
}

static void test_endpoint_path_and_subdomain(void **state)
{
    (void)state;
    env_endpoint = env_token = NULL;
    agent_config c;
    char err[256];
    /* no path: ttfd's /_tunnel */
    assert_int_equal(parse(&c, err, 3, "-e", "ws://tunnel.example.com:8080"), CONFIG_OK);
    assert_string_equal(c.url.path, "/_tunnel");
    assert_true(c.path_added);
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "-e", "https://tunnel.example.com/"), CONFIG_OK);
    assert_string_equal(c.url.path, "/_tunnel");
    agent_config_free(&c);
    /* a path (an API Gateway stage) or a query stays as given */
    assert_int_equal(parse(&c, err, 3, "-e", "wss://id.execute-api.example/prod"), CONFIG_OK);
    assert_string_equal(c.url.path, "/prod");
    assert_false(c.path_added);
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "-e", "ws://h:1/?token=x"), CONFIG_OK);
    assert_false(c.path_added);
    agent_config_free(&c);

    assert_int_equal(parse(&c, err, 3, "--subdomain", "My-App"), CONFIG_OK);
    assert_string_equal(c.subdomain, "my-app");
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "-s", "x1"), CONFIG_OK);
    assert_string_equal(c.subdomain, "x1");
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "--subdomain", "www"), CONFIG_ERROR);
    assert_non_null(strstr(err, "reserved"));
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "--subdomain", "a.b"), CONFIG_ERROR);
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 2, "--forget"), CONFIG_OK);
    assert_true(c.forget);
    assert_null(c.subdomain);
    agent_config_free(&c);
}

/* The server's reason from a refusal body. */
static void test_refusal_reason(void **state)
{
    (void)state;
    char out[64];
    ws_client_reason("authentication failed: token expired\n", 37, out, sizeof out);
    assert_string_equal(out, "authentication failed: token expired");
    const char *gw = "{\"message\": \"Unauthorized\"}";
    ws_client_reason(gw, strlen(gw), out, sizeof out);
    assert_string_equal(out, "Unauthorized");
    ws_client_reason("a\r\n\x1b[31mb\t\t c  ", 15, out, sizeof out);
    assert_string_equal(out, "a [31mb c");
    ws_client_reason("", 0, out, sizeof out);
    assert_string_equal(out, "");
    char small[8];
    ws_client_reason("0123456789", 10, small, sizeof small);
    assert_string_equal(small, "0123456");
}

static void test_redact(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"ws://h/_tunnel", "ws://h/_tunnel"},
        {"ws://h/_tunnel?token=abc.def", "ws://h/_tunnel?token=***"},
        {"ws://h/x?a=1&token=t&b=2", "ws://h/x?a=1&token=***&b=2"},
        {"ws://h/x?mytoken=1&Token=", "ws://h/x?mytoken=1&Token=***"},
        {"ws://h/x?token=a&token=b#f", "ws://h/x?token=***&token=***#f"},
        {"ws://h/token=x", "ws://h/token=x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *r = agent_config_redact_url(cases[i][0]);
        assert_non_null(r);
        assert_string_equal(r, cases[i][1]);
        free(r);
    }
    env_endpoint = env_token = NULL;
    agent_config c;
    char err[256];
    assert_int_equal(parse(&c, err, 3, "-e", "ws://127.0.0.1:1/_tunnel?token=sekrit"), CONFIG_OK);
    assert_null(strstr(c.endpoint_log, "sekrit"));
    agent_config_free(&c);
}

/* --basic-auth (or TUNNEL_BASIC_AUTH), --allow-cidr, --deny-cidr, --rate-limit: checked at
 * once (exit 2), the password never echoed, and ready's access object built from them. */
static void test_access_flags(void **state)
{
    (void)state;
    env_endpoint = env_token = env_basic = NULL;
    agent_config c;
    char err[256];
    assert_int_equal(parse(&c, err, 1), CONFIG_OK);
    assert_null(c.access_json); /* nothing asked */
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 11, "--basic-auth", "bob:hunter2hunter2", "--allow-cidr",
                           "10.0.0.0/8", "--allow-cidr", "::1", "--deny-cidr", "10.9.0.0/16",
                           "--rate-limit", "30/m"),
                     CONFIG_OK);
    assert_string_equal(c.access_json,
                        "{\"basic_auth\":\"bob:hunter2hunter2\",\"allow_cidr\":[\"10.0.0.0/8\","
                        "\"::1/128\"],\"deny_cidr\":[\"10.9.0.0/16\"],\"rate_limit\":{\"requests\":"
                        "30,\"per_sec\":60}}");
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "--basic-auth", "bob:short"), CONFIG_ERROR);
    assert_non_null(strstr(err, "8 to 256 bytes"));
    assert_null(strstr(err, "short")); /* the password is not echoed */
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "--allow-cidr", "300.1.1.1/8"), CONFIG_ERROR);
    assert_non_null(strstr(err, "--allow-cidr '300.1.1.1/8'"));
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "--deny-cidr", "10.0.0.0/33"), CONFIG_ERROR);
    assert_non_null(strstr(err, "prefix length"));
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "--rate-limit", "10/d"), CONFIG_ERROR);
    assert_non_null(strstr(err, "--rate-limit"));
    agent_config_free(&c);
    env_basic = "env:from-the-environment";
    assert_int_equal(parse(&c, err, 1), CONFIG_OK);
    assert_non_null(strstr(c.access_json, "env:from-the-environment"));
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 3, "--basic-auth", "flag:wins-over-env"), CONFIG_OK);
    assert_non_null(strstr(c.access_json, "flag:wins-over-env"));
    agent_config_free(&c);
    env_basic = "bad";
    assert_int_equal(parse(&c, err, 1), CONFIG_ERROR);
    assert_non_null(strstr(err, "TUNNEL_BASIC_AUTH"));
    agent_config_free(&c);
    env_basic = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_hostport),
        cmocka_unit_test(test_host_flags),
        cmocka_unit_test(test_upgrade_request),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_positional),
        cmocka_unit_test(test_endpoint_path_and_subdomain),
        cmocka_unit_test(test_refusal_reason),
        cmocka_unit_test(test_access_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
