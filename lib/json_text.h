/* SPDX-License-Identifier: MIT */
/* json_text.h - JSON text in (RFC 8259) for the wire codec (lib/proto_json*) and the Lambda's
 * json_io, over json-c 0.16. Accepts exactly the texts jansson 2.14's json_loadb(..., 0, ...)
 * accepted before the codec moved to json-c: json-c's strict tokener (JSON_TOKENER_STRICT) checks
 * the structure (no comments, single quotes or trailing commas; nothing after the value but
 * whitespace; at most JSON_TEXT_MAX_DEPTH levels), and a lexical pass here adds what that tokener
 * lets through: control characters and ill-formed UTF-8 (overlong, surrogates, above U+10FFFF) in
 * strings,
 * "\u0000" and unpaired surrogate escapes (json-c keeps the first, truncating object keys at it,
 * and turns the second into U+FFFD), numbers outside RFC 8259 §6's grammar ("00", "-01", "1.",
 * "1-2") or outside jansson's range (integers beyond int64, reals that overflow a double: json-c
 * clamps them), and literals other than true, false, null (json-c takes NaN and Infinity).
 * Duplicate keys are kept as both libraries do: the last value wins, in the first one's place.
 * Only the codec and lambda/json_io_c.c include this header: callers of lib/proto_json.h and
 * lambda/json_io.h never see a json-c type.
 * Owns: nothing; a returned object belongs to the caller (json_object_put). */
#ifndef TUNNEL_JSON_TEXT_H
#define TUNNEL_JSON_TEXT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/* Nesting levels, a scalar inside the innermost container counting as one (jansson's
 * JSON_PARSER_MAX_DEPTH; json-c's json_tokener_new_ex depth counts the same way). */
#define JSON_TEXT_MAX_DEPTH 2048

/* Tokens (strings, object keys included, numbers, literals, '{' and '[') of one text, counted
 * before json-c builds an object for each: a 12 MiB message of "[]" cost ttfd 640 MB of peak RSS
 * (80 MB at this limit). The most a legitimate message holds: a response head of
 * HTTP1_AGENT_MAX_FIELDS (65536) field lines and a trailer section of HTTP1_AGENT_MAX_TRAILER
 * (21845 bytes: at most 7282 lines) in one message, at 6 tokens a line at worst (a name of its
 * own, the array of its values, a {"b64": ...} value of 3, its header_order entry), and a dozen
 * other members: 437,000, so 2^19 leaves a sixth to spare. ttf's own messages (TTF_JSON_MAX_MSG,
 * 128,000 bytes) carry fewer than 64,100, API Gateway events a few hundred. */
#define JSON_TEXT_MAX_TOKENS ((size_t)1 << 19)

typedef enum {
    JSON_TEXT_OK = 0,
    JSON_TEXT_INVALID,    /* not JSON text jansson accepted (a scalar at the top level neither) */
    JSON_TEXT_NOT_OBJECT, /* an array */
    JSON_TEXT_TOO_MANY,   /* more than JSON_TEXT_MAX_TOKENS tokens, lexical faults or not (no
                             object was built) */
} json_text_status;

/* Whether s[0..n) passes the lexical rules above (strings, escapes, numbers, literals, bytes
 * between tokens) and has at most JSON_TEXT_MAX_TOKENS tokens; the structure is left to json-c.
 * One pass, eight bytes per step inside strings; the tokens are counted to the end (or to the
 * limit) past a lexical fault. */
bool json_text_lexical_ok(const char *s, size_t n);

/* flags of json_text_parse_object. JSON_TEXT_ALLOW_NUL: "\u0000" in strings is taken, as
 * jansson's JSON_ALLOW_NUL takes it in values (json_object_get_string_len counts past it); in an
 * object key json-c cuts the key at it. For texts whose strings carry what a client sent, decoded:
 * API Gateway's events (a text body, a percent-decoded rawPath or query parameter with %00). */
#define JSON_TEXT_ALLOW_NUL 1u

/* Parses s[0..n) as one JSON object (flags: 0 or JSON_TEXT_ALLOW_NUL). Returns it (the caller
 * puts it), or NULL with *st saying why. */
json_object *json_text_parse_object(const char *s, size_t n, unsigned flags, json_text_status *st);

/* A parser to reuse for many texts (one per connection): json-c's tokener with its stack and
 * string buffer, reset between texts instead of allocated for each (a buffer grown past 16 KiB
 * by a long string is let go after that text). Owns its tokener; never holds an object between
 * calls. NULL when out of memory. */
typedef struct json_text_parser json_text_parser;
json_text_parser *json_text_parser_new(void);
void json_text_parser_free(json_text_parser *p); /* NULL is fine */

/* json_text_parse_object (flags 0: the wire's texts) with p's tokener (NULL p: a tokener of its
 * own, as json_text_parse_object). Same texts accepted, same results. */
json_object *json_text_parse_object_with(json_text_parser *p, const char *s, size_t n,
                                         json_text_status *st);

/* Parses s[0..n) as one JSON object by its structure alone (json-c's strict tokener, without
 * the lexical pass above: an integer beyond int64 comes back clamped). Only for naming the
 * exchange of a message json_text_parse_object refused; never for a message's content. NULL when
 * it is not an object even so, and for a text of more than JSON_TEXT_MAX_TOKENS tokens (counted
 * as json-c's tokener would end them, lexical faults or not): never built. */
json_object *json_text_parse_object_loose(const char *s, size_t n);

#endif
