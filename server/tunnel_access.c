/* SPDX-License-Identifier: MIT */
/* tunnel_access.c - one tunnel's gate (see tunnel_access.h). */
#include "tunnel_access.h"

#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"

struct tunnel_access {
    access_policy *policy;
    ratelimit *rl; /* NULL without a rate limit */
};

int tunnel_access_new(access_policy *policy, tunnel_access **out)
{
    *out = NULL;
    if (!policy)
        return 0;
    tunnel_access *t = calloc(1, sizeof *t);
    if (t && policy->rate.requests) {
        t->rl = ratelimit_new(policy->rate.requests, policy->rate.per_sec, TUNNEL_ACCESS_RATE_KEYS);
        if (!t->rl) {
            free(t);
            t = NULL;
        }
    }
    if (!t) {
        access_policy_free(policy);
        return -1;
    }
    t->policy = policy;
    *out = t;
    return 0;
}

void tunnel_access_free(tunnel_access *t)
{
    if (!t)
        return;
    ratelimit_free(t->rl);
    access_policy_free(t->policy);
    free(t);
}

const access_policy *tunnel_access_policy(const tunnel_access *t)
{
    return t ? t->policy : NULL;
}

static int64_t take(void *ud, const access_policy *p, const access_addr *client, int64_t now_ms)
{
    (void)p;
    tunnel_access *t = ud;
    uint8_t key[ACCESS_RATE_KEY_MAX];
    size_t klen = access_rate_key(client, key);
    return ratelimit_take(t->rl, key, klen, now_ms);
}

void tunnel_peer_init(tunnel_peer *p, const struct sockaddr *sa)
{
    access_addr_of_sockaddr(sa, &p->addr);
    access_addr_format(&p->addr, p->text, sizeof p->text);
}

void tunnel_client_addr(const access_net *trusted, size_t ntrusted, const tunnel_peer *peer,
                        const http_headers *h, access_addr *addr, char *client, size_t cap)
{
    access_addr own;
    if (!addr)
        addr = &own;
    access_client_addr(trusted, ntrusted, &peer->addr, h, addr);
    if (cap && memcmp(addr, &peer->addr, sizeof *addr) == 0) { /* the peer: printed already */
        size_t n = strnlen(peer->text, cap - 1);
        memcpy(client, peer->text, n);
        client[n] = '\0';
    } else {
        access_addr_format(addr, client, cap);
    }
}

access_result tunnel_access_admit(tunnel_access *t, const access_net *trusted, size_t ntrusted,
                                  const tunnel_peer *peer, http_headers *h, int64_t now_ms,
                                  access_verdict *v, char *client, size_t cap)
{
    access_addr addr;
    tunnel_client_addr(trusted, ntrusted, peer, h, &addr, client, cap);
    access_result r =
        access_decide(t ? t->policy : NULL, &addr, h, now_ms, t && t->rl ? take : NULL, t, v);
    if (r == ACCESS_ALLOW && v->strip_authorization)
        http_headers_remove(h, "Authorization");
    return r;
}
