/* http1.h - HTTP/1.1 message heads: a header list, hop-by-hop rules, serialisation, and an
 * incremental parser over libhttp-parser that reports where the head and the body end in the
 * raw byte stream, so callers can relay bodies byte for byte (chunked framing included).
 * Owns: the parser state and the strings of the head it collected. */
#ifndef TUNNEL_HTTP1_H
#define TUNNEL_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <http_parser.h>

/* ---- header list: keeps order and repeats (several Set-Cookie stay several entries) ---- */
typedef struct http_header {
    char *name;  /* as received, NUL-terminated, owned by the list */
    char *value; /* NUL-terminated, owned by the list */
} http_header;

typedef struct http_headers {
    http_header *v;
    size_t n, cap;
} http_headers;

void http_headers_init(http_headers *h);
void http_headers_free(http_headers *h);
int http_headers_add(http_headers *h, const char *name, size_t nlen, const char *value,
                     size_t vlen); /* 0 or -1 (ENOMEM) */
/* First value of a header, case-insensitive name; NULL when absent. */
const char *http_headers_get(const http_headers *h, const char *name);
/* Removes every entry with that name; returns how many. */
size_t http_headers_remove(http_headers *h, const char *name);
/* Replaces all entries of name with one entry (adds it when absent). 0 or -1. */
int http_headers_set(http_headers *h, const char *name, const char *value);

/* True when a comma-separated list header (Connection, Upgrade, Sec-WebSocket-Protocol) carries
 * token, compared case-insensitively; every header of that name is searched. */
bool http_headers_has_token(const http_headers *h, const char *name, const char *token);

/* True for the RFC 9110 hop-by-hop names: Connection, Keep-Alive, Proxy-Connection,
 * Proxy-Authenticate, Proxy-Authorization, TE, Trailer, Transfer-Encoding, Upgrade. */
bool http_is_hop_by_hop(const char *name);
/* Removes hop-by-hop headers and those listed in Connection.
 * keep_framing: keep Transfer-Encoding (the body is relayed with its framing).
 * keep_upgrade: keep Connection and Upgrade (a WebSocket upgrade passes through). */
void http_headers_strip_hop_by_hop(http_headers *h, bool keep_framing, bool keep_upgrade);

/* ---- serialisation: returns a malloc'd head ending in CRLF CRLF, length in *len ----
 * Entries whose name is not a token or whose value holds CR/LF are left out (no header
 * injection). NULL on ENOMEM, a method that is not a token, an empty target or one with
 * spaces/controls, or a status outside 100..999. */
char *http_format_request_head(const char *method, const char *target, const http_headers *h,
                               size_t *len);
char *http_format_response_head(int status, const char *reason, const http_headers *h, size_t *len);
/* Standard reason phrase ("Not Found"), "Unknown" for unknown codes. */
const char *http_reason(int status);
/* A complete short text/plain response ("404 ..." + body + "\n"), with Connection: close
 * when close is set. Returns malloc'd bytes. */
char *http_format_error(int status, const char *body, bool close, size_t *len);

/* ---- incremental parser ----
 * Methods: http-parser knows a fixed list (GET ... PROPFIND, MKCOL, PATCH, PURGE, ...); a method
 * outside that list is a syntax error (answer 400). Also 400: a request body framed by a
 * Transfer-Encoding other than chunked, Content-Length with chunked, a response status < 100.
 * Header values lose surrounding whitespace; chunked trailers are not collected into headers
 * (they stay in the raw body bytes). */
typedef enum {
    HTTP1_NONE = 0, /* every byte given was consumed; give more */
    HTTP1_HEAD,     /* the head is complete; it ended at the returned offset */
    HTTP1_MSG_END,  /* the message (head and body) ended at the returned offset */
    HTTP1_ERROR     /* bad input: see http1_parser.error */
} http1_event;

typedef enum {
    HTTP1_OK = 0,
    HTTP1_ERR_SYNTAX,       /* 400 */
    HTTP1_ERR_HEAD_TOO_BIG, /* 431 */
    HTTP1_ERR_NOMEM,
} http1_error;

typedef struct http1_parser {
    http_parser hp;
    http_parser_settings settings;
    size_t max_head;   /* limit on head bytes (431 beyond it) */
    size_t head_bytes; /* head bytes seen so far */
    bool in_body;      /* the head is done, the body is being parsed */
    bool skip_body;    /* response to HEAD: no body whatever the headers say */
    http1_error error;
    /* The head, valid after HTTP1_HEAD until the next message starts. */
    char *method; /* requests: "GET" (methods http-parser knows, see above) */
    char *target; /* requests: raw request target, byte for byte */
    int status;   /* responses */
    int http_major, http_minor;
    http_headers headers;
    bool keep_alive;        /* http_should_keep_alive() at head end */
    bool upgrade;           /* request asked for / response granted an upgrade (101) */
    bool chunked;           /* Transfer-Encoding: chunked */
    int64_t content_length; /* -1 when absent */
    /* Decoded body bytes (chunk framing removed), optional. */
    void (*on_body)(void *ud, const char *at, size_t len);
    void *ud;
    /* internal */
    char *cur_field, *cur_value;
    size_t cur_field_len, cur_value_len;
    bool last_was_value;
    bool is_request;
    bool head_done;     /* HTTP1_HEAD reported for the current message */
    bool reset_pending; /* free the previous head when the next message begins */
    bool have_pending;  /* a byte we reported consumed that http-parser has not seen yet */
    char pending;
    http1_event stop; /* event raised by a callback (parser paused) */
} http1_parser;

/* is_request selects request or response parsing. max_head 0 means 16 KiB (http-parser's own
 * limit of 80 KiB also applies: larger heads fail with HTTP1_ERR_HEAD_TOO_BIG anyway). */
void http1_init(http1_parser *p, bool is_request, size_t max_head);
void http1_free(http1_parser *p);
/* Parses data[0..len). *consumed receives how many bytes were used; the event says why it
 * stopped. After HTTP1_HEAD the bytes up to *consumed are the head; after HTTP1_MSG_END the
 * bytes up to *consumed end the body. Bytes consumed while in_body are raw body bytes.
 * IMPORTANT: after HTTP1_HEAD call again at once with the remaining bytes, even when none are
 * left (len 0): a message without a body (GET, 204, HEAD answer, upgrade) then ends with
 * HTTP1_MSG_END and *consumed 0. HTTP1_NONE means "wait for more bytes". Errors are sticky.
 * After HTTP1_MSG_END, call again with the rest for the next message (keep-alive). On an upgrade
 * (p->upgrade set at HTTP1_HEAD for requests, 101 for responses) the stream after the head is no
 * longer HTTP: stop parsing. */
http1_event http1_execute(http1_parser *p, const char *data, size_t len, size_t *consumed);
/* Tells the parser the connection closed: ends a close-delimited response body.
 * Returns HTTP1_MSG_END when that completed a message, HTTP1_NONE or HTTP1_ERROR otherwise. */
http1_event http1_finish(http1_parser *p);
/* For responses: the request was HEAD (no body follows the head). Call before parsing. */
void http1_expect_no_body(http1_parser *p);
/* True when the current response body runs until the connection closes (no length, not
 * chunked, not a bodiless status). Valid after HTTP1_HEAD. */
bool http1_body_until_close(const http1_parser *p);

#endif
