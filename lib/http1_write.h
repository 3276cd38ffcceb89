/* SPDX-License-Identifier: MIT */
/* http1_write.h - serialising HTTP/1.1 heads (RFC 9112 §3, §4, §5) from a method and target or a
 * status and a header list, as a relay does after it changed a parsed head; reason phrases;
 * the short error responses ttfd answers with.
 * Owns nothing: every function returns a malloc'd buffer the caller frees. */
#ifndef TUNNEL_HTTP1_WRITE_H
#define TUNNEL_HTTP1_WRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "http1_headers.h"

/* A request head "METHOD target HTTP/1.1" CRLF, fields, CRLF; length in *len. Entries whose
 * name is not a token or whose value holds CR, LF, NUL or another control are left out (no
 * header injection). NULL on ENOMEM, a method that is not a token, or an empty target or one
 * holding SP or a control (obs-text passes byte for byte). */
char *http_format_request_head(const char *method, const char *target, const http_headers *h,
                               size_t *len);
/* A response head "HTTP/1.1 status reason". reason NULL (or holding a control): the standard
 * phrase. NULL on ENOMEM or a status outside 100..999. */
char *http_format_response_head(int status, const char *reason, const http_headers *h, size_t *len);
/* Standard reason phrase (RFC 9110 §15: "Not Found"), "Unknown" for unknown codes. */
const char *http_reason(int status);
/* A complete short text/plain response ("404 ..." + body + "\n"; body NULL: the reason phrase)
 * with Content-Type, Content-Length, extra's fields (NULL: none), and Connection: close when
 * close is set. Returns malloc'd bytes (length in *len when len is not NULL), NULL on ENOMEM. */
char *http_format_text(int status, const char *body, const http_headers *extra, bool close,
                       size_t *len);
/* http_format_text without extra fields. */
char *http_format_error(int status, const char *body, bool close, size_t *len);

#endif
