/* SPDX-License-Identifier: MIT */
/* wire_json.c - JSON-mode requests (see wire_json.h). Only messages here: every HTTP rule of
 * the local leg is the exchange's. */
#include "wire_json.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "clock.h"
#include "exchange.h"
#include "hold.h"

static const size_t piece = (size_t)TTF_JSON_CHUNK;

/* The requests for_each acts on: all (dropped), those that wait (paused, or a piece held for an
 * ack), the uploads waiting for credit (credited again). */
enum which { ALL, WAITING, CREDIT_WAIT };

typedef struct jreq {
    session *s;
    session_tunnel *tun; /* the tunnel its http_request named */
    char *rid;
    exchange *x;
    uint64_t t0;
    /* the request head while it arrives in parts (http_request_headers) */
    char *method, *uri;
    http_headers head;
    bool head_more;    /* more head fields to come */
    size_t head_bytes; /* of head so far, as field lines (HTTP1_AGENT_MAX_HEAD) */
    uint32_t next_head_seq;
    bool req_more; /* request body pieces to come */
    uint32_t next_body_seq;
    bool blocked;  /* the local service is behind: counted in s->json_blocked */
    bool paused;   /* the exchange waits for room */
    bool windowed; /* the server announced a stream window (docs/protocol.md §2 "Flow control") */
    uint64_t window; /* windowed: response body bytes we may still take from the exchange */
    /* the server announced a request-body window: hold counts what it may still send */
    bool request_window;
    hold_entry hold; /* request octets unwritten and window left (in s->hold) */
    /* the response */
    bool have_head, sent_head, more_owed;
    int status;
    char *reason;
    http_headers resp_headers;
    uint32_t resp_seq;
    struct evbuffer *body; /* decoded octets not yet sent */
    http_headers trailers; /* the response's trailer section, for its last piece */
} jreq;

static jreq *find(session *s, const char *rid)
{
    return hmap_get(s->exchanges, rid, strlen(rid));
}

static void set_blocked(jreq *r, bool blocked)
{
    if (r->blocked == blocked)
        return;
    r->blocked = blocked;
    session *s = r->s;
    if (blocked && s->json_blocked++ == 0)
        ws_pause_read(s->ws, true);
    else if (!blocked && --s->json_blocked == 0)
        ws_pause_read(s->ws, false);
}

static void jreq_free(jreq *r, const char *error)
{
    hold_forget(&r->s->hold, &r->hold);
    hmap_del(r->s->exchanges, r->rid, strlen(r->rid));
    set_blocked(r, false);
    exchange_free(r->x, error);
    http_headers_free(&r->head);
    http_headers_free(&r->resp_headers);
    http_headers_free(&r->trailers);
    if (r->body)
        evbuffer_free(r->body);
    free(r->method);
    free(r->uri);
    free(r->reason);
    free(r->rid);
    free(r);
}

static void send_error(session *s, const char *rid, tmsg_error_code code, const char *message)
{
    tmsg m;
    tmsg_init(&m, TMSG_ERROR);
    m.request_id = (char *)rid; /* borrowed */
    m.code = code;
    m.message = (char *)message;
    session_send_answer(s, &m);
}

static void send_cancel(session *s, const char *rid, const char *reason)
{
    tmsg m;
    tmsg_init(&m, TMSG_CANCEL);
    m.request_id = (char *)rid; /* borrowed */
    m.reason = (char *)reason;
    session_send_answer(s, &m);
}

static tmsg_error_code error_code(exchange_fail why)
{
    switch (why) {
    case XFAIL_UNAVAILABLE:
        return TERR_LOCAL_UNAVAILABLE;
    case XFAIL_TIMEOUT:
        return TERR_TIMEOUT;
    case XFAIL_BAD_REQUEST:
        return TERR_INVALID_REQUEST;
    default:
        return TERR_INTERNAL;
    }
}

/* ---- the request body's window (docs/protocol.md §2 "Flow control") ---- */

/* Takes n request body bytes the server sent; false when they overran the request window (the
 * exchange is then failed and freed: the server broke the protocol). */
static bool take_body(jreq *r, size_t n)
{
    if (!r->request_window || hold_spend(&r->s->hold, &r->hold, n)) {
        if (!r->req_more)
            hold_body_done(&r->s->hold, &r->hold);
        return true;
    }
    TLOG_W(r->s->log, "request %s: the server sent request body beyond the request window", r->rid);
    send_cancel(r->s, r->rid, "protocol_error: request body beyond the request window");
    jreq_free(r, "protocol_error");
    return false;
}

/* ---- request bodies held over all exchanges (hold.h) ---- */

static void shed_one(void *exchange, uint64_t idle_ms, void *ud)
{
    jreq *r = exchange;
    session *s = ud;
    TLOG_W(s->log,
           "request %s: its local service took none of its body for %llu ms while this agent "
           "holds %zu KiB of request bodies: failed (504)",
           r->rid, (unsigned long long)idle_ms, s->hold.held >> 10);
    static const char why[] = "the local service did not take the request body in time";
    if (!r->sent_head)
        send_error(s, r->rid, TERR_TIMEOUT, why);
    else
        send_cancel(s, r->rid, why);
    jreq_free(r, "timeout");
}

static void for_each(session *s, int which);

void wire_json_shed(session *s)
{
    size_t normal = s->hold_shed ? 0 : (size_t)TTF_JSON_REQUEST_WINDOW;
    bool later = false;
    size_t n = hold_shed(&s->hold, s->exchanges, offsetof(jreq, hold), normal, shed_one, s, &later);
    if (normal && n) /* marked or failed: room, or larger shares, for those waiting */
        for_each(s, CREDIT_WAIT);
    if (later)
        session_shed_later(s, HOLD_RETRY_MS); /* some may stall by then */
}

/* With a request window, credits the server as the session's hold allows (hold_credit: what the
 * local service did not take counts against the window), a quarter of the window at most at a
 * time: only this exchange waits for a slow local service. Whatever the window (a server may
 * announce 4 GiB; without one, the Lambda's, there is none), the link stops while the exchange
 * holds more than WIRE_JSON_REQUEST_HOLD, until half of it was written. */
static void local_behind(jreq *r)
{
    size_t pending = exchange_pending(r->x);
    /* the body's octets only: the head counted against the window left the body's last octets
     * waiting for one more credit, a round trip (its full quarter-window batch never came) */
    if (hold_note(&r->s->hold, &r->hold, exchange_pending_body(r->x), clock_now_ms()))
        session_shed_later(r->s, 0); /* not here: r's caller (maybe its exchange) goes on */
    if (pending > WIRE_JSON_REQUEST_HOLD)
        set_blocked(r, true);
    else if (r->blocked && pending <= WIRE_JSON_REQUEST_HOLD / 2)
        set_blocked(r, false);
    if (!r->request_window || !r->req_more)
        return; /* no window, or the whole body came: no credit is wanted */
    size_t n =
        hold_credit(&r->s->hold, &r->hold, TTF_JSON_REQUEST_WINDOW, TTF_JSON_REQUEST_WINDOW / 4);
    session_hold_credited(r->s, &r->hold, TTF_JSON_REQUEST_WINDOW);
    if (!n)
        return;
    tmsg m;
    tmsg_init(&m, TMSG_WINDOW);
    m.request_id = r->rid; /* borrowed */
    m.increment = n;
    session_send_msg(r->s, &m);
}

/* ---- the response: head, then pieces ---- */

static int send_answer(void *ud, const tmsg *m)
{
    const jreq *r = ud;
    return session_send_answer(r->s, m);
}

/* The head message with as much body as fits; last: the response is complete. */
static int send_head(jreq *r, bool last)
{
    size_t have = evbuffer_get_length(r->body);
    size_t n = have < piece ? have : piece;
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_RESPONSE);
    m.request_id = r->rid;
    m.status_code = r->status;
    /* the reason-phrase travels only when it is not the standard one */
    if (r->reason && strcmp(r->reason, http_reason(r->status)) != 0)
        m.reason = r->reason;
    m.headers = r->resp_headers; /* borrowed */
    m.body = n ? evbuffer_pullup(r->body, (ev_ssize_t)n) : NULL;
    m.body_len = n;
    m.more = !(last && n == have && r->trailers.n == 0); /* trailers: in a piece of their own */
    m.processing_time_ms = clock_now_ms() - r->t0;
    int rc = tmsg_send_head(&m, send_answer, r);
    if (rc < 0)
        return -1;
    r->sent_head = true;
    if (rc == 1) {
        evbuffer_drain(r->body, n);
        r->more_owed = m.more;
    } else {
        r->more_owed = m.more || n > 0; /* the head said more: pieces from seq 1 */
    }
    return 0;
}

/* Nagle's rule (RFC 896) where every message costs the server an invocation (it acknowledges
 * them: the Lambda, which returns a response whole): a message that is not the last and carries
 * less than a full piece waits, and grows meanwhile, while something is sure to send it later.
 * The head with no body yet: the body or the end sends it (alone it would cost an invocation and
 * gain nothing; without acks, ttfd, it goes at once: an event stream's). A short piece: while an
 * earlier answer of the request awaits its ack, which sends it (wire_json_resume_all); a 4 MiB
 * download is then 45 full pieces instead of one per local read (64 messages). */
static bool hold_short(const jreq *r, size_t have, bool last)
{
    if (last || have >= piece || !acks_enabled(r->s->acks))
        return false;
    if (!r->sent_head)
        return have == 0;
    return acks_pending_for(r->s->acks, r->rid) > 0;
}

/* Body pieces of what is buffered; last: the final one (more false), even empty. */
static void send_pieces(jreq *r, bool last)
{
    while (r->more_owed) {
        size_t have = evbuffer_get_length(r->body);
        if ((have == 0 && !last) || hold_short(r, have, last))
            return;
        size_t n = have < piece ? have : piece;
        tmsg m;
        tmsg_init(&m, TMSG_HTTP_RESPONSE_BODY);
        m.request_id = r->rid;
        m.seq = ++r->resp_seq;
        m.body = n ? evbuffer_pullup(r->body, (ev_ssize_t)n) : NULL;
        m.body_len = n;
        /* the trailers end the body in a piece of their own (a full piece leaves no room) */
        m.more = !(last && n == have && (n == 0 || r->trailers.n == 0));
        if (!m.more)
            m.trailers = r->trailers; /* borrowed */
        session_send_answer(r->s, &m);
        http_headers_init(&m.trailers);
        evbuffer_drain(r->body, n);
        r->more_owed = m.more;
    }
}

/* Sends what is ready. -1 when the head cannot go (then r is failed and freed). */
static int emit(jreq *r, bool last)
{
    if (r->have_head && !r->sent_head && hold_short(r, evbuffer_get_length(r->body), last))
        return 0;
    if (r->have_head && !r->sent_head && send_head(r, last) != 0) {
        TLOG_W(r->s->log, "request %s: the response head cannot be sent in JSON mode", r->rid);
        send_error(r->s, r->rid, TERR_INTERNAL,
                   "a response header field is too large for JSON mode");
        jreq_free(r, "internal_error");
        return -1;
    }
    if (r->sent_head)
        send_pieces(r, last);
    return 0;
}

/* An exchange paused for room (up_room) reads its local service again, unless the link is still
 * congested. */
static void resume(jreq *r)
{
    if (r->paused && r->x && !session_congested(r->s)) {
        r->paused = false;
        exchange_resume(r->x);
    }
}

/* ---- the exchange's upcalls ---- */

static size_t up_room(void *ud)
{
    jreq *r = ud;
    size_t buffered = evbuffer_get_length(r->body);
    r->paused = session_congested(r->s) || buffered >= 2 * piece || (r->windowed && r->window == 0);
    if (r->paused)
        return 0;
    size_t room = 2 * piece - buffered;
    return r->windowed && r->window < room ? (size_t)r->window : room;
}

/* An interim response, asked for only where the server relays them (relay_interim): one
 * http_response with the 1xx status, no body. One that does not fit one message is dropped (an
 * interim response is advice: the final one follows). */
static void up_interim(void *ud, int status, const char *reason, const http_headers *h)
{
    jreq *r = ud;
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_RESPONSE);
    m.request_id = r->rid; /* borrowed, as the rest */
    m.status_code = status;
    if (reason && *reason && strcmp(reason, http_reason(status)) != 0)
        m.reason = (char *)reason;
    m.headers = *h;
    m.processing_time_ms = clock_now_ms() - r->t0;
    size_t len = 0;
    char *json = tmsg_encode(&m, &len);
    free(json);
    if (json && len <= TTF_JSON_MAX_MSG)
        session_send_answer(r->s, &m);
    else
        TLOG_D(r->s->log, "request %s: interim %d response dropped (over one message)", r->rid,
               status);
}

static void up_head(void *ud, const exchange_head *h)
{
    jreq *r = ud;
    r->status = h->status;
    r->reason = strdup(h->reason ? h->reason : "");
    if (!r->reason || http_headers_copy(&r->resp_headers, h->headers) != 0) {
        send_error(r->s, r->rid, TERR_INTERNAL, "out of memory");
        jreq_free(r, "internal_error");
        return;
    }
    r->have_head = true;
}

static void up_body(void *ud, const uint8_t *data, size_t len)
{
    jreq *r = ud;
    evbuffer_add(r->body, data, len);
    if (r->windowed) /* the exchange gives no more than up_room allowed */
        r->window = len < r->window ? r->window - len : 0;
}

static void up_flush(void *ud)
{
    emit(ud, false);
}

static void up_fail(void *ud, exchange_fail why, const char *message, bool started);

static void up_end(void *ud, const http_headers *trailers, bool request_done)
{
    jreq *r = ud;
    /* the trailer section (asked for only where the server relays it) ends the last piece */
    if (trailers && trailers->n > 0 && http_headers_copy(&r->trailers, trailers) != 0) {
        up_fail(r, XFAIL_INTERNAL, "out of memory", r->sent_head);
        return;
    }
    /* An early answer (the request body not all in) needs nothing more: in JSON mode `cancel`
     * from the agent means a failure during the response, and the server stops sending the body
     * itself once the response ended; later pieces for this request are dropped. */
    (void)request_done;
    if (emit(r, true) != 0)
        return;
    jreq_free(r, NULL);
}

static void up_fail(void *ud, exchange_fail why, const char *message, bool started)
{
    jreq *r = ud;
    (void)started;
    if (!r->sent_head)
        send_error(r->s, r->rid, error_code(why), message);
    else
        send_cancel(r->s, r->rid, message); /* the response began: the server ends it */
    jreq_free(r, exchange_fail_name(why));
}

static void up_drained(void *ud)
{
    local_behind(ud);
}

static const exchange_sink sink = {up_room,  up_interim, up_head, up_body,
                                   up_flush, up_end,     up_fail, up_drained};

/* ---- messages from the server ---- */

/* The head is complete: the exchange starts. Returns false when r was freed. */
static bool start(jreq *r, const char *rid, const uint8_t *body, size_t body_len)
{
    session *s = r->s;
    exchange_request req = {
        .mode = "json",
        .id = rid,
        .method = r->method,
        .target = r->uri,
        .headers = &r->head,
        .content_length = r->req_more ? -1 : (int64_t)body_len,
        .body = r->req_more || body_len > 0,
        .interim = s->relay_interim,   /* 1xx heads as http_response messages */
        .trailers = s->relay_trailers, /* trailer sections both ways: Trailer kept */
    };
    r->x = exchange_new(&r->tun->env, &req, &sink, r);
    if (!r->x) {
        send_error(s, rid, TERR_INTERNAL, "out of memory");
        jreq_free(r, "internal_error");
        return false;
    }
    r->next_body_seq = 1;
    if (!take_body(r, body_len))
        return false;
    if (body_len > 0) {
        exchange_body(r->x, body, body_len);
        if (find(s, rid) != r)
            return false;
    }
    if (!r->req_more) {
        exchange_end_body(r->x, NULL);
        if (find(s, rid) != r)
            return false;
    }
    local_behind(r);
    return true;
}

static void on_request(session *s, tmsg *m)
{
    if (find(s, m->request_id)) {
        send_error(s, m->request_id, TERR_INVALID_REQUEST, "duplicate request_id");
        return;
    }
    session_tunnel *tun = session_tunnel_named(s, m->tunnel_id);
    if (!tun) {
        send_error(s, m->request_id, TERR_INVALID_REQUEST, "no such tunnel on this session");
        return;
    }
    jreq *r = calloc(1, sizeof *r);
    if (r) {
        r->rid = strdup(m->request_id);
        r->method = strdup(m->method);
        r->uri = strdup(m->uri);
        r->body = evbuffer_new();
    }
    if (!r || !r->rid || !r->method || !r->uri || !r->body ||
        hmap_put(s->exchanges, r->rid, strlen(r->rid), r) != 0) {
        send_error(s, m->request_id, TERR_INTERNAL, "out of memory");
        if (r) {
            if (r->body)
                evbuffer_free(r->body);
            free(r->rid);
            free(r->method);
            free(r->uri);
            free(r);
        }
        return;
    }
    r->s = s;
    r->tun = tun;
    r->windowed = s->stream_window > 0;
    r->window = s->stream_window;
    r->t0 = clock_now_ms();
    hold_start(&r->hold, r->t0);
    r->request_window = s->request_window > 0;
    if (r->request_window) /* what the server may send of it before our credit */
        hold_window(&s->hold, &r->hold, s->request_window);
    r->head_bytes = http_headers_line_bytes(&m->headers);
    r->head = m->headers; /* taken */
    http_headers_init(&m->headers);
    http_headers_init(&r->resp_headers);
    r->req_more = m->more;
    r->head_more = m->headers_more;
    r->next_head_seq = 1;
    if (!r->head_more)
        start(r, m->request_id, m->body, m->body_len);
}

static void on_request_headers(session *s, tmsg *m)
{
    jreq *r = find(s, m->request_id);
    if (!r) {
        TLOG_D(s->log, "head fields for unknown request %s dropped", m->request_id);
        return;
    }
    if (!r->head_more || m->seq != r->next_head_seq) {
        send_error(s, r->rid, TERR_INVALID_REQUEST, "request head fields out of order");
        jreq_free(r, "invalid_request");
        return;
    }
    r->next_head_seq++;
    /* continuations without end must not grow ttf without bound: ttfd's own bound on a head
     * from an agent (its requests' heads are at most 1 MiB: --max-header-size) */
    r->head_bytes += http_headers_line_bytes(&m->headers);
    if (r->head_bytes > HTTP1_AGENT_MAX_HEAD || r->head.n + m->headers.n > HTTP1_AGENT_MAX_FIELDS) {
        char why[96];
        snprintf(why, sizeof why, "request head over %zu bytes or %zu field lines",
                 (size_t)HTTP1_AGENT_MAX_HEAD, (size_t)HTTP1_AGENT_MAX_FIELDS);
        send_error(s, r->rid, TERR_INVALID_REQUEST, why);
        jreq_free(r, "invalid_request");
        return;
    }
    if (tmsg_take_headers(&r->head, &m->headers) != 0) {
        send_error(s, r->rid, TERR_INTERNAL, "out of memory");
        jreq_free(r, "internal_error");
        return;
    }
    r->head_more = m->headers_more;
    if (!r->head_more)
        start(r, m->request_id, NULL, 0);
}

static void on_request_body(session *s, tmsg *m)
{
    jreq *r = find(s, m->request_id);
    if (!r) {
        TLOG_D(s->log, "body piece for unknown request %s dropped", m->request_id);
        return;
    }
    if (r->head_more || !r->req_more || m->seq != r->next_body_seq) {
        send_error(s, r->rid, TERR_INVALID_REQUEST, "request body piece out of order");
        jreq_free(r, "invalid_request");
        return;
    }
    r->next_body_seq++;
    r->req_more = m->more;
    const char *rid = m->request_id; /* r->rid may be freed by an upcall */
    if (!take_body(r, m->body_len))
        return;
    exchange_body(r->x, m->body, m->body_len);
    if (find(s, rid) != r)
        return;
    if (!m->more) {
        exchange_end_body(r->x, s->relay_trailers && m->trailers.n > 0 ? &m->trailers : NULL);
        if (find(s, rid) != r)
            return;
    }
    local_behind(r);
}

/* More response window for one request (docs/protocol.md §2 "Flow control"). */
static void on_window(session *s, tmsg *m)
{
    jreq *r = find(s, m->request_id);
    if (!r || !r->windowed)
        return; /* finished, or a server that announced no window: nothing to do */
    r->window += m->increment;
    if (r->window > UINT32_MAX) /* a server's mistake must not wrap our count */
        r->window = UINT32_MAX;
    resume(r);
}

void wire_json_on_message(session *s, tmsg *m)
{
    if (!m->request_id)
        return;
    switch (m->type) {
    case TMSG_HTTP_REQUEST:
        on_request(s, m);
        break;
    case TMSG_HTTP_REQUEST_HEADERS:
        on_request_headers(s, m);
        break;
    case TMSG_HTTP_REQUEST_BODY:
        on_request_body(s, m);
        break;
    case TMSG_WINDOW:
        on_window(s, m);
        break;
    case TMSG_CANCEL: {
        jreq *r = find(s, m->request_id);
        if (r) {
            TLOG_D(s->log, "request %s: cancelled by the server (%s)", r->rid,
                   m->reason ? m->reason : "no reason");
            jreq_free(r, "cancelled");
        }
        break;
    }
    default:
        break;
    }
}

void wire_json_reject(session *s, const char *rid, const char *why)
{
    char msg[300];
    snprintf(msg, sizeof msg, "the agent cannot use this request: %s", why);
    TLOG_W(s->log, "request %s rejected: %s", rid, why);
    send_error(s, rid, TERR_INVALID_REQUEST, msg);
    jreq *r = find(s, rid);
    if (r)
        jreq_free(r, "invalid_request");
}

/* hmap_each must not modify the map: collect first, then act. */
typedef struct collect {
    char **ids;
    size_t n, cap;
    int which; /* enum which */
} collect;

static void collect_fn(void *ud, const void *key, size_t klen, void *value)
{
    collect *c = ud;
    const jreq *r = value;
    if ((c->which == WAITING && !r->paused &&
         !(r->sent_head && evbuffer_get_length(r->body) > 0)) ||
        (c->which == CREDIT_WAIT && r->hold.want == 0))
        return;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 32;
        char **p = realloc(c->ids, nc * sizeof *p);
        if (!p)
            return;
        c->ids = p;
        c->cap = nc;
    }
    char *id = strndup(key, klen);
    if (id)
        c->ids[c->n++] = id;
}

static void for_each(session *s, int which)
{
    collect c = {.which = which};
    hmap_each(s->exchanges, collect_fn, &c);
    for (size_t i = 0; i < c.n; i++) {
        jreq *r = find(s, c.ids[i]);
        if (r && which == ALL) {
            jreq_free(r, "tunnel closed");
        } else if (r && which == CREDIT_WAIT) {
            local_behind(r); /* its credit */
        } else if (r) {
            if (r->sent_head && !session_congested(s))
                send_pieces(r, false); /* a short piece held for an ack (hold_short) */
            resume(r);
        }
        free(c.ids[i]);
    }
    free(c.ids);
}

void wire_json_resume_all(session *s)
{
    for_each(s, WAITING);
}

void wire_json_free_all(session *s)
{
    for_each(s, ALL);
}
