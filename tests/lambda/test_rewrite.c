/* Path-mode content rewriting rules (upstream's, with its bugs fixed). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rewrite.h"

#define TID "abc123def456"

/* Rewrites s; returns a NUL-terminated copy of the result (the input when unchanged). */
static char *rw(rewrite_kind k, const char *s)
{
    uint8_t *out;
    size_t n;
    int rc = rewrite_body(k, TID, (const uint8_t *)s, strlen(s), &out, &n);
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

static void kinds(void **state)
{
    (void)state;
    assert_int_equal(rewrite_kind_for("text/html; charset=utf-8", NULL), RW_HTML);
    assert_int_equal(rewrite_kind_for("TEXT/HTML", NULL), RW_HTML);
    assert_int_equal(rewrite_kind_for("text/css", NULL), RW_CSS);
    assert_int_equal(rewrite_kind_for("application/json", "identity"), RW_JSON);
    assert_int_equal(rewrite_kind_for("application/javascript", NULL), RW_JS);
    assert_int_equal(rewrite_kind_for("text/html", "gzip"), RW_NONE); /* never compressed */
    assert_int_equal(rewrite_kind_for("text/html", "br"), RW_NONE);
    assert_int_equal(rewrite_kind_for("image/png", NULL), RW_NONE);
    assert_int_equal(rewrite_kind_for("application/jsonx", NULL), RW_NONE);
    assert_int_equal(rewrite_kind_for(NULL, NULL), RW_NONE);
}

static void html_attrs(void **state)
{
    (void)state;
    char *r = rw(RW_HTML, "<html><head><title>t</title></head><body>"
                          "<a href=\"/about\">a</a><img src='/i.png'><form action=\"/go\">"
                          "<a href=\"/" TID "/x\">in</a><a href=\"//cdn.x/y\">c</a>"
                          "<a href=\"https://e.com/\">e</a><a href=\"#top\">h</a>"
                          "<img data-src=\"/lazy.png\"><a href=\"rel/x\">r</a></body></html>");
    assert_non_null(strstr(r, "href=\"/" TID "/about\""));
    assert_non_null(strstr(r, "src='/" TID "/i.png'")); /* single quotes too */
    assert_non_null(strstr(r, "action=\"/" TID "/go\""));
    assert_non_null(strstr(r, "href=\"/" TID "/x\">in")); /* not twice */
    assert_null(strstr(r, "/" TID "/" TID));
    assert_non_null(strstr(r, "href=\"//cdn.x/y\""));
    assert_non_null(strstr(r, "href=\"https://e.com/\""));
    assert_non_null(strstr(r, "href=\"#top\""));
    assert_non_null(strstr(r, "data-src=\"/lazy.png\"")); /* whole attribute names only */
    assert_non_null(strstr(r, "href=\"rel/x\""));
    /* context script right after <head>, basePath with its leading slash */
    assert_non_null(strstr(r, "<head><script>window.__TUNNEL_CONTEXT__="));
    assert_non_null(strstr(r, "basePath:'/" TID "'"));
    assert_non_null(strstr(r, "window.__TUNNEL_BASE_PATH__='/" TID "'"));
    free(r);
}

static void html_literals_and_injection(void **state)
{
    (void)state;
    char *r = rw(RW_HTML, "<html lang=en><body><script>SwaggerUIBundle({url: '/openapi.json', "
                          "oauth2RedirectUrl: \"/docs/oauth2-redirect\", x: '/plain', "
                          "y: '/api/v1/items', z: '/" TID "/api'})</script></body></html>");
    assert_non_null(strstr(r, "'/" TID "/openapi.json'"));
    assert_non_null(strstr(r, "\"/" TID "/docs/oauth2-redirect\""));
    assert_non_null(strstr(r, "'/plain'"));
    assert_non_null(strstr(r, "'/" TID "/api/v1/items'"));
    assert_non_null(strstr(r, "'/" TID "/api'"));
    /* no <head>: wrapped in one after <html ...> */
    assert_non_null(strstr(r, "<html lang=en><head><script>"));
    free(r);
    r = rw(RW_HTML, "<p>fragment</p>");
    assert_int_equal(strncmp(r, "<script>window.__TUNNEL_CONTEXT__", 33), 0);
    free(r);
}

static void css(void **state)
{
    (void)state;
    char *r = rw(RW_CSS, "a{background:url('/a.png')} b{background:url(\"/b.png\")} "
                         "c{background:url(/c.png)} d{background:url(data:image/png;base64,AA)} "
                         "e{background:url(//cdn/e.png)} f{background:url(/" TID "/f.png)} "
                         "g{background:url(rel.png)}");
    assert_non_null(strstr(r, "url('/" TID "/a.png')"));
    assert_non_null(strstr(r, "url(\"/" TID "/b.png\")"));
    assert_non_null(strstr(r, "url(/" TID "/c.png)"));
    assert_non_null(strstr(r, "url(data:image/png;base64,AA)"));
    assert_non_null(strstr(r, "url(//cdn/e.png)"));
    assert_non_null(strstr(r, "url(/" TID "/f.png)"));
    assert_non_null(strstr(r, "url(rel.png)"));
    free(r);
}

static void json(void **state)
{
    (void)state;
    char *r =
        rw(RW_JSON, "{\"openapi\":\"3.1.0\",\"servers\": [ {\"url\": \"/\"}],"
                    "\"paths\":{\"/api/items\":{\"get\":{}}},\"next\":\"/api/items?page=2\","
                    "\"self\":\"/todos/1\",\"other\":\"/elsewhere\",\"abs\":\"http://x/api\"}");
    assert_non_null(strstr(r, "{\"url\": \"/" TID "/\"}"));
    assert_non_null(strstr(r, "\"/api/items\":{")); /* keys are not rewritten */
    assert_non_null(strstr(r, "\"self\":\"/" TID "/todos/1\""));
    assert_non_null(strstr(r, "\"other\":\"/elsewhere\""));
    assert_non_null(strstr(r, "\"abs\":\"http://x/api\""));
    assert_non_null(strstr(r, "\"next\":\"/api/items?page=2\"")); /* not a plain path */
    free(r);
    /* unchanged body: reported as unchanged */
    uint8_t *out;
    size_t n;
    const char *plain = "{\"a\":1}";
    assert_int_equal(rewrite_body(RW_JSON, TID, (const uint8_t *)plain, strlen(plain), &out, &n),
                     0);
    assert_null(out);
    assert_int_equal(rewrite_body(RW_JS, TID, (const uint8_t *)"'/api'", 6, &out, &n), 0);
    assert_int_equal(rewrite_body(RW_NONE, TID, (const uint8_t *)"x", 1, &out, &n), 0);
}

static void location(void **state)
{
    (void)state;
    char *l = rewrite_location(TID, "/login?next=/x");
    assert_string_equal(l, "/" TID "/login?next=/x");
    free(l);
    assert_null(rewrite_location(TID, "/" TID "/already"));
    assert_null(rewrite_location(TID, "/" TID));
    assert_null(rewrite_location(TID, "https://example.com/x"));
    assert_null(rewrite_location(TID, "//cdn.example.com/x"));
    assert_null(rewrite_location(TID, "relative"));
    l = rewrite_location(TID, "/");
    assert_string_equal(l, "/" TID "/");
    free(l);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
