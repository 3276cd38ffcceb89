/* SPDX-License-Identifier: MIT */
/* json_text.c - JSON text in over json-c with jansson's acceptance (see json_text.h). The lexical
 * pass follows RFC 8259 §3 (literals), §6 (numbers), §7 (strings) and §8.1 (UTF-8); the limits
 * are jansson 2.14's (load.c: lex_scan_number's strtoll/strtod range checks). */
#include "json_text.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "utf8.h"

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
/* The depth of a first parse: json-c allocates its stack per tokener, so deeper texts (rare)
 * are parsed a second time with JSON_TEXT_MAX_DEPTH. A tunnel message nests 5 levels at most
 * outside ready's access object ({"headers":{"X":[{"b64":"..."}]}}); 16 levels of 32 bytes keep
 * the stack under glibc's 1 KiB large-chunk size, whose every allocation first consolidates the
 * freed small chunks (json_tokener_new_ex took 4,200 instructions a message in ttf at 32 levels,
 * 870 at 16). */
#define FIRST_DEPTH 16
_Static_assert(FIRST_DEPTH * sizeof(struct json_tokener_srec) < 1008, "a small-bin chunk");
/* Integers of more characters overflow int64 (no leading zeros): "-9223372036854775808" */
#define INT_TEXT_MAX 20

static uint64_t has_zero(uint64_t v)
{
    return (v - ONES) & ~v & HIGHS;
}

/* The high bit of each of the eight bytes of v (memory order: v read by memcpy) that needs a
 * look inside a string: '"', '\\', a control character or a non-ASCII byte. Others may be
 * flagged too (a borrow carries into the bytes of higher significance), but never one that comes
 * before every byte that needs a look: the first flagged one is never past the first such byte. */
static uint64_t special8(uint64_t v)
{
    return (v & HIGHS) | has_zero(v ^ (ONES * '"')) | has_zero(v ^ (ONES * '\\')) |
           ((v - ONES * 0x20) & ~v & HIGHS);
}

/* The index, in memory order, of the first byte special8 flagged in mask (not 0). */
static size_t first_flagged(uint64_t mask)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (size_t)__builtin_ctzll(mask) / 8;
#else
    return (size_t)__builtin_clzll(mask) / 8;
#endif
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The four hex digits at s[i..i+4) as a code unit, or -1. */
static long hex4(const uint8_t *s, size_t n, size_t i)
{
    if (i > n || n - i < 4)
        return -1;
    long u = 0;
    for (size_t k = 0; k < 4; k++) {
        int h = hexval(s[i + k]);
        if (h < 0)
            return -1;
        u = u << 4 | h;
    }
    return u;
}

/* A "\uXXXX" escape at s[i] (the backslash): the index after it (and after the low half of a
 * surrogate pair), or 0 for a bad digit, an unpaired surrogate, or \u0000 unless nul_ok. */
static size_t scan_unicode(const uint8_t *s, size_t n, size_t i, bool nul_ok)
{
    long u = hex4(s, n, i + 2);
    if (u < 0 || (u == 0 && !nul_ok) || (u >= 0xdc00 && u <= 0xdfff))
        return 0;
    i += 6;
    if (u < 0xd800 || u > 0xdbff)
        return i;
    if (n - i < 2 || s[i] != '\\' || s[i + 1] != 'u')
        return 0;
    long lo = hex4(s, n, i + 2);
    return lo >= 0xdc00 && lo <= 0xdfff ? i + 6 : 0;
}

/* The string whose opening quote is at s[i - 1]: the index after its closing quote (n when it
 * does not end), *bad set on a fault inside it. Past a fault the string is only walked over as
 * json-c walks it (a backslash takes the next byte along), so that its tokens still count. */
static size_t scan_string(const uint8_t *s, size_t n, size_t i, bool nul_ok, bool *bad)
{
    bool fault = false; /* a local: the bytes of s may alias *bad */
    for (;;) {
#ifdef __SSE2__
        /* sixteen at a time where SSE2 is (every x86-64): '"', '\\', and as signed bytes below
         * 0x20 the controls and the non-ASCII bytes (0x80-0xff are negative); the eight-byte
         * step below then stops at the first flagged byte at once */
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                      space = _mm_set1_epi8(0x20);
        while (n - i >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            __m128i look =
                _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                             _mm_cmplt_epi8(v, space));
            unsigned mask = (unsigned)_mm_movemask_epi8(look);
            if (mask) {
                i += (size_t)__builtin_ctz(mask);
                break;
            }
            i += 16;
        }
#endif
        while (n - i >= 8) { /* to the first byte that needs a look, eight at a time */
            uint64_t v;
            memcpy(&v, s + i, 8);
            uint64_t mask = special8(v);
            if (mask) {
                i += first_flagged(mask);
                break;
            }
            i += 8;
        }
        if (i >= n) {
            *bad = true;
            return n;
        }
        uint8_t c = s[i];
        if (c == '"') {
            *bad |= fault;
            return i + 1;
        }
        if (c >= 0x80) {
            size_t k = utf8_seq_len(s + i, n - i);
            if (k == 0) {
                fault = true;
                k = 1;
            }
            i += k;
            continue;
        }
        if (c != '\\') {
            if (c < 0x20)
                fault = true;
            i++;
            continue;
        }
        c = n - i < 2 ? 0 : s[i + 1];
        size_t next = c == 'u' ? scan_unicode(s, n, i, nul_ok) : 0;
        if (next) {
            i = next;
        } else if (c != 0 && c != 'u' && memchr("\"\\/bfnrt", c, 8) != NULL) {
            i += 2;
        } else {
            fault = true;
            i += n - i < 2 ? 1 : 2;
        }
    }
}

static size_t digits(const uint8_t *s, size_t end, size_t j)
{
    while (j < end && s[j] >= '0' && s[j] <= '9')
        j++;
    return j;
}

/* Whether the number text s[0..n) is in range as jansson reads it: an integer fits int64_t
 * (strtoll without ERANGE), a real does not overflow a double (strtod's HUGE_VAL). */
static bool number_in_range(const uint8_t *s, size_t n, bool real)
{
    if (!real && n > INT_TEXT_MAX)
        return false;
    char small[64];
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    bool ok;
    if (real) {
        double d = strtod(buf, NULL);
        ok = !(isinf(d) && errno == ERANGE);
    } else {
        (void)strtoll(buf, NULL, 10);
        ok = errno != ERANGE;
    }
    if (buf != small)
        free(buf);
    return ok;
}

/* Whether the number text s[i..end) (json-c reads the longest run of [0-9+-.eE] as one token) is
 * one RFC 8259 number in jansson's range. */
static bool number_ok(const uint8_t *s, size_t i, size_t end)
{
    size_t j = i;
    if (s[j] == '-')
        j++;
    if (j >= end)
        return false;
    if (s[j] == '0')
        j++;
    else if (s[j] >= '1' && s[j] <= '9')
        j = digits(s, end, j);
    else
        return false;
    bool real = false;
    if (j < end && s[j] == '.') {
        real = true;
        size_t d = j + 1;
        j = digits(s, end, d);
        if (j == d)
            return false;
    }
    if (j < end && (s[j] == 'e' || s[j] == 'E')) {
        real = true;
        j++;
        if (j < end && (s[j] == '+' || s[j] == '-'))
            j++;
        size_t d = j;
        j = digits(s, end, d);
        if (j == d)
            return false;
    }
    return j == end && number_in_range(s + i, end - i, real);
}

/* The number starting at s[i]: the index after it, *bad set when it is no number of ours. */
static size_t scan_number(const uint8_t *s, size_t n, size_t i, bool *bad)
{
    size_t end = i;
    while (end < n && s[end] != 0 && memchr("0123456789+-.eE", s[end], 15) != NULL)
        end++;
    *bad |= !number_ok(s, i, end);
    return end;
}

/* A run of letters at s[i]: the index after it, *bad set when it is not true, false or null. */
static size_t scan_literal(const uint8_t *s, size_t n, size_t i, bool *bad)
{
    size_t end = i;
    while (end < n && (((s[end] | 0x20) >= 'a' && (s[end] | 0x20) <= 'z')))
        end++;
    size_t len = end - i;
    const char *w = (const char *)s + i;
    if (!((len == 4 && (memcmp(w, "true", 4) == 0 || memcmp(w, "null", 4) == 0)) ||
          (len == 5 && memcmp(w, "false", 5) == 0)))
        *bad = true;
    return end;
}

/* The tokens of s[0..n), counted to JSON_TEXT_MAX_TOKENS + 1 at most, and in *bad whether a
 * lexical rule failed. The count goes on past a fault (a token's end is where json-c's tokener
 * ends it), so that it bounds what json-c builds of any text, a refused one included. *longest:
 * the octets of its longest string or number (as sent, escapes included), what json-c's string
 * buffer grows to hold (decoded, never longer). */
static size_t lexical(const char *text, size_t n, unsigned flags, bool *bad, size_t *longest)
{
    const uint8_t *s = (const uint8_t *)text;
    size_t i = 0, tokens = 0;
    *bad = false;
    *longest = 0;
    while (i < n) {
        size_t start = i;
        uint8_t c = s[i];
        if (c == '{' || c == '[' || c == '"' || c == '-' || (c >= '0' && c <= '9') ||
            ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) {
            if (++tokens > JSON_TEXT_MAX_TOKENS)
                return tokens;
        }
        switch (c) {
        case ' ':
        case '\t':
        case '\n':
        case '\r':
        case '{':
        case '}':
        case '[':
        case ']':
        case ',':
        case ':':
            i++;
            break;
        case '"':
            i = scan_string(s, n, i + 1, flags & JSON_TEXT_ALLOW_NUL, bad);
            break;
        default:
            if (c == '-' || (c >= '0' && c <= '9'))
                i = scan_number(s, n, i, bad);
            else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
                i = scan_literal(s, n, i, bad);
            else /* NUL, other controls, other punctuation, non-ASCII */
                *bad = true, i++;
        }
        if (i - start > *longest)
            *longest = i - start;
    }
    return tokens;
}

bool json_text_lexical_ok(const char *text, size_t n)
{
    bool bad;
    size_t longest;
    return lexical(text, n, 0, &bad, &longest) <= JSON_TEXT_MAX_TOKENS && !bad;
}

/* A reused tokener keeps its string buffer between texts up to this size (json-c grows it to
 * the longest string of a text, a body piece's base64 up to 124 KiB, doubling it each time: to
 * under twice that string): the usual message's strings fit, and an agent link does not keep a
 * bulk piece's buffer. Judged by the lexical pass's longest token (json-c's header keeps struct
 * json_tokener's fields private). */
#define KEEP_BUFFER_MAX 16384

struct json_text_parser {
    json_tokener *tok; /* FIRST_DEPTH levels, JSON_TOKENER_STRICT; NULL after a failed renewal */
};

static json_tokener *tokener_new(int depth)
{
    json_tokener *tok = json_tokener_new_ex(depth);
    if (tok)
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    return tok;
}

json_text_parser *json_text_parser_new(void)
{
    json_text_parser *p = calloc(1, sizeof *p);
    if (p && !(p->tok = tokener_new(FIRST_DEPTH))) {
        free(p);
        return NULL;
    }
    return p;
}

void json_text_parser_free(json_text_parser *p)
{
    if (!p)
        return;
    if (p->tok)
        json_tokener_free(p->tok);
    free(p);
}

/* One json-c strict parse of s[0..n) with tok (reset first; a reused tokener's buffers stay).
 * NULL when it fails (and *too_deep when for depth only) or when the text is the literal null. */
static json_object *parse_with(json_tokener *tok, const char *s, size_t n, bool *ok, bool *too_deep)
{
    *ok = false;
    *too_deep = false;
    json_tokener_reset(tok);
    json_object *o = json_tokener_parse_ex(tok, s, (int)n);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    *too_deep = e == json_tokener_error_depth;
    if (e != json_tokener_success) {
        json_tokener_reset(tok); /* lets go of what a failed parse had built */
        json_object_put(o);
        return NULL;
    }
    for (; end < n; end++) { /* strict mode stops at anything else already */
        if (s[end] == 0 || !memchr(" \t\n\r", s[end], 4)) {
            json_object_put(o);
            return NULL;
        }
    }
    *ok = true;
    return o;
}

/* parse_with on a tokener of its own of depth levels. */
static json_object *parse_depth(const char *s, size_t n, int depth, bool *ok, bool *too_deep)
{
    *ok = false;
    *too_deep = false;
    json_tokener *tok = tokener_new(depth);
    if (!tok)
        return NULL;
    json_object *o = parse_with(tok, s, n, ok, too_deep);
    json_tokener_free(tok);
    return o;
}

/* The first parse, at FIRST_DEPTH: with p's tokener when there is one. A tokener whose string
 * buffer may have grown past KEEP_BUFFER_MAX (longest: the text's longest token, lexical) is
 * replaced by a fresh one afterwards. */
static json_object *parse_first(json_text_parser *p, const char *s, size_t n, size_t longest,
                                bool *ok, bool *too_deep)
{
    if (!p || !p->tok)
        return parse_depth(s, n, FIRST_DEPTH, ok, too_deep);
    json_object *o = parse_with(p->tok, s, n, ok, too_deep);
    if (longest > KEEP_BUFFER_MAX / 2) {
        json_tokener_free(p->tok);
        p->tok = tokener_new(FIRST_DEPTH); /* NULL: the next parses use their own */
    }
    return o;
}

/* The parse of json_text_parse_object and _with: p may be NULL, flags as the header says. */
static json_object *parse_object(json_text_parser *p, const char *s, size_t n, unsigned flags,
                                 json_text_status *st)
{
    *st = JSON_TEXT_INVALID;
    if (!s || n == 0 || n > INT_MAX)
        return NULL;
    bool bad;
    size_t longest;
    if (lexical(s, n, flags, &bad, &longest) > JSON_TEXT_MAX_TOKENS) {
        *st = JSON_TEXT_TOO_MANY;
        return NULL;
    }
    if (bad)
        return NULL;
    bool ok, too_deep;
    json_object *o = parse_first(p, s, n, longest, &ok, &too_deep);
    if (!ok && too_deep)
        o = parse_depth(s, n, JSON_TEXT_MAX_DEPTH, &ok, &too_deep);
    if (!ok)
        return NULL;
    switch (json_object_get_type(o)) { /* jansson took an object or an array only */
    case json_type_object:
        *st = JSON_TEXT_OK;
        return o;
    case json_type_array:
        *st = JSON_TEXT_NOT_OBJECT;
        break;
    default:
        break;
    }
    json_object_put(o);
    return NULL;
}

json_object *json_text_parse_object(const char *s, size_t n, unsigned flags, json_text_status *st)
{
    return parse_object(NULL, s, n, flags, st);
}

json_object *json_text_parse_object_with(json_text_parser *p, const char *s, size_t n,
                                         json_text_status *st)
{
    return parse_object(p, s, n, 0, st);
}

json_object *json_text_parse_object_loose(const char *s, size_t n)
{
    bool bad;
    size_t longest;
    if (!s || n == 0 || n > INT_MAX || lexical(s, n, 0, &bad, &longest) > JSON_TEXT_MAX_TOKENS)
        return NULL;
    bool ok, too_deep;
    json_object *o = parse_depth(s, n, JSON_TEXT_MAX_DEPTH, &ok, &too_deep);
    if (ok && json_object_get_type(o) == json_type_object)
        return o;
    json_object_put(o);
    return NULL;
}
