/* SPDX-License-Identifier: MIT */
/* proxy.c - the proxy rules (see proxy.h). */
#include "proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "clock.h"
#include "http1_syntax.h"
#include "proto_json.h"
#include "rand_pool.h"

static const unsigned flags[HTTP_H__COUNT] = {
    [HTTP_H_CONNECTION] = PROXY_HOP_BY_HOP | PROXY_UPGRADE,
    [HTTP_H_CONTENT_LENGTH] = PROXY_FRAMING | PROXY_PROTECTED,
    [HTTP_H_EXPECT] = PROXY_DROP_REQUEST,
    [HTTP_H_FORWARDED] = PROXY_FORWARDED,
    [HTTP_H_HOST] = PROXY_PROTECTED,
    [HTTP_H_HTTP2_SETTINGS] = PROXY_HOP_BY_HOP, /* h2c's connection-specific field (RFC 7540) */
    [HTTP_H_KEEP_ALIVE] = PROXY_HOP_BY_HOP,
    [HTTP_H_PROXY_AUTHENTICATE] = PROXY_HOP_BY_HOP,
    [HTTP_H_PROXY_AUTHORIZATION] = PROXY_HOP_BY_HOP,
    [HTTP_H_PROXY_CONNECTION] = PROXY_HOP_BY_HOP,
    [HTTP_H_TE] = PROXY_HOP_BY_HOP,
    [HTTP_H_TRAILER] = PROXY_TRAILER,
    [HTTP_H_TRANSFER_ENCODING] = PROXY_HOP_BY_HOP | PROXY_FRAMING | PROXY_PROTECTED,
    [HTTP_H_UPGRADE] = PROXY_HOP_BY_HOP | PROXY_UPGRADE,
    [HTTP_H_X_FORWARDED_FOR] = PROXY_FORWARDED,
    [HTTP_H_X_FORWARDED_HOST] = PROXY_FORWARDED,
    [HTTP_H_X_FORWARDED_PORT] = PROXY_FORWARDED,
    [HTTP_H_X_FORWARDED_PREFIX] = PROXY_FORWARDED,
    [HTTP_H_X_FORWARDED_PROTO] = PROXY_FORWARDED,
};

unsigned proxy_header_flags(http_name_id id)
{
    return id > 0 && id < HTTP_H__COUNT ? flags[id] : 0;
}

bool proxy_is_hop_by_hop(const char *name)
{
    return proxy_header_flags(http_name_lookup(name, strlen(name))) & PROXY_HOP_BY_HOP;
}

/* The names every Connection field lists (RFC 9110 §7.6.1), sorted for bsearch: a head of many
 * fields is checked in n log n (a walk over every field for each field took ttf 4.5 s of CPU for
 * the 65,535 lines of a local head). */
typedef struct token {
    const char *s;
    size_t n;
} token;

static int token_cmp(const void *a, const void *b)
{
    const token *x = a, *y = b;
    int c = strncasecmp(x->s, y->s, x->n < y->n ? x->n : y->n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* -1 when out of memory; *out NULL when no Connection field names anything. */
static int connection_tokens(const http_headers *h, token **out, size_t *count)
{
    size_t n = 0, cap = 0;
    token *t = NULL;
    for (size_t i = 0; i < h->n; i++) {
        size_t pos = 0, il;
        const char *it;
        while (h->v[i].id == HTTP_H_CONNECTION &&
               http1_list_next(h->v[i].value, h->v[i].vlen, &pos, &it, &il)) {
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                token *grown = realloc(t, cap * sizeof *t);
                if (!grown) {
                    free(t);
                    return -1;
                }
                t = grown;
            }
            t[n++] = (token){it, il};
        }
    }
    if (n > 1)
        qsort(t, n, sizeof *t, token_cmp);
    *out = t;
    *count = n;
    return 0;
}

static bool removed(const http_header *e, const token *named, size_t nnamed, bool keep_upgrade,
                    bool keep_framing, bool keep_trailer)
{
    unsigned f = proxy_header_flags(e->id);
    if (!keep_trailer && (f & PROXY_TRAILER))
        return true;
    if (keep_upgrade && (f & PROXY_UPGRADE))
        return false;
    if (keep_framing && e->id == HTTP_H_TRANSFER_ENCODING)
        return false;
    if (f & PROXY_HOP_BY_HOP)
        return true;
    token key = {e->name, strlen(e->name)};
    return !(f & PROXY_PROTECTED) && nnamed &&
           bsearch(&key, named, nnamed, sizeof *named, token_cmp) != NULL;
}

int proxy_remove_hop_by_hop(http_headers *h, bool keep_upgrade, bool keep_framing,
                            bool keep_trailer)
{
    /* Decide for every entry first: Connection must stay readable until all were checked. */
    bool small[128] = {false};
    bool *del = h->n <= sizeof small / sizeof small[0] ? small : malloc(h->n * sizeof *del);
    token *named = NULL;
    size_t nnamed = 0;
    if (!del || connection_tokens(h, &named, &nnamed) != 0) {
        if (del != small)
            free(del);
        for (size_t i = h->n; i-- > 0;)
            if (proxy_header_flags(h->v[i].id) & (PROXY_HOP_BY_HOP | PROXY_TRAILER))
                http_headers_remove_at(h, i);
        return -1;
    }
    bool any_connection = false;
    for (size_t i = 0; i < h->n; i++) {
        del[i] = removed(&h->v[i], named, nnamed, keep_upgrade, keep_framing, keep_trailer);
        any_connection |= !del[i] && h->v[i].id == HTTP_H_CONNECTION;
    }
    free(named); /* it points into the entries: freed before they go */
    http_headers_remove_marked(h, del);
    if (del != small)
        free(del);
    /* an upgrade keeps Connection for the upgrade only: the other names it listed are gone */
    if (any_connection && http_headers_set(h, "Connection", "Upgrade") != 0)
        return -1;
    return 0;
}

/* Replaces the first entry of that name (keeping its place) and drops the others; appends
 * when absent. */
static int set_in_place(http_headers *h, http_name_id id, const char *value)
{
    size_t at = http_headers_find_id(h, id, 0);
    if (http_headers_add_id(h, id, value, strlen(value)) != 0) /* no second name lookup */
        return -1;
    if (at == h->n - 1) /* it was absent: the new entry is the last */
        return 0;
    http_header added = h->v[h->n - 1];
    h->n--;
    for (size_t i = h->n; i-- > at + 1;)
        if (h->v[i].id == id)
            http_headers_remove_at(h, i);
    http_header old = h->v[at];
    h->v[at] = added;
    if (old.owned)
        free(old.name);
    return 0;
}

/* X-Forwarded-For: every earlier value in order, then the client unless it is already last. */
static int forwarded_for(http_headers *h, const char *client)
{
    /* What is written below: every member and ", " before it, then ", " and the client, then
     * NUL. Members are counted, not the field values: "a,b" is written "a, b", longer. */
    size_t need = (client ? strlen(client) + 2 : 0) + 1;
    for (size_t i = 0; i < h->n; i++) {
        size_t pos = 0, il;
        const char *it;
        if (h->v[i].id != HTTP_H_X_FORWARDED_FOR)
            continue;
        while (http1_list_next(h->v[i].value, h->v[i].vlen, &pos, &it, &il))
            need += il + 2;
    }
    char small[256]; /* the usual list fits: no allocation per request */
    char *xff = need <= sizeof small ? small : malloc(need);
    if (!xff)
        return -1;
    size_t n = 0;
    const char *last = NULL;
    size_t last_len = 0;
    for (size_t i = 0; i < h->n; i++) {
        const http_header *e = &h->v[i];
        size_t pos = 0, il;
        const char *it;
        if (e->id != HTTP_H_X_FORWARDED_FOR)
            continue;
        while (http1_list_next(e->value, e->vlen, &pos, &it, &il)) {
            if (n) {
                memcpy(xff + n, ", ", 2);
                n += 2;
            }
            memcpy(xff + n, it, il);
            last = xff + n;
            last_len = il;
            n += il;
        }
    }
    size_t cl = client ? strlen(client) : 0;
    if (client && cl && !(last && last_len == cl && strncasecmp(last, client, cl) == 0)) {
        if (n) {
            memcpy(xff + n, ", ", 2);
            n += 2;
        }
        memcpy(xff + n, client, cl);
        n += cl;
    }
    xff[n] = '\0';
    int rc = n ? set_in_place(h, HTTP_H_X_FORWARDED_FOR, xff)
               : (http_headers_remove_id(h, HTTP_H_X_FORWARDED_FOR), 0);
    if (xff != small)
        free(xff);
    return rc;
}

/* What a front proxy says of the client's connection (address, scheme, host, port, the target
 * it was sent, its certificate) under names the edge does not write: believed only from a
 * trusted front proxy (docs/protocol.md §4). Traefik's forwardedHeaders list, the client-address
 * fields of CDNs (Cloudflare, Akamai, Fastly) and the scheme fields Rack and PHP apps read. */
typedef struct claim_name {
    const char *name;
    size_t len;
} claim_name;
/* a name and its length, for a claim_name */
#define CLAIM(s) (s), sizeof(s) - 1
static const claim_name claims[] = {
    {CLAIM("Forwarded")},
    {CLAIM("X-Forwarded-Port")},
    {CLAIM("X-Real-IP")},
    {CLAIM("True-Client-IP")},
    {CLAIM("CF-Connecting-IP")},
    {CLAIM("CF-Connecting-IPv6")},
    {CLAIM("X-Client-IP")},
    {CLAIM("Client-IP")},
    {CLAIM("X-Cluster-Client-IP")},
    {CLAIM("Fastly-Client-IP")},
    {CLAIM("X-Forwarded")},
    {CLAIM("Forwarded-For")},
    {CLAIM("X-Original-Forwarded-For")},
    {CLAIM("X-Forwarded-Server")},
    {CLAIM("X-Forwarded-Scheme")},
    {CLAIM("X-Scheme")},
    {CLAIM("X-Forwarded-Ssl")},
    {CLAIM("Front-End-Https")},
    {CLAIM("X-Url-Scheme")},
    {CLAIM("X-Forwarded-Uri")},
    {CLAIM("X-Forwarded-Method")},
    {CLAIM("X-Forwarded-Tls-Client-Cert")},
    {CLAIM("X-Forwarded-Tls-Client-Cert-Info")},
    /* the client's certificate as a TLS-terminating proxy conveys it: RFC 9440 §4 has a proxy
     * remove a client's own, as Envoy's X-Forwarded-Client-Cert (its default SANITIZE) */
    {CLAIM("Client-Cert")},
    {CLAIM("Client-Cert-Chain")},
    {CLAIM("X-Forwarded-Client-Cert")},
    /* the target the front proxy was sent, which Symfony and Zend routed by (CVE-2018-14773:
     * a client's X-Original-URL passed a front proxy's path rules) */
    {CLAIM("X-Original-URL")},
    {CLAIM("X-Rewrite-URL")},
};
/* The names the edge writes itself: their spellings with '_' are claims too. */
static const claim_name edge_written[] = {
    {CLAIM("X-Forwarded-For")},
    {CLAIM("X-Forwarded-Proto")},
    {CLAIM("X-Forwarded-Host")},
    {CLAIM("X-Forwarded-Prefix")},
};

/* Whether name[0..len) is canon with '_' read as '-' (CGI, PHP and WSGI give both spellings one
 * variable, HTTP_X_REAL_IP), case-insensitively; *underscore tells whether it had any '_'. */
static bool same_name(const char *name, size_t len, const char *canon, bool *underscore)
{
    *underscore = false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!canon[i])
            return false;
        if (c == '_') {
            *underscore = true;
            c = '-';
        }
        if (http1_lower(c) != http1_lower(canon[i]))
            return false;
    }
    return canon[len] == '\0';
}

/* Whether e is a client's claim (above) that the rule removes; keep_port keeps X-Forwarded-Port
 * spelled so (the Lambda's: API Gateway writes it). */
static bool client_claim(const http_header *e, bool keep_port)
{
    char c0 = http1_lower(e->name[0]);
    if (e->nlen < 8 || (c0 != 'x' && c0 != 'f' && c0 != 'c' && c0 != 't'))
        return false; /* every name above starts so: most fields need no more */
    bool underscore;
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++)
        if (claims[i].len == e->nlen && same_name(e->name, e->nlen, claims[i].name, &underscore))
            return !(keep_port && !underscore && e->id == HTTP_H_X_FORWARDED_PORT);
    for (size_t i = 0; i < sizeof edge_written / sizeof edge_written[0]; i++)
        if (edge_written[i].len == e->nlen &&
            same_name(e->name, e->nlen, edge_written[i].name, &underscore))
            return underscore;
    return false;
}

void proxy_request_trailers(http_headers *tr)
{
    for (size_t i = tr->n; i-- > 0;)
        if ((proxy_header_flags(tr->v[i].id) & PROXY_FORWARDED) || client_claim(&tr->v[i], false))
            http_headers_remove_at(tr, i);
}

int proxy_request_headers(http_headers *h, const proxy_request *o)
{
    if (proxy_remove_hop_by_hop(h, o->upgrade, o->body_raw, o->trailers) != 0)
        return -1;
    for (size_t i = h->n; i-- > 0;)
        if ((proxy_header_flags(h->v[i].id) & PROXY_DROP_REQUEST) && !o->keep_expect)
            http_headers_remove_at(h, i);
    if (o->body_length >= 0) {
        bool had = http_headers_remove_id(h, HTTP_H_CONTENT_LENGTH) > 0;
        char n[24];
        snprintf(n, sizeof n, "%lld", (long long)o->body_length);
        if ((o->body_length > 0 || had) && set_in_place(h, HTTP_H_CONTENT_LENGTH, n) != 0)
            return -1;
    }
    if (o->authority && set_in_place(h, HTTP_H_HOST, o->authority) != 0)
        return -1;
    /* what goes on is HTTP/1.1: a request without Host (HTTP/1.0) gets an empty one (RFC 9112
     * §3.2: the target has no authority) */
    if (!http_headers_get_id(h, HTTP_H_HOST) && http_headers_add(h, "Host", 4, "", 0) != 0)
        return -1;
    /* believed only from a trusted front proxy: a client's address would be the app's idea of
     * who asked, its scheme, port or host would end up in the app's links, its Forwarded
     * (RFC 7239) would outrank the edge's X-Forwarded-* */
    if (!o->keep_proto)
        for (size_t i = h->n; i-- > 0;)
            if (client_claim(&h->v[i], o->keep_port))
                http_headers_remove_at(h, i);
    if (forwarded_for(h, o->client_ip) != 0)
        return -1;
    const char *proto = o->proto;
    if (o->keep_proto) {
        const char *in = http_headers_get_id(h, HTTP_H_X_FORWARDED_PROTO);
        size_t fields = 0;
        for (size_t i = 0; i < h->n; i++)
            fields += h->v[i].id == HTTP_H_X_FORWARDED_PROTO;
        if (in && fields == 1 && strcasecmp(in, "https") == 0)
            proto = "https";
        else if (in && fields == 1 && strcasecmp(in, "http") == 0)
            proto = "http";
    }
    if (proto && set_in_place(h, HTTP_H_X_FORWARDED_PROTO, proto) != 0)
        return -1;
    const char *host = http_headers_get_id(h, HTTP_H_HOST);
    if (host && *host) {
        /* the value is copied before any entry moves */
        if (set_in_place(h, HTTP_H_X_FORWARDED_HOST, host) != 0)
            return -1;
    } else {
        http_headers_remove_id(h, HTTP_H_X_FORWARDED_HOST);
    }
    if (o->loop_mark && http_headers_add(h, "CDN-Loop", 8, o->loop_mark, strlen(o->loop_mark)))
        return -1;
    if (o->prefix)
        return set_in_place(h, HTTP_H_X_FORWARDED_PREFIX, o->prefix);
    http_headers_remove_id(h, HTTP_H_X_FORWARDED_PREFIX);
    return 0;
}

/* Writes b[0..n) as 2n lower-case hex digits at o (no terminator); returns o + 2n. */
static char *put_hex(char *o, const unsigned char *b, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    return o;
}

int proxy_loop_mark(char out[PROXY_LOOP_MARK_LEN + 1], const void *key, size_t key_len,
                    const char *name)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)name, strlen(name), md,
              &mdlen) ||
        mdlen < 8)
        return -1;
    char *o = out + snprintf(out, PROXY_LOOP_MARK_LEN + 1, "http-tunnel-");
    *put_hex(o, md, 8) = '\0';
    return 0;
}

bool proxy_loop_seen(const http_headers *h, const char *mark)
{
    size_t ml = strlen(mark);
    for (size_t i = 0; i < h->n; i++) {
        const http_header *e = &h->v[i];
        if (e->nlen != 8 || strncasecmp(e->name, "CDN-Loop", 8) != 0)
            continue;
        size_t pos = 0, il;
        const char *it;
        while (http1_list_next(e->value, e->vlen, &pos, &it, &il)) {
            size_t id = strcspn(it, "; \t");
            if ((id < il ? id : il) == ml && strncasecmp(it, mark, ml) == 0)
                return true;
        }
    }
    return false;
}

bool proxy_websocket_upgrade(const http_headers *h)
{
    return http_headers_has_token(h, "Connection", "upgrade") &&
           http_headers_has_token(h, "Upgrade", "websocket") &&
           !http_headers_has_token(h, "Upgrade", "h2c");
}

int proxy_response_headers(http_headers *h, const proxy_response *o)
{
    bool upgrade = o->upgrade && o->status == 101;
    /* Transfer-Encoding overrides Content-Length, which must not go on (RFC 9112 §6.3) */
    if (http_headers_count_id(h, HTTP_H_TRANSFER_ENCODING) > 0)
        http_headers_remove_id(h, HTTP_H_CONTENT_LENGTH);
    if (proxy_remove_hop_by_hop(h, upgrade, o->body_raw, o->trailers) != 0)
        return -1;
    if (proxy_status_interim(o->status) || o->status == 204) {
        http_headers_remove_id(h, HTTP_H_CONTENT_LENGTH);
        http_headers_remove_id(h, HTTP_H_TRANSFER_ENCODING);
    }
    return proxy_response_date(h, o->status, o->date);
}

int proxy_response_date(http_headers *h, int status, const char *date)
{
    size_t first = http_headers_find_id(h, HTTP_H_DATE, 0);
    if (first < h->n) {
        int64_t t;
        const http_header *e = &h->v[first];
        if (http_headers_find_id(h, HTTP_H_DATE, first + 1) == h->n &&
            clock_parse_http_date(e->value, e->vlen, &t))
            return 0; /* one HTTP-date: as the local service sent it */
    }
    bool mine = date && *date && proxy_status_final(status);
    if (first < h->n && mine)
        return set_in_place(h, HTTP_H_DATE, date);
    http_headers_remove_id(h, HTTP_H_DATE);
    return mine ? http_headers_add_id(h, HTTP_H_DATE, date, strlen(date)) : 0;
}

int proxy_request_id(char out[PROXY_REQUEST_ID_LEN + 1], rand_pool *pool)
{
    unsigned char r[16];
    if (rand_pool_bytes(pool, r, sizeof r) != 0)
        return -1;
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    char *o = out;
    for (size_t i = 0; i < sizeof r; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        o = put_hex(o, &r[i], 1);
    }
    *o = '\0';
    return 0;
}

size_t proxy_json_first_piece(size_t encoded_len)
{
    const size_t max_msg = TTF_JSON_MAX_MSG, chunk = TTF_JSON_CHUNK;
    if (encoded_len + PROXY_JSON_SLACK >= max_msg)
        return 0;
    size_t cap = (max_msg - encoded_len - PROXY_JSON_SLACK) / 4 * 3;
    return cap < chunk ? cap : chunk;
}

/* Refresh's value v[0..n) with the URL after "url=" replaced by map's answer, malloc'd; NULL
 * when there is no URL, map leaves it, or out of memory. */
static char *refresh_map(const char *v, size_t n, proxy_url_map map, void *ud)
{
    for (size_t i = 0; i + 4 <= n; i++) {
        if (strncasecmp(v + i, "url=", 4) != 0)
            continue;
        size_t s = i + 4;
        char q = s < n && (v[s] == '\'' || v[s] == '"') ? v[s] : 0;
        s += q ? 1 : 0;
        size_t e = s;
        while (e < n && (q ? v[e] != q : v[e] != ' ' && v[e] != ';'))
            e++;
        char *u = map(ud, v + s, e - s);
        if (!u)
            return NULL;
        size_t ul = strlen(u);
        char *out = malloc(s + ul + (n - e) + 1);
        if (out) {
            memcpy(out, v, s);
            memcpy(out + s, u, ul);
            memcpy(out + s + ul, v + e, n - e);
            out[s + ul + n - e] = '\0';
        }
        free(u);
        return out;
    }
    return NULL;
}

int proxy_map_url_fields(http_headers *h, proxy_url_map map, void *ud)
{
    for (size_t i = 0; i < h->n; i++) {
        const http_header *e = &h->v[i];
        char *nv = NULL;
        if (e->id == HTTP_H_LOCATION || e->id == HTTP_H_CONTENT_LOCATION)
            nv = map(ud, e->value, e->vlen);
        else if (e->nlen == 7 && strncasecmp(e->name, "Refresh", 7) == 0)
            nv = refresh_map(e->value, e->vlen, map, ud);
        if (!nv)
            continue;
        int rc = http_headers_replace_at(h, i, nv, strlen(nv));
        free(nv);
        if (rc != 0)
            return -1;
    }
    return 0;
}

bool proxy_method_idempotent(const char *method)
{
    static const char *const m[] = {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (strcmp(method, m[i]) == 0)
            return true;
    return false;
}

/* Whether the Set-Cookie value v[0..n) has a Domain attribute naming domain or a parent of it. */
static bool cookie_domain_shared(const char *v, size_t n, const char *domain)
{
    const char *d = NULL; /* the last Domain attribute's value */
    size_t dl = 0;
    const char *p = memchr(v, ';', n), *end = v + n;
    while (p && p < end) {
        const char *a = p + 1, *semi = memchr(a, ';', (size_t)(end - a));
        const char *ae = semi ? semi : end, *eq = memchr(a, '=', (size_t)(ae - a));
        const char *ne = eq ? eq : ae;
        while (a < ne && (*a == ' ' || *a == '\t'))
            a++;
        while (ne > a && (ne[-1] == ' ' || ne[-1] == '\t'))
            ne--;
        if (eq && ne - a == 6 && strncasecmp(a, "Domain", 6) == 0) {
            const char *s = eq + 1, *e = ae;
            while (s < e && (*s == ' ' || *s == '\t'))
                s++;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if (s < e && *s == '.')
                s++;
            if (s < e) { /* an empty value is ignored (§5.2.3) */
                d = s;
                dl = (size_t)(e - s);
            }
        }
        p = semi;
    }
    /* one trailing dot on either side, the names compared (a browser at "id.t.example." keeps a
     * "t.example." cookie for every tunnel there); a ":port" of the configured name dropped */
    size_t n_dom = domain[0] == '[' ? strlen(domain) : strcspn(domain, ":");
    if (n_dom && domain[n_dom - 1] == '.')
        n_dom--;
    if (dl && d[dl - 1] == '.')
        dl--;
    if (!d || !dl || dl > n_dom || strncasecmp(domain + n_dom - dl, d, dl) != 0)
        return false;
    return dl == n_dom || domain[n_dom - dl - 1] == '.';
}

/* Whether e is a Clear-Site-Data field naming "cookies" or "*" (W3C Clear Site Data §3.1), in
 * any case, quoted or not: a browser more lenient than the grammar must not find one left. */
static bool clears_cookies(const http_header *e)
{
    if (e->nlen != 15 || strncasecmp(e->name, "Clear-Site-Data", 15) != 0)
        return false;
    size_t pos = 0, il;
    const char *it;
    while (http1_list_next(e->value, e->vlen, &pos, &it, &il)) {
        if (il >= 2 && it[0] == '"' && it[il - 1] == '"')
            it++, il -= 2;
        if ((il == 7 && strncasecmp(it, "cookies", 7) == 0) || (il == 1 && it[0] == '*'))
            return true;
    }
    return false;
}

size_t proxy_cookie_scope(http_headers *h, const char *domain)
{
    size_t removed = 0;
    for (size_t i = h->n; domain && *domain && i-- > 0;)
        if ((h->v[i].id == HTTP_H_SET_COOKIE &&
             cookie_domain_shared(h->v[i].value, h->v[i].vlen, domain)) ||
            clears_cookies(&h->v[i])) {
            http_headers_remove_at(h, i);
            removed++;
        }
    return removed;
}
