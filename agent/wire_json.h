/* SPDX-License-Identifier: MIT */
/* wire_json.h - JSON mode (ttf.json.v1 with the v2 messages, docs/protocol.md §2): one request
 * id per public request, translated between messages and one exchange (exchange.h).
 * http_request (+ http_request_headers) starts the exchange at once, http_request_body pieces
 * are written as they come, cancel drops it; the exchange's upcalls become http_response (+
 * http_response_headers), http_response_body pieces as local bytes arrive (one per loop pass,
 * at most TTF_JSON_CHUNK each), error before the response started and cancel after it.
 * Backpressure (docs/protocol.md §2 "Flow control"): with a server's request window, each
 * request's body is credited as its local service takes it, so a slow service holds back its own
 * exchange; with or without one, an exchange holding more than WIRE_JSON_REQUEST_HOLD stops the
 * session reading the WebSocket (bounded memory). Over all exchanges, the agent's credit is
 * bounded (hold.h): an exchange whose local service stalled is failed (`error` `timeout`, 504;
 * `cancel` once the response began) when a live upload waits for the credit it holds, or,
 * without a request window (the Lambda), past HOLD_AGENT; the link goes on for the others.
 * Owns: the requests of a session, in session->exchanges (request id -> request). */
#ifndef TTF_WIRE_JSON_H
#define TTF_WIRE_JSON_H

#include "session.h"

/* The most request body ttf holds unwritten for one local service before it stops reading the
 * link, whatever window the server announced (up to 2^32-1) or without one: ttfd's
 * TTF_JSON_REQUEST_WINDOW and a request head of ttfd's largest --max-header-size fit with room to
 * spare, and so does the Lambda's largest body (4 MiB, MAX_BODY_BYTES). */
#define WIRE_JSON_REQUEST_HOLD ((size_t)4 * TTF_JSON_REQUEST_WINDOW)

/* http_request, http_request_headers, http_request_body, cancel. m's headers may be taken. */
void wire_json_on_message(session *s, tmsg *m);
/* A request message tmsg_decode refused, naming its request id: answered invalid_request. */
void wire_json_reject(session *s, const char *rid, const char *why);
/* Answers may flow again (WebSocket drained, acknowledgements came). */
void wire_json_resume_all(session *s);
/* The session ends: every request is dropped. */
void wire_json_free_all(session *s);
/* Fails the stalest stalled exchanges while a live upload waits for credit the budget lacks, or,
 * windowless, while the session holds more than HOLD_AGENT (hold_shed); credits the uploads
 * waiting; not from inside an exchange's upcall. */
void wire_json_shed(session *s);

#endif
