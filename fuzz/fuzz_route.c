/* SPDX-License-Identifier: MIT */
/* fuzz_route.c - libFuzzer target: route_resolve over arbitrary host/target/domain bytes.
 * Input layout: byte 0 = host length, byte 1 = domain length, then host, domain, target. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t hl = data[0], dl = data[1] % 64;
    data += 2;
    size -= 2;
    if (hl > size)
        hl = size;
    if (dl > size - hl)
        dl = size - hl;
    size_t tl = size - hl - dl;

    /* exact-size copies: host and target are byte ranges, the domain a C string */
    char *host = malloc(hl ? hl : 1);
    char *domain = malloc(dl + 1);
    char *target = malloc(tl ? tl : 1);
    char *fwd = malloc(tl + 2);
    if (!host || !domain || !target || !fwd)
        goto out;
    memcpy(host, data, hl);
    memcpy(domain, data + hl, dl);
    domain[dl] = '\0';
    memcpy(target, data + hl + dl, tl);

    route_result r;
    size_t fl = (size_t)-1;
    route_mode m = route_resolve(host, hl, target, tl, domain, &r, fwd, &fl);
    if (m != r.mode)
        abort();
    switch (m) {
    case ROUTE_NONE:
        if (r.tunnel_id[0] != '\0' || fl != 0)
            abort();
        break;
    case ROUTE_SUBDOMAIN:
        if (!tunnel_name_valid(r.tunnel_id, strlen(r.tunnel_id)) ||
            tunnel_name_reserved(r.tunnel_id, strlen(r.tunnel_id)))
            abort();
        if (tl ? (fl != tl || memcmp(fwd, target, tl) != 0) : (fl != 1 || fwd[0] != '/'))
            abort();
        break;
    case ROUTE_PATH: {
        size_t nl = strlen(r.tunnel_id), used = 1 + nl;
        if (!tunnel_name_valid(r.tunnel_id, nl) || tunnel_name_reserved(r.tunnel_id, nl) ||
            tl < used || target[0] != '/' || memcmp(target + 1, r.tunnel_id, nl) != 0 ||
            (tl > used && target[used] != '/' && target[used] != '?'))
            abort();
        if (fl < 1 || fl > tl + 1 || fwd[0] != '/' || fwd[fl] != '\0')
            abort();
        /* what follows the name is forwarded unchanged (after an added "/" when needed) */
        if (memcmp(fwd + fl - (tl - used), target + used, tl - used) != 0)
            abort();
        break;
    }
    default:
        abort();
    }
    if (fl > tl + 1)
        abort();
out:
    free(host);
    free(domain);
    free(target);
    free(fwd);
    return 0;
}
