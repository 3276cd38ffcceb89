/* SPDX-License-Identifier: MIT */
/* test_agent_config_file.c - ttf --config FILE: the YAML parser (every key, both spellings
 * ngrok uses, every refusal with its FILE:LINE:COL and key path) and how the file combines with
 * the command line and the environment (flags > environment > file > defaults). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_file.h"

static int parse_text(const char *text, agent_file *f, char *err)
{
    return agent_file_parse(text, strlen(text), "t.yml", f, err, 512);
}

static void test_full_file(void **state)
{
    (void)state;
    static const char text[] = "version: \"2\"\n"
                               "endpoint: wss://tunnel.example.com/_tunnel\n"
                               "authtoken: tok123\n"
                               "connect_timeout: 7\n"
                               "request_timeout: 40\n"
                               "protocol: json\n"
                               "ca_file: /etc/ca.pem\n"
                               "web_addr: 127.0.0.1:4141\n"
                               "tunnels:\n"
                               "  web:\n"
                               "    proto: http\n"
                               "    addr: 3000\n"
                               "    subdomain: MyApp\n"
                               "    host_header: rewrite\n"
                               "    basic_auth: [\"alice:secret-pw1\"]\n"
                               "    allow_cidr: 10.0.0.0/8\n"
                               "    deny_cidr: [10.1.0.0/16, 10.2.0.0/16]\n"
                               "    rate_limit: 10/s\n"
                               "  api.v2:\n"
                               "    addr: https://[::1]:8080\n"
                               "    host_header: api.internal:8080\n"
                               "    auth: \"bob:password2\"\n"
                               "    ip_restriction:\n"
                               "      allow_cidrs: [192.168.0.0/16]\n"
                               "      deny_cidrs: [192.168.1.0/24]\n"
                               "  plain:\n"
                               "    addr: localhost:5000\n"
                               "    subdomain:\n";
    agent_file f;
    char err[512] = "";
    assert_int_equal(parse_text(text, &f, err), 0);
    assert_string_equal(f.endpoint, "wss://tunnel.example.com/_tunnel");
    assert_string_equal(f.token, "tok123");
    assert_int_equal(f.connect_timeout, 7);
    assert_int_equal(f.request_timeout, 40);
    assert_true(f.protocol_set);
    assert_int_equal(f.protocol, PROTO_JSON);
    assert_string_equal(f.ca_file, "/etc/ca.pem");
    assert_string_equal(f.inspect_addr, "127.0.0.1:4141");
    assert_false(f.inspect_off);
    assert_int_equal(f.ntunnels, 3);
    const agent_tunnel *w = &f.tunnels[0], *a = &f.tunnels[1], *p = &f.tunnels[2];
    assert_string_equal(w->name, "web");
    assert_string_equal(w->local_host, "127.0.0.1"); /* a bare port: the default host */
    assert_int_equal(w->local_port, 3000);
    assert_string_equal(w->subdomain, "myapp"); /* lower-cased like --subdomain */
    assert_int_equal(w->host_header, HOST_HEADER_REWRITE);
    assert_string_equal(w->basic_auth, "alice:secret-pw1");
    assert_int_equal(w->nallow, 1);
    assert_string_equal(w->allow_cidr[0], "10.0.0.0/8");
    assert_int_equal(w->ndeny, 2);
    assert_string_equal(w->deny_cidr[1], "10.2.0.0/16");
    assert_string_equal(w->rate_limit, "10/s");
    assert_non_null(w->access_json); /* ready's access object for this tunnel */
    assert_non_null(strstr(w->access_json, "\"allow_cidr\":[\"10.0.0.0/8\"]"));
    assert_non_null(strstr(w->access_json, "10.2.0.0/16"));
    assert_null(p->access_json); /* no access key: nothing asked */
    assert_string_equal(a->name, "api.v2");
    assert_string_equal(a->local_host, "::1");
    assert_int_equal(a->local_port, 8080);
    assert_true(a->local_tls); /* https:// */
    assert_false(w->local_tls);
    assert_false(p->local_tls);
    assert_int_equal(a->host_header, HOST_HEADER_NAME);
    assert_string_equal(a->host_header_name, "api.internal:8080");
    assert_string_equal(a->basic_auth, "bob:password2");
    assert_int_equal(a->nallow, 1);
    assert_string_equal(a->allow_cidr[0], "192.168.0.0/16");
    assert_int_equal(a->ndeny, 1);
    assert_null(a->subdomain);
    assert_string_equal(p->local_host, "localhost");
    assert_int_equal(p->local_port, 5000);
    assert_null(p->subdomain); /* "subdomain:" with nothing: as if absent */
    assert_int_equal(p->host_header, HOST_HEADER_PRESERVE);
    agent_file_free(&f);
}

static void test_web_addr_false_and_token_alias(void **state)
{
    (void)state;
    agent_file f;
    char err[512] = "";
    assert_int_equal(parse_text("token: t\nweb_addr: false\ntunnels: {a: {addr: 1}}\n", &f, err),
                     0);
    assert_true(f.inspect_off);
    assert_null(f.inspect_addr);
    assert_string_equal(f.token, "t");
    assert_int_equal(f.tunnels[0].local_port, 1);
    agent_file_free(&f);
}

/* Each refusal: the message starts with the file, line and column of the culprit and names the
 * key's path. */
typedef struct bad_case {
    const char *text;
    const char *want; /* a substring of the error */
} bad_case;

static void test_refusals(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"tunnels:\n  web:\n    addr: 3000\n    adr: 4000\n",
         "t.yml:4:5: tunnels.web.adr: unknown key"},
        {"endpointt: ws://x\ntunnels: {a: {addr: 1}}\n", "t.yml:1:1: endpointt: unknown key"},
        {"tunnels:\n  web:\n    addr: 3000\n  web:\n    addr: 4000\n",
         "t.yml:4:3: tunnels: 'web' is given twice"},
        {"tunnels:\n  web:\n    subdomain: x\n", "t.yml:3:5: tunnels.web: addr is missing"},
        {"tunnels:\n  web:\n    addr: 70000\n", "t.yml:3:11: tunnels.web.addr: invalid port"},
        {"tunnels:\n  web:\n    addr: ftp://x:1\n", "tunnels.web.addr: ftp://x:1: the local "
                                                    "service is http://HOST:PORT or https://"},
        {"tunnels:\n  web:\n    addr: [1, 2]\n", "t.yml:3:11: tunnels.web.addr: expected a port"},
        {"tunnels:\n  - web\n", "t.yml:2:3: tunnels: expected a mapping"},
        {"tunnels: {web: 3000}\n", "tunnels.web: expected the tunnel's settings"},
        {"tunnels:\n  web:\n    addr: 3000\n   bad indent: 1\n", "t.yml:4:"},
        {"tunnels: [unclosed\n", "not valid YAML"},
        {"", "t.yml:1:1: the file is empty"},
        {"endpoint: ws://x\n", "no tunnels: section"},
        {"tunnels:\n", "t.yml:1:9: tunnels: no tunnel"},
        {"tunnels:\n  \"we b\":\n    addr: 1\n", "t.yml:2:3: tunnels.we b: a tunnel name is 1 to"},
        {"tunnels:\n  a: {addr: 1, subdomain: same}\n  b: {addr: 2, subdomain: SAME}\n",
         "tunnels.b: subdomain 'same' is also tunnel 'a''s"},
        {"tunnels:\n  a: {addr: 1, proto: tcp}\n", "tunnels.a.proto: only http tunnels"},
        {"tunnels:\n  a: {addr: 1, subdomain: \"bad_name!\"}\n",
         "tunnels.a.subdomain: 'bad_name!' is not allowed"},
        {"tunnels:\n  a: {addr: 1, host_header: \"a b\"}\n",
         "tunnels.a.host_header: invalid value 'a b'"},
        {"connect_timeout: soon\ntunnels: {a: {addr: 1}}\n",
         "t.yml:1:18: connect_timeout: 'soon' is not a whole number"},
        {"protocol: grpc\ntunnels: {a: {addr: 1}}\n", "protocol: auto, binary or json"},
        {"tunnels:\n  a: {addr: 1, basic_auth: [\"u:p\", \"v:q\"]}\n",
         "tunnels.a.basic_auth: one user:password"},
        {"tunnels:\n  a: {addr: 1, allow_cidr: {x: 1}}\n",
         "tunnels.a.allow_cidr: expected a value or a list"},
        {"tunnels:\n  a: {addr: 1, ip_restriction: {allow: [1.2.3.4/32]}}\n",
         "tunnels.a.ip_restriction.allow: unknown key"},
        {"tunnels: {a: {addr: 1}}\n---\ntunnels: {b: {addr: 2}}\n",
         "only one YAML document is read"},
        {"- just\n- a list\n", "t.yml:1:1: expected a mapping"},
        {"endpoint: \"ws://x\\x01\"\ntunnels: {a: {addr: 1}}\n",
         "endpoint: control characters are not allowed"},
        {"tunnels:\n  a:\n    addr: 1\n    deny_cidr: [10.0.0.0/8, 300.1.1.1]\n",
         "t.yml:4:16: tunnels.a.deny_cidr: '300.1.1.1'"},
        {"tunnels:\n  a: {addr: 1, basic_auth: \"nocolon\"}\n",
         "t.yml:2:28: tunnels.a.basic_auth:"},
        {"tunnels:\n  a: {addr: 1, rate_limit: 5/day}\n", "tunnels.a.rate_limit: '5/day'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        agent_file f;
        char err[512] = "";
        int rc = parse_text(cases[i].text, &f, err);
        agent_file_free(&f);
        if (rc != -1 || !strstr(err, cases[i].want))
            fail_msg("case %zu: rc %d, error '%s', wanted '%s'", i, rc, err, cases[i].want);
        if (strncmp(err, "t.yml:", 6) != 0)
            fail_msg("case %zu: the error does not name the file: '%s'", i, err);
    }
}

static void test_load_missing_and_too_big(void **state)
{
    (void)state;
    agent_file f;
    char err[512] = "";
    assert_int_equal(agent_file_load("/nonexistent/ttf.yml", &f, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot read the config file /nonexistent/ttf.yml"));
    agent_file_free(&f);
    char path[] = "/tmp/ttf-cfg-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static char junk[AGENT_FILE_MAX_BYTES + 2];
    memset(junk, '#', sizeof junk);
    assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    close(fd);
    assert_int_equal(agent_file_load(path, &f, err, sizeof err), -1);
    assert_non_null(strstr(err, "is over"));
    agent_file_free(&f);
    unlink(path);
}

/* ---- with the command line ---- */

static const char *env_endpoint, *env_token;

static const char *fake_env(const char *name)
{
    if (strcmp(name, "TUNNEL_ENDPOINT") == 0)
        return env_endpoint;
    if (strcmp(name, "TUNNEL_TOKEN") == 0)
        return env_token;
    return NULL;
}

static char cfg_path[64];

static void write_cfg(const char *text)
{
    snprintf(cfg_path, sizeof cfg_path, "/tmp/ttf-cfg-XXXXXX");
    int fd = mkstemp(cfg_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
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
    config_result r = agent_config_parse(argc, argv, fake_env, cfg, devnull, err, 512);
    fclose(devnull);
    return r;
}

static const char two[] = "endpoint: ws://file.example:9000/_tunnel\n"
                          "authtoken: filetok\n"
                          "request_timeout: 40\n"
                          "connect_timeout: 8\n"
                          "protocol: json\n"
                          "web_addr: false\n"
                          "tunnels:\n"
                          "  web: {addr: 3001, subdomain: webby}\n"
                          "  api: {addr: \"localhost:3002\", host_header: rewrite}\n";

static void test_file_values_and_tunnels(void **state)
{
    (void)state;
    env_endpoint = env_token = NULL;
    write_cfg(two);
    agent_config c;
    char err[512] = "";
    assert_int_equal(parse(&c, err, 3, "--config", cfg_path), CONFIG_OK);
    assert_string_equal(c.endpoint, "ws://file.example:9000/_tunnel");
    assert_string_equal(c.url.host, "file.example");
    assert_string_equal(c.token, "filetok");
    assert_int_equal(c.request_timeout, 40);
    assert_int_equal(c.connect_timeout, 8);
    assert_int_equal(c.protocol, PROTO_JSON);
    assert_null(c.inspect_addr);
    assert_int_equal(c.ntunnels, 2);
    assert_string_equal(c.tunnels[0].name, "web");
    assert_int_equal(c.tunnels[0].local_port, 3001);
    assert_string_equal(c.tunnels[1].name, "api");
    assert_string_equal(c.tunnels[1].local_host, "localhost");
    assert_int_equal(c.tunnels[1].host_header, HOST_HEADER_REWRITE);
    /* the first tunnel is also in the single-tunnel fields */
    assert_int_equal(c.local_port, 3001);
    assert_string_equal(c.subdomain, "webby");
    agent_config_free(&c);
    unlink(cfg_path);
}

/* flags > environment > file */
static void test_flags_and_environment_win(void **state)
{
    (void)state;
    write_cfg(two);
    agent_config c;
    char err[512] = "";
    env_endpoint = "ws://env.example:1/_tunnel";
    env_token = NULL;
    assert_int_equal(parse(&c, err, 11, "-c", cfg_path, "-t", "flagtok", "--request-timeout", "5",
                           "--protocol", "binary", "--inspect", "127.0.0.1:0"),
                     CONFIG_OK);
    assert_string_equal(c.endpoint, "ws://env.example:1/_tunnel");
    assert_string_equal(c.token, "flagtok");
    assert_int_equal(c.request_timeout, 5);
    assert_int_equal(c.connect_timeout, 8); /* not on the command line: the file's */
    assert_int_equal(c.protocol, PROTO_BINARY);
    assert_string_equal(c.inspect_addr, "127.0.0.1:0");
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 5, "--config", cfg_path, "-e", "ws://flag.example:2"),
                     CONFIG_OK);
    assert_string_equal(c.url.host, "flag.example");
    agent_config_free(&c);
    env_endpoint = NULL;
    env_token = "envtok";
    assert_int_equal(parse(&c, err, 3, "--config", cfg_path), CONFIG_OK);
    assert_string_equal(c.token, "envtok");
    agent_config_free(&c);
    env_token = NULL;
    unlink(cfg_path);
}

/* ttf --config FILE api: only the tunnels named, in the file's order. */
static void test_select_tunnels_by_name(void **state)
{
    (void)state;
    env_endpoint = env_token = NULL;
    write_cfg(two);
    agent_config c;
    char err[512] = "";
    assert_int_equal(parse(&c, err, 4, "--config", cfg_path, "api"), CONFIG_OK);
    assert_int_equal(c.ntunnels, 1);
    assert_string_equal(c.tunnels[0].name, "api");
    assert_int_equal(c.local_port, 3002);
    assert_null(c.subdomain);
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 5, "--config", cfg_path, "api", "web"), CONFIG_OK);
    assert_int_equal(c.ntunnels, 2);
    assert_string_equal(c.tunnels[0].name, "web");
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 4, "--config", cfg_path, "nope"), CONFIG_ERROR);
    assert_non_null(strstr(err, "names no tunnel 'nope'"));
    agent_config_free(&c);
    unlink(cfg_path);
}

/* A tunnel's settings belong in the file: the command line's per-tunnel flags are refused with
 * --config (a usage error), and a bad file is a usage error naming the line. */
static void test_per_tunnel_flags_refused(void **state)
{
    (void)state;
    env_endpoint = env_token = NULL;
    write_cfg(two);
    agent_config c;
    char err[512] = "";
    assert_int_equal(parse(&c, err, 5, "--config", cfg_path, "-p", "4000"), CONFIG_ERROR);
    assert_non_null(strstr(err, "-p/--port is a tunnel's setting"));
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 5, "--config", cfg_path, "--subdomain", "x"), CONFIG_ERROR);
    assert_non_null(strstr(err, "--subdomain"));
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 5, "--config", cfg_path, "--host-header", "rewrite"),
                     CONFIG_ERROR);
    agent_config_free(&c);
    assert_int_equal(parse(&c, err, 5, "--config", cfg_path, "--basic-auth", "u:password1"),
                     CONFIG_ERROR);
    assert_non_null(strstr(err, "--basic-auth is a tunnel's setting"));
    agent_config_free(&c);
    unlink(cfg_path);
    write_cfg("tunnels:\n  web:\n    addr: nope\n");
    assert_int_equal(parse(&c, err, 3, "--config", cfg_path), CONFIG_ERROR);
    assert_non_null(strstr(err, ":3:11: tunnels.web.addr:"));
    agent_config_free(&c);
    unlink(cfg_path);
}

/* Without --config: one tunnel with no name, from the flags (the command line as before). */
static void test_command_line_tunnel(void **state)
{
    (void)state;
    env_endpoint = env_token = NULL;
    agent_config c;
    char err[512] = "";
    assert_int_equal(parse(&c, err, 7, "-p", "4321", "--host", "::1", "-s", "Mine"), CONFIG_OK);
    assert_null(c.config_file);
    assert_int_equal(c.ntunnels, 1);
    assert_null(c.tunnels[0].name);
    assert_int_equal(c.tunnels[0].local_port, 4321);
    assert_string_equal(c.tunnels[0].local_host, "::1");
    assert_string_equal(c.tunnels[0].subdomain, "mine");
    char hp[64];
    agent_tunnel_hostport(&c.tunnels[0], hp, sizeof hp);
    assert_string_equal(hp, "[::1]:4321");
    agent_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_web_addr_false_and_token_alias),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_load_missing_and_too_big),
        cmocka_unit_test(test_file_values_and_tunnels),
        cmocka_unit_test(test_flags_and_environment_win),
        cmocka_unit_test(test_select_tunnels_by_name),
        cmocka_unit_test(test_per_tunnel_flags_refused),
        cmocka_unit_test(test_command_line_tunnel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
