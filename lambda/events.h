/* SPDX-License-Identifier: MIT */
/* events.h - recognising and reading the events Lambda hands us: API Gateway WebSocket proxy
 * events ($connect / $default / $disconnect), HTTP API payload format 2.0 events, and the
 * EventBridge scheduled event. Dispatch keys on the events' own markers (requestContext.eventType
 * + connectionId; version "2.0" + requestContext.http; source "aws.events").
 * Owns: the decoded fields of an http_event until http_event_free; ws_event fields borrow the
 * event's json_t. */
#ifndef LAMBDA_EVENTS_H
#define LAMBDA_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1.h"

typedef enum {
    EV_UNKNOWN = 0,
    EV_WS_CONNECT,
    EV_WS_MESSAGE,
    EV_WS_DISCONNECT,
    EV_HTTP,
    EV_SCHEDULED,
} event_kind;

event_kind event_classify(const json_t *ev);
const char *event_kind_name(event_kind k);

typedef struct ws_event {
    const char *connection_id;
    const char *body; /* $default: the frame text (NULL otherwise) */
    size_t body_len;
    bool body_b64; /* binary frame (isBase64Encoded) */
} ws_event;

/* 0, or -1 with a reason when connectionId is missing. */
int ws_event_parse(const json_t *ev, ws_event *out, const char **err);
/* A $connect header, case-insensitive, from headers or (joined) multiValueHeaders. malloc'd or
 * NULL. Several values are joined with ", ". */
char *ws_event_header(const json_t *ev, const char *name);
/* A query string parameter (already decoded by API Gateway), borrowed or NULL. */
const char *ws_event_query(const json_t *ev, const char *name);

typedef struct http_event {
    char *method;         /* requestContext.http.method */
    char *raw_path;       /* rawPath, percent-encoded again (http_path_encode) */
    char *raw_query;      /* rawQueryString ("" when none) */
    char *source_ip;      /* requestContext.http.sourceIp, may be NULL */
    http_headers headers; /* headers (lowercase names), cookies folded back into one cookie
                             header, in event order */
    uint8_t *body;        /* decoded body (NULL when empty) */
    size_t body_len;
    bool too_big;          /* body over the limit given to http_event_parse (body not decoded) */
    int64_t time_epoch_ms; /* requestContext.timeEpoch: when API Gateway got it; 0 if absent */
} http_event;

/* API Gateway's HTTP API delivers rawPath percent-decoded (a %2F arrives as '/', a %3F cuts
 * it, a %00 is a NUL: decoded[0..n)). Returns the path with every byte that may not appear in a
 * request-target path (RFC 3986 §3.3 pchar and '/') percent-encoded, '%' and NUL included;
 * malloc'd, NULL when out of memory. */
char *http_path_encode(const char *decoded, size_t n);

/* Reads a payload 2.0 event. max_body bounds the decoded body (too_big set instead of failing).
 * 0, or -1 with a reason (missing method/path, bad base64, a header value or cookie holding a
 * NUL, CR, LF or another control: RFC 9110 §5.5). Call http_event_free either way. */
int http_event_parse(const json_t *ev, size_t max_body, http_event *out, const char **err);
void http_event_free(http_event *e);

#endif
