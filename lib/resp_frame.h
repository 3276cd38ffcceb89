/* SPDX-License-Identifier: MIT */
/* resp_frame.h - how a relay frames the response it writes to its HTTP/1.x client, decided by the
 * relay alone from the response head, the request method and the client's version (RFC 9112 §6,
 * §7, §9.3; RFC 9110 §6.4.1, §15.2). One implementation for ttfd's two wire modes: the tunnel
 * carries bodies without transfer coding, and the peer's framing bytes never reach the client.
 *
 *   bodiless (1xx, 204, 304, any answer to HEAD)  head only; any body byte is an overrun
 *   Content-Length: n from the peer               n, and exactly n bytes
 *   no length, HTTP/1.1 client                    Transfer-Encoding: chunked (trailers passed)
 *   no length, HTTP/1.0 client                    close-delimited (Connection: close)
 *   101 to an upgrade request                     a raw pipe after the head
 * Persistence: kept only when the client asked for it (1.1 default; 1.0 with "Connection:
 * keep-alive", answered with "Connection: keep-alive"), the request side allows it, and the body
 * is delimited by something other than the close; otherwise "Connection: close".
 * A final response after the final response, 101 without an upgrade, a status outside
 * 100..599, a bad Content-Length, body bytes past the length, a body on a bodiless response, or
 * an end before the length are refused with a result the caller turns into a reset of the
 * tunnel stream and a closed client connection. Nothing past the legitimate end is ever
 * emitted.
 *
 * Owns nothing: output goes through the caller's emit callback. */
#ifndef TUNNEL_RESP_FRAME_H
#define TUNNEL_RESP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1_headers.h"

/* What the framer needs to know about the request it answers. */
typedef struct rframe_request {
    bool head;       /* HEAD: no body whatever the head says */
    bool http11;     /* the client speaks HTTP/1.1 (else 1.0) */
    bool keep_alive; /* the client asked to keep the connection (the parser's keep_alive) */
    bool upgrade;    /* the request asked for an upgrade (a 101 may follow) */
    bool assembled;  /* the relay hands the whole body on in one document that frames it (the
                        Lambda: API Gateway's payload 2.0): the same rules, but rframe_head edits
                        no field of a final response bar Content-Length (one line), and a body
                        with no length is taken as it comes (RFRAME_WHOLE) */
} rframe_request;

typedef enum {
    RFRAME_UNSET = 0, /* no final response head yet */
    RFRAME_NONE,      /* no body */
    RFRAME_LENGTH,    /* Content-Length */
    RFRAME_CHUNKED,   /* chunked transfer coding */
    RFRAME_CLOSE,     /* until the connection closes */
    RFRAME_PIPE,      /* after a 101: raw bytes both ways */
    RFRAME_WHOLE,     /* assembled, no length announced: the body as it comes */
} rframe_mode;

typedef enum {
    RFRAME_OK = 0,
    RFRAME_SKIP,      /* an interim response this client must not get (HTTP/1.0): drop it */
    RFRAME_REFUSED,   /* a head the relay must not forward (see above): reason says why */
    RFRAME_OVERRUN,   /* body bytes past the end: only the legitimate ones were emitted */
    RFRAME_TRUNCATED, /* the body ended before its Content-Length */
} rframe_result;

typedef struct rframe {
    rframe_request req;
    rframe_mode mode;
    int status;      /* the final status (0 before it) */
    uint64_t left;   /* RFRAME_LENGTH: body bytes still due */
    uint64_t sent;   /* body bytes emitted (payload, framing excluded) */
    bool persist;    /* the connection stays open after this response */
    bool ended;      /* rframe_end succeeded */
    const char *why; /* REFUSED / OVERRUN / TRUNCATED: a short reason */
} rframe;

/* out(ud, bytes, n): bytes for the client, in order. */
typedef void (*rframe_emit)(void *ud, const void *data, size_t len);

void rframe_init(rframe *f, const rframe_request *req);

/* A response head from the peer, whose fields already went through the response rules
 * (lib/proxy.h). Interim (1xx but 101): RFRAME_OK (forward it; Content-Length and
 * Transfer-Encoding removed), RFRAME_SKIP for an HTTP/1.0 client, RFRAME_REFUSED after the final
 * response. Final: chooses the framing and sets Content-Length, Transfer-Encoding and Connection
 * in h (the peer's own are replaced). known_len: the whole body is known to be this many bytes
 * (>= 0: a head with the end of the body, "FIN"/"more:false"), or -1; used for Content-Length
 * when the peer sent none. request_done: the request body was fully read (else the connection
 * cannot persist). RFRAME_OK, or RFRAME_REFUSED. -1 never: ENOMEM is RFRAME_REFUSED with why
 * "out of memory". */
rframe_result rframe_head(rframe *f, int status, http_headers *h, int64_t known_len,
                          bool request_done);

/* Body bytes (decoded) of the final response. Emits them framed; OVERRUN when they go past the
 * end (the part up to the end is emitted, the rest never), on a bodiless response, or before the
 * final head. RFRAME_PIPE: passed through. */
rframe_result rframe_body(rframe *f, const void *data, size_t len, rframe_emit out, void *ud);

/* The end of the body, with trailer fields (NULL: none; chunked only, else dropped). Emits the
 * last chunk and trailers for chunked; TRUNCATED when a length is still due. */
rframe_result rframe_end(rframe *f, const http_headers *trailers, rframe_emit out, void *ud);

/* The connection must be closed after this response (the opposite of f->persist once a final
 * head was framed). */
static inline bool rframe_close_after(const rframe *f)
{
    return !f->persist;
}

#endif
