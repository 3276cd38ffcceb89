/* SPDX-License-Identifier: MIT */
/* proto_bin.h - the binary stream frames of the ttf.bin.v2 subprotocol (docs/protocol.md §3):
 * OPEN (tunnel index + request head), DATA (body octets without transfer coding), RESPONSE
 * (interim or final head), WINDOW (credit), RESET (code + reason), TRAILERS (trailer section).
 * Pure encode/decode over caller buffers; no allocation. Owns nothing. */
#ifndef TUNNEL_PROTO_BIN_H
#define TUNNEL_PROTO_BIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TTF_SUBPROTO_BIN "ttf.bin.v2"
#define TTF_SUBPROTO_JSON "ttf.json.v1"
#define TTF_BIN_HDR 6                      /* type u8, flags u8, stream id u32 BE */
#define TTF_BIN_OPEN_HDR (TTF_BIN_HDR + 1) /* OPEN: the header, then the tunnel index u8 */
#define TTF_BIN_INITIAL_WINDOW (256u * 1024u)
#define TTF_BIN_MAX_DATA (64u * 1024u)
#define TTF_BIN_RESET_REASON_MAX 200u /* bytes of a RESET reason the encoder writes */

typedef enum {
    TTF_OPEN = 1,     /* s->a: u8 tunnel index, then the request head */
    TTF_DATA = 2,     /* both: body octets (no transfer coding), raw octets after a 101 */
    TTF_RESPONSE = 3, /* a->s: a response head; 1xx but 101 = interim (no FIN) */
    TTF_WINDOW = 4,   /* both: u32 BE credit, > 0 */
    TTF_RESET = 5,    /* both: u8 code, then a UTF-8 reason */
    TTF_TRAILERS = 6, /* both: a trailer section (field lines, then CRLF); always with FIN */
} ttf_frame_type;

#define TTF_FLAG_FIN 0x01 /* the sender's last frame of this direction */

typedef enum {
    TTF_RST_INVALID_REQUEST = 1,
    TTF_RST_TIMEOUT = 2,
    TTF_RST_LOCAL_UNAVAILABLE = 3,
    TTF_RST_INTERNAL = 4,
    TTF_RST_CANCEL = 5,
    TTF_RST_PROTOCOL_ERROR = 6, /* the peer broke this protocol (an overrun, a frame out of
                                   place) */
} ttf_reset_code;

typedef struct ttf_frame {
    uint8_t type;
    uint8_t flags;
    uint32_t stream_id;
    /* Points into the decoded buffer. OPEN: the request head (after the tunnel index byte);
     * RESET: the code byte and the reason; other types: the whole payload. */
    const uint8_t *payload;
    size_t len;
    /* decoded for OPEN / WINDOW / RESET */
    uint8_t tunnel; /* OPEN: the tunnel index (0 = the session's first tunnel) */
    uint32_t window;
    uint8_t reset_code;
} ttf_frame;

/* Writes the 6-byte header into out. */
void ttf_frame_header(uint8_t out[TTF_BIN_HDR], uint8_t type, uint8_t flags, uint32_t stream_id);
/* Writes an OPEN frame's header and tunnel index (7 bytes); the request head follows. */
void ttf_frame_open_header(uint8_t out[TTF_BIN_OPEN_HDR], uint8_t flags, uint32_t stream_id,
                           uint8_t tunnel);
/* Encodes a WINDOW frame (10 bytes) into out; returns 10. */
size_t ttf_frame_window(uint8_t out[10], uint32_t stream_id, uint32_t increment);
/* Encodes a RESET frame into out (room for 7 + strlen(reason), the reason capped at
 * TTF_BIN_RESET_REASON_MAX bytes and at cap); returns its length, 0 when cap < 7. */
size_t ttf_frame_reset(uint8_t *out, size_t cap, uint32_t stream_id, uint8_t code,
                       const char *reason);
/* Decodes one whole WebSocket binary message. 0, or -1 when malformed: short, unknown type,
 * stream id 0, a flag the type may not carry (only FIN exists; WINDOW and RESET carry none),
 * OPEN without a tunnel index or without a head, an empty RESPONSE, DATA over TTF_BIN_MAX_DATA,
 * WINDOW not 4 bytes or 0, RESET without a code, TRAILERS without FIN or not ending in CRLF.
 * On -1, f->type, f->flags and f->stream_id still hold the header's fields when the message has
 * one (else 0), so that the receiver can tell which stream a malformed frame was for. */
int ttf_frame_decode(const uint8_t *msg, size_t len, ttf_frame *f);
/* RESET code name ("local_service_unavailable") and the public status it maps to when no
 * response has started (400, 504, else 502). */
const char *ttf_reset_name(uint8_t code);
int ttf_reset_status(uint8_t code);

#endif
