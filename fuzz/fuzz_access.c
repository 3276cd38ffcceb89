/* SPDX-License-Identifier: MIT */
/* fuzz_access.c - libFuzzer target: edge access control over the bytes ttfd and the Lambda read
 * from agents and public clients (lib/access.h). Byte 0 selects:
 *   0: ready's access object (access_policy_from_request); an accepted one must dump, load back
 *      and decide the same;
 *   1: a stored policy record (access_policy_load);
 *   2: a request's Authorization value against a fixed policy; only the right credential passes;
 *   3: X-Forwarded-For values behind a trusted peer, then the client's networks;
 *   4: a network (access_net_parse) and a hop (access_addr_parse_hop). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char policy_json[] =
    "{\"basic_auth\":\"alice:password1\",\"allow_cidr\":[\"0.0.0.0/0\",\"::/0\"],"
    "\"deny_cidr\":[\"10.0.0.0/8\"]}";

static void check_request(const char *s, size_t n)
{
    access_policy *p = NULL;
    char why[300];
    if (access_policy_from_request(s, n, &p, why, sizeof why) != 0) {
        if (p || !why[0])
            abort(); /* a refusal always says why and leaves nothing */
        return;
    }
    char *dump = access_policy_dump(p);
    if (!dump)
        abort();
    access_policy *q = NULL;
    if (access_policy_load(dump, strlen(dump), &q, why, sizeof why) != 0 || !p != !q)
        abort();
    if (p && (p->basic != q->basic || p->nallow != q->nallow || p->ndeny != q->ndeny ||
              p->rate.requests != q->rate.requests || memcmp(p->mac, q->mac, sizeof p->mac)))
        abort();
    access_addr a;
    access_addr_parse("10.1.2.3", &a);
    access_verdict v1, v2;
    if (access_decide(p, &a, NULL, 0, NULL, NULL, &v1) !=
        access_decide(q, &a, NULL, 0, NULL, NULL, &v2))
        abort();
    free(dump);
    access_policy_free(p);
    access_policy_free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 5;
    char *s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    size_t n = size - 1;
    char why[300];
    if (mode == 0) {
        check_request(s, n);
    } else if (mode == 1) {
        access_policy *p = NULL;
        if (access_policy_load(s, n, &p, why, sizeof why) == 0)
            access_policy_free(p);
        else if (p)
            abort();
    } else if (mode == 2 || mode == 3) {
        access_policy *p = NULL;
        if (access_policy_from_request(policy_json, sizeof policy_json - 1, &p, why, sizeof why) !=
            0)
            abort();
        http_headers h;
        http_headers_init(&h);
        access_addr peer, client;
        access_addr_parse("127.0.0.1", &peer);
        if (mode == 2) {
            if (!memchr(s, '\0', n) || strlen(s) == n) /* one value, NUL-free */
                http_headers_add(&h, "Authorization", 13, s, strlen(s));
            access_verdict v;
            access_result r = access_decide(p, &peer, &h, 0, NULL, NULL, &v);
            /* "Basic YWxpY2U6cGFzc3dvcmQx" (any case, any spacing) is the only way in */
            if (r == ACCESS_ALLOW && !strstr(s, "YWxpY2U6cGFzc3dvcmQx"))
                abort();
        } else {
            access_net trusted;
            const char *w;
            access_net_parse("127.0.0.0/8", &trusted, &w);
            for (char *f = strtok(s, "\n"); f; f = strtok(NULL, "\n"))
                http_headers_add(&h, "X-Forwarded-For", 15, f, strlen(f));
            access_client_addr(&trusted, 1, &peer, &h, &client);
            access_verdict v;
            access_result r = access_decide(p, &client, NULL, 0, NULL, NULL, &v);
            if (client.family == 0 && r != ACCESS_REFUSE_CIDR)
                abort(); /* an unknown client is in no network, so not in the allow list */
            char txt[64];
            access_addr_format(&client, txt, sizeof txt);
        }
        http_headers_free(&h);
        access_policy_free(p);
    } else {
        access_net net;
        const char *w = NULL;
        if (access_net_parse(s, &net, &w) == 0) {
            char txt[64];
            access_net_format(&net, txt, sizeof txt);
            access_net again;
            if (access_net_parse(txt, &again, &w) != 0 || memcmp(&net, &again, sizeof net) != 0)
                abort(); /* the text form reads back as the same network */
        } else if (!w) {
            abort();
        }
        access_addr a;
        access_addr_parse_hop(s, n, &a);
    }
    free(s);
    return 0;
}
