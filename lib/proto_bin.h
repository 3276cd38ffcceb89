/* SPDX-License-Identifier: MIT */
/* proto_bin.h - the binary stream frames of the ttf.bin.v1 subprotocol (docs/protocol.md §3).
 * Pure encode/decode over caller buffers; no allocation. */
#ifndef TUNNEL_PROTO_BIN_H
#define TUNNEL_PROTO_BIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TTF_SUBPROTO_BIN "ttf.bin.v1"
#define TTF_SUBPROTO_JSON "ttf.json.v1"
#define TTF_BIN_HDR 6
#define TTF_BIN_INITIAL_WINDOW (256u * 1024u)
#define TTF_BIN_MAX_DATA (64u * 1024u)

typedef enum {
    TTF_OPEN = 1,
    TTF_DATA = 2,
    TTF_RESPONSE = 3,
    TTF_WINDOW = 4,
    TTF_RESET = 5,
} ttf_frame_type;

#define TTF_FLAG_FIN 0x01
#define TTF_FLAG_CLOSE 0x02

typedef enum {
    TTF_RST_INVALID_REQUEST = 1,
    TTF_RST_TIMEOUT = 2,
    TTF_RST_LOCAL_UNAVAILABLE = 3,
    TTF_RST_INTERNAL = 4,
    TTF_RST_CANCEL = 5,
} ttf_reset_code;

typedef struct ttf_frame {
    uint8_t type;
    uint8_t flags;
    uint32_t stream_id;
    const uint8_t *payload; /* points into the decoded buffer */
    size_t len;
    /* decoded for WINDOW / RESET */
    uint32_t window;
    uint8_t reset_code;
} ttf_frame;

/* Writes the 6-byte header into out. */
void ttf_frame_header(uint8_t out[TTF_BIN_HDR], uint8_t type, uint8_t flags, uint32_t stream_id);
/* Encodes a WINDOW frame (10 bytes) into out; returns 10. */
size_t ttf_frame_window(uint8_t out[10], uint32_t stream_id, uint32_t increment);
/* Encodes a RESET frame into out (room for 7 + strlen(reason) capped at 200); returns length. */
size_t ttf_frame_reset(uint8_t *out, size_t cap, uint32_t stream_id, uint8_t code,
                       const char *reason);
/* Decodes one whole WebSocket binary message. 0, or -1 when malformed (short, unknown type,
 * stream id 0, bad flags for the type, WINDOW not 4 bytes or 0, RESET without a code). */
int ttf_frame_decode(const uint8_t *msg, size_t len, ttf_frame *f);
/* RESET code name ("local_service_unavailable") and the public status it maps to. */
const char *ttf_reset_name(uint8_t code);
int ttf_reset_status(uint8_t code);

#endif
