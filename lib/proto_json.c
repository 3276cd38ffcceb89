/* SPDX-License-Identifier: MIT */
/* proto_json.c - JSON tunnel messages in (docs/protocol.md §1-2) over json-c (lib/json_text:
 * the texts jansson accepted before, no more, no less), and the message tables; encoding is
 * proto_json_encode.c's. Decoding treats the text as hostile: every field is type-checked and every
 * string that ends up in an HTTP head (method, uri, header names and values, reason) is checked for
 * injection bytes. HTTP octets travel as JSON strings when they are UTF-8 and as {"b64":"..."}
 * otherwise, so no octet is ever re-encoded. */
#include "proto_json.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64.h"
#include "json_text.h"

static const struct {
    tmsg_type type;
    const char *name;
} type_names[] = {
    {TMSG_READY, "ready"},
    {TMSG_CONNECTION_ESTABLISHED, "connection_established"},
    {TMSG_PING, "ping"},
    {TMSG_PONG, "pong"},
    {TMSG_HTTP_REQUEST, "http_request"},
    {TMSG_HTTP_REQUEST_BODY, "http_request_body"},
    {TMSG_HTTP_RESPONSE, "http_response"},
    {TMSG_HTTP_RESPONSE_BODY, "http_response_body"},
    {TMSG_ERROR, "error"},
    {TMSG_TUNNEL_REFUSED, "tunnel_refused"},
    {TMSG_ACK, "ack"},
    {TMSG_CANCEL, "cancel"},
    {TMSG_HTTP_REQUEST_HEADERS, "http_request_headers"},
    {TMSG_HTTP_RESPONSE_HEADERS, "http_response_headers"},
    {TMSG_WINDOW, "window"},
};

static const struct {
    const char *name;
    tmsg_error_code code;
    int status;
} error_names[] = {
    {"invalid_request", TERR_INVALID_REQUEST, 400},
    {"timeout", TERR_TIMEOUT, 504},
    {"local_service_unavailable", TERR_LOCAL_UNAVAILABLE, 502},
    {"internal_error", TERR_INTERNAL, 502},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *tmsg_type_name(tmsg_type t)
{
    for (size_t i = 0; i < COUNT(type_names); i++) {
        if (type_names[i].type == t)
            return type_names[i].name;
    }
    return "unknown";
}

const char *tmsg_error_name(tmsg_error_code c)
{
    for (size_t i = 0; i < COUNT(error_names); i++) {
        if (error_names[i].code == c)
            return error_names[i].name;
    }
    return "internal_error";
}

int tmsg_error_status(tmsg_error_code c)
{
    for (size_t i = 0; i < COUNT(error_names); i++) {
        if (error_names[i].code == c)
            return error_names[i].status;
    }
    return 502;
}

void tmsg_init(tmsg *m, tmsg_type type)
{
    memset(m, 0, sizeof *m);
    m->type = type;
    http_headers_init(&m->headers);
    http_headers_init(&m->trailers);
}

void tmsg_free(tmsg *m)
{
    if (!m)
        return;
    free(m->tunnel_id);
    free(m->connection_id);
    free(m->public_url);
    free(m->subdomain_url);
    free(m->path_based_url);
    free(m->takeover);
    free(m->request_id);
    free(m->method);
    free(m->uri);
    free(m->body);
    free(m->message);
    free(m->subdomain);
    free(m->agent_key);
    free(m->refusal);
    free(m->reason);
    for (size_t i = 0; i < m->ntunnels; i++) {
        tmsg_tunnel *t = &m->tunnels[i];
        free(t->name);
        free(t->subdomain);
        free(t->tunnel_id);
        free(t->public_url);
        free(t->subdomain_url);
        free(t->path_based_url);
        free(t->access);
    }
    free(m->tunnels);
    free(m->access);
    http_headers_free(&m->headers);
    http_headers_free(&m->trailers);
    tmsg_init(m, TMSG_UNKNOWN);
}

/* ------------------------------------------------------------------ decoding */

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_tchar((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* Field value and reason-phrase: no CTL but HTAB (CR/LF would split the head, NUL would cut
 * it). obs-text (>= 0x80) is allowed (RFC 9110 §5.5, RFC 9112 §4). */
static bool is_field_value(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

/* Request target: non-empty, no space or CTL (obs-text passes byte for byte). */
static bool is_target(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/* The member `key` of object o; NULL when absent or null (json-c's null is NULL). */
static json_object *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static bool is_string(json_object *v)
{
    return v && json_object_is_type(v, json_type_string);
}

/* The message type the string value v names ("type", ack's "of"); TMSG_UNKNOWN when v is not a
 * string or names none. */
static tmsg_type type_of(json_object *v)
{
    for (size_t i = 0; is_string(v) && i < COUNT(type_names); i++) {
        if (strcmp(json_object_get_string(v), type_names[i].name) == 0)
            return type_names[i].type;
    }
    return TMSG_UNKNOWN;
}

/* A malloc'd NUL-terminated copy of string value v (its length in *len when len). */
static char *string_copy(json_object *v, size_t *len)
{
    size_t n = (size_t)json_object_get_string_len(v);
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    memcpy(s, json_object_get_string(v), n);
    s[n] = '\0';
    if (len)
        *len = n;
    return s;
}

/* HTTP octets from a JSON value: a string (its UTF-8 octets, upstream's form) or the object
 * {"b64":"<standard base64>"} (any octets). A malloc'd NUL-terminated copy in *dst, its length
 * in *len (the octets may hold NUL: the callers' checks refuse it). 0 or -1 (other shapes, bad
 * base64, ENOMEM). */
static int octets_of(json_object *v, char **dst, size_t *len)
{
    if (is_string(v)) {
        *dst = string_copy(v, len);
        return *dst ? 0 : -1;
    }
    if (!v || !json_object_is_type(v, json_type_object) || json_object_object_length(v) != 1)
        return -1;
    json_object *b = member(v, "b64");
    if (!is_string(b))
        return -1;
    size_t n = (size_t)json_object_get_string_len(b);
    uint8_t *buf = malloc(b64_decoded_max(n) + 1);
    if (!buf)
        return -1;
    size_t got = 0;
    if (n > 0 && b64_decode(json_object_get_string(b), n, buf, &got) != 0) {
        free(buf);
        return -1;
    }
    buf[got] = '\0';
    *dst = (char *)buf;
    *len = got;
    return 0;
}

/* The octet field `key` (string or {"b64":...}) into *dst when check accepts it. Absent or null:
 * 0 when optional, else -1. */
static int get_octets(json_object *o, const char *key, bool required,
                      bool (*check)(const char *, size_t), char **dst)
{
    json_object *v = member(o, key);
    if (!v)
        return required ? -1 : 0;
    char *s = NULL;
    size_t n = 0;
    if (octets_of(v, &s, &n) != 0)
        return -1;
    if (!check(s, n)) {
        free(s);
        return -1;
    }
    *dst = s;
    return 0;
}

/* Copies the string field `key` into *dst. Absent or null: 0 when optional, else -1. */
static int get_str(json_object *o, const char *key, bool required, char **dst)
{
    json_object *v = member(o, key);
    if (!v)
        return required ? -1 : 0;
    if (!is_string(v))
        return -1;
    *dst = string_copy(v, NULL);
    return *dst ? 0 : -1;
}

/* Whether v is an integer (json-c holds every integer json_text accepts as an int64). */
static bool is_integer(json_object *v)
{
    return v && json_object_is_type(v, json_type_int);
}

/* Non-negative integer field; absent or null keeps *dst. */
static int get_uint(json_object *o, const char *key, uint64_t max, uint64_t *dst)
{
    json_object *v = member(o, key);
    if (!v)
        return 0;
    if (!is_integer(v))
        return -1;
    int64_t i = json_object_get_int64(v);
    if (i < 0 || (uint64_t)i > max)
        return -1;
    *dst = (uint64_t)i;
    return 0;
}

static int get_bool(json_object *o, const char *key, bool *dst)
{
    json_object *v = member(o, key);
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_boolean))
        return -1;
    *dst = json_object_get_boolean(v);
    return 0;
}

/* Any JSON value of `key` as compact text (absent or null: none). Its meaning is checked by
 * the module that reads it (ready's access: lib/access). */
static int get_json_text(json_object *o, const char *key, char **dst)
{
    json_object *v = member(o, key);
    if (!v)
        return 0;
    const char *text =
        json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    *dst = text ? strdup(text) : NULL;
    return *dst ? 0 : -1;
}

/* One header value (string or octet object) appended to h under name. */
static int add_value(http_headers *h, const char *name, size_t nlen, json_object *val)
{
    if (is_string(val)) { /* copied once, by http_headers_add */
        const char *v = json_object_get_string(val);
        size_t vl = (size_t)json_object_get_string_len(val);
        return is_field_value(v, vl) ? http_headers_add(h, name, nlen, v, vl) : -1;
    }
    char *s = NULL;
    size_t n = 0;
    if (octets_of(val, &s, &n) != 0)
        return -1;
    int rc = is_field_value(s, n) ? http_headers_add(h, name, nlen, s, n) : -1;
    free(s);
    return rc;
}

/* headers: {"name": ["v1",{"b64":"..."}], "other": "single"}; absent or null is an empty list.
 * The lines go into h member by member; starts[k] (when given: one slot per member) is where
 * member k's lines begin, and *members their count. */
static int get_headers_grouped(json_object *hs, http_headers *h, size_t *starts, size_t *members)
{
    *members = 0;
    /* the members in their order (json-c's list; not its iterator, whose name jansson shares) */
    for (struct lh_entry *e = lh_table_head(json_object_get_object(hs)); e; e = lh_entry_next(e)) {
        const char *name = (const char *)lh_entry_k(e);
        json_object *val = (json_object *)lh_entry_v(e);
        size_t nlen = strlen(name); /* keys with NUL are refused by lib/json_text */
        if (!is_token(name, nlen))
            return -1;
        if (starts)
            starts[*members] = h->n;
        ++*members;
        if (!val || !json_object_is_type(val, json_type_array)) {
            if (add_value(h, name, nlen, val) != 0)
                return -1;
            continue;
        }
        size_t n = json_object_array_length(val);
        for (size_t i = 0; i < n; i++) {
            if (add_value(h, name, nlen, json_object_array_get_idx(val, i)) != 0)
                return -1;
        }
    }
    return 0;
}

/* h's lines (grouped by member, starts[k] where member k begins) put back in the order
 * "header_order" gives: one member index per line, each member's lines used exactly once. */
static int apply_order(json_object *order, http_headers *h, const size_t *starts, size_t members)
{
    if (!json_object_is_type(order, json_type_array) || json_object_array_length(order) != h->n)
        return -1;
    size_t *next = calloc(members ? members : 1, sizeof *next);
    http_headers out;
    http_headers_init(&out);
    int rc = next && http_headers_reserve(&out, h->n) == 0 ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < h->n; i++) {
        json_object *v = json_object_array_get_idx(order, i);
        int64_t k = is_integer(v) ? json_object_get_int64(v) : -1;
        if (k < 0 || (uint64_t)k >= members) {
            rc = -1;
            break;
        }
        size_t end = (size_t)k + 1 < members ? starts[k + 1] : h->n;
        if (starts[k] + next[k] >= end) { /* more lines than the member has */
            rc = -1;
            break;
        }
        const http_header *e = &h->v[starts[k] + next[k]++];
        rc = http_headers_add(&out, e->name, e->nlen, e->value, e->vlen);
    }
    free(next);
    if (rc != 0) {
        http_headers_free(&out);
        return -1;
    }
    http_headers_free(h);
    *h = out;
    return 0;
}

/* A field section: `key` (headers or trailers), and `order_key` (header_order, trailer_order)
 * when the sender gave one (docs/protocol.md §2: the lines in the order they were sent, across
 * names). */
static int get_fields(json_object *o, const char *key, const char *order_key, http_headers *h)
{
    json_object *hs = member(o, key);
    json_object *order = member(o, order_key);
    if (!hs)
        return order ? -1 : 0;
    if (!json_object_is_type(hs, json_type_object))
        return -1;
    size_t members = 0;
    if (!order)
        return get_headers_grouped(hs, h, NULL, &members);
    size_t *starts = calloc((size_t)json_object_object_length(hs) + 1, sizeof *starts);
    int rc = starts ? get_headers_grouped(hs, h, starts, &members) : -1;
    if (rc == 0)
        rc = apply_order(order, h, starts, members);
    free(starts);
    return rc;
}

static int get_headers(json_object *o, http_headers *h)
{
    return get_fields(o, "headers", "header_order", h);
}

/* ready, connection_established: relay_interim, relay_trailers. */
static int get_relays(json_object *o, tmsg *m, const char **err)
{
    if (get_bool(o, "relay_interim", &m->relay_interim) != 0 ||
        get_bool(o, "relay_trailers", &m->relay_trailers) != 0)
        return *err = "bad relay_interim or relay_trailers", -1;
    return 0;
}

/* body: standard padded base64; absent, null or "" is empty. */
static int get_body(json_object *o, tmsg *m)
{
    json_object *v = member(o, "body");
    if (!v)
        return 0;
    if (!is_string(v))
        return -1;
    size_t n = (size_t)json_object_get_string_len(v);
    if (n == 0)
        return 0;
    uint8_t *buf = malloc(b64_decoded_max(n));
    if (!buf)
        return -1;
    size_t got = 0;
    if (b64_decode(json_object_get_string(v), n, buf, &got) != 0) {
        free(buf);
        return -1;
    }
    if (got == 0) {
        free(buf);
        return 0;
    }
    m->body = buf;
    m->body_len = got;
    return 0;
}

static int get_request_id(json_object *o, bool required, tmsg *m)
{
    if (get_str(o, "request_id", required, &m->request_id) != 0)
        return -1;
    if (m->request_id) {
        size_t n = strlen(m->request_id);
        if (n == 0 || n > TTF_JSON_REQUEST_ID_MAX)
            return -1;
    }
    return 0;
}

static int get_seq(json_object *o, tmsg *m)
{
    uint64_t seq = 0;
    if (get_uint(o, "seq", UINT32_MAX, &seq) != 0 || seq == 0) /* absent or null: 0, refused */
        return -1;
    m->seq = (uint32_t)seq;
    return 0;
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= TTF_JSON_TUNNEL_NAME_MAX;
}

/* tunnels: [{...}, ...] of ready (established false) or connection_established; absent or null
 * is none. An empty array, more than TTF_JSON_MAX_TUNNELS entries, or an entry that is not an
 * object with the required fields is refused. */
static int get_tunnels(json_object *o, bool established, tmsg *m)
{
    json_object *arr = member(o, "tunnels");
    if (!arr)
        return 0;
    if (!json_object_is_type(arr, json_type_array))
        return -1;
    size_t n = json_object_array_length(arr);
    if (n == 0 || n > TTF_JSON_MAX_TUNNELS)
        return -1;
    m->tunnels = calloc(n, sizeof *m->tunnels);
    if (!m->tunnels)
        return -1;
    m->ntunnels = n;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        tmsg_tunnel *t = &m->tunnels[i];
        if (!e || !json_object_is_type(e, json_type_object))
            return -1;
        if (get_str(e, "name", !established, &t->name) != 0 || (t->name && !name_ok(t->name)))
            return -1;
        if (!established) {
            if (get_str(e, "subdomain", false, &t->subdomain) != 0 ||
                get_str(e, "tunnel_id", false, &t->tunnel_id) != 0 ||
                get_json_text(e, "access", &t->access) != 0)
                return -1;
            continue;
        }
        if (get_str(e, "tunnel_id", true, &t->tunnel_id) != 0 ||
            get_str(e, "public_url", true, &t->public_url) != 0 ||
            get_str(e, "subdomain_url", false, &t->subdomain_url) != 0 ||
            get_str(e, "path_based_url", false, &t->path_based_url) != 0 ||
            get_bool(e, "access_applied", &t->access_applied) != 0)
            return -1;
    }
    return 0;
}

static int decode_fields(json_object *o, tmsg *m, const char **err)
{
    switch (m->type) {
    case TMSG_PING:
    case TMSG_PONG:
        return 0;
    case TMSG_READY:
        if (get_str(o, "tunnel_id", false, &m->tunnel_id) != 0)
            return *err = "bad tunnel_id", -1;
        if (get_str(o, "subdomain", false, &m->subdomain) != 0)
            return *err = "bad subdomain", -1;
        if (get_str(o, "agent_key", false, &m->agent_key) != 0 ||
            (m->agent_key && strlen(m->agent_key) > TTF_AGENT_KEY_MAX))
            return *err = "bad agent_key", -1;
        if (get_str(o, "takeover", false, &m->takeover) != 0)
            return *err = "bad takeover", -1;
        if (get_tunnels(o, false, m) != 0)
            return *err = "bad tunnels", -1;
        if (get_json_text(o, "access", &m->access) != 0)
            return *err = "bad access", -1;
        if (get_bool(o, "stream_windows", &m->stream_windows) != 0)
            return *err = "bad stream_windows", -1;
        if (get_bool(o, "request_windows", &m->request_windows) != 0)
            return *err = "bad request_windows", -1;
        if (get_uint(o, "request_window", UINT32_MAX, &m->request_window) != 0)
            return *err = "bad request_window", -1;
        return get_relays(o, m, err);
    case TMSG_CONNECTION_ESTABLISHED:
        if (get_str(o, "connection_id", true, &m->connection_id) != 0)
            return *err = "missing connection_id", -1;
        if (get_str(o, "tunnel_id", true, &m->tunnel_id) != 0)
            return *err = "missing tunnel_id", -1;
        if (get_str(o, "public_url", true, &m->public_url) != 0)
            return *err = "missing public_url", -1;
        if (get_str(o, "subdomain_url", false, &m->subdomain_url) != 0 ||
            get_str(o, "path_based_url", false, &m->path_based_url) != 0)
            return *err = "bad url", -1;
        if (get_str(o, "message", false, &m->message) != 0)
            return *err = "bad message", -1;
        if (get_str(o, "takeover", false, &m->takeover) != 0 ||
            get_uint(o, "max_lifetime_s", UINT32_MAX, &m->max_lifetime_s) != 0)
            return *err = "bad takeover", -1;
        if (get_tunnels(o, true, m) != 0)
            return *err = "bad tunnels", -1;
        if (get_bool(o, "access_applied", &m->access_applied) != 0)
            return *err = "bad access_applied", -1;
        if (get_uint(o, "stream_window", UINT32_MAX, &m->stream_window) != 0)
            return *err = "bad stream_window", -1;
        if (get_uint(o, "request_window", UINT32_MAX, &m->request_window) != 0)
            return *err = "bad request_window", -1;
        return get_relays(o, m, err);
    case TMSG_TUNNEL_REFUSED:
        if (get_str(o, "code", true, &m->refusal) != 0)
            return *err = "missing code", -1;
        if (get_str(o, "message", true, &m->message) != 0)
            return *err = "missing message", -1;
        return 0;
    case TMSG_HTTP_REQUEST:
        if (get_request_id(o, true, m) != 0)
            return *err = "missing request_id", -1;
        if (get_octets(o, "method", true, is_token, &m->method) != 0)
            return *err = "bad method", -1;
        if (get_octets(o, "uri", true, is_target, &m->uri) != 0)
            return *err = "bad uri", -1;
        if (get_uint(o, "timestamp", UINT64_MAX, &m->timestamp) != 0)
            return *err = "bad timestamp", -1;
        if (get_str(o, "tunnel_id", false, &m->tunnel_id) != 0)
            return *err = "bad tunnel_id", -1;
        break;
    case TMSG_HTTP_RESPONSE: {
        if (get_request_id(o, true, m) != 0)
            return *err = "missing request_id", -1;
        json_object *sc = member(o, "status_code");
        if (!is_integer(sc) || json_object_get_int64(sc) < 100 || json_object_get_int64(sc) > 999)
            return *err = "bad status_code", -1;
        m->status_code = (int)json_object_get_int64(sc);
        if (get_uint(o, "processing_time_ms", UINT64_MAX, &m->processing_time_ms) != 0)
            return *err = "bad processing_time_ms", -1;
        if (get_octets(o, "reason", false, is_field_value, &m->reason) != 0)
            return *err = "bad reason", -1;
        break;
    }
    case TMSG_HTTP_REQUEST_HEADERS:
    case TMSG_HTTP_RESPONSE_HEADERS:
        if (get_request_id(o, true, m) != 0)
            return *err = "missing request_id", -1;
        if (get_seq(o, m) != 0)
            return *err = "bad seq", -1;
        if (get_headers(o, &m->headers) != 0)
            return *err = "bad headers", -1;
        if (get_bool(o, "headers_more", &m->headers_more) != 0)
            return *err = "bad headers_more", -1;
        return 0;
    case TMSG_CANCEL:
        if (get_request_id(o, true, m) != 0)
            return *err = "missing request_id", -1;
        if (get_str(o, "reason", false, &m->reason) != 0)
            return *err = "bad reason", -1;
        return 0;
    case TMSG_HTTP_REQUEST_BODY:
    case TMSG_HTTP_RESPONSE_BODY:
        if (get_request_id(o, true, m) != 0)
            return *err = "missing request_id", -1;
        if (get_seq(o, m) != 0)
            return *err = "bad seq", -1;
        if (get_bool(o, "more", &m->more) != 0)
            return *err = "bad more", -1;
        if (get_body(o, m) != 0)
            return *err = "bad body", -1;
        if (get_fields(o, "trailers", "trailer_order", &m->trailers) != 0)
            return *err = "bad trailers", -1;
        if (m->more && m->trailers.n > 0) /* a trailer section ends the body */
            return *err = "trailers before the end of the body", -1;
        return 0;
    case TMSG_WINDOW:
        if (get_request_id(o, true, m) != 0)
            return *err = "missing request_id", -1;
        if (!member(o, "increment") || get_uint(o, "increment", UINT32_MAX, &m->increment) != 0 ||
            m->increment == 0)
            return *err = "bad increment", -1;
        return 0;
    case TMSG_ACK: {
        if (get_request_id(o, false, m) != 0)
            return *err = "bad request_id", -1;
        uint64_t seq = 0;
        if (get_uint(o, "seq", UINT32_MAX, &seq) != 0)
            return *err = "bad seq", -1;
        m->seq = (uint32_t)seq;
        m->ack_of = type_of(member(o, "of"));
        /* seq names a body piece or a head continuation: kept for those only, so that a decoded
         * ack encodes back to the same message */
        if (m->ack_of != TMSG_HTTP_RESPONSE_BODY && m->ack_of != TMSG_HTTP_REQUEST_BODY &&
            m->ack_of != TMSG_HTTP_RESPONSE_HEADERS && m->ack_of != TMSG_HTTP_REQUEST_HEADERS)
            m->seq = 0;
        return 0;
    }
    case TMSG_ERROR: {
        if (get_request_id(o, false, m) != 0)
            return *err = "bad request_id", -1;
        json_object *c = member(o, "code");
        if (!is_string(c))
            return *err = "missing code", -1;
        for (size_t i = 0; i < COUNT(error_names); i++) {
            if (strcmp(json_object_get_string(c), error_names[i].name) == 0)
                m->code = error_names[i].code;
        }
        if (m->code == TERR_NONE)
            return *err = "unknown error code", -1;
        if (get_str(o, "message", false, &m->message) != 0)
            return *err = "bad message", -1;
        return 0;
    }
    default:
        return *err = "unknown type", -1;
    }
    /* http_request / http_response share the rest */
    if (get_headers(o, &m->headers) != 0)
        return *err = "bad headers", -1;
    if (get_bool(o, "more", &m->more) != 0)
        return *err = "bad more", -1;
    if (get_bool(o, "headers_more", &m->headers_more) != 0)
        return *err = "bad headers_more", -1;
    if (get_body(o, m) != 0)
        return *err = "bad body", -1;
    if (m->headers_more && m->body_len > 0) /* pieces follow only after the last fields */
        return *err = "body before the end of the head", -1;
    return 0;
}

_Static_assert(JSON_TEXT_MAX_TOKENS == 524288, "TMSG_ERR_TOO_MANY_TOKENS names the limit");

char *tmsg_request_id_of(const char *json, size_t len, tmsg_type *type)
{
    *type = TMSG_UNKNOWN;
    json_object *o = json_text_parse_object_loose(json, len);
    if (!o)
        return NULL;
    *type = type_of(member(o, "type"));
    tmsg m;
    tmsg_init(&m, TMSG_UNKNOWN);
    char *rid = NULL;
    if (get_request_id(o, true, &m) == 0) {
        rid = m.request_id;
        m.request_id = NULL;
    }
    tmsg_free(&m);
    json_object_put(o);
    return rid;
}

int tmsg_decode(const char *json, size_t len, tmsg *out, const char **err)
{
    const char *dummy;
    if (!err)
        err = &dummy;
    *err = NULL;
    tmsg_init(out, TMSG_UNKNOWN);
    json_text_status st;
    json_object *o = json_text_parse_object(json, len, 0, &st);
    if (!o) {
        *err = st == JSON_TEXT_NOT_OBJECT ? "not an object"
               : st == JSON_TEXT_TOO_MANY ? TMSG_ERR_TOO_MANY_TOKENS
                                          : "invalid JSON";
        return st == JSON_TEXT_TOO_MANY ? TMSG_TOO_MANY_TOKENS : -1;
    }
    int rc = -1;
    json_object *t = member(o, "type");
    if (!is_string(t)) {
        *err = "missing type";
        goto done;
    }
    out->type = type_of(t);
    if (out->type == TMSG_UNKNOWN) {
        *err = "unknown type";
        goto done;
    }
    rc = decode_fields(o, out, err);
done:
    json_object_put(o);
    if (rc != 0) {
        tmsg_type t_keep = out->type;
        tmsg_free(out);
        out->type = t_keep; /* lets the caller tell "unknown type" from a bad known one */
    }
    return rc;
}
