/* SPDX-License-Identifier: MIT */
/* edge_answer.h - the short answers the edges (ttfd, the Lambda) give a public client
 * themselves, once for both: a user must not be able to tell which back-end carried a request
 * (guide), so a situation has one status and one text here, and the rules of how such an
 * answer goes out: text/plain; charset=utf-8, the text plus "\n" as the body (ttfd:
 * http_format_text, the Lambda: httpresp_text), Retry-After on a 503.
 * Owns nothing. */
#ifndef TUNNEL_EDGE_ANSWER_H
#define TUNNEL_EDGE_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "http1_headers.h"
#include "proto_json.h"

typedef enum edge_answer_id {
    EDGE_TUNNEL_NOT_FOUND,       /* 404: no tunnel of that name (or none named), or not ready */
    EDGE_BODY_TOO_LARGE,         /* 413: the request body is over the edge's limit */
    EDGE_AGENT_BUSY,             /* 503: the agent's or the edge's cap on requests in progress */
    EDGE_AGENT_GONE,             /* 502: the agent's connection went away before the answer */
    EDGE_NO_ANSWER_IN_TIME,      /* 504: no response head before the request timeout */
    EDGE_JSON_FIELD_TOO_LARGE,   /* 431: one request field line over a JSON-mode message */
    EDGE_AGENT_HEAD_TOO_LARGE,   /* 502: a response head or trailer section from the agent over
                                    HTTP1_AGENT_MAX_HEAD bytes or HTTP1_AGENT_MAX_FIELDS lines */
    EDGE_CONNECT_NOT_SUPPORTED,  /* 501: CONNECT (authority-form): a tunnel URL is an origin */
    EDGE_WEBSOCKET_NEEDS_BINARY, /* 501: a WebSocket upgrade (proxy_websocket_upgrade) where no
                                    pipe is carried: a JSON-mode tunnel, the Lambda */
    EDGE_LOOP_DETECTED,          /* 508 (RFC 5842 §7.2): the request carries this edge's own
                                    CDN-Loop mark for the tunnel (proxy_loop_seen): the tunnel's
                                    local service sent it back to the tunnel's public address */
    EDGE_ANSWER_COUNT
} edge_answer_id;

typedef struct edge_answer {
    int status;
    const char *text; /* one line of printable ASCII, no "\n" */
} edge_answer;

/* The answer for a situation (id < EDGE_ANSWER_COUNT). */
const edge_answer *edge_answer_of(edge_answer_id id);

/* The Cache-Control every answer an edge gives itself carries, ttfd's and the Lambda's alike
 * (these, access refusals, upgrade refusals): it tells the tunnel's state at that moment (an
 * agent reconnecting, busy, gone), not the origin's resource, and a 404 or 501 is heuristically
 * cacheable (RFC 9111 §4.2.2): a CDN in front of the edge would keep "tunnel not found" past the
 * agent's return. */
#define EDGE_CACHE_CONTROL "no-store"

/* The Retry-After value an answer of this status carries, NULL for none: "1" on a 503 (a busy
 * agent is worth another try soon, RFC 9110 §10.2.3). */
const char *edge_answer_retry_after(int status);

/* Adds what an edge's own answer of this status carries besides its body's fields: Retry-After
 * as edge_answer_retry_after says, and Cache-Control: EDGE_CACHE_CONTROL. 0, or -1 on ENOMEM. */
int edge_answer_fields(http_headers *h, int status);

/* status and text as ttfd writes them: http_format_text's response with edge_answer_fields, Date as
 * proxy_response_date says (date: now as an IMF-fixdate, NULL for none) and Connection: close.
 * Malloc'd bytes, length in *len; NULL on ENOMEM. */
char *edge_answer_http(int status, const char *text, const char *date, size_t *len);

/* The agent's reason for a failure as a short public text: the printable ASCII of
 * reason[0..len) (at most cap - 1 bytes, trailing spaces dropped), or dflt when none is left.
 * cap > 0. */
void edge_reason_text(char *out, size_t cap, const uint8_t *reason, size_t len, const char *dflt);

/* The public text of an agent's failure it gave no words for, by binary RESET code (TTF_RST_*;
 * its status is ttf_reset_status): one text per kind for both modes and the Lambda. */
const char *edge_fault_text(uint8_t rst_code);

/* The public text of a JSON-mode error message from the agent (docs/protocol.md §2): its
 * message as edge_reason_text keeps it, or edge_fault_text of the same kind when it gave none
 * (binary mode's text). Its status is tmsg_error_status(code). */
void edge_agent_error_text(char *out, size_t cap, tmsg_error_code code, const char *message);

#endif
