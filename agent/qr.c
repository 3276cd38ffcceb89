/* SPDX-License-Identifier: MIT */
/* qr.c - QR codes as half-block text (see qr.h). */
#include "qr.h"

#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

static const char upper[] = "\xe2\x96\x80"; /* U+2580 */
static const char lower[] = "\xe2\x96\x84"; /* U+2584 */
static const char full[] = "\xe2\x96\x88";  /* U+2588 */
static const char on[] = "\x1b[30;107m";    /* black on bright white */
static const char off[] = "\x1b[0m";

char *qr_render(const char *text, bool colors, int *width, int *height)
{
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
    if (!q)
        return NULL;
    int n = q->width + 2 * QR_QUIET;
    int lines = (n + 1) / 2;
    size_t cap = (size_t)lines * ((size_t)n * 3 + sizeof on + sizeof off + 1) + 1;
    char *out = malloc(cap);
    if (!out) {
        QRcode_free(q);
        return NULL;
    }
    size_t o = 0;
    for (int y = 0; y < n; y += 2) {
        if (colors) {
            memcpy(out + o, on, sizeof on - 1);
            o += sizeof on - 1;
        }
        for (int x = 0; x < n; x++) {
            bool top = false, bottom = false;
            int sx = x - QR_QUIET, sy = y - QR_QUIET;
            if (sx >= 0 && sx < q->width) {
                if (sy >= 0 && sy < q->width)
                    top = q->data[sy * q->width + sx] & 1;
                if (sy + 1 >= 0 && sy + 1 < q->width)
                    bottom = q->data[(sy + 1) * q->width + sx] & 1;
            }
            const char *g = top && bottom ? full : top ? upper : bottom ? lower : " ";
            size_t gl = strlen(g);
            memcpy(out + o, g, gl);
            o += gl;
        }
        if (colors) {
            memcpy(out + o, off, sizeof off - 1);
            o += sizeof off - 1;
        }
        out[o++] = '\n';
    }
    out[o - 1] = '\0'; /* no trailing newline */
    QRcode_free(q);
    if (width)
        *width = n;
    if (height)
        *height = lines;
    return out;
}
