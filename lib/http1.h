/* SPDX-License-Identifier: MIT */
/* http1.h - the incremental HTTP/1.1 message parser of one connection's byte stream: a strict
 * head (http1_head.h), then the body by its framing (http1_body.h), message after message. It
 * reports where each head and each message ends in the raw stream, so a relay can forward raw
 * octets and never an octet past the end of a message; decoded body octets (chunk framing
 * removed) go to an optional callback. Heads split over several reads are collected in one
 * buffer; a head that arrives whole is parsed in place.
 * Including this header brings the whole HTTP/1.1 library: header lists (http1_headers.h),
 * grammar (http1_syntax.h), chunked coding (http1_chunked.h), serialisation (http1_write.h).
 * Owns: the current head and body state, and the buffer of a partial head. */
#ifndef TUNNEL_HTTP1_H
#define TUNNEL_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1_body.h"
#include "http1_chunked.h"
#include "http1_head.h"
#include "http1_headers.h"
#include "http1_syntax.h"
#include "http1_types.h"
#include "http1_write.h"

typedef enum {
    HTTP1_NONE = 0, /* every byte given was consumed; give more */
    HTTP1_HEAD,     /* the head is complete; it ended at the returned offset */
    HTTP1_MSG_END,  /* the message (head and body) ended at the returned offset */
    HTTP1_ERROR     /* bad input: see http1_parser.err */
} http1_event;

typedef struct http1_parser {
    http1_head head; /* valid after HTTP1_HEAD until the next message begins */
    http1_body body; /* the current message's body reader (trailers stay until then too) */
    http1_limits lim;
    bool is_request;
    bool in_body;      /* the head is done, the body is being parsed */
    bool skip_body;    /* response to HEAD: no body whatever the headers say */
    size_t head_bytes; /* bytes of the current head consumed so far */
    http1_err err;     /* its kind (HTTP1_OK until an error), the status to answer and a reason */
    /* Decoded body bytes (chunk framing removed), optional. */
    void (*on_body)(void *ud, const char *at, size_t len);
    void *ud;
    /* internal */
    char *buf; /* a head split over several calls */
    size_t blen, bcap;
    http1_scan scan;
    bool reset_pending; /* free the previous head when the next message begins */
} http1_parser;

/* is_request selects request or response parsing. max_head: the head limit in bytes (0: 16 KiB,
 * at most HTTP1_MAX_MAX_HEAD); 431 beyond it. */
void http1_init(http1_parser *p, bool is_request, size_t max_head);
/* The same with every limit given (zero fields: defaults). */
void http1_init_limits(http1_parser *p, bool is_request, const http1_limits *lim);
void http1_free(http1_parser *p);
/* Parses data[0..len). *consumed receives how many bytes were used; the event says why it
 * stopped. After HTTP1_HEAD the bytes up to *consumed end the head; after HTTP1_MSG_END they end
 * the body. Bytes consumed while in_body are raw body bytes.
 * After HTTP1_HEAD call again at once with the remaining bytes, even when none are left (len
 * 0): a message without a body (GET, 204, HEAD answer, upgrade) then ends with HTTP1_MSG_END and
 * *consumed 0. HTTP1_NONE means "wait for more bytes". Errors are sticky. After HTTP1_MSG_END,
 * call again with the rest for the next message (keep-alive). On an upgrade (head.upgrade at
 * HTTP1_HEAD for requests, 101 for responses) the stream after the head is no longer HTTP:
 * stop parsing. */
http1_event http1_execute(http1_parser *p, const char *data, size_t len, size_t *consumed);
/* Tells the parser the connection closed: ends a close-delimited response body.
 * HTTP1_MSG_END when that completed a message; HTTP1_NONE between messages; HTTP1_ERROR for a
 * body or a head cut short. */
http1_event http1_finish(http1_parser *p);
/* For responses: the request was HEAD (no body follows the head). Call before parsing; it
 * holds across interim (1xx) responses until the final one. */
void http1_expect_no_body(http1_parser *p);
/* True when the current response body runs until the connection closes (no length, not
 * chunked, not a bodiless status). Valid after HTTP1_HEAD. */
bool http1_body_until_close(const http1_parser *p);

#endif
