/* SPDX-License-Identifier: MIT */
/* access_net.c - client addresses and networks for edge access control (see access_net.h). */
#include "access_net.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define XFF_HOPS_MAX 64 /* X-Forwarded-For hops looked at */

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* ------------------------------------------------------------------ addresses */

int access_addr_parse(const char *s, access_addr *out)
{
    memset(out, 0, sizeof *out);
    if (!s)
        return -1;
    if (inet_pton(AF_INET, s, out->b) == 1) {
        out->family = AF_INET;
        return 0;
    }
    uint8_t b6[16];
    if (inet_pton(AF_INET6, s, b6) != 1)
        return -1;
    if (memcmp(b6, v4_mapped, sizeof v4_mapped) == 0) {
        out->family = AF_INET;
        memcpy(out->b, b6 + 12, 4);
    } else {
        out->family = AF_INET6;
        memcpy(out->b, b6, 16);
    }
    return 0;
}

void access_addr_of_sockaddr(const struct sockaddr *sa, access_addr *out)
{
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const void *)sa;
        out->family = AF_INET;
        memcpy(out->b, &s4->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const uint8_t *b6 = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        bool mapped = memcmp(b6, v4_mapped, sizeof v4_mapped) == 0;
        out->family = mapped ? AF_INET : AF_INET6;
        memcpy(out->b, mapped ? b6 + 12 : b6, mapped ? 4 : 16);
    }
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

int access_addr_parse_hop(const char *s, size_t n, access_addr *out)
{
    memset(out, 0, sizeof *out);
    char buf[64];
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= sizeof buf)
        return -1;
    if (s[0] == '[') { /* "[v6]" or "[v6]:port" */
        const char *close = memchr(s, ']', n);
        if (!close)
            return -1;
        size_t al = (size_t)(close - s) - 1, rl = n - al - 2;
        if (rl && (close[1] != ':' || !all_digits(close + 2, rl - 1)))
            return -1;
        memcpy(buf, s + 1, al);
        buf[al] = '\0';
        uint8_t b6[16];
        if (inet_pton(AF_INET6, buf, b6) != 1) /* brackets hold IPv6 only */
            return -1;
        return access_addr_parse(buf, out);
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (access_addr_parse(buf, out) == 0)
        return 0;
    char *colon = strchr(buf, ':'); /* "v4:port" */
    if (!colon || !all_digits(colon + 1, strlen(colon + 1)))
        return -1;
    *colon = '\0';
    if (inet_pton(AF_INET, buf, out->b) != 1)
        return -1;
    out->family = AF_INET;
    return 0;
}

/* Dotted-quad IPv4 as inet_ntop writes it ("%u.%u.%u.%u"), without its sprintf: ttfd formats
 * the client of every request. false when cap is too small. */
static bool format_v4(const uint8_t b[4], char *out, size_t cap)
{
    char buf[16], *p = buf;
    for (int i = 0; i < 4; i++) {
        unsigned v = b[i];
        if (v >= 100)
            *p++ = (char)('0' + v / 100);
        if (v >= 10)
            *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
        *p++ = i < 3 ? '.' : '\0';
    }
    size_t n = (size_t)(p - buf);
    if (n > cap)
        return false;
    memcpy(out, buf, n);
    return true;
}

void access_addr_format(const access_addr *a, char *out, size_t cap)
{
    if (a && a->family == AF_INET && format_v4(a->b, out, cap))
        return;
    if (!a || !a->family || !inet_ntop(a->family, a->b, out, (socklen_t)cap))
        snprintf(out, cap, "unknown");
}

int access_net_parse(const char *s, access_net *out, const char **why)
{
    memset(out, 0, sizeof *out);
    const char *slash = s ? strchr(s, '/') : NULL;
    size_t al = s ? (slash ? (size_t)(slash - s) : strlen(s)) : 0;
    char buf[64];
    if (al == 0 || al >= sizeof buf) {
        *why = "not an address or network";
        return -1;
    }
    memcpy(buf, s, al);
    buf[al] = '\0';
    uint8_t b6[16];
    bool mapped = false;
    if (inet_pton(AF_INET, buf, out->b) == 1) {
        out->family = AF_INET;
    } else if (inet_pton(AF_INET6, buf, b6) == 1) {
        out->family = AF_INET6;
        memcpy(out->b, b6, 16);
        mapped = memcmp(b6, v4_mapped, sizeof v4_mapped) == 0;
    } else {
        *why = "not an IPv4 or IPv6 address or network";
        return -1;
    }
    unsigned max = out->family == AF_INET ? 32 : 128;
    unsigned bits = max;
    if (slash) {
        const char *d = slash + 1;
        size_t dl = strlen(d);
        if (dl == 0 || dl > 3 || strspn(d, "0123456789") != dl || (dl > 1 && d[0] == '0')) {
            *why = "prefix length is not a number";
            return -1;
        }
        bits = (unsigned)atoi(d);
        if (bits > max) {
            *why = "prefix length out of range";
            return -1;
        }
    }
    if (mapped && bits >= 96) { /* ::ffff:10.0.0.0/104 is 10.0.0.0/8 */
        out->family = AF_INET;
        memmove(out->b, b6 + 12, 4);
        memset(out->b + 4, 0, 12);
        bits -= 96;
    }
    out->bits = bits;
    unsigned bytes = out->family == AF_INET ? 4 : 16;
    for (unsigned i = 0; i < bytes; i++) {
        unsigned keep = bits >= 8 * (i + 1) ? 8 : (bits > 8 * i ? bits - 8 * i : 0);
        out->b[i] &= (uint8_t)(keep ? 0xffu << (8 - keep) : 0);
    }
    return 0;
}

bool access_net_contains(const access_net *n, const access_addr *a)
{
    if (!a->family || n->family != a->family)
        return false;
    unsigned full = n->bits / 8, rest = n->bits % 8;
    if (memcmp(n->b, a->b, full) != 0)
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a->b[full] & mask) == n->b[full];
}

void access_net_format(const access_net *n, char *out, size_t cap)
{
    char a[INET6_ADDRSTRLEN];
    if (!inet_ntop(n->family, n->b, a, sizeof a))
        snprintf(a, sizeof a, "?");
    snprintf(out, cap, "%s/%u", a, n->bits);
}

size_t access_rate_key(const access_addr *a, uint8_t out[ACCESS_RATE_KEY_MAX])
{
    if (a->family == AF_INET) {
        out[0] = 4;
        memcpy(out + 1, a->b, 4);
        return 5;
    }
    if (a->family == AF_INET6) {
        out[0] = 6;
        memcpy(out + 1, a->b, 8);
        return 9;
    }
    out[0] = 0;
    return 1;
}

bool access_in_nets(const access_net *v, size_t n, const access_addr *a)
{
    for (size_t i = 0; i < n; i++)
        if (access_net_contains(&v[i], a))
            return true;
    return false;
}

typedef struct hop {
    const char *s;
    size_t n;
} hop;

void access_client_addr(const access_net *trusted, size_t ntrusted, const access_addr *peer,
                        const http_headers *h, access_addr *out)
{
    *out = *peer;
    if (!ntrusted || !h || !access_in_nets(trusted, ntrusted, peer))
        return;
    /* the last XFF_HOPS_MAX hops of every X-Forwarded-For field, in order */
    hop hops[XFF_HOPS_MAX];
    size_t nh = 0, total = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(h->v[i].name, "X-Forwarded-For") != 0)
            continue;
        const char *p = h->v[i].value;
        while (*p) {
            size_t len = strcspn(p, ",");
            const char *q = p;
            size_t ql = len;
            while (ql && (*q == ' ' || *q == '\t'))
                q++, ql--;
            if (ql) { /* empty list elements are ignored (RFC 9110 §5.6.1) */
                hops[total % XFF_HOPS_MAX] = (hop){p, len};
                total++;
            }
            p += len;
            if (*p == ',')
                p++;
        }
    }
    nh = total < XFF_HOPS_MAX ? total : XFF_HOPS_MAX;
    for (size_t k = 0; k < nh; k++) {
        const hop *x = &hops[(total - 1 - k) % XFF_HOPS_MAX];
        access_addr a;
        if (access_addr_parse_hop(x->s, x->n, &a) != 0) {
            memset(out, 0, sizeof *out); /* no address: unknown, in no network */
            return;
        }
        *out = a;
        if (!access_in_nets(trusted, ntrusted, &a))
            return;
    }
}
