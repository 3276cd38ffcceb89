/* SPDX-License-Identifier: MIT */
/* wire_bin.h - binary mode (ttf.bin.v2, docs/protocol.md §3): one stream per public request,
 * translated between frames and one exchange (exchange.h). OPEN/DATA/TRAILERS become the
 * exchange's request, its upcalls become RESPONSE/DATA/TRAILERS/RESET, and WINDOW credit flows
 * both ways (per-stream windows bound the memory of each direction). Over all streams, the
 * agent's credit is bounded (hold.h): a stream whose local service stalled is reset (timeout)
 * when a live upload waits for the credit it holds, or, without the agent's window (an older
 * ttfd), past HOLD_AGENT; the link goes on for the others.
 * Owns: the streams of a session, in session->streams (stream id -> stream). */
#ifndef TTF_WIRE_BIN_H
#define TTF_WIRE_BIN_H

#include <stddef.h>
#include <stdint.h>

#include "session.h"

/* One binary WebSocket message from the server. */
void wire_bin_on_message(session *s, const uint8_t *msg, size_t len);
/* The WebSocket output drained: streams waiting for room go on. */
void wire_bin_resume_all(session *s);
/* The session ends: every stream is dropped (exchanges freed, local connections closed). */
void wire_bin_free_all(session *s);
/* Resets the stalest stalled streams while a live upload waits for credit the budget lacks, or,
 * windowless, while the session holds more than HOLD_AGENT (hold_shed); credits the uploads
 * waiting; not from inside an exchange's upcall. */
void wire_bin_shed(session *s);

#endif
