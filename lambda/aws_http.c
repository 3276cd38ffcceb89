/* SPDX-License-Identifier: MIT */
/* aws_http.c - libcurl easy handle per client; SigV4 by libcurl. */
#include "aws_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "url.h"

int aws_sigv4_param(char *out, size_t cap, const char *region, const char *service)
{
    if (!region || !service || !*region || !*service || strchr(region, ':') || strchr(service, ':'))
        return -1;
    int n = snprintf(out, cap, "aws:amz:%s:%s", region, service);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

const char *aws_find_ca_bundle(void)
{
    const char *env = getenv("SSL_CERT_FILE");
    if (env && *env && access(env, R_OK) == 0)
        return env;
    static const char *const paths[] = {"/etc/ssl/certs/ca-certificates.crt",
                                        "/etc/pki/tls/certs/ca-bundle.crt",
                                        "/etc/ssl/certs/ca-bundle.crt", "/etc/ssl/cert.pem"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (access(paths[i], R_OK) == 0)
            return paths[i];
    return NULL;
}

int aws_client_init(aws_client *c, const char *region, const char *service, const char *key,
                    const char *secret, const char *session_token, long timeout_ms)
{
    memset(c, 0, sizeof *c);
    c->timeout_ms = timeout_ms;
    c->max_resp = (size_t)32 * 1024 * 1024;
    if (service) {
        if (aws_sigv4_param(c->sigv4, sizeof c->sigv4, region, service) < 0)
            return -1;
        c->key = strdup(key ? key : "");
        c->secret = strdup(secret ? secret : "");
        if (!c->key || !c->secret)
            goto fail;
        if (session_token && *session_token) {
            size_t n = strlen(session_token) + 32;
            c->token_hdr = malloc(n);
            if (!c->token_hdr)
                goto fail;
            snprintf(c->token_hdr, n, "X-Amz-Security-Token: %s", session_token);
        }
    }
    c->cainfo = aws_find_ca_bundle();
    c->curl = curl_easy_init();
    if (!c->curl)
        goto fail;
    return 0;
fail:
    aws_client_free(c);
    return -1;
}

void aws_client_init_transport(aws_client *c, const aws_transport *t)
{
    memset(c, 0, sizeof *c);
    c->transport = t;
    c->max_resp = (size_t)32 * 1024 * 1024;
}

void aws_client_free(aws_client *c)
{
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->key);
    free(c->secret);
    free(c->token_hdr);
    memset(c, 0, sizeof *c);
}

static bool unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '.' || ch == '~';
}

int aws_canonical_split(const char *url, char **canon_url, char **target)
{
    *canon_url = *target = NULL;
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    if (!p)
        return 0;
    size_t plen = strcspn(p, "?#");
    bool plain = true;
    for (size_t i = 0; i < plen; i++)
        if (p[i] != '/' && !unreserved((unsigned char)p[i]))
            plain = false;
    if (plain)
        return 0; /* the canonical path is the path itself */
    size_t pre = (size_t)(p - url);
    char *cu = malloc(pre + plen * 3 + strlen(p + plen) + 1);
    char *tg = strdup(p);
    if (!cu || !tg) {
        free(cu);
        free(tg);
        return -1;
    }
    memcpy(cu, url, pre);
    char *o = cu + pre;
    o += url_pct_encode_into(o, p, plen, "-._~/");
    strcpy(o, p + plen);
    *canon_url = cu;
    *target = tg;
    return 0;
}

typedef struct sink {
    char *buf;
    size_t len, cap, max;
    bool over;
} sink;

static size_t sink_put(sink *s, const char *p, size_t n)
{
    if (s->len + n + 1 > s->max) {
        s->over = true;
        return 0; /* makes libcurl abort the transfer */
    }
    if (s->len + n + 1 > s->cap) {
        size_t nc = s->cap ? s->cap : 1024;
        while (nc < s->len + n + 1)
            nc *= 2;
        char *nb = realloc(s->buf, nc);
        if (!nb)
            return 0;
        s->buf = nb;
        s->cap = nc;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    return sink_put(ud, p, size * nmemb);
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    return sink_put(ud, p, size * nmemb);
}

int aws_call(aws_client *c, const char *method, const char *url, const char *const *headers,
             const void *body, size_t len, aws_resp *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    if (c->transport)
        return c->transport->call(c->transport->ud, method, url, headers, body, len, out, err,
                                  errcap);
    CURL *h = c->curl;
    /* reset keeps the live connections, only options go */
    curl_easy_reset(h);
    sink bs = {.max = c->max_resp}, hs = {.max = (size_t)256 * 1024};
    struct curl_slist *hl = NULL;
    int rc = -1;
    for (size_t i = 0; headers && headers[i]; i++) {
        struct curl_slist *n = curl_slist_append(hl, headers[i]);
        if (!n)
            goto done;
        hl = n;
    }
    if (c->token_hdr) {
        struct curl_slist *n = curl_slist_append(hl, c->token_hdr);
        if (!n)
            goto done;
        hl = n;
    }
    /* libcurl adds "Expect: 100-continue" to POSTs over 1 MiB (a lost round trip). Only the
     * unsigned Runtime API sends such bodies; libcurl's SigV4 would sign the emptied header. */
    if (!c->sigv4[0]) {
        struct curl_slist *n = curl_slist_append(hl, "Expect:");
        if (!n)
            goto done;
        hl = n;
    }

    /* libcurl 7.88 signs the URL's path verbatim, while AWS canonicalises a non-S3 path by
     * encoding each segment once more ("@connections/ab%3D" -> "%40connections/ab%253D"). So the
     * URL given to libcurl carries the canonical path (what gets signed) and the request line
     * the real one (CURLOPT_REQUEST_TARGET). */
    char *canon_url = NULL, *target = NULL;
    if (c->sigv4[0] && aws_canonical_split(url, &canon_url, &target) < 0) {
        snprintf(err, errcap, "out of memory");
        goto done;
    }
    curl_easy_setopt(h, CURLOPT_URL, canon_url ? canon_url : url);
    if (target)
        curl_easy_setopt(h, CURLOPT_REQUEST_TARGET, target);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* HTTP/1.1 over http/https only: the bootstrap's static libcurl has no HTTP/2, no other
     * protocol (lambda/curl_stubs.sh); AWS's endpoints speak HTTP/1.1 */
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &bs);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &hs);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (c->cainfo)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->cainfo);
    if (c->timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    if (c->sigv4[0]) {
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, c->sigv4);
        curl_easy_setopt(h, CURLOPT_USERNAME, c->key);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret);
    }
    if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
        if (strcmp(method, "PUT") == 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode cr = curl_easy_perform(h);
    free(canon_url);
    free(target);
    if (cr != CURLE_OK) {
        snprintf(err, errcap, "%s %s: %s", method, url,
                 bs.over ? "response too large" : curl_easy_strerror(cr));
        free(bs.buf);
        free(hs.buf);
        goto done;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    out->body = bs.buf ? bs.buf : strdup("");
    out->len = bs.len;
    out->hdrs = hs.buf ? hs.buf : strdup("");
    out->hlen = hs.len;
    if (!out->body || !out->hdrs) {
        aws_resp_free(out);
        snprintf(err, errcap, "out of memory");
        goto done;
    }
    rc = 0;
done:
    curl_slist_free_all(hl);
    return rc;
}

void aws_resp_free(aws_resp *r)
{
    free(r->body);
    free(r->hdrs);
    memset(r, 0, sizeof *r);
}

int aws_resp_header(const aws_resp *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = r->hdrs;
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        const char *end = eol ? eol : p + strlen(p);
        if ((size_t)(end - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            size_t vl = (size_t)(end - v);
            while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            if (vl + 1 > cap)
                return -1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return 0;
        }
        p = eol ? eol + 2 : NULL;
    }
    return -1;
}

char *aws_path_escape(const char *s)
{
    return url_pct_encode(s, strlen(s), "-._~");
}
