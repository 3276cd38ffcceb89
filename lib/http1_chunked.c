/* SPDX-License-Identifier: MIT */
/* http1_chunked.c - strict chunked decoding and chunk framing (see http1_chunked.h). */
#include "http1_chunked.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http1_syntax.h"

enum {
    S_SIZE0,      /* the first HEXDIG of a chunk-size */
    S_SIZE,       /* more HEXDIG, or what follows the size */
    S_BWS_SEMI,   /* whitespace after the size or a value: only ";" may follow */
    S_BWS_NAME0,  /* after ";": BWS, then a chunk-ext-name */
    S_NAME,       /* chunk-ext-name */
    S_BWS_EQ,     /* whitespace after a name: "=" or ";" may follow */
    S_BWS_VAL0,   /* after "=": BWS, then a token or a quoted-string */
    S_TOKEN,      /* token value */
    S_QUOTED,     /* quoted-string */
    S_QESC,       /* after a backslash in a quoted-string */
    S_AFTER_Q,    /* after the closing quote */
    S_SIZE_LF,    /* CR seen at the end of the size line */
    S_DATA,       /* chunk-data */
    S_DATA_CR,    /* the CR after chunk-data */
    S_DATA_LF,    /* the LF after chunk-data */
    S_TRAILER,    /* a trailer field line, or the empty line */
    S_TRAILER_LF, /* CR seen at the end of a trailer line */
    S_DONE,
    S_ERROR,
};

void http1_chunked_init(http1_chunked *c, const http1_limits *lim)
{
    memset(c, 0, sizeof *c);
    c->st = S_SIZE0;
    c->max_ext = lim && lim->max_chunk_ext ? lim->max_chunk_ext : HTTP1_DEFAULT_MAX_CHUNK_EXT;
    c->max_trailer = lim && lim->max_trailer ? lim->max_trailer : HTTP1_DEFAULT_MAX_TRAILER;
}

int http1_chunked_copy(http1_chunked *dst, const http1_chunked *src)
{
    *dst = *src;
    dst->trailer = NULL;
    dst->trailer_cap = 0;
    if (src->trailer_len == 0)
        return 0;
    dst->trailer = malloc(src->trailer_len);
    if (!dst->trailer) {
        dst->trailer_len = 0;
        return -1;
    }
    memcpy(dst->trailer, src->trailer, src->trailer_len);
    dst->trailer_cap = src->trailer_len;
    return 0;
}

void http1_chunked_free(http1_chunked *c)
{
    free(c->trailer);
    c->trailer = NULL;
    c->trailer_len = c->trailer_cap = 0;
}

static inline int hexval(unsigned char ch)
{
    if (!(http1_ctype[ch] & HTTP1_C_HEX))
        return -1;
    return ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10;
}

static bool ws(unsigned char ch)
{
    return ch == ' ' || ch == '\t';
}

/* qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text (RFC 9110 §5.6.4) */
static bool qdtext(unsigned char ch)
{
    return ch == '\t' || ch == ' ' || ch == 0x21 || (ch >= 0x23 && ch <= 0x5b) ||
           (ch >= 0x5d && ch <= 0x7e) || ch >= 0x80;
}

static bool trailer_put(http1_chunked *c, const char *p, size_t n)
{
    if (c->trailer_len + n > c->max_trailer)
        return false;
    if (c->trailer_len + n > c->trailer_cap) {
        size_t cap = c->trailer_cap ? c->trailer_cap : 256;
        while (cap < c->trailer_len + n)
            cap *= 2;
        char *t = realloc(c->trailer, cap);
        if (!t)
            return false;
        c->trailer = t;
        c->trailer_cap = cap;
    }
    memcpy(c->trailer + c->trailer_len, p, n);
    c->trailer_len += n;
    return true;
}

/* One octet of a size line after the size (extensions, CR). Returns the next state. */
static inline uint8_t ext_octet(uint8_t st, unsigned char ch)
{
    bool t = http1_is_tchar(ch);
    switch (st) {
    case S_SIZE:
        if (ch == ';')
            return S_BWS_NAME0;
        return ws(ch) ? S_BWS_SEMI : ch == '\r' ? S_SIZE_LF : S_ERROR;
    case S_BWS_SEMI:
        return ws(ch) ? S_BWS_SEMI : ch == ';' ? S_BWS_NAME0 : S_ERROR;
    case S_BWS_NAME0:
        return ws(ch) ? S_BWS_NAME0 : t ? S_NAME : S_ERROR;
    case S_NAME:
        if (t)
            return S_NAME;
        if (ch == '=')
            return S_BWS_VAL0;
        if (ch == ';')
            return S_BWS_NAME0;
        return ws(ch) ? S_BWS_EQ : ch == '\r' ? S_SIZE_LF : S_ERROR;
    case S_BWS_EQ:
        if (ch == '=')
            return S_BWS_VAL0;
        if (ch == ';')
            return S_BWS_NAME0;
        return ws(ch) ? S_BWS_EQ : S_ERROR;
    case S_BWS_VAL0:
        if (ch == '"')
            return S_QUOTED;
        return ws(ch) ? S_BWS_VAL0 : t ? S_TOKEN : S_ERROR;
    case S_TOKEN:
        if (t)
            return S_TOKEN;
        if (ch == ';')
            return S_BWS_NAME0;
        return ws(ch) ? S_BWS_SEMI : ch == '\r' ? S_SIZE_LF : S_ERROR;
    case S_QUOTED:
        if (ch == '"')
            return S_AFTER_Q;
        if (ch == '\\')
            return S_QESC;
        return qdtext(ch) ? S_QUOTED : S_ERROR;
    case S_QESC: /* quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) */
        return ch == '\t' || ch == ' ' || (ch > 0x20 && ch != 0x7f) ? S_QUOTED : S_ERROR;
    case S_AFTER_Q:
        if (ch == ';')
            return S_BWS_NAME0;
        return ws(ch) ? S_BWS_SEMI : ch == '\r' ? S_SIZE_LF : S_ERROR;
    default:
        return S_ERROR;
    }
}

static http1_chunked_result bad(http1_chunked *c, const char *reason, size_t *used, size_t i)
{
    c->st = S_ERROR;
    c->reason = reason;
    *used = i;
    return HTTP1_CHUNKED_ERROR;
}

/* The trailer line in c->trailer[line_start..] is complete: validate it, or end the body. */
static int trailer_line(http1_chunked *c)
{
    size_t n = c->trailer_len - c->line_start;
    if (n == 0)
        return 1; /* the empty line: done */
    http1_field f;
    const char *why;
    if (http1_field_split(c->trailer + c->line_start, n, &f, &why) != 0) {
        c->reason = why;
        return -1;
    }
    if (!trailer_put(c, "\r\n", 2)) {
        c->reason = "trailer section too large";
        return -1;
    }
    c->line_start = c->trailer_len;
    return 0;
}

/* The state machine runs on locals (state, size, line length) and stores them back when it
 * returns; runs of HEXDIG, tchar and trailer octets are taken in tight loops. */
http1_chunked_result http1_chunked_decode(http1_chunked *c, const char *in, size_t len,
                                          size_t *used, const char **data, size_t *dlen)
{
    *data = in;
    *dlen = 0;
    *used = 0;
    if (c->st == S_ERROR)
        return HTTP1_CHUNKED_ERROR;
    if (c->st == S_DONE)
        return HTTP1_CHUNKED_END;
    uint8_t st = c->st;
    uint64_t size = c->size;
    size_t line = c->line, i = 0;
    const size_t max_ext = c->max_ext;
#define SAVE() (c->st = st, c->size = size, c->line = line)
#define FAIL(why, at) (SAVE(), bad(c, (why), used, (at)))
    while (i < len) {
        unsigned char ch = (unsigned char)in[i];
        switch (st) {
        case S_DATA_CR:
            /* the usual case: CRLF and the next size line in this buffer */
            if (ch != '\r')
                return FAIL("chunk data not followed by CRLF", i);
            st = S_DATA_LF;
            break;
        case S_DATA_LF:
            if (ch != '\n')
                return FAIL("chunk data not followed by CRLF", i);
            st = S_SIZE0;
            break;
        case S_SIZE0:
            if (hexval(ch) < 0)
                return FAIL("bad chunk size", i);
            size = 0;
            line = 0;
            st = S_SIZE;
            /* fall through - the first digit is part of the run */
        case S_SIZE: {
            size_t j = i;
            int v;
            while (j < len && (v = hexval((unsigned char)in[j])) >= 0) {
                if (size >> 58) /* keeps sizes below 2^62 */
                    return FAIL("chunk size too large", j);
                size = size * 16 + (uint64_t)v;
                j++;
            }
            line += j - i;
            if (line > max_ext)
                return FAIL("chunk size line too long", j);
            i = j;
            if (i == len)
                continue;
            ch = (unsigned char)in[i];
        }
            /* fall through - the size ended */
        case S_BWS_SEMI:
        case S_BWS_NAME0:
        case S_NAME:
        case S_BWS_EQ:
        case S_BWS_VAL0:
        case S_TOKEN:
        case S_QUOTED:
        case S_QESC:
        case S_AFTER_Q:
            if ((st == S_NAME || st == S_TOKEN) && http1_is_tchar(ch)) {
                size_t j = i + 1;
                while (j < len && http1_is_tchar((unsigned char)in[j]))
                    j++;
                line += j - i;
                if (line > max_ext)
                    return FAIL("chunk extension too long", j);
                i = j;
                continue;
            }
            st = ext_octet(st, ch);
            if (st == S_ERROR)
                return FAIL(ch == '\n' ? "bare LF in a chunk size line" : "bad chunk extension", i);
            if (++line > max_ext)
                return FAIL("chunk extension too long", i);
            break;
        case S_SIZE_LF:
            if (ch != '\n')
                return FAIL("bare CR in a chunk size line", i);
            st = size ? S_DATA : S_TRAILER;
            c->line_start = c->trailer_len;
            break;
        case S_DATA: {
            size_t take = len - i < size ? len - i : (size_t)size;
            *data = in + i;
            *dlen = take;
            size -= take;
            if (size == 0)
                st = S_DATA_CR;
            *used = i + take;
            SAVE();
            return HTTP1_CHUNKED_MORE;
        }
        case S_TRAILER: {
            if (ch == '\r') {
                st = S_TRAILER_LF;
                break;
            }
            if (ch == '\n')
                return FAIL("bare LF in the trailer section", i);
            /* the run of line octets at once; the line is checked when it ends */
            size_t j = i;
            while (j < len && in[j] != '\r' && in[j] != '\n')
                j++;
            if (!trailer_put(c, in + i, j - i))
                return FAIL("trailer section too large", i);
            i = j;
            continue;
        }
        case S_TRAILER_LF: {
            if (ch != '\n')
                return FAIL("bare CR in the trailer section", i);
            int r = trailer_line(c);
            if (r < 0) {
                SAVE();
                c->st = S_ERROR;
                *used = i;
                return HTTP1_CHUNKED_ERROR;
            }
            if (r > 0) {
                st = S_DONE;
                *used = i + 1;
                SAVE();
                return HTTP1_CHUNKED_END;
            }
            st = S_TRAILER;
            break;
        }
        default:
            return FAIL("bad chunked state", i);
        }
        i++;
    }
    *used = i;
    SAVE();
    return HTTP1_CHUNKED_MORE;
#undef FAIL
#undef SAVE
}

/* Fields a trailer section may not carry (RFC 9110 §6.5.1: framing, routing, authentication,
 * request modifiers, response control, content format); Go's net/http refuses a body whose
 * trailers name them. Dropped, never forwarded. */
static bool trailer_forbidden(const char *name, size_t n)
{
    static const char *const names[] = {
        "Authorization",
        "Cache-Control",
        "Connection",
        "Content-Encoding",
        "Content-Length",
        "Content-Range",
        "Content-Type",
        "Expect",
        "Host",
        "Keep-Alive",
        "Max-Forwards",
        "Pragma",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Connection",
        "Range",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "WWW-Authenticate",
        "Set-Cookie",
        "Cookie",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i]) == n && strncasecmp(names[i], name, n) == 0)
            return true;
    }
    return false;
}

int http1_chunked_trailers(const http1_chunked *c, http_headers *out)
{
    size_t pos = 0;
    while (pos < c->trailer_len) {
        const char *line = c->trailer + pos;
        const char *cr = memchr(line, '\r', c->trailer_len - pos);
        size_t n = cr ? (size_t)(cr - line) : c->trailer_len - pos;
        http1_field f;
        const char *why;
        if (http1_field_split(line, n, &f, &why) == 0 && !trailer_forbidden(f.name, f.nlen) &&
            http_headers_add(out, f.name, f.nlen, f.value, f.vlen) != 0)
            return -1;
        pos += n + 2;
    }
    return 0;
}

size_t http1_chunk_prefix(char out[HTTP1_CHUNK_PREFIX_MAX], uint64_t n)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    size_t k = 0;
    do {
        tmp[k++] = hex[n & 15];
        n >>= 4;
    } while (n && k < sizeof tmp);
    for (size_t i = 0; i < k; i++)
        out[i] = tmp[k - 1 - i];
    out[k] = '\r';
    out[k + 1] = '\n';
    return k + 2;
}

char *http1_chunk_last(const http_headers *trailers, size_t *len)
{
    size_t need = 6;
    for (size_t i = 0; trailers && i < trailers->n; i++)
        need += trailers->v[i].nlen + trailers->v[i].vlen + 4;
    char *out = malloc(need), *p = out;
    if (!out)
        return NULL;
    memcpy(p, "0\r\n", 3);
    p += 3;
    for (size_t i = 0; trailers && i < trailers->n; i++) {
        const http_header *e = &trailers->v[i];
        /* a relayed section from a peer that parsed no HTTP/1 (JSON mode's `trailers`) is held
         * to the decoder's rules: a bad line or a field kept out of trailers is left out */
        if (!http1_is_token(e->name, e->nlen) || !http1_is_field_value(e->value, e->vlen) ||
            trailer_forbidden(e->name, e->nlen))
            continue;
        memcpy(p, e->name, e->nlen);
        p += e->nlen;
        memcpy(p, ": ", 2);
        p += 2;
        memcpy(p, e->value, e->vlen);
        p += e->vlen;
        memcpy(p, "\r\n", 2);
        p += 2;
    }
    memcpy(p, "\r\n", 2);
    p += 2;
    *len = (size_t)(p - out);
    return out;
}

http1_chunked_result http1_chunked_skip(http1_chunked *c, const char *in, size_t len)
{
    http1_chunked_result r = HTTP1_CHUNKED_MORE;
    while (len > 0 && r == HTTP1_CHUNKED_MORE) {
        size_t used = 0, dlen = 0;
        const char *data = NULL;
        r = http1_chunked_decode(c, in, len, &used, &data, &dlen);
        if (used == 0)
            break;
        in += used;
        len -= used;
    }
    return r;
}
