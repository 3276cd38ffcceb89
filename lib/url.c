/* SPDX-License-Identifier: MIT */
/* url.c - endpoint URL parsing and percent-encoding (see url.h). */
#include "url.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int parse_port(const char *s, size_t n, int *port)
{
    if (n == 0 || n > 5)
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = v;
    return 0;
}

int tunnel_url_parse(const char *s, tunnel_url *out)
{
    if (!s || !out)
        return -1;
    memset(out, 0, sizeof *out);

    const char *sep = strstr(s, "://");
    if (!sep)
        return -1;
    size_t slen = (size_t)(sep - s);
    if ((slen == 2 && strncasecmp(s, "ws", 2) == 0) ||
        (slen == 4 && strncasecmp(s, "http", 4) == 0))
        out->tls = false;
    else if ((slen == 3 && strncasecmp(s, "wss", 3) == 0) ||
             (slen == 5 && strncasecmp(s, "https", 5) == 0))
        out->tls = true;
    else
        return -1;
    out->port = out->tls ? 443 : 80;

    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *rest = auth + alen;
    if (alen == 0 || memchr(auth, '@', alen)) /* no host; userinfo is not supported */
        return -1;

    const char *host;
    size_t hlen;
    const char *after; /* what follows the host inside the authority */
    if (auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        if (!close)
            return -1;
        host = auth + 1;
        hlen = (size_t)(close - host);
        after = close + 1;
        for (size_t i = 0; i < hlen; i++) {
            char c = host[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                  c == ':' || c == '.'))
                return -1;
        }
    } else {
        host = auth;
        const char *colon = memchr(auth, ':', alen);
        hlen = colon ? (size_t)(colon - auth) : alen;
        after = auth + hlen;
        for (size_t i = 0; i < hlen; i++) {
            unsigned char c = (unsigned char)host[i];
            if (c <= ' ' || c == '[' || c == ']' || c == '\\' || c >= 0x7f)
                return -1;
        }
    }
    if (hlen == 0 || hlen >= sizeof out->host)
        return -1;
    size_t tail = (size_t)(auth + alen - after);
    if (tail > 0) {
        if (after[0] != ':')
            return -1;
        /* "host:" with an empty port keeps the default (RFC 3986 §3.2.3). */
        if (tail > 1 && parse_port(after + 1, tail - 1, &out->port) != 0)
            return -1;
    }
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';

    /* Path and query, without any fragment; "/" when empty. */
    size_t plen = strcspn(rest, "#");
    size_t need = plen + (plen == 0 || rest[0] == '?' ? 1 : 0);
    if (need >= sizeof out->path)
        return -1;
    size_t o = 0;
    if (plen == 0 || rest[0] == '?')
        out->path[o++] = '/';
    memcpy(out->path + o, rest, plen);
    out->path[o + plen] = '\0';
    for (size_t i = 0; i < o + plen; i++) {
        unsigned char c = (unsigned char)out->path[i];
        if (c <= ' ' || c == 0x7f)
            return -1; /* would break the request line */
    }
    return 0;
}

size_t url_pct_encode_into(char *out, const char *s, size_t n, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    char *o = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            (c != 0 && strchr(keep, c) != NULL)) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return (size_t)(o - out);
}

char *url_pct_encode(const char *s, size_t n, const char *keep)
{
    char *out = malloc(n * 3 + 1);
    if (out)
        url_pct_encode_into(out, s, n, keep);
    return out;
}
