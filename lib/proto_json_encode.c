/* SPDX-License-Identifier: MIT */
/* proto_json_encode.c - JSON tunnel messages out (docs/protocol.md §1-2): tmsg_encode over
 * json-c, HTTP octets as JSON strings when they are UTF-8 and as {"b64":"..."} otherwise (never
 * re-encoded), and the splitting of heads that do not fit one message (tmsg_send_head).
 * Decoding is proto_json.c's. The text is compact, members in the order they are set, '/' not
 * escaped: what jansson's JSON_COMPACT | JSON_PRESERVE_ORDER wrote before, except that json-c
 * writes the hex digits of a "\u00XX" escape (control characters in text fields) in lower case. */
#include "proto_json.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64.h"
#include "hmap.h"
#include "utf8.h"

/* ------------------------------------------------------------------ encoding */

#define OUT_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* A JSON string for text fields (ids, URLs, messages). They are UTF-8 by construction; other
 * octets are read as Latin-1 so the message can still be sent. (HTTP octets use joctets.) */
static json_object *jstr(const char *s)
{
    if (!s)
        return json_object_new_string("");
    size_t n = strlen(s);
    if (utf8_valid((const uint8_t *)s, n))
        return json_object_new_string_len(s, (int)n);
    size_t o = 0;
    char *u = utf8_from_latin1((const uint8_t *)s, n, &o);
    if (!u)
        return NULL;
    json_object *v = json_object_new_string_len(u, (int)o);
    free(u);
    return v;
}

/* Adds v under the constant key (each set once per object); v's ownership passes to o, also
 * when adding fails. NULL v (not built) fails. */
static int set(json_object *o, const char *key, json_object *v)
{
    if (!v)
        return -1;
    if (o && json_object_object_add_ex(
                 o, key, v, JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_ADD_CONSTANT_KEY) == 0)
        return 0;
    json_object_put(v);
    return -1;
}

static int set_null(json_object *o, const char *key)
{
    return json_object_object_add_ex(o, key, NULL,
                                     JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_ADD_CONSTANT_KEY);
}

static int set_str_opt(json_object *o, const char *key, const char *s)
{
    return s ? set(o, key, jstr(s)) : 0;
}

static json_object *jtrue(void)
{
    return json_object_new_boolean(1);
}

static json_object *jint(int64_t i)
{
    return json_object_new_int64(i);
}

/* HTTP octets: a JSON string when they are well-formed UTF-8 (lib/utf8: no overlong forms, no
 * surrogates), else {"b64":"<standard base64>"}. Lossless either way. */
static json_object *joctets(const char *s, size_t n)
{
    if (!s)
        return json_object_new_string("");
    if (n > INT_MAX / 2)
        return NULL;
    if (utf8_valid((const uint8_t *)s, n))
        return json_object_new_string_len(s, (int)n);
    char *b = malloc(b64_encoded_len(n) + 1);
    if (!b)
        return NULL;
    size_t bl = b64_encode((const uint8_t *)s, n, b);
    json_object *str = json_object_new_string_len(b, (int)bl); /* base64 is ASCII */
    free(b);
    json_object *obj = str ? json_object_new_object() : NULL;
    if (set(obj, "b64", str) != 0) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

static json_object *joctets_z(const char *s)
{
    return joctets(s, s ? strlen(s) : 0);
}

/* A member of the "headers" object: its value (the array of its values; with header strings a
 * single value itself until a second one comes), how many values, its index in member order and
 * its name. */
typedef struct field_member {
    json_object *val;
    size_t count;
    size_t index;
    const char *name;
    size_t nlen;
} field_member;

/* Up to this many field lines, set_fields finds a name's member by looking at each one before
 * it: cheaper than a hash map's allocations for a usual head (about ten lines). */
#define FIELDS_SCAN_MAX 16

/* The member of mem[0..members) named name[0..nlen) exactly, or NULL. */
static field_member *member_named(field_member *mem, size_t members, const char *name, size_t nlen)
{
    for (size_t k = 0; k < members; k++) {
        if (mem[k].nlen == nlen && memcmp(mem[k].name, name, nlen) == 0)
            return &mem[k];
    }
    return NULL;
}

/* Adds value v (its ownership too, also on failure) to member fm: the member's value itself when
 * strings and it is the first one, else an item of its array. */
static int member_add(field_member *fm, json_object *v, bool strings)
{
    if (!v)
        return -1;
    if (fm->count == 0 && strings) {
        fm->val = v;
        fm->count = 1;
        return 0;
    }
    if (fm->count == 0 || (fm->count == 1 && strings)) { /* the array starts (with the value) */
        json_object *arr = json_object_new_array_ext(strings ? 2 : 1);
        if (!arr || (fm->count == 1 && json_object_array_add(arr, fm->val) != 0)) {
            json_object_put(arr);
            json_object_put(v);
            return -1;
        }
        fm->val = arr;
    }
    if (json_object_array_add(fm->val, v) != 0) {
        json_object_put(v);
        return -1;
    }
    fm->count++;
    return 0;
}

/* key: name -> [values]: the field lines grouped by their exact spelling (RFC 9110 §5.1 names
 * are case-insensitive, but each line travels as sent), members in the order of first
 * appearance; with strings, a name of one value as that value alone (name -> value). When
 * grouping moved a line (A, B, A), order_key lists each line's member index so that the
 * receiver rebuilds the lines in their order (RFC 9110 §5.3: the order of same-name lines
 * matters, and across names it is what the peer sent). Older receivers read key alone. */
static int set_fields(json_object *o, const char *key, const char *order_key, const http_headers *h,
                      bool strings)
{
    json_object *obj = json_object_new_object();
    field_member *mem = h->n ? calloc(h->n, sizeof *mem) : NULL;
    size_t *idx = h->n ? calloc(h->n, sizeof *idx) : NULL;
    bool hashed = h->n > FIELDS_SCAN_MAX;
    hmap *names = hashed ? hmap_new() : NULL; /* exact spelling -> its field_member */
    json_object *order = NULL;
    size_t members = 0;
    bool in_order = true;
    if (!obj || (h->n && (!mem || !idx)) || (hashed && !names))
        goto fail;
    for (size_t i = 0; i < h->n; i++) {
        const http_header *e = &h->v[i];
        field_member *fm = names ? hmap_get(names, e->name, e->nlen)
                                 : member_named(mem, members, e->name, e->nlen);
        if (!fm) {
            fm = &mem[members];
            fm->index = members++;
            fm->name = e->name;
            fm->nlen = e->nlen;
            if (names && hmap_put(names, e->name, e->nlen, fm) != 0)
                goto fail;
        }
        idx[i] = fm->index;
        in_order = in_order && (i == 0 || idx[i] >= idx[i - 1]);
        if (member_add(fm, joctets(e->value, e->vlen), strings) != 0)
            goto fail;
    }
    for (size_t k = 0; k < members; k++) { /* each spelling once: no lookup for an older one */
        if (json_object_object_add_ex(obj, mem[k].name, mem[k].val, JSON_C_OBJECT_ADD_KEY_IS_NEW) !=
            0)
            goto fail;
        mem[k].val = NULL;
    }
    if (!in_order) {
        order = json_object_new_array_ext((int)h->n);
        for (size_t i = 0; order && i < h->n; i++) {
            json_object *n = jint((int64_t)idx[i]);
            if (!n || json_object_array_add(order, n) != 0) {
                json_object_put(n);
                goto fail;
            }
        }
    }
    hmap_free(names);
    free(idx);
    free(mem);
    int r = set(o, key, obj);
    return in_order ? r : r | set(o, order_key, order);
fail:
    for (size_t k = 0; k < members; k++)
        json_object_put(mem[k].val);
    hmap_free(names);
    free(idx);
    free(mem);
    json_object_put(order);
    json_object_put(obj);
    return -1;
}

/* ready, connection_established: relay_interim, relay_trailers, header_strings. */
static int set_agreements(json_object *o, const tmsg *m)
{
    int r = 0;
    if (m->header_strings)
        r |= set(o, "header_strings", jtrue());
    if (m->relay_interim)
        r |= set(o, "relay_interim", jtrue());
    if (m->relay_trailers)
        r |= set(o, "relay_trailers", jtrue());
    return r;
}

/* json-c serializer of a body piece (the tmsg is the userdata): "<base64>" encoded straight
 * into json-c's output buffer. The base64 alphabet needs no escape (RFC 8259 §7), so this skips
 * a copy into a string value and json-c's byte-by-byte escape scan of it: the bulk path's
 * per-byte cost. */
static int body_to_json(json_object *jso, struct printbuf *pb, int level, int flags)
{
    (void)level;
    (void)flags;
    const tmsg *m = json_object_get_userdata(jso);
    size_t enc = b64_encoded_len(m->body_len);
    if (enc > (size_t)(INT_MAX - 8 - pb->bpos) || printbuf_memappend(pb, "\"", 1) < 0)
        return -1;
    int off = pb->bpos;
    if (printbuf_memset(pb, off, 0, (int)enc + 1) < 0) /* room for the chars and b64's NUL */
        return -1;
    b64_encode(m->body, m->body_len, pb->buf + off);
    pb->bpos = off + (int)enc; /* printbuf keeps buf[bpos] a NUL: b64_encode wrote it */
    return printbuf_memappend(pb, "\"", 1) < 0 ? -1 : 0;
}

static json_object *encode_body(const tmsg *m)
{
    json_object *v = json_object_new_string("");
    if (v && m->body && m->body_len > 0)
        json_object_set_serializer(v, body_to_json, (void *)m, NULL);
    return v;
}

/* About the bytes of m's text when it carries a head or a body piece (0 for other messages): its
 * strings, field lines and base64 body with room for the punctuation. A guess that may fall
 * short: json-c's buffer grows from there. */
static size_t text_size_hint(const tmsg *m)
{
    if (m->type != TMSG_HTTP_REQUEST && m->type != TMSG_HTTP_RESPONSE &&
        m->type != TMSG_HTTP_REQUEST_BODY && m->type != TMSG_HTTP_RESPONSE_BODY &&
        m->type != TMSG_HTTP_REQUEST_HEADERS && m->type != TMSG_HTTP_RESPONSE_HEADERS)
        return 0;
    size_t n = 256 + b64_encoded_len(m->body_len);
    const char *s[] = {m->request_id, m->tunnel_id, m->method, m->uri, m->reason};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        n += s[i] ? strlen(s[i]) : 0;
    const http_headers *h[] = {&m->headers, &m->trailers};
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < h[k]->n; i++)
            n += h[k]->v[i].nlen + h[k]->v[i].vlen + 10;
    }
    return n < TTF_JSON_MAX_MSG ? n : TTF_JSON_MAX_MSG;
}

/* json-c serializer of the "type" value, the first member of every text (the tmsg is the
 * userdata): grows json-c's output buffer to text_size_hint at once, then writes the type name
 * (lower-case letters and '_': nothing to escape). json-c starts the buffer at 32 bytes and
 * doubles it as the text grows: four to six reallocs for a head or body message. */
static int type_to_json(json_object *jso, struct printbuf *pb, int level, int flags)
{
    (void)level;
    (void)flags;
    const tmsg *m = json_object_get_userdata(jso);
    size_t want = text_size_hint(m);
    int off = pb->bpos;
    if (want > (size_t)pb->size && want < (size_t)(INT_MAX - off)) {
        if (printbuf_memset(pb, off, 0, (int)want) < 0)
            return -1;
        pb->bpos = off; /* printbuf keeps buf[bpos] a NUL: memset wrote it */
    }
    const char *name = tmsg_type_name(m->type);
    if (printbuf_memappend(pb, "\"", 1) < 0 || printbuf_memappend(pb, name, (int)strlen(name)) < 0)
        return -1;
    return printbuf_memappend(pb, "\"", 1) < 0 ? -1 : 0;
}

static json_object *encode_type(const tmsg *m)
{
    json_object *v = json_object_new_string(tmsg_type_name(m->type));
    if (v && text_size_hint(m) > 0)
        json_object_set_serializer(v, type_to_json, (void *)m, NULL);
    return v;
}

/* Checked JSON text (lib/access) carried as the value it holds. */
static json_object *json_value_of(const char *text)
{
    return json_tokener_parse(text);
}

static json_object *encode_tunnels(const tmsg *m, bool established)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; arr && i < m->ntunnels; i++) {
        const tmsg_tunnel *t = &m->tunnels[i];
        json_object *e = json_object_new_object();
        int r = 0;
        if (!e || json_object_array_add(arr, e) != 0) {
            json_object_put(e);
            r = -1;
            e = NULL;
        }
        r |= set_str_opt(e, "name", t->name);
        if (!established) {
            r |= set_str_opt(e, "subdomain", t->subdomain);
            r |= set_str_opt(e, "tunnel_id", t->tunnel_id);
            if (t->access)
                r |= set(e, "access", json_value_of(t->access));
        } else {
            r |= set(e, "tunnel_id", jstr(t->tunnel_id));
            r |= set(e, "public_url", jstr(t->public_url));
            r |= set_str_opt(e, "subdomain_url", t->subdomain_url);
            r |= set_str_opt(e, "path_based_url", t->path_based_url);
            if (t->access_applied)
                r |= set(e, "access_applied", jtrue());
        }
        if (r != 0) {
            json_object_put(arr);
            return NULL;
        }
    }
    return arr;
}

static int encode_fields(json_object *o, const tmsg *m)
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
        if (m->access)
            r |= set(o, "access", json_value_of(m->access));
        if (m->stream_windows)
            r |= set(o, "stream_windows", jtrue());
        if (m->request_windows)
            r |= set(o, "request_windows", jtrue());
        if (m->request_window)
            r |= set(o, "request_window", jint((int64_t)m->request_window));
        return r | set_agreements(o, m);
    case TMSG_CONNECTION_ESTABLISHED:
        r |= set(o, "connection_id", jstr(m->connection_id));
        r |= set(o, "tunnel_id", jstr(m->tunnel_id));
        r |= set(o, "public_url", jstr(m->public_url));
        r |= set_str_opt(o, "subdomain_url", m->subdomain_url);
        r |= set_str_opt(o, "path_based_url", m->path_based_url);
        r |= set_str_opt(o, "message", m->message);
        r |= set_str_opt(o, "takeover", m->takeover);
        if (m->max_lifetime_s)
            r |= set(o, "max_lifetime_s", jint((int64_t)m->max_lifetime_s));
        if (m->ntunnels)
            r |= set(o, "tunnels", encode_tunnels(m, true));
        if (m->access_applied)
            r |= set(o, "access_applied", jtrue());
        if (m->stream_window)
            r |= set(o, "stream_window", jint((int64_t)m->stream_window));
        if (m->request_window)
            r |= set(o, "request_window", jint((int64_t)m->request_window));
        return r | set_agreements(o, m);
    case TMSG_TUNNEL_REFUSED:
        r |= set(o, "code", jstr(m->refusal));
        r |= set(o, "message", jstr(m->message));
        return r;
    case TMSG_HTTP_REQUEST:
        r |= set(o, "request_id", jstr(m->request_id));
        r |= set_str_opt(o, "tunnel_id", m->tunnel_id);
        r |= set(o, "method", joctets_z(m->method));
        r |= set(o, "uri", joctets_z(m->uri));
        r |= set_fields(o, "headers", "header_order", &m->headers, m->header_strings);
        if (m->headers_more)
            r |= set(o, "headers_more", jtrue());
        r |= set(o, "body", encode_body(m));
        r |= set(o, "timestamp", jint((int64_t)m->timestamp));
        if (m->more)
            r |= set(o, "more", jtrue());
        return r;
    case TMSG_HTTP_RESPONSE:
        r |= set(o, "request_id", jstr(m->request_id));
        r |= set(o, "status_code", jint(m->status_code));
        if (m->reason)
            r |= set(o, "reason", joctets_z(m->reason));
        r |= set_fields(o, "headers", "header_order", &m->headers, m->header_strings);
        if (m->headers_more)
            r |= set(o, "headers_more", jtrue());
        r |= set(o, "body", encode_body(m));
        r |= set(o, "processing_time_ms", jint((int64_t)m->processing_time_ms));
        if (m->more)
            r |= set(o, "more", jtrue());
        return r;
    case TMSG_HTTP_REQUEST_HEADERS:
    case TMSG_HTTP_RESPONSE_HEADERS:
        r |= set(o, "request_id", jstr(m->request_id));
        r |= set(o, "seq", jint(m->seq));
        r |= set_fields(o, "headers", "header_order", &m->headers, m->header_strings);
        r |= set(o, "headers_more", json_object_new_boolean(m->headers_more));
        return r;
    case TMSG_CANCEL:
        r |= set(o, "request_id", jstr(m->request_id));
        r |= set_str_opt(o, "reason", m->reason);
        return r;
    case TMSG_HTTP_REQUEST_BODY:
    case TMSG_HTTP_RESPONSE_BODY:
        r |= set(o, "request_id", jstr(m->request_id));
        r |= set(o, "seq", jint(m->seq));
        r |= set(o, "body", encode_body(m));
        r |= set(o, "more", json_object_new_boolean(m->more));
        if (m->trailers.n > 0)
            r |= set_fields(o, "trailers", "trailer_order", &m->trailers, m->header_strings);
        return r;
    case TMSG_WINDOW:
        r |= set(o, "request_id", jstr(m->request_id));
        r |= set(o, "increment", jint((int64_t)m->increment));
        return r;
    case TMSG_ACK:
        if (m->ack_of != TMSG_UNKNOWN)
            r |= set(o, "of", json_object_new_string(tmsg_type_name(m->ack_of)));
        if (m->request_id)
            r |= set(o, "request_id", jstr(m->request_id));
        if (m->seq) /* a body piece or a head continuation */
            r |= set(o, "seq", jint(m->seq));
        return r;
    case TMSG_ERROR:
        r |= m->request_id ? set(o, "request_id", jstr(m->request_id)) : set_null(o, "request_id");
        r |= set(o, "code", json_object_new_string(tmsg_error_name(m->code)));
        r |= set(o, "message", jstr(m->message));
        return r;
    default:
        return -1;
    }
}

int tmsg_encode_to(const tmsg *m, tmsg_text_fn send, void *ud)
{
    if (!m || m->type == TMSG_UNKNOWN)
        return -1;
    json_object *o = json_object_new_object();
    if (!o)
        return -1;
    int rc = -1;
    if (set(o, "type", encode_type(m)) == 0 && encode_fields(o, m) == 0) {
        size_t n = 0;
        const char *text = json_object_to_json_string_length(o, OUT_FLAGS, &n);
        if (text)
            rc = send(ud, text, n);
    }
    json_object_put(o);
    return rc;
}

/* tmsg_encode's copy of the text. */
typedef struct text_copy {
    char *text;
    size_t len;
} text_copy;

static int copy_text(void *ud, const char *text, size_t len)
{
    text_copy *c = ud;
    c->text = malloc(len + 1);
    if (!c->text)
        return -1;
    memcpy(c->text, text, len);
    c->text[len] = '\0';
    c->len = len;
    return 0;
}

char *tmsg_encode(const tmsg *m, size_t *len)
{
    text_copy c = {NULL, 0};
    if (tmsg_encode_to(m, copy_text, &c) != 0)
        return NULL;
    if (len)
        *len = c.len;
    return c.text;
}

/* ------------------------------------------------------------------ large heads */

/* Bytes of s[0..n) as a JSON string body (without the quotes), as json-c writes it with
 * OUT_FLAGS: '"' and '\\' and the short escapes take 2, other controls 6 ("\u00XX"). */
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

/* Whether joctets sends these octets as a plain string: well-formed UTF-8. */
static bool plain_form(const char *s, size_t n)
{
    return utf8_valid((const uint8_t *)s, n);
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

size_t tmsg_header_encoded_bound(const http_header *e)
{
    /* escaped: 6n + 6 + 6v + 2; as {"b64":...}: 6n + 6 + 4 * ceil(v / 3) + 10 <= 6n + 6v + 19 */
    return 6 * (e->nlen + e->vlen) + 19;
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

/* An upper bound of what headers_room measures, for an http_request or http_response head,
 * without encoding it: every member's key, punctuation, number and boolean within
 * HEAD_FIXED_MAX bytes, and each string field of n octets within 6n + 12 (escaped JSON: at most
 * "\u00XX" per octet, plus quotes; or {"b64":"..."}: 4/3 n + 10). 0 for other types. */
#define HEAD_FIXED_MAX 512
static size_t head_fixed_bound(const tmsg *m)
{
    if (m->type != TMSG_HTTP_REQUEST && m->type != TMSG_HTTP_RESPONSE)
        return 0;
    const char *s[] = {m->request_id, m->tunnel_id, m->method, m->uri, m->reason};
    size_t n = HEAD_FIXED_MAX;
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        n += s[i] ? 6 * strlen(s[i]) + 12 : 0;
    return n;
}

/* "header_order":[...] when set_headers writes it: the key and brackets, and per line a member
 * index (a message of TTF_JSON_MAX_MSG bytes has fewer than 10^5 members) and its comma. */
#define ORDER_FIXED ((size_t)18)
#define ORDER_PER_LINE ((size_t)6)

/* How many entries of h from `from` on fit in room bytes ("{}", commas and the order list
 * included). */
static size_t headers_fit(const http_headers *h, size_t from, size_t room)
{
    size_t used = 2 + ORDER_FIXED, i = from;
    for (; i < h->n; i++) { /* the usual head: every line fits by its bound */
        size_t e = tmsg_header_encoded_bound(&h->v[i]) + 1 + ORDER_PER_LINE;
        if (used + e > room)
            break;
        used += e;
    }
    if (i == h->n)
        return i - from;
    used = 2 + ORDER_FIXED, i = from;
    for (; i < h->n; i++) {
        size_t e = tmsg_header_encoded_max(&h->v[i]) + 1 + ORDER_PER_LINE;
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
    size_t body = m->body_len ? b64_encoded_len(m->body_len) : 0;
    /* The common case, one message, decided from a bound first: it never says "fits" when the
     * measured room would not (room from the bound <= room measured, and headers_fit grows with
     * room), and saves encoding the head twice. */
    size_t bound = head_fixed_bound(m);
    if (bound && bound + 64 < TTF_JSON_MAX_MSG && TTF_JSON_MAX_MSG - bound - 64 > body &&
        headers_fit(&m->headers, 0, TTF_JSON_MAX_MSG - bound - 64 - body) == m->headers.n)
        return send(ud, m) == 0 ? 1 : -1;
    size_t room = headers_room(m);
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
    cont.header_strings = m->header_strings;
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
