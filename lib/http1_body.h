/* SPDX-License-Identifier: MIT */
/* http1_body.h - reading one message body by its framing (RFC 9112 §6.3): none, Content-Length,
 * chunked (strict, http1_chunked.h) or until the connection closes. Each step returns the raw
 * octets it consumed (so a relay knows where the message ends in the stream) and the decoded
 * payload span inside them (so a relay can re-frame the body).
 * Owns: the chunked decoder's state (trailers) until http1_body_free. */
#ifndef TUNNEL_HTTP1_BODY_H
#define TUNNEL_HTTP1_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1_chunked.h"
#include "http1_types.h"

typedef struct http1_body {
    http1_framing framing;
    uint64_t left;    /* HTTP1_FRAMING_LENGTH: octets still to come */
    uint64_t raw;     /* octets consumed so far (framing included) */
    uint64_t decoded; /* payload octets returned so far */
    http1_chunked ch; /* HTTP1_FRAMING_CHUNKED */
    bool done;
    const char *reason; /* why reading failed */
} http1_body;

typedef enum {
    HTTP1_BODY_MORE = 0, /* give the rest, or more octets */
    HTTP1_BODY_END,      /* the body ended at *used */
    HTTP1_BODY_ERROR,    /* b->reason says why */
} http1_body_result;

/* length is the Content-Length for HTTP1_FRAMING_LENGTH; lim may be NULL. */
void http1_body_init(http1_body *b, http1_framing framing, uint64_t length,
                     const http1_limits *lim);
void http1_body_free(http1_body *b);

/* Reads in[0..len): *used = raw octets consumed; (data, dlen) = decoded payload inside them
 * (possibly empty). A body of no octets ends at once (END, *used 0, even for len 0). Never
 * consumes octets after the end. Call again with the rest while the result is MORE and
 * *used > 0. */
http1_body_result http1_body_read(http1_body *b, const char *in, size_t len, size_t *used,
                                  const char **data, size_t *dlen);
/* The connection closed: END for a close-delimited body (or one already complete), else
 * ERROR (a body cut short). */
http1_body_result http1_body_eof(http1_body *b);

#endif
