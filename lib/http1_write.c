/* SPDX-License-Identifier: MIT */
/* http1_write.c - head serialisation and reason phrases (see http1_write.h). */
#include "http1_write.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1_syntax.h"

static const struct {
    int code;
    const char *text;
} reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {102, "Processing"},
    {103, "Early Hints"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {207, "Multi-Status"},
    {208, "Already Reported"},
    {226, "IM Used"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {305, "Use Proxy"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {418, "I'm a teapot"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {423, "Locked"},
    {424, "Failed Dependency"},
    {425, "Too Early"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {451, "Unavailable For Legal Reasons"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
    {506, "Variant Also Negotiates"},
    {507, "Insufficient Storage"},
    {508, "Loop Detected"},
    {510, "Not Extended"},
    {511, "Network Authentication Required"},
};

const char *http_reason(int status)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].code == status)
            return reasons[i].text;
    return "Unknown";
}

static bool writable(const http_header *e)
{
    return http1_is_token(e->name, e->nlen) && http1_is_field_value(e->value, e->vlen);
}

/* The start line from its pieces (at most 4 NUL-terminated strings, then NULL), then the
 * fields, in one allocation: one per head written (both programs write two heads per request). */
static char *with_fields(const char *const *line, const http_headers *h, size_t *len)
{
    size_t need = 3, pl[4];
    for (size_t k = 0; line[k]; k++)
        need += pl[k] = strlen(line[k]);
    for (size_t i = 0; h && i < h->n; i++)
        need += h->v[i].nlen + h->v[i].vlen + 4;
    char *out = malloc(need), *p = out;
    if (!out)
        return NULL;
    for (size_t k = 0; line[k]; k++) {
        memcpy(p, line[k], pl[k]);
        p += pl[k];
    }
    for (size_t i = 0; h && i < h->n; i++) {
        const http_header *e = &h->v[i];
        /* Entries that cannot be written safely are dropped, never passed on. */
        if (!writable(e))
            continue;
        memcpy(p, e->name, e->nlen);
        p += e->nlen;
        *p++ = ':';
        *p++ = ' ';
        memcpy(p, e->value, e->vlen);
        p += e->vlen;
        *p++ = '\r';
        *p++ = '\n';
    }
    *p++ = '\r';
    *p++ = '\n';
    *p = '\0';
    if (len)
        *len = (size_t)(p - out);
    return out;
}

char *http_format_request_head(const char *method, const char *target, const http_headers *h,
                               size_t *len)
{
    if (!method || !target || !*target || !http1_is_token(method, strlen(method)))
        return NULL;
    for (const char *t = target; *t; t++)
        if ((unsigned char)*t <= ' ' || *t == 0x7f)
            return NULL;
    const char *line[] = {method, " ", target, " HTTP/1.1\r\n", NULL};
    return with_fields(line, h, len);
}

char *http_format_response_head(int status, const char *reason, const http_headers *h, size_t *len)
{
    if (status < 100 || status > 999)
        return NULL;
    if (!reason || !http1_is_field_value(reason, strlen(reason)))
        reason = http_reason(status);
    char code[] = {'H',
                   'T',
                   'T',
                   'P',
                   '/',
                   '1',
                   '.',
                   '1',
                   ' ',
                   (char)('0' + status / 100),
                   (char)('0' + status / 10 % 10),
                   (char)('0' + status % 10),
                   ' ',
                   '\0'};
    const char *line[] = {code, reason, "\r\n", NULL};
    return with_fields(line, h, len);
}

char *http_format_error(int status, const char *body, bool close, size_t *len)
{
    return http_format_text(status, body, NULL, close, len);
}

char *http_format_text(int status, const char *body, const http_headers *extra, bool close,
                       size_t *len)
{
    if (!body)
        body = http_reason(status);
    size_t blen = strlen(body);
    char cl[32];
    snprintf(cl, sizeof cl, "%zu", blen + 1);
    http_headers h;
    http_headers_init(&h);
    static const char ctype[] = "text/plain; charset=utf-8";
    bool ok = http_headers_add(&h, "Content-Type", 12, ctype, sizeof ctype - 1) == 0 &&
              http_headers_add(&h, "Content-Length", 14, cl, strlen(cl)) == 0;
    for (size_t i = 0; ok && extra && i < extra->n; i++)
        ok = http_headers_add(&h, extra->v[i].name, extra->v[i].nlen, extra->v[i].value,
                              extra->v[i].vlen) == 0;
    ok = ok && (!close || http_headers_add(&h, "Connection", 10, "close", 5) == 0);
    size_t hlen = 0;
    char *head = ok ? http_format_response_head(status, NULL, &h, &hlen) : NULL;
    http_headers_free(&h);
    if (!head)
        return NULL;
    char *out = realloc(head, hlen + blen + 2);
    if (!out) {
        free(head);
        return NULL;
    }
    memcpy(out + hlen, body, blen);
    out[hlen + blen] = '\n';
    out[hlen + blen + 1] = '\0';
    if (len)
        *len = hlen + blen + 1;
    return out;
}
