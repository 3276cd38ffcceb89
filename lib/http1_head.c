/* SPDX-License-Identifier: MIT */
/* http1_head.c - strict HTTP/1.1 head parsing (see http1_head.h). Two passes over a complete
 * head: http1_head_scan finds its end (and refuses a bare LF early), http1_head_parse reads the
 * start line and the field lines, then applies the field semantics of RFC 9112 §3.2, §6, §9. */
#include "http1_head.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http1_syntax.h"

void http1_head_init(http1_head *h)
{
    memset(h, 0, sizeof *h);
    http_headers_init(&h->headers);
    h->content_length = -1;
}

void http1_head_free(http1_head *h)
{
    http_headers_free(&h->headers);
    free(h->block);
    http1_head_init(h);
}

/* A request error carries the status a server answers; any response error is a bad gateway
 * answer for a proxy (RFC 9112 §6.3: 502), out of memory stays 500. Its kind is the request
 * status's (fail) or given (fail_as). */
static http1_head_result fail_as(http1_err *err, http1_error kind, bool is_request, int status,
                                 const char *reason)
{
    err->kind = kind;
    err->status = is_request || status == 500 ? status : 502;
    err->reason = reason;
    return HTTP1_HEAD_ERROR;
}

static http1_head_result fail(http1_err *err, bool is_request, int status, const char *reason)
{
    http1_error kind = status == 414 || status == 431 ? HTTP1_ERR_HEAD_TOO_BIG
                       : status == 500                ? HTTP1_ERR_NOMEM
                       : status == 501                ? HTTP1_ERR_NOT_IMPLEMENTED
                       : status == 505                ? HTTP1_ERR_VERSION
                                                      : HTTP1_ERR_SYNTAX;
    return fail_as(err, kind, is_request, status, reason);
}

/* An incomplete start line that can already not become a valid one (garbage is refused at once,
 * not after the head limit or a timeout). Looks at no more than its first 32 octets. */
static bool plausible_start(const char *s, size_t n, bool is_request)
{
    if (n == 0 || s[0] == '\r')
        return true; /* nothing yet, or an empty line in progress */
    if (!is_request) {
        size_t k = n < 5 ? n : 5;
        return memcmp(s, "HTTP/", k) == 0;
    }
    for (size_t i = 0; i < n && i < 32; i++) {
        if (s[i] == ' ')
            return i > 0;
        if (!http1_is_tchar((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* Over the head limit: a request-line that alone passes it is a request-target longer than we
 * parse, 414 (RFC 9112 §3, RFC 9110 §15.5.15; nginx answers the same); else 431. */
static http1_head_result too_large(http1_err *err, bool is_request, bool in_start_line)
{
    if (is_request && in_start_line)
        return fail(err, true, 414, "request-target too long");
    return fail(err, is_request, 431, "head too large");
}

/* The head limit lim sets (HTTP1_DEFAULT_MAX_HEAD without one). */
static size_t max_head_of(const http1_limits *lim)
{
    return lim && lim->max_head ? lim->max_head : HTTP1_DEFAULT_MAX_HEAD;
}

/* Whether a bare LF may end a line: in a response head, when lim allows it (http1_types.h). */
static bool bare_lf_ok(const http1_limits *lim, bool is_request)
{
    return !is_request && lim && lim->bare_lf;
}

http1_head_result http1_head_scan(http1_scan *s, const char *buf, size_t len,
                                  const http1_limits *lim, bool is_request, size_t *end,
                                  http1_err *err)
{
    size_t max_head = max_head_of(lim);
    bool bare_lf = bare_lf_ok(lim, is_request);
    size_t line = s->line;
    for (;;) {
        const char *lf = line < len ? memchr(buf + line, '\n', len - line) : NULL;
        if (!lf) {
            s->line = line;
            if (len > max_head)
                return too_large(err, is_request, line == s->skip);
            if (line == s->skip && !plausible_start(buf + line, len - line, is_request))
                return fail(err, is_request, 400, "bad start line");
            return HTTP1_HEAD_AGAIN;
        }
        size_t i = (size_t)(lf - buf);
        bool cr = i > line && buf[i - 1] == '\r';
        if (!cr && !bare_lf)
            return fail(err, is_request, 400, "bare LF in the head");
        if (i - (cr ? 1 : 0) == line) {
            if (line == s->skip) { /* an empty line before the start line */
                s->skip = line = i + 1;
                continue;
            }
            s->line = line;
            *end = i + 1;
            if (*end > max_head)
                return fail(err, is_request, 431, "head too large");
            return HTTP1_HEAD_DONE;
        }
        bool was_start = line == s->skip;
        line = i + 1;
        if (line > max_head)
            return too_large(err, is_request, was_start);
    }
}

/* ---------------------------------------------------------------- start lines */

typedef struct span {
    const char *p;
    size_t n;
} span;

typedef struct start_line {
    span method, target, authority, path, reason;
    bool path_slash; /* path needs a "/" before it (absolute-form with an empty path) */
    http1_target_form form;
    int minor, status;
} start_line;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* HTTP-version = "HTTP" "/" DIGIT "." DIGIT (RFC 9112 §2.3): 1 (major version 1), 0 for
 * another well-formed version, -1 for anything else. A minor version above 1 (HTTP/1.2) is
 * processed as 1.1, "the highest minor version within that major version" we conform to
 * (RFC 9110 §2.5), as nginx and Go's net/http do; only another major version is 505. */
static int version(const char *v, size_t n, int *minor)
{
    if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || !is_digit(v[5]) || v[6] != '.' || !is_digit(v[7]))
        return -1;
    if (v[5] != '1')
        return 0;
    *minor = v[7] == '0' ? 0 : 1;
    return 1;
}

static bool span_is(span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

/* A target's authority becomes the Host of the forwarded request: the Host rules apply to it
 * (reg-name allows ",", but a comma in a Host reads as two values merged by an upstream). */
static bool host_ok(const char *s, size_t n, bool allow_empty, bool need_port)
{
    return !memchr(s, ',', n) && http1_valid_authority(s, n, allow_empty, need_port);
}

/* absolute-form = absolute-URI (RFC 9112 §3.2.2), for http and https: the authority (no
 * userinfo, RFC 9110 §4.2.4) and the path and query. */
static http1_head_result absolute_form(start_line *sl, http1_err *err)
{
    const char *t = sl->target.p;
    size_t n = sl->target.n, i = 0;
    while (i < n && (http1_ctype[(unsigned char)t[i]] & HTTP1_C_SCHEME))
        i++;
    bool http =
        (i == 4 && strncasecmp(t, "http", 4) == 0) || (i == 5 && strncasecmp(t, "https", 5) == 0);
    if (!http || n - i < 3 || memcmp(t + i, "://", 3) != 0)
        return fail(err, true, 400, "bad request-target");
    size_t a = i + 3, e = a;
    while (e < n && t[e] != '/' && t[e] != '?' && t[e] != '#')
        e++;
    if (!host_ok(t + a, e - a, false, false))
        return fail(err, true, 400, "bad authority in the request-target");
    sl->authority = (span){t + a, e - a};
    sl->path = (span){t + e, n - e};
    sl->path_slash = e == n || t[e] != '/';
    sl->form = HTTP1_TARGET_ABSOLUTE;
    return HTTP1_HEAD_DONE;
}

/* request-line = method SP request-target SP HTTP-version (RFC 9112 §3), exactly one SP each. */
static http1_head_result request_line(const char *s, size_t n, start_line *sl, http1_err *err)
{
    size_t i = 0;
    while (i < n && http1_is_tchar((unsigned char)s[i]))
        i++;
    if (i == 0 || i == n || s[i] != ' ')
        return fail(err, true, 400, i == 0 ? "bad request-line" : "bad method");
    sl->method = (span){s, i};
    size_t t0 = i + 1, t = t0;
    /* any octet but controls, SP and DEL: raw obs-text in a target passes byte for byte */
    while (t < n && (unsigned char)s[t] > ' ' && s[t] != 0x7f)
        t++;
    if (t == t0 || t == n || s[t] != ' ')
        return fail(err, true, 400, "bad request-target");
    sl->target = (span){s + t0, t - t0};
    /* a fragment is the client's own business and never part of a request-target (RFC 9112
     * §3.2, RFC 9110 §4.2.5); HAProxy routed "/index.html#.png" by its suffix (CVE-2023-45539) */
    if (memchr(sl->target.p, '#', sl->target.n))
        return fail(err, true, 400, "fragment (#) in the request-target");
    int v = version(s + t + 1, n - t - 1, &sl->minor);
    if (v < 0)
        return fail(err, true, 400, "bad request-line");
    if (v == 0)
        return fail(err, true, 505, "HTTP version not supported");

    bool connect = span_is(sl->method, "CONNECT");
    if (span_is(sl->target, "*")) {
        if (!span_is(sl->method, "OPTIONS"))
            return fail(err, true, 400, "asterisk-form is for OPTIONS only");
        sl->form = HTTP1_TARGET_ASTERISK;
    } else if (connect) {
        if (!host_ok(sl->target.p, sl->target.n, false, true))
            return fail(err, true, 400, "CONNECT needs host:port");
        sl->authority = sl->target;
        sl->form = HTTP1_TARGET_AUTHORITY;
    } else if (sl->target.p[0] == '/') {
        sl->path = sl->target;
        sl->form = HTTP1_TARGET_ORIGIN;
    } else {
        if (absolute_form(sl, err) != HTTP1_HEAD_DONE)
            return HTTP1_HEAD_ERROR;
        /* OPTIONS http://host (empty path, no query) reaches the origin as "OPTIONS *"
         * (RFC 9112 §3.2.4: the last proxy MUST send "*") */
        if (sl->path.n == 0 && span_is(sl->method, "OPTIONS")) {
            sl->path = (span){"*", 1};
            sl->path_slash = false;
        }
    }
    return HTTP1_HEAD_DONE;
}

/* status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4); a missing
 * SP before an empty reason is tolerated (common). */
static http1_head_result status_line(const char *s, size_t n, start_line *sl, http1_err *err)
{
    if (n < 12 || s[8] != ' ' || version(s, 8, &sl->minor) != 1)
        return fail(err, false, 502, "bad status-line");
    if (!is_digit(s[9]) || !is_digit(s[10]) || !is_digit(s[11]))
        return fail(err, false, 502, "bad status code");
    sl->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    if (sl->status < 100 || sl->status > 599)
        return fail(err, false, 502, "status code outside 100..599");
    if (n > 12 && s[12] != ' ')
        return fail(err, false, 502, "bad status code");
    sl->reason = n > 12 ? (span){s + 13, n - 13} : (span){s + 12, 0};
    if (!http1_is_field_value(sl->reason.p, sl->reason.n))
        return fail(err, false, 502, "control character in the reason phrase");
    return HTTP1_HEAD_DONE;
}

static char *put(char **at, span s, bool slash)
{
    char *d = *at;
    size_t k = 0;
    if (slash)
        d[k++] = '/';
    if (s.n)
        memcpy(d + k, s.p, s.n);
    d[k + s.n] = '\0';
    *at = d + k + s.n + 1;
    return d;
}

/* Copies the start-line strings into one block owned by h. */
static int keep_start_line(http1_head *h, const start_line *sl, bool is_request)
{
    size_t need = sl->method.n + sl->target.n + sl->authority.n + sl->path.n + sl->reason.n + 8;
    char *b = malloc(need), *at = b;
    if (!b)
        return -1;
    h->block = b;
    if (is_request) {
        h->method = put(&at, sl->method, false);
        h->target = put(&at, sl->target, false);
        h->form = sl->form;
        if (sl->authority.p)
            h->authority = put(&at, sl->authority, false);
        if (sl->path.p)
            h->path = put(&at, sl->path, sl->path_slash);
    } else {
        h->status = sl->status;
        h->reason = put(&at, sl->reason, false);
    }
    h->http_major = 1;
    h->http_minor = sl->minor;
    return 0;
}

/* ---------------------------------------------------------------- field lines */

/* Length of the line at p ending with the LF at lf, its CR (the scan saw one before every LF
 * unless a bare LF was allowed) not counted. */
static size_t line_len(const char *p, const char *lf)
{
    return (size_t)(lf - p) - (lf > p && lf[-1] == '\r' ? 1 : 0);
}

static http1_head_result fields(http1_head *h, const char *p, const char *end, bool is_request,
                                size_t max_fields, http1_err *err)
{
    size_t lines = 0;
    for (const char *q = p; q < end && (q = memchr(q, '\n', (size_t)(end - q))); q++)
        lines++;
    if (lines - 1 > max_fields) /* the last line is the empty one */
        return fail_as(err, HTTP1_ERR_TOO_MANY_FIELDS, is_request, 431, "too many header fields");
    /* one block for the entries and their strings (a fresh head's); else the arena alone */
    /* 16 entries at least, as reserve gives: the proxy rules add a few to a parsed head */
    char *arena = http_headers_block(&h->headers, lines < 16 ? 16 : lines, (size_t)(end - p) + 1);
    if (!arena) {
        if (h->headers.arena || http_headers_reserve(&h->headers, lines) != 0 ||
            !(arena = malloc((size_t)(end - p) + 1)))
            return fail(err, is_request, 500, "out of memory");
        h->headers.arena = arena;
    }
    for (;;) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        size_t len = line_len(p, lf);
        if (len == 0)
            break;
        http1_field f;
        const char *why;
        if (http1_field_split(p, len, &f, &why) != 0)
            return fail(err, is_request, 400, why);
        char *name = arena;
        memcpy(name, f.name, f.nlen);
        name[f.nlen] = '\0';
        char *value = name + f.nlen + 1;
        memcpy(value, f.value, f.vlen);
        value[f.vlen] = '\0';
        arena = value + f.vlen + 1;
        http_headers_push_ref(&h->headers, name, f.nlen, value, f.vlen,
                              http_name_lookup(f.name, f.nlen));
        p = lf + 1;
    }
    return HTTP1_HEAD_DONE;
}

/* What the framing and connection fields say, gathered in one walk. */
typedef struct field_facts {
    size_t hosts;
    const http_header *host;
    bool have_cl;
    uint64_t cl;
    bool have_te, te_last_chunked, te_other, te_bad;
    int te_chunked;
    bool conn_close, conn_keep_alive, conn_upgrade, upgrade_field, expect_continue;
} field_facts;

/* transfer-coding = token *( OWS ";" OWS transfer-parameter ) (RFC 9112 §7): the coding name
 * before any parameter. chunked takes no parameters. */
static void te_member(field_facts *ff, const char *m, size_t n)
{
    size_t k = 0;
    while (k < n && http1_is_tchar((unsigned char)m[k]))
        k++;
    if (k == 0 || (k < n && m[k] != ';' && m[k] != ' ' && m[k] != '\t')) {
        ff->te_bad = true;
        return;
    }
    bool chunked = k == 7 && strncasecmp(m, "chunked", 7) == 0;
    if (chunked && k < n) {
        ff->te_bad = true; /* chunked with parameters */
        return;
    }
    ff->te_chunked += chunked;
    ff->te_other |= !chunked;
    ff->te_last_chunked = chunked;
}

static http1_head_result gather(const http1_head *h, field_facts *ff, bool is_request,
                                http1_err *err)
{
    for (size_t i = 0; i < h->headers.n; i++) {
        const http_header *e = &h->headers.v[i];
        size_t pos = 0, il;
        const char *it;
        switch (e->id) {
        case HTTP_H_HOST:
            ff->hosts++;
            ff->host = e;
            break;
        case HTTP_H_TRANSFER_ENCODING: {
            bool any = false;
            ff->have_te = true;
            while (http1_list_next(e->value, e->vlen, &pos, &it, &il)) {
                te_member(ff, it, il); /* te_last_chunked: the last member seen is chunked */
                any = true;
            }
            if (!any)
                ff->te_bad = true;
            break;
        }
        case HTTP_H_CONNECTION:
            while (http1_list_next(e->value, e->vlen, &pos, &it, &il)) {
                ff->conn_close |= il == 5 && strncasecmp(it, "close", 5) == 0;
                ff->conn_keep_alive |= il == 10 && strncasecmp(it, "keep-alive", 10) == 0;
                ff->conn_upgrade |= il == 7 && strncasecmp(it, "upgrade", 7) == 0;
            }
            break;
        case HTTP_H_UPGRADE:
            ff->upgrade_field = true;
            break;
        case HTTP_H_EXPECT:
            ff->expect_continue |= http1_list_has(e->value, e->vlen, "100-continue");
            break;
        default:
            break;
        }
    }
    uint64_t cl = 0;
    int rc = http_headers_content_length(&h->headers, &cl);
    if (rc == HTTP_CL_BAD)
        return fail(err, is_request, 400, "bad Content-Length");
    if (rc == HTTP_CL_DIFFERING)
        return fail(err, is_request, 400, "differing Content-Length values");
    ff->have_cl = rc == 1;
    ff->cl = cl;
    return HTTP1_HEAD_DONE;
}

/* Requests: RFC 9112 §3.2 (Host), §6.1-6.3 (framing). */
static http1_head_result request_semantics(http1_head *h, const field_facts *ff, http1_err *err)
{
    if (ff->hosts > 1)
        return fail(err, true, 400, "more than one Host");
    if (ff->hosts == 0 && h->http_minor == 1)
        return fail(err, true, 400, "missing Host");
    if (ff->host && memchr(ff->host->value, ',', ff->host->vlen))
        return fail(err, true, 400, "more than one Host");
    if (ff->host && !host_ok(ff->host->value, ff->host->vlen, true, false))
        return fail(err, true, 400, "bad Host");
    if (ff->have_te) {
        if (h->http_minor == 0)
            return fail(err, true, 400, "Transfer-Encoding in an HTTP/1.0 request");
        if (ff->have_cl)
            return fail(err, true, 400, "Content-Length with Transfer-Encoding");
        if (ff->te_bad)
            return fail(err, true, 400, "bad Transfer-Encoding");
        if (ff->te_chunked > 1)
            return fail(err, true, 400, "chunked applied twice");
        if (!ff->te_last_chunked)
            return fail(err, true, 400, "final transfer coding is not chunked");
        if (ff->te_other)
            return fail(err, true, 501, "transfer coding not implemented");
        h->framing = HTTP1_FRAMING_CHUNKED;
        h->chunked = true;
    } else if (ff->have_cl) {
        h->framing = HTTP1_FRAMING_LENGTH;
        h->content_length = (int64_t)ff->cl;
    }
    /* a server MUST ignore Upgrade in an HTTP/1.0 request (RFC 9110 §7.8): it goes on plain */
    h->upgrade = (ff->upgrade_field && ff->conn_upgrade && h->http_minor >= 1) ||
                 h->form == HTTP1_TARGET_AUTHORITY;
    h->expect_continue = ff->expect_continue;
    return HTTP1_HEAD_DONE;
}

/* Responses: RFC 9112 §6.3 in order: bodiless statuses, Transfer-Encoding, Content-Length,
 * else until close. */
static http1_head_result response_semantics(http1_head *h, const field_facts *ff, http1_err *err)
{
    if (ff->have_te) {
        if (h->http_minor == 0)
            return fail(err, false, 502, "Transfer-Encoding in an HTTP/1.0 response");
        if (ff->te_bad || ff->te_chunked > 1)
            return fail(err, false, 502, "bad Transfer-Encoding");
    }
    int s = h->status;
    if ((s >= 100 && s < 200) || s == 204 || s == 304) {
        h->framing = HTTP1_FRAMING_NONE;
        h->upgrade = s == 101;
    } else if (ff->have_te) {
        /* A proxy drops Transfer-Encoding (hop-by-hop): a coding other than chunked would reach
         * the client still applied and undeclared (gzip bytes read as the content). Not decoded
         * here, so refused, as nginx does ("upstream sent unknown Transfer-Encoding": 502). */
        if (ff->te_other)
            return fail(err, false, 502, "a transfer coding other than chunked");
        h->chunked = ff->te_last_chunked;
        h->framing = h->chunked ? HTTP1_FRAMING_CHUNKED : HTTP1_FRAMING_CLOSE;
    } else if (ff->have_cl) {
        h->framing = HTTP1_FRAMING_LENGTH;
    } else {
        h->framing = HTTP1_FRAMING_CLOSE;
    }
    if (ff->have_cl && !ff->have_te)
        h->content_length = (int64_t)ff->cl;
    return HTTP1_HEAD_DONE;
}

http1_head_result http1_head_parse(http1_head *h, const char *buf, size_t len, bool is_request,
                                   const http1_limits *lim, http1_err *err)
{
    bool bare_lf = bare_lf_ok(lim, is_request);
    size_t pos = 0;
    for (;;) {
        if (pos + 1 < len && buf[pos] == '\r' && buf[pos + 1] == '\n')
            pos += 2;
        else if (bare_lf && pos < len && buf[pos] == '\n')
            pos++;
        else
            break;
    }
    const char *ls = buf + pos, *end = buf + len;
    const char *le = memchr(ls, '\n', (size_t)(end - ls));
    if (!le || le == ls || (le[-1] != '\r' && !bare_lf))
        return fail(err, is_request, 400, "incomplete head");
    size_t llen = line_len(ls, le);
    start_line sl = {0};
    http1_head_result r =
        is_request ? request_line(ls, llen, &sl, err) : status_line(ls, llen, &sl, err);
    if (r == HTTP1_HEAD_DONE && keep_start_line(h, &sl, is_request) != 0)
        r = fail(err, is_request, 500, "out of memory");
    size_t max_fields = lim && lim->max_fields ? lim->max_fields : HTTP1_DEFAULT_MAX_FIELDS;
    if (r == HTTP1_HEAD_DONE)
        r = fields(h, le + 1, end, is_request, max_fields, err);
    field_facts ff = {0};
    if (r == HTTP1_HEAD_DONE)
        r = gather(h, &ff, is_request, err);
    if (r == HTTP1_HEAD_DONE)
        r = is_request ? request_semantics(h, &ff, err) : response_semantics(h, &ff, err);
    if (r != HTTP1_HEAD_DONE) {
        http1_head_free(h);
        return r;
    }
    if (h->content_length >= 0) /* several lines or a list of one value: one line goes on */
        http_headers_one_content_length(&h->headers, &(uint64_t){0});
    /* RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive"; a body delimited
     * by the close of the connection ends it. */
    h->keep_alive = !ff.conn_close && (h->http_minor == 1 || ff.conn_keep_alive) &&
                    h->framing != HTTP1_FRAMING_CLOSE;
    return HTTP1_HEAD_DONE;
}

http1_head_result http1_parse_head(http1_head *h, const char *buf, size_t len, bool is_request,
                                   const http1_limits *lim, size_t *used, http1_err *err)
{
    http1_scan s = {0};
    size_t max = max_head_of(lim);
    size_t end = 0;
    http1_head_result r =
        http1_head_scan(&s, buf, len < max + 1 ? len : max + 1, lim, is_request, &end, err);
    if (r != HTTP1_HEAD_DONE)
        return r;
    r = http1_head_parse(h, buf, end, is_request, lim, err);
    if (r == HTTP1_HEAD_DONE)
        *used = end;
    return r;
}

void http1_head_set_no_body(http1_head *h)
{
    h->framing = HTTP1_FRAMING_NONE;
    bool close = false, ka = false;
    for (size_t i = 0; i < h->headers.n; i++) {
        const http_header *e = &h->headers.v[i];
        if (e->id == HTTP_H_CONNECTION) {
            close |= http1_list_has(e->value, e->vlen, "close");
            ka |= http1_list_has(e->value, e->vlen, "keep-alive");
        }
    }
    h->keep_alive = !close && (h->http_minor == 1 || ka);
}
