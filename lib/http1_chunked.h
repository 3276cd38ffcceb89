/* SPDX-License-Identifier: MIT */
/* http1_chunked.h - the chunked transfer coding (RFC 9112 §7.1): a strict incremental decoder
 * and the encoder pieces a relay needs to re-frame a body.
 * Decoder grammar, enforced octet by octet:
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-size   = 1*HEXDIG                      (overflow refused)
 *   chunk-ext    = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )  (§7.1.1)
 *   chunk-ext-val = token / quoted-string        (at most max_chunk_ext octets per line)
 *   trailer-section = *( field-line CRLF )       (§7.1.2; field lines as in a head, capped)
 * Exactly CRLF after every size line and after every chunk's data: any other octets, a bare LF
 * or a bare CR are errors. The decoder never reads past the CRLF that ends the message.
 * Owns: the trailer section it collected (one buffer, allocated only when trailers come). */
#ifndef TUNNEL_HTTP1_CHUNKED_H
#define TUNNEL_HTTP1_CHUNKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1_headers.h"
#include "http1_types.h"

typedef struct http1_chunked {
    uint8_t st;     /* decoder state (internal) */
    uint64_t size;  /* size of the current chunk, then its bytes still to come */
    size_t line;    /* octets of the current size line after the size */
    size_t max_ext; /* chunk-ext octets allowed per line */
    size_t max_trailer;
    char *trailer; /* field lines of the trailer section, each ending in CRLF */
    size_t trailer_len, trailer_cap;
    size_t line_start;  /* start of the trailer line being collected */
    const char *reason; /* why decoding failed */
} http1_chunked;

typedef enum {
    HTTP1_CHUNKED_MORE = 0, /* everything given was used (or a data span is returned) */
    HTTP1_CHUNKED_END,      /* the chunked body ended at *used */
    HTTP1_CHUNKED_ERROR,    /* bad framing: c->reason says which rule */
} http1_chunked_result;

/* lim may be NULL (defaults). */
void http1_chunked_init(http1_chunked *c, const http1_limits *lim);
void http1_chunked_free(http1_chunked *c);
/* dst = a decoder in src's state, with a trailer section of its own (src is untouched by what
 * dst decodes next: a look ahead). Free dst with http1_chunked_free. 0, or -1 (ENOMEM: dst
 * holds nothing). */
int http1_chunked_copy(http1_chunked *dst, const http1_chunked *src);

/* Decodes in[0..len): consumes framing octets and at most one run of chunk data, returned as
 * the span (data, dlen) inside in (dlen may be 0). *used = octets consumed. Call again with the
 * rest while *used > 0 and the result is MORE. After END, c->trailer holds the trailer field
 * lines (validated) and octets after *used belong to the next message. */
http1_chunked_result http1_chunked_decode(http1_chunked *c, const char *in, size_t len,
                                          size_t *used, const char **data, size_t *dlen);
/* Decodes in[0..len) as above, dropping the chunk data: END when the body ends in them (the
 * octets after it untouched), ERROR on bad framing, MORE when they ran out first (len 0 too).
 * With a copy (http1_chunked_copy): whether octets not yet taken end the body. */
http1_chunked_result http1_chunked_skip(http1_chunked *c, const char *in, size_t len);

/* The trailer fields collected by the decoder, appended to out, but those RFC 9110 §6.5.1
 * keeps out of trailers (framing, routing, authentication, content format, cookies: dropped, so
 * no relay forwards them). 0 or -1 (ENOMEM). */
int http1_chunked_trailers(const http1_chunked *c, http_headers *out);

/* ---- encoder ---- */
#define HTTP1_CHUNK_PREFIX_MAX 18 /* 16 hex digits and CRLF */
#define HTTP1_CHUNK_SUFFIX "\r\n" /* after every chunk's data */
#define HTTP1_LAST_CHUNK "0\r\n\r\n"

/* Writes the chunk-size line for n (> 0) octets of data ("1a2b\r\n") into out; returns its
 * length. */
size_t http1_chunk_prefix(char out[HTTP1_CHUNK_PREFIX_MAX], uint64_t n);
/* The last-chunk, the trailer fields (entries with a bad name or value, and those
 * http1_chunked_trailers drops, are left out), and the final CRLF; malloc'd, length in *len.
 * NULL on ENOMEM. */
char *http1_chunk_last(const http_headers *trailers, size_t *len);

#endif
