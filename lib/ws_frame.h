/* SPDX-License-Identifier: MIT */
/* ws_frame.h - reading WebSocket frames (RFC 6455 §5): the frame header, unmasking, and close
 * codes (§7.4). Pure functions over bytes, no state: lib/ws.c keeps the message state (fragments,
 * control frames, close) and checks text payloads and close reasons with lib/utf8 (§5.6, §8.1).
 * Unmasking goes eight bytes at a time.
 * Owns: nothing. */
#ifndef TUNNEL_WS_FRAME_H
#define TUNNEL_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xa,
};

#define WS_CONTROL_MAX 125 /* control frame payload bytes (§5.5) */

typedef struct ws_frame_hdr {
    bool fin;
    uint8_t opcode;
    bool masked;
    uint8_t key[4];
    uint64_t len;  /* payload bytes */
    size_t hdrlen; /* header bytes (2 to 14) */
} ws_frame_hdr;

/* Parses the frame header at p[0..n). expect_masked: true for a server (clients mask every frame,
 * §5.1), false for a client. Returns 1 with *h filled, 0 when more bytes are needed, -1 when the
 * header breaks the protocol (reserved bits without an extension, an unknown opcode, a control
 * frame fragmented or over 125 bytes, a length not in its shortest form or with the top bit
 * set, the mask bit wrong for our side); *why then says which (a static string). */
int ws_frame_header(const uint8_t *p, size_t n, bool expect_masked, ws_frame_hdr *h,
                    const char **why);

/* dst[0..n) = src[0..n) masked with key (RFC 6455 §5.3), src being the payload from byte off on;
 * dst may equal src. 32 bytes per step. */
void ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4], uint64_t off);
/* Unmasks n payload bytes in place; off is the offset of p[0] in the frame's payload (§5.3). */
void ws_unmask(uint8_t *p, size_t n, const uint8_t key[4], uint64_t off);

/* Whether a status code received in a close frame may be sent on the wire (§7.4: 1000-1003,
 * 1007-1014, 3000-4999). */
bool ws_close_code_valid(uint16_t code);

#endif
