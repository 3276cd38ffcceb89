/* SPDX-License-Identifier: MIT */
/* fuzz_proto_bin.c - libFuzzer target: ttf_frame_decode (ttf.bin.v2) on arbitrary bytes;
 * accepted frames must satisfy the decoder's promises and re-encode to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto_bin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = calloc(size ? size : 1, 1); /* zeroed: gcc -O2 cannot see size 0 is safe */
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);

    ttf_frame f;
    if (ttf_frame_decode(buf, size, &f) == 0) {
        size_t off = f.type == TTF_OPEN ? TTF_BIN_OPEN_HDR : TTF_BIN_HDR;
        if (size < off || f.payload != buf + off || f.len != size - off)
            abort();
        if (f.type < TTF_OPEN || f.type > TTF_TRAILERS || f.stream_id == 0)
            abort();
        if (f.flags & ~TTF_FLAG_FIN) /* FIN is the only flag of v2 */
            abort();
        uint8_t hdr[TTF_BIN_OPEN_HDR];
        if (f.type == TTF_OPEN)
            ttf_frame_open_header(hdr, f.flags, f.stream_id, f.tunnel);
        else
            ttf_frame_header(hdr, f.type, f.flags, f.stream_id);
        if (memcmp(hdr, buf, off) != 0)
            abort();
        switch (f.type) {
        case TTF_DATA:
            if (f.len > TTF_BIN_MAX_DATA)
                abort();
            break;
        case TTF_OPEN:
        case TTF_RESPONSE:
            if (f.len == 0)
                abort();
            break;
        case TTF_TRAILERS:
            if (!(f.flags & TTF_FLAG_FIN) || f.len < 2 || f.payload[f.len - 1] != '\n' ||
                f.payload[f.len - 2] != '\r')
                abort();
            break;
        case TTF_WINDOW: {
            uint8_t w[10];
            if (f.window == 0 || ttf_frame_window(w, f.stream_id, f.window) != size ||
                memcmp(w, buf, size) != 0)
                abort();
            break;
        }
        case TTF_RESET: {
            if (f.len < 1 || f.reset_code != f.payload[0])
                abort();
            /* re-encode a NUL-free reason of up to TTF_BIN_RESET_REASON_MAX bytes */
            size_t rl = f.len - 1;
            if (rl <= TTF_BIN_RESET_REASON_MAX && !memchr(f.payload + 1, 0, rl)) {
                char reason[TTF_BIN_RESET_REASON_MAX + 1];
                memcpy(reason, f.payload + 1, rl);
                reason[rl] = '\0';
                uint8_t out[7 + TTF_BIN_RESET_REASON_MAX];
                if (ttf_frame_reset(out, sizeof out, f.stream_id, f.reset_code, reason) != size ||
                    memcmp(out, buf, size) != 0)
                    abort();
            }
            if (!ttf_reset_name(f.reset_code))
                abort();
            int st = ttf_reset_status(f.reset_code);
            if (st != 400 && st != 502 && st != 504)
                abort();
            break;
        }
        default:
            abort();
        }
    }
    free(buf);
    return 0;
}
