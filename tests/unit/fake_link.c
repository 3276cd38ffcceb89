/* SPDX-License-Identifier: MIT */
/* fake_link.c - the recording mux_link and stream owner (see fake_link.h). */
#include "fake_link.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

int fake_send_binary(void *ud, const void *hdr, size_t hlen, const void *data, size_t len)
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

int fake_send_text(void *ud, const void *data, size_t len)
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

size_t fake_pending(void *ud)
{
    return ((fake_link *)ud)->pending;
}

void fake_pause(void *ud, bool on)
{
    ((fake_link *)ud)->paused = on;
}

mux_link fake_link_of(fake_link *f)
{
    mux_link l = {f, fake_send_binary, fake_send_text, fake_pending, 1u << 20, fake_pause};
    return l;
}

mux *fake_mux_json(fake_link *f)
{
    mux_link l = fake_link_of(f);
    mux_ident id = {.log = NULL, .agent = "127.0.0.1", .tunnel = "t1"};
    mux *m = mux_json_new(&l, &id);
    assert_non_null(m);
    return m;
}

mux_stream *fake_open_get(mux *m, owner *own)
{
    http_headers h;
    http_headers_init(&h);
    http_headers_add(&h, "Host", 4, "x.localhost", 11);
    mux_request rq = {.method = "GET", .target = "/", .headers = &h};
    int status = 0;
    const char *why = NULL;
    mux_stream *s = m->ops->open(m, &rq, &owner_upcalls, own, &status, &why);
    http_headers_free(&h);
    return s;
}

void fake_clear(fake_link *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->msgs[i].data);
    f->n = 0;
}

uint8_t fake_type(const fake_link *f, size_t i)
{
    return f->msgs[i].data[0];
}

uint8_t fake_flags(const fake_link *f, size_t i)
{
    return f->msgs[i].data[1];
}

uint32_t fake_sid(const fake_link *f, size_t i)
{
    const uint8_t *d = f->msgs[i].data;
    return (uint32_t)d[2] << 24 | (uint32_t)d[3] << 16 | (uint32_t)d[4] << 8 | d[5];
}

void own_head(void *ud, int status, const char *reason, http_headers *h, int64_t known_len,
              bool fin)
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

void own_body(void *ud, const uint8_t *data, size_t len)
{
    owner *o = ud;
    o->bodies++;
    if (o->body_len + len <= sizeof o->body) {
        memcpy(o->body + o->body_len, data, len);
        o->body_len += len;
    }
}

void own_end(void *ud, const http_headers *trailers)
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

void own_fail(void *ud, int status, const char *why, bool protocol)
{
    owner *o = ud;
    snprintf(o->fail_why, sizeof o->fail_why, "%s", why ? why : "");
    o->fails++;
    o->fail_status = status;
    o->fail_protocol = protocol;
}

void own_resume(void *ud)
{
    ((owner *)ud)->resumes++;
}

size_t own_peer_window(void *ud)
{
    return ((owner *)ud)->reads_nothing ? 0 : SIZE_MAX;
}

const mux_upcalls owner_upcalls = {own_head, own_body,   own_end,
                                   own_fail, own_resume, own_peer_window};

void assert_agent_full(mux *m, const fake_link *link)
{
    size_t sent = link->n;
    assert_int_equal(mux_admit_stream(m), MUX_ADMIT_AGENT_FULL);
    assert_int_equal(link->n, sent); /* nothing of it reached the agent */
}
