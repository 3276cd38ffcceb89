/* SPDX-License-Identifier: MIT */
/* fake_link.h - a mux_link (server/mux.h) that records what a mux sends, and a stream owner
 * that records the upcalls it gets, for the unit tests of the muxes and of pconn. Header-only:
 * each test program includes it once. */
#ifndef TEST_FAKE_LINK_H
#define TEST_FAKE_LINK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mux.h"
#include "proto_bin.h"

#define FAKE_MAX_MSGS 512

typedef struct fake_msg {
    bool text;
    uint8_t *data;
    size_t len;
} fake_msg;

typedef struct fake_link {
    fake_msg msgs[FAKE_MAX_MSGS];
    size_t n;
    size_t pending; /* what pending() answers */
    bool paused;
    int refuse; /* send_* return -1 while set */
} fake_link;

static inline int fake_send_binary(void *ud, const void *hdr, size_t hlen, const void *data,
                                   size_t len)
{
    fake_link *f = ud;
    if (f->refuse || f->n >= FAKE_MAX_MSGS)
        return -1;
    fake_msg *m = &f->msgs[f->n++];
    m->text = false;
    m->len = hlen + len;
    m->data = malloc(m->len + 1);
    memcpy(m->data, hdr, hlen);
    if (len)
        memcpy(m->data + hlen, data, len);
    m->data[m->len] = 0;
    return 0;
}

static inline int fake_send_text(void *ud, const void *data, size_t len)
{
    fake_link *f = ud;
    if (f->refuse || f->n >= FAKE_MAX_MSGS)
        return -1;
    fake_msg *m = &f->msgs[f->n++];
    m->text = true;
    m->len = len;
    m->data = malloc(len + 1);
    memcpy(m->data, data, len);
    m->data[len] = 0;
    return 0;
}

static inline size_t fake_pending(void *ud)
{
    return ((fake_link *)ud)->pending;
}

static inline void fake_pause(void *ud, bool on)
{
    ((fake_link *)ud)->paused = on;
}

static inline mux_link fake_link_of(fake_link *f)
{
    mux_link l = {f, fake_send_binary, fake_send_text, fake_pending, 1u << 20, fake_pause};
    return l;
}

static inline void fake_clear(fake_link *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->msgs[i].data);
    f->n = 0;
}

/* The i-th recorded binary frame's fields. */
static inline uint8_t fake_type(const fake_link *f, size_t i)
{
    return f->msgs[i].data[0];
}
static inline uint8_t fake_flags(const fake_link *f, size_t i)
{
    return f->msgs[i].data[1];
}
static inline uint32_t fake_sid(const fake_link *f, size_t i)
{
    const uint8_t *d = f->msgs[i].data;
    return (uint32_t)d[2] << 24 | (uint32_t)d[3] << 16 | (uint32_t)d[4] << 8 | d[5];
}

/* ---- a stream owner recording upcalls ---- */

typedef struct owner {
    int heads, bodies, ends, fails, resumes;
    int status, last_known_fin;
    int64_t known_len;
    bool fin;
    char body[8192];
    size_t body_len;
    int fail_status;
    bool fail_protocol;
    char trailers[512];
    /* what to do inside an upcall */
    mux_stream *close_on_head; /* closes this stream from the head upcall */
    const mux_ops *ops;
} owner;

static inline void own_head(void *ud, int status, const char *reason, http_headers *h,
                            int64_t known_len, bool fin)
{
    (void)reason;
    (void)h;
    owner *o = ud;
    o->heads++;
    o->status = status;
    o->known_len = known_len;
    o->fin = fin;
    if (o->close_on_head) {
        mux_stream *s = o->close_on_head;
        o->close_on_head = NULL;
        o->ops->close(s, MUX_PROTOCOL, "closed from the head upcall");
    }
}

static inline void own_body(void *ud, const uint8_t *data, size_t len)
{
    owner *o = ud;
    o->bodies++;
    if (o->body_len + len <= sizeof o->body) {
        memcpy(o->body + o->body_len, data, len);
        o->body_len += len;
    }
}

static inline void own_end(void *ud, const http_headers *trailers)
{
    owner *o = ud;
    o->ends++;
    o->trailers[0] = '\0';
    for (size_t i = 0; trailers && i < trailers->n; i++) {
        size_t at = strlen(o->trailers);
        snprintf(o->trailers + at, sizeof o->trailers - at, "%s=%s;", trailers->v[i].name,
                 trailers->v[i].value);
    }
}

static inline void own_fail(void *ud, int status, const char *why, bool protocol)
{
    (void)why;
    owner *o = ud;
    o->fails++;
    o->fail_status = status;
    o->fail_protocol = protocol;
}

static inline void own_resume(void *ud)
{
    ((owner *)ud)->resumes++;
}

static const mux_upcalls owner_upcalls = {own_head, own_body, own_end, own_fail, own_resume};

#endif
