/* SPDX-License-Identifier: MIT */
/* jsonx.h - JSON mode (docs/protocol.md §2): each http_request (plus http_request_body pieces)
 * becomes one local HTTP/1.1 exchange, answered with http_response and http_response_body pieces
 * that each fit one 32 KiB API Gateway frame, or with an error message.
 * Owns: each exchange's local connection, parser, pending body and timer; exchanges live in
 * session->exchanges keyed by request id. */
#ifndef TTF_JSONX_H
#define TTF_JSONX_H

#include "session.h"

/* m is an http_request or http_request_body; jsonx may steal its fields (m stays freeable). */
void jsonx_on_message(session *s, tmsg *m);
/* A request message that could not be decoded (bad request-target, header, base64...) but names
 * its request: answered with an invalid_request error at once (its exchange, if any, ends). */
void jsonx_reject(session *s, const char *rid, const char *why);
void jsonx_resume_all(session *s);
void jsonx_free_all(session *s);

#endif
