/* SPDX-License-Identifier: MIT */
/* path_rewrite_head.c - path mode, what a rewritten body changes in its response head
 * (path_rewrite_response_head in path_rewrite.h): one decision for answers with and without a
 * body, for ttfd and the Lambda. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http1_headers.h"
#include "path_rewrite.h"

/* A strong entity-tag ("x") becomes weak (W/"x"); a weak one, or a malformed value, stays. */
static int weaken_etag(http_headers *h)
{
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(h->v[i].name, "ETag") != 0)
            continue;
        const char *v = h->v[i].value;
        size_t n = strlen(v);
        if (n < 2 || v[0] != '"' || v[n - 1] != '"')
            continue; /* W/"x" already, or not an entity-tag */
        char *w = malloc(n + 3);
        if (!w)
            return -1;
        memcpy(w, "W/", 2);
        memcpy(w + 2, v, n + 1);
        int rc = http_headers_replace_at(h, i, w, n + 2);
        free(w);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Whether the media type of ct (before any ';') is a JavaScript MIME type (WHATWG MIME Sniffing
 * §4.6, RFC 9239): one a browser registers a service worker from. */
static bool javascript(const char *ct)
{
    static const char *const types[] = {
        "text/javascript",    "application/javascript", "application/x-javascript",
        "text/ecmascript",    "application/ecmascript", "application/x-ecmascript",
        "text/x-ecmascript",  "text/x-javascript",      "text/jscript",
        "text/livescript",    "text/javascript1.0",     "text/javascript1.1",
        "text/javascript1.2", "text/javascript1.3",     "text/javascript1.4",
        "text/javascript1.5"};
    size_t n = ct ? strcspn(ct, ";") : 0;
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strlen(types[i]) == n && strncasecmp(ct, types[i], n) == 0)
            return true;
    return false;
}

/* Whether the path v is one a browser resolves as written (WHATWG URL's path state): no "." or
 * ".." segment (spelled "%2e" too, any case), no '\\' (a '/' in http URLs), no tab or newline
 * (dropped before parsing). Else "/<id>/../" would resolve to "/". */
static bool plain_path(const char *v)
{
    const char *seg = v;
    for (const char *p = v;; p++) {
        if (*p == '\\' || *p == '\t' || *p == '\n' || *p == '\r' ||
            (p[0] == '%' && p[1] == '2' && (p[2] == 'e' || p[2] == 'E')))
            return false;
        if (*p == '/' || *p == '?' || *p == '#' || !*p) {
            size_t n = (size_t)(p - seg);
            if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
                return false;
            if (*p != '/')
                return true; /* a query or fragment is not part of the path */
            seg = p + 1;
        }
    }
}

/* Whether v, h's first Service-Worker-Allowed, is its only one (a browser joins several). */
static bool one_field(const http_headers *h, const char *v)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i].value != v && h->v[i].nlen == 22 &&
            strncasecmp(h->v[i].name, "Service-Worker-Allowed", 22) == 0)
            return false;
    return true;
}

/* Path routing gives every tunnel one origin: a service worker registered from "/<id>" (whose
 * directory is "/") or one its app allowed "/" would control every tunnel's pages in that
 * browser, for good (W3C Service Workers: a registration's scope must lie under the script's
 * Service-Worker-Allowed, else under the script's directory). A script answer gets
 * Service-Worker-Allowed "/<id>/", an app's own path value goes under it. 0 or -1 (ENOMEM). */
static int confine_workers(const char *tid, const char *ct, http_headers *h)
{
    const char *v = http_headers_get(h, "Service-Worker-Allowed");
    if (!v && !javascript(ct))
        return 0;
    size_t tl = strlen(tid);
    /* an absolute path, not a URL, that stays where it points */
    bool path = v && v[0] == '/' && v[1] != '/' && plain_path(v) && one_field(h, v);
    if (path && strncmp(v + 1, tid, tl) == 0 && v[1 + tl] == '/')
        return 0; /* under the prefix already */
    size_t vl = path ? strlen(v) : 1;
    char *nv = malloc(tl + vl + 2);
    if (!nv)
        return -1;
    nv[0] = '/';
    memcpy(nv + 1, tid, tl);
    memcpy(nv + 1 + tl, path ? v : "/", vl + 1);
    int rc = http_headers_set(h, "Service-Worker-Allowed", nv);
    free(nv);
    return rc;
}

int path_rewrite_response_head(const char *tid, int status, bool bodiless, http_headers *h)
{
    if (path_rewrite_head_urls(tid, h) != 0)
        return -1;
    if (confine_workers(tid, http_headers_get_id(h, HTTP_H_CONTENT_TYPE), h) != 0)
        return -1;
    /* every path-routed tunnel is one origin: "storage", "cache" or "executionContexts" would
     * clear or reload every tunnel's (W3C Clear Site Data §4.2 acts on the origin) */
    http_headers_remove(h, "Clear-Site-Data");
    const char *ct = http_headers_get_id(h, HTTP_H_CONTENT_TYPE); /* after the entries moved */
    path_rewrite_kind k =
        path_rewrite_kind_for(ct, http_headers_get_id(h, HTTP_H_CONTENT_ENCODING));
    if (status == 206)
        return PATH_RW_NONE;
    if (status == 304 && !ct)
        return weaken_etag(h) != 0 ? -1 : PATH_RW_NONE;
    if (!path_rewrite_changes(k))
        return PATH_RW_NONE;
    http_headers_remove_id(h, HTTP_H_CONTENT_LENGTH);
    http_headers_remove(h, "Content-MD5");
    if (weaken_etag(h) != 0 || http_headers_set(h, "X-Tunnel-Rewrite-Applied", "true") != 0)
        return -1;
    return bodiless ? PATH_RW_NONE : (int)k;
}
