/* SPDX-License-Identifier: MIT */
/* test_proxy.c - every proxy rule of lib/proxy.h in one table: hop-by-hop and Connection-listed
 * removal (upgrade and framing exceptions, protected names), Expect, Host from an absolute-form
 * authority, X-Forwarded-For/-Proto/-Host/-Prefix/-Port and Forwarded, exact Content-Length for
 * whole bodies, the response framing rules (Transfer-Encoding over Content-Length, bodiless
 * statuses), Date added when absent to final responses only; then the header flags, the status
 * rules, request ids and JSON piece sizing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http1.h"
#include "proto_json.h"
#include "proxy.h"
#include "rand_pool.h"

typedef struct rule_case {
    const char *name;
    bool request;
    const char *in;  /* "Name: value" lines, '\n'-separated */
    const char *out; /* the list afterwards, same form */
    proxy_request rq;
    proxy_response rs;
} rule_case;

#define IP "10.0.0.7"
#define REQ(...) .request = true, .rq = {__VA_ARGS__}
#define RESP(...) .request = false, .rs = {__VA_ARGS__}
#define FWD "X-Forwarded-For: 10.0.0.7\nX-Forwarded-Proto: http\n"
#define NOW "Sun, 06 Nov 1994 08:49:37 GMT"

static const rule_case cases[] = {
    /* ---- requests ---- */
    {"hop-by-hop removed",
     .in = "Host: h\nConnection: keep-alive\nKeep-Alive: timeout=5\n"
           "Proxy-Connection: keep-alive\nProxy-Authorization: Basic eA==\n"
           "TE: trailers\nTrailer: X-Sum\nUpgrade: h2c\nHTTP2-Settings: AAA\n"
           "X-End: kept",
     .out = "Host: h\nX-End: kept\n" FWD "X-Forwarded-Host: h", REQ(IP, "http", .body_length = -1)},
    {"names listed in Connection removed",
     .in = "Host: h\nConnection: close, X-Secret ,x-other\nX-Secret: s\nX-Other: o\nX-Keep: k",
     .out = "Host: h\nX-Keep: k\n" FWD "X-Forwarded-Host: h", REQ(IP, "http", .body_length = -1)},
    {"names listed over several Connection fields, any case, before or after them",
     .in = "Host: h\nX-B: 1\nConnection: x-a\nX-A: 2\nConnection: X-b, x-c\nx-C: 3\nX-AB: 4\nX-: 5",
     .out = "Host: h\nX-AB: 4\nX-: 5\n" FWD "X-Forwarded-Host: h",
     REQ(IP, "http", .body_length = -1)},
    {"Connection cannot remove Host or framing",
     .in = "Host: h\nConnection: Host, Content-Length, Transfer-Encoding\nContent-Length: 5",
     .out = "Host: h\nContent-Length: 5\n" FWD "X-Forwarded-Host: h",
     REQ(IP, "http", .body_raw = true, .body_length = -1)},
    {"upgrade keeps Connection: Upgrade and Upgrade only",
     .in = "Host: h\nConnection: keep-alive, Upgrade, X-Drop\nUpgrade: websocket\nX-Drop: 1\n"
           "Sec-WebSocket-Key: k",
     .out = "Host: h\nUpgrade: websocket\nSec-WebSocket-Key: k\nConnection: Upgrade\n" FWD
            "X-Forwarded-Host: h",
     REQ(IP, "http", .upgrade = true, .body_raw = true, .body_length = -1)},
    {"raw body keeps Transfer-Encoding", .in = "Host: h\nTransfer-Encoding: chunked",
     .out = "Host: h\nTransfer-Encoding: chunked\n" FWD "X-Forwarded-Host: h",
     REQ(IP, "http", .body_raw = true, .body_length = -1)},
    {"decoded body drops Transfer-Encoding", .in = "Host: h\nTransfer-Encoding: chunked",
     .out = "Host: h\n" FWD "X-Forwarded-Host: h", REQ(IP, "http", .body_length = -1)},
    {"decoded body keeps its Content-Length", .in = "Host: h\nContent-Length: 7",
     .out = "Host: h\nContent-Length: 7\n" FWD "X-Forwarded-Host: h",
     REQ(IP, "http", .body_length = -1)},
    {"whole body: exact Content-Length",
     .in = "Host: h\nContent-Length: 999\nTransfer-Encoding: chunked",
     .out = "Host: h\nContent-Length: 5\n" FWD "X-Forwarded-Host: h",
     REQ(IP, "http", .body_length = 5)},
    {"whole empty body, no length sent: none", .in = "Host: h",
     .out = "Host: h\n" FWD "X-Forwarded-Host: h", REQ(IP, "http", .body_length = 0)},
    {"whole empty body with a length sent: 0", .in = "Host: h\nContent-Length: 0",
     .out = "Host: h\nContent-Length: 0\n" FWD "X-Forwarded-Host: h",
     REQ(IP, "http", .body_length = 0)},
    {"Expect removed", .in = "Host: h\nExpect: 100-continue\nContent-Length: 1",
     .out = "Host: h\nContent-Length: 1\n" FWD "X-Forwarded-Host: h",
     REQ(IP, "http", .body_raw = true, .body_length = -1)},
    {"X-Forwarded-For appended in place", .in = "X-Forwarded-For: 203.0.113.9\nHost: h",
     .out = "X-Forwarded-For: 203.0.113.9, 10.0.0.7\nHost: h\nX-Forwarded-Proto: http\n"
            "X-Forwarded-Host: h",
     REQ(IP, "http", .body_length = -1)},
    {"X-Forwarded-For lines merged in order",
     .in = "Host: h\nX-Forwarded-For: 1.1.1.1, 2.2.2.2\nX-Forwarded-For: 3.3.3.3",
     .out = "Host: h\nX-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, ::1\nX-Forwarded-Proto: https\n"
            "X-Forwarded-Host: h",
     REQ("::1", "https", .body_length = -1)},
    {"X-Forwarded-For members without spaces, written with them (longer than sent)",
     .in = "Host: h\nX-Forwarded-For: 1.1.1.1,2.2.2.2,,3.3.3.3",
     .out = "Host: h\nX-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.7\n"
            "X-Forwarded-Proto: http\nX-Forwarded-Host: h",
     REQ(IP, "http", .body_length = -1)},
    {"X-Forwarded-For already ending with the client (API Gateway) unchanged",
     .in = "host: h\nx-forwarded-for: 203.0.113.9,192.0.2.7",
     .out = "host: h\nX-Forwarded-For: 203.0.113.9, 192.0.2.7\nX-Forwarded-Proto: https\n"
            "X-Forwarded-Host: h",
     REQ("192.0.2.7", "https", .body_length = -1)},
    {"X-Forwarded-Proto and -Host are the edge's",
     .in = "Host: a.example\nX-Forwarded-Proto: https\nX-Forwarded-Host: evil.example\n"
           "X-Forwarded-Host: evil2",
     .out = "Host: a.example\nX-Forwarded-Proto: http\nX-Forwarded-Host: a.example\n"
            "X-Forwarded-For: 10.0.0.7",
     REQ(IP, "http", .body_length = -1)},
    {"a trusted front proxy's X-Forwarded-Proto is kept (lower case)",
     .in = "Host: h\nX-Forwarded-Proto: HTTPS",
     .out = "Host: h\nX-Forwarded-Proto: https\n"
            "X-Forwarded-For: 10.0.0.7\nX-Forwarded-Host: h",
     REQ(IP, "http", .keep_proto = true, .body_length = -1)},
    {"a trusted proxy's http kept under an https edge", .in = "Host: h\nX-Forwarded-Proto: http",
     .out = "Host: h\nX-Forwarded-Proto: http\n"
            "X-Forwarded-For: 10.0.0.7\nX-Forwarded-Host: h",
     REQ(IP, "https", .keep_proto = true, .body_length = -1)},
    {"a trusted proxy's other scheme is replaced", .in = "Host: h\nX-Forwarded-Proto: ftp",
     .out = "Host: h\nX-Forwarded-Proto: http\nX-Forwarded-For: 10.0.0.7\nX-Forwarded-Host: h",
     REQ(IP, "http", .keep_proto = true, .body_length = -1)},
    {"a trusted proxy's list or repeated field is replaced",
     .in = "Host: h\nX-Forwarded-Proto: https\nX-Forwarded-Proto: http",
     .out = "Host: h\nX-Forwarded-Proto: https\nX-Forwarded-For: 10.0.0.7\nX-Forwarded-Host: h",
     REQ(IP, "https", .keep_proto = true, .body_length = -1)},
    {"a trusted proxy without X-Forwarded-Proto: the edge's", .in = "Host: h",
     .out = "Host: h\n" FWD "X-Forwarded-Host: h",
     REQ(IP, "http", .keep_proto = true, .body_length = -1)},
    {"a client's X-Forwarded-Port and Forwarded are removed (Traefik #4099)",
     .in = "Host: h:8080\nX-Forwarded-Port: 1\nForwarded: for=6.6.6.6;host=evil;proto=https\n"
           "X-Forwarded-Port: 2\nX-End: kept",
     .out = "Host: h:8080\nX-End: kept\n" FWD "X-Forwarded-Host: h:8080",
     REQ(IP, "http", .body_length = -1)},
    {"the Lambda keeps API Gateway's X-Forwarded-Port, not Forwarded",
     .in = "Host: h\nX-Forwarded-Port: 443\nForwarded: host=evil",
     .out = "Host: h\nX-Forwarded-Port: 443\nX-Forwarded-For: 10.0.0.7\nX-Forwarded-Proto: https\n"
            "X-Forwarded-Host: h",
     REQ(IP, "https", .keep_port = true, .body_length = -1)},
    {"a trusted front proxy's X-Forwarded-Port and Forwarded are kept",
     .in = "Host: h\nX-Forwarded-Port: 443\nForwarded: for=192.0.2.1;proto=https",
     .out = "Host: h\nX-Forwarded-Port: 443\nForwarded: for=192.0.2.1;proto=https\n" FWD
            "X-Forwarded-Host: h",
     REQ(IP, "http", .keep_proto = true, .body_length = -1)},
    {"a client's other address, scheme and host claims are removed (Traefik, Cloudflare)",
     .in = "Host: h\nX-Real-IP: 6.6.6.6\nTrue-Client-IP: 6.6.6.6\nCF-Connecting-IP: 6.6.6.6\n"
           "cf-connecting-ipv6: ::6\nX-Client-IP: 6.6.6.6\nClient-IP: 6.6.6.6\n"
           "X-Cluster-Client-IP: 6.6.6.6\nFastly-Client-IP: 6.6.6.6\nX-Forwarded: for=6.6.6.6\n"
           "Forwarded-For: 6.6.6.6\nX-Original-Forwarded-For: 6.6.6.6\n"
           "X-Forwarded-Server: evil\nX-Forwarded-Scheme: https\nX-Scheme: https\n"
           "X-Forwarded-Ssl: on\nFront-End-Https: on\nX-Url-Scheme: https\n"
           "X-Forwarded-Uri: /admin\nX-Forwarded-Method: GET\nX-Forwarded-Tls-Client-Cert: MII\n"
           "X-Forwarded-Tls-Client-Cert-Info: Subject\nX-REAL-IP: 7.7.7.7\n"
           "Client-Cert: :MII=:\nClient-Cert-Chain: :MII=:\nX-Forwarded-Client-Cert: By=a\n"
           "X-Original-URL: /admin\nX-Rewrite-URL: /admin\nclient_cert: :MII=:\nX-End: kept",
     .out = "Host: h\nX-End: kept\n" FWD "X-Forwarded-Host: h", REQ(IP, "http", .body_length = -1)},
    {"underscore spellings (one CGI variable with the dashed name) are removed",
     .in = "Host: h\nX_Real_IP: 6.6.6.6\nX_Forwarded_For: 6.6.6.6\nx_forwarded_proto: https\n"
           "X_Forwarded_Host: evil\nX_Forwarded_Port: 1\nX_Forwarded_Prefix: /evil\n"
           "CF_Connecting_IP: 6.6.6.6\nX_Custom: kept",
     .out = "Host: h\nX_Custom: kept\n" FWD "X-Forwarded-Host: h",
     REQ(IP, "http", .body_length = -1)},
    {"names that only look alike are kept",
     .in = "Host: h\nX-Real-IPs: a\nX-Real: b\nClient-IP-Hint: c\nX-Forwarded-Fors: d\n"
           "Real-IP: e",
     .out = "Host: h\nX-Real-IPs: a\nX-Real: b\nClient-IP-Hint: c\nX-Forwarded-Fors: d\n"
            "Real-IP: e\n" FWD "X-Forwarded-Host: h",
     REQ(IP, "http", .body_length = -1)},
    {"the Lambda: a client's X-Real-IP removed, API Gateway's X-Forwarded-Port kept",
     .in = "host: h\nx-real-ip: 6.6.6.6\nx-forwarded-port: 443\nx_forwarded_port: 1",
     .out = "host: h\nx-forwarded-port: 443\nX-Forwarded-For: 10.0.0.7\n"
            "X-Forwarded-Proto: https\nX-Forwarded-Host: h",
     REQ(IP, "https", .keep_port = true, .body_length = -1)},
    {"a trusted front proxy's X-Real-IP and the like are kept",
     .in = "Host: h\nX-Real-IP: 192.0.2.1\nCF-Connecting-IP: 192.0.2.1\nX-Forwarded-Ssl: on",
     .out = "Host: h\nX-Real-IP: 192.0.2.1\nCF-Connecting-IP: 192.0.2.1\nX-Forwarded-Ssl: on\n" FWD
            "X-Forwarded-Host: h",
     REQ(IP, "http", .keep_proto = true, .body_length = -1)},
    {"path mode sets X-Forwarded-Prefix", .in = "Host: h\nX-Forwarded-Prefix: /evil",
     .out = "Host: h\nX-Forwarded-Prefix: /abc123def456\n" FWD "X-Forwarded-Host: h",
     REQ(IP, "http", .prefix = "/abc123def456", .body_length = -1)},
    {"subdomain mode removes a client's X-Forwarded-Prefix",
     .in = "Host: h\nX-Forwarded-Prefix: /x", .out = "Host: h\n" FWD "X-Forwarded-Host: h",
     REQ(IP, "http", .body_length = -1)},
    {"absolute-form authority replaces Host", .in = "Accept: */*\nHost: other.example",
     .out = "Accept: */*\nHost: abc.localhost:8080\n" FWD "X-Forwarded-Host: abc.localhost:8080",
     REQ(IP, "http", .authority = "abc.localhost:8080", .body_length = -1)},
    {"no Host (HTTP/1.0): an empty one, no X-Forwarded-Host",
     .in = "Accept: */*\nX-Forwarded-Host: evil",
     .out = "Accept: */*\nHost: \nX-Forwarded-For: 10.0.0.7\nX-Forwarded-Proto: http",
     REQ(IP, "http", .body_length = -1)},
    {"Trailer kept where the trailers go on (binary mode; RFC 9110 §6.6.2: end-to-end)",
     .in = "Host: h\nTransfer-Encoding: chunked\nTrailer: X-Sum, X-Sig",
     .out = "Host: h\nTrailer: X-Sum, X-Sig\n" FWD "X-Forwarded-Host: h",
     REQ(IP, "http", .body_length = -1, .trailers = true)},
    {"Trailer listed in Connection removed even with trailers",
     .in = "Host: h\nConnection: Trailer\nTrailer: X-Sum",
     .out = "Host: h\n" FWD "X-Forwarded-Host: h",
     REQ(IP, "http", .body_length = -1, .trailers = true)},
    {"Trailer removed where the trailers are dropped (JSON mode)",
     .in = "Host: h\nTransfer-Encoding: chunked\nTrailer: X-Sum",
     .out = "Host: h\n" FWD "X-Forwarded-Host: h", REQ(IP, "http", .body_length = -1)},
    {"repeats kept in order", .in = "Host: h\nCookie: a=1\nX-Rep: 1\nCookie: b=2\nX-Rep: 2, 3",
     .out = "Host: h\nCookie: a=1\nX-Rep: 1\nCookie: b=2\nX-Rep: 2, 3\n" FWD "X-Forwarded-Host: h",
     REQ(IP, "http", .body_length = -1)},
    /* ---- responses ---- */
    {"response hop-by-hop removed, raw framing kept",
     .in = "Connection: X-Resp-Hop, close\nX-Resp-Hop: s\nKeep-Alive: timeout=7\n"
           "Transfer-Encoding: chunked\nSet-Cookie: a=1\nSet-Cookie: b=2\nProxy-Authenticate: B",
     .out = "Transfer-Encoding: chunked\nSet-Cookie: a=1\nSet-Cookie: b=2",
     RESP(200, .body_raw = true)},
    {"response decoded: Transfer-Encoding dropped", .in = "Transfer-Encoding: chunked\nX-A: 1",
     .out = "X-A: 1", RESP(200)},
    {"Transfer-Encoding overrides Content-Length (raw)",
     .in = "Content-Length: 9\nTransfer-Encoding: chunked", .out = "Transfer-Encoding: chunked",
     RESP(200, .body_raw = true)},
    {"Transfer-Encoding overrides Content-Length (decoded)",
     .in = "Content-Length: 9\nTransfer-Encoding: chunked\nX-A: 1", .out = "X-A: 1", RESP(200)},
    {"Content-Length kept when it frames the body", .in = "Content-Length: 9",
     .out = "Content-Length: 9", RESP(200)},
    {"Connection cannot remove a response's framing",
     .in = "Connection: Content-Length\nContent-Length: 9", .out = "Content-Length: 9",
     RESP(200, .body_raw = true)},
    {"101 of an upgrade keeps Connection and Upgrade",
     .in = "Upgrade: websocket\nConnection: Upgrade, X-H\nX-H: 1\nSec-WebSocket-Accept: a",
     .out = "Upgrade: websocket\nSec-WebSocket-Accept: a\nConnection: Upgrade",
     RESP(101, .body_raw = true, .upgrade = true)},
    {"Connection/Upgrade of a non-101 removed", .in = "Upgrade: h2\nConnection: Upgrade\nX: 1",
     .out = "X: 1", RESP(200, .body_raw = true, .upgrade = true)},
    {"204: no Content-Length nor Transfer-Encoding",
     .in = "Content-Length: 0\nTransfer-Encoding: chunked\nX: 1", .out = "X: 1",
     RESP(204, .body_raw = true)},
    {"1xx: no Content-Length", .in = "Link: </s.css>; rel=preload\nContent-Length: 0",
     .out = "Link: </s.css>; rel=preload", RESP(103, .body_raw = true)},
    {"response Trailer kept with its trailers (binary mode)",
     .in = "Transfer-Encoding: chunked\nTrailer: X-Checksum\nX-A: 1",
     .out = "Trailer: X-Checksum\nX-A: 1", RESP(200, .trailers = true)},
    {"response Trailer removed without its trailers (JSON mode)",
     .in = "Transfer-Encoding: chunked\nTrailer: X-Checksum\nX-A: 1", .out = "X-A: 1", RESP(200)},
    {"304 keeps Content-Length", .in = "Content-Length: 42\nETag: \"x\"",
     .out = "Content-Length: 42\nETag: \"x\"", RESP(304, .body_raw = true)},
    /* ---- Date (RFC 9110 §6.6.1): added by the hop that writes to the client, when absent ---- */
    {"final response without Date: the edge's appended", .in = "Content-Length: 2\nX: 1",
     .out = "Content-Length: 2\nX: 1\nDate: " NOW, RESP(200, .body_raw = true, .date = NOW)},
    {"the service's Date stays byte for byte, in its place, once",
     .in = "date: Tue, 01 Jan 2030 00:00:00 GMT\nX: 1",
     .out = "date: Tue, 01 Jan 2030 00:00:00 GMT\nX: 1", RESP(200, .date = NOW)},
    {"the obsolete forms are HTTP-dates too: kept as sent (rfc850)",
     .in = "Date: Sunday, 06-Nov-94 08:49:37 GMT", .out = "Date: Sunday, 06-Nov-94 08:49:37 GMT",
     RESP(200, .date = NOW)},
    {"the obsolete forms are HTTP-dates too: kept as sent (asctime)",
     .in = "Date: Sun Nov  6 08:49:37 1994", .out = "Date: Sun Nov  6 08:49:37 1994",
     RESP(200, .date = NOW)},
    {"a Date that does not parse: the edge's now in its place (RFC 9110 §6.6.1 MAY replace)",
     .in = "X: 0\nDate: yesterday\nX: 1", .out = "X: 0\nDate: " NOW "\nX: 1",
     RESP(200, .date = NOW)},
    {"an empty Date: the edge's now in its place", .in = "Date: \nX: 1",
     .out = "Date: " NOW "\nX: 1", RESP(200, .date = NOW)},
    {"a Date in lower case is no HTTP-date (case-sensitive): replaced",
     .in = "Date: sun, 06 nov 1994 08:49:37 gmt", .out = "Date: " NOW, RESP(204, .date = NOW)},
    {"two Date lines (one field, not a list): one, the edge's, in the first one's place",
     .in = "Date: " NOW "\nX: 1\nDate: " NOW, .out = "Date: " NOW "\nX: 1", RESP(200, .date = NOW)},
    {"no clock (ttf, the Lambda): an invalid Date removed, for the next hop to write",
     .in = "X: 0\nDate: \nX: 1\nDate: yesterday", .out = "X: 0\nX: 1", RESP(200)},
    {"no clock: a valid Date kept", .in = "Date: " NOW, .out = "Date: " NOW, RESP(200)},
    {"an interim's invalid Date removed, none added", .in = "Date: x\nLink: <a>",
     .out = "Link: <a>", RESP(103, .body_raw = true, .date = NOW)},
    {"204 gets one", .in = "X: 1", .out = "X: 1\nDate: " NOW, RESP(204, .date = NOW)},
    {"304 gets one", .in = "ETag: \"x\"", .out = "ETag: \"x\"\nDate: " NOW, RESP(304, .date = NOW)},
    {"404 gets one", .in = "", .out = "Date: " NOW, RESP(404, .date = NOW)},
    {"502 gets one (MAY for 5xx; MUST for a relay forwarding one without)", .in = "",
     .out = "Date: " NOW, RESP(502, .date = NOW)},
    {"interim 103: none added", .in = "Link: </s.css>; rel=preload",
     .out = "Link: </s.css>; rel=preload", RESP(103, .body_raw = true, .date = NOW)},
    {"interim 100: none added", .in = "", .out = "", RESP(100, .date = NOW)},
    {"101 of an upgrade: none added", .in = "Upgrade: websocket\nConnection: Upgrade",
     .out = "Upgrade: websocket\nConnection: Upgrade",
     RESP(101, .body_raw = true, .upgrade = true, .date = NOW)},
    {"no clock (the agent; the Lambda: API Gateway writes it): none", .in = "X: 1", .out = "X: 1",
     RESP(200)},
    {"an empty clock text: none", .in = "X: 1", .out = "X: 1", RESP(200, .date = "")},
};

static void load(http_headers *h, const char *text)
{
    http_headers_init(h);
    while (text && *text) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        const char *colon = memchr(text, ':', n);
        assert_non_null(colon);
        const char *v = colon + 1;
        if (v < text + n && *v == ' ')
            v++;
        assert_int_equal(
            http_headers_add(h, text, (size_t)(colon - text), v, (size_t)(text + n - v)), 0);
        text += n + (nl ? 1 : 0);
    }
}

static char *dump(const http_headers *h)
{
    size_t cap = 16;
    for (size_t i = 0; i < h->n; i++)
        cap += h->v[i].nlen + h->v[i].vlen + 3;
    char *s = malloc(cap), *p = s;
    for (size_t i = 0; i < h->n; i++)
        p += sprintf(p, "%s%s: %s", i ? "\n" : "", h->v[i].name, h->v[i].value);
    *p = '\0';
    return s;
}

static void test_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const rule_case *c = &cases[i];
        http_headers h;
        load(&h, c->in);
        int rc =
            c->request ? proxy_request_headers(&h, &c->rq) : proxy_response_headers(&h, &c->rs);
        assert_int_equal(rc, 0);
        char *got = dump(&h);
        if (strcmp(got, c->out) != 0)
            fail_msg("%s:\n--- got\n%s\n--- want\n%s", c->name, got, c->out);
        free(got);
        http_headers_free(&h);
    }
}

/* A request's trailers lose every forwarding field and claim, from a trusted proxy too
 * (Apache httpd's MergeTrailers, CVE-2013-5704); other fields stay in order. */
static void test_request_trailers(void **state)
{
    (void)state;
    http_headers h;
    load(&h, "X-Checksum: 1\nX-Forwarded-For: 6.6.6.6\nforwarded: for=6.6.6.6\n"
             "X-Forwarded-Host: evil\nX-Forwarded-Proto: https\nX-Forwarded-Port: 1\n"
             "X-Forwarded-Prefix: /evil\nX-Real-IP: 6.6.6.6\nX_Forwarded_For: 6.6.6.6\n"
             "Client-Cert: :MII=:\nCF-Connecting-IP: 6.6.6.6\nX-Real-IPs: kept\nServer-Timing: a");
    proxy_request_trailers(&h);
    char *got = dump(&h);
    assert_string_equal(got, "X-Checksum: 1\nX-Real-IPs: kept\nServer-Timing: a");
    free(got);
    http_headers_free(&h);
}

/* CDN-Loop (RFC 8586): one mark per key and tunnel, found as a member's cdn-id in any field line,
 * any case, with or without parameters; a longer or shorter id, or the mark inside a parameter,
 * is not it. The request rule appends it as a line of its own after the client's. */
static void test_loop_mark(void **state)
{
    (void)state;
    char a[PROXY_LOOP_MARK_LEN + 1], b[PROXY_LOOP_MARK_LEN + 1], c[PROXY_LOOP_MARK_LEN + 1];
    assert_int_equal(proxy_loop_mark(a, "k1", 2, "abc123def456"), 0);
    assert_int_equal(proxy_loop_mark(b, "k1", 2, "abc123def457"), 0);
    assert_int_equal(proxy_loop_mark(c, "k2", 2, "abc123def456"), 0);
    assert_int_equal(strlen(a), PROXY_LOOP_MARK_LEN);
    assert_memory_equal(a, "http-tunnel-", 12);
    assert_string_not_equal(a, b);
    assert_string_not_equal(a, c);
    char upper[PROXY_LOOP_MARK_LEN + 1], lines[400];
    for (size_t i = 0; i <= PROXY_LOOP_MARK_LEN; i++)
        upper[i] = (char)(a[i] >= 'a' && a[i] <= 'z' ? a[i] - 32 : a[i]);
    const char *seen[] = {"CDN-Loop: %s", "cdn-loop: other, %s; v=1", "CDN-Loop: x\ncdn-LOOP: %s",
                          "CDN-Loop: fastly,%s ;a=b"};
    for (size_t i = 0; i < sizeof seen / sizeof *seen; i++) {
        http_headers h;
        snprintf(lines, sizeof lines, seen[i], i == 1 ? upper : a);
        load(&h, lines);
        assert_true(proxy_loop_seen(&h, a));
        assert_false(proxy_loop_seen(&h, b));
        http_headers_free(&h);
    }
    const char *unseen[] = {"CDN-Loop: %sx", "CDN-Loop: x%s", "CDN-Loop: other; id=%s",
                            "X-CDN-Loop: %s", "CDN-Loops: %s"};
    for (size_t i = 0; i < sizeof unseen / sizeof *unseen; i++) {
        http_headers h;
        snprintf(lines, sizeof lines, unseen[i], a);
        load(&h, lines);
        assert_false(proxy_loop_seen(&h, a));
        http_headers_free(&h);
    }
    http_headers h;
    load(&h, "CDN-Loop: other; v=1\nX-A: 1\nCDN-Loop: cdn2");
    proxy_request rq = {.client_ip = IP, .proto = "http", .loop_mark = a};
    assert_int_equal(proxy_request_headers(&h, &rq), 0);
    assert_string_equal(h.v[0].value, "other; v=1");
    assert_string_equal(h.v[2].value, "cdn2");
    size_t last = 0;
    for (size_t i = 0; i < h.n; i++)
        if (strcasecmp(h.v[i].name, "CDN-Loop") == 0)
            last = i;
    assert_true(last > 2);
    assert_string_equal(h.v[last].value, a);
    assert_true(proxy_loop_seen(&h, a));
    http_headers_free(&h);
}

/* Set-Cookie fields scoped to the shared domain or a parent of it go; the rest stay in order. */
static void test_cookie_scope(void **state)
{
    (void)state;
    http_headers h;
    load(&h, "Set-Cookie: a=1; Domain=t.example\nSet-Cookie: b=2; Path=/; domain=.T.EXAMPLE\n"
             "Set-Cookie: c=3; Domain=example\nSet-Cookie: d=4; Domain=id.t.example\n"
             "Set-Cookie: e=5\nSet-Cookie: f=6; Domain=t.example; Domain=other.test\n"
             "Set-Cookie: g=7; Domain=other.test; Domain = t.example ; Secure\n"
             "Set-Cookie: h=8; Domain=\nSet-Cookie: i=9; xDomain=t.example\n"
             "Set-Cookie: j=10; Domain=est.example\nSet-Cookie: k=11; Domain=t.example.evil\n"
             "X-Other: Domain=t.example\nClear-Site-Data: \"cache\", \"cookies\"\n"
             "clear-site-data: \"*\"\nClear-Site-Data: \"storage\", \"cache\"");
    assert_int_equal(proxy_cookie_scope(&h, "t.example"), 6);
    char *got = dump(&h);
    assert_string_equal(got, "Set-Cookie: d=4; Domain=id.t.example\nSet-Cookie: e=5\n"
                             "Set-Cookie: f=6; Domain=t.example; Domain=other.test\n"
                             "Set-Cookie: h=8; Domain=\nSet-Cookie: i=9; xDomain=t.example\n"
                             "Set-Cookie: j=10; Domain=est.example\n"
                             "Set-Cookie: k=11; Domain=t.example.evil\nX-Other: Domain=t.example\n"
                             "Clear-Site-Data: \"storage\", \"cache\"");
    free(got);
    assert_int_equal(proxy_cookie_scope(&h, NULL), 0);
    http_headers_free(&h);

    /* a trailing dot (a browser at "id.t.example." keeps "t.example." for every tunnel there),
     * on either side, a ":port" in the configured name, Clear-Site-Data in any case or quoting */
    static const char *const domains[] = {"t.example", "t.example.", "T.Example:8080"};
    for (size_t i = 0; i < sizeof domains / sizeof domains[0]; i++) {
        load(&h, "Set-Cookie: a=1; Domain=t.example.\nSet-Cookie: b=2; Domain=t.example\n"
                 "Set-Cookie: c=3; Domain=.example.\nSet-Cookie: d=4; Domain=id.t.example.\n"
                 "Set-Cookie: e=5; Domain=t.example..\nClear-Site-Data: \"COOKIES\"\n"
                 "Clear-Site-Data: cookies\nClear-Site-Data: \"cache\" , * \n"
                 "Clear-Site-Data: \"cookiesx\"");
        assert_int_equal(proxy_cookie_scope(&h, domains[i]), 6);
        got = dump(&h);
        assert_string_equal(got, "Set-Cookie: d=4; Domain=id.t.example.\n"
                                 "Set-Cookie: e=5; Domain=t.example..\n"
                                 "Clear-Site-Data: \"cookiesx\"");
        free(got);
        http_headers_free(&h);
    }
}

/* A parsed head (arena strings) goes through the rules as well as added entries. */
static void test_parsed_head(void **state)
{
    (void)state;
    const char *in = "GET http://abc.localhost:8080/x HTTP/1.1\r\nHost: other\r\n"
                     "Connection: X-A\r\nX-A: 1\r\nExpect: 100-continue\r\n\r\n";
    http1_head h;
    http1_head_init(&h);
    http1_err err;
    size_t used;
    assert_int_equal(http1_parse_head(&h, in, strlen(in), true, NULL, &used, &err),
                     HTTP1_HEAD_DONE);
    proxy_request rq = {.client_ip = "::1",
                        .proto = "https",
                        .authority = h.authority,
                        .prefix = NULL,
                        .body_length = -1};
    assert_int_equal(proxy_request_headers(&h.headers, &rq), 0);
    size_t len;
    char *out = http_format_request_head(h.method, h.path, &h.headers, &len);
    assert_string_equal(out, "GET /x HTTP/1.1\r\nHost: abc.localhost:8080\r\n"
                             "X-Forwarded-For: ::1\r\nX-Forwarded-Proto: https\r\n"
                             "X-Forwarded-Host: abc.localhost:8080\r\n\r\n");
    free(out);
    http1_head_free(&h);
}

static void test_flags(void **state)
{
    (void)state;
    const char *hop[] = {
        "Connection",        "keep-alive", "PROXY-CONNECTION",   "TE",
        "Transfer-Encoding", "Upgrade",    "Proxy-Authenticate", "Proxy-Authorization"};
    for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
        assert_true(proxy_is_hop_by_hop(hop[i]));
    const char *e2e[] = {"Content-Length", "Set-Cookie", "Host", "X-Forwarded-For",
                         "Expect",         "Trailer",    ""};
    for (size_t i = 0; i < sizeof e2e / sizeof e2e[0]; i++)
        assert_false(proxy_is_hop_by_hop(e2e[i]));
    assert_true(proxy_header_flags(HTTP_H_CONTENT_LENGTH) & PROXY_FRAMING);
    assert_true(proxy_header_flags(HTTP_H_TRANSFER_ENCODING) & PROXY_FRAMING);
    assert_true(proxy_header_flags(HTTP_H_HOST) & PROXY_PROTECTED);
    assert_true(proxy_header_flags(HTTP_H_EXPECT) & PROXY_DROP_REQUEST);
    assert_true(proxy_header_flags(HTTP_H_UPGRADE) & PROXY_UPGRADE);
    assert_int_equal(proxy_header_flags(HTTP_H_TRAILER), PROXY_TRAILER);
    assert_true(proxy_header_flags(HTTP_H_X_FORWARDED_PREFIX) & PROXY_FORWARDED);
    assert_int_equal(proxy_header_flags(HTTP_H_OTHER), 0);
}

static void test_status_rules(void **state)
{
    (void)state;
    static const struct {
        int s;
        bool valid, interim, final, bodiless;
    } t[] = {
        {99, false, false, false, false},  {100, true, true, false, true},
        {101, true, true, false, true},    {103, true, true, false, true},
        {199, true, true, false, true},    {200, true, false, true, false},
        {204, true, false, true, true},    {205, true, false, true, false},
        {304, true, false, true, true},    {404, true, false, true, false},
        {599, true, false, true, false},   {600, false, false, false, false},
        {999, false, false, false, false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_int_equal(proxy_status_valid(t[i].s), t[i].valid);
        assert_int_equal(proxy_status_interim(t[i].s), t[i].interim);
        assert_int_equal(proxy_status_final(t[i].s), t[i].final);
        assert_int_equal(proxy_bodiless(t[i].s, false), t[i].bodiless);
    }
    assert_true(proxy_bodiless(200, true)); /* any answer to HEAD */
}

static void check_uuid_v4(const char *a)
{
    assert_int_equal(strlen(a), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(a[i], '-');
        else
            assert_non_null(strchr("0123456789abcdef", a[i]));
    }
    assert_int_equal(a[14], '4');
    assert_non_null(strchr("89ab", a[19]));
}

static void test_request_id(void **state)
{
    (void)state;
    char a[PROXY_REQUEST_ID_LEN + 1], b[PROXY_REQUEST_ID_LEN + 1];
    assert_int_equal(proxy_request_id(a, NULL), 0);
    assert_int_equal(proxy_request_id(b, NULL), 0);
    check_uuid_v4(a);
    check_uuid_v4(b);
    assert_string_not_equal(a, b);
    /* from a pool: every id fresh, across the pool's refills (4096 / 16 = 256 ids per fill) */
    rand_pool *pool = malloc(sizeof *pool);
    assert_non_null(pool);
    rand_pool_init(pool);
    char prev[PROXY_REQUEST_ID_LEN + 1] = "";
    for (int i = 0; i < 600; i++) {
        assert_int_equal(proxy_request_id(a, pool), 0);
        check_uuid_v4(a);
        assert_string_not_equal(a, prev);
        assert_string_not_equal(a, b);
        memcpy(prev, a, sizeof prev);
    }
    free(pool);
}

/* RFC 9110 §9.2.2: only these are sent again by a relay on its own (RFC 9112 §9.3.1). */
static void test_idempotent_methods(void **state)
{
    (void)state;
    const char *yes[] = {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"};
    const char *no[] = {"POST", "PATCH", "LOCK", "CONNECT", "get", "PROPFIND", "", "GETX"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(proxy_method_idempotent(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(proxy_method_idempotent(no[i]));
}

static void test_json_pieces(void **state)
{
    (void)state;
    assert_int_equal(proxy_json_first_piece(0), TTF_JSON_CHUNK);
    assert_int_equal(proxy_json_first_piece(200), TTF_JSON_CHUNK);
    assert_int_equal(proxy_json_first_piece(TTF_JSON_MAX_MSG), 0);
    assert_int_equal(proxy_json_first_piece(TTF_JSON_MAX_MSG - PROXY_JSON_SLACK), 0);
    for (size_t base = 0; base < TTF_JSON_MAX_MSG; base += 997) {
        size_t cap = proxy_json_first_piece(base);
        /* the piece in base64 and the slack fit one frame */
        if (cap)
            assert_true(base + (cap + 2) / 3 * 4 + PROXY_JSON_SLACK <= TTF_JSON_MAX_MSG);
        assert_true(cap <= TTF_JSON_CHUNK);
    }
    assert_int_equal(PROXY_JSON_MAX_PIECES, 100000u);
}

/* proxy_url_map for test_url_fields: "/a..." becomes "/t/a...", anything else stays. */
static char *prefix_t(void *ud, const char *url, size_t len)
{
    (void)ud;
    if (len == 0 || url[0] != '/')
        return NULL;
    char *o = malloc(len + 3);
    if (o) {
        memcpy(o, "/t", 2);
        memcpy(o + 2, url, len);
        o[len + 2] = '\0';
    }
    return o;
}

/* Location, Content-Location and Refresh's url= go through the map, each in its own place;
 * other fields, and URLs the map leaves, stay as they were. */
static void test_url_fields(void **state)
{
    (void)state;
    http_headers h;
    http_headers_init(&h);
    const char *in[][2] = {{"X-Before", "/a"},         {"location", "/a?b"},
                           {"Link", "</a>"},           {"Refresh", "3; URL='/r'"},
                           {"Content-Location", "/c"}, {"Location", "http://x/a"}};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(
            http_headers_add(&h, in[i][0], strlen(in[i][0]), in[i][1], strlen(in[i][1])), 0);
    assert_int_equal(proxy_map_url_fields(&h, prefix_t, NULL), 0);
    const char *want[][2] = {
        {"X-Before", "/a"},           {"location", "/t/a?b"},       {"Link", "</a>"},
        {"Refresh", "3; URL='/t/r'"}, {"Content-Location", "/t/c"}, {"Location", "http://x/a"}};
    assert_int_equal(h.n, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(h.v[i].name, want[i][0]);
        assert_string_equal(h.v[i].value, want[i][1]);
    }
    http_headers_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_parsed_head),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_status_rules),
        cmocka_unit_test(test_request_id),
        cmocka_unit_test(test_json_pieces),
        cmocka_unit_test(test_url_fields),
        cmocka_unit_test(test_idempotent_methods),
        cmocka_unit_test(test_request_trailers),
        cmocka_unit_test(test_cookie_scope),
        cmocka_unit_test(test_loop_mark),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
