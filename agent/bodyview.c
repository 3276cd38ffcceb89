/* SPDX-License-Identifier: MIT */
/* bodyview.c - classify and render captured bodies (see bodyview.h). */
#include "bodyview.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#define MAX_INDENT_DEPTH 32

const char *body_kind_name(body_kind k)
{
    switch (k) {
    case BODY_JSON:
        return "json";
    case BODY_TEXT:
        return "text";
    case BODY_BINARY:
        return "binary";
    default:
        return "empty";
    }
}

size_t body_utf8_prefix(const uint8_t *d, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = d[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t min;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            min = 0x10000;
        } else {
            return i;
        }
        if (i + n >= len)
            return i; /* cut short */
        uint32_t cp = c & (0x3f >> n);
        for (size_t k = 1; k <= n; k++) {
            if ((d[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (d[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += n + 1;
    }
    return i;
}

/* ---- media types ---- */

/* The media type, lower-cased, without parameters, into buf. */
static void media_type(const char *ct, char *buf, size_t cap)
{
    size_t o = 0;
    if (ct) {
        while (*ct == ' ' || *ct == '\t')
            ct++;
        for (; *ct && *ct != ';' && *ct != ' ' && o + 1 < cap; ct++)
            buf[o++] = (char)tolower((unsigned char)*ct);
    }
    buf[o] = '\0';
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

typedef enum { MT_UNKNOWN, MT_JSON, MT_TEXT, MT_BINARY } mt_class;

static mt_class classify_type(const char *mt)
{
    static const char *const text_types[] = {
        "application/xml",        "application/javascript",
        "application/ecmascript", "application/x-www-form-urlencoded",
        "application/graphql",    "application/x-ndjson",
        "application/yaml",       "application/x-yaml",
        "application/sql",        "application/csv",
        "application/x-sh",       NULL};
    if (!*mt)
        return MT_UNKNOWN;
    if (strcmp(mt, "application/json") == 0 || strcmp(mt, "text/json") == 0 ||
        ends_with(mt, "+json"))
        return MT_JSON;
    if (strncmp(mt, "text/", 5) == 0 || ends_with(mt, "+xml"))
        return MT_TEXT;
    for (size_t i = 0; text_types[i]; i++)
        if (strcmp(mt, text_types[i]) == 0)
            return MT_TEXT;
    if (strncmp(mt, "image/", 6) == 0 || strncmp(mt, "audio/", 6) == 0 ||
        strncmp(mt, "video/", 6) == 0 || strncmp(mt, "font/", 5) == 0 ||
        strcmp(mt, "application/octet-stream") == 0 || strcmp(mt, "application/pdf") == 0 ||
        strcmp(mt, "application/zip") == 0 || strcmp(mt, "application/gzip") == 0 ||
        strcmp(mt, "application/wasm") == 0 || strcmp(mt, "application/x-protobuf") == 0 ||
        strcmp(mt, "application/protobuf") == 0)
        return MT_BINARY;
    return MT_UNKNOWN;
}

/* No control characters other than tab, LF, CR, FF (a text sniff). */
static bool looks_textual(const uint8_t *d, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t c = d[i];
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == 0x7f)
            return false;
    }
    return true;
}

/* ---- JSON pretty-printing ----
 * jansson validates (integers read as reals, so big ones pass); the re-indentation below only moves
 * whitespace outside strings, so numbers (jansson would round 0.1 to 0.10000000000000001 and refuse
 * integers over 2^63), key order and duplicate keys are shown exactly as sent. */

typedef struct outbuf {
    char *p;
    size_t n, cap, max;
    bool over;
} outbuf;

static void put(outbuf *o, const char *s, size_t n)
{
    if (o->over)
        return;
    if (o->n + n + 1 > o->max) {
        o->over = true;
        return;
    }
    if (o->n + n + 1 > o->cap) {
        size_t nc = o->cap ? o->cap : 256;
        while (nc < o->n + n + 1)
            nc *= 2;
        char *q = realloc(o->p, nc);
        if (!q) {
            o->over = true;
            return;
        }
        o->p = q;
        o->cap = nc;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = '\0';
}

static void newline(outbuf *o, int depth)
{
    static const char spaces[] = "                                                                ";
    put(o, "\n", 1);
    int d = depth < MAX_INDENT_DEPTH ? depth : MAX_INDENT_DEPTH;
    put(o, spaces, (size_t)d * 2);
}

static bool is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

char *body_json_pretty(const uint8_t *d, size_t len, size_t max_out, size_t *out_len)
{
    json_error_t err;
    json_t *j = json_loadb((const char *)d, len,
                           JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err);
    if (!j)
        return NULL;
    json_decref(j);
    outbuf o = {NULL, 0, 0, max_out, false};
    int depth = 0;
    for (size_t i = 0; i < len && !o.over; i++) {
        uint8_t c = d[i];
        if (is_ws(c))
            continue;
        if (c == '"') {
            size_t k = i + 1;
            while (k < len && d[k] != '"')
                k += d[k] == '\\' ? 2 : 1;
            put(&o, (const char *)d + i, k + 1 - i);
            i = k;
            continue;
        }
        if (c == '{' || c == '[') {
            size_t k = i + 1;
            while (k < len && is_ws(d[k]))
                k++;
            if (k < len && (d[k] == '}' || d[k] == ']')) {
                put(&o, c == '{' ? "{}" : "[]", 2); /* empty: on one line */
                i = k;
                continue;
            }
            put(&o, (const char *)&c, 1);
            newline(&o, ++depth);
        } else if (c == '}' || c == ']') {
            newline(&o, --depth);
            put(&o, (const char *)&c, 1);
        } else if (c == ',') {
            put(&o, ",", 1);
            newline(&o, depth);
        } else if (c == ':') {
            put(&o, ": ", 2);
        } else {
            put(&o, (const char *)&c, 1);
        }
    }
    if (o.over || !o.p) {
        free(o.p);
        return NULL;
    }
    *out_len = o.n;
    return o.p;
}

char *body_hex_preview(const uint8_t *d, size_t len, size_t max)
{
    size_t n = len < max ? len : max;
    size_t lines = (n + 15) / 16;
    char *out = malloc(lines * 80 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t off = 0; off < n; off += 16) {
        o += (size_t)sprintf(out + o, "%08zx ", off);
        for (size_t k = 0; k < 16; k++) {
            if (k == 8)
                out[o++] = ' ';
            if (off + k < n)
                o += (size_t)sprintf(out + o, " %02x", d[off + k]);
            else
                o += (size_t)sprintf(out + o, "   ");
        }
        o += (size_t)sprintf(out + o, "  |");
        for (size_t k = 0; k < 16 && off + k < n; k++) {
            uint8_t c = d[off + k];
            out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
        }
        out[o++] = '|';
        out[o++] = '\n';
    }
    out[o] = '\0';
    return out;
}

/* ---- the decision ---- */

static int set_text(body_view *v, body_kind kind, const uint8_t *d, size_t n)
{
    v->text = malloc(n + 1);
    if (!v->text)
        return -1;
    memcpy(v->text, d, n);
    v->text[n] = '\0';
    v->text_len = n;
    v->kind = kind;
    return 0;
}

static int set_binary(body_view *v, const uint8_t *d, size_t len, const char *note)
{
    v->kind = BODY_BINARY;
    v->note = note;
    v->hex = body_hex_preview(d, len, BODYVIEW_HEX_BYTES);
    return v->hex ? 0 : -1;
}

int body_view_make(body_view *v, const char *content_type, const char *content_encoding,
                   const uint8_t *data, size_t len, bool truncated)
{
    memset(v, 0, sizeof *v);
    if (len == 0 && !truncated)
        return 0;
    if (content_encoding && *content_encoding && strcasecmp(content_encoding, "identity") != 0)
        return set_binary(v, data, len, "compressed (Content-Encoding)");
    char mt[128];
    media_type(content_type, mt, sizeof mt);
    mt_class cls = classify_type(mt);
    if (cls == MT_BINARY)
        return set_binary(v, data, len, NULL);
    size_t valid = body_utf8_prefix(data, len);
    /* A cut at the capture limit may split the last character: up to 3 bytes may be missing. */
    bool utf8 = valid == len || (truncated && len - valid <= 3);
    if (!utf8)
        return set_binary(v, data, len, cls == MT_UNKNOWN ? NULL : "text that is not UTF-8");
    if (cls == MT_UNKNOWN && !looks_textual(data, valid))
        return set_binary(v, data, len, NULL);
    bool try_json = cls == MT_JSON;
    if (cls == MT_UNKNOWN || cls == MT_TEXT) {
        size_t k = 0;
        while (k < valid && is_ws(data[k]))
            k++;
        /* Sniff JSON only for untyped or text/plain bodies that open like a document. */
        try_json = k < valid && (data[k] == '{' || data[k] == '[') &&
                   (cls == MT_UNKNOWN || strcmp(mt, "text/plain") == 0);
    }
    if (try_json && !truncated) {
        size_t plen = 0;
        char *pretty = body_json_pretty(data, valid, BODYVIEW_PRETTY_MAX, &plen);
        if (pretty) {
            v->kind = BODY_JSON;
            v->text = pretty;
            v->text_len = plen;
            return 0;
        }
        if (cls == MT_JSON)
            v->note = "not shown as JSON (invalid, or too large to indent)";
    } else if (try_json && cls == MT_JSON) {
        v->note = "JSON cut short by the capture limit: shown as text";
    }
    return set_text(v, BODY_TEXT, data, valid);
}

void body_view_free(body_view *v)
{
    free(v->text);
    free(v->hex);
    memset(v, 0, sizeof *v);
}
