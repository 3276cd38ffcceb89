/* SPDX-License-Identifier: MIT */
/* stream.h - binary mode (ttf.bin.v2, docs/protocol.md §3): one stream per public request,
 * relaying raw bytes between the tunnel and a local connection under per-stream windows.
 * Owns: each stream's local connection, parsers and timer; streams live in session->streams. */
#ifndef TTF_STREAM_H
#define TTF_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "session.h"

/* A binary WebSocket message from the server. */
void stream_on_message(session *s, const uint8_t *msg, size_t len);
/* The WebSocket drained: streams paused on it read again. */
void stream_resume_all(session *s);
/* The session ends: every stream is dropped (local connections closed). */
void stream_free_all(session *s);

#endif
