/* SPDX-License-Identifier: MIT */
/* test_agent_resolve.c - the local service's addresses (agent/resolve.h): literals at once,
 * localhost names as ::1 then 127.0.0.1 without a resolver, other names in the background with
 * the result delivered from the loop, failures with a reason, cancellation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "resolve.h"

typedef struct got {
    int calls;
    resolve_addrs *addrs;
    char err[256];
} got;

static void on_result(void *ud, resolve_addrs *addrs, const char *err)
{
    got *g = ud;
    g->calls++;
    g->addrs = addrs;
    if (err)
        snprintf(g->err, sizeof g->err, "%s", err);
}

/* Runs the loop until g got its call (deadline 10 s). */
static void wait_for(struct event_base *base, got *g)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (g->calls == 0) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        struct timespec now, nap = {0, 1000000};
        nanosleep(&nap, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 10)
            fail_msg("no result within 10 s");
    }
}

/* "family:address:port" of each entry, joined with spaces. */
static void describe(const resolve_addrs *a, char *out, size_t cap)
{
    out[0] = '\0';
    for (const struct addrinfo *ai = a->ai; ai; ai = ai->ai_next) {
        char ip[64];
        int port;
        if (ai->ai_family == AF_INET6) {
            const struct sockaddr_in6 *s = (const void *)ai->ai_addr;
            inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof ip);
            port = ntohs(s->sin6_port);
        } else {
            const struct sockaddr_in *s = (const void *)ai->ai_addr;
            inet_ntop(AF_INET, &s->sin_addr, ip, sizeof ip);
            port = ntohs(s->sin_port);
        }
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%s:%d", n ? " " : "", ip, port);
    }
}

static void expect(const char *host, int port, const char *want)
{
    struct event_base *base = event_base_new();
    /* host NULL: the default local service */
    resolver *r = host ? resolver_new(base, host, port) : resolver_new_default(base, port);
    assert_non_null(r);
    got g = {0};
    assert_int_equal(resolve_get(r, on_result, &g), 0);
    assert_int_equal(g.calls, 0); /* never inside resolve_get */
    wait_for(base, &g);
    assert_int_equal(g.calls, 1);
    if (!want) {
        assert_null(g.addrs);
        assert_non_null(strstr(g.err, "cannot resolve local host"));
        assert_non_null(strstr(g.err, host));
    } else {
        assert_non_null(g.addrs);
        char d[512];
        describe(g.addrs, d, sizeof d);
        if (!strstr(d, want))
            fail_msg("%s: got \"%s\", want \"%s\"", host, d, want);
        resolve_addrs_unref(g.addrs);
    }
    resolver_free(r);
    event_base_free(base);
}

static void test_literals_and_localhost(void **state)
{
    (void)state;
    expect("127.0.0.1", 3000, "127.0.0.1:3000");
    expect("::1", 8000, "::1:8000");
    /* localhost names: both loopback addresses, IPv6 first, whatever /etc/hosts says */
    expect("localhost", 3000, "::1:3000 127.0.0.1:3000");
    expect("LOCALHOST.", 3000, "::1:3000 127.0.0.1:3000");
    expect("app.localhost", 80, "::1:80 127.0.0.1:80");
    /* no host given: 127.0.0.1 first (the usual service), then ::1 (one on "localhost" that
     * listens on ::1 only, as Node 17+ and Vite do, was a 502) */
    expect(NULL, 3000, "127.0.0.1:3000 ::1:3000");
}

static void test_names(void **state)
{
    (void)state;
    /* a name from /etc/hosts through glibc's resolver: what getaddrinfo says, in its order */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    char host[256];
    gethostname(host, sizeof host);
    if (getaddrinfo(host, "1", &hints, &ai) == 0) {
        resolve_addrs a = {.ai = ai};
        char want[512];
        describe(&a, want, sizeof want);
        char *sp = strchr(want, ' ');
        if (sp)
            *sp = '\0'; /* the first entry is enough */
        char *colon = strrchr(want, ':');
        strcpy(colon, ":1");
        expect(host, 1, want);
        freeaddrinfo(ai);
    }
    /* RFC 6761 §6.4: .invalid never resolves */
    expect("no-such-host.invalid", 3000, NULL);
}

static void test_cancel_and_reuse(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    resolver *r = resolver_new(base, "localhost", 3000);
    got a = {0}, b = {0};
    assert_int_equal(resolve_get(r, on_result, &a), 0);
    assert_int_equal(resolve_get(r, on_result, &b), 0);
    resolve_cancel(r, &a);
    wait_for(base, &b);
    for (int i = 0; i < 5; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(a.calls, 0);
    assert_int_equal(b.calls, 1);
    /* the list outlives the resolver while referenced */
    resolver_free(r);
    assert_non_null(b.addrs->ai);
    resolve_addrs_unref(b.addrs);
    /* freeing with a lookup in flight and a waiter: no call, no leak */
    r = resolver_new(base, "no-such-host.invalid", 1);
    got c = {0};
    resolve_get(r, on_result, &c);
    resolver_free(r);
    assert_int_equal(c.calls, 0);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals_and_localhost),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_cancel_and_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
