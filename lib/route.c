/* SPDX-License-Identifier: MIT */
/* route.c - public request -> tunnel id and forwarded target (see route.h). Pure, no allocation. */
#include "route.h"

#include <string.h>

#include "http1_syntax.h"

/* Host without ":port" and without one trailing dot; IPv6 literals yield len 0 (never a
 * subdomain). */
static size_t host_name_len(const char *host, size_t len)
{
    if (len == 0 || host[0] == '[')
        return 0;
    const char *colon = memchr(host, ':', len);
    if (colon)
        len = (size_t)(colon - host);
    if (len > 0 && host[len - 1] == '.')
        len--;
    return len;
}

static bool ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (http1_lower(a[i]) != http1_lower(b[i]))
            return false;
    }
    return true;
}

/* Subdomain mode: host is exactly "<name>.<domain>", name one label that is not reserved (a
 * reserved label such as "www" is the site itself: path routing applies). Writes the lowercased
 * name. */
static bool match_subdomain(const char *host, size_t host_len, const char *domain, char *id)
{
    size_t hl = host_name_len(host, host_len);
    size_t dl = strlen(domain);
    if (dl > 0 && domain[dl - 1] == '.')
        dl--;
    if (dl == 0 || hl < dl + 2)
        return false;
    size_t nl = hl - dl - 1;
    if (nl > TUNNEL_NAME_MAX || host[nl] != '.' || !ieq(host + nl + 1, domain, dl))
        return false;
    char label[TUNNEL_NAME_MAX];
    for (size_t i = 0; i < nl; i++)
        label[i] = http1_lower(host[i]);
    if (!tunnel_name_valid(label, nl) || tunnel_name_reserved(label, nl))
        return false;
    memcpy(id, label, nl);
    id[nl] = '\0';
    return true;
}

route_mode route_resolve(const char *host, size_t host_len, const char *target, size_t target_len,
                         const char *domain, route_result *out, char *fwd, size_t *fwd_len)
{
    out->mode = ROUTE_NONE;
    out->tunnel_id[0] = '\0';
    fwd[0] = '\0';
    if (fwd_len)
        *fwd_len = 0;
    if (!target)
        target_len = 0;

    if (host && domain && match_subdomain(host, host_len, domain, out->tunnel_id)) {
        out->mode = ROUTE_SUBDOMAIN;
        size_t n = target_len;
        if (n == 0) {
            fwd[0] = '/';
            n = 1;
        } else {
            memcpy(fwd, target, n);
        }
        fwd[n] = '\0';
        if (fwd_len)
            *fwd_len = n;
        return out->mode;
    }

    /* Path mode: "/<name>" then end, '/' or '?'. */
    if (target_len < 2 || target[0] != '/')
        return ROUTE_NONE;
    size_t nl = 0;
    while (1 + nl < target_len && target[1 + nl] != '/' && target[1 + nl] != '?')
        nl++;
    if (!tunnel_name_valid(target + 1, nl) || tunnel_name_reserved(target + 1, nl))
        return ROUTE_NONE;
    const char *rest = target + 1 + nl;
    size_t rest_len = target_len - 1 - nl;

    size_t n = 0;
    if (rest_len == 0 || rest[0] == '?')
        fwd[n++] = '/';
    memcpy(fwd + n, rest, rest_len);
    n += rest_len;
    fwd[n] = '\0';
    memcpy(out->tunnel_id, target + 1, nl);
    out->tunnel_id[nl] = '\0';
    out->mode = ROUTE_PATH;
    if (fwd_len)
        *fwd_len = n;
    return out->mode;
}
