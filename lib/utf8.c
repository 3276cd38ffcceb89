/* SPDX-License-Identifier: MIT */
/* utf8.c - well-formed UTF-8 (see utf8.h; RFC 3629 §4's table of well-formed byte sequences). */
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

size_t utf8_seq_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    size_t more;
    uint32_t cp, min;
    if (c >= 0xc2 && c <= 0xdf) {
        more = 1;
        cp = c & 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        more = 2;
        cp = c & 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        more = 3;
        cp = c & 0x07;
        min = 0x10000;
    } else {
        return 0; /* a continuation byte first, C0/C1 (overlong), or F5..FF */
    }
    if (n <= more)
        return 0;
    for (size_t k = 1; k <= more; k++) {
        uint8_t d = p[k];
        if ((d & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return more + 1;
}

char *utf8_from_latin1(const uint8_t *p, size_t n, size_t *out_len)
{
    char *u = malloc(n * 2 + 1);
    if (!u)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x80) {
            u[o++] = (char)p[i];
        } else {
            u[o++] = (char)(0xc0 | (p[i] >> 6));
            u[o++] = (char)(0x80 | (p[i] & 0x3f));
        }
    }
    u[o] = '\0';
    *out_len = o;
    return u;
}

bool utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* ASCII eight bytes at a time */
        while (i + 8 <= n) {
            uint64_t v;
            memcpy(&v, p + i, 8);
            if (v & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        size_t k = utf8_seq_len(p + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}
