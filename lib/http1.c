/* http1.c - header lists, hop-by-hop rules, head serialisation, and the incremental parser
 * over libhttp-parser 2.9 (see http1.h for the contract). */
#include "http1.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- header list */

void http_headers_init(http_headers *h)
{
    h->v = NULL;
    h->n = 0;
    h->cap = 0;
}

void http_headers_free(http_headers *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].name);
        free(h->v[i].value);
    }
    free(h->v);
    http_headers_init(h);
}

static char *dup_bytes(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

int http_headers_add(http_headers *h, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        http_header *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    char *n = dup_bytes(name, nlen);
    char *val = dup_bytes(value ? value : "", value ? vlen : 0);
    if (!n || !val) {
        free(n);
        free(val);
        return -1;
    }
    h->v[h->n].name = n;
    h->v[h->n].value = val;
    h->n++;
    return 0;
}

const char *http_headers_get(const http_headers *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->v[i].name, name) == 0)
            return h->v[i].value;
    return NULL;
}

size_t http_headers_remove(http_headers *h, const char *name)
{
    size_t out = 0, removed = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(h->v[i].name, name) == 0) {
            free(h->v[i].name);
            free(h->v[i].value);
            removed++;
        } else {
            h->v[out++] = h->v[i];
        }
    }
    h->n = out;
    return removed;
}

int http_headers_set(http_headers *h, const char *name, const char *value)
{
    /* Add first so a failed allocation leaves the old entries in place. */
    size_t before = h->n;
    if (http_headers_add(h, name, strlen(name), value, strlen(value)) != 0)
        return -1;
    http_header added = h->v[before];
    h->n = before;
    http_headers_remove(h, name);
    h->v[h->n++] = added;
    return 0;
}

/* ---------------------------------------------------------------- hop-by-hop */

static const char *const hop_by_hop[] = {
    "Connection",
    "Keep-Alive",
    "Proxy-Connection",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "TE",
    "Trailer",
    "Transfer-Encoding",
    "Upgrade",
};

bool http_is_hop_by_hop(const char *name)
{
    for (size_t i = 0; i < sizeof hop_by_hop / sizeof hop_by_hop[0]; i++)
        if (strcasecmp(name, hop_by_hop[i]) == 0)
            return true;
    return false;
}

static bool kept(const char *name, bool keep_framing, bool keep_upgrade)
{
    if (keep_framing && strcasecmp(name, "Transfer-Encoding") == 0)
        return true;
    if (keep_upgrade && (strcasecmp(name, "Connection") == 0 || strcasecmp(name, "Upgrade") == 0))
        return true;
    return false;
}

bool http_headers_has_token(const http_headers *h, const char *name, const char *token)
{
    size_t tl = strlen(token);
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(h->v[i].name, name) != 0)
            continue;
        const char *s = h->v[i].value;
        while (*s) {
            while (*s == ',' || *s == ' ' || *s == '\t')
                s++;
            const char *e = s;
            while (*e && *e != ',')
                e++;
            const char *t = e;
            while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
                t--;
            if ((size_t)(t - s) == tl && tl && strncasecmp(s, token, tl) == 0)
                return true;
            s = e;
        }
    }
    return false;
}

void http_headers_strip_hop_by_hop(http_headers *h, bool keep_framing, bool keep_upgrade)
{
    /* Decide for every entry first: Connection must stay readable until all were checked. */
    bool *del = calloc(h->n ? h->n : 1, sizeof *del);
    if (!del) {
        /* Out of memory: fall back to removing the fixed list only (never keeps extra). */
        for (size_t i = 0; i < sizeof hop_by_hop / sizeof hop_by_hop[0]; i++)
            if (!kept(hop_by_hop[i], keep_framing, keep_upgrade))
                http_headers_remove(h, hop_by_hop[i]);
        return;
    }
    for (size_t i = 0; i < h->n; i++) {
        const char *name = h->v[i].name;
        del[i] = !kept(name, keep_framing, keep_upgrade) &&
                 (http_is_hop_by_hop(name) || http_headers_has_token(h, "Connection", name));
    }
    size_t out = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (del[i]) {
            free(h->v[i].name);
            free(h->v[i].value);
        } else {
            h->v[out++] = h->v[i];
        }
    }
    h->n = out;
    free(del);
}

/* ---------------------------------------------------------------- serialisation */

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

static bool is_tchar(unsigned char c)
{
    return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s))
            return false;
    return true;
}

/* Field values must not smuggle a line break (header injection) or a NUL. */
static bool is_safe_value(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return false;
    return true;
}

/* Growing output buffer; ok turns false on the first failed allocation. */
typedef struct obuf {
    char *p;
    size_t n, cap;
    bool ok;
} obuf;

static void ob_put(obuf *b, const char *s, size_t n)
{
    if (!b->ok)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->n + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->ok = false;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void ob_str(obuf *b, const char *s)
{
    ob_put(b, s, strlen(s));
}

static char *ob_finish(obuf *b, const http_headers *h, size_t *len)
{
    if (h) {
        for (size_t i = 0; i < h->n; i++) {
            /* Entries that cannot be written safely are dropped, never passed on. */
            if (!is_token(h->v[i].name) || !is_safe_value(h->v[i].value))
                continue;
            ob_str(b, h->v[i].name);
            ob_put(b, ": ", 2);
            ob_str(b, h->v[i].value);
            ob_put(b, "\r\n", 2);
        }
    }
    ob_put(b, "\r\n", 2);
    if (!b->ok) {
        free(b->p);
        return NULL;
    }
    if (len)
        *len = b->n;
    return b->p;
}

char *http_format_request_head(const char *method, const char *target, const http_headers *h,
                               size_t *len)
{
    if (!is_token(method) || !target || !*target)
        return NULL;
    for (const char *t = target; *t; t++)
        if ((unsigned char)*t <= ' ' || *t == 0x7f)
            return NULL;
    obuf b = {.ok = true};
    ob_str(&b, method);
    ob_put(&b, " ", 1);
    ob_str(&b, target);
    ob_str(&b, " HTTP/1.1\r\n");
    return ob_finish(&b, h, len);
}

char *http_format_response_head(int status, const char *reason, const http_headers *h, size_t *len)
{
    if (status < 100 || status > 999)
        return NULL;
    if (!reason || !is_safe_value(reason))
        reason = http_reason(status);
    char line[64];
    int n = snprintf(line, sizeof line, "HTTP/1.1 %d ", status);
    obuf b = {.ok = true};
    ob_put(&b, line, (size_t)n);
    ob_str(&b, reason);
    ob_put(&b, "\r\n", 2);
    return ob_finish(&b, h, len);
}

char *http_format_error(int status, const char *body, bool close, size_t *len)
{
    if (!body)
        body = http_reason(status);
    char cl[32];
    snprintf(cl, sizeof cl, "%zu", strlen(body) + 1);
    http_headers h;
    http_headers_init(&h);
    static const char ctype[] = "text/plain; charset=utf-8";
    bool ok = http_headers_add(&h, "Content-Type", 12, ctype, sizeof ctype - 1) == 0 &&
              http_headers_add(&h, "Content-Length", 14, cl, strlen(cl)) == 0 &&
              (!close || http_headers_add(&h, "Connection", 10, "close", 5) == 0);
    size_t hlen = 0;
    char *head = ok ? http_format_response_head(status, NULL, &h, &hlen) : NULL;
    http_headers_free(&h);
    if (!head)
        return NULL;
    size_t blen = strlen(body);
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

/* ---------------------------------------------------------------- parser */

static int append(char **buf, size_t *len, const char *at, size_t n)
{
    char *p = realloc(*buf, *len + n + 1);
    if (!p)
        return -1;
    memcpy(p + *len, at, n);
    *len += n;
    p[*len] = '\0';
    *buf = p;
    return 0;
}

static void clear_head(http1_parser *p)
{
    free(p->method);
    free(p->target);
    free(p->cur_field);
    free(p->cur_value);
    p->method = p->target = p->cur_field = p->cur_value = NULL;
    p->cur_field_len = p->cur_value_len = 0;
    p->last_was_value = false;
    http_headers_free(&p->headers);
    p->status = 0;
    p->http_major = p->http_minor = 0;
    p->keep_alive = p->upgrade = p->chunked = false;
    p->content_length = -1;
    p->head_done = false;
}

static int commit_header(http1_parser *p)
{
    if (!p->cur_field)
        return 0;
    /* Trailing whitespace is not part of a field value (RFC 9110 5.5); http-parser keeps it. */
    while (p->cur_value_len && (p->cur_value[p->cur_value_len - 1] == ' ' ||
                                p->cur_value[p->cur_value_len - 1] == '\t'))
        p->cur_value[--p->cur_value_len] = '\0';
    int rc = http_headers_add(&p->headers, p->cur_field, p->cur_field_len,
                              p->cur_value ? p->cur_value : "", p->cur_value_len);
    free(p->cur_field);
    free(p->cur_value);
    p->cur_field = p->cur_value = NULL;
    p->cur_field_len = p->cur_value_len = 0;
    if (rc != 0)
        p->error = HTTP1_ERR_NOMEM;
    return rc;
}

static int on_message_begin(http_parser *hp)
{
    http1_parser *p = hp->data;
    if (p->reset_pending) {
        clear_head(p);
        p->reset_pending = false;
    }
    return 0;
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
    http1_parser *p = hp->data;
    size_t len = p->target ? strlen(p->target) : 0;
    if (append(&p->target, &len, at, n) != 0) {
        p->error = HTTP1_ERR_NOMEM;
        return -1;
    }
    return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t n)
{
    http1_parser *p = hp->data;
    if (p->head_done)
        return 0; /* trailers: relayed raw by the caller, not collected */
    if (p->last_was_value) {
        if (commit_header(p) != 0)
            return -1;
        p->last_was_value = false;
    }
    if (append(&p->cur_field, &p->cur_field_len, at, n) != 0) {
        p->error = HTTP1_ERR_NOMEM;
        return -1;
    }
    return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t n)
{
    http1_parser *p = hp->data;
    if (p->head_done)
        return 0;
    p->last_was_value = true;
    if (append(&p->cur_value, &p->cur_value_len, at, n) != 0) {
        p->error = HTTP1_ERR_NOMEM;
        return -1;
    }
    return 0;
}

static bool bodiless_status(int status)
{
    return (status >= 100 && status < 200) || status == 204 || status == 304;
}

static int on_headers_complete(http_parser *hp)
{
    http1_parser *p = hp->data;
    if (commit_header(p) != 0)
        return -1;
    p->last_was_value = false;
    if (p->is_request) {
        p->method = strdup(http_method_str((enum http_method)hp->method));
        if (!p->method) {
            p->error = HTTP1_ERR_NOMEM;
            return -1;
        }
        if (!p->target && !(p->target = strdup(""))) {
            p->error = HTTP1_ERR_NOMEM;
            return -1;
        }
    } else {
        p->status = (int)hp->status_code;
        if (p->status < 100) { /* http-parser takes 1-3 digits; a status code has 3 */
            p->error = HTTP1_ERR_SYNTAX;
            return -1;
        }
    }
    /* A request body framed by a coding other than chunked has no knowable end (RFC 9112 6.3). */
    if (p->is_request && hp->uses_transfer_encoding && !(hp->flags & F_CHUNKED)) {
        p->error = HTTP1_ERR_SYNTAX;
        return -1;
    }
    p->http_major = hp->http_major;
    p->http_minor = hp->http_minor;
    p->keep_alive = http_should_keep_alive(hp) != 0;
    p->upgrade = hp->upgrade != 0;
    p->chunked = (hp->flags & F_CHUNKED) != 0;
    p->content_length = (hp->flags & F_CONTENTLENGTH) ? (int64_t)hp->content_length : (int64_t)-1;
    p->head_done = true;
    p->stop = HTTP1_HEAD;
    http_parser_pause(hp, 1);
    /* 1: no body follows (HEAD responses, 1xx/204/304 even with a Content-Length). */
    if (!p->is_request && (p->skip_body || bodiless_status(p->status)))
        return 1;
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t n)
{
    http1_parser *p = hp->data;
    if (p->on_body)
        p->on_body(p->ud, at, n);
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    http1_parser *p = hp->data;
    p->stop = HTTP1_MSG_END;
    http_parser_pause(hp, 1);
    return 0;
}

void http1_init(http1_parser *p, bool is_request, size_t max_head)
{
    memset(p, 0, sizeof *p);
    http_parser_init(&p->hp, is_request ? HTTP_REQUEST : HTTP_RESPONSE);
    p->hp.data = p;
    http_parser_settings_init(&p->settings);
    p->settings.on_message_begin = on_message_begin;
    p->settings.on_url = on_url;
    p->settings.on_header_field = on_header_field;
    p->settings.on_header_value = on_header_value;
    p->settings.on_headers_complete = on_headers_complete;
    p->settings.on_body = on_body;
    p->settings.on_message_complete = on_message_complete;
    p->max_head = max_head ? max_head : 16384;
    p->is_request = is_request;
    p->content_length = -1;
    http_headers_init(&p->headers);
}

void http1_free(http1_parser *p)
{
    clear_head(p);
}

void http1_expect_no_body(http1_parser *p)
{
    p->skip_body = true;
}

bool http1_body_until_close(const http1_parser *p)
{
    return !p->is_request && p->head_done && !p->skip_body && !p->chunked &&
           p->content_length < 0 && !bodiless_status(p->status);
}

static void message_ended(http1_parser *p)
{
    p->in_body = false;
    p->head_bytes = 0;
    p->reset_pending = true;
    /* A HEAD hint covers one final response; 1xx interim responses keep it. */
    if (!p->is_request && p->status >= 200)
        p->skip_body = false;
}

static http1_event fail(http1_parser *p, http1_error e)
{
    if (p->error == HTTP1_OK)
        p->error = e;
    return HTTP1_ERROR;
}

/* Runs http-parser over data[0..n) and translates pauses into events. *used gets the bytes
 * that belong to what was parsed, including the byte that ended the head (which http-parser
 * itself leaves unconsumed when paused in on_headers_complete; we feed it back next time). */
static http1_event run(http1_parser *p, const char *data, size_t n, size_t *used)
{
    p->stop = HTTP1_NONE;
    size_t r = http_parser_execute(&p->hp, &p->settings, data, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
    *used = r;
    if (e == HPE_PAUSED) {
        http_parser_pause(&p->hp, 0);
        if (p->stop == HTTP1_HEAD) {
            if (r < n) {
                p->pending = data[r];
                p->have_pending = true;
                *used = r + 1;
            }
            return HTTP1_HEAD;
        }
        if (p->stop == HTTP1_MSG_END)
            return HTTP1_MSG_END;
        return fail(p, HTTP1_ERR_SYNTAX);
    }
    if (e != HPE_OK) {
        if (p->error != HTTP1_OK)
            return HTTP1_ERROR;
        return fail(p, e == HPE_HEADER_OVERFLOW ? HTTP1_ERR_HEAD_TOO_BIG : HTTP1_ERR_SYNTAX);
    }
    if (r != n)
        return fail(p, HTTP1_ERR_SYNTAX);
    return HTTP1_NONE;
}

/* Accounts the bytes of one run() against the head limit and the head/body state. */
static http1_event account(http1_parser *p, http1_event ev, size_t used)
{
    if (!p->in_body) {
        p->head_bytes += used;
        if (p->head_bytes > p->max_head)
            return fail(p, HTTP1_ERR_HEAD_TOO_BIG);
    }
    if (ev == HTTP1_HEAD)
        p->in_body = true;
    else if (ev == HTTP1_MSG_END)
        message_ended(p);
    return ev;
}

static http1_event feed_pending(http1_parser *p)
{
    if (!p->have_pending)
        return HTTP1_NONE;
    p->have_pending = false;
    size_t used;
    http1_event ev = run(p, &p->pending, 1, &used);
    /* The byte was already counted when HTTP1_HEAD was reported. */
    if (ev == HTTP1_MSG_END)
        message_ended(p);
    return ev;
}

http1_event http1_execute(http1_parser *p, const char *data, size_t len, size_t *consumed)
{
    *consumed = 0;
    if (p->error != HTTP1_OK)
        return HTTP1_ERROR;
    http1_event ev = feed_pending(p);
    if (ev != HTTP1_NONE)
        return ev;
    size_t off = 0;
    while (off < len) {
        size_t n = len - off;
        if (!p->in_body && n > p->max_head + 1 - p->head_bytes)
            n = p->max_head + 1 - p->head_bytes; /* never buffer more head than allowed */
        size_t used = 0;
        ev = run(p, data + off, n, &used);
        if (ev != HTTP1_ERROR)
            ev = account(p, ev, used);
        off += used;
        *consumed = off;
        if (ev != HTTP1_NONE)
            return ev;
    }
    return HTTP1_NONE;
}

http1_event http1_finish(http1_parser *p)
{
    if (p->error != HTTP1_OK)
        return HTTP1_ERROR;
    http1_event ev = feed_pending(p);
    if (ev != HTTP1_NONE)
        return ev;
    p->stop = HTTP1_NONE;
    http_parser_execute(&p->hp, &p->settings, NULL, 0);
    enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
    if (e == HPE_PAUSED)
        http_parser_pause(&p->hp, 0);
    if (p->stop == HTTP1_MSG_END) {
        message_ended(p);
        return HTTP1_MSG_END;
    }
    if (e != HPE_OK && e != HPE_PAUSED)
        return fail(p, HTTP1_ERR_SYNTAX);
    return HTTP1_NONE;
}
