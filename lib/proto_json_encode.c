/* SPDX-License-Identifier: MIT */
/* proto_json_encode.c - JSON tunnel messages out (docs/protocol.md §1-2): tmsg_encode over
 * jansson, HTTP octets as JSON strings when they are UTF-8 and as {"b64":"..."} otherwise (never
 * re-encoded), and the splitting of heads that do not fit one message (tmsg_send_head).
 * Decoding is proto_json.c's. */
#include "proto_json.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64.h"

/* ------------------------------------------------------------------ encoding */

/* A JSON string for text fields (ids, URLs, messages). They are UTF-8 by construction; other
 * octets are read as Latin-1 so the message can still be sent. (HTTP octets use joctets.) */
static json_t *jstr(const char *s)
{
    if (!s)
        return json_string("");
    json_t *v = json_string(s);
    if (v)
        return v;
    size_t n = strlen(s);
    char *u = malloc(n * 2 + 1);
    if (!u)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            u[o++] = (char)c;
        } else {
            u[o++] = (char)(0xc0 | (c >> 6));
            u[o++] = (char)(0x80 | (c & 0x3f));
        }
    }
    v = json_stringn(u, o);
    free(u);
    return v;
}

/* HTTP octets: a JSON string when they are valid UTF-8 (jansson checks: no overlong forms, no
 * surrogates), else {"b64":"<standard base64>"}. Lossless either way. */
static json_t *joctets(const char *s, size_t n)
{
    if (!s)
        return json_string("");
    json_t *v = json_stringn(s, n);
    if (v)
        return v;
    char *b = malloc(b64_encoded_len(n) + 1);
    if (!b)
        return NULL;
    size_t bl = b64_encode((const uint8_t *)s, n, b);
    json_t *str = json_stringn_nocheck(b, bl); /* base64 is ASCII */
    free(b);
    return str ? json_pack("{s:o}", "b64", str) : NULL;
}

static json_t *joctets_z(const char *s)
{
    return joctets(s, s ? strlen(s) : 0);
}

static int set(json_t *o, const char *key, json_t *v)
{
    return v ? json_object_set_new(o, key, v) : -1;
}

static int set_str_opt(json_t *o, const char *key, const char *s)
{
    return s ? set(o, key, jstr(s)) : 0;
}

/* name -> [values], repeated names (case-insensitive) grouped under the first spelling, in the
 * order of first appearance. */
static json_t *encode_headers(const http_headers *h)
{
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    for (size_t i = 0; i < h->n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcasecmp(h->v[j].name, h->v[i].name) == 0;
        if (seen)
            continue;
        json_t *arr = json_array();
        if (!arr || json_object_set_new(obj, h->v[i].name, arr) != 0)
            goto fail;
        for (size_t k = i; k < h->n; k++) {
            if (strcasecmp(h->v[k].name, h->v[i].name) != 0)
                continue;
            json_t *s = joctets(h->v[k].value, h->v[k].vlen);
            if (!s || json_array_append_new(arr, s) != 0)
                goto fail;
        }
    }
    return obj;
fail:
    json_decref(obj);
    return NULL;
}

static json_t *encode_body(const uint8_t *body, size_t len)
{
    if (!body || len == 0)
        return json_string("");
    size_t cap = b64_encoded_len(len) + 1;
    char *b = malloc(cap);
    if (!b)
        return NULL;
    size_t n = b64_encode(body, len, b);
    json_t *v = json_stringn_nocheck(b, n); /* base64 is ASCII */
    free(b);
    return v;
}

static json_t *encode_tunnels(const tmsg *m, bool established)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < m->ntunnels; i++) {
        const tmsg_tunnel *t = &m->tunnels[i];
        json_t *e = json_object();
        int r = e ? json_array_append_new(arr, e) : -1;
        r |= set_str_opt(e, "name", t->name);
        if (!established) {
            r |= set_str_opt(e, "subdomain", t->subdomain);
            r |= set_str_opt(e, "tunnel_id", t->tunnel_id);
            if (t->access) /* checked JSON text (lib/access): carried as the value it holds */
                r |= set(e, "access", json_loads(t->access, JSON_DECODE_ANY, NULL));
        } else {
            r |= set(e, "tunnel_id", jstr(t->tunnel_id));
            r |= set(e, "public_url", jstr(t->public_url));
            r |= set_str_opt(e, "subdomain_url", t->subdomain_url);
            r |= set_str_opt(e, "path_based_url", t->path_based_url);
            if (t->access_applied)
                r |= set(e, "access_applied", json_true());
        }
        if (r != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static int encode_fields(json_t *o, const tmsg *m)
{
    int r = 0;
    switch (m->type) {
    case TMSG_PING:
    case TMSG_PONG:
        return 0;
    case TMSG_READY:
        r |= set_str_opt(o, "tunnel_id", m->tunnel_id);
        r |= set_str_opt(o, "subdomain", m->subdomain);
        r |= set_str_opt(o, "agent_key", m->agent_key);
        r |= set_str_opt(o, "takeover", m->takeover);
        if (m->ntunnels)
            r |= set(o, "tunnels", encode_tunnels(m, false));
        if (m->access) /* checked JSON text (lib/access): carried as the value it holds */
            r |= set(o, "access", json_loads(m->access, JSON_DECODE_ANY, NULL));
        return r;
    case TMSG_CONNECTION_ESTABLISHED:
        r |= set(o, "connection_id", jstr(m->connection_id));
        r |= set(o, "tunnel_id", jstr(m->tunnel_id));
        r |= set(o, "public_url", jstr(m->public_url));
        r |= set_str_opt(o, "subdomain_url", m->subdomain_url);
        r |= set_str_opt(o, "path_based_url", m->path_based_url);
        r |= set_str_opt(o, "message", m->message);
        r |= set_str_opt(o, "takeover", m->takeover);
        if (m->max_lifetime_s)
            r |= set(o, "max_lifetime_s", json_integer((json_int_t)m->max_lifetime_s));
        if (m->ntunnels)
            r |= set(o, "tunnels", encode_tunnels(m, true));
        if (m->access_applied)
            r |= set(o, "access_applied", json_true());
        return r;
    case TMSG_TUNNEL_REFUSED:
        r |= set(o, "code", jstr(m->refusal));
        r |= set(o, "message", jstr(m->message));
        return r;
    case TMSG_HTTP_REQUEST:
        r |= set(o, "request_id", jstr(m->request_id));
        r |= set_str_opt(o, "tunnel_id", m->tunnel_id);
        r |= set(o, "method", joctets_z(m->method));
        r |= set(o, "uri", joctets_z(m->uri));
        r |= set(o, "headers", encode_headers(&m->headers));
        if (m->headers_more)
            r |= set(o, "headers_more", json_true());
        r |= set(o, "body", encode_body(m->body, m->body_len));
        r |= set(o, "timestamp", json_integer((json_int_t)m->timestamp));
        if (m->more)
            r |= set(o, "more", json_true());
        return r;
    case TMSG_HTTP_RESPONSE:
        r |= set(o, "request_id", jstr(m->request_id));
        r |= set(o, "status_code", json_integer(m->status_code));
        if (m->reason)
            r |= set(o, "reason", joctets_z(m->reason));
        r |= set(o, "headers", encode_headers(&m->headers));
        if (m->headers_more)
            r |= set(o, "headers_more", json_true());
        r |= set(o, "body", encode_body(m->body, m->body_len));
        r |= set(o, "processing_time_ms", json_integer((json_int_t)m->processing_time_ms));
        if (m->more)
            r |= set(o, "more", json_true());
        return r;
    case TMSG_HTTP_REQUEST_HEADERS:
    case TMSG_HTTP_RESPONSE_HEADERS:
        r |= set(o, "request_id", jstr(m->request_id));
        r |= set(o, "seq", json_integer(m->seq));
        r |= set(o, "headers", encode_headers(&m->headers));
        r |= set(o, "headers_more", json_boolean(m->headers_more));
        return r;
    case TMSG_CANCEL:
        r |= set(o, "request_id", jstr(m->request_id));
        r |= set_str_opt(o, "reason", m->reason);
        return r;
    case TMSG_HTTP_REQUEST_BODY:
    case TMSG_HTTP_RESPONSE_BODY:
        r |= set(o, "request_id", jstr(m->request_id));
        r |= set(o, "seq", json_integer(m->seq));
        r |= set(o, "body", encode_body(m->body, m->body_len));
        r |= set(o, "more", json_boolean(m->more));
        return r;
    case TMSG_ACK:
        if (m->ack_of != TMSG_UNKNOWN)
            r |= set(o, "of", json_string(tmsg_type_name(m->ack_of)));
        if (m->request_id)
            r |= set(o, "request_id", jstr(m->request_id));
        if (m->seq) /* a body piece or a head continuation */
            r |= set(o, "seq", json_integer(m->seq));
        return r;
    case TMSG_ERROR:
        r |= set(o, "request_id", m->request_id ? jstr(m->request_id) : json_null());
        r |= set(o, "code", json_string(tmsg_error_name(m->code)));
        r |= set(o, "message", jstr(m->message));
        return r;
    default:
        return -1;
    }
}

char *tmsg_encode(const tmsg *m, size_t *len)
{
    if (!m || m->type == TMSG_UNKNOWN)
        return NULL;
    json_t *o = json_object();
    if (!o)
        return NULL;
    char *out = NULL;
    if (set(o, "type", json_string(tmsg_type_name(m->type))) == 0 && encode_fields(o, m) == 0)
        out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (out && len)
        *len = strlen(out);
    return out;
}

/* ------------------------------------------------------------------ large heads */

/* Bytes of s[0..n) as a JSON string body (without the quotes), as jansson writes it with
 * JSON_COMPACT: '"' and '\\' and the short escapes take 2, other controls 6 ("\u00XX"). */
static size_t json_escaped_len(const char *s, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
            out += 2;
        else if (c < 0x20)
            out += 6;
        else
            out += 1;
    }
    return out;
}

/* Whether joctets sends these octets as a plain string: valid UTF-8, as jansson checks it. */
static bool plain_form(const char *s, size_t n)
{
    json_t *v = json_stringn(s, n);
    json_decref(v);
    return v != NULL;
}

size_t tmsg_header_encoded_max(const http_header *e)
{
    /* "name":[...], for an entry of its own (grouping repeats only saves bytes) */
    size_t n = json_escaped_len(e->name, e->nlen) + 6;
    /* the value in the form joctets picks: "..." (escaped UTF-8) or {"b64":"..."} */
    if (plain_form(e->value, e->vlen))
        return n + json_escaped_len(e->value, e->vlen) + 2;
    return n + b64_encoded_len(e->vlen) + 10;
}

/* Room for the "headers" object in a message of at most TTF_JSON_MAX_MSG bytes whose other
 * fields are those of m (headers and body left out). 0 when there is none. */
static size_t headers_room(const tmsg *m)
{
    tmsg c = *m;
    http_headers_init(&c.headers);
    c.body = NULL;
    c.body_len = 0;
    c.headers_more = true;
    size_t len = 0;
    char *json = tmsg_encode(&c, &len);
    free(json);
    /* a margin for the numbers that may widen (seq, processing_time_ms) */
    size_t fixed = len + 64;
    return json && fixed < TTF_JSON_MAX_MSG ? TTF_JSON_MAX_MSG - fixed : 0;
}

/* How many entries of h from `from` on fit in room bytes ("{}" and commas included). */
static size_t headers_fit(const http_headers *h, size_t from, size_t room)
{
    size_t used = 2, i = from;
    for (; i < h->n; i++) {
        size_t e = tmsg_header_encoded_max(&h->v[i]) + 1;
        if (used + e > room)
            break;
        used += e;
    }
    return i - from;
}

int tmsg_send_head(const tmsg *m, tmsg_send_fn send, void *ud)
{
    if (!m || (m->type != TMSG_HTTP_REQUEST && m->type != TMSG_HTTP_RESPONSE))
        return -1;
    size_t room = headers_room(m);
    size_t body = m->body_len ? b64_encoded_len(m->body_len) : 0;
    if (room > body && headers_fit(&m->headers, 0, room - body) == m->headers.n)
        return send(ud, m) == 0 ? 1 : -1; /* the common case: one message */
    /* The head alone may still fit exactly (the bound above is loose): try it encoded. */
    size_t len = 0;
    char *json = tmsg_encode(m, &len);
    free(json);
    if (!json)
        return -1;
    if (len <= TTF_JSON_MAX_MSG)
        return send(ud, m) == 0 ? 1 : -1;

    tmsg first = *m;
    first.body = NULL;
    first.body_len = 0;
    first.more = m->more || m->body_len > 0;
    first.headers_more = true;
    size_t room0 = headers_room(&first);
    size_t n = headers_fit(&m->headers, 0, room0);
    if (room0 == 0 || (n == 0 && m->headers.n > 0))
        return -1;
    first.headers.v = m->headers.v; /* borrowed: a view of the first n entries */
    first.headers.n = n;
    first.headers_more = n < m->headers.n;
    if (send(ud, &first) != 0)
        return -1;
    tmsg cont;
    tmsg_init(&cont, m->type == TMSG_HTTP_REQUEST ? TMSG_HTTP_REQUEST_HEADERS
                                                  : TMSG_HTTP_RESPONSE_HEADERS);
    cont.request_id = m->request_id; /* borrowed */
    for (size_t from = n; from < m->headers.n; from += n) {
        cont.seq++;
        cont.headers_more = true;
        n = headers_fit(&m->headers, from, headers_room(&cont));
        if (n == 0)
            return -1;
        cont.headers.v = m->headers.v + from;
        cont.headers.n = n;
        cont.headers_more = from + n < m->headers.n;
        if (send(ud, &cont) != 0)
            return -1;
    }
    return 0;
}

int tmsg_take_headers(http_headers *dst, http_headers *src)
{
    if (http_headers_reserve(dst, src->n) != 0)
        return -1;
    for (size_t i = 0; i < src->n; i++) {
        const http_header *e = &src->v[i];
        if (http_headers_add(dst, e->name, e->nlen, e->value, e->vlen) != 0)
            return -1;
    }
    http_headers_free(src);
    return 0;
}
