/* SPDX-License-Identifier: MIT */
/* http1_types.h - the small types the HTTP/1.1 modules share: limits, the framing of a message
 * body (RFC 9112 §6.3), and the error a parse step reports (an HTTP status and a short reason).
 * Owns nothing. */
#ifndef TUNNEL_HTTP1_TYPES_H
#define TUNNEL_HTTP1_TYPES_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP1_DEFAULT_MAX_HEAD ((size_t)16 << 10)    /* request heads (ttfd's default) */
#define HTTP1_MAX_MAX_HEAD ((size_t)16 << 20)        /* largest limit accepted */
#define HTTP1_DEFAULT_MAX_FIELDS 256                 /* field lines per head (431 beyond) */
#define HTTP1_DEFAULT_MAX_CHUNK_EXT ((size_t)4096)   /* chunk-ext bytes on one size line */
#define HTTP1_DEFAULT_MAX_TRAILER ((size_t)16 << 10) /* bytes of a chunked trailer section */
/* The largest ttf --max-response-header-size (a local response head). */
#define HTTP1_MAX_RESPONSE_HEAD ((size_t)1 << 20)
/* A response head (status line and field lines) ttfd takes from an agent, either wire mode;
 * beyond it the client gets 502, as nginx answers "upstream sent too big header" past
 * proxy_buffer_size and HAProxy past tune.bufsize. Far above those (4-8 KiB, 16 KiB) so that
 * what ttf itself lets through never meets it: a local head of --max-response-header-size (64
 * KiB by default, HTTP1_MAX_RESPONSE_HEAD at most) in max(256, bytes / 16) field lines
 * (agent/exchange.c), written again with a space after each colon. */
#define HTTP1_AGENT_MAX_FIELDS (HTTP1_MAX_RESPONSE_HEAD / 16)
#define HTTP1_AGENT_MAX_HEAD (HTTP1_MAX_RESPONSE_HEAD + HTTP1_AGENT_MAX_FIELDS)
/* A trailer section ttfd takes from an agent: what ttf reads of a local one
 * (HTTP1_DEFAULT_MAX_TRAILER), each line of 3 octets or more written again with a space after its
 * colon. */
#define HTTP1_AGENT_MAX_TRAILER (HTTP1_DEFAULT_MAX_TRAILER + HTTP1_DEFAULT_MAX_TRAILER / 3)

/* Limits of one parser. Zero fields mean the defaults above. */
typedef struct http1_limits {
    size_t max_head;      /* bytes of a head, start line to the empty line included */
    size_t max_fields;    /* field lines in a head */
    size_t max_chunk_ext; /* bytes of chunk extensions on one chunk-size line */
    size_t max_trailer;   /* bytes of the trailer section of a chunked body */
    bool bare_lf;         /* responses only: a bare LF ends a line of the head (RFC 9112 §2.2:
                             a recipient MAY), for ttf reading its own local service, as nginx
                             and Go's net/http do; requests and agents' heads stay strict */
} http1_limits;

/* How the body after a head is delimited (RFC 9112 §6.3). */
typedef enum {
    HTTP1_FRAMING_NONE = 0, /* no body: the message ends with its head */
    HTTP1_FRAMING_LENGTH,   /* Content-Length bytes */
    HTTP1_FRAMING_CHUNKED,  /* chunked transfer coding (§7.1) */
    HTTP1_FRAMING_CLOSE,    /* responses only: until the connection closes */
} http1_framing;

/* What kind of error a parse step met: a caller acts on it (a limit of its own is no fault of
 * the peer's syntax); the reason text is for logs and answers only. */
typedef enum {
    HTTP1_OK = 0,
    HTTP1_ERR_SYNTAX,          /* malformed: 400 (502 for a response); a body's framing too, its
                                  chunk-extension and trailer-section limits included */
    HTTP1_ERR_HEAD_TOO_BIG,    /* over the head limit (max_head): 431, 414 for a request-line */
    HTTP1_ERR_TOO_MANY_FIELDS, /* over the field-line limit (max_fields): 431 */
    HTTP1_ERR_NOMEM,           /* 500 */
    HTTP1_ERR_NOT_IMPLEMENTED, /* 501: a transfer coding other than chunked */
    HTTP1_ERR_VERSION,         /* 505: an HTTP version other than 1.0 and 1.1 */
} http1_error;

/* A parse error: its kind, the status a server answers (400, 414, 431, 501, 505; 502 for a bad
 * response from a server) and a short constant reason naming the rule ("whitespace before
 * colon"). */
typedef struct http1_err {
    http1_error kind;
    int status;
    const char *reason;
} http1_err;

/* Whether e is a head over one of the parser's limits (bytes or field lines), not malformed. */
static inline bool http1_err_over_limit(const http1_err *e)
{
    return e->kind == HTTP1_ERR_HEAD_TOO_BIG || e->kind == HTTP1_ERR_TOO_MANY_FIELDS;
}

#endif
