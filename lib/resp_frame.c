/* SPDX-License-Identifier: MIT */
/* resp_frame.c - response framing toward the client (see resp_frame.h). */
#include "resp_frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1_chunked.h"
#include "proxy.h"

void rframe_init(rframe *f, const rframe_request *req)
{
    *f = (rframe){.req = *req};
}

static rframe_result refuse(rframe *f, const char *why)
{
    f->why = why;
    return RFRAME_REFUSED;
}

rframe_result rframe_head(rframe *f, int status, http_headers *h, int64_t known_len,
                          bool request_done)
{
    if (!proxy_status_valid(status))
        return refuse(f, "status outside 100..599");
    if (f->mode != RFRAME_UNSET)
        return refuse(f, "a response after the final response");
    if (proxy_status_interim(status) && status != 101) {
        if (!f->req.http11)
            return RFRAME_SKIP; /* never to HTTP/1.0 clients (RFC 9110 §15.2) */
        http_headers_remove_id(h, HTTP_H_CONTENT_LENGTH);
        http_headers_remove_id(h, HTTP_H_TRANSFER_ENCODING);
        return RFRAME_OK;
    }
    if (status == 101) {
        if (!f->req.upgrade)
            return refuse(f, "101 to a request that asked for no upgrade");
        f->mode = RFRAME_PIPE;
        f->status = 101;
        f->persist = false;
        return RFRAME_OK;
    }
    uint64_t cl = 0;
    int has_cl = http_headers_one_content_length(h, &cl); /* "4, 4" or repeated: one value */
    if (has_cl < 0)
        return refuse(f, "bad Content-Length in the response");
    f->status = status;
    if (f->req.assembled) { /* the fields are the caller's: only the body's rule is set */
        f->mode = proxy_bodiless(status, f->req.head) ? RFRAME_NONE
                  : has_cl                            ? RFRAME_LENGTH
                                                      : RFRAME_WHOLE;
        f->left = has_cl ? cl : 0;
        f->persist = true;
        return RFRAME_OK;
    }
    /* the framing fields are ours to write */
    http_headers_remove_id(h, HTTP_H_TRANSFER_ENCODING);
    http_headers_remove_id(h, HTTP_H_CONNECTION);
    http_headers_remove_id(h, HTTP_H_KEEP_ALIVE);
    int rc = 0;
    if (proxy_bodiless(status, f->req.head)) {
        f->mode = RFRAME_NONE;
        if (status == 204)
            http_headers_remove_id(h, HTTP_H_CONTENT_LENGTH);
    } else if (has_cl) {
        f->mode = RFRAME_LENGTH;
        f->left = cl;
    } else if (known_len >= 0) {
        f->mode = RFRAME_LENGTH;
        f->left = (uint64_t)known_len;
        char n[24];
        snprintf(n, sizeof n, "%lld", (long long)known_len);
        rc = http_headers_set(h, "Content-Length", n);
    } else if (f->req.http11) {
        f->mode = RFRAME_CHUNKED;
        rc = http_headers_set(h, "Transfer-Encoding", "chunked");
    } else {
        f->mode = RFRAME_CLOSE;
    }
    f->persist = f->req.keep_alive && request_done && f->mode != RFRAME_CLOSE;
    if (rc == 0 && !f->persist)
        rc = http_headers_set(h, "Connection", "close");
    else if (rc == 0 && !f->req.http11)
        rc = http_headers_set(h, "Connection", "keep-alive"); /* HTTP/1.0 persistence */
    if (rc != 0) {
        f->mode = RFRAME_UNSET;
        return refuse(f, "out of memory");
    }
    return RFRAME_OK;
}

static rframe_result overrun(rframe *f, const char *why)
{
    f->why = why;
    return RFRAME_OVERRUN;
}

rframe_result rframe_body(rframe *f, const void *data, size_t len, rframe_emit out, void *ud)
{
    if (len == 0)
        return f->mode == RFRAME_UNSET ? overrun(f, "body before the response head") : RFRAME_OK;
    if (f->ended)
        return overrun(f, "body after the end of the response");
    switch (f->mode) {
    case RFRAME_UNSET:
        return overrun(f, "body before the response head");
    case RFRAME_NONE:
        return overrun(f, "body on a response that has none");
    case RFRAME_LENGTH:
        if (len > f->left) {
            if (f->left)
                out(ud, data, (size_t)f->left);
            f->sent += f->left;
            f->left = 0;
            return overrun(f, "body longer than its Content-Length");
        }
        f->left -= len;
        break;
    case RFRAME_CHUNKED: {
        char pre[HTTP1_CHUNK_PREFIX_MAX];
        out(ud, pre, http1_chunk_prefix(pre, len));
        out(ud, data, len);
        out(ud, HTTP1_CHUNK_SUFFIX, sizeof HTTP1_CHUNK_SUFFIX - 1);
        f->sent += len;
        return RFRAME_OK;
    }
    case RFRAME_CLOSE:
    case RFRAME_PIPE:
    case RFRAME_WHOLE:
        break;
    }
    out(ud, data, len);
    f->sent += len;
    return RFRAME_OK;
}

rframe_result rframe_end(rframe *f, const http_headers *trailers, rframe_emit out, void *ud)
{
    if (f->mode == RFRAME_UNSET)
        return overrun(f, "end before the response head");
    if (f->ended)
        return overrun(f, "end after the end of the response");
    if (f->mode == RFRAME_LENGTH && f->left > 0) {
        f->why = "body shorter than its Content-Length";
        return RFRAME_TRUNCATED;
    }
    if (f->mode == RFRAME_CHUNKED && (!trailers || trailers->n == 0)) {
        out(ud, HTTP1_LAST_CHUNK, sizeof HTTP1_LAST_CHUNK - 1);
    } else if (f->mode == RFRAME_CHUNKED) {
        size_t n = 0;
        char *last = http1_chunk_last(trailers, &n);
        if (!last) {
            f->why = "out of memory";
            return RFRAME_TRUNCATED;
        }
        out(ud, last, n);
        free(last);
    }
    f->ended = true;
    return RFRAME_OK;
}
