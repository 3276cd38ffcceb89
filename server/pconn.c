/* SPDX-License-Identifier: MIT */
/* pconn.c - public connections (see pconn.h, pconn_int.h): the connection's events, request heads
 * parsed once, routing, the agent endpoint hand-off, keep-alive, pipelining, the log line. The
 * exchange itself (stream, body, response) is pconn_xchg.c; the one deadline is pconn_timer.c. */
#include "pconn_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "agent_cap.h"
#include "clock.h"
#include "http1_write.h"
#include "proxy.h"
#include "reqlog.h"
#include "route.h"
#include "session.h"

static struct evbuffer *in_buf(const pconn *pc)
{
    return conn_in(pc->c);
}

void pc_write(pconn *pc, const void *data, size_t len)
{
    if (pc->c && len) {
        conn_write(pc->c, data, len);
        pc->x.bytes_out += len;
        if (pc->fin_ms) /* a half-closed client: octets toward it, --half-close-timeout anew */
            pc->fin_ms = clock_now_ms();
    }
}

/* The end of an exchange: its access log line (reqlog.h) and the request metrics (metrics.h). */
void pc_log(pconn *pc)
{
    exchange *x = &pc->x;
    if (x->logged || (!x->method && !x->status))
        return;
    x->logged = true;
    const edge_note *n = &x->note;
    metrics_request r = {.tunnel = n->tunnel,
                         .method = x->method,
                         .path = x->path,
                         .client = n->client[0] ? n->client : pc->ip,
                         .status = x->status,
                         .bytes_in = x->body_in + n->pipe_in,
                         .bytes_out = x->bytes_out,
                         .duration_us = clock_now_us() - n->t0_us,
                         .refused = n->refused};
    if (!n->agent && pc->srv->metrics) /* an agent's upgrade is a session, not a request */
        metrics_on_request_end(pc->srv->metrics, &r);
    reqlog_write(pc->srv->log, &r);
}

/* ---- the end of a connection ---- */

static unsigned keepalive_ms(const server *srv)
{
    int s = srv->cfg->keepalive_timeout > 0 ? srv->cfg->keepalive_timeout : TTFD_IDLE_SEC;
    return (unsigned)s * 1000u;
}

void pc_start_closing(pconn *pc)
{
    pc->st = PC_CLOSING;
    pc->wait_ms = clock_now_ms(); /* it waits for the client's close (pconn_make_room) */
    if (pc->c) {
        conn_read(pc->c, false);
        conn_set_idle(pc->c, 0);
    }
}

void pc_close(pconn *pc)
{
    if (pc->st == PC_CLOSING || pc->st == PC_GONE)
        return;
    xchg_end_stream(pc, MUX_CANCEL, "the public connection closed");
    pc_log(pc);
    pc_start_closing(pc);
}

/* An answer of ttfd's own: to a HEAD request its head alone, Content-Length kept (RFC 9110
 * §9.3.2: no content in a response to HEAD; the fields are those GET would get). */
static void pc_write_answer(pconn *pc, const char *msg, size_t len)
{
    const exchange *x = &pc->x;
    if (x->method && strcmp(x->method, "HEAD") == 0) {
        const char *end = memmem(msg, len, "\r\n\r\n", 4);
        if (end)
            len = (size_t)(end - msg) + 4;
    }
    pc_write(pc, msg, len);
}

void pc_fail(pconn *pc, int status, const char *body)
{
    if (pc->st == PC_CLOSING || pc->st == PC_GONE)
        return;
    exchange *x = &pc->x;
    xchg_end_stream(pc, MUX_CANCEL, "the request failed");
    if (x->resp_head) {
        pc_close(pc);
        return;
    }
    size_t len = 0;
    char *msg = edge_answer_http(status, body, clock_http_date_now(&pc->srv->date), &len);
    if (msg)
        pc_write_answer(pc, msg, len);
    free(msg);
    x->status = status;
    x->resp_head = true;
    pc_log(pc);
    pc_start_closing(pc);
}

void pc_answer(pconn *pc, edge_answer_id id)
{
    const edge_answer *a = edge_answer_of(id);
    pc_fail(pc, a->status, a->text);
}

/* A refusal by the tunnel's access policy (tunnel_access.h): 401, 403 or 429 with
 * Connection: close, then close. Nothing of the request reached the agent. */
static void pc_refuse(pconn *pc, const access_verdict *v, const char *realm)
{
    exchange *x = &pc->x;
    x->note.refused = edge_refusal_of(v->result);
    size_t len = 0;
    char *msg = access_refusal_http(v, realm, clock_http_date_now(&pc->srv->date), &len);
    if (!msg) {
        pc_fail(pc, 500, "out of memory");
        return;
    }
    pc_write_answer(pc, msg, len);
    free(msg);
    x->status = v->status;
    x->resp_head = true;
    pc_log(pc);
    pc_start_closing(pc);
}

static void pc_free(pconn *pc)
{
    xchg_end_stream(pc, MUX_CANCEL, "client went away");
    pc_log(pc);
    xchg_reset(&pc->x);
    mem_budget_charge(&pc->srv->agent_held, pc->held_by, &pc->out_charged, 0, 0);
    conn_free(pc->c);
    http1_free(&pc->p);
    server *srv = pc->srv;
    if (pc->prev)
        pc->prev->next = pc->next;
    else
        srv->pconns = pc->next;
    if (pc->next)
        pc->next->prev = pc->prev;
    free(pc);
}

void pc_settle(pconn *pc)
{
    if (pc->st == PC_GONE) {
        pc_free(pc);
        return;
    }
    if (pc->st == PC_CLOSING && conn_out_len(pc->c) == 0 && !conn_reading(pc->c)) {
        /* Half-close (TLS: close_notify first) and wait for the client's EOF, so a client still
         * sending (say, a body we refused) reads our answer instead of a reset. The linger
         * timer bounds the wait. */
        conn_shutdown(pc->c);
        evbuffer_drain(in_buf(pc), evbuffer_get_length(in_buf(pc)));
        conn_read(pc->c, true);
    }
    pc_update_timer(pc);
}

/* The client half-closed and all it sent was taken: no request follows, the connection closes. */
static bool client_spent(const pconn *pc)
{
    return pc->in_eof && evbuffer_get_length(in_buf(pc)) == 0;
}

void pc_exchange_done(pconn *pc, bool persist)
{
    pc_log(pc);
    /* a client that half-closed after pipelined requests gets their answers, then the close */
    if (!persist || client_spent(pc)) {
        pc_start_closing(pc);
        return;
    }
    if (!pc->x.req_done) {
        /* an early response: the rest of a short body is read and dropped first */
        pc->st = PC_DRAIN;
        conn_read(pc->c, true);
        if (evbuffer_get_length(in_buf(pc)) > 0)
            conn_trigger_read(pc->c);
        return;
    }
    xchg_reset(&pc->x);
    pc->st = PC_HEAD;
    pc->head_started = false;
    pc->wait_ms = clock_now_ms();
    pc->next_seen_ms = 0;
    pc->kept_alive = true;
    conn_set_idle(pc->c, keepalive_ms(pc->srv));
    conn_read(pc->c, true);
    /* A pipelined request may already be buffered: parse it from the loop, not from here. */
    if (evbuffer_get_length(in_buf(pc)) > 0)
        conn_trigger_read(pc->c);
}

/* ---- the client's end ---- */

void pc_client_left(pconn *pc, const char *how)
{
    exchange *x = &pc->x;
    if (pc->st == PC_XCHG || pc->st == PC_PIPE)
        TLOG_D(pc->srv->log, "client %s left during a request (%s)", pc->ip, how);
    if (pc->st == PC_XCHG && !x->resp_head && x->method)
        x->status = 499;
    pc->st = PC_GONE;
}

/* The client sends nothing more (its FIN: read, or seen while not reading with queued bytes
 * still unread). After a whole request that is a half-close (shutdown(SHUT_WR), as `nc -N`
 * does), not a departure: the answer still goes out, then the connection closes (HAProxy's
 * default; a client that closed for good resets at the first octet written), but once nothing
 * went toward it for --half-close-timeout it is taken as gone (HAProxy's `timeout client-fin`:
 * pconn_timer.c), so a closed SSE stream or long poll whose app stays silent ends. A request that
 * can no longer end is a client that left; one whose last octets break its framing is answered
 * 400 at once (its answer not begun), as reading them would, rather than at --request-timeout. */
static void client_ended(pconn *pc, size_t queued)
{
    if (pc->st != PC_XCHG)
        return;
    const char *reason = NULL;
    switch (xchg_request_verdict(pc, queued, &reason)) {
    case XCHG_REQ_CUT:
        if (conn_out_len(pc->c) == 0) {
            pc_client_left(pc, "its request cut short");
            break;
        }
        /* its FIN, not a reset: it may still read. The answers to its earlier (pipelined)
         * requests still in our output go out first, then the close (they were dropped) */
        TLOG_D(pc->srv->log, "client %s left during a request (its request cut short)", pc->ip);
        if (!pc->x.resp_head && pc->x.method)
            pc->x.status = 499;
        pc_close(pc);
        break;
    case XCHG_REQ_BAD: /* what reading them would answer, now: nothing more comes to read */
        if (!pc->x.resp_head)
            xchg_bad_body(pc, reason);
        break;
    case XCHG_REQ_MAY_END:
        break;
    }
}

/* The FIN waits unread behind the request under way, which is held back: judged once for each
 * request (what the client sent is all there is, so the verdict holds), a pipelined request
 * that began after the FIN came included. */
static void judge_queued_fin(pconn *pc)
{
    if (!pc->fin_queued || pc->st != PC_XCHG || pc->x.fin_judged || conn_reading(pc->c))
        return;
    pc->x.fin_judged = true;
    client_ended(pc, conn_queued_in(pc->c));
}

/* ---- request heads ---- */

static bool is_agent_path(const char *target)
{
    size_t n = strcspn(target, "?");
    return n == 8 && memcmp(target, "/_tunnel", 8) == 0;
}

/* The agent's upgrade: the connection goes to a new session, or the request is refused. */
static void agent_upgrade(pconn *pc)
{
    exchange *x = &pc->x;
    if (x->path) /* the query may carry the token: never log it */
        x->path[strcspn(x->path, "?")] = '\0';
    int status = 503; /* the agents' caps: as nginx's limit_conn, before any auth */
    char why[200];
    /* what pconn_accept set for a public client is not for an agent's link: its FIN is read in
     * turn after its last messages, its send queue is the kernel's own, and the session has its
     * own checks of a link that stops */
    conn_watch_close(pc->c, false);
    conn_set_unsent_max(pc->c, 0);
    conn_set_send_timeout(pc->c, 0);
    /* behind a trusted front proxy the agent is the client it names, as for the access rules
     * and the request log (nginx's limit_conn counts the address its realip module gives): else
     * every agent would count as the proxy's and --max-agents-per-ip would cap them all */
    const server_config *cfg = pc->srv->cfg;
    char *ip = x->note.client;
    tunnel_client_addr(cfg->trusted, cfg->ntrusted, &pc->peer, &pc->p.head.headers, NULL, ip,
                       sizeof x->note.client);
    if (!agent_cap_admit(pc->srv, ip, why, sizeof why) ||
        session_accept(pc->srv, pc->c, &pc->p.head, ip, &status, why, sizeof why) != 0) {
        TLOG_W(pc->srv->log, "agent upgrade from %s refused: %s", ip, why);
        pc_fail(pc, status, why);
        return;
    }
    x->status = 101;
    pc_log(pc);
    pc->c = NULL; /* the session's now */
    pc->st = PC_GONE;
}

/* snprintf(dst, cap, "%s", src) without printf (three per request here). */
static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void on_head(pconn *pc)
{
    server *srv = pc->srv;
    exchange *x = &pc->x;
    http1_head *h = &pc->p.head;
    edge_note_start(&x->note);
    size_t mlen = strlen(h->method) + 1, plen = strlen(h->target) + 1;
    x->method = malloc(mlen + plen); /* method and path: one block, freed through method */
    if (x->method) {
        memcpy(x->method, h->method, mlen);
        x->path = memcpy(x->method + mlen, h->target, plen);
    }
    if (pc->timer == T_HEADER) /* it came in pieces: the time since its first octet */
        pc->head_spent_ms += clock_now_ms() - pc->timer_ms;
    pc->head_started = false;
    pc->out_seen_ms = 0; /* an answer of its own: room-making's look at the last one is stale */
    conn_set_idle(pc->c, 0);

    /* A tunnel URL is an origin, not a forward proxy: CONNECT (authority-form) goes nowhere,
     * in either wire mode (RFC 9110 §9.3.6, §15.6.2). */
    if (h->form == HTTP1_TARGET_AUTHORITY) {
        pc_answer(pc, EDGE_CONNECT_NOT_SUPPORTED);
        return;
    }
    /* An absolute-form target names the origin, not Host (RFC 9112 §3.2.2): route by it and
     * forward its path in origin-form. */
    const char *host = h->authority ? h->authority : http_headers_get_id(&h->headers, HTTP_H_HOST);
    const char *target = h->path ? h->path : h->target;
    size_t tl = strlen(target);
    char *fwd = malloc(tl + 2);
    if (!fwd) {
        pc_fail(pc, 500, "out of memory");
        return;
    }
    route_result rr;
    size_t fl = 0;
    route_mode mode =
        route_resolve(host, host ? strlen(host) : 0, target, tl, srv->cfg->domain, &rr, fwd, &fl);
    if (mode != ROUTE_SUBDOMAIN && is_agent_path(target)) {
        free(fwd);
        x->note.agent = true;
        agent_upgrade(pc);
        return;
    }
    tunnel *t =
        mode == ROUTE_NONE ? NULL : registry_lookup(srv->reg, rr.tunnel_id, strlen(rr.tunnel_id));
    if (mode != ROUTE_NONE)
        copy_str(x->note.tunnel, sizeof x->note.tunnel, rr.tunnel_id);
    if (!t || !t->ready) {
        free(fwd);
        x->note.refused = REFUSED_NOT_FOUND;
        pc_answer(pc, EDGE_TUNNEL_NOT_FOUND);
        return;
    }
    /* A request that went through this tunnel before (its own CDN-Loop mark, RFC 8586): the
     * tunnel's local service is ttfd's public address; forwarding it again would loop until
     * the stream caps (docs/protocol.md §4). */
    if (proxy_loop_seen(&h->headers, t->loop_mark)) {
        free(fwd);
        x->note.refused = REFUSED_LOOP;
        pc_answer(pc, EDGE_LOOP_DETECTED);
        return;
    }
    /* Access control (tunnel_access.h): a refused request never reaches the agent (no stream,
     * no 100 Continue); Authorization goes when it carried the tunnel's own credentials. */
    access_verdict av;
    if (tunnel_access_admit(t->access, srv->cfg->trusted, srv->cfg->ntrusted, &pc->peer,
                            &h->headers, (int64_t)clock_now_ms(), &av, x->note.client,
                            sizeof x->note.client) != ACCESS_ALLOW) {
        free(fwd);
        pc_refuse(pc, &av, t->name);
        return;
    }
    copy_str(x->tunnel, sizeof x->tunnel, t->name);
    x->json = t->json;
    x->interim = t->interim;
    x->trailers = t->trailers;
    x->path_mode = mode == ROUTE_PATH;
    x->head_req = strcmp(h->method, "HEAD") == 0;
    x->req_len = h->content_length;
    bool http11 = h->http_major == 1 && h->http_minor >= 1;
    bool body = h->chunked || h->content_length > 0;
    /* Upgrade is hop-by-hop and a proxy may ignore it (RFC 9110 §7.8): a request with a body
     * goes on as a plain request (Upgrade and Connection: Upgrade removed), never as a pipe
     * that would carry the body's bytes raw. */
    x->upgrade = h->upgrade && !body;
    /* Nor is an h2c upgrade relayed (in either mode): the client's HTTP/2 would pass the edge
     * unseen (h2c smuggling; RFC 9113 §3.1 deprecates it; nginx, Envoy and HAProxy do not
     * relay it), and `curl --http2` offers it on every http:// request: it gets the local
     * service's plain HTTP/1.1 answer. JSON mode carries no pipe, so only a WebSocket upgrade,
     * which a plain answer cannot serve, is refused there (501 below); another goes on plain. */
    bool websocket = proxy_websocket_upgrade(&h->headers); /* as the Lambda judges it */
    if (x->upgrade && h->form != HTTP1_TARGET_AUTHORITY &&
        (http_headers_has_token(&h->headers, "Upgrade", "h2c") || (x->json && !websocket)))
        x->upgrade = false;
    x->body_cap = srv->cfg->max_body;
    if (x->body_cap && h->content_length >= 0 && (uint64_t)h->content_length > x->body_cap) {
        free(fwd);
        pc_answer(pc, EDGE_BODY_TOO_LARGE);
        return;
    }
    if (x->upgrade && x->json) {
        free(fwd);
        pc_answer(pc, EDGE_WEBSOCKET_NEEDS_BINARY);
        return;
    }
    /* Expect: 100-continue (RFC 9110 §10.1.1): binary mode forwards it and relays the local
     * service's 100; JSON mode carries no interim responses, so ttfd answers it itself once the
     * stream is open (xchg_open). Never to HTTP/1.0 clients (which must not get a 1xx). */
    x->expect_100 = body && http11 && h->expect_continue;
    char prefix[TUNNEL_NAME_MAX + 2];
    prefix[0] = '/';
    copy_str(prefix + 1, sizeof prefix - 1, rr.tunnel_id);
    proxy_request rule = {
        .client_ip = pc->ip,
        .proto = srv->scheme,
        .keep_proto = srv->cfg->ntrusted > 0 &&
                      access_in_nets(srv->cfg->trusted, srv->cfg->ntrusted, &pc->peer.addr),
        .authority = h->form == HTTP1_TARGET_ABSOLUTE ? h->authority : NULL,
        .prefix = x->path_mode ? prefix : NULL,
        .upgrade = x->upgrade,
        .body_raw = false, /* bodies travel decoded: ttf frames them itself */
        .body_length = -1,
        /* the local service's 100 Continue is relayed (else ttfd sends its own) */
        .keep_expect = x->expect_100 && x->interim,
        .trailers = x->trailers, /* trailer sections go on (binary mode; JSON mode agreed) */
        .loop_mark = t->loop_mark,
    };
    if (proxy_request_headers(&h->headers, &rule) != 0) {
        free(fwd);
        pc_fail(pc, 500, "out of memory");
        return;
    }
    rframe_request fq = {.head = x->head_req,
                         .http11 = http11,
                         .keep_alive = h->keep_alive && !x->upgrade,
                         .upgrade = x->upgrade};
    rframe_init(&x->fr, &fq);
    if (!body && !x->upgrade) {
        /* a bodiless message ends at its head: let the parser finish it */
        size_t used = 0;
        http1_execute(&pc->p, "", 0, &used);
        x->req_done = true;
    }
    x->open_mux = t->mux;
    x->open_index = t->index;
    x->open_body = body || x->upgrade;
    x->fwd = fwd;
    pc->st = PC_XCHG;
    pc->progress_ms = clock_now_ms();
    if (pc->fin_ms) /* a request pipelined before the FIN: its wait counts from here */
        pc->fin_ms = pc->progress_ms;
    /* body bytes already here: the stream opens once they parsed cleanly (xchg_pump_body) */
    if (!body || evbuffer_get_length(in_buf(pc)) == 0)
        xchg_open(pc, true);
}

/* Parses buffered input until a head completes. */
static void parse_head(pconn *pc)
{
    struct evbuffer *in = in_buf(pc);
    while (pc->st == PC_HEAD && evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            return;
        size_t used = 0;
        http1_event ev = http1_execute(&pc->p, v.iov_base, v.iov_len, &used);
        evbuffer_drain(in, used);
        if (used)
            pc->head_started = true;
        if (ev == HTTP1_ERROR) {
            /* 400, 414, 431, 501 or 505, and the rule the request broke */
            char why[160];
            int status = pc->p.err.status ? pc->p.err.status : 400;
            const char *reason = pc->p.err.reason ? pc->p.err.reason : "unparsable";
            if (status == 400 || status == 431)
                snprintf(why, sizeof why, "%s: %s",
                         status == 431 ? "request header fields too large" : "bad request", reason);
            else
                snprintf(why, sizeof why, "%s", reason);
            edge_note_start(&pc->x.note);
            pc_fail(pc, status, why);
            return;
        }
        if (ev == HTTP1_HEAD)
            on_head(pc);
    }
}

/* PC_DRAIN: the rest of a request body after an early response, dropped. */
static void drain_body(pconn *pc)
{
    struct evbuffer *in = in_buf(pc);
    while (pc->st == PC_DRAIN && evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            return;
        size_t used = 0;
        http1_event ev = http1_execute(&pc->p, v.iov_base, v.iov_len, &used);
        evbuffer_drain(in, used);
        if (ev == HTTP1_ERROR) {
            pc_start_closing(pc);
            return;
        }
        if (ev == HTTP1_MSG_END) {
            pc->x.req_done = true;
            pc_exchange_done(pc, true);
            return;
        }
    }
}

void pc_process(pconn *pc)
{
    for (;;) {
        pc_state before = pc->st;
        switch (pc->st) {
        case PC_HEAD:
            if (conn_out_len(pc->c) > PC_OUT_MARK) {
                /* The client has not taken our answers yet: its next (pipelined) request waits,
                 * or answers pile up without bound. pc_on_drain resumes. */
                conn_read(pc->c, false);
                return;
            }
            parse_head(pc);
            if (pc->st == PC_HEAD && client_spent(pc))
                pc_start_closing(pc); /* a half-closed client's last request was answered */
            break;
        case PC_XCHG:
            if (!pc->x.req_done && !pc->x.upgrade) {
                xchg_pump_body(pc);
                if (pc->in_eof && pc->st == PC_XCHG)
                    client_ended(pc, 0);
                judge_queued_fin(pc);
            } else if (evbuffer_get_length(in_buf(pc)) > PC_HOLD_MAX) {
                /* keep reading to notice a client that leaves, but bound what we hold */
                conn_read(pc->c, false);
            }
            break;
        case PC_PIPE:
            xchg_pump_pipe(pc);
            break;
        case PC_DRAIN:
            drain_body(pc);
            if (pc->st == PC_DRAIN && client_spent(pc))
                pc_start_closing(pc);
            break;
        case PC_CLOSING:
            if (conn_reading(pc->c))
                evbuffer_drain(in_buf(pc), evbuffer_get_length(in_buf(pc)));
            return;
        case PC_GONE:
            return;
        }
        if (pc->st == before)
            return;
    }
}

/* ---- connection callbacks (lib/conn) ---- */

static void pc_on_read(conn *c, void *ud)
{
    (void)c;
    pconn *pc = ud;
    pc_process(pc);
    pc_settle(pc);
}

/* Output fell to PC_OUT_MARK or below: the client took bytes. */
static void pc_on_drain(conn *c, void *ud)
{
    (void)c;
    pconn *pc = ud;
    pc_hold(pc, 0, 0);
    if (pc->x.ms)
        pc->x.ops->credit(pc->x.ms, conn_out_len(pc->c));
    if (pc->st == PC_HEAD && !conn_reading(pc->c)) {
        /* pipelined requests held back while the client's backlog was over PC_OUT_MARK */
        conn_read(pc->c, true);
        pc_process(pc);
    }
    pc_settle(pc);
}

/* Plain HTTP sent to the TLS port: a plain 400 naming the mistake, as nginx answers (ttf reads
 * it as "use a wss:// endpoint"), instead of a silent close (conn_tls_answer_plain). */
static void answer_plain_http(pconn *pc)
{
    size_t len = 0;
    char *msg = edge_answer_http(400, "The plain HTTP request was sent to HTTPS port",
                                 clock_http_date_now(&pc->srv->date), &len);
    pc->x.bytes_out += conn_tls_answer_plain(pc->c, msg, msg ? len : 0);
    free(msg);
    edge_note_start(&pc->x.note);
    pc->x.status = 400;
    pc_log(pc);
}

static void pc_on_event(conn *c, void *ud, int what)
{
    (void)c;
    pconn *pc = ud;
    if (what & CONN_EV_DEADLINE) {
        pc_on_deadline(pc);
        pc_settle(pc);
        return;
    }
    if ((what & CONN_EV_EOF) && pc->st == PC_PIPE && !pc->in_eof) {
        /* The client ended its side of an upgraded connection: relay what is left, then FIN. */
        pc->in_eof = true;
        conn_read(pc->c, false);
        xchg_pump_pipe(pc);
        pc_settle(pc);
        return;
    }
    if (what & CONN_EV_STALLED) {
        /* --send-timeout (nginx's send_timeout): what waits for this client is dropped with the
         * connection (a linger would wait for the same client), the agent told */
        TLOG_D(pc->srv->log, "client %s took nothing of its answer for %d s (--send-timeout)",
               pc->ip, pc->srv->cfg->send_timeout);
        xchg_end_stream(pc, MUX_CANCEL, "the client took nothing of its answer in time");
        pc_log(pc);
        pc->st = PC_GONE;
        pc_settle(pc);
        return;
    }
    if (what & CONN_EV_RDHUP) {
        /* its FIN while we do not read it (a window shut, answers unread): the bytes queued
         * decide whether its request can still end, and the next ones' (judge_queued_fin) */
        pc->fin_queued = true;
        if (!pc->fin_ms)
            pc->fin_ms = clock_now_ms();
        judge_queued_fin(pc);
        pc_settle(pc);
        return;
    }
    bool buffered = evbuffer_get_length(in_buf(pc)) > 0;
    if ((what & CONN_EV_EOF) && !pc->in_eof &&
        (pc->st == PC_XCHG || (pc->st == PC_HEAD && buffered))) {
        pc->in_eof = true; /* a half-close: what it sent is served, see client_ended */
        pc->fin_ms = clock_now_ms();
        client_ended(pc, 0);
        if (pc->st != PC_GONE)
            pc_process(pc);
        pc_settle(pc);
        return;
    }
    if ((what & CONN_EV_EOF) && (pc->st == PC_HEAD || pc->st == PC_DRAIN) &&
        conn_out_len(pc->c) > 0) {
        /* a half-close after its last request: that request's answer, whole from the agent but
         * still in our output (a client reading slowly), goes out, then the close (it was cut
         * short: the connection freed with it) */
        pc->in_eof = true;
        pc_start_closing(pc);
        pc_settle(pc);
        return;
    }
    if ((what & CONN_EV_IDLE) && conn_out_len(pc->c) > 0 && pc->srv->cfg->send_timeout > 0) {
        /* no request for the keep-alive time, but the last answer is still going out to a
         * client that reads it slowly: not idle (--send-timeout judges one that takes none of
         * it; with it off, the idle time still bounds it). It was closed with the rest of its
         * answer unsent. */
        pc_settle(pc);
        return;
    }
    if ((what & CONN_EV_ERROR) && pc->st == PC_HEAD && conn_tls_plain_http(pc->c))
        answer_plain_http(pc);
    if (what & (CONN_EV_EOF | CONN_EV_ERROR | CONN_EV_IDLE)) {
        pc_client_left(pc, what & CONN_EV_ERROR ? "reset" : "closed");
        pc_settle(pc);
    }
}

static const conn_cbs pc_cbs = {pc_on_read, pc_on_drain, pc_on_event};

int pconn_accept(server *srv, int fd, const struct sockaddr *sa)
{
    pconn *pc = calloc(1, sizeof *pc);
    if (!pc) {
        close(fd);
        return -1;
    }
    pc->srv = srv;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, pc->ip, sizeof pc->ip);
    } else {
        const struct sockaddr_in *s4 = (const void *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, pc->ip, sizeof pc->ip);
    }
    tunnel_peer_init(&pc->peer, sa);
    SSL *ssl = srv->tls ? SSL_new(srv->tls) : NULL;
    pc->c = (!srv->tls || ssl) ? conn_new(srv->loop, fd, ssl, &pc_cbs, pc) : NULL;
    if (!pc->c) {
        SSL_free(ssl);
        close(fd);
        free(pc);
        return -1;
    }
    http1_init(&pc->p, true, srv->cfg->max_header);
    pc->p.on_body = xchg_on_body;
    pc->p.ud = pc;
    pc->st = PC_HEAD;
    pc->wait_ms = clock_now_ms();
    pc->next = srv->pconns;
    if (srv->pconns)
        srv->pconns->prev = pc;
    srv->pconns = pc;
    conn_set_out_low(pc->c, PC_OUT_MARK);
    conn_set_idle(pc->c, keepalive_ms(pc->srv));
    conn_watch_close(pc->c, true); /* a client that leaves while we do not read it (RDHUP) */
    conn_set_unsent_max(pc->c, PC_UNSENT_MAX);
    conn_set_send_timeout(pc->c, (unsigned)srv->cfg->send_timeout * 1000u);
    pc_update_timer(pc); /* TLS: the handshake has --header-timeout */
    return 0;
}

void pconn_free_all(server *srv)
{
    while (srv->pconns)
        pc_free(srv->pconns); // NOLINT(clang-analyzer-unix.Malloc): it unlinks itself
}

size_t pconn_count(const server *srv)
{
    size_t n = 0;
    for (const pconn *pc = srv->pconns; pc; pc = pc->next)
        n++;
    return n;
}
