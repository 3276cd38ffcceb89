/* SPDX-License-Identifier: MIT */
/* utf8.h - well-formed UTF-8 (RFC 3629 §3-4): no overlong forms, no surrogates (U+D800..U+DFFF),
 * nothing above U+10FFFF. Pure functions over bytes; ASCII runs go eight bytes at a time (base64
 * text, JSON mode's bulk, is ASCII throughout).
 * Owns nothing: utf8_from_latin1 returns a malloc'd text the caller frees. */
#ifndef TUNNEL_UTF8_H
#define TUNNEL_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of the one well-formed sequence at p[0..n) (1 to 4), or 0 when p[0] does not start one
 * (a continuation byte, C0/C1, F5..FF, a truncated, overlong or surrogate sequence). n > 0. */
size_t utf8_seq_len(const uint8_t *p, size_t n);

/* Whether p[0..n) is well-formed UTF-8. */
bool utf8_valid(const uint8_t *p, size_t n);

/* p[0..n) read as ISO-8859-1 (each octet the character of its number: obs-text, RFC 9110
 * §5.5) written as UTF-8: a malloc'd NUL-terminated text of *out_len bytes (at most 2n), NULL on
 * ENOMEM. */
char *utf8_from_latin1(const uint8_t *p, size_t n, size_t *out_len);

#endif
