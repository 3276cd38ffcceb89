/* SPDX-License-Identifier: MIT */
/* http_handler_fixture.c - the http_handler test fixture (see http_handler_fixture.h). */
#include "http_handler_fixture.h"

int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || harness_init(&f->h, NULL) < 0 || harness_agent_connect(&f->h, CID, f->tid) < 0)
        return -1;
    *state = f;
    return 0;
}

int teardown(void **state)
{
    fixture *f = *state;
    harness_free(&f->h);
    free(f);
    return 0;
}

/* Sends m (freed here) from the agent on cid: now, or at the HTTP function's next poll. */
static void send_msg(harness *h, const char *cid, tmsg *m, bool later)
{
    char *text = harness_encode(m);
    tmsg_free(m);
    if (later)
        harness_agent_later(h, cid, text);
    else
        json_decref(harness_agent_send(h, cid, text));
    free(text);
}

/* m's body: a copy of len bytes of body. */
static void set_body(tmsg *m, const char *body, size_t len, bool more)
{
    m->body = len ? malloc(len) : NULL;
    if (len)
        memcpy(m->body, body, len);
    m->body_len = len;
    m->more = more;
}

static void respond_on(harness *h, const char *cid, const char *rid, int status,
                       const char *const *hdrs, const char *body, size_t len, bool more, bool later)
{
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_RESPONSE);
    m.request_id = strdup(rid);
    m.status_code = status;
    for (size_t i = 0; hdrs && hdrs[i]; i += 2)
        http_headers_add(&m.headers, hdrs[i], strlen(hdrs[i]), hdrs[i + 1], strlen(hdrs[i + 1]));
    set_body(&m, body, len, more);
    send_msg(h, cid, &m, later);
}

void response(harness *h, const char *rid, int status, const char *const *hdrs, const char *body,
              size_t len, bool more, bool later)
{
    respond_on(h, CID, rid, status, hdrs, body, len, more, later);
}

void piece(harness *h, const char *rid, uint32_t seq, const char *body, size_t len, bool more,
           bool later)
{
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_RESPONSE_BODY);
    m.request_id = strdup(rid);
    m.seq = seq;
    set_body(&m, body, len, more);
    send_msg(h, CID, &m, later);
}

/* The agent's cancel of rid (reason may be NULL). */
static void cancel(harness *h, const char *rid, const char *reason, bool later)
{
    tmsg c;
    tmsg_init(&c, TMSG_CANCEL);
    c.request_id = strdup(rid);
    c.reason = reason ? strdup(reason) : NULL;
    send_msg(h, CID, &c, later);
}

int collect(void *ud, const tmsg *m)
{
    struct collector *c = ud;
    size_t len;
    c->texts[(*c->n)++] = tmsg_encode(m, &len);
    return *c->n < 16 ? 0 : -1;
}

const char *const CL5[] = {"Content-Type", "text/plain", "Content-Length", "5", NULL};

const char *const CL10[] = {"Content-Length", "10", NULL};

void moved(harness *h, fixture *f, const char *cid, const char *rid)
{
    char err[256];
    if (strcmp(cid, CID) == 0) {
        store_delete_connection(&h->ws.st, CID, err, sizeof err);
        store_put_connection(&h->ws.st, "B=", f->tid, "", clock_wall_ms() / 1000, err, sizeof err);
        store_set_connection_access(&h->ws.st, "B=", "{}", err, sizeof err); /* its ready done */
        fake_mgmt_open(h->mgmt, "B=");
        return;
    }
    respond_on(h, "B=", rid, 200, NULL, "on B", 4, false, true);
}

void agent(harness *h, const char *cid, const tmsg *m, void *ud)
{
    fixture *f = ud;
    if (m->type == TMSG_HTTP_REQUEST_HEADERS) {
        f->head_parts_seen++;
        f->headers_seen += m->headers.n;
        return;
    }
    if (m->type == TMSG_HTTP_REQUEST_BODY) {
        f->pieces_seen++;
        f->body_seen += m->body_len;
        return;
    }
    if (m->type == TMSG_CANCEL)
        f->cancel_seen = true;
    if (m->type != TMSG_HTTP_REQUEST)
        return;
    f->requests++;
    f->body_seen += m->body_len;
    f->headers_seen += m->headers.n;
    snprintf(f->tunnel_seen, sizeof f->tunnel_seen, "%s", m->tunnel_id ? m->tunnel_id : "");
    snprintf(f->rid, sizeof f->rid, "%s", m->request_id);
    snprintf(f->method, sizeof f->method, "%s", m->method);
    snprintf(f->uri, sizeof f->uri, "%s", m->uri);
    const char *rid = m->request_id;
    switch (f->mode) {
    case MOVED:
        moved(h, f, cid, rid);
        break;
    case PLAIN:
        response(h, rid, 200, CL5, "hello", 5, false, true);
        break;
    case CL_OVER_HEAD:
        response(h, rid, 200, CL5, "hello world", 11, false, true);
        break;
    case CL_OVER_PIECES:
        response(h, rid, 200, CL10, "12345", 5, true, true);
        piece(h, rid, 1, "6789012345", 10, false, true);
        break;
    case CL_SHORT:
        response(h, rid, 200, CL10, "12345", 5, false, true);
        break;
    case CL_ZERO_BODY: {
        static const char *const cl[] = {"Content-Length", "0", NULL};
        response(h, rid, 200, cl, "FORGED", 6, false, true);
        break;
    }
    case CL_BAD_HEAD: {
        static const char *const cl[] = {"Content-Length", "12x", NULL};
        response(h, rid, 200, cl, "", 0, false, true);
        break;
    }
    case CL_LIST: {
        static const char *const cl[] = {"Content-Length", "5, 5", NULL};
        response(h, rid, 200, cl, "hello", 5, false, true);
        break;
    }
    case NO_CL_PIECES:
        response(h, rid, 200, NULL, "ab", 2, true, true);
        piece(h, rid, 2, "ef", 2, false, true);
        piece(h, rid, 1, "cd", 2, true, true);
        break;
    case BODY_204:
        response(h, rid, 204, NULL, "x", 1, false, true);
        break;
    case BODY_304:
        response(h, rid, 304, NULL, "", 0, true, true);
        piece(h, rid, 1, "stale", 5, false, true);
        break;
    case HEAD_WITH_BODY:
        response(h, rid, 200, CL5, "hello", 5, false, true);
        break;
    case HEAD_PLAIN: {
        static const char *const cl[] = {"Content-Length", "1234", NULL};
        response(h, rid, 200, cl, "", 0, false, true);
        break;
    }
    case PIECE_AFTER_LAST:
        response(h, rid, 200, NULL, "ab", 2, true, true);
        piece(h, rid, 1, "cd", 2, false, true);
        piece(h, rid, 2, "FORGED", 6, false, true);
        break;
    case SECOND_RESPONSE:
        response(h, rid, 200, NULL, "ab", 2, true, true);
        response(h, rid, 200, NULL, "FORGED", 6, false, true);
        piece(h, rid, 1, "cd", 2, false, true);
        break;
    case INTERIM_THEN_FINAL: {
        static const char *const link[] = {"Link", "</s.css>; rel=preload", NULL};
        response(h, rid, 103, link, "", 0, false, true);
        response(h, rid, 200, CL5, "hello", 5, false, true);
        break;
    }
    case EARLY_403:
        /* answered while the Lambda is still posting the upload's pieces */
        response(h, rid, 403, NULL, "no", 2, false, false);
        break;
    case EARLY_413_PIECES:
        response(h, rid, 413, CL10, "12345", 5, true, false);
        break;
    case FOREIGN_ANSWER: {
        /* another agent's connection answers first: ignored */
        respond_on(h, "otherConn=", rid, 200, NULL, "FORGED", 6, false, false);
        response(h, rid, 200, CL5, "hello", 5, false, true);
        break;
    }
    case RESENT:
        for (int i = 0; i < 2; i++)
            response(h, rid, 200, CL5, "hel", 3, true, true);
        for (int i = 0; i < 2; i++)
            piece(h, rid, 1, "lo", 2, false, true);
        break;
    case BIG_HEAD:
    case HUGE_HEAD: {
        tmsg r;
        tmsg_init(&r, TMSG_HTTP_RESPONSE);
        r.request_id = strdup(rid);
        r.status_code = 200;
        char v[1024];
        memset(v, 'c', sizeof v - 1);
        v[sizeof v - 1] = '\0';
        for (int i = 0; i < (f->mode == BIG_HEAD ? 20 : 200); i++) {
            char name[32];
            snprintf(name, sizeof name, f->mode == BIG_HEAD ? "Set-Cookie" : "X-Field-%d", i);
            v[0] = (char)('A' + i % 26);
            http_headers_add(&r.headers, name, strlen(name), v, strlen(v));
        }
        http_headers_add(&r.headers, "Content-Length", 14, "2", 1);
        r.body = (uint8_t *)strdup("ok");
        r.body_len = 2;
        /* as ttf sends it: one message, or fields over several when they do not fit */
        char *texts[16];
        size_t nt = 0;
        int sent = tmsg_send_head(&r, collect, &(struct collector){texts, &nt});
        for (size_t i = 0; i < nt; i++) {
            harness_agent_later(h, CID, texts[i]);
            free(texts[i]);
        }
        if (sent == 0)
            piece(h, rid, 1, "ok", 2, false, true);
        tmsg_free(&r);
        break;
    }
    case OBS_TEXT: {
        static const char *const cd[] = {"Content-Disposition",
                                         "attachment; filename=\"caf\xe9.txt\"",
                                         "X-Utf8",
                                         "J\xc3\xb6rg",
                                         "Content-Length",
                                         "1",
                                         NULL};
        response(h, rid, 200, cd, "x", 1, false, true);
        break;
    }
    case CANCEL_AFTER_END:
    case CANCEL_FIRST: {
        if (f->mode == CANCEL_AFTER_END)
            response(h, rid, 403, CL5, "nope!", 5, false, true);
        /* CANCEL_FIRST: taken before the response */
        cancel(h, rid, NULL, f->mode != CANCEL_FIRST);
        if (f->mode == CANCEL_FIRST)
            response(h, rid, 403, CL5, "nope!", 5, false, true);
        break;
    }
    case AGENT_CANCELS: {
        response(h, rid, 200, NULL, "partial", 7, true, true);
        cancel(h, rid, "local service closed the connection", true);
        break;
    }
    default:
        break;
    }
}

json_t *request(fixture *f, int mode, const char *method, const char *path, const void *body,
                size_t len)
{
    f->mode = mode;
    f->h.agent = agent;
    f->h.agent_ud = f;
    return harness_request(&f->h, f->tid, method, path, NULL, body, len);
}

int status_of(const json_t *a)
{
    return (int)json_integer_value(json_object_get(a, "statusCode"));
}

void expect_body(const json_t *a, const char *want, size_t n)
{
    size_t len;
    unsigned char *b = harness_body(a, &len);
    assert_int_equal(len, n);
    if (n)
        assert_memory_equal(b, want, n);
    free(b);
}

void expect_overrun(fixture *f, json_t *a, const char *what)
{
    assert_int_equal(status_of(a), 502);
    size_t len;
    unsigned char *b = harness_body(a, &len);
    assert_non_null(b);
    assert_null(strstr((char *)b, "FORGED"));
    assert_null(strstr((char *)b, "world"));
    free(b);
    assert_true(harness_log_has(&f->h, f->tid, what));
}
