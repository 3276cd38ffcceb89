/* SPDX-License-Identifier: MIT */
/* rewrite.c - Host toward the local service and redirects back (see rewrite.h). */
#include "rewrite.h"

#include "proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void rewrite_host_init(rewrite_host *rh, host_header_mode mode, const char *name, const char *host,
                       int port)
{
    memset(rh, 0, sizeof *rh);
    rh->mode = mode;
    rh->name = name;
    rh->host = host;
    rh->port = port;
    if (strchr(host, ':') && host[0] != '[')
        snprintf(rh->hostport, sizeof rh->hostport, "[%s]:%d", host, port);
    else
        snprintf(rh->hostport, sizeof rh->hostport, "%s:%d", host, port);
}

/* The value of the last field of that name (a proxy appends), NULL when absent. */
static const http_header *last_of(const http_headers *h, const char *name)
{
    const http_header *found = NULL;
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(h->v[i].name, name) == 0)
            found = &h->v[i];
    }
    return found;
}

static char *public_base_of(const http_headers *h)
{
    const http_header *proto = last_of(h, "X-Forwarded-Proto");
    const http_header *host = last_of(h, "X-Forwarded-Host");
    const http_header *prefix = last_of(h, "X-Forwarded-Prefix");
    if (!host || host->vlen == 0)
        host = last_of(h, "Host");
    if (!host || host->vlen == 0 || !http1_valid_authority(host->value, host->vlen, false, false))
        return NULL;
    const char *scheme = proto && strcasecmp(proto->value, "https") == 0 ? "https" : "http";
    const char *pre = "";
    if (prefix && prefix->value[0] == '/' && strcspn(prefix->value, " \t?#") == prefix->vlen) {
        pre = prefix->value;
        if (strcmp(pre, "/") == 0)
            pre = "";
    }
    size_t cap = strlen(scheme) + 3 + host->vlen + strlen(pre) + 1;
    char *base = malloc(cap);
    if (base)
        snprintf(base, cap, "%s://%s%s", scheme, host->value, pre);
    return base;
}

int rewrite_request_host(const rewrite_host *rh, http_headers *h, char **public_base)
{
    if (public_base)
        *public_base = NULL;
    switch (rh->mode) {
    case HOST_HEADER_REWRITE:
        if (public_base)
            *public_base = public_base_of(h);
        return http_headers_set(h, "Host", rh->hostport);
    case HOST_HEADER_NAME:
        return http_headers_set(h, "Host", rh->name);
    default:
        return 0;
    }
}

/* "localhost", 127.0.0.0/8 and ::1, with or without brackets. */
static bool is_loopback(const char *s, size_t n)
{
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    if ((n == 9 && strncasecmp(s, "localhost", 9) == 0) || (n == 3 && memcmp(s, "::1", 3) == 0))
        return true;
    if (n < 4 || n > 15 || strncmp(s, "127.", 4) != 0)
        return false;
    int dots = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.')
            dots++;
        else if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return dots == 3;
}

static bool same_host(const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b);
    if (an >= 2 && a[0] == '[' && a[an - 1] == ']') {
        a++;
        an -= 2;
    }
    if (bn >= 2 && b[0] == '[' && b[bn - 1] == ']') {
        b++;
        bn -= 2;
    }
    return an == bn && strncasecmp(a, b, an) == 0;
}

char *rewrite_local_url(const rewrite_host *rh, const char *public_base, const char *url,
                        size_t len)
{
    if (!public_base)
        return NULL;
    size_t off;
    int default_port;
    if (len >= 7 && strncasecmp(url, "http://", 7) == 0) {
        off = 7;
        default_port = 80;
    } else if (len >= 8 && strncasecmp(url, "https://", 8) == 0) {
        off = 8;
        default_port = 443;
    } else if (len >= 2 && url[0] == '/' && url[1] == '/') {
        off = 2;
        default_port = 80; /* the local service speaks http */
    } else {
        return NULL;
    }
    size_t end = off;
    while (end < len && url[end] != '/' && url[end] != '?' && url[end] != '#')
        end++;
    const char *auth = url + off;
    size_t alen = end - off;
    if (memchr(auth, '@', alen)) /* userinfo: not a plain local address */
        return NULL;
    /* host [":" port]; an IPv6 literal keeps its colons inside brackets */
    size_t hlen = alen;
    const char *colon = NULL;
    if (alen > 0 && auth[0] == '[') {
        const char *rb = memchr(auth, ']', alen);
        if (!rb)
            return NULL;
        hlen = (size_t)(rb - auth) + 1;
        if (hlen < alen) {
            if (auth[hlen] != ':')
                return NULL;
            colon = auth + hlen;
        }
    } else {
        colon = memchr(auth, ':', alen);
        if (colon)
            hlen = (size_t)(colon - auth);
    }
    int port = default_port;
    if (colon) {
        const char *p = colon + 1;
        size_t pl = alen - (size_t)(p - auth);
        if (pl == 0 || pl > 5)
            return NULL;
        port = 0;
        for (size_t i = 0; i < pl; i++) {
            if (p[i] < '0' || p[i] > '9')
                return NULL;
            port = port * 10 + (p[i] - '0');
        }
    }
    if (port != rh->port)
        return NULL;
    bool local = same_host(auth, hlen, rh->host) ||
                 (is_loopback(rh->host, strlen(rh->host)) && is_loopback(auth, hlen));
    if (!local)
        return NULL;
    const char *rest = url + end;
    size_t rlen = len - end;
    bool slash = rlen == 0 || rest[0] != '/';
    size_t blen = strlen(public_base);
    char *out = malloc(blen + 1 + rlen + 1);
    if (!out)
        return NULL;
    memcpy(out, public_base, blen);
    size_t o = blen;
    if (slash)
        out[o++] = '/';
    memcpy(out + o, rest, rlen);
    out[o + rlen] = '\0';
    return out;
}

typedef struct url_ctx {
    const rewrite_host *rh;
    const char *base;
} url_ctx;

/* proxy_url_map for the URL fields: the URL through rewrite_local_url. */
static char *local_url(void *ud, const char *url, size_t len)
{
    const url_ctx *c = ud;
    return rewrite_local_url(c->rh, c->base, url, len);
}

int rewrite_response_location(const rewrite_host *rh, const char *public_base, http_headers *h)
{
    if (rh->mode != HOST_HEADER_REWRITE || !public_base)
        return 0;
    return proxy_map_url_fields(h, local_url, &(url_ctx){rh, public_base});
}
