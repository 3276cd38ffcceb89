/* SPDX-License-Identifier: MIT */
/* mux_json.c - the mux over ttf.json.v1 (docs/protocol.md §2), streaming both ways: the
 * http_request goes out in the loop pass its head was parsed in (heads too big for one message
 * continue in http_request_headers messages), request body pieces as the client's bytes arrive
 * (batched per loop pass, at most TTF_JSON_CHUNK each), the response head and pieces are handed
 * on as they come, and `cancel` tells the agent to drop an exchange the client left.
 * Flow control (docs/protocol.md §2 "Flow control"): an agent that asked for windows in ready
 * gets a per-request response window (mux_json_set_window) credited with `window` messages as
 * the client takes the bytes, as binary mode's WINDOW; body bytes beyond it fail that exchange
 * with protocol_error. An agent without windows (old or raw agents): a client too slow for its
 * response pauses reading the link until its backlog drains (bounded memory). An agent that
 * honours request windows (mux_json_set_request_window) gets no more request body per exchange
 * than it credited with its own `window` messages: a stream out of credit stops reading its
 * client only. A link whose output is above its high-water mark pauses the request direction in
 * every case. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "hmap.h"
#include "mux.h"
#include "proto_bin.h"
#include "proxy.h"
#include "rand_pool.h"

#define PIECE ((size_t)TTF_JSON_CHUNK)
#define BACKLOG_MAX ((size_t)1 << 20) /* client output that pauses the link */
#define FIELD_SLACK ((size_t)1024)    /* a message's fields other than the headers */

typedef struct json_mux {
    mux base;
    mux_link link;
    hmap *streams;       /* request_id -> json_stream */
    int blockers;        /* streams whose client is too slow: the link's reading is paused */
    uint32_t window;     /* per-request response window announced to the agent (0: none) */
    uint32_t grown;      /* ... grown to this once the client reads (0: no growth) */
    uint32_t req_window; /* per-request request-body window announced to the agent (0: none) */
    bool interim;        /* the agent's interim responses are relayed (mux_json_set_relays) */
    bool trailers;       /* trailer sections go both ways (mux_json_set_relays) */
    bool strings;        /* single header values as plain strings (mux_json_set_header_strings) */
    rand_pool ids;       /* request ids' random bytes */
} json_mux;

typedef struct json_stream {
    mux_stream base;
    char rid[PROXY_REQUEST_ID_LEN + 1];
    tmsg *head;   /* the http_request, until it goes out at the first flush */
    uint8_t *buf; /* request body bytes staged in this loop pass */
    size_t len, cap;
    uint32_t seq;  /* the next request piece */
    bool req_end;  /* the body ended (end_body) */
    bool req_fin;  /* the last request message went out */
    bool req_open; /* a body of unknown length (chunked): its end goes in a piece of its own */
    http_headers req_trailers; /* the request's trailer section, for its last piece */
    tmsg *rhead;               /* a response head collecting continuation fields */
    uint32_t hseq;             /* the next http_response_headers seq */
    uint32_t rseq;             /* the next http_response_body seq */
    bool resp_final;           /* the final head was handed on */
    bool resp_fin;             /* the response ended */
    bool blocking;             /* counted in blockers */
    uint32_t window;           /* the response window (0: none): the first, then the grown one */
    flow_window rw; /* window: response body bytes the agent may still send, and their credit */
    uint32_t req_window; /* the request-body window this stream was opened with (0: none) */
    int64_t req_left;    /* req_window: request body bytes we may still send */

    size_t rhead_len;     /* head bytes of rhead so far (HTTP1_AGENT_MAX_HEAD) */
    size_t rhead_lines;   /* field lines of rhead so far (HTTP1_AGENT_MAX_FIELDS) */
    size_t rhead_charged; /* what rhead counts in the mux's held budget (mux_set_held_budget) */
} json_stream;

static json_mux *jm_of(mux *m)
{
    return (json_mux *)m;
}

static json_stream *js_of(mux_stream *s)
{
    return (json_stream *)s;
}

static int send_text(void *ud, const char *text, size_t len)
{
    json_mux *jm = ud;
    return jm->link.send_text(jm->link.ud, text, len);
}

static int send_msg(json_mux *jm, const tmsg *m)
{
    if (!jm->strings)
        return tmsg_encode_to(m, send_text, jm);
    tmsg c = *m; /* a view with the agreed form: the strings stay m's */
    c.header_strings = true;
    return tmsg_encode_to(&c, send_text, jm);
}

static int send_cb(void *ud, const tmsg *m)
{
    return send_msg(ud, m);
}

static void drop_head(tmsg **m)
{
    if (*m) {
        tmsg_free(*m);
        free(*m);
        *m = NULL;
    }
}

static void unblock(json_mux *jm, json_stream *s)
{
    if (!s->blocking)
        return;
    s->blocking = false;
    if (--jm->blockers == 0)
        jm->link.pause_read(jm->link.ud, false);
}

static void forget(json_mux *jm, json_stream *s)
{
    unblock(jm, s);
    hmap_del(jm->streams, s->rid, strlen(s->rid));
    mux_stream_gone(&jm->base);
    drop_head(&s->head);
    drop_head(&s->rhead);
    mem_budget_charge(jm->base.held, jm->base.id.agent, &s->rhead_charged, jm->base.head_share, 0);
    http_headers_free(&s->req_trailers);
    free(s->buf);
    free(s);
}

static void send_cancel(json_mux *jm, const char *rid, const char *why)
{
    tmsg m;
    tmsg_init(&m, TMSG_CANCEL);
    m.request_id = (char *)rid;
    m.reason = (char *)why;
    send_msg(jm, &m); /* the strings stay ours */
}

/* The exchange cancelled for what the agent did wrong (logged), and the client answered 502 with
 * text. */
static void protocol_error_as(json_mux *jm, json_stream *s, const char *what, const char *text)
{
    MUX_WARN(&jm->base.id,
             "tunnel %s (agent %s): request %s: %s: exchange cancelled "
             "(protocol_error)",
             jm->base.id.tunnel[0] ? jm->base.id.tunnel : "-", jm->base.id.agent, s->rid, what);
    char why[200];
    snprintf(why, sizeof why, "protocol_error: %s", what);
    send_cancel(jm, s->rid, why);
    const mux_upcalls *up = s->base.up;
    void *ud = s->base.ud;
    forget(jm, s);
    up->fail(ud, 502, text, true);
}

static void protocol_error(json_mux *jm, json_stream *s, const char *what)
{
    protocol_error_as(jm, s, what, "the tunnel agent sent a bad response");
}

/* ---- ops ---- */

static mux_stream *json_open(mux *m, const mux_request *rq, const mux_upcalls *up, void *ud,
                             int *status, const char **why)
{
    json_mux *jm = jm_of(m);
    /* A head may span several messages, but one field line must fit one message. */
    for (size_t i = 0; i < rq->headers->n; i++) {
        const http_header *e = &rq->headers->v[i];
        if (tmsg_header_encoded_bound(e) + FIELD_SLACK > TTF_JSON_MAX_MSG &&
            tmsg_header_encoded_max(e) + FIELD_SLACK > TTF_JSON_MAX_MSG) {
            *status = edge_answer_of(EDGE_JSON_FIELD_TOO_LARGE)->status;
            *why = edge_answer_of(EDGE_JSON_FIELD_TOO_LARGE)->text;
            return NULL;
        }
    }
    *status = 500;
    *why = "out of memory";
    json_stream *s = calloc(1, sizeof *s);
    tmsg *h = calloc(1, sizeof *h);
    if (!s || !h || proxy_request_id(s->rid, &jm->ids) != 0) {
        free(s);
        free(h);
        return NULL;
    }
    tmsg_init(h, TMSG_HTTP_REQUEST);
    h->request_id = strdup(s->rid);
    h->method = strdup(rq->method);
    h->uri = strdup(rq->target);
    /* absent = the session's first tunnel (docs/protocol.md §1 "Several tunnels") */
    h->tunnel_id = rq->tunnel && rq->tunnel_id ? strdup(rq->tunnel_id) : NULL;
    h->timestamp = (uint64_t)clock_wall_ms();
    h->headers = *rq->headers; /* taken: the entries move into the message */
    http_headers_init(rq->headers);
    s->head = h;
    s->base = (mux_stream){.m = m, .up = up, .ud = ud};
    s->seq = 1;
    s->rseq = 1;
    s->hseq = 1;
    s->req_end = !rq->body;
    /* A body without Content-Length (chunked) ends in a piece of its own, also when the head
     * carried all of it: ttf then sends it on chunked, as binary mode does, instead of with the
     * length it happened to have. Only to agents that take pieces (ttf announces request
     * windows; upstream's agent reads one message). */
    s->req_open = rq->body && jm->req_window &&
                  http_headers_find_id(&h->headers, HTTP_H_CONTENT_LENGTH, 0) == h->headers.n;
    s->window = jm->window;
    s->rw.left = (int64_t)jm->window;
    s->req_window = jm->req_window;
    s->req_left = (int64_t)jm->req_window;
    if (!h->request_id || !h->method || !h->uri || (rq->tunnel && rq->tunnel_id && !h->tunnel_id) ||
        hmap_put(jm->streams, s->rid, strlen(s->rid), s) != 0) {
        drop_head(&s->head);
        free(s);
        return NULL;
    }
    mux_stream_added(m);
    return &s->base;
}

static int json_send_body(mux_stream *ms, const void *data, size_t len)
{
    json_stream *s = js_of(ms);
    if (len == 0)
        return 0;
    if (s->len + len > s->cap) {
        size_t cap = s->cap ? s->cap : 16384;
        while (cap < s->len + len)
            cap *= 2;
        uint8_t *b = realloc(s->buf, cap);
        if (!b)
            return -1;
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    if (s->req_window) /* room() gave no more than the credit */
        s->req_left -= (int64_t)len;
    return 0;
}

static int json_end_body(mux_stream *ms, const http_headers *trailers)
{
    json_stream *s = js_of(ms);
    s->req_end = true;
    /* the trailers go with the last piece where the agent takes them (else dropped, and the
     * request rules removed Trailer) */
    if (jm_of(ms->m)->trailers && trailers && trailers->n > 0)
        return http_headers_copy(&s->req_trailers, trailers);
    return 0;
}

/* True when the message surely fits one message: each field at most doubles when escaped (no
 * controls reach here; octets that are not UTF-8 grow by a third as base64), the body grows by a
 * third; then one encoding does, without tmsg_send_head's sizing pass. */
static bool small_head(const tmsg *m)
{
    size_t n = strlen(m->uri) * 2 + strlen(m->method) * 2 + 1024;
    for (size_t i = 0; i < m->headers.n && n < TTF_JSON_MAX_MSG; i++)
        n += (m->headers.v[i].nlen + m->headers.v[i].vlen) * 2 + 16;
    n += (m->body_len + 2) / 3 * 4;
    return n < TTF_JSON_MAX_MSG;
}

/* Sends the head (first flush) and the staged body in pieces. -1 when the link refused. */
static int flush_request(json_mux *jm, json_stream *s)
{
    size_t off = 0;
    if (s->head) {
        tmsg *h = s->head;
        size_t first = s->len < PIECE ? s->len : PIECE;
        h->body = first ? s->buf : NULL;
        h->body_len = first;
        h->more = !(s->req_end && first == s->len && !s->req_open && s->req_trailers.n == 0);
        bool more = h->more;
        int r = small_head(h) ? (send_msg(jm, h) == 0 ? 1 : -1) : tmsg_send_head(h, send_cb, jm);
        h->body = NULL; /* the buffer stays ours */
        h->body_len = 0;
        drop_head(&s->head);
        if (r < 0)
            return -1;
        if (r == 1) {
            off = first; /* the first piece went with the head */
            s->req_fin = !more;
        } else if (!more && s->len == 0) {
            s->req_fin = true; /* a split head that announced no body */
        }
    }
    while (!s->req_fin && (s->len > off || s->req_end)) {
        size_t piece = s->len - off < PIECE ? s->len - off : PIECE;
        tmsg m;
        tmsg_init(&m, TMSG_HTTP_REQUEST_BODY);
        m.request_id = s->rid;
        m.seq = s->seq++;
        m.body = piece ? s->buf + off : NULL;
        m.body_len = piece;
        /* the trailers end the body in a piece of their own (a full piece leaves no room) */
        m.more = !(s->req_end && off + piece == s->len && (piece == 0 || s->req_trailers.n == 0));
        if (!m.more)
            m.trailers = s->req_trailers; /* borrowed */
        int rc = send_msg(jm, &m);
        http_headers_init(&m.trailers);
        m.request_id = NULL;
        m.body = NULL;
        if (rc != 0)
            return -1;
        off += piece;
        if (!m.more)
            s->req_fin = true;
    }
    s->len = 0;
    return 0;
}

static void json_flush(mux_stream *ms)
{
    json_stream *s = js_of(ms);
    json_mux *jm = jm_of(ms->m);
    if (!s->head && s->len == 0 && !(s->req_end && !s->req_fin))
        return;
    if (flush_request(jm, s) != 0)
        TLOG_D(jm->base.id.log, "tunnel %s: request %s not sent (link closing)", jm->base.id.tunnel,
               s->rid);
}

static size_t json_room(const mux_stream *ms)
{
    const json_stream *s = (const json_stream *)ms;
    const json_mux *jm = (const json_mux *)ms->m;
    if (s->req_end || s->len >= 2 * PIECE)
        return 0;
    if (s->req_window && s->req_left <= 0)
        return 0; /* out of credit: this client waits for the agent's `window` */
    if (jm->link.pending(jm->link.ud) > jm->link.high_water)
        return 0;
    size_t room = 2 * PIECE - s->len;
    return s->req_window && (uint64_t)s->req_left < room ? (size_t)s->req_left : room;
}

/* Credits the agent with what the client took (flow_window, as binary mode's WINDOW), batched by a
 * quarter of the window. */
static void credit_window(json_mux *jm, json_stream *s, size_t backlog)
{
    size_t credit = s->resp_fin ? 0 : flow_window_credit(&s->rw, backlog, s->window / 4);
    if (!credit)
        return;
    if (jm->grown > s->window && mux_client_reads(&s->base)) { /* else it keeps the first */
        credit += flow_window_grow(&s->rw, jm->grown - s->window);
        s->window = jm->grown;
    }
    tmsg m;
    tmsg_init(&m, TMSG_WINDOW);
    m.request_id = s->rid; /* borrowed */
    m.increment = credit;
    send_msg(jm, &m);
}

static void json_credit(mux_stream *ms, size_t backlog)
{
    json_stream *s = js_of(ms);
    json_mux *jm = jm_of(ms->m);
    if (s->window) {
        credit_window(jm, s, backlog);
        return;
    }
    if (!s->blocking && backlog > BACKLOG_MAX && !s->resp_fin) {
        s->blocking = true;
        if (jm->blockers++ == 0)
            jm->link.pause_read(jm->link.ud, true);
    } else if (s->blocking && backlog <= BACKLOG_MAX / 2) {
        unblock(jm, s);
    }
}

static void json_close(mux_stream *ms, mux_end how, const char *why)
{
    json_stream *s = js_of(ms);
    json_mux *jm = jm_of(ms->m);
    bool sent = !s->head; /* the agent knows the request */
    if (sent && !(how == MUX_DONE && s->req_fin && s->resp_fin)) {
        if (how == MUX_PROTOCOL)
            MUX_WARN(&jm->base.id,
                     "tunnel %s (agent %s): request %s: %s: exchange cancelled "
                     "(protocol_error)",
                     jm->base.id.tunnel[0] ? jm->base.id.tunnel : "-", jm->base.id.agent, s->rid,
                     why ? why : "");
        char text[200];
        snprintf(text, sizeof text, "%s%s",
                 how == MUX_PROTOCOL  ? "protocol_error: "
                 : how == MUX_TIMEOUT ? "timeout: "
                                      : "",
                 why ? why : "cancelled");
        send_cancel(jm, s->rid, text);
    }
    forget(jm, s);
}

static const mux_ops json_ops = {json_open, json_send_body, json_end_body, json_flush,
                                 json_room, json_credit,    json_close};

/* ---- messages from the agent ---- */

/* Spends the stream's window on n body bytes; false when the agent overran it (the stream is
 * then failed and gone). */
static bool spend(json_mux *jm, json_stream *s, size_t n)
{
    if (!s->window || flow_window_spend(&s->rw, n))
        return true;
    protocol_error(jm, s, "response body beyond the stream window");
    return false;
}

/* Hands a response message on to the stream's owner: the head first when with_head (a complete
 * response head), then m's body bytes, then the end when m says no more follows. Each upcall may
 * end the stream, so each next one checks that it is still there. */
static void deliver(json_mux *jm, json_stream *s, tmsg *m, bool with_head)
{
    if (!spend(jm, s, m->body_len))
        return;
    bool more = m->more;
    if (!more)
        s->resp_fin = true;
    const mux_upcalls *up = s->base.up;
    void *ud = s->base.ud;
    char rid[sizeof s->rid];
    memcpy(rid, s->rid, sizeof rid);
    bool live = true;
    if (with_head) {
        s->resp_final = true;
        /* A head without Content-Length is framed as binary mode frames it (chunked to
         * HTTP/1.1, close-delimited to 1.0, as nginx does), also when the whole body came with
         * it: the local service sent no length, and a client must not tell the modes apart. */
        up->head(ud, m->status_code, m->reason, &m->headers, -1, !more && m->body_len == 0);
        live = hmap_get(jm->streams, rid, strlen(rid)) == s;
    }
    if (m->body_len && live) {
        up->body(ud, m->body, m->body_len);
        live = hmap_get(jm->streams, rid, strlen(rid)) == s;
    }
    if (!more && live)
        up->end(ud, m->trailers.n > 0 ? &m->trailers : NULL);
}

/* Whether a section of lines field lines and bytes octets is over what ttfd takes from an agent
 * (a head: HTTP1_AGENT_MAX_HEAD and _FIELDS; a trailer section: HTTP1_AGENT_MAX_TRAILER, as
 * binary mode's decoder takes); if so the exchange is cancelled and the client answered 502. */
static bool section_over(json_mux *jm, json_stream *s, const char *what, size_t lines, size_t bytes,
                         size_t max)
{
    if (lines <= HTTP1_AGENT_MAX_FIELDS && bytes <= max)
        return false;
    char why[160];
    snprintf(why, sizeof why, "%s over %zu bytes or %zu field lines (%zu lines, %zu bytes)", what,
             max, HTTP1_AGENT_MAX_FIELDS, lines, bytes);
    protocol_error_as(jm, s, why, edge_answer_of(EDGE_AGENT_HEAD_TOO_LARGE)->text);
    return true;
}

/* The bytes of m's status line ("HTTP/1.1 200 OK" CRLF) and header fields with the empty line. */
static size_t head_bytes(const tmsg *m)
{
    return 15 + (m->reason ? strlen(m->reason) : 0) + http_headers_line_bytes(&m->headers) + 2;
}

/* Counts the head s is assembling (rhead_len bytes) in the mux's budget of answers held; false
 * when that would take the budget (or its agent address's part) past its limit: the exchange is
 * then cancelled and its client answered 502 MUX_HELD_OVER (the link and other exchanges go on). */
static bool hold_rhead(json_mux *jm, json_stream *s)
{
    if (mem_budget_charge(jm->base.held, jm->base.id.agent, &s->rhead_charged, jm->base.head_share,
                          s->rhead_len))
        return true;
    char why[160];
    snprintf(why, sizeof why, "response head across continuations (%zu bytes so far): %s",
             s->rhead_len, MUX_HELD_OVER);
    protocol_error_as(jm, s, why, MUX_HELD_OVER);
    return false;
}

static void on_response(json_mux *jm, json_stream *s, tmsg *m)
{
    if (s->resp_final || s->rhead) {
        protocol_error(jm, s, "a response after the final response");
        return;
    }
    s->rhead_len = head_bytes(m);
    s->rhead_lines = m->headers.n;
    if (section_over(jm, s, "response head", s->rhead_lines, s->rhead_len, HTTP1_AGENT_MAX_HEAD))
        return;
    if (m->status_code >= 100 && m->status_code < 200 && m->status_code != 101 && jm->interim &&
        !m->headers_more && !m->more && m->body_len == 0) {
        /* an interim response (agreed in connection_established): on to the client, whose
         * final response follows */
        s->base.up->head(s->base.ud, m->status_code, m->reason, &m->headers, -1, false);
        return;
    }
    if (m->status_code < 200 || m->status_code > 599) {
        protocol_error(jm, s, "a status that is not final (interim responses not agreed)");
        return;
    }
    if (!m->headers_more) {
        deliver(jm, s, m, true);
        return;
    }
    s->rhead = calloc(1, sizeof *s->rhead);
    if (!s->rhead) {
        protocol_error(jm, s, "out of memory");
        return;
    }
    *s->rhead = *m; /* taken: the caller's message is left empty */
    tmsg_init(m, TMSG_UNKNOWN);
    hold_rhead(jm, s);
}

static void on_response_headers(json_mux *jm, json_stream *s, tmsg *m)
{
    if (!s->rhead || m->seq != s->hseq) {
        protocol_error(jm, s, "response head continuation out of order");
        return;
    }
    s->hseq++;
    /* continuations without end must not grow ttfd without bound */
    s->rhead_len += http_headers_line_bytes(&m->headers);
    s->rhead_lines += m->headers.n;
    if (section_over(jm, s, "response head across continuations", s->rhead_lines, s->rhead_len,
                     HTTP1_AGENT_MAX_HEAD) ||
        !hold_rhead(jm, s))
        return;
    if (tmsg_take_headers(&s->rhead->headers, &m->headers) != 0) {
        protocol_error(jm, s, "out of memory");
        return;
    }
    if (m->headers_more)
        return;
    tmsg *h = s->rhead;
    s->rhead = NULL;
    mem_budget_charge(jm->base.held, jm->base.id.agent, &s->rhead_charged, 0,
                      0); /* the head leaves it */
    deliver(jm, s, h, true);
    tmsg_free(h);
    free(h);
}

static void on_piece(json_mux *jm, json_stream *s, tmsg *m)
{
    if (!s->resp_final || s->resp_fin || m->seq != s->rseq) {
        protocol_error(jm, s, "response piece out of order");
        return;
    }
    s->rseq++;
    if (m->trailers.n > 0 && !jm->trailers) {
        protocol_error(jm, s, "trailers that were not agreed");
        return;
    }
    deliver(jm, s, m, false);
}

static void on_end_by_agent(json_mux *jm, json_stream *s, tmsg *m)
{
    const mux_upcalls *up = s->base.up;
    void *ud = s->base.ud;
    char text[200];
    int status = 502;
    /* the agent's words are the public body when it gave any (the Lambda's too) */
    if (m->type == TMSG_ERROR) {
        edge_agent_error_text(text, sizeof text, m->code, m->message);
        status = tmsg_error_status(m->code);
    } else {
        edge_reason_text(text, sizeof text, (const uint8_t *)m->reason,
                         m->reason ? strlen(m->reason) : 0, edge_fault_text(TTF_RST_CANCEL));
    }
    TLOG_D(jm->base.id.log, "tunnel %s: request %s ended by the agent: %s%s%s", jm->base.id.tunnel,
           s->rid, tmsg_type_name(m->type), m->message ? ": " : "", m->message ? m->message : "");
    forget(jm, s);
    up->fail(ud, status, text, false);
}

/* More request body credit from the agent (docs/protocol.md §2 "Flow control"): the stream's
 * client is read again. A credit past 2^32-1 bytes is the agent's error: the exchange fails. */
static void on_window(json_mux *jm, json_stream *s, const tmsg *m)
{
    if (!s->req_window) {
        TLOG_D(jm->base.id.log, "agent %s: window for request %s without a request window dropped",
               jm->base.id.agent, s->rid);
        return;
    }
    if (s->req_left + (int64_t)m->increment > (int64_t)UINT32_MAX) {
        protocol_error(jm, s, "request window credit beyond 2^32-1 bytes");
        return;
    }
    s->req_left += (int64_t)m->increment;
    if (json_room(&s->base) > 0)
        s->base.up->resume(s->base.ud);
}

static void json_on_message(mux *mx, tmsg *m)
{
    json_mux *jm = jm_of(mx);
    if (!m->request_id) {
        if (m->type == TMSG_ERROR)
            MUX_WARN(&mx->id, "agent %s error: %s", mx->id.agent, m->message ? m->message : "");
        return;
    }
    json_stream *s = hmap_get(jm->streams, m->request_id, strlen(m->request_id));
    if (!s) {
        TLOG_D(mx->id.log, "agent %s: %s for an unknown request dropped", mx->id.agent,
               tmsg_type_name(m->type));
        return;
    }
    if (m->trailers.n > 0 &&
        section_over(jm, s, "trailer section", m->trailers.n, http_headers_line_bytes(&m->trailers),
                     HTTP1_AGENT_MAX_TRAILER))
        return;
    switch (m->type) {
    case TMSG_HTTP_RESPONSE:
        on_response(jm, s, m);
        break;
    case TMSG_HTTP_RESPONSE_HEADERS:
        on_response_headers(jm, s, m);
        break;
    case TMSG_HTTP_RESPONSE_BODY:
        on_piece(jm, s, m);
        break;
    case TMSG_ERROR:
    case TMSG_CANCEL:
        on_end_by_agent(jm, s, m);
        break;
    case TMSG_WINDOW:
        on_window(jm, s, m);
        break;
    default:
        TLOG_D(mx->id.log, "agent %s: %s dropped", mx->id.agent, tmsg_type_name(m->type));
        break;
    }
}

static void json_on_bad_message(mux *mx, const char *request_id, const char *why)
{
    json_mux *jm = jm_of(mx);
    json_stream *s = hmap_get(jm->streams, request_id, strlen(request_id));
    if (!s)
        return;
    char what[120];
    snprintf(what, sizeof what, "bad message: %s", why ? why : "?");
    protocol_error(jm, s, what);
}

static void json_on_binary(mux *m, const uint8_t *data, size_t len)
{
    (void)data;
    TLOG_D(m->id.log, "agent %s: a binary message of %zu bytes dropped (JSON mode)", m->id.agent,
           len);
}

typedef struct rids {
    char (*v)[PROXY_REQUEST_ID_LEN + 1];
    size_t n, cap;
} rids;

static void collect(void *ud, const void *key, size_t klen, void *value)
{
    (void)value;
    rids *c = ud;
    if (c->n < c->cap && klen <= PROXY_REQUEST_ID_LEN) {
        memcpy(c->v[c->n], key, klen);
        c->v[c->n++][klen] = '\0';
    }
}

static rids snapshot(json_mux *jm)
{
    rids c = {0};
    c.cap = hmap_count(jm->streams);
    c.v = c.cap ? malloc(c.cap * sizeof *c.v) : NULL;
    if (!c.v)
        c.cap = 0;
    hmap_each(jm->streams, collect, &c);
    return c;
}

static void json_on_drain(mux *m)
{
    json_mux *jm = jm_of(m);
    rids c = snapshot(jm);
    for (size_t i = 0; i < c.n; i++) {
        json_stream *s = hmap_get(jm->streams, c.v[i], strlen(c.v[i]));
        if (s && json_room(&s->base) > 0)
            s->base.up->resume(s->base.ud);
    }
    free(c.v);
}

static size_t json_streams(const mux *m)
{
    return hmap_count(((const json_mux *)m)->streams);
}

static void json_free(mux *m, const char *why)
{
    json_mux *jm = jm_of(m);
    rids c = snapshot(jm);
    for (size_t i = 0; i < c.n; i++) {
        json_stream *s = hmap_get(jm->streams, c.v[i], strlen(c.v[i]));
        if (!s)
            continue;
        const mux_upcalls *up = s->base.up;
        void *ud = s->base.ud;
        s->blocking = false; /* the link goes away: nothing to resume */
        forget(jm, s);
        up->fail(ud, edge_answer_of(EDGE_AGENT_GONE)->status,
                 why ? why : edge_answer_of(EDGE_AGENT_GONE)->text, false);
    }
    free(c.v);
    hmap_free(jm->streams);
    free(jm);
}

static const mux_vt json_vt = {json_on_binary, json_on_message, json_on_bad_message,
                               json_on_drain,  json_streams,    json_free};

void mux_json_set_window(mux *m, uint32_t window, uint32_t grown)
{
    jm_of(m)->window = window;
    jm_of(m)->grown = grown;
}

void mux_json_set_request_window(mux *m, uint32_t window)
{
    jm_of(m)->req_window = window;
    m->first_room = window;
}

void mux_json_set_relays(mux *m, bool interim, bool trailers)
{
    jm_of(m)->interim = interim;
    jm_of(m)->trailers = trailers;
}

void mux_json_set_header_strings(mux *m, bool on)
{
    jm_of(m)->strings = on;
}

mux *mux_json_new(const mux_link *link, const mux_ident *id)
{
    json_mux *jm = calloc(1, sizeof *jm);
    if (!jm)
        return NULL;
    jm->streams = hmap_new();
    if (!jm->streams) {
        free(jm);
        return NULL;
    }
    jm->base.ops = &json_ops;
    jm->base.vt = &json_vt;
    jm->base.id = *id;
    jm->link = *link;
    rand_pool_init(&jm->ids);
    return &jm->base;
}
