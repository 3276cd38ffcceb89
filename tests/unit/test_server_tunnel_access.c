/* SPDX-License-Identifier: MIT */
/* test_server_tunnel_access.c - ttfd's gate of one tunnel (server/tunnel_access.h): the
 * Authorization field removed only when it carried the tunnel's credentials, the client address
 * from X-Forwarded-For only behind a trusted proxy, the rate limit per client address, and no
 * gate (everything passes, nothing removed) without a policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "tunnel_access.h"

static tunnel_access *gate(const char *json)
{
    access_policy *p = NULL;
    char why[300];
    if (access_policy_from_request(json, strlen(json), &p, why, sizeof why) != 0)
        fail_msg("%s", why);
    tunnel_access *t = NULL;
    assert_int_equal(tunnel_access_new(p, &t), 0);
    return t;
}

/* The peer of a connection accepted from the address peer ("no address": another family). */
static void peer_of(tunnel_peer *tp, const char *peer)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, peer, &s4->sin_addr) == 1)
        ss.ss_family = AF_INET;
    else if (inet_pton(AF_INET6, peer, &s6->sin6_addr) == 1)
        ss.ss_family = AF_INET6;
    else
        ss.ss_family = AF_UNIX;
    tunnel_peer_init(tp, (const struct sockaddr *)&ss);
}

static access_result admit(tunnel_access *t, const access_net *trusted, size_t nt, const char *peer,
                           http_headers *h, int64_t now, char *client)
{
    access_verdict v;
    tunnel_peer tp;
    peer_of(&tp, peer);
    return tunnel_access_admit(t, trusted, nt, &tp, h, now, &v, client, 48);
}

static void test_strip_only_own_credentials(void **state)
{
    (void)state;
    tunnel_access *t = gate("{\"basic_auth\":\"alice:password1\"}");
    char client[48];
    http_headers h;
    http_headers_init(&h);
    http_headers_add(&h, "Authorization", 13, "Basic YWxpY2U6cGFzc3dvcmQx", 26);
    http_headers_add(&h, "X-Other", 7, "1", 1);
    assert_int_equal(admit(t, NULL, 0, "127.0.0.1", &h, 0, client), ACCESS_ALLOW);
    assert_null(http_headers_get(&h, "Authorization"));
    assert_string_equal(http_headers_get(&h, "X-Other"), "1");
    assert_string_equal(client, "127.0.0.1");
    http_headers_free(&h);
    tunnel_access_free(t);

    /* without a policy the app's own Authorization passes untouched */
    assert_int_equal(tunnel_access_new(NULL, &t), 0);
    assert_null(t);
    http_headers_init(&h);
    http_headers_add(&h, "Authorization", 13, "Bearer app-token", 16);
    assert_int_equal(admit(NULL, NULL, 0, "::1", &h, 0, client), ACCESS_ALLOW);
    assert_string_equal(http_headers_get(&h, "Authorization"), "Bearer app-token");
    assert_string_equal(client, "::1");
    http_headers_free(&h);
}

static void test_trusted_proxy(void **state)
{
    (void)state;
    tunnel_access *t = gate("{\"deny_cidr\":[\"203.0.113.0/24\"]}");
    access_net trusted;
    const char *why;
    assert_int_equal(access_net_parse("127.0.0.1", &trusted, &why), 0);
    char client[48];
    http_headers h;
    http_headers_init(&h);
    http_headers_add(&h, "X-Forwarded-For", 15, "203.0.113.5", 11);
    /* not behind a proxy: X-Forwarded-For is the client's own words, ignored */
    assert_int_equal(admit(t, NULL, 0, "127.0.0.1", &h, 0, client), ACCESS_ALLOW);
    assert_string_equal(client, "127.0.0.1");
    assert_int_equal(admit(t, &trusted, 1, "127.0.0.1", &h, 0, client), ACCESS_REFUSE_CIDR);
    assert_string_equal(client, "203.0.113.5");
    assert_int_equal(admit(t, &trusted, 1, "127.0.0.2", &h, 0, client), ACCESS_ALLOW);
    assert_string_equal(client, "127.0.0.2");
    /* the peer as the access rules print it (tunnel_peer_init, once per connection): an
     * IPv4-mapped IPv6 peer as IPv4 */
    assert_int_equal(admit(t, NULL, 0, "::ffff:192.0.2.7", &h, 0, client), ACCESS_ALLOW);
    assert_string_equal(client, "192.0.2.7");
    assert_int_equal(admit(t, NULL, 0, "no address", &h, 0, client), ACCESS_ALLOW);
    assert_string_equal(client, "unknown");
    http_headers_free(&h);
    tunnel_access_free(t);
}

static void test_rate_per_client(void **state)
{
    (void)state;
    tunnel_access *t = gate("{\"rate_limit\":{\"requests\":2,\"per_sec\":60}}");
    char client[48];
    http_headers h;
    http_headers_init(&h);
    assert_int_equal(admit(t, NULL, 0, "127.0.0.1", &h, 1000, client), ACCESS_ALLOW);
    assert_int_equal(admit(t, NULL, 0, "127.0.0.1", &h, 1000, client), ACCESS_ALLOW);
    access_verdict v;
    tunnel_peer tp;
    peer_of(&tp, "127.0.0.1");
    assert_int_equal(tunnel_access_admit(t, NULL, 0, &tp, &h, 1000, &v, client, 48),
                     ACCESS_REFUSE_RATE);
    assert_int_equal(v.retry_after_s, 30);
    assert_int_equal(admit(t, NULL, 0, "127.0.0.2", &h, 1000, client), ACCESS_ALLOW);
    /* IPv6: one /64 is one client */
    assert_int_equal(admit(t, NULL, 0, "2001:db8::1", &h, 1000, client), ACCESS_ALLOW);
    assert_int_equal(admit(t, NULL, 0, "2001:db8::2", &h, 1000, client), ACCESS_ALLOW);
    assert_int_equal(admit(t, NULL, 0, "2001:db8::3", &h, 1000, client), ACCESS_REFUSE_RATE);
    assert_int_equal(admit(t, NULL, 0, "2001:db8:0:1::1", &h, 1000, client), ACCESS_ALLOW);
    assert_int_equal(admit(t, NULL, 0, "127.0.0.1", &h, 31000, client), ACCESS_ALLOW);
    http_headers_free(&h);
    tunnel_access_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strip_only_own_credentials),
        cmocka_unit_test(test_trusted_proxy),
        cmocka_unit_test(test_rate_per_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
