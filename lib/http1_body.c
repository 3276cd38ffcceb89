/* SPDX-License-Identifier: MIT */
/* http1_body.c - message bodies by framing (see http1_body.h). */
#include "http1_body.h"

#include <string.h>

void http1_body_init(http1_body *b, http1_framing framing, uint64_t length, const http1_limits *lim)
{
    memset(b, 0, sizeof *b);
    b->framing = framing;
    b->left = framing == HTTP1_FRAMING_LENGTH ? length : 0;
    http1_chunked_init(&b->ch, lim);
}

void http1_body_free(http1_body *b)
{
    http1_chunked_free(&b->ch);
}

http1_body_result http1_body_read(http1_body *b, const char *in, size_t len, size_t *used,
                                  const char **data, size_t *dlen)
{
    *used = 0;
    *data = in;
    *dlen = 0;
    if (b->reason)
        return HTTP1_BODY_ERROR;
    if (b->done)
        return HTTP1_BODY_END;
    switch (b->framing) {
    case HTTP1_FRAMING_NONE:
        b->done = true;
        return HTTP1_BODY_END;
    case HTTP1_FRAMING_LENGTH: {
        size_t take = len < b->left ? len : (size_t)b->left;
        b->left -= take;
        *used = *dlen = take;
        b->raw += take;
        b->decoded += take;
        b->done = b->left == 0;
        return b->done ? HTTP1_BODY_END : HTTP1_BODY_MORE;
    }
    case HTTP1_FRAMING_CLOSE:
        *used = *dlen = len;
        b->raw += len;
        b->decoded += len;
        return HTTP1_BODY_MORE;
    case HTTP1_FRAMING_CHUNKED: {
        http1_chunked_result r = http1_chunked_decode(&b->ch, in, len, used, data, dlen);
        b->raw += *used;
        b->decoded += *dlen;
        if (r == HTTP1_CHUNKED_ERROR) {
            b->reason = b->ch.reason;
            return HTTP1_BODY_ERROR;
        }
        b->done = r == HTTP1_CHUNKED_END;
        return b->done ? HTTP1_BODY_END : HTTP1_BODY_MORE;
    }
    }
    b->reason = "bad framing";
    return HTTP1_BODY_ERROR;
}

http1_body_result http1_body_eof(http1_body *b)
{
    if (b->reason)
        return HTTP1_BODY_ERROR;
    if (b->done || b->framing == HTTP1_FRAMING_CLOSE || b->framing == HTTP1_FRAMING_NONE) {
        b->done = true;
        return HTTP1_BODY_END;
    }
    b->reason = "connection closed before the end of the body";
    return HTTP1_BODY_ERROR;
}
