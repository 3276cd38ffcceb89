/* SPDX-License-Identifier: MIT */
/* rewrite.c - single-pass scanners for HTML, CSS and JSON bodies. */
#include "rewrite.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct obuf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} obuf;

static void put(obuf *b, const void *d, size_t n)
{
    if (b->oom || n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n)
            nc *= 2;
        uint8_t *np = realloc(b->p, nc);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void puts_(obuf *b, const char *s)
{
    put(b, s, strlen(s));
}

rewrite_kind rewrite_kind_for(const char *ct, const char *ce)
{
    if (ce) {
        /* only an absent, empty or exactly "identity" coding leaves the body readable: a list
         * such as "identity, gzip" (RFC 9110 §8.4) is still compressed */
        while (*ce == ' ' || *ce == '\t')
            ce++;
        size_t cl = strlen(ce);
        while (cl && (ce[cl - 1] == ' ' || ce[cl - 1] == '\t'))
            cl--;
        if (cl && (cl != 8 || strncasecmp(ce, "identity", 8) != 0))
            return RW_NONE;
    }
    if (!ct)
        return RW_NONE;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, "; \t");
    struct {
        const char *mime;
        rewrite_kind k;
    } const map[] = {{"text/html", RW_HTML},
                     {"text/css", RW_CSS},
                     {"application/json", RW_JSON},
                     {"application/javascript", RW_JS},
                     {"text/javascript", RW_JS}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i].mime) == n && strncasecmp(ct, map[i].mime, n) == 0)
            return map[i].k;
    return RW_NONE;
}

/* True when v[0..n) is an absolute path not already under /<tid> ("/<tid>", "/<tid>/...",
 * "/<tid>?..", "/<tid>#.."). */
static bool needs_prefix(const char *tid, const char *v, size_t n)
{
    if (n < 1 || v[0] != '/' || (n >= 2 && v[1] == '/'))
        return false;
    size_t tl = strlen(tid);
    if (n >= tl + 1 && memcmp(v + 1, tid, tl) == 0 &&
        (n == tl + 1 || v[tl + 1] == '/' || v[tl + 1] == '?' || v[tl + 1] == '#'))
        return false;
    return true;
}

static bool has_prefix_ci(const char *v, size_t n, const char *p)
{
    size_t pl = strlen(p);
    return n >= pl && strncasecmp(v, p, pl) == 0;
}

static bool api_like(const char *v, size_t n, bool with_todos)
{
    static const char *const pre[] = {"/api", "/docs", "/openapi", "/swagger",
                                      "/v1",  "/v2",   "/v3",      "/todos"};
    size_t cnt = sizeof pre / sizeof pre[0] - (with_todos ? 0 : 1);
    for (size_t i = 0; i < cnt; i++)
        if (has_prefix_ci(v, n, pre[i]))
            return true;
    return false;
}

static bool ends_with(const char *v, size_t n, const char *s)
{
    size_t sl = strlen(s);
    return n >= sl && memcmp(v + n - sl, s, sl) == 0;
}

/* Characters of a literal path: [A-Za-z0-9/_.-]. */
static size_t path_run(const char *s, size_t n, bool allow_dot)
{
    size_t i = 0;
    while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '/' || s[i] == '_' || s[i] == '-' ||
                     (allow_dot && s[i] == '.')))
        i++;
    return i;
}

static void put_prefix(obuf *b, const char *tid)
{
    puts_(b, "/");
    puts_(b, tid);
}

static void inject_context(obuf *b, const char *tid)
{
    char s[600];
    snprintf(s, sizeof s,
             "<script>window.__TUNNEL_CONTEXT__={tunnelId:'%s',basePath:'/%s',"
             "url:function(p){p=String(p);return '/%s'+(p.charAt(0)==='/'?p:'/'+p);},"
             "getBaseUrl:function(){return window.location.origin+'/%s';}};"
             "window.__TUNNEL_BASE_PATH__='/%s';</script>",
             tid, tid, tid, tid, tid);
    puts_(b, s);
}

/* Offset just after the '>' of the first <tag ...> (case-insensitive), or 0 when none. */
static size_t after_tag(const char *s, size_t n, const char *tag)
{
    size_t tl = strlen(tag);
    for (size_t i = 0; i + tl + 1 < n; i++) {
        if (s[i] == '<' && strncasecmp(s + i + 1, tag, tl) == 0) {
            char c = s[i + 1 + tl];
            if (c == '>' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                const char *gt = memchr(s + i, '>', n - i);
                return gt ? (size_t)(gt - s) + 1 : 0;
            }
        }
    }
    return 0;
}

static void html(obuf *b, const char *tid, const char *s, size_t n)
{
    static const char *const attrs[] = {"href", "src", "action"};
    size_t ins_at = after_tag(s, n, "head");
    bool wrap = false;
    if (!ins_at) {
        ins_at = after_tag(s, n, "html");
        wrap = ins_at != 0;
    }
    bool injected = false;
    if (!ins_at) { /* neither <head> nor <html>: prepend */
        inject_context(b, tid);
        injected = true;
    }
    size_t i = 0;
    while (i < n) {
        if (!injected && i == ins_at) {
            if (wrap)
                puts_(b, "<head>");
            inject_context(b, tid);
            if (wrap)
                puts_(b, "</head>");
            injected = true;
        }
        /* attribute: whole name (preceded by whitespace), '=', quote */
        bool done = false;
        if (i > 0 && isspace((unsigned char)s[i - 1])) {
            for (size_t a = 0; a < 3 && !done; a++) {
                size_t al = strlen(attrs[a]);
                if (i + al >= n || strncasecmp(s + i, attrs[a], al) != 0)
                    continue;
                size_t j = i + al;
                while (j < n && isspace((unsigned char)s[j]))
                    j++;
                if (j >= n || s[j] != '=')
                    continue;
                j++;
                while (j < n && isspace((unsigned char)s[j]))
                    j++;
                if (j >= n || (s[j] != '"' && s[j] != '\''))
                    continue;
                char q = s[j];
                const char *end = memchr(s + j + 1, q, n - j - 1);
                if (!end)
                    continue;
                size_t vl = (size_t)(end - (s + j + 1));
                put(b, s + i, j + 1 - i);
                if (needs_prefix(tid, s + j + 1, vl))
                    put_prefix(b, tid);
                put(b, s + j + 1, vl + 1);
                i = (size_t)(end - s) + 1;
                done = true;
            }
        }
        if (done)
            continue;
        /* API-looking string literal: '/api/...' or "/openapi.json" */
        if ((s[i] == '"' || s[i] == '\'') && i + 1 < n && s[i + 1] == '/') {
            size_t run = path_run(s + i + 1, n - i - 1, true);
            const char *v = s + i + 1;
            if (i + 1 + run < n && s[i + 1 + run] == s[i] && run >= 2 &&
                needs_prefix(tid, v, run) &&
                (api_like(v, run, false) || ends_with(v, run, ".json") ||
                 ends_with(v, run, ".yaml") || ends_with(v, run, ".yml"))) {
                put(b, s + i, 1);
                put_prefix(b, tid);
                put(b, v, run + 1);
                i += run + 2;
                continue;
            }
        }
        put(b, s + i, 1);
        i++;
    }
    if (!injected) {
        if (wrap)
            puts_(b, "<head>");
        inject_context(b, tid);
        if (wrap)
            puts_(b, "</head>");
    }
}

static void css(obuf *b, const char *tid, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (i + 4 <= n && strncasecmp(s + i, "url(", 4) == 0) {
            size_t j = i + 4;
            while (j < n && isspace((unsigned char)s[j]))
                j++;
            char q = (j < n && (s[j] == '"' || s[j] == '\'')) ? s[j] : 0;
            size_t v = q ? j + 1 : j;
            size_t vend = v;
            while (vend < n && s[vend] != (q ? q : ')') && s[vend] != '\n')
                vend++;
            put(b, s + i, v - i);
            if (vend < n && needs_prefix(tid, s + v, vend - v))
                put_prefix(b, tid);
            i = v;
            continue;
        }
        put(b, s + i, 1);
        i++;
    }
}

/* Skips a JSON string starting at s[i] == '"'; returns the index after its closing quote. */
static size_t json_str_end(const char *s, size_t n, size_t i)
{
    for (size_t j = i + 1; j < n; j++) {
        if (s[j] == '\\')
            j++;
        else if (s[j] == '"')
            return j + 1;
    }
    return n;
}

static void json_(obuf *b, const char *tid, const char *s, size_t n)
{
    bool servers_url = false; /* the next string value is servers[0].url */
    int servers_state = 0;    /* 1 after "servers", 2 after [, 3 after {, 4 after "url" */
    size_t i = 0;
    while (i < n) {
        if (s[i] != '"') {
            char c = s[i];
            if (servers_state == 1 && c == '[')
                servers_state = 2;
            else if (servers_state == 2 && c == '{')
                servers_state = 3;
            else if (!isspace((unsigned char)c) && c != ':' && !(servers_state == 4 && c == ':'))
                servers_state = 0;
            put(b, s + i, 1);
            i++;
            continue;
        }
        size_t end = json_str_end(s, n, i);
        const char *v = s + i + 1;
        size_t vl = end > i + 1 ? end - i - 2 : 0;
        size_t k = end;
        while (k < n && isspace((unsigned char)s[k]))
            k++;
        bool is_key = k < n && s[k] == ':';
        servers_url = servers_state == 4 && !is_key;
        if (is_key) {
            if (vl == 7 && memcmp(v, "servers", 7) == 0)
                servers_state = 1;
            else if (servers_state == 3 && vl == 3 && memcmp(v, "url", 3) == 0)
                servers_state = 4;
            else
                servers_state = 0;
            put(b, s + i, end - i);
            i = end;
            continue;
        }
        servers_state = 0;
        bool pre = false;
        if (servers_url) {
            pre = needs_prefix(tid, v, vl);
        } else if (vl >= 2 && path_run(v, vl, false) == vl && needs_prefix(tid, v, vl) &&
                   api_like(v, vl, true)) {
            pre = true;
        }
        put(b, s + i, 1);
        if (pre)
            put_prefix(b, tid);
        put(b, v, end - i - 1);
        i = end;
    }
}

int rewrite_body(rewrite_kind k, const char *tid, const uint8_t *body, size_t len, uint8_t **out,
                 size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (k == RW_NONE || k == RW_JS)
        return 0;
    obuf b = {0};
    const char *s = (const char *)body;
    if (k == RW_HTML)
        html(&b, tid, s, len);
    else if (k == RW_CSS)
        css(&b, tid, s, len);
    else
        json_(&b, tid, s, len);
    if (b.oom) {
        free(b.p);
        return -1;
    }
    if (b.len == len && (len == 0 || memcmp(b.p, body, len) == 0)) {
        free(b.p);
        return 0;
    }
    *out = b.p;
    *out_len = b.len;
    return 1;
}

char *rewrite_location(const char *tid, const char *loc)
{
    size_t n = strlen(loc);
    if (!needs_prefix(tid, loc, n))
        return NULL;
    size_t tl = strlen(tid);
    char *o = malloc(n + tl + 2);
    if (!o)
        return NULL;
    o[0] = '/';
    memcpy(o + 1, tid, tl);
    memcpy(o + 1 + tl, loc, n + 1);
    return o;
}
