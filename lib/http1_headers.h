/* SPDX-License-Identifier: MIT */
/* http1_headers.h - an ordered list of header fields that keeps repeats (several Set-Cookie stay
 * several entries) and the names as received. Known names carry their id (http1_names.h), so
 * the parser and the proxy rules look fields up without string compares.
 * Owns: every string it points to, either one block per added entry or, for a parsed head, one
 * arena block holding all of them; removing entries never invalidates the others. */
#ifndef TUNNEL_HTTP1_HEADERS_H
#define TUNNEL_HTTP1_HEADERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1_names.h"

typedef struct http_header {
    char *name;  /* NUL-terminated, spelled as received */
    char *value; /* NUL-terminated (a valid value holds no NUL) */
    size_t nlen, vlen;
    http_name_id id; /* HTTP_H_OTHER for names the table does not know */
    bool owned;      /* name and value live in one malloc'd block of their own */
} http_header;

typedef struct http_headers {
    http_header *v;
    size_t n, cap;
    char *arena; /* strings of a parsed head or a copy (one block, which may begin with v), or
                    NULL */
} http_headers;

void http_headers_init(http_headers *h);
void http_headers_free(http_headers *h); /* leaves h empty and reusable */
/* Room for n more entries without reallocating. 0 or -1 (ENOMEM). */
int http_headers_reserve(http_headers *h, size_t n);
/* Appends a copy of name[0..nlen) and value[0..vlen) (value NULL: empty). 0 or -1 (ENOMEM). */
int http_headers_add(http_headers *h, const char *name, size_t nlen, const char *value,
                     size_t vlen);
/* The same for a known name (id != HTTP_H_OTHER), written as http_name_str(id). */
int http_headers_add_id(http_headers *h, http_name_id id, const char *value, size_t vlen);
/* For parsers and copies: room for n entries and `bytes` bytes of strings in one allocation (h
 * owns it as its arena; adding past n entries moves the entries out of it). h must be empty and
 * n > 0; returns where the strings go, or NULL (h not empty, ENOMEM). */
char *http_headers_block(http_headers *h, size_t n, size_t bytes);
/* For parsers: appends an entry whose strings live in h->arena (the caller set it, or
 * http_headers_block did). Room must have been reserved. */
void http_headers_push_ref(http_headers *h, char *name, size_t nlen, char *value, size_t vlen,
                           http_name_id id);
/* The least octets h's fields take as HTTP/1.1 field lines: name, ":", value and CRLF each (a
 * head's size as a peer's limits count it, however it travelled). */
size_t http_headers_line_bytes(const http_headers *h);
/* A deep copy of src into dst (dst is initialised here; one block for all strings). 0 or -1. */
int http_headers_copy(http_headers *dst, const http_headers *src);

/* First value of a header (case-insensitive name), NULL when absent. */
const char *http_headers_get(const http_headers *h, const char *name);
const char *http_headers_get_id(const http_headers *h, http_name_id id);
/* Index of the first entry at or after from with that id, or h->n. */
size_t http_headers_find_id(const http_headers *h, http_name_id id, size_t from);
size_t http_headers_count_id(const http_headers *h, http_name_id id);

/* Removes every entry with that name; returns how many. */
size_t http_headers_remove(http_headers *h, const char *name);
size_t http_headers_remove_id(http_headers *h, http_name_id id);
/* Removes entry i (order of the others kept). */
void http_headers_remove_at(http_headers *h, size_t i);
/* Removes every entry i with del[i] (del has h->n members), the others kept in order: one pass,
 * however many go (remove_at each would move the rest every time). */
void http_headers_remove_marked(http_headers *h, const bool *del);
/* Replaces all entries of name with one entry at the end (added when absent). 0 or -1. */
int http_headers_set(http_headers *h, const char *name, const char *value);
/* Gives entry i the value value[0..vlen) in its place (name, id and order kept). 0, or -1
 * (ENOMEM, or no entry i) with the entry unchanged. */
int http_headers_replace_at(http_headers *h, size_t i, const char *value, size_t vlen);

/* The Content-Length the fields announce (RFC 9110 §8.6, RFC 9112 §6.3), its lines read in order:
 * each a valid value (http1_parse_content_length: 1*DIGIT, or a list of one value repeated) and
 * all of them the same. 1 with *out set; 0 when there is none; HTTP_CL_BAD at the first invalid
 * line, HTTP_CL_DIFFERING at the first line whose value differs from those before it. The one
 * reading of Content-Length for every program (parser, relays, agent, Lambda). */
#define HTTP_CL_BAD (-1)
#define HTTP_CL_DIFFERING (-2)
int http_headers_content_length(const http_headers *h, uint64_t *out);
/* As http_headers_content_length; on 1, the fields keep one Content-Length line, in the place of
 * the first, holding the value in decimal without leading zeros: repeated lines, a list ("5, 5")
 * or "05" become "5" (RFC 9110 §8.6 lets a recipient replace them with the single value). In
 * place: never allocates (the decimal is never longer than the value that held it). */
int http_headers_one_content_length(http_headers *h, uint64_t *out);

/* True when a comma-separated list header (Connection, Upgrade, Sec-WebSocket-Protocol) carries
 * token, compared case-insensitively; every header of that name is searched. */
bool http_headers_has_token(const http_headers *h, const char *name, const char *token);

#endif
