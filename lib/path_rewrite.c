/* SPDX-License-Identifier: MIT */
/* path_rewrite.c - streaming scanners for HTML, CSS and JSON bodies (see path_rewrite.h).
 * Each scanner walks a work buffer s[0..n) (held-back bytes, then new input) and returns how far
 * it decided; a decision about offset i looks at s[i .. i + LOOKAHEAD) only, and waits ("NEED")
 * when that window is not all there yet and the body goes on. */
#include "path_rewrite.h"
#include "http1_headers.h"
#include "proxy.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOOKAHEAD PATH_REWRITE_LOOKAHEAD
#define WINDOW PATH_REWRITE_INJECT_WINDOW

enum { M_NO = 0, M_YES, M_NEED };

enum { INJ_UNDECIDED = 0, INJ_PENDING, INJ_DONE };

struct path_rewriter {
    path_rewrite_kind kind;
    char tid[TUNNEL_NAME_MAX + 1];
    size_t tl;
    uint8_t *carry; /* held-back bytes */
    size_t clen, ccap;
    uint64_t body_off; /* body offset of the first held-back byte */
    bool changed, failed;
    unsigned char prev; /* the byte before the work buffer (0 at the start) */
    /* HTML */
    int inject;
    uint64_t inject_at; /* body offset of the injection */
    bool inject_wrap;   /* inside "<head>...</head>" */
    char skip_quote;    /* inside an attribute value we matched: pass bytes until this quote */
    /* JSON */
    bool in_string, esc; /* inside a string too long to judge: pass until its closing quote */
    int servers;         /* 1 after "servers", 2 after [, 3 after {, 4 after "url" */
};

/* ---- output ---- */

void path_rewrite_buf_free(path_rewrite_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static int put(path_rewriter *rw, path_rewrite_buf *b, const void *d, size_t n)
{
    if (rw->failed)
        return -1;
    if (n == 0)
        return 0;
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n)
            nc *= 2;
        uint8_t *np = realloc(b->p, nc);
        if (!np) {
            rw->failed = true;
            return -1;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    return 0;
}

static void put_prefix(path_rewriter *rw, path_rewrite_buf *b)
{
    put(rw, b, "/", 1);
    put(rw, b, rw->tid, rw->tl);
    rw->changed = true;
}

static void inject_context(path_rewriter *rw, path_rewrite_buf *b)
{
    char s[600];
    const char *t = rw->tid;
    int n =
        snprintf(s, sizeof s,
                 "%s<script>window.__TUNNEL_CONTEXT__={tunnelId:'%s',basePath:'/%s',"
                 "url:function(p){p=String(p);return '/%s'+(p.charAt(0)==='/'?p:'/'+p);},"
                 "getBaseUrl:function(){return window.location.origin+'/%s';}};"
                 "window.__TUNNEL_BASE_PATH__='/%s';</script>%s",
                 rw->inject_wrap ? "<head>" : "", t, t, t, t, t, rw->inject_wrap ? "</head>" : "");
    put(rw, b, s, (size_t)n);
    rw->changed = true;
    rw->inject = INJ_DONE;
}

/* ---- shared rules ---- */

path_rewrite_kind path_rewrite_kind_for(const char *ct, const char *ce)
{
    if (ce) {
        while (*ce == ' ' || *ce == '\t')
            ce++;
        if (*ce && strncasecmp(ce, "identity", 8) != 0)
            return PATH_RW_NONE;
    }
    if (!ct)
        return PATH_RW_NONE;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, "; \t");
    static const struct {
        const char *mime;
        path_rewrite_kind k;
    } map[] = {{"text/html", PATH_RW_HTML},
               {"text/css", PATH_RW_CSS},
               {"application/json", PATH_RW_JSON},
               {"application/javascript", PATH_RW_JS},
               {"text/javascript", PATH_RW_JS}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i].mime) == n && strncasecmp(ct, map[i].mime, n) == 0)
            return map[i].k;
    return PATH_RW_NONE;
}

bool path_rewrite_changes(path_rewrite_kind k)
{
    return k == PATH_RW_HTML || k == PATH_RW_CSS || k == PATH_RW_JSON;
}

/* Whether the value v[0..vlen) gets the "/<tid>" prefix: an absolute path ("/x", not "//x")
 * not already under /<tid> ("/<tid>", "/<tid>/..", "/<tid>?..", "/<tid>#.."). complete: vlen is
 * the whole value; else only its first vlen bytes are known (M_NEED when they do not tell). */
static int prefix_rule(const path_rewriter *rw, const char *v, size_t vlen, bool complete)
{
    size_t tl = rw->tl;
    if (vlen == 0)
        return complete ? M_NO : M_NEED;
    if (v[0] != '/')
        return M_NO;
    if (vlen == 1)
        return complete ? M_YES : M_NEED;
    if (v[1] == '/')
        return M_NO;
    size_t cmp = vlen - 1 < tl ? vlen - 1 : tl;
    if (memcmp(v + 1, rw->tid, cmp) != 0)
        return M_YES;
    if (vlen - 1 < tl)
        return complete ? M_YES : M_NEED;
    if (vlen == tl + 1)
        return complete ? M_NO : M_NEED;
    char c = v[tl + 1];
    return c == '/' || c == '?' || c == '#' ? M_NO : M_YES;
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

/* Characters of a literal path: [A-Za-z0-9/_.-] (the dot only when allow_dot). */
static size_t path_run(const char *s, size_t n, bool allow_dot)
{
    size_t i = 0;
    while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '/' || s[i] == '_' || s[i] == '-' ||
                     (allow_dot && s[i] == '.')))
        i++;
    return i;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The decision window of offset i: s[i .. lim). more: bytes of the window may still come. */
typedef struct win {
    size_t lim;
    bool more;
} win;

static win window_at(size_t i, size_t n, bool final, size_t size)
{
    win w = {n - i > size ? i + size : n, !final && n - i < size};
    return w;
}

/* ---- HTML ---- */

/* The end of the tag whose '<' is at s[p] (index after '>'), 0 when not within lim. */
static size_t tag_end(const char *s, size_t p, size_t lim)
{
    const char *gt = memchr(s + p, '>', lim - p);
    return gt ? (size_t)(gt - s) + 1 : 0;
}

/* Where the context script goes, from the first WINDOW bytes of the body (s[0..n) is the body
 * from its start): after <head ...> when the first element is head, or html followed by head;
 * inside a new <head> after <html ...> when html comes first without head; before everything
 * otherwise. M_NEED while undecided and more of the window may come. */
static int find_injection(path_rewriter *rw, const char *s, size_t n, bool final)
{
    win w = window_at(0, n, final, WINDOW);
    size_t pos = 0, html_end = 0;
    while (pos < w.lim) {
        const char *lt = memchr(s + pos, '<', w.lim - pos);
        if (!lt)
            break;
        size_t p = (size_t)(lt - s);
        if (p + 1 >= w.lim) {
            /* cut by the window */
            break;
        }
        char c = s[p + 1];
        if (c == '!' || c == '?' || c == '/') {
            size_t e = 0;
            if (c == '!' && p + 4 <= w.lim && memcmp(s + p, "<!--", 4) == 0) {
                for (size_t k = p + 4; k + 3 <= w.lim && !e; k++)
                    if (memcmp(s + k, "-->", 3) == 0)
                        e = k + 3;
            } else if (c == '!' && p + 4 > w.lim) {
                e = 0; /* "<!-" cut by the window: wait */
            } else {
                e = tag_end(s, p, w.lim);
            }
            if (!e) {
                /* not ended within the window */
                break;
            }
            pos = e;
            continue;
        }
        if (!isalpha((unsigned char)c)) {
            pos = p + 1;
            continue;
        }
        size_t k = p + 1;
        while (k < w.lim && isalnum((unsigned char)s[k]))
            k++;
        size_t e = k < w.lim ? tag_end(s, p, w.lim) : 0;
        if (!e) {
            /* the tag does not end within the window */
            break;
        }
        bool name_end = s[k] == '>' || s[k] == '/' || is_space((unsigned char)s[k]);
        size_t nl = k - p - 1;
        bool head = name_end && nl == 4 && strncasecmp(s + p + 1, "head", 4) == 0;
        bool html = name_end && nl == 4 && strncasecmp(s + p + 1, "html", 4) == 0;
        if (head) {
            rw->inject_at = e;
            rw->inject_wrap = false;
            return M_YES;
        }
        if (html && !html_end) {
            html_end = e;
            pos = e;
            continue;
        }
        rw->inject_at = html_end;
        rw->inject_wrap = html_end != 0;
        return M_YES;
    }
    if (w.more)
        return M_NEED;
    rw->inject_at = html_end;
    rw->inject_wrap = html_end != 0;
    return M_YES;
}

/* An href/src/action attribute at s[i] (preceded by whitespace) whose value starts at *vstart
 * with quote *q. */
static int html_attr(const path_rewriter *rw, const char *s, size_t n, size_t i, bool final,
                     size_t *vstart, char *q, int *pre)
{
    static const char *const attrs[] = {"href", "src", "action"};
    win w = window_at(i, n, final, LOOKAHEAD);
    for (size_t a = 0; a < 3; a++) {
        size_t al = strlen(attrs[a]);
        size_t have = w.lim - i;
        if (strncasecmp(s + i, attrs[a], have < al ? have : al) != 0)
            continue;
        if (have <= al)
            return w.more ? M_NEED : M_NO;
        size_t j = i + al;
        while (j < w.lim && is_space((unsigned char)s[j]))
            j++;
        if (j >= w.lim)
            return w.more ? M_NEED : M_NO;
        if (s[j] != '=')
            return M_NO;
        j++;
        while (j < w.lim && is_space((unsigned char)s[j]))
            j++;
        if (j >= w.lim)
            return w.more ? M_NEED : M_NO;
        if (s[j] != '"' && s[j] != '\'')
            return M_NO;
        size_t v = j + 1;
        const char *end = v < w.lim ? memchr(s + v, s[j], w.lim - v) : NULL;
        int r;
        if (end) {
            r = prefix_rule(rw, s + v, (size_t)(end - (s + v)), true);
        } else if (w.more) {
            return M_NEED;
        } else if (w.lim == n) {
            return M_NO; /* the body ends inside the value: no closing quote */
        } else {
            r = prefix_rule(rw, s + v, w.lim - v, false); /* a long value: its start decides */
            if (r == M_NEED)
                r = M_NO;
        }
        *vstart = v;
        *q = s[j];
        *pre = r == M_YES;
        return M_YES;
    }
    return M_NO;
}

/* An API-looking string literal at s[i] ('/api/..', "/openapi.json"): *end = after its closing
 * quote. */
static int html_literal(const path_rewriter *rw, const char *s, size_t n, size_t i, bool final,
                        size_t *end)
{
    win w = window_at(i, n, final, LOOKAHEAD);
    if (i + 1 >= w.lim)
        return w.more ? M_NEED : M_NO;
    if (s[i + 1] != '/')
        return M_NO;
    const char *v = s + i + 1;
    size_t run = path_run(v, w.lim - i - 1, true);
    if (i + 1 + run >= w.lim)
        return w.more ? M_NEED : M_NO;
    if (s[i + 1 + run] != s[i] || run < 2 || prefix_rule(rw, v, run, true) != M_YES)
        return M_NO;
    if (!(api_like(v, run, false) || ends_with(v, run, ".json") || ends_with(v, run, ".yaml") ||
          ends_with(v, run, ".yml")))
        return M_NO;
    *end = i + run + 2;
    return M_YES;
}

static size_t scan_html(path_rewriter *rw, const char *s, size_t n, bool final,
                        path_rewrite_buf *out)
{
    if (rw->inject == INJ_UNDECIDED) {
        if (find_injection(rw, s, n, final) == M_NEED)
            return 0;
        rw->inject = INJ_PENDING;
    }
    size_t i = 0, e = 0; /* s[e..i) is decided, not yet written */
    while (i < n) {
        if (rw->inject == INJ_PENDING && rw->body_off + i >= rw->inject_at) {
            put(rw, out, s + e, i - e);
            e = i;
            inject_context(rw, out);
        }
        size_t stop = n;
        if (rw->inject == INJ_PENDING && rw->inject_at - rw->body_off < n)
            stop = (size_t)(rw->inject_at - rw->body_off);
        if (rw->skip_quote) {
            const char *q = memchr(s + i, rw->skip_quote, stop - i);
            if (!q) {
                i = stop;
                continue;
            }
            i = (size_t)(q - s) + 1;
            rw->skip_quote = 0;
            continue;
        }
        unsigned char c = (unsigned char)s[i];
        unsigned char before = i > 0 ? (unsigned char)s[i - 1] : rw->prev;
        if (is_space(before) &&
            (c == 'h' || c == 'H' || c == 's' || c == 'S' || c == 'a' || c == 'A')) {
            size_t v = 0;
            char q = 0;
            int pre = 0;
            int m = html_attr(rw, s, n, i, final, &v, &q, &pre);
            if (m == M_NEED)
                break;
            if (m == M_YES) {
                put(rw, out, s + e, v - e);
                if (pre)
                    put_prefix(rw, out);
                e = i = v;
                rw->skip_quote = q;
                continue;
            }
        } else if (c == '"' || c == '\'') {
            size_t end = 0;
            int m = html_literal(rw, s, n, i, final, &end);
            if (m == M_NEED)
                break;
            if (m == M_YES) {
                put(rw, out, s + e, i + 1 - e);
                put_prefix(rw, out);
                e = i + 1;
                i = end;
                continue;
            }
        }
        i++;
    }
    if (i >= n && rw->inject == INJ_PENDING && rw->body_off + n >= rw->inject_at) {
        put(rw, out, s + e, n - e);
        e = i = n;
        inject_context(rw, out);
    }
    put(rw, out, s + e, i - e);
    return i;
}

/* ---- CSS ---- */

static size_t scan_css(path_rewriter *rw, const char *s, size_t n, bool final,
                       path_rewrite_buf *out)
{
    size_t i = 0, e = 0;
    while (i < n) {
        if (s[i] != 'u' && s[i] != 'U') {
            i++;
            continue;
        }
        win w = window_at(i, n, final, LOOKAHEAD);
        size_t have = w.lim - i;
        if (strncasecmp(s + i, "url(", have < 4 ? have : 4) != 0) {
            i++;
            continue;
        }
        if (have < 4) {
            if (w.more)
                break;
            i++;
            continue;
        }
        size_t j = i + 4;
        while (j < w.lim && is_space((unsigned char)s[j]))
            j++;
        if (j >= w.lim) {
            if (w.more)
                break;
            i++;
            continue;
        }
        char q = (s[j] == '"' || s[j] == '\'') ? s[j] : 0;
        size_t v = q ? j + 1 : j, vend = v;
        while (vend < w.lim && s[vend] != (q ? q : ')') && s[vend] != '\n')
            vend++;
        int r;
        if (vend < w.lim) {
            r = prefix_rule(rw, s + v, vend - v, true);
        } else if (w.more) {
            break;
        } else if (w.lim == n) {
            r = M_NO; /* no end of the value before the end of the body */
        } else {
            r = prefix_rule(rw, s + v, w.lim - v, false);
        }
        put(rw, out, s + e, v - e);
        if (r == M_YES)
            put_prefix(rw, out);
        e = i = v;
    }
    put(rw, out, s + e, i - e);
    return i;
}

/* ---- JSON ---- */

static size_t scan_json(path_rewriter *rw, const char *s, size_t n, bool final,
                        path_rewrite_buf *out)
{
    size_t i = 0, e = 0;
    while (i < n) {
        if (rw->in_string) {
            while (i < n) {
                char c = s[i++];
                if (rw->esc)
                    rw->esc = false;
                else if (c == '\\')
                    rw->esc = true;
                else if (c == '"') {
                    rw->in_string = false;
                    rw->servers = 0;
                    break;
                }
            }
            continue;
        }
        if (s[i] != '"') {
            char c = s[i];
            if (rw->servers == 1 && c == '[')
                rw->servers = 2;
            else if (rw->servers == 2 && c == '{')
                rw->servers = 3;
            else if (!is_space((unsigned char)c) && c != ':')
                rw->servers = 0;
            i++;
            continue;
        }
        win w = window_at(i, n, final, LOOKAHEAD);
        size_t end = 0;
        for (size_t j = i + 1; j < w.lim && !end; j++) {
            if (s[j] == '\\')
                j++;
            else if (s[j] == '"')
                end = j + 1;
        }
        if (!end) {
            if (w.more)
                break;
            /* longer than the window (or cut by the end of the body): passed through */
            rw->in_string = true;
            rw->esc = false;
            i++;
            continue;
        }
        size_t k = end;
        while (k < w.lim && is_space((unsigned char)s[k]))
            k++;
        if (k >= w.lim && w.more)
            break;
        bool is_key = k < w.lim && s[k] == ':';
        const char *v = s + i + 1;
        size_t vl = end - i - 2;
        bool servers_url = rw->servers == 4 && !is_key;
        if (is_key) {
            if (vl == 7 && memcmp(v, "servers", 7) == 0)
                rw->servers = 1;
            else if (rw->servers == 3 && vl == 3 && memcmp(v, "url", 3) == 0)
                rw->servers = 4;
            else
                rw->servers = 0;
            i = end;
            continue;
        }
        rw->servers = 0;
        bool pre = false;
        if (servers_url)
            pre = prefix_rule(rw, v, vl, true) == M_YES;
        else if (vl >= 2 && path_run(v, vl, false) == vl && prefix_rule(rw, v, vl, true) == M_YES &&
                 api_like(v, vl, true))
            pre = true;
        if (pre) {
            put(rw, out, s + e, i + 1 - e);
            put_prefix(rw, out);
            e = i + 1;
        }
        i = end;
    }
    put(rw, out, s + e, i - e);
    return i;
}

/* ---- driver ---- */

path_rewriter *path_rewriter_new(path_rewrite_kind k, const char *tid)
{
    path_rewriter *rw = calloc(1, sizeof *rw);
    if (!rw)
        return NULL;
    rw->kind = k;
    snprintf(rw->tid, sizeof rw->tid, "%s", tid);
    rw->tl = strlen(rw->tid);
    if (k != PATH_RW_HTML)
        rw->inject = INJ_DONE;
    return rw;
}

void path_rewriter_free(path_rewriter *rw)
{
    if (!rw)
        return;
    free(rw->carry);
    free(rw);
}

bool path_rewriter_changed(const path_rewriter *rw)
{
    return rw->changed;
}

size_t path_rewriter_pending(const path_rewriter *rw)
{
    return rw->clen;
}

/* Scans s[0..n) (its first byte at body offset rw->body_off); returns the bytes decided. */
static size_t run(path_rewriter *rw, const char *s, size_t n, bool final, path_rewrite_buf *out)
{
    size_t used;
    switch (rw->kind) {
    case PATH_RW_HTML:
        used = scan_html(rw, s, n, final, out);
        break;
    case PATH_RW_CSS:
        used = scan_css(rw, s, n, final, out);
        break;
    case PATH_RW_JSON:
        used = scan_json(rw, s, n, final, out);
        break;
    default:
        put(rw, out, s, n);
        used = n;
        break;
    }
    if (used > 0)
        rw->prev = (unsigned char)s[used - 1];
    rw->body_off += used;
    return used;
}

static int hold(path_rewriter *rw, const uint8_t *p, size_t n)
{
    rw->clen = 0;
    if (n == 0)
        return 0;
    if (n > rw->ccap) {
        uint8_t *c = realloc(rw->carry, n);
        if (!c) {
            rw->failed = true;
            return -1;
        }
        rw->carry = c;
        rw->ccap = n;
    }
    memmove(rw->carry, p, n);
    rw->clen = n;
    return 0;
}

int path_rewriter_feed(path_rewriter *rw, const uint8_t *in, size_t len, bool final,
                       path_rewrite_buf *out)
{
    static const uint8_t none[1];
    if (rw->failed)
        return -1;
    if (!in) /* the end of a body: no bytes, and no arithmetic on a null pointer */
        in = none;
    if (rw->clen == 0) {
        size_t used = run(rw, (const char *)in, len, final, out);
        if (hold(rw, in + used, len - used) != 0 || rw->failed)
            return -1;
        return 0;
    }
    /* Held-back bytes first, with enough new input to decide them (all of it while the HTML
     * injection point is open: that decision reads the body from its start). */
    size_t part = len;
    if (rw->inject != INJ_UNDECIDED && part > 2 * LOOKAHEAD)
        part = 2 * LOOKAHEAD;
    bool part_final = final && part == len;
    size_t n = rw->clen + part;
    uint8_t *w = malloc(n ? n : 1);
    if (!w) {
        rw->failed = true;
        return -1;
    }
    memcpy(w, rw->carry, rw->clen);
    if (part)
        memcpy(w + rw->clen, in, part);
    size_t clen = rw->clen;
    rw->clen = 0;
    size_t used = run(rw, (const char *)w, n, part_final, out);
    int rc;
    if (part == len || used < clen) {
        rc = hold(rw, w + used, n - used);
        if (rc == 0 && part < len)
            rc = path_rewriter_feed(rw, in + part, len - part, final, out);
    } else {
        /* everything held was decided: go on in the caller's buffer */
        size_t off = used - clen;
        free(w);
        w = NULL;
        size_t used2 = run(rw, (const char *)in + off, len - off, final, out);
        rc = hold(rw, in + off + used2, len - off - used2);
    }
    free(w);
    return rc != 0 || rw->failed ? -1 : 0;
}

int path_rewrite_body(path_rewrite_kind k, const char *tid, const uint8_t *body, size_t len,
                      uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!path_rewrite_changes(k))
        return 0;
    path_rewriter *rw = path_rewriter_new(k, tid);
    if (!rw)
        return -1;
    path_rewrite_buf b = {0};
    int rc = path_rewriter_feed(rw, body, len, true, &b);
    bool changed = path_rewriter_changed(rw);
    path_rewriter_free(rw);
    if (rc != 0) {
        path_rewrite_buf_free(&b);
        return -1;
    }
    if (!changed) {
        path_rewrite_buf_free(&b);
        return 0;
    }
    *out = b.p ? b.p : malloc(1);
    if (!*out)
        return -1;
    *out_len = b.len;
    return 1;
}

char *path_rewrite_location(const char *tid, const char *loc)
{
    path_rewriter probe = {.tl = strlen(tid)};
    if (probe.tl >= sizeof probe.tid)
        return NULL;
    memcpy(probe.tid, tid, probe.tl + 1);
    size_t n = strlen(loc);
    if (prefix_rule(&probe, loc, n, true) != M_YES)
        return NULL;
    char *o = malloc(n + probe.tl + 2);
    if (!o)
        return NULL;
    o[0] = '/';
    memcpy(o + 1, tid, probe.tl);
    memcpy(o + 1 + probe.tl, loc, n + 1);
    return o;
}

/* proxy_url_map for the URL fields: the URL through path_rewrite_location. */
static char *location_url(void *ud, const char *url, size_t len)
{
    char *u = strndup(url, len);
    char *nu = u ? path_rewrite_location(ud, u) : NULL;
    free(u);
    return nu;
}

int path_rewrite_head_urls(const char *tid, struct http_headers *h)
{
    return proxy_map_url_fields(h, location_url, (void *)tid);
}
