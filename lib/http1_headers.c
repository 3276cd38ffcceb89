/* SPDX-License-Identifier: MIT */
/* http1_headers.c - the header list (see http1_headers.h). */
#include "http1_headers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http1_syntax.h"

void http_headers_init(http_headers *h)
{
    h->v = NULL;
    h->n = 0;
    h->cap = 0;
    h->arena = NULL;
}

static void free_entry(http_header *e)
{
    if (e->owned)
        free(e->name); /* value shares the block */
}

/* The entries live at the start of the arena block (http_headers_block). */
static bool v_in_arena(const http_headers *h)
{
    return h->v && (void *)h->v == (void *)h->arena;
}

void http_headers_free(http_headers *h)
{
    for (size_t i = 0; i < h->n; i++)
        free_entry(&h->v[i]);
    if (!v_in_arena(h))
        free(h->v);
    free(h->arena);
    http_headers_init(h);
}

int http_headers_reserve(http_headers *h, size_t n)
{
    if (h->cap - h->n >= n)
        return 0;
    size_t cap = h->cap ? h->cap : 16;
    while (cap - h->n < n)
        cap *= 2;
    http_header *v;
    if (v_in_arena(h)) { /* the block keeps the strings; the entries move out of it */
        v = malloc(cap * sizeof *v);
        if (v && h->n)
            memcpy(v, h->v, h->n * sizeof *v);
    } else {
        v = realloc(h->v, cap * sizeof *v);
    }
    if (!v)
        return -1;
    h->v = v;
    h->cap = cap;
    return 0;
}

char *http_headers_block(http_headers *h, size_t n, size_t bytes)
{
    if (h->v || h->arena || n == 0)
        return NULL;
    char *b = malloc(n * sizeof(http_header) + bytes);
    if (!b)
        return NULL;
    h->v = (http_header *)(void *)b;
    h->cap = n;
    h->arena = b;
    return b + n * sizeof(http_header);
}

static int add(http_headers *h, const char *name, size_t nlen, const char *value, size_t vlen,
               http_name_id id)
{
    if (!value)
        vlen = 0;
    if (http_headers_reserve(h, 1) != 0)
        return -1;
    char *b = malloc(nlen + vlen + 2);
    if (!b)
        return -1;
    if (nlen)
        memcpy(b, name, nlen);
    b[nlen] = '\0';
    if (vlen)
        memcpy(b + nlen + 1, value, vlen);
    b[nlen + 1 + vlen] = '\0';
    h->v[h->n++] = (http_header){
        .name = b, .value = b + nlen + 1, .nlen = nlen, .vlen = vlen, .id = id, .owned = true};
    return 0;
}

int http_headers_add(http_headers *h, const char *name, size_t nlen, const char *value, size_t vlen)
{
    return add(h, name, nlen, value, vlen, http_name_lookup(name, nlen));
}

int http_headers_add_id(http_headers *h, http_name_id id, const char *value, size_t vlen)
{
    const char *name = http_name_str(id);
    return add(h, name, strlen(name), value, vlen, id);
}

void http_headers_push_ref(http_headers *h, char *name, size_t nlen, char *value, size_t vlen,
                           http_name_id id)
{
    h->v[h->n++] = (http_header){
        .name = name, .value = value, .nlen = nlen, .vlen = vlen, .id = id, .owned = false};
}

size_t http_headers_line_bytes(const http_headers *h)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++)
        n += h->v[i].nlen + h->v[i].vlen + 3;
    return n;
}

int http_headers_copy(http_headers *dst, const http_headers *src)
{
    http_headers_init(dst);
    size_t total = 1;
    for (size_t i = 0; i < src->n; i++)
        total += src->v[i].nlen + src->v[i].vlen + 2;
    /* Exactly src->n slots (reserve's first block is 16): a copy is mostly kept, not grown (the
     * inspector keeps two per captured exchange: 1.2 KB each with 16 slots). One block for the
     * entries and the strings. */
    char *p = http_headers_block(dst, src->n ? src->n : 1, total);
    if (!p)
        return -1;
    for (size_t i = 0; i < src->n; i++) {
        const http_header *e = &src->v[i];
        char *n = p;
        memcpy(n, e->name, e->nlen + 1);
        char *v = n + e->nlen + 1;
        memcpy(v, e->value, e->vlen + 1);
        p = v + e->vlen + 1;
        http_headers_push_ref(dst, n, e->nlen, v, e->vlen, e->id);
    }
    return 0;
}

static bool same_name(const http_header *e, const char *name, size_t nlen, http_name_id id)
{
    if (id != HTTP_H_OTHER)
        return e->id == id;
    return e->id == HTTP_H_OTHER && e->nlen == nlen && strncasecmp(e->name, name, nlen) == 0;
}

const char *http_headers_get(const http_headers *h, const char *name)
{
    size_t nlen = strlen(name);
    http_name_id id = http_name_lookup(name, nlen);
    for (size_t i = 0; i < h->n; i++)
        if (same_name(&h->v[i], name, nlen, id))
            return h->v[i].value;
    return NULL;
}

const char *http_headers_get_id(const http_headers *h, http_name_id id)
{
    size_t i = http_headers_find_id(h, id, 0);
    return i < h->n ? h->v[i].value : NULL;
}

size_t http_headers_find_id(const http_headers *h, http_name_id id, size_t from)
{
    for (size_t i = from; i < h->n; i++)
        if (h->v[i].id == id)
            return i;
    return h->n;
}

size_t http_headers_count_id(const http_headers *h, http_name_id id)
{
    size_t c = 0;
    for (size_t i = 0; i < h->n; i++)
        c += h->v[i].id == id;
    return c;
}

void http_headers_remove_at(http_headers *h, size_t i)
{
    if (i >= h->n)
        return;
    free_entry(&h->v[i]);
    memmove(&h->v[i], &h->v[i + 1], (h->n - i - 1) * sizeof h->v[0]);
    h->n--;
}

void http_headers_remove_marked(http_headers *h, const bool *del)
{
    size_t k = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (del[i])
            free_entry(&h->v[i]);
        else
            h->v[k++] = h->v[i];
    }
    h->n = k;
}

static size_t remove_matching(http_headers *h, const char *name, size_t nlen, http_name_id id)
{
    size_t out = 0, removed = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (same_name(&h->v[i], name, nlen, id)) {
            free_entry(&h->v[i]);
            removed++;
        } else {
            h->v[out++] = h->v[i];
        }
    }
    h->n = out;
    return removed;
}

size_t http_headers_remove(http_headers *h, const char *name)
{
    size_t nlen = strlen(name);
    return remove_matching(h, name, nlen, http_name_lookup(name, nlen));
}

size_t http_headers_remove_id(http_headers *h, http_name_id id)
{
    if (id == HTTP_H_OTHER)
        return 0;
    return remove_matching(h, NULL, 0, id);
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

int http_headers_replace_at(http_headers *h, size_t i, const char *value, size_t vlen)
{
    if (i >= h->n)
        return -1;
    http_header *e = &h->v[i];
    char *b = malloc(e->nlen + vlen + 2);
    if (!b)
        return -1;
    memcpy(b, e->name, e->nlen + 1);
    if (vlen)
        memcpy(b + e->nlen + 1, value, vlen);
    b[e->nlen + 1 + vlen] = '\0';
    http_header ne = {.name = b,
                      .value = b + e->nlen + 1,
                      .nlen = e->nlen,
                      .vlen = vlen,
                      .id = e->id,
                      .owned = true};
    free_entry(e);
    *e = ne;
    return 0;
}

bool http_headers_has_token(const http_headers *h, const char *name, const char *token)
{
    size_t nlen = strlen(name);
    http_name_id id = http_name_lookup(name, nlen);
    for (size_t i = 0; i < h->n; i++)
        if (same_name(&h->v[i], name, nlen, id) &&
            http1_list_has(h->v[i].value, h->v[i].vlen, token))
            return true;
    return false;
}

int http_headers_content_length(const http_headers *h, uint64_t *out)
{
    int found = 0;
    for (size_t i = http_headers_find_id(h, HTTP_H_CONTENT_LENGTH, 0); i < h->n;
         i = http_headers_find_id(h, HTTP_H_CONTENT_LENGTH, i + 1)) {
        uint64_t v;
        if (http1_parse_content_length(h->v[i].value, h->v[i].vlen, &v) != 0)
            return HTTP_CL_BAD;
        if (found && v != *out)
            return HTTP_CL_DIFFERING;
        *out = v;
        found = 1;
    }
    return found;
}

/* v in decimal at buf (no NUL); returns the length (at most 20). */
static size_t u64_decimal(char *buf, uint64_t v)
{
    char rev[20];
    size_t n = 0;
    do {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = rev[n - 1 - i];
    return n;
}

int http_headers_one_content_length(http_headers *h, uint64_t *out)
{
    int rc = http_headers_content_length(h, out);
    if (rc != 1)
        return rc;
    size_t first = http_headers_find_id(h, HTTP_H_CONTENT_LENGTH, 0);
    http_header *e = &h->v[first];
    char n[24];
    size_t len = u64_decimal(n, *out); /* per message: no snprintf (~700 instructions) */
    n[len] = '\0';
    if (len != e->vlen || memcmp(n, e->value, e->vlen) != 0) {
        /* e->value holds every digit of the value at least once: n fits where it was */
        memcpy(e->value, n, len + 1);
        e->vlen = len;
    }
    for (size_t i = h->n; i-- > first + 1;)
        if (h->v[i].id == HTTP_H_CONTENT_LENGTH)
            http_headers_remove_at(h, i);
    return 1;
}
