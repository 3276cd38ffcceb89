/* SPDX-License-Identifier: MIT */
/* http1_head.h - strict parsing of HTTP/1.1 message heads, requests and responses (RFC 9112
 * §2-§6): where a head ends in a byte stream, the start line, the field lines, and what the
 * fields say about the body (framing), the connection (keep-alive, upgrade) and the target.
 * Owns: a parsed http1_head owns its start-line strings and its header list until
 * http1_head_free. Parsing reads the caller's buffer and copies what it keeps (one block for
 * the start line, one arena for all fields). */
#ifndef TUNNEL_HTTP1_HEAD_H
#define TUNNEL_HTTP1_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1_headers.h"
#include "http1_types.h"

/* The four forms of request-target (RFC 9112 §3.2). */
typedef enum {
    HTTP1_TARGET_ORIGIN = 0, /* "/path?query" */
    HTTP1_TARGET_ABSOLUTE,   /* "http://host:port/path?query" (§3.2.2) */
    HTTP1_TARGET_AUTHORITY,  /* "host:port", CONNECT only (§3.2.3) */
    HTTP1_TARGET_ASTERISK,   /* "*", OPTIONS only (§3.2.4) */
} http1_target_form;

typedef struct http1_head {
    /* requests (RFC 9112 §3) */
    char *method; /* any token (RFC 9110 §9.1), as received */
    char *target; /* the request-target byte for byte (obs-text kept) */
    http1_target_form form;
    char *authority; /* absolute-form and authority-form: the target's uri-host[:port]; this,
                        not Host, names the origin (§3.2.2); NULL for the other forms */
    char *path;      /* the target in origin-form: the target itself, or the path and query of
                        an absolute-form target ("/" for an empty path); NULL for the
                        authority- and asterisk-forms */
    /* responses (RFC 9112 §4) */
    int status;                 /* 100..599 */
    char *reason;               /* reason-phrase as received (may hold obs-text), "" when absent */
    int http_major, http_minor; /* 1.0 or 1.1 */
    http_headers headers;       /* every field line in order, OWS around values removed */
    /* what the fields say */
    http1_framing framing;  /* the body after this head (RFC 9112 §6.3) */
    int64_t content_length; /* -1 when absent or overridden by Transfer-Encoding */
    bool chunked;           /* Transfer-Encoding ends in chunked */
    bool keep_alive;        /* the connection persists after this message (§9.3) */
    bool upgrade;           /* request: Upgrade with Connection: upgrade (HTTP/1.1), or CONNECT;
                               response: 101 */
    bool expect_continue;   /* request: Expect: 100-continue (RFC 9110 §10.1.1) */
    char *block;            /* owns the start-line strings */
} http1_head;

void http1_head_init(http1_head *h);
void http1_head_free(http1_head *h); /* leaves h initialised */

typedef enum {
    HTTP1_HEAD_AGAIN = 0, /* no end yet: give more bytes */
    HTTP1_HEAD_DONE,      /* complete */
    HTTP1_HEAD_ERROR,     /* see the http1_err */
} http1_head_result;

/* Where a head ends, scanned incrementally. Start zeroed; pass the same buffer again, grown. */
typedef struct http1_scan {
    size_t line; /* start of the first line not yet seen whole */
    size_t skip; /* bytes of empty lines before the start line (RFC 9112 §2.2) */
} http1_scan;

/* Scans buf[0..len) from where s left off. DONE with *end = bytes of the head, the empty line
 * that ends it included. ERROR: a bare LF (400; a response's line may end in one when
 * lim->bare_lf), a request-line alone over the limit (414), or no end within lim->max_head bytes
 * (431; lim NULL or 0: HTTP1_DEFAULT_MAX_HEAD). Leading empty lines (CRLF) are skipped as RFC 9112
 * §2.2 allows; they count towards the head. For responses, errors carry status 502. */
http1_head_result http1_head_scan(http1_scan *s, const char *buf, size_t len,
                                  const http1_limits *lim, bool is_request, size_t *end,
                                  http1_err *err);

/* Parses a complete head buf[0..len) (len from http1_head_scan) into h (initialised; freed and
 * reinitialised on error). Requests: 400 for a bad request-line or field line, a missing (in
 * HTTP/1.1), repeated or invalid Host, a bad Content-Length, Content-Length together with
 * Transfer-Encoding, a Transfer-Encoding not ending in chunked or naming chunked twice, or any
 * Transfer-Encoding in HTTP/1.0; 501 for a transfer coding other than chunked; 505 for an
 * HTTP-version other than 1.0 and 1.1; 431 beyond lim->max_fields field lines. Responses: the
 * same field rules, a status of 3 digits in 100..599, version 1.0 or 1.1; every error 502.
 * ENOMEM: 500. */
http1_head_result http1_head_parse(http1_head *h, const char *buf, size_t len, bool is_request,
                                   const http1_limits *lim, http1_err *err);

/* Scan and parse in one step over a buffer that may hold more than the head: *used = head
 * bytes when DONE. */
http1_head_result http1_parse_head(http1_head *h, const char *buf, size_t len, bool is_request,
                                   const http1_limits *lim, size_t *used, http1_err *err);

/* A response to HEAD (RFC 9110 §9.3.2): no body whatever the fields say. */
void http1_head_set_no_body(http1_head *h);

#endif
