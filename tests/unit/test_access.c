/* SPDX-License-Identifier: MIT */
/* test_access.c - edge access control (lib/access.h): addresses and networks (IPv4, IPv6,
 * mapped, host bits, bad prefixes), X-Forwarded-For behind trusted proxies only, the agent's
 * request form and its refusals (unknown fields, bad networks, short passwords, rates out of
 * range), the stored form (no password in it), and decisions: deny wins, allow lists, the rate
 * callback's place between networks and basic auth, basic credentials parsed strictly and
 * compared by HMAC, Authorization stripped only when it carried them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "access.h"
#include "b64.h"

static access_addr addr(const char *s)
{
    access_addr a;
    if (access_addr_parse(s, &a) != 0)
        fail_msg("not an address: %s", s);
    return a;
}

static access_net net(const char *s)
{
    access_net n;
    const char *why = NULL;
    if (access_net_parse(s, &n, &why) != 0)
        fail_msg("not a network: %s (%s)", s, why);
    return n;
}

static bool in(const char *network, const char *address)
{
    access_net n = net(network);
    access_addr a = addr(address);
    return access_net_contains(&n, &a);
}

static void test_addresses(void **state)
{
    (void)state;
    access_addr a = addr("192.0.2.7");
    assert_int_equal(a.family, AF_INET);
    a = addr("::ffff:192.0.2.7"); /* mapped: IPv4 */
    assert_int_equal(a.family, AF_INET);
    char txt[64];
    access_addr_format(&a, txt, sizeof txt);
    assert_string_equal(txt, "192.0.2.7");
    a = addr("2001:DB8::1");
    assert_int_equal(a.family, AF_INET6);
    access_addr_format(&a, txt, sizeof txt);
    assert_string_equal(txt, "2001:db8::1");
    const char *bad[] = {"",         "1.2.3",    "1.2.3.4.5", "256.1.1.1",    "::g",
                         "1.2.3.4 ", " 1.2.3.4", "01.2.3.4",  "fe80::1%eth0", "localhost"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (access_addr_parse(bad[i], &a) == 0)
            fail_msg("accepted address '%s'", bad[i]);
    assert_int_equal(access_addr_parse(NULL, &a), -1);
    memset(&a, 0, sizeof a);
    access_addr_format(&a, txt, sizeof txt);
    assert_string_equal(txt, "unknown");
}

/* IPv4 text is written by hand: the same text as inet_ntop for every octet width, and
 * "unknown" when the buffer is too small (as before). */
static void test_format_v4(void **state)
{
    (void)state;
    const uint8_t oct[] = {0, 7, 9, 10, 42, 99, 100, 199, 200, 255};
    size_t no = sizeof oct;
    for (size_t i = 0; i < no * no; i++) {
        access_addr a = {.family = AF_INET};
        a.b[0] = oct[i % no];
        a.b[1] = oct[i / no];
        a.b[2] = oct[(i + 3) % no];
        a.b[3] = oct[(i / no + 5) % no];
        char want[INET_ADDRSTRLEN], got[64];
        assert_non_null(inet_ntop(AF_INET, a.b, want, sizeof want));
        access_addr_format(&a, got, sizeof got);
        assert_string_equal(got, want);
        access_addr_format(&a, got, strlen(want) + 1); /* just fits */
        assert_string_equal(got, want);
    }
    access_addr a = {.family = AF_INET, .b = {255, 255, 255, 255}};
    char small[15];
    access_addr_format(&a, small, sizeof small); /* "255.255.255.255" needs 16 */
    assert_string_equal(small, "unknown");
}

static void test_hops(void **state)
{
    (void)state;
    access_addr a;
    const char *ok[][2] = {{"192.0.2.1", "192.0.2.1"},          {" 192.0.2.1\t", "192.0.2.1"},
                           {"192.0.2.1:4711", "192.0.2.1"},     {"[2001:db8::1]", "2001:db8::1"},
                           {"[2001:db8::1]:80", "2001:db8::1"}, {"2001:db8::1", "2001:db8::1"}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (access_addr_parse_hop(ok[i][0], strlen(ok[i][0]), &a) != 0)
            fail_msg("hop '%s' refused", ok[i][0]);
        char txt[64];
        access_addr_format(&a, txt, sizeof txt);
        assert_string_equal(txt, ok[i][1]);
    }
    const char *bad[] = {"unknown",     "[192.0.2.1]",      "192.0.2.1:",
                         "192.0.2.1:x", "[::1]x",           "[::1",
                         "_hidden",     "192.0.2.1:123456", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (access_addr_parse_hop(bad[i], strlen(bad[i]), &a) == 0)
            fail_msg("hop '%s' accepted", bad[i]);
    /* the slice is what counts, not what follows it */
    assert_int_equal(access_addr_parse_hop("10.0.0.1, 10.0.0.2", 8, &a), 0);
    assert_int_equal(access_addr_parse_hop("10.0.0.1, 10.0.0.2", 9, &a), -1);
}

static void test_networks(void **state)
{
    (void)state;
    assert_true(in("10.0.0.0/8", "10.255.1.2"));
    assert_false(in("10.0.0.0/8", "11.0.0.1"));
    assert_true(in("192.168.1.7/24", "192.168.1.200")); /* host bits cleared */
    assert_true(in("192.0.2.7", "192.0.2.7"));          /* an address alone is /32 */
    assert_false(in("192.0.2.7", "192.0.2.8"));
    assert_true(in("0.0.0.0/0", "203.0.113.9"));
    assert_false(in("0.0.0.0/0", "2001:db8::1")); /* families never mix */
    assert_true(in("::/0", "2001:db8::1"));
    assert_false(in("::/0", "192.0.2.1"));
    assert_true(in("2001:db8::/32", "2001:db8:ffff::1"));
    assert_false(in("2001:db8::/33", "2001:db8:8000::1"));
    assert_true(in("2001:db8::/33", "2001:db8:7fff::1"));
    assert_true(in("10.0.0.0/9", "10.127.0.1"));
    assert_false(in("10.0.0.0/9", "10.128.0.1"));
    assert_true(in("::ffff:10.0.0.0/104", "10.1.2.3")); /* a mapped network is IPv4 */
    assert_true(in("::ffff:10.0.0.0/104", "::ffff:10.1.2.3"));
    assert_true(in("::1", "::1"));
    access_net n = net("192.168.1.7/24");
    char txt[64];
    access_net_format(&n, txt, sizeof txt);
    assert_string_equal(txt, "192.168.1.0/24");
    const char *bad[] = {"",
                         "/8",
                         "10.0.0.0/",
                         "10.0.0.0/33",
                         "10.0.0.0/-1",
                         "10.0.0.0/08",
                         "10.0.0.0/a",
                         "::/129",
                         "10.0.0.0/8/8",
                         "10/8",
                         "example.com/8",
                         "10.0.0.0 /8",
                         "10.0.0.0/ 8",
                         "10.0.0.0/1000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = NULL;
        if (access_net_parse(bad[i], &n, &why) == 0)
            fail_msg("accepted network '%s'", bad[i]);
        assert_non_null(why);
    }
    access_addr unknown = {0};
    assert_false(access_net_contains(&(access_net){0}, &unknown));
}

static void test_rate_keys(void **state)
{
    (void)state;
    uint8_t k1[ACCESS_RATE_KEY_MAX], k2[ACCESS_RATE_KEY_MAX];
    access_addr a = addr("2001:db8:1:2:aaaa::1"), b = addr("2001:db8:1:2:bbbb::9");
    size_t l1 = access_rate_key(&a, k1), l2 = access_rate_key(&b, k2);
    assert_int_equal(l1, l2); /* one /64, one key */
    assert_memory_equal(k1, k2, l1);
    b = addr("2001:db8:1:3::1");
    l2 = access_rate_key(&b, k2);
    assert_memory_not_equal(k1, k2, l1);
    a = addr("192.0.2.1");
    b = addr("192.0.2.2");
    l1 = access_rate_key(&a, k1);
    l2 = access_rate_key(&b, k2);
    assert_int_equal(l1, 5);
    assert_memory_not_equal(k1, k2, 5);
}

/* X-Forwarded-For counts only from a trusted peer, read from the right. */
static void test_client_addr(void **state)
{
    (void)state;
    access_net trusted[2] = {net("127.0.0.1"), net("10.0.0.0/8")};
    http_headers h;
    http_headers_init(&h);
    http_headers_add(&h, "X-Forwarded-For", 15, "203.0.113.5, 10.1.1.1", 21);
    access_addr peer = addr("127.0.0.1"), out;
    char txt[64];

    access_client_addr(trusted, 2, &peer, &h, &out);
    access_addr_format(&out, txt, sizeof txt);
    assert_string_equal(txt, "203.0.113.5"); /* 10.1.1.1 is a trusted proxy too */

    access_client_addr(NULL, 0, &peer, &h, &out); /* no --trusted-proxy: the peer */
    access_addr_format(&out, txt, sizeof txt);
    assert_string_equal(txt, "127.0.0.1");

    access_addr other = addr("192.0.2.99"); /* untrusted peer: its XFF is not read */
    access_client_addr(trusted, 2, &other, &h, &out);
    access_addr_format(&out, txt, sizeof txt);
    assert_string_equal(txt, "192.0.2.99");

    /* a forged hop left of the real client is never reached; several fields are one list */
    http_headers_free(&h);
    http_headers_init(&h);
    http_headers_add(&h, "x-forwarded-for", 15, "10.9.9.9", 8);
    http_headers_add(&h, "X-Forwarded-For", 15, "198.51.100.1,,10.2.2.2", 22);
    access_client_addr(trusted, 2, &peer, &h, &out);
    access_addr_format(&out, txt, sizeof txt);
    assert_string_equal(txt, "198.51.100.1");

    /* every hop trusted: the leftmost */
    http_headers_free(&h);
    http_headers_init(&h);
    http_headers_add(&h, "X-Forwarded-For", 15, "10.3.3.3, 10.4.4.4", 18);
    access_client_addr(trusted, 2, &peer, &h, &out);
    access_addr_format(&out, txt, sizeof txt);
    assert_string_equal(txt, "10.3.3.3");

    /* a hop that is no address: unknown (in no network) */
    http_headers_free(&h);
    http_headers_init(&h);
    http_headers_add(&h, "X-Forwarded-For", 15, "203.0.113.5, garbage", 20);
    access_client_addr(trusted, 2, &peer, &h, &out);
    assert_int_equal(out.family, 0);

    /* trusted peer without the field: the peer itself */
    http_headers_free(&h);
    http_headers_init(&h);
    access_client_addr(trusted, 2, &peer, &h, &out);
    access_addr_format(&out, txt, sizeof txt);
    assert_string_equal(txt, "127.0.0.1");
    http_headers_free(&h);
}

static void test_flags(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(access_basic_check("alice:correct horse", &why), 0);
    assert_int_equal(access_basic_check("alice:pa:ss:word", &why), 0); /* ':' in a password */
    const char *bad[] = {"alice", ":password1", "alice:short", "al\x01ice:password1",
                         "alice:pass\nword1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (access_basic_check(bad[i], &why) == 0)
            fail_msg("accepted credential #%zu", i);
    access_rate r;
    assert_int_equal(access_rate_parse("100/m", &r, &why), 0);
    assert_int_equal(r.requests, 100);
    assert_int_equal(r.per_sec, 60);
    assert_int_equal(access_rate_parse("5/s", &r, &why), 0);
    assert_int_equal(r.per_sec, 1);
    assert_int_equal(access_rate_parse("7/h", &r, &why), 0);
    assert_int_equal(r.per_sec, 3600);
    const char *badr[] = {"",     "100",   "/m",     "0/m",        "100/d",
                          "-1/s", "1e3/s", "100/ m", "10000000/s", "100/mm"};
    for (size_t i = 0; i < sizeof badr / sizeof badr[0]; i++)
        if (access_rate_parse(badr[i], &r, &why) == 0)
            fail_msg("accepted rate '%s'", badr[i]);
}

static access_policy *from(const char *json)
{
    access_policy *p = NULL;
    char why[300];
    if (access_policy_from_request(json, strlen(json), &p, why, sizeof why) != 0)
        fail_msg("refused %s: %s", json, why);
    return p;
}

static void refused(const char *json, const char *want)
{
    access_policy *p = (access_policy *)1;
    char why[300] = "";
    assert_int_equal(access_policy_from_request(json, strlen(json), &p, why, sizeof why), -1);
    assert_null(p);
    if (!strstr(why, want))
        fail_msg("%s: reason '%s' lacks '%s'", json, why, want);
}

static void test_request_form(void **state)
{
    (void)state;
    const char *allow[] = {"10.0.0.0/8", "2001:db8::/32"}, *deny[] = {"10.1.2.3"};
    access_rate rate = {100, 60};
    char why[300];
    char *j = access_request_json("alice:password1", allow, 2, deny, 1, &rate, why, sizeof why);
    assert_non_null(j);
    assert_string_equal(j, "{\"basic_auth\":\"alice:password1\",\"allow_cidr\":[\"10.0.0.0/8\","
                           "\"2001:db8::/32\"],\"deny_cidr\":[\"10.1.2.3/32\"],\"rate_limit\":"
                           "{\"requests\":100,\"per_sec\":60}}");
    access_policy *p = from(j);
    assert_non_null(p);
    assert_true(p->basic);
    assert_int_equal(p->nallow, 2);
    assert_int_equal(p->ndeny, 1);
    assert_int_equal(p->rate.requests, 100);
    char desc[300];
    access_policy_describe(p, desc, sizeof desc);
    assert_string_equal(desc, "basic auth, allow 10.0.0.0/8 2001:db8::/32, deny 10.1.2.3/32, "
                              "100 requests per 60 s per client");
    access_policy_free(p);
    free(j);
    const char *badnet[] = {"10.0.0.0/33"};
    assert_null(access_request_json(NULL, badnet, 1, NULL, 0, NULL, why, sizeof why));
    assert_non_null(strstr(why, "--allow-cidr '10.0.0.0/33'"));
    assert_null(access_request_json("x", NULL, 0, NULL, 0, NULL, why, sizeof why));
    assert_null(from("{}")); /* asks for nothing */
    assert_null(from("{\"allow_cidr\":[],\"basic_auth\":null}"));
}

static void test_request_refusals(void **state)
{
    (void)state;
    refused("[]", "access must be an object");
    refused("\"x\"", "access must be an object");
    refused("{", "invalid JSON");
    refused("{\"geo\":[\"FR\"]}", "unknown field 'geo'");
    refused("{\"allow_cidr\":\"10.0.0.0/8\"}", "allow_cidr must be an array");
    refused("{\"allow_cidr\":[\"10.0.0.0/8\",\"10.0.0.0/33\"]}",
            "allow_cidr[1]: '10.0.0.0/33': prefix length out of range");
    refused("{\"deny_cidr\":[7]}", "deny_cidr[0]");
    refused("{\"basic_auth\":\"alice:short\"}", "password must have 8 to 256 bytes");
    refused("{\"basic_auth\":\"nocolon\"}", "USER:PASSWORD");
    refused("{\"basic_auth\":5}", "basic_auth");
    refused("{\"rate_limit\":{\"requests\":0,\"per_sec\":60}}", "out of range");
    refused("{\"rate_limit\":{\"requests\":10,\"per_sec\":86401}}", "out of range");
    refused("{\"rate_limit\":{\"requests\":10}}", "rate_limit must be");
    refused("{\"rate_limit\":{\"requests\":10,\"per_sec\":1,\"burst\":5}}", "rate_limit must be");
    refused("{\"rate_limit\":{\"requests\":1.5,\"per_sec\":1}}", "rate_limit must be");
    refused("{\"allow_cidr\":[],\"allow_cidr\":[]}", "invalid JSON"); /* duplicate key */
    char big[4096] = "{\"deny_cidr\":[";
    for (int i = 0; i <= ACCESS_NETS_MAX; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big), "%s\"10.0.%d.0/24\"", i ? "," : "",
                 i);
    strcat(big, "]}");
    refused(big, "65 networks (at most 64)");
}

static int64_t rate_calls;
static int64_t rate_answer;
static int64_t fake_rate(void *ud, const access_policy *p, const access_addr *client,
                         int64_t now_ms)
{
    (void)ud;
    (void)p;
    (void)client;
    (void)now_ms;
    rate_calls++;
    return rate_answer;
}

static http_headers authz(const char *value)
{
    http_headers h;
    http_headers_init(&h);
    if (value)
        http_headers_add(&h, "authorization", 13, value, strlen(value));
    return h;
}

static char *basic(const char *userpass)
{
    static char buf[512];
    char enc[400];
    b64_encode((const uint8_t *)userpass, strlen(userpass), enc);
    snprintf(buf, sizeof buf, "Basic %s", enc);
    return buf;
}

static void test_decide(void **state)
{
    (void)state;
    access_policy *p = from("{\"basic_auth\":\"alice:password1\",\"allow_cidr\":[\"10.0.0.0/8\"],"
                            "\"deny_cidr\":[\"10.6.0.0/16\"],\"rate_limit\":{\"requests\":2,"
                            "\"per_sec\":60}}");
    access_verdict v;
    access_addr ok = addr("10.1.1.1"), denied = addr("10.6.1.1"), outside = addr("192.0.2.1");
    http_headers good = authz(basic("alice:password1"));
    rate_calls = 0;
    rate_answer = 0;

    assert_int_equal(access_decide(p, &ok, &good, 0, fake_rate, NULL, &v), ACCESS_ALLOW);
    assert_true(v.strip_authorization);
    assert_int_equal(rate_calls, 1);
    /* deny wins over allow; networks before the rate limit (not counted) */
    assert_int_equal(access_decide(p, &denied, &good, 0, fake_rate, NULL, &v), ACCESS_REFUSE_CIDR);
    assert_int_equal(v.status, 403);
    assert_int_equal(access_decide(p, &outside, &good, 0, fake_rate, NULL, &v), ACCESS_REFUSE_CIDR);
    access_addr unknown = {0};
    assert_int_equal(access_decide(p, &unknown, &good, 0, fake_rate, NULL, &v), ACCESS_REFUSE_CIDR);
    assert_int_equal(rate_calls, 1);
    /* the rate limit comes before basic auth: guesses are limited too */
    rate_answer = 1500;
    http_headers none = authz(NULL);
    assert_int_equal(access_decide(p, &ok, &none, 0, fake_rate, NULL, &v), ACCESS_REFUSE_RATE);
    assert_int_equal(v.status, 429);
    assert_int_equal(v.retry_after_s, 2); /* rounded up */
    rate_answer = -1;                     /* the count failed: let through */
    assert_int_equal(access_decide(p, &ok, &good, 0, fake_rate, NULL, &v), ACCESS_ALLOW);
    rate_answer = 0;
    assert_int_equal(access_decide(p, &ok, &none, 0, fake_rate, NULL, &v), ACCESS_REFUSE_AUTH);
    assert_int_equal(v.status, 401);
    assert_false(v.strip_authorization);

    const char *wrong[] = {"Basic YWxpY2U6cGFzc3dvcmQy",      /* alice:password2 */
                           "Bearer YWxpY2U6cGFzc3dvcmQx",     /* another scheme */
                           "Basic YWxpY2U6cGFzc3dvcmQx junk", /* more than a token68 */
                           "Basic YWxpY2U6cGFzc3dvcmQ",       /* unpadded: not strict */
                           "Basic",                           /* no credentials */
                           "BasicYWxpY2U6cGFzc3dvcmQx",       /* no space */
                           "Basic YWxpY2U6cGFzc3dvcmQxCg==",  /* alice:password1\n */
                           "Basic QUxJQ0U6cGFzc3dvcmQx"};     /* ALICE: the user matters */
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        http_headers h = authz(wrong[i]);
        if (access_decide(p, &ok, &h, 0, NULL, NULL, &v) != ACCESS_REFUSE_AUTH)
            fail_msg("'%s' accepted", wrong[i]);
        http_headers_free(&h);
    }
    const char *right[] = {"basic YWxpY2U6cGFzc3dvcmQx", "BASIC   YWxpY2U6cGFzc3dvcmQx  "};
    for (size_t i = 0; i < sizeof right / sizeof right[0]; i++) {
        http_headers h = authz(right[i]);
        if (access_decide(p, &ok, &h, 0, NULL, NULL, &v) != ACCESS_ALLOW)
            fail_msg("'%s' refused", right[i]);
        http_headers_free(&h);
    }
    /* two Authorization fields: refused even when one of them is right */
    http_headers two = authz(basic("alice:password1"));
    http_headers_add(&two, "Authorization", 13, "Bearer x", 8);
    assert_int_equal(access_decide(p, &ok, &two, 0, NULL, NULL, &v), ACCESS_REFUSE_AUTH);
    http_headers_free(&two);

    /* no policy: everything passes, Authorization is the app's */
    assert_int_equal(access_decide(NULL, &unknown, &good, 0, fake_rate, NULL, &v), ACCESS_ALLOW);
    assert_false(v.strip_authorization);
    http_headers_free(&good);
    http_headers_free(&none);
    access_policy_free(p);
}

static void test_stored_form(void **state)
{
    (void)state;
    access_policy *p = from("{\"basic_auth\":\"alice:password1\",\"deny_cidr\":[\"::1\"],"
                            "\"rate_limit\":{\"requests\":3,\"per_sec\":1}}");
    char *dump = access_policy_dump(p);
    assert_non_null(dump);
    assert_null(strstr(dump, "password1")); /* never the password */
    assert_null(strstr(dump, "alice"));
    access_policy *q = NULL;
    char why[300];
    assert_int_equal(access_policy_load(dump, strlen(dump), &q, why, sizeof why), 0);
    assert_non_null(q);
    assert_memory_equal(p->key, q->key, ACCESS_KEY_LEN);
    assert_memory_equal(p->mac, q->mac, ACCESS_KEY_LEN);
    assert_int_equal(q->ndeny, 1);
    assert_int_equal(q->rate.per_sec, 1);
    access_addr ok = addr("192.0.2.1");
    http_headers h = authz(basic("alice:password1"));
    access_verdict v;
    assert_int_equal(access_decide(q, &ok, &h, 0, NULL, NULL, &v), ACCESS_ALLOW);
    http_headers_free(&h);
    /* two policies from one credential have different keys (and so different MACs) */
    access_policy *r = from("{\"basic_auth\":\"alice:password1\"}");
    assert_memory_not_equal(p->key, r->key, ACCESS_KEY_LEN);
    assert_memory_not_equal(p->mac, r->mac, ACCESS_KEY_LEN);
    access_policy_free(r);
    /* a damaged record is refused, never read as "no policy" */
    const char *damaged[] = {"{\"basic_auth\":{\"key\":\"AAAA\",\"mac\":\"AAAA\"}}",
                             "{\"basic_auth\":\"alice:password1\"}", "[]", "", "{\"x\":1}"};
    for (size_t i = 0; i < sizeof damaged / sizeof damaged[0]; i++) {
        access_policy *d = NULL;
        if (access_policy_load(damaged[i], strlen(damaged[i]), &d, why, sizeof why) == 0)
            fail_msg("damaged record accepted: %s", damaged[i]);
        assert_null(d);
    }
    char *empty = access_policy_dump(NULL);
    assert_string_equal(empty, "{}");
    access_policy_free(q);
    q = (access_policy *)1;
    assert_int_equal(access_policy_load(empty, 2, &q, why, sizeof why), 0);
    assert_null(q);
    free(empty);
    free(dump);
    access_policy_free(p);
}

static void test_refusals(void **state)
{
    (void)state;
    access_verdict v = {.result = ACCESS_REFUSE_AUTH, .status = 401};
    size_t len = 0;
    char *r = access_refusal_http(&v, "myapp", NULL, &len);
    assert_non_null(r);
    assert_int_equal(len, strlen(r));
    assert_true(strncmp(r, "HTTP/1.1 401 Unauthorized\r\n", 27) == 0);
    assert_non_null(
        strstr(r, "\r\nWWW-Authenticate: Basic realm=\"myapp\", charset=\"UTF-8\"\r\n"));
    assert_non_null(strstr(r, "\r\nConnection: close\r\n"));
    free(r);
    v = (access_verdict){.result = ACCESS_REFUSE_RATE, .status = 429, .retry_after_s = 7};
    r = access_refusal_http(&v, "myapp", NULL, &len);
    assert_non_null(strstr(r, "HTTP/1.1 429 Too Many Requests\r\n"));
    assert_non_null(strstr(r, "\r\nRetry-After: 7\r\n"));
    const char *body = strstr(r, "\r\n\r\n") + 4;
    char cl[64];
    snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", strlen(body));
    assert_non_null(strstr(r, cl));
    free(r);
    v = (access_verdict){.result = ACCESS_REFUSE_CIDR, .status = 403};
    r = access_refusal_http(&v, NULL, NULL, &len);
    assert_true(strncmp(r, "HTTP/1.1 403 Forbidden\r\n", 24) == 0);
    assert_null(strstr(r, "WWW-Authenticate"));
    assert_non_null(strstr(r, "\r\nCache-Control: no-store\r\n")); /* as every edge answer */
    free(r);
    assert_string_equal(access_result_name(ACCESS_REFUSE_RATE), "rate_limit");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_format_v4),
        cmocka_unit_test(test_hops),
        cmocka_unit_test(test_networks),
        cmocka_unit_test(test_rate_keys),
        cmocka_unit_test(test_client_addr),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_request_form),
        cmocka_unit_test(test_request_refusals),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_stored_form),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
