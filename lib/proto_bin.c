/* SPDX-License-Identifier: MIT */
/* proto_bin.c - ttf.bin.v2 frame codec (docs/protocol.md §3). Decoding parses network bytes,
 * so every field is checked. */
#include "proto_bin.h"

#include <string.h>

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void ttf_frame_header(uint8_t out[TTF_BIN_HDR], uint8_t type, uint8_t flags, uint32_t stream_id)
{
    out[0] = type;
    out[1] = flags;
    put_u32(out + 2, stream_id);
}

void ttf_frame_open_header(uint8_t out[TTF_BIN_OPEN_HDR], uint8_t flags, uint32_t stream_id,
                           uint8_t tunnel)
{
    ttf_frame_header(out, TTF_OPEN, flags, stream_id);
    out[TTF_BIN_HDR] = tunnel;
}

size_t ttf_frame_window(uint8_t out[10], uint32_t stream_id, uint32_t increment)
{
    ttf_frame_header(out, TTF_WINDOW, 0, stream_id);
    put_u32(out + TTF_BIN_HDR, increment);
    return 10;
}

size_t ttf_frame_reset(uint8_t *out, size_t cap, uint32_t stream_id, uint8_t code,
                       const char *reason)
{
    if (!out || cap < TTF_BIN_HDR + 1)
        return 0;
    ttf_frame_header(out, TTF_RESET, 0, stream_id);
    out[TTF_BIN_HDR] = code;
    size_t n = reason ? strlen(reason) : 0;
    if (n > TTF_BIN_RESET_REASON_MAX)
        n = TTF_BIN_RESET_REASON_MAX;
    if (n > cap - TTF_BIN_HDR - 1)
        n = cap - TTF_BIN_HDR - 1;
    /* The reason is not NUL-terminated on the wire. */
    if (n)
        memcpy(out + TTF_BIN_HDR + 1, reason, n); // NOLINT(bugprone-not-null-terminated-result)
    return TTF_BIN_HDR + 1 + n;
}

/* Which flags each type may carry: FIN ends a direction (OPEN: no request body; RESPONSE: no
 * response body; TRAILERS: always). WINDOW and RESET carry none. */
static uint8_t allowed_flags(uint8_t type)
{
    switch (type) {
    case TTF_OPEN:
    case TTF_DATA:
    case TTF_RESPONSE:
    case TTF_TRAILERS:
        return TTF_FLAG_FIN;
    default:
        return 0;
    }
}

int ttf_frame_decode(const uint8_t *msg, size_t len, ttf_frame *f)
{
    if (!f)
        return -1;
    memset(f, 0, sizeof *f);
    if (!msg || len < TTF_BIN_HDR)
        return -1;
    f->type = msg[0];
    f->flags = msg[1];
    f->stream_id = get_u32(msg + 2);
    f->payload = msg + TTF_BIN_HDR;
    f->len = len - TTF_BIN_HDR;

    if (f->type < TTF_OPEN || f->type > TTF_TRAILERS)
        return -1;
    if (f->stream_id == 0)
        return -1;
    if (f->flags & (uint8_t)~allowed_flags(f->type))
        return -1;

    switch (f->type) {
    case TTF_OPEN:
        if (f->len < 2) /* the tunnel index and a head, which is never empty */
            return -1;
        f->tunnel = f->payload[0];
        f->payload++;
        f->len--;
        break;
    case TTF_RESPONSE:
        if (f->len == 0) /* a head is never empty */
            return -1;
        break;
    case TTF_DATA:
        if (f->len > (size_t)TTF_BIN_MAX_DATA)
            return -1;
        break;
    case TTF_WINDOW:
        if (f->len != 4)
            return -1;
        f->window = get_u32(f->payload);
        if (f->window == 0)
            return -1;
        break;
    case TTF_RESET:
        if (f->len < 1)
            return -1;
        f->reset_code = f->payload[0];
        break;
    case TTF_TRAILERS:
        /* the trailer section ends the body: FIN, and at least the final CRLF */
        if (!(f->flags & TTF_FLAG_FIN) || f->len < 2 || f->payload[f->len - 2] != '\r' ||
            f->payload[f->len - 1] != '\n')
            return -1;
        break;
    default:
        return -1;
    }
    return 0;
}

const char *ttf_reset_name(uint8_t code)
{
    switch (code) {
    case TTF_RST_INVALID_REQUEST:
        return "invalid_request";
    case TTF_RST_TIMEOUT:
        return "timeout";
    case TTF_RST_LOCAL_UNAVAILABLE:
        return "local_service_unavailable";
    case TTF_RST_INTERNAL:
        return "internal_error";
    case TTF_RST_CANCEL:
        return "cancel";
    case TTF_RST_PROTOCOL_ERROR:
        return "protocol_error";
    default:
        return "unknown";
    }
}

int ttf_reset_status(uint8_t code)
{
    switch (code) {
    case TTF_RST_INVALID_REQUEST:
        return 400;
    case TTF_RST_TIMEOUT:
        return 504;
    default: /* local_service_unavailable, internal_error, cancel, protocol_error, unknown */
        return 502;
    }
}
