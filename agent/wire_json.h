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
 * session reading the WebSocket (bounded memory). Over all exchanges, the agent holds about
 * WIRE_JSON_AGENT_HOLD of request bodies: past it, the exchanges whose local service took nothing
 * for WIRE_JSON_STALL_MS are failed, stalest first (504, `timeout`); past WIRE_JSON_AGENT_HOLD_MAX
 * the stalest are failed at once. The link keeps going for the others (no head-of-line
 * blocking).
 * Owns: the requests of a session, in session->exchanges (request id -> request). */
#ifndef TTF_WIRE_JSON_H
#define TTF_WIRE_JSON_H

#include "session.h"

/* The most request body ttf holds unwritten for one local service before it stops reading the
 * link, whatever window the server announced (up to 2^32-1) or without one: ttfd's
 * TTF_JSON_REQUEST_WINDOW and a request head of ttfd's largest --max-header-size fit with room to
 * spare, and so does the Lambda's largest body (4 MiB, MAX_BODY_BYTES). */
#define WIRE_JSON_REQUEST_HOLD ((size_t)4 * TTF_JSON_REQUEST_WINDOW)

/* The request body ttf holds unwritten over all of a session's exchanges before it fails the
 * stalled ones (bench/upload_stall_cost.py): a window (ttfd's 1 MiB) or a whole body (the
 * Lambda's, up to 4 MiB) per upload to a local service that does not read took ttf's RSS to
 * +323 MB with 256 uploads (ttfd's --max-streams-per-agent) before. 32 MiB: 32 such uploads at
 * once through ttfd, 8 of the Lambda's largest. */
#define WIRE_JSON_AGENT_HOLD ((size_t)32 << 20)
/* Past this, the stalest exchanges (the local service took nothing of their bodies for the
 * longest) are failed at once, however recently: uploads arriving together each bring a window
 * before any can be seen to stall. About 56 MB of ttf's RSS at most. */
#define WIRE_JSON_AGENT_HOLD_MAX ((size_t)40 << 20)
/* Past WIRE_JSON_AGENT_HOLD, an exchange whose local service took no request octet for this long
 * (ms) while holding some is failed: 504 `timeout` before a response, `cancel` after it. A service
 * that reads, however slowly, is not: only one that stopped taking its body. */
#define WIRE_JSON_STALL_MS 1000u

/* http_request, http_request_headers, http_request_body, cancel. m's headers may be taken. */
void wire_json_on_message(session *s, tmsg *m);
/* A request message tmsg_decode refused, naming its request id: answered invalid_request. */
void wire_json_reject(session *s, const char *rid, const char *why);
/* Answers may flow again (WebSocket drained, acknowledgements came). */
void wire_json_resume_all(session *s);
/* The session ends: every request is dropped. */
void wire_json_free_all(session *s);

#endif
