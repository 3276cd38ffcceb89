/* SPDX-License-Identifier: MIT */
/* http1_syntax.c - RFC 9110/9112 character classes and grammar checks (see http1_syntax.h). */
#include "http1_syntax.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define T HTTP1_C_TCHAR
#define F HTTP1_C_FVCHAR
#define X HTTP1_C_HEX
#define R HTTP1_C_REG
#define S HTTP1_C_SCHEME

/* ASCII only: obs-text (0x80-0xFF) is tested apart. Built by hand from the ABNF:
 *   tchar      = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" /
 *                "|" / "~" / DIGIT / ALPHA                                  (RFC 9110 §5.6.2)
 *   sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="
 *   unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"                      (RFC 3986 §2) */
const uint8_t http1_ctype[256] = {
    [' '] = 0,
    ['!'] = T | F | R,
    ['"'] = F,
    ['#'] = T | F,
    ['$'] = T | F | R,
    ['%'] = T | F,
    ['&'] = T | F | R,
    ['\''] = T | F | R,
    ['('] = F | R,
    [')'] = F | R,
    ['*'] = T | F | R,
    ['+'] = T | F | R | S,
    [','] = F | R,
    ['-'] = T | F | R | S,
    ['.'] = T | F | R | S,
    ['/'] = F,
    ['0'] = T | F | X | R | S,
    ['1'] = T | F | X | R | S,
    ['2'] = T | F | X | R | S,
    ['3'] = T | F | X | R | S,
    ['4'] = T | F | X | R | S,
    ['5'] = T | F | X | R | S,
    ['6'] = T | F | X | R | S,
    ['7'] = T | F | X | R | S,
    ['8'] = T | F | X | R | S,
    ['9'] = T | F | X | R | S,
    [':'] = F,
    [';'] = F | R,
    ['<'] = F,
    ['='] = F | R,
    ['>'] = F,
    ['?'] = F,
    ['@'] = F,
    ['A'] = T | F | X | R | S,
    ['B'] = T | F | X | R | S,
    ['C'] = T | F | X | R | S,
    ['D'] = T | F | X | R | S,
    ['E'] = T | F | X | R | S,
    ['F'] = T | F | X | R | S,
    ['G'] = T | F | R | S,
    ['H'] = T | F | R | S,
    ['I'] = T | F | R | S,
    ['J'] = T | F | R | S,
    ['K'] = T | F | R | S,
    ['L'] = T | F | R | S,
    ['M'] = T | F | R | S,
    ['N'] = T | F | R | S,
    ['O'] = T | F | R | S,
    ['P'] = T | F | R | S,
    ['Q'] = T | F | R | S,
    ['R'] = T | F | R | S,
    ['S'] = T | F | R | S,
    ['T'] = T | F | R | S,
    ['U'] = T | F | R | S,
    ['V'] = T | F | R | S,
    ['W'] = T | F | R | S,
    ['X'] = T | F | R | S,
    ['Y'] = T | F | R | S,
    ['Z'] = T | F | R | S,
    ['['] = F,
    ['\\'] = F,
    [']'] = F,
    ['^'] = T | F,
    ['_'] = T | F | R,
    ['`'] = T | F,
    ['a'] = T | F | X | R | S,
    ['b'] = T | F | X | R | S,
    ['c'] = T | F | X | R | S,
    ['d'] = T | F | X | R | S,
    ['e'] = T | F | X | R | S,
    ['f'] = T | F | X | R | S,
    ['g'] = T | F | R | S,
    ['h'] = T | F | R | S,
    ['i'] = T | F | R | S,
    ['j'] = T | F | R | S,
    ['k'] = T | F | R | S,
    ['l'] = T | F | R | S,
    ['m'] = T | F | R | S,
    ['n'] = T | F | R | S,
    ['o'] = T | F | R | S,
    ['p'] = T | F | R | S,
    ['q'] = T | F | R | S,
    ['r'] = T | F | R | S,
    ['s'] = T | F | R | S,
    ['t'] = T | F | R | S,
    ['u'] = T | F | R | S,
    ['v'] = T | F | R | S,
    ['w'] = T | F | R | S,
    ['x'] = T | F | R | S,
    ['y'] = T | F | R | S,
    ['z'] = T | F | R | S,
    ['{'] = F,
    ['|'] = T | F,
    ['}'] = F,
    ['~'] = T | F | R,
};

#undef T
#undef F
#undef X
#undef R
#undef S

bool http1_is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!http1_is_tchar((unsigned char)s[i]))
            return false;
    return true;
}

/* How many leading octets of s[0..n) are, 8 at a time, field-value octets other than HTAB: words
 * with no byte under 0x20 and none 0x7f (SWAR, as lib/log.c's escaping: a word holds a byte
 * under 0x20 exactly when (w - 0x20..) & ~w & 0x80.. is not zero, 0x7f is a zero byte of
 * w ^ 0x7f..). The caller checks the rest byte by byte, from the first word that failed. Every
 * field of every head is checked when parsed and again when serialised. */
static size_t plain_value_prefix(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, sizeof w);
        uint64_t d = w ^ (0x7f * ones);
        if (((w - 0x20 * ones) & ~w & highs) | ((d - ones) & ~d & highs))
            break;
    }
    return i;
}

bool http1_is_field_value(const char *s, size_t n)
{
    for (size_t i = plain_value_prefix(s, n); i < n; i++)
        if (!http1_is_value_octet((unsigned char)s[i]))
            return false;
    return true;
}

int http1_field_split(const char *line, size_t len, http1_field *out, const char **reason)
{
    if (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
        *reason = "obs-fold (line folding) in a field";
        return -1;
    }
    size_t i = 0;
    while (i < len && http1_is_tchar((unsigned char)line[i]))
        i++;
    if (i == len || line[i] != ':') {
        *reason = i < len && (line[i] == ' ' || line[i] == '\t') ? "whitespace before the colon"
                  : i < len                                      ? "bad field name"
                                                                 : "field line without a colon";
        return -1;
    }
    if (i == 0) {
        *reason = "empty field name";
        return -1;
    }
    out->name = line;
    out->nlen = i;
    size_t a = i + 1, b = len;
    while (a < b && (line[a] == ' ' || line[a] == '\t'))
        a++;
    while (b > a && (line[b - 1] == ' ' || line[b - 1] == '\t'))
        b--;
    for (size_t k = a + plain_value_prefix(line + a, b - a); k < b; k++) {
        if (!http1_is_value_octet((unsigned char)line[k])) {
            *reason =
                line[k] == '\r' ? "bare CR in a field value" : "control character in a field value";
            return -1;
        }
    }
    out->value = line + a;
    out->vlen = b - a;
    return 0;
}

/* IPv4address = dec-octet "." dec-octet "." dec-octet "." dec-octet (RFC 3986 §3.2.2) is a
 * subset of reg-name, so reg-name checks cover it; only IP-literals need their own parse. */
static bool valid_ip_literal(const char *s, size_t n)
{
    if (n < 3 || s[0] != '[' || s[n - 1] != ']' || n - 2 >= INET6_ADDRSTRLEN)
        return false;
    char tmp[INET6_ADDRSTRLEN];
    memcpy(tmp, s + 1, n - 2);
    tmp[n - 2] = '\0';
    struct in6_addr a;
    return inet_pton(AF_INET6, tmp, &a) == 1;
}

static bool valid_reg_name(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n || !(http1_ctype[(unsigned char)s[i + 1]] & HTTP1_C_HEX) ||
                !(http1_ctype[(unsigned char)s[i + 2]] & HTTP1_C_HEX))
                return false;
            i += 2;
            continue;
        }
        if (!(http1_ctype[c] & HTTP1_C_REG))
            return false;
    }
    return true;
}

bool http1_valid_authority(const char *s, size_t n, bool allow_empty, bool need_port)
{
    if (n == 0)
        return allow_empty && !need_port;
    size_t host_end = n;
    if (s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (!rb)
            return false;
        host_end = (size_t)(rb - s) + 1;
        if (!valid_ip_literal(s, host_end))
            return false;
        if (host_end < n && s[host_end] != ':')
            return false;
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon)
            host_end = (size_t)(colon - s);
        if (host_end == 0 || !valid_reg_name(s, host_end))
            return false;
    }
    if (host_end == n)
        return !need_port;
    /* ":" port, port = 1*5DIGIT <= 65535 (an empty port is refused: nothing sends it) */
    size_t p = host_end + 1, digits = n - p;
    if (digits == 0 || digits > 5)
        return false;
    unsigned long port = 0;
    for (size_t i = p; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        port = port * 10 + (unsigned long)(s[i] - '0');
    }
    return port <= 65535;
}

int http1_parse_content_length(const char *s, size_t n, uint64_t *out)
{
    bool have = false;
    uint64_t first = 0;
    size_t pos = 0;
    const char *item;
    size_t ilen;
    /* an empty value or one of only commas has no member: invalid */
    while (http1_list_next(s, n, &pos, &item, &ilen)) {
        uint64_t v = 0;
        for (size_t i = 0; i < ilen; i++) {
            if (item[i] < '0' || item[i] > '9')
                return -1;
            if (v > ((uint64_t)1 << 62) / 10)
                return -1;
            v = v * 10 + (uint64_t)(item[i] - '0');
        }
        if (v > ((uint64_t)1 << 62))
            return -1;
        if (have && v != first)
            return -1;
        first = v;
        have = true;
    }
    /* a list with an empty member ("5,,5" is fine per §5.6.1, ", " alone is not) */
    if (!have)
        return -1;
    *out = first;
    return 0;
}

bool http1_list_next(const char *s, size_t n, size_t *pos, const char **item, size_t *ilen)
{
    size_t i = *pos;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        if (i >= n) {
            *pos = n;
            return false;
        }
        size_t start = i;
        while (i < n && s[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
            end--;
        if (end > start) {
            *item = s + start;
            *ilen = end - start;
            *pos = i;
            return true;
        }
    }
}

bool http1_list_has(const char *s, size_t n, const char *token)
{
    size_t tl = strlen(token), pos = 0, il;
    const char *it;
    while (http1_list_next(s, n, &pos, &it, &il))
        if (il == tl && strncasecmp(it, token, tl) == 0)
            return true;
    return false;
}
