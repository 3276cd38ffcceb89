/* SPDX-License-Identifier: MIT */
/* http1_syntax.h - the grammar pieces of RFC 9110/9112 the parser and the proxy rules share:
 * character classes (tchar, field-vchar, HEXDIG), tokens, one field line split into name and
 * value, uri-host[:port] (RFC 3986 §3.2.2), Content-Length values, comma-separated lists.
 * Owns nothing: pure functions over byte ranges, no allocation. */
#ifndef TUNNEL_HTTP1_SYNTAX_H
#define TUNNEL_HTTP1_SYNTAX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP1_C_TCHAR 0x01  /* tchar (RFC 9110 §5.6.2) */
#define HTTP1_C_FVCHAR 0x02 /* VCHAR; with obs-text (0x80-0xFF) field-vchar (RFC 9110 §5.5) */
#define HTTP1_C_HEX 0x04    /* HEXDIG */
#define HTTP1_C_REG 0x08    /* reg-name octets but '%': unreserved / sub-delims (RFC 3986) */
#define HTTP1_C_SCHEME 0x10 /* ALPHA / DIGIT / "+" / "-" / "." (RFC 3986 §3.1) */

extern const uint8_t http1_ctype[256];

static inline bool http1_is_tchar(unsigned char c)
{
    return (http1_ctype[c] & HTTP1_C_TCHAR) != 0;
}

/* field-vchar / SP / HTAB: what a field value may hold (no CR, LF, NUL, other CTL or DEL). */
static inline bool http1_is_value_octet(unsigned char c)
{
    return c >= 0x80 || (http1_ctype[c] & HTTP1_C_FVCHAR) != 0 || c == ' ' || c == '\t';
}

/* c in ASCII lower case: field names and host names compare case-insensitively (RFC 9110 §5.1,
 * RFC 3986 §3.2.2), whatever the locale. */
static inline char http1_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* token = 1*tchar (RFC 9110 §5.6.2). */
bool http1_is_token(const char *s, size_t n);
/* Every octet a field value may hold (see http1_is_value_octet); an empty value is valid. */
bool http1_is_field_value(const char *s, size_t n);

/* One field line, without its CRLF, split per RFC 9112 §5: name and value (OWS trimmed),
 * spans into the line. */
typedef struct http1_field {
    const char *name;
    size_t nlen;
    const char *value;
    size_t vlen;
} http1_field;

/* 0, or -1 with *reason set: the line starts with SP/HTAB (obs-fold, §5.2), the name is not a
 * token or is followed by whitespace before the colon (§5.1), there is no colon, or the value
 * holds a CR, LF, NUL or another control (RFC 9110 §5.5). obs-text (0x80-0xFF) is kept. */
int http1_field_split(const char *line, size_t len, http1_field *out, const char **reason);

/* True for uri-host [ ":" port ] (RFC 9112 §3.2, RFC 3986 §3.2.2-3.2.3): an IP-literal holding
 * an IPv6 address, an IPv4 address or a reg-name (unreserved / pct-encoded / sub-delims), then
 * optionally ":" and 1-5 digits not above 65535. No userinfo ("a@b"), no spaces, no empty port.
 * An empty value is valid only when allow_empty (a Host for a target without authority); a
 * port is mandatory when need_port (authority-form of CONNECT, §3.2.3). */
bool http1_valid_authority(const char *s, size_t n, bool allow_empty, bool need_port);

/* Content-Length (RFC 9110 §8.6): 1*DIGIT, or a comma list of identical such values (as an
 * upstream that merged two equal lines sends). 0 with *out set, or -1 ("+5", "0x10", "5 5",
 * empty, differing members, a value beyond 2^62). */
int http1_parse_content_length(const char *s, size_t n, uint64_t *out);

/* Walks a comma-separated list (RFC 9110 §5.6.1): the next non-empty member with OWS trimmed.
 * *pos starts at 0. False at the end. */
bool http1_list_next(const char *s, size_t n, size_t *pos, const char **item, size_t *ilen);
/* True when the list s holds token (case-insensitive). */
bool http1_list_has(const char *s, size_t n, const char *token);

#endif
