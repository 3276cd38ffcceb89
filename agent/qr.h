/* SPDX-License-Identifier: MIT */
/* qr.h - a QR code of a URL as terminal text: libqrencode builds the symbol (ECC level L, 8-bit
 * mode), each text line shows two rows of modules with Unicode half blocks (U+2580 upper half,
 * U+2584 lower half, U+2588 full block; a block is a dark module), with a 2-module quiet zone.
 * Owns: nothing; the returned text is malloc'd and the caller's. */
#ifndef TTF_QR_H
#define TTF_QR_H

#include <stdbool.h>
#include <stddef.h>

#define QR_QUIET 2 /* light modules around the symbol */

/* Lines separated by '\n' (no trailing one). colors: each line is wrapped in ANSI black on
 * white so that the code reads right on dark and light terminals alike. NULL on failure.
 * *width (columns) and *height (lines) may be NULL. */
char *qr_render(const char *text, bool colors, int *width, int *height);

#endif
