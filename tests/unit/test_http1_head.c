/* SPDX-License-Identifier: MIT */
/* test_http1_head.c - every rule of the strict head parser (lib/http1_head.h), table-driven:
 * request lines (any token as method, the four target forms, versions), field lines (colon,
 * obs-fold, bare LF/CR, controls, obs-text), Host, Content-Length and Transfer-Encoding rules
 * (request smuggling corpora), status lines and the framing of responses, limits. Every case
 * runs in one piece and fed through the incremental parser in every split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

#define ANY (-2) /* an expectation left unchecked */

typedef struct head_case {
    const char *in; /* the head (NUL-free unless len is given) */
    size_t len;     /* 0: strlen(in) */
    int status;     /* 0: parses; else the error status */
    const char *method, *target, *authority, *path;
    int form;    /* http1_target_form or ANY */
    int framing; /* http1_framing or ANY */
    long long cl;
    int keep_alive, upgrade; /* 0/1 or ANY */
} head_case;

#define OK_REQ(in, m, t)                                                                           \
    {                                                                                              \
        in, 0, 0, m, t, NULL, NULL, ANY, ANY, ANY, ANY, ANY                                        \
    }
#define BAD(in, st)                                                                                \
    {                                                                                              \
        in, 0, st, NULL, NULL, NULL, NULL, ANY, ANY, ANY, ANY, ANY                                 \
    }
#define H "Host: h\r\n"

static const head_case requests[] = {
    /* any RFC 9110 token is a method */
    OK_REQ("GET / HTTP/1.1\r\n" H "\r\n", "GET", "/"),
    OK_REQ("LIST /v1/secret/metadata HTTP/1.1\r\n" H "\r\n", "LIST", "/v1/secret/metadata"),
    OK_REQ("QUERY /search HTTP/1.1\r\n" H "Content-Length: 3\r\n\r\n", "QUERY", "/search"),
    OK_REQ("BREW /pot HTTP/1.1\r\n" H "\r\n", "BREW", "/pot"),
    OK_REQ("x!#$%&'*+-.^_`|~9 / HTTP/1.1\r\n" H "\r\n", "x!#$%&'*+-.^_`|~9", "/"),
    /* request-target octets kept byte for byte, obs-text included */
    OK_REQ("GET /caf\xe9/%20?a=1&&b=%2F HTTP/1.1\r\n" H "\r\n", "GET", "/caf\xe9/%20?a=1&&b=%2F"),
    /* but never a fragment (RFC 9112 §3.2; HAProxy CVE-2023-45539) */
    BAD("GET /index.html#.png HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET http://h/x#y HTTP/1.1\r\n" H "\r\n", 400),
    /* OPTIONS to an absolute-form target with an empty path goes on as "*" (§3.2.4) */
    {"OPTIONS http://abc.localhost:8080 HTTP/1.1\r\n" H "\r\n", 0, 0, "OPTIONS",
     "http://abc.localhost:8080", "abc.localhost:8080", "*", HTTP1_TARGET_ABSOLUTE, ANY, ANY, ANY,
     ANY},
    /* forms (RFC 9112 §3.2) */
    {"GET /x?y HTTP/1.1\r\n" H "\r\n", 0, 0, "GET", "/x?y", NULL, "/x?y", HTTP1_TARGET_ORIGIN,
     HTTP1_FRAMING_NONE, -1, 1, 0},
    {"GET http://abc.localhost:8080/x?y HTTP/1.1\r\nHost: other\r\n\r\n", 0, 0, "GET",
     "http://abc.localhost:8080/x?y", "abc.localhost:8080", "/x?y", HTTP1_TARGET_ABSOLUTE, ANY, ANY,
     ANY, ANY},
    {"GET HTTPS://a.example HTTP/1.1\r\n" H "\r\n", 0, 0, "GET", NULL, "a.example", "/",
     HTTP1_TARGET_ABSOLUTE, ANY, ANY, ANY, ANY},
    {"GET http://a.example?q=1 HTTP/1.1\r\n" H "\r\n", 0, 0, "GET", NULL, "a.example", "/?q=1",
     HTTP1_TARGET_ABSOLUTE, ANY, ANY, ANY, ANY},
    {"GET http://[::1]:8080/p HTTP/1.1\r\n" H "\r\n", 0, 0, "GET", NULL, "[::1]:8080", "/p",
     HTTP1_TARGET_ABSOLUTE, ANY, ANY, ANY, ANY},
    {"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", 0, 0, "CONNECT",
     "a.example:443", "a.example:443", NULL, HTTP1_TARGET_AUTHORITY, ANY, ANY, ANY, 1},
    {"OPTIONS * HTTP/1.1\r\n" H "\r\n", 0, 0, "OPTIONS", "*", NULL, NULL, HTTP1_TARGET_ASTERISK,
     ANY, ANY, ANY, ANY},
    BAD("GET * HTTP/1.1\r\n" H "\r\n", 400),                     /* asterisk-form: OPTIONS only */
    BAD("CONNECT /x HTTP/1.1\r\n" H "\r\n", 400),                /* CONNECT: authority-form only */
    BAD("CONNECT a.example HTTP/1.1\r\n" H "\r\n", 400),         /* ... with a port */
    BAD("GET a.example:80 HTTP/1.1\r\n" H "\r\n", 400),          /* authority-form: CONNECT only */
    BAD("GET http://u:p@a.example/ HTTP/1.1\r\n" H "\r\n", 400), /* userinfo */
    BAD("GET ftp://a.example/ HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET http:/a.example/ HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET http:///x HTTP/1.1\r\n" H "\r\n", 400), /* empty authority */
    BAD("GET http://a b/ HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET http://a,b/ HTTP/1.1\r\n" H "\r\n", 400), /* would become a two-value Host */
    BAD("CONNECT a,b:443 HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET x HTTP/1.1\r\n" H "\r\n", 400),
    /* exactly one SP between the parts, a token method, no controls in the target */
    BAD("GET  / HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET /  HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET\t/ HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET /a b HTTP/1.1\r\n" H "\r\n", 400),
    BAD(" GET / HTTP/1.1\r\n" H "\r\n", 400),
    BAD("G(ET / HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET /a\x01 HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET /a\x7f HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET /\r\n" H "\r\n", 400), /* HTTP/0.9 style */
    BAD("GET / HTTP/1.1 \r\n" H "\r\n", 400),
    /* versions: major version 1 only (RFC 9112 §2.3); a higher minor version is processed as
     * 1.1 (RFC 9110 §2.5): keep-alive by default, Host required */
    {"GET / HTTP/1.2\r\n" H "\r\n", 0, 0, "GET", "/", NULL, "/", HTTP1_TARGET_ORIGIN,
     HTTP1_FRAMING_NONE, -1, 1, 0},
    {"GET / HTTP/1.9\r\n" H "Connection: close\r\n\r\n", 0, 0, "GET", "/", NULL, "/",
     HTTP1_TARGET_ORIGIN, HTTP1_FRAMING_NONE, -1, 0, 0},
    BAD("GET / HTTP/1.2\r\n\r\n", 400), /* no Host */
    BAD("GET / HTTP/2.0\r\n" H "\r\n", 505),
    BAD("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    BAD("GET / HTTP/0.9\r\n" H "\r\n", 505),
    BAD("GET / HTTP/3.0\r\n" H "\r\n", 505),
    BAD("GET / http/1.1\r\n" H "\r\n", 400),
    BAD("GET / HTTP/1\r\n" H "\r\n", 400),
    BAD("GET / HTTP/11.0\r\n" H "\r\n", 400),
    BAD("GET / HTTP/1.x\r\n" H "\r\n", 400),
    BAD("GET / HTTPS/1.1\r\n" H "\r\n", 400),
    {"GET / HTTP/1.0\r\n\r\n", 0, 0, "GET", "/", NULL, "/", ANY, HTTP1_FRAMING_NONE, -1, 0, 0},
    {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, 0, "GET", "/", NULL, NULL, ANY, ANY,
     ANY, 1, ANY},
    {"GET / HTTP/1.1\r\n" H "Connection: close\r\n\r\n", 0, 0, NULL, NULL, NULL, NULL, ANY, ANY,
     ANY, 0, ANY},
    {"\r\n\r\nGET / HTTP/1.1\r\n" H "\r\n", 0, 0, "GET", "/", NULL, NULL, ANY, ANY, ANY, ANY, ANY},
    /* field lines (RFC 9112 §5) */
    BAD("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H "X-A\t: 1\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H "Transfer-Encoding : chunked\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H "X-A: 1\r\n continued\r\n\r\n", 400), /* obs-fold */
    BAD("GET / HTTP/1.1\r\n" H "X-A: 1\r\n\tcontinued\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400), /* whitespace before the first field */
    BAD("GET / HTTP/1.1\r\n" H "X-A 1\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H ": 1\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H "X(A): 1\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H "X-A: 1\x01\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H "X-A: 1\x7f\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H "X-A: a\rb\r\n\r\n", 400), /* bare CR */
    BAD("GET / HTTP/1.1\r\n" H "X-A: a\x0b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\nHost: h\n\n", 400), /* bare LF */
    BAD("GET / HTTP/1.1\r\n" H "X-A: 1\nX-B: 2\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H "\n", 400),
    BAD("\nGET / HTTP/1.1\r\n" H "\r\n", 400),
    {"GET / HTTP/1.1\r\n" H "X-A: a\0b\r\n\r\n", 38, 400, NULL, NULL, NULL, NULL, ANY, ANY, ANY,
     ANY, ANY}, /* NUL in a value */
    {"GET / HTTP/1.1\r\n" H "X\0A: 1\r\n\r\n", 35, 400, NULL, NULL, NULL, NULL, ANY, ANY, ANY, ANY,
     ANY}, /* NUL in a name */
    /* Host (RFC 9112 §3.2) */
    BAD("GET / HTTP/1.1\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: id.localhost:80@evil.example\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: user@id.localhost\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a:\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a:80:81\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: :80\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: [zz]\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n", 400),
    OK_REQ("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", "GET", "/"),
    OK_REQ("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "GET", "/"),
    OK_REQ("GET / HTTP/1.1\r\nHost: Abc-1.Example_x~%41:65535\r\n\r\n", "GET", "/"),
    OK_REQ("GET / HTTP/1.1\r\nHost:\r\n\r\n", "GET", "/"), /* target without authority */
    /* Content-Length (RFC 9110 §8.6, RFC 9112 §6.3) */
    {"POST / HTTP/1.1\r\n" H "Content-Length: 5\r\n\r\n", 0, 0, NULL, NULL, NULL, NULL, ANY,
     HTTP1_FRAMING_LENGTH, 5, 1, 0},
    {"POST / HTTP/1.1\r\n" H "Content-Length: 0005\r\n\r\n", 0, 0, NULL, NULL, NULL, NULL, ANY,
     HTTP1_FRAMING_LENGTH, 5, ANY, ANY},
    {"POST / HTTP/1.1\r\n" H "Content-Length: 5, 5\r\n\r\n", 0, 0, NULL, NULL, NULL, NULL, ANY,
     HTTP1_FRAMING_LENGTH, 5, ANY, ANY},
    {"POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", 0, 0, NULL, NULL,
     NULL, NULL, ANY, HTTP1_FRAMING_LENGTH, 5, ANY, ANY},
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: -5\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 0x10\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 5 5\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 5, 6\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length:\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 1e3\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 5.0\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 99999999999999999999\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: \"5\"\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length : 5\r\n\r\n", 400),
    /* Transfer-Encoding (RFC 9112 §6.1, §6.3): final chunked, once, no Content-Length */
    {"POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n", 0, 0, NULL, NULL, NULL, NULL,
     ANY, HTTP1_FRAMING_CHUNKED, -1, 1, 0},
    {"POST / HTTP/1.1\r\n" H "Transfer-Encoding: Chunked\r\n\r\n", 0, 0, NULL, NULL, NULL, NULL,
     ANY, HTTP1_FRAMING_CHUNKED, -1, ANY, ANY},
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: xchunked\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunkedx\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, gzip\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, chunked\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked;q=1\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding:\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: ,\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: \"chunked\"\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: \x0b"
        "chunked\r\n\r\n",
        400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
        "Transfer-Encoding: x\r\n\r\n",
        400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: identity, chunked\r\n\r\n", 501),
    BAD("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    /* connection and expectations */
    {"GET /ws HTTP/1.1\r\n" H "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n", 0, 0,
     NULL, NULL, NULL, NULL, ANY, HTTP1_FRAMING_NONE, ANY, ANY, 1},
    {"GET /ws HTTP/1.1\r\n" H "Upgrade: websocket\r\n\r\n", 0, 0, NULL, NULL, NULL, NULL, ANY, ANY,
     ANY, ANY, 0},
    /* a server MUST ignore Upgrade in an HTTP/1.0 request (RFC 9110 §7.8) */
    {"GET /ws HTTP/1.0\r\n" H "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 0, 0, NULL, NULL,
     NULL, NULL, ANY, HTTP1_FRAMING_NONE, ANY, 0, 0},
    {"GET /ws HTTP/1.0\r\nUpgrade: h2c\r\nConnection: keep-alive, Upgrade\r\n\r\n", 0, 0, NULL,
     NULL, NULL, NULL, ANY, HTTP1_FRAMING_NONE, ANY, 1, 0},
};

static const head_case responses[] = {
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", 0, 0, NULL, NULL, NULL, NULL, ANY,
     HTTP1_FRAMING_LENGTH, 2, 1, 0},
    {"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\n", 0, 0, NULL, NULL, NULL, NULL, ANY,
     HTTP1_FRAMING_LENGTH, 2, 1, 0},
    {"HTTP/1.1 200 \r\n\r\n", 0, 0, NULL, NULL, NULL, NULL, ANY, HTTP1_FRAMING_CLOSE, -1, 0, 0},
    {"HTTP/1.1 404 Caf\xe9 introuvable\r\nContent-Length: 0\r\n\r\n", 0, 0, NULL, NULL, NULL, NULL,
     ANY, HTTP1_FRAMING_LENGTH, 0, 1, 0},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 0, NULL, NULL, NULL, NULL, ANY,
     HTTP1_FRAMING_CHUNKED, -1, 1, 0},
    /* Transfer-Encoding overrides Content-Length (RFC 9112 §6.3 item 3) */
    {"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 0, NULL, NULL,
     NULL, NULL, ANY, HTTP1_FRAMING_CHUNKED, -1, 1, 0},
    /* a coding other than chunked (item 4 reads it until close): a proxy that drops
     * Transfer-Encoding would pass the coded bytes on as the content, so it is refused */
    BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 502),
    BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 502),
    /* no body: nothing coded to pass on */
    {"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, 0, NULL, NULL,
     NULL, NULL, ANY, HTTP1_FRAMING_NONE, ANY, 1, 0},
    {"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", 0, 0, NULL, NULL, NULL, NULL, ANY,
     HTTP1_FRAMING_CLOSE, -1, 0, 0},
    {"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", 0, 0, NULL, NULL, NULL, NULL, ANY,
     HTTP1_FRAMING_LENGTH, 1, 0, 0},
    {"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n", 0, 0, NULL, NULL,
     NULL, NULL, ANY, HTTP1_FRAMING_LENGTH, 1, 1, 0},
    /* bodiless statuses whatever the fields say (item 1) */
    {"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", 0, 0, NULL, NULL, NULL, NULL, ANY,
     HTTP1_FRAMING_NONE, ANY, 1, 0},
    {"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 0, NULL, NULL, NULL,
     NULL, ANY, HTTP1_FRAMING_NONE, ANY, 1, 0},
    {"HTTP/1.1 100 Continue\r\n\r\n", 0, 0, NULL, NULL, NULL, NULL, ANY, HTTP1_FRAMING_NONE, ANY,
     ANY, 0},
    {"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n", 0, 0, NULL, NULL, NULL,
     NULL, ANY, HTTP1_FRAMING_NONE, ANY, ANY, 0},
    {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 0, 0,
     NULL, NULL, NULL, NULL, ANY, HTTP1_FRAMING_NONE, ANY, ANY, 1},
    {"HTTP/1.1 599 X\r\nContent-Length: 0\r\n\r\n", 0, 0, NULL, NULL, NULL, NULL, ANY, ANY, ANY,
     ANY, ANY},
    /* HTTP/1.2 is read as 1.1 (RFC 9110 §2.5): persistent */
    {"HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\n", 0, 0, NULL, NULL, NULL, NULL, ANY,
     HTTP1_FRAMING_LENGTH, 2, 1, 0},
    /* status-line (RFC 9112 §4): 3 digits in 100..599, version 1.0 or 1.1 */
    BAD("HTTP/1.1 600 X\r\n\r\n", 502),
    BAD("HTTP/1.1 099 X\r\n\r\n", 502),
    BAD("HTTP/1.1 1\r\n\r\n", 502),
    BAD("HTTP/1.1 20 OK\r\n\r\n", 502),
    BAD("HTTP/1.1 2000 OK\r\n\r\n", 502),
    BAD("HTTP/1.1 200OK\r\n\r\n", 502),
    BAD("HTTP/1.1  200 OK\r\n\r\n", 502),
    BAD("HTTP/1.1 2x0 OK\r\n\r\n", 502),
    BAD("HTTP/2 200 OK\r\n\r\n", 502),
    BAD("HTTP/2.0 200 OK\r\n\r\n", 502),
    BAD("HTTP/1.1 200 O\x01K\r\n\r\n", 502),
    BAD("ICY 200 OK\r\n\r\n", 502),
    /* the same field rules as requests */
    BAD("HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\n", 502),
    BAD("HTTP/1.1 200 OK\r\nX: 1\r\n folded\r\n\r\n", 502),
    BAD("HTTP/1.1 200 OK\nContent-Length: 2\n\n", 502),
    BAD("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", 502),
    BAD("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", 502),
    BAD("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", 502),
    BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 502),
    BAD("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 502),
};

static void check_head(const head_case *c, const http1_head *h)
{
    if (c->method)
        assert_string_equal(h->method, c->method);
    if (c->target)
        assert_string_equal(h->target, c->target);
    if (c->authority)
        assert_string_equal(h->authority, c->authority);
    if (c->path)
        assert_string_equal(h->path, c->path);
    if (c->form != ANY)
        assert_int_equal(h->form, c->form);
    if (c->framing != ANY)
        assert_int_equal(h->framing, c->framing);
    if (c->cl != ANY)
        assert_int_equal(h->content_length, c->cl);
    if (c->keep_alive != ANY)
        assert_int_equal(h->keep_alive, c->keep_alive);
    if (c->upgrade != ANY)
        assert_int_equal(h->upgrade, c->upgrade);
}

/* The head module over the whole input, then the incremental parser in every split. */
static void run_case(const head_case *c, bool is_request, size_t idx)
{
    size_t len = c->len ? c->len : strlen(c->in);
    http1_head h;
    http1_head_init(&h);
    http1_err err = {0};
    size_t used = 0;
    http1_head_result r = http1_parse_head(&h, c->in, len, is_request, NULL, &used, &err);
    if (c->status == 0) {
        if (r != HTTP1_HEAD_DONE)
            fail_msg("%s case %zu: refused (%d %s): %s", is_request ? "request" : "response", idx,
                     err.status, err.reason, c->in);
        assert_int_equal(used, len);
        check_head(c, &h);
    } else {
        if (r != HTTP1_HEAD_ERROR || err.status != c->status)
            fail_msg("%s case %zu: want %d, got result %d status %d: %s",
                     is_request ? "request" : "response", idx, c->status, r, err.status, c->in);
        assert_non_null(err.reason);
    }
    http1_head_free(&h);

    for (size_t step = 1; step <= len; step++) {
        http1_parser p;
        http1_init(&p, is_request, 0);
        size_t off = 0;
        http1_event ev = HTTP1_NONE;
        while (off < len && ev == HTTP1_NONE) {
            size_t n = len - off < step ? len - off : step, u = 0;
            ev = http1_execute(&p, c->in + off, n, &u);
            off += u;
        }
        if (c->status == 0) {
            if (ev != HTTP1_HEAD)
                fail_msg("case %zu split %zu: event %d", idx, step, ev);
            assert_int_equal(off, len);
            check_head(c, &p.head);
        } else {
            /* a truncated error input may still be waiting for more: never a head */
            assert_int_not_equal(ev, HTTP1_HEAD);
            if (ev == HTTP1_ERROR)
                assert_int_equal(p.err.status, c->status);
        }
        http1_free(&p);
    }
}

static void test_requests(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++)
        run_case(&requests[i], true, i);
}

static void test_responses(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof responses / sizeof responses[0]; i++)
        run_case(&responses[i], false, i);
}

/* Fields as received: names' spelling, order, repeats, OWS trimmed, obs-text kept; several
 * equal Content-Length lines become one. */
static void test_fields_kept(void **state)
{
    (void)state;
    const char *in = "POST /p HTTP/1.1\r\nHost: h\r\nset-COOKIE: a=1\r\nX-Name:  J\xf6rg \t\r\n"
                     "Set-Cookie: b=2\r\nEmpty:\r\nContent-Length: 3\r\ncontent-length: 3\r\n"
                     "X-Spaces: a  b\r\n\r\n";
    http1_head h;
    http1_head_init(&h);
    http1_err err;
    size_t used;
    assert_int_equal(http1_parse_head(&h, in, strlen(in), true, NULL, &used, &err),
                     HTTP1_HEAD_DONE);
    const char *want[][2] = {{"Host", "h"},         {"set-COOKIE", "a=1"}, {"X-Name", "J\xf6rg"},
                             {"Set-Cookie", "b=2"}, {"Empty", ""},         {"Content-Length", "3"},
                             {"X-Spaces", "a  b"}};
    assert_int_equal(h.headers.n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < h.headers.n; i++) {
        assert_string_equal(h.headers.v[i].name, want[i][0]);
        assert_string_equal(h.headers.v[i].value, want[i][1]);
        assert_int_equal(h.headers.v[i].vlen, strlen(want[i][1]));
    }
    assert_int_equal(h.headers.v[1].id, HTTP_H_SET_COOKIE);
    assert_int_equal(h.content_length, 3);
    http1_head_free(&h);

    /* a list of equal values is forwarded as one */
    in = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 42 , 42\r\n\r\n";
    http1_head_init(&h);
    assert_int_equal(http1_parse_head(&h, in, strlen(in), true, NULL, &used, &err),
                     HTTP1_HEAD_DONE);
    assert_string_equal(http_headers_get(&h.headers, "content-length"), "42");
    http1_head_free(&h);
}

/* The head limit (431) and the field cap, set anywhere from 1 KiB to 1 MiB and more. */
static void test_limits(void **state)
{
    (void)state;
    size_t sizes[] = {1024, 16384, (size_t)1 << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t limit = sizes[k];
        /* a head of exactly the limit passes, one byte more is 431 */
        for (int over = 0; over <= 1; over++) {
            size_t total = limit + (size_t)over;
            char *in = malloc(total);
            const char *pre = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
            size_t pl = strlen(pre);
            memcpy(in, pre, pl);
            memset(in + pl, 'a', total - pl - 4);
            memcpy(in + total - 4, "\r\n\r\n", 4);
            http1_limits lim = {.max_head = limit};
            http1_parser p;
            http1_init_limits(&p, true, &lim);
            size_t used = 0;
            http1_event ev = http1_execute(&p, in, total, &used);
            if (over) {
                assert_int_equal(ev, HTTP1_ERROR);
                assert_int_equal(p.err.status, 431);
                assert_int_equal(p.err.kind, HTTP1_ERR_HEAD_TOO_BIG);
            } else {
                assert_int_equal(ev, HTTP1_HEAD);
                assert_int_equal(used, total);
            }
            http1_free(&p);
            free(in);
        }
    }
    /* a head that never ends is refused once past the limit, not buffered on; a request-line
     * that alone passes it is a URI too long, 414 (RFC 9112 §3), whole or not */
    http1_parser p;
    http1_init(&p, true, 1024);
    char junk[700];
    memset(junk, 'a', sizeof junk);
    memcpy(junk, "GET /", 5);
    size_t used;
    assert_int_equal(http1_execute(&p, junk, sizeof junk, &used), HTTP1_NONE);
    assert_int_equal(http1_execute(&p, junk, sizeof junk, &used), HTTP1_ERROR);
    assert_int_equal(p.err.status, 414);
    assert_int_equal(p.err.kind, HTTP1_ERR_HEAD_TOO_BIG);
    http1_free(&p);
    char line[1200];
    memset(line, 'a', sizeof line);
    memcpy(line, "GET /", 5);
    memcpy(line + sizeof line - 20, " HTTP/1.1\r\nHost: h\r\n", 19);
    http1_init(&p, true, 1024);
    assert_int_equal(http1_execute(&p, line, sizeof line - 1, &used), HTTP1_ERROR);
    assert_int_equal(p.err.status, 414);
    http1_free(&p);
    /* a response's status-line is the local service's fault: 502, over the limit all the same
     * (the kind once followed the status: a malformed one) */
    http1_init(&p, false, 1024);
    memcpy(junk, "HTTP/1.1 200 ", 13);
    assert_int_equal(http1_execute(&p, junk, sizeof junk, &used), HTTP1_NONE);
    assert_int_equal(http1_execute(&p, junk, sizeof junk, &used), HTTP1_ERROR);
    assert_int_equal(p.err.status, 502);
    assert_int_equal(p.err.kind, HTTP1_ERR_HEAD_TOO_BIG);
    assert_true(http1_err_over_limit(&p.err));
    http1_free(&p);

    /* field count */
    char buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 0; i < 9; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "X-%d: %d\r\n", i, i);
    memcpy(buf + n, "\r\n", 3);
    n += 2;
    http1_limits lim = {.max_fields = 10};
    http1_head h;
    http1_head_init(&h);
    http1_err err;
    assert_int_equal(http1_parse_head(&h, buf, n, true, &lim, &used, &err), HTTP1_HEAD_DONE);
    http1_head_free(&h);
    lim.max_fields = 9;
    assert_int_equal(http1_parse_head(&h, buf, n, true, &lim, &used, &err), HTTP1_HEAD_ERROR);
    assert_int_equal(err.status, 431);
    assert_int_equal(err.kind, HTTP1_ERR_TOO_MANY_FIELDS);
    assert_true(http1_err_over_limit(&err));
}

/* An error's kind says what a caller acts on, whatever the status (a response's is 502 for any
 * fault of the server's) and the reason's words: over a limit (bytes, field lines), malformed,
 * an unsupported version or coding. */
static void test_error_kinds(void **state)
{
    (void)state;
    static const struct {
        bool is_request;
        const char *in;
        size_t max_head, max_fields;
        int status;
        http1_error kind;
    } cases[] = {
        {false, "HTTP/1.1 200 OK\r\nA: b\r\nC: d\r\n\r\n", 0, 1, 502, HTTP1_ERR_TOO_MANY_FIELDS},
        {true, "GET / HTTP/1.1\r\nHost: h\r\nC: d\r\n\r\n", 0, 1, 431, HTTP1_ERR_TOO_MANY_FIELDS},
        {false, "HTTP/1.1 200 OK\r\nA: bbbbbbbbbbbbbbbb\r\n\r\n", 24, 0, 502,
         HTTP1_ERR_HEAD_TOO_BIG},
        {true, "GET / HTTP/1.1\r\nHost: hhhhhhhhhhhhhhhhhh\r\n\r\n", 24, 0, 431,
         HTTP1_ERR_HEAD_TOO_BIG},
        {false, "HTTP/1.1 200 OK\r\nA : b\r\n\r\n", 0, 0, 502, HTTP1_ERR_SYNTAX},
        {true, "GET / HTTP/1.1\r\nHost: h\r\nA : b\r\n\r\n", 0, 0, 400, HTTP1_ERR_SYNTAX},
        {false, "HTTP/1.1 999 OK\r\n\r\n", 0, 0, 502, HTTP1_ERR_SYNTAX},
        {true, "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 0, 0, 505, HTTP1_ERR_VERSION},
        {true, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked, br\r\n\r\n", 0, 0,
         400, HTTP1_ERR_SYNTAX},
        {true, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: br, chunked\r\n\r\n", 0, 0, 501,
         HTTP1_ERR_NOT_IMPLEMENTED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http1_limits lim = {.max_head = cases[i].max_head, .max_fields = cases[i].max_fields};
        http1_parser p;
        http1_init_limits(&p, cases[i].is_request, &lim);
        size_t used = 0;
        if (http1_execute(&p, cases[i].in, strlen(cases[i].in), &used) != HTTP1_ERROR ||
            p.err.status != cases[i].status || p.err.kind != cases[i].kind)
            fail_msg("case %zu: status %d kind %d (%s)", i, p.err.status, (int)p.err.kind,
                     p.err.reason ? p.err.reason : "no error");
        bool limit =
            cases[i].kind == HTTP1_ERR_HEAD_TOO_BIG || cases[i].kind == HTTP1_ERR_TOO_MANY_FIELDS;
        assert_int_equal(http1_err_over_limit(&p.err), limit);
        http1_free(&p);
    }
}

/* A response head with bare LF line ends (RFC 9112 §2.2 MAY) is read when the limits ask for
 * it (ttf's local leg), fed whole or one octet at a time; requests never, and without the flag
 * responses neither. */
static void test_bare_lf_responses(void **state)
{
    (void)state;
    const char *in = "\nHTTP/1.1 200 OK\nContent-Length: 2\r\nX-A: b\nSet-Cookie: c=1\n\nok";
    size_t head_len = strlen(in) - 2;
    http1_limits lim = {.bare_lf = true};
    for (int bytewise = 0; bytewise <= 1; bytewise++) {
        http1_parser p;
        http1_init_limits(&p, false, &lim);
        size_t off = 0, used = 0;
        http1_event ev = HTTP1_NONE;
        while (off < head_len && ev == HTTP1_NONE) {
            size_t n = bytewise ? 1 : head_len - off;
            ev = http1_execute(&p, in + off, n, &used);
            off += used;
        }
        assert_int_equal(ev, HTTP1_HEAD);
        assert_int_equal(off, head_len);
        assert_int_equal(p.head.status, 200);
        assert_int_equal(p.head.content_length, 2);
        assert_int_equal(p.head.headers.n, 3);
        assert_string_equal(http_headers_get(&p.head.headers, "x-a"), "b");
        assert_string_equal(http_headers_get(&p.head.headers, "set-cookie"), "c=1");
        http1_free(&p);
    }
    /* still refused: obs-fold, a bare CR, and any of it without the flag or in a request */
    const char *bad[] = {"HTTP/1.1 200 OK\nX: a\n b\n\n", "HTTP/1.1 200 OK\nX: a\rb\n\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http1_head h;
        http1_head_init(&h);
        http1_err err;
        size_t used;
        assert_int_equal(http1_parse_head(&h, bad[i], strlen(bad[i]), false, &lim, &used, &err),
                         HTTP1_HEAD_ERROR);
        assert_int_equal(err.status, 502);
    }
    http1_head h;
    http1_head_init(&h);
    http1_err err;
    size_t used;
    assert_int_equal(http1_parse_head(&h, in, strlen(in), false, NULL, &used, &err),
                     HTTP1_HEAD_ERROR);
    const char *req = "GET / HTTP/1.1\nHost: h\n\n";
    assert_int_equal(http1_parse_head(&h, req, strlen(req), true, &lim, &used, &err),
                     HTTP1_HEAD_ERROR);
    assert_int_equal(err.status, 400);
}

/* Garbage is refused before a line end arrives. */
static void test_early_refusal(void **state)
{
    (void)state;
    const char *bad[] = {"\x16\x03\x01\x02\x00", "GE(", "{\"a\":1", "\x01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http1_parser p;
        http1_init(&p, true, 0);
        size_t used;
        assert_int_equal(http1_execute(&p, bad[i], strlen(bad[i]), &used), HTTP1_ERROR);
        assert_int_equal(p.err.status, 400);
        http1_free(&p);
    }
    http1_parser p;
    http1_init(&p, false, 0);
    size_t used;
    assert_int_equal(http1_execute(&p, "HTTX", 4, &used), HTTP1_ERROR);
    http1_free(&p);
    http1_init(&p, true, 0);
    assert_int_equal(http1_execute(&p, "GET", 3, &used), HTTP1_NONE);
    http1_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),      cmocka_unit_test(test_responses),
        cmocka_unit_test(test_fields_kept),   cmocka_unit_test(test_limits),
        cmocka_unit_test(test_early_refusal), cmocka_unit_test(test_bare_lf_responses),
        cmocka_unit_test(test_error_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
