/* SPDX-License-Identifier: MIT */
/* bodyview.h - how the inspector shows a captured body: JSON pretty-printed (numbers, key order
 * and duplicates exactly as sent), text as text, anything else summarised (size, type, a hex
 * preview). Decides from the Content-Type and Content-Encoding fields and the bytes themselves.
 * Pure functions. Owns nothing: every returned buffer is malloc'd and the caller's
 * (body_view_free frees a body_view's). */
#ifndef TTF_BODYVIEW_H
#define TTF_BODYVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BODYVIEW_HEX_BYTES 256                /* bytes shown in a hex preview */
#define BODYVIEW_PRETTY_MAX ((size_t)4 << 20) /* larger pretty output: shown as text instead */

typedef enum { BODY_EMPTY = 0, BODY_JSON, BODY_TEXT, BODY_BINARY } body_kind;

typedef struct body_view {
    body_kind kind;
    char *text;       /* JSON (pretty) or text: valid UTF-8, NUL-terminated; NULL otherwise */
    size_t text_len;  /* may hold NUL bytes of the body itself */
    char *hex;        /* BODY_BINARY: a hexdump -C style preview of the first bytes */
    const char *note; /* NULL or a static explanation ("compressed (gzip)", "not valid JSON") */
} body_view;

/* data[0..len) is the kept part of a body; truncated says more was sent than kept.
 * content_type / content_encoding may be NULL. 0, or -1 on ENOMEM (v zeroed). */
int body_view_make(body_view *v, const char *content_type, const char *content_encoding,
                   const uint8_t *data, size_t len, bool truncated);
void body_view_free(body_view *v);
const char *body_kind_name(body_kind k); /* "empty", "json", "text", "binary" */

/* Length of the longest valid UTF-8 prefix of d (RFC 3629: no overlongs, no surrogates). */
size_t body_utf8_prefix(const uint8_t *d, size_t len);
/* Pretty-prints JSON that jansson accepted: 2-space indent (capped at depth 32), ": " and one
 * item per line; the tokens themselves are copied byte for byte. NULL when d is not JSON or the
 * output would exceed max_out. */
char *body_json_pretty(const uint8_t *d, size_t len, size_t max_out, size_t *out_len);
/* "00000000  48 65 6c ...  |Hel...|" lines for the first max bytes. */
char *body_hex_preview(const uint8_t *d, size_t len, size_t max);

#endif
