/* SPDX-License-Identifier: MIT */
/* Path-mode content rewriting (lib/path_rewrite.h): the rules (upstream's, with its bugs fixed),
 * and the streaming property: the output never depends on how the body was split, and what is
 * held back between feeds stays bounded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http1_headers.h"
#include "path_rewrite.h"

#define TID "abc123def456"

/* Rewrites s as a whole body; returns a NUL-terminated copy of the result (the input when
 * unchanged). */
static char *rw(path_rewrite_kind k, const char *s)
{
    uint8_t *out;
    size_t n;
    int rc = path_rewrite_body(k, TID, (const uint8_t *)s, strlen(s), &out, &n);
    assert_true(rc >= 0);
    char *r = malloc((rc ? n : strlen(s)) + 1);
    if (rc) {
        memcpy(r, out, n);
        r[n] = '\0';
        free(out);
    } else {
        strcpy(r, s);
    }
    return r;
}

/* The same body fed in pieces at the given cut points (ascending, within len). */
static char *rw_split(path_rewrite_kind k, const char *s, size_t len, const size_t *cuts,
                      size_t ncuts, size_t *max_pending)
{
    path_rewriter *r = path_rewriter_new(k, TID);
    assert_non_null(r);
    path_rewrite_buf b = {0};
    size_t at = 0;
    for (size_t c = 0; c <= ncuts; c++) {
        size_t end = c < ncuts ? cuts[c] : len;
        assert_int_equal(path_rewriter_feed(r, (const uint8_t *)s + at, end - at, c == ncuts, &b),
                         0);
        if (max_pending && path_rewriter_pending(r) > *max_pending)
            *max_pending = path_rewriter_pending(r);
        at = end;
    }
    assert_int_equal(path_rewriter_pending(r), 0);
    path_rewriter_free(r);
    char *out = malloc(b.len + 1);
    if (b.len)
        memcpy(out, b.p, b.len);
    out[b.len] = '\0';
    path_rewrite_buf_free(&b);
    return out;
}

static void kinds(void **state)
{
    (void)state;
    assert_int_equal(path_rewrite_kind_for("text/html; charset=utf-8", NULL), PATH_RW_HTML);
    assert_int_equal(path_rewrite_kind_for("TEXT/HTML", NULL), PATH_RW_HTML);
    assert_int_equal(path_rewrite_kind_for("text/css", NULL), PATH_RW_CSS);
    assert_int_equal(path_rewrite_kind_for("application/json", "identity"), PATH_RW_JSON);
    assert_int_equal(path_rewrite_kind_for("application/javascript", NULL), PATH_RW_JS);
    assert_int_equal(path_rewrite_kind_for("text/html", "gzip"), PATH_RW_NONE);
    assert_int_equal(path_rewrite_kind_for("text/html", "br"), PATH_RW_NONE);
    assert_int_equal(path_rewrite_kind_for("image/png", NULL), PATH_RW_NONE);
    assert_int_equal(path_rewrite_kind_for("application/jsonx", NULL), PATH_RW_NONE);
    assert_int_equal(path_rewrite_kind_for(NULL, NULL), PATH_RW_NONE);
    assert_true(path_rewrite_changes(PATH_RW_HTML));
    assert_false(path_rewrite_changes(PATH_RW_JS));
    assert_false(path_rewrite_changes(PATH_RW_NONE));
}

static void html_attrs(void **state)
{
    (void)state;
    char *r = rw(PATH_RW_HTML, "<html><head><title>t</title></head><body>"
                               "<a href=\"/about\">a</a><img src='/i.png'><form action=\"/go\">"
                               "<a href=\"/" TID "/x\">in</a><a href=\"//cdn.x/y\">c</a>"
                               "<a href=\"https://e.com/\">e</a><a href=\"#top\">h</a>"
                               "<img data-src=\"/lazy.png\"><a href=\"rel/x\">r</a>"
                               "<a HREF = \"/caps\">k</a><img srcset=\"/s.png 2x\"></body></html>");
    assert_non_null(strstr(r, "href=\"/" TID "/about\""));
    assert_non_null(strstr(r, "src='/" TID "/i.png'"));
    assert_non_null(strstr(r, "action=\"/" TID "/go\""));
    assert_non_null(strstr(r, "href=\"/" TID "/x\">in"));
    assert_null(strstr(r, "/" TID "/" TID));
    assert_non_null(strstr(r, "href=\"//cdn.x/y\""));
    assert_non_null(strstr(r, "href=\"https://e.com/\""));
    assert_non_null(strstr(r, "href=\"#top\""));
    assert_non_null(strstr(r, "data-src=\"/lazy.png\""));
    assert_non_null(strstr(r, "href=\"rel/x\""));
    assert_non_null(strstr(r, "HREF = \"/" TID "/caps\""));
    assert_non_null(strstr(r, "srcset=\"/s.png 2x\""));
    assert_non_null(strstr(r, "<head><script>window.__TUNNEL_CONTEXT__="));
    assert_non_null(strstr(r, "basePath:'/" TID "'"));
    assert_non_null(strstr(r, "window.__TUNNEL_BASE_PATH__='/" TID "'"));
    free(r);
}

static void html_literals_and_injection(void **state)
{
    (void)state;
    char *r = rw(PATH_RW_HTML, "<html lang=en><body><script>SwaggerUIBundle({url: '/openapi.json', "
                               "oauth2RedirectUrl: \"/docs/oauth2-redirect\", x: '/plain', "
                               "y: '/api/v1/items', z: '/" TID "/api'})</script></body></html>");
    assert_non_null(strstr(r, "'/" TID "/openapi.json'"));
    assert_non_null(strstr(r, "\"/" TID "/docs/oauth2-redirect\""));
    assert_non_null(strstr(r, "'/plain'"));
    assert_non_null(strstr(r, "'/" TID "/api/v1/items'"));
    assert_non_null(strstr(r, "'/" TID "/api'"));
    assert_non_null(strstr(r, "<html lang=en><head><script>"));
    free(r);
    r = rw(PATH_RW_HTML, "<p>fragment</p>");
    assert_int_equal(strncmp(r, "<script>window.__TUNNEL_CONTEXT__", 33), 0);
    assert_non_null(strstr(r, "</script><p>fragment</p>"));
    free(r);
    /* doctype and comments before <html>, then <head> after whitespace */
    r = rw(PATH_RW_HTML, "<!DOCTYPE html>\n<!-- <head> in a comment -->\n<html>\n <head>\n<title>");
    assert_non_null(strstr(r, "<html>\n <head><script>window.__TUNNEL_CONTEXT__"));
    assert_non_null(strstr(r, "<!-- <head> in a comment -->\n<html>\n <head><script>"));
    free(r);
    /* <header> is not <head> */
    r = rw(PATH_RW_HTML, "<html><header>x</header></html>");
    assert_non_null(strstr(r, "<html><head><script>"));
    assert_non_null(strstr(r, "</script></head><header>x</header>"));
    free(r);
    /* just <html> and the end of the body */
    r = rw(PATH_RW_HTML, "<html>");
    assert_non_null(strstr(r, "<html><head><script>"));
    assert_non_null(strstr(r, "</script></head>"));
    free(r);
    /* empty body: the script alone */
    r = rw(PATH_RW_HTML, "");
    assert_int_equal(strncmp(r, "<script>", 8), 0);
    free(r);
}

static void css(void **state)
{
    (void)state;
    char *r =
        rw(PATH_RW_CSS, "a{background:url('/a.png')} b{background:url(\"/b.png\")} "
                        "c{background:url(/c.png)} d{background:url(data:image/png;base64,AA)} "
                        "e{background:url(//cdn/e.png)} f{background:url(/" TID "/f.png)} "
                        "g{background:url(rel.png)} h{background:URL( /h.png )}");
    assert_non_null(strstr(r, "url('/" TID "/a.png')"));
    assert_non_null(strstr(r, "url(\"/" TID "/b.png\")"));
    assert_non_null(strstr(r, "url(/" TID "/c.png)"));
    assert_non_null(strstr(r, "url(data:image/png;base64,AA)"));
    assert_non_null(strstr(r, "url(//cdn/e.png)"));
    assert_non_null(strstr(r, "url(/" TID "/f.png)"));
    assert_non_null(strstr(r, "url(rel.png)"));
    assert_non_null(strstr(r, "URL( /" TID "/h.png )"));
    free(r);
}

static void json(void **state)
{
    (void)state;
    char *r =
        rw(PATH_RW_JSON, "{\"openapi\":\"3.1.0\",\"servers\": [ {\"url\": \"/\"}],"
                         "\"paths\":{\"/api/items\":{\"get\":{}}},\"next\":\"/api/items?page=2\","
                         "\"self\":\"/todos/1\",\"other\":\"/elsewhere\",\"abs\":\"http://x/api\","
                         "\"esc\":\"a\\\"/api/x\\\"b\"}");
    assert_non_null(strstr(r, "{\"url\": \"/" TID "/\"}"));
    assert_non_null(strstr(r, "\"/api/items\":{"));
    assert_non_null(strstr(r, "\"self\":\"/" TID "/todos/1\""));
    assert_non_null(strstr(r, "\"other\":\"/elsewhere\""));
    assert_non_null(strstr(r, "\"abs\":\"http://x/api\""));
    assert_non_null(strstr(r, "\"next\":\"/api/items?page=2\""));
    assert_non_null(strstr(r, "\"esc\":\"a\\\"/api/x\\\"b\"")); /* inside a string: untouched */
    free(r);
    uint8_t *out;
    size_t n;
    const char *plain = "{\"a\":1}";
    assert_int_equal(
        path_rewrite_body(PATH_RW_JSON, TID, (const uint8_t *)plain, strlen(plain), &out, &n), 0);
    assert_null(out);
    assert_int_equal(path_rewrite_body(PATH_RW_JS, TID, (const uint8_t *)"'/api'", 6, &out, &n), 0);
    assert_int_equal(path_rewrite_body(PATH_RW_NONE, TID, (const uint8_t *)"x", 1, &out, &n), 0);
}

/* The head's URL fields, each in its place: Location, Content-Location, Refresh's url= (quoted or
 * not, any case); others and URLs that stay are left alone. */
static void head_urls(void **state)
{
    (void)state;
    static const char *in[][2] = {
        {"X-A", "/a"},
        {"location", "/login"},
        {"Set-Cookie", "p=/x"},
        {"Content-Location", "/doc.json"},
        {"Refresh", "0; url=/next"},
        {"refresh", "5;URL='/q?a=1'; x"},
        {"Refresh", "3"},
        {"Link", "</s.css>; rel=preload"},
    };
    static const char *want[][2] = {
        {"X-A", "/a"},
        {"location", "/" TID "/login"},
        {"Set-Cookie", "p=/x"},
        {"Content-Location", "/" TID "/doc.json"},
        {"Refresh", "0; url=/" TID "/next"},
        {"refresh", "5;URL='/" TID "/q?a=1'; x"},
        {"Refresh", "3"},
        {"Link", "</s.css>; rel=preload"},
    };
    http_headers h;
    http_headers_init(&h);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(
            http_headers_add(&h, in[i][0], strlen(in[i][0]), in[i][1], strlen(in[i][1])), 0);
    assert_int_equal(path_rewrite_head_urls(TID, &h), 0);
    assert_int_equal(h.n, 8);
    for (size_t i = 0; i < 8; i++) {
        assert_string_equal(h.v[i].name, want[i][0]);
        assert_string_equal(h.v[i].value, want[i][1]);
    }
    /* already under /<tid>: nothing changes */
    assert_int_equal(path_rewrite_head_urls(TID, &h), 0);
    assert_string_equal(h.v[1].value, "/" TID "/login");
    assert_string_equal(h.v[4].value, "0; url=/" TID "/next");
    http_headers_free(&h);
}

static void location(void **state)
{
    (void)state;
    char *l = path_rewrite_location(TID, "/login?next=/x");
    assert_string_equal(l, "/" TID "/login?next=/x");
    free(l);
    assert_null(path_rewrite_location(TID, "/" TID "/already"));
    assert_null(path_rewrite_location(TID, "/" TID));
    assert_null(path_rewrite_location(TID, "/" TID "?q"));
    assert_null(path_rewrite_location(TID, "https://example.com/x"));
    assert_null(path_rewrite_location(TID, "//cdn.example.com/x"));
    assert_null(path_rewrite_location(TID, "relative"));
    assert_null(path_rewrite_location(TID, ""));
    l = path_rewrite_location(TID, "/");
    assert_string_equal(l, "/" TID "/");
    free(l);
    l = path_rewrite_location(TID, "/" TID "x"); /* another name that starts like ours */
    assert_string_equal(l, "/" TID "/" TID "x");
    free(l);
}

/* Every single cut point, and a few multi-cut patterns, give the whole-body result. */
static void check_splits(path_rewrite_kind k, const char *s)
{
    size_t len = strlen(s);
    char *whole = rw_split(k, s, len, NULL, 0, NULL);
    for (size_t c = 0; c <= len; c++) {
        char *part = rw_split(k, s, len, &c, 1, NULL);
        if (strcmp(part, whole) != 0)
            fail_msg("kind %d cut at %zu:\n%s\n!=\n%s", (int)k, c, part, whole);
        free(part);
    }
    size_t cuts[64];
    for (size_t step = 1; step <= 7; step++) {
        size_t nc = 0;
        for (size_t c = step; c < len && nc < 64; c += step)
            cuts[nc++] = c;
        char *part = rw_split(k, s, len, cuts, nc, NULL);
        assert_string_equal(part, whole);
        free(part);
    }
    free(whole);
}

static void split_independent(void **state)
{
    (void)state;
    check_splits(PATH_RW_HTML, "<!doctype html><html><head><link href=\"/s.css\"></head><body>"
                               "<a href='/x'>x</a> <img  src = \"/" TID "/i\"> '/api/y' \"/q.json\""
                               "<a href=\"/open");
    check_splits(PATH_RW_HTML, "hello <b>x</b> <a href=\"/z\">");
    check_splits(PATH_RW_CSS, "a{b:url( '/a.png' )}c{d:url(/" TID "/c)}e{f:url(/");
    check_splits(PATH_RW_JSON, "{\"servers\":[{\"url\":\"/v1\"}],\"a\":\"/api/1\", \"k\" :"
                               " \"/todos\",\"s\":\"x\\\\\",\"t\":\"/api/\\\"q\"}");
}

/* A construct longer than the lookahead passes through whole, however it is split, and what is
 * held back stays bounded. */
static void long_constructs(void **state)
{
    (void)state;
    size_t big = PATH_REWRITE_LOOKAHEAD * 3;
    char *s = malloc(big + 256);
    int n = snprintf(s, 256, "<head></head><img src=\"/");
    memset(s + n, 'A', big);
    strcpy(s + n + big, "\"> <a href=\"/after\">");
    size_t len = strlen(s);
    char *whole = rw(PATH_RW_HTML, s);
    assert_non_null(strstr(whole, "src=\"/" TID "/AAAA"));
    assert_non_null(strstr(whole, "href=\"/" TID "/after\""));
    size_t cuts[] = {5, 100, 4000, 9000, len - 3};
    size_t maxp = 0;
    char *part = rw_split(PATH_RW_HTML, s, len, cuts, 5, &maxp);
    assert_string_equal(part, whole);
    assert_true(maxp <= PATH_REWRITE_INJECT_WINDOW + PATH_REWRITE_LOOKAHEAD);
    free(part);
    free(whole);
    /* a JSON string longer than the window, with escaped quotes, then a path value */
    n = snprintf(s, 256, "{\"blob\":\"");
    for (size_t i = 0; i < big; i++)
        s[n + i] = i % 50 == 0 ? '\\' : (i % 50 == 1 ? '"' : 'b');
    strcpy(s + n + big, "\",\"u\":\"/api/z\"}");
    len = strlen(s);
    whole = rw(PATH_RW_JSON, s);
    assert_non_null(strstr(whole, "\"u\":\"/" TID "/api/z\""));
    maxp = 0;
    cuts[4] = len - 3;
    part = rw_split(PATH_RW_JSON, s, len, cuts, 5, &maxp);
    assert_string_equal(part, whole);
    assert_true(maxp <= PATH_REWRITE_LOOKAHEAD);
    free(part);
    free(whole);
    free(s);
}

/* Bytes that hold no construct flow straight through (nothing held back once the HTML injection
 * point is known). */
static void streams_through(void **state)
{
    (void)state;
    path_rewriter *r = path_rewriter_new(PATH_RW_HTML, TID);
    path_rewrite_buf b = {0};
    const char *h = "<html><head>";
    assert_int_equal(path_rewriter_feed(r, (const uint8_t *)h, strlen(h), false, &b), 0);
    assert_true(b.len > strlen(h)); /* decided at once: <head> came first */
    size_t before = b.len;
    char text[10000];
    memset(text, 'x', sizeof text);
    assert_int_equal(path_rewriter_feed(r, (const uint8_t *)text, sizeof text, false, &b), 0);
    assert_true(b.len - before >= sizeof text - PATH_REWRITE_LOOKAHEAD);
    assert_true(path_rewriter_changed(r));
    assert_int_equal(path_rewriter_feed(r, NULL, 0, true, &b), 0);
    assert_int_equal(b.len - before, sizeof text);
    path_rewriter_free(r);
    path_rewrite_buf_free(&b);
}

/* The head rule decides from the fields alone: a HEAD (bodiless) gets exactly the fields a GET
 * gets; a 206 passes unchanged; an encoded body is not rewritten. */
/* Path routing: a script answer's Service-Worker-Allowed is the tunnel's prefix, an app's own
 * path goes under it, other answers without one are left alone. */
static void service_workers_stay_inside_the_tunnel(void **state)
{
    (void)state;
    static const char *const cases[][3] = {
        /* Content-Type, Service-Worker-Allowed in ("" none), out ("" none) */
        {"text/javascript", "", "/" TID "/"},
        {"Application/JavaScript ; charset=utf-8", "", "/" TID "/"},
        {"text/html", "", ""},
        /* every JavaScript MIME type (WHATWG MIME Sniffing §4.6) registers a worker */
        {"text/x-javascript", "", "/" TID "/"},
        {"application/x-ecmascript", "", "/" TID "/"},
        {"text/x-ecmascript", "", "/" TID "/"},
        {"text/jscript", "", "/" TID "/"},
        {"text/livescript", "", "/" TID "/"},
        {"TEXT/JAVASCRIPT1.5;x=y", "", "/" TID "/"},
        {"text/javascript1.0", "", "/" TID "/"},
        {"text/javascript1.6", "", ""},
        {"application/json", "", ""},
        {"text/plain", "/", "/" TID "/"},
        {"text/plain", "/app/", "/" TID "/app/"},
        {"text/javascript", "/" TID "/x/", "/" TID "/x/"},
        {"text/javascript", "/" TID "x/", "/" TID "/" TID "x/"},
        {"text/javascript", "//evil.example/", "/" TID "/"},
        {"text/javascript", "https://evil.example/", "/" TID "/"},
        {"text/javascript", "./", "/" TID "/"},
        /* dot segments a browser resolves (WHATWG URL: "%2e" is '.', '\\' is '/', tabs and
         * newlines dropped) would climb out of the prefix: the prefix alone */
        {"text/javascript", "/" TID "/../", "/" TID "/"},
        {"text/javascript", "/../..", "/" TID "/"},
        {"text/javascript", "/a/%2e%2E/..", "/" TID "/"},
        {"text/javascript", "/" TID "/.%2e/", "/" TID "/"},
        {"text/javascript", "/a\\..\\..\\", "/" TID "/"},
        {"text/javascript", "/.\t./", "/" TID "/"},
        {"text/javascript", "/" TID "/./x/", "/" TID "/"},
        {"text/javascript", "/a..b/.x/", "/" TID "/a..b/.x/"},
        /* two fields a browser joins with ", ": "/<id>/a, /../../" resolves to "/" */
        {"text/javascript", "/" TID "/a\n/../../", "/" TID "/"},
        {"text/javascript", "/" TID "/a\n/b/", "/" TID "/"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_headers h;
        http_headers_init(&h);
        assert_int_equal(http_headers_add(&h, "Content-Type", 12, cases[i][0], strlen(cases[i][0])),
                         0);
        for (const char *v = cases[i][1]; *v; v += strcspn(v, "\n") + (v[strcspn(v, "\n")] != 0))
            assert_int_equal(
                http_headers_add(&h, "Service-Worker-Allowed", 22, v, strcspn(v, "\n")),
                0); /* '\n' between fields */
        assert_true(path_rewrite_response_head(TID, 200, false, &h) >= 0);
        const char *got = http_headers_get(&h, "Service-Worker-Allowed");
        size_t n = 0;
        for (size_t k = 0; k < h.n; k++)
            n += strcasecmp(h.v[k].name, "Service-Worker-Allowed") == 0;
        assert_true(n <= 1);
        if (cases[i][2][0]) {
            assert_non_null(got);
            assert_string_equal(got, cases[i][2]);
        } else {
            assert_null(got);
        }
        http_headers_free(&h);
    }
}

/* Path routing: every tunnel is one origin, whose storage one tunnel's Clear-Site-Data would
 * clear for all (any of its types): the field goes, the others stay. */
static void clear_site_data_removed(void **state)
{
    (void)state;
    http_headers h;
    http_headers_init(&h);
    assert_int_equal(http_headers_add(&h, "Clear-Site-Data", 15, "\"storage\"", 9), 0);
    assert_int_equal(http_headers_add(&h, "X-A", 3, "1", 1), 0);
    assert_int_equal(http_headers_add(&h, "clear-site-data", 15, "\"cache\"", 7), 0);
    assert_true(path_rewrite_response_head(TID, 200, false, &h) >= 0);
    assert_int_equal(h.n, 1);
    assert_string_equal(h.v[0].name, "X-A");
    http_headers_free(&h);
}

static void response_head_same_with_and_without_body(void **state)
{
    (void)state;
    static const char *const in[][2] = {{"Content-Type", "text/html"},
                                        {"ETag", "\"v1\""},
                                        {"Content-MD5", "abc="},
                                        {"Content-Length", "50"}};
    http_headers g, hd;
    http_headers_init(&g);
    http_headers_init(&hd);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(
            http_headers_add(&g, in[i][0], strlen(in[i][0]), in[i][1], strlen(in[i][1])), 0);
        assert_int_equal(
            http_headers_add(&hd, in[i][0], strlen(in[i][0]), in[i][1], strlen(in[i][1])), 0);
    }
    assert_int_equal(path_rewrite_response_head(TID, 200, false, &g), PATH_RW_HTML);
    assert_int_equal(path_rewrite_response_head(TID, 200, true, &hd), PATH_RW_NONE);
    assert_int_equal(g.n, hd.n);
    for (size_t i = 0; i < g.n; i++) {
        assert_string_equal(g.v[i].name, hd.v[i].name);
        assert_string_equal(g.v[i].value, hd.v[i].value);
    }
    assert_null(http_headers_get(&hd, "Content-Length"));
    assert_null(http_headers_get(&hd, "Content-MD5"));
    assert_string_equal(http_headers_get(&hd, "ETag"), "W/\"v1\"");
    assert_string_equal(http_headers_get(&hd, "X-Tunnel-Rewrite-Applied"), "true");
    http_headers_free(&g);
    http_headers_free(&hd);

    http_headers p; /* a range of the app's bytes: unchanged */
    http_headers_init(&p);
    assert_int_equal(http_headers_add(&p, "Content-Type", 12, "text/html", 9), 0);
    assert_int_equal(http_headers_add(&p, "ETag", 4, "\"v1\"", 4), 0);
    assert_int_equal(http_headers_add(&p, "Content-Length", 14, "10", 2), 0);
    assert_int_equal(path_rewrite_response_head(TID, 206, false, &p), PATH_RW_NONE);
    assert_string_equal(http_headers_get(&p, "ETag"), "\"v1\"");
    assert_string_equal(http_headers_get(&p, "Content-Length"), "10");
    assert_null(http_headers_get(&p, "X-Tunnel-Rewrite-Applied"));
    http_headers_free(&p);

    http_headers e; /* gzip'd: never rewritten, fields unchanged */
    http_headers_init(&e);
    assert_int_equal(http_headers_add(&e, "Content-Type", 12, "text/css", 8), 0);
    assert_int_equal(http_headers_add(&e, "Content-Encoding", 16, "gzip", 4), 0);
    assert_int_equal(http_headers_add(&e, "ETag", 4, "\"z\"", 3), 0);
    assert_int_equal(path_rewrite_response_head(TID, 200, true, &e), PATH_RW_NONE);
    assert_string_equal(http_headers_get(&e, "ETag"), "\"z\"");
    http_headers_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kinds),
        cmocka_unit_test(html_attrs),
        cmocka_unit_test(html_literals_and_injection),
        cmocka_unit_test(css),
        cmocka_unit_test(json),
        cmocka_unit_test(location),
        cmocka_unit_test(head_urls),
        cmocka_unit_test(response_head_same_with_and_without_body),
        cmocka_unit_test(service_workers_stay_inside_the_tunnel),
        cmocka_unit_test(clear_site_data_removed),
        cmocka_unit_test(split_independent),
        cmocka_unit_test(long_constructs),
        cmocka_unit_test(streams_through),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
