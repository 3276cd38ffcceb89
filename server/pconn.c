/* SPDX-License-Identifier: MIT */
/* pconn.c - public connections: accept (plain or TLS), parse request heads, route them to a
 * tunnel (or to the agent endpoint), and the lifecycle of one exchange at a time per connection:
 * keep-alive, pipelining, errors, timeouts, the per-request log line.
 * Lifetime rule: pc_process never frees; every entry point ends with pc_settle. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "proto_bin.h"
#include "proxy.h"
#include "reqlog.h"
#include "route.h"
#include "server.h"

#define PC_OUT_MARK ((size_t)64 << 10) /* on_drain below this: credit the agent, refill */
#define PC_HOLD_MAX ((size_t)64 << 10) /* pipelined input buffered while a response is pending */

static struct evbuffer *in_buf(pconn *pc)
{
    return conn_in(pc->c);
}

/* Output goes out at the end of the loop pass (lib/conn), through TLS when there is TLS. */
static void write_raw(pconn *pc, const void *data, size_t len)
{
    if (pc->c)
        conn_write(pc->c, data, len);
}

void pc_write(pconn *pc, const void *data, size_t len)
{
    write_raw(pc, data, len);
    pc->bytes_out += len;
}

void pc_log(pconn *pc)
{
    if (pc->logged || (!pc->log_method && !pc->status))
        return;
    pc->logged = true;
    const edge_note *n = &pc->note;
    metrics_request r = {.tunnel = n->tunnel,
                         .method = pc->log_method,
                         .path = pc->log_path,
                         .client = n->client[0] ? n->client : pc->ip,
                         .status = pc->status,
                         .bytes_in = pc->body_in + n->pipe_in,
                         .bytes_out = pc->bytes_out,
                         .duration_us = clock_now_us() - n->t0_us,
                         .refused = n->refused};
    if (!n->agent) /* an agent's upgrade is an agent session, not a public request */
        metrics_on_request_end(pc->srv->metrics, &r);
    reqlog_write(pc->srv->log, &r);
}

/* Ends the tunnel side of the exchange; cancel tells the agent to drop the stream. */
static void end_exchange(pconn *pc, bool cancel)
{
    json_reset(pc); /* while pc->ag is set: it may resume the agent's reading */
    if (pc->ag) {
        if (cancel && !pc->json && !(pc->req_fin && pc->resp_fin))
            bin_cancel(pc, TTF_RST_CANCEL, "client went away");
        else
            agent_detach(pc->ag, pc);
        pc->ag = NULL;
    }
    if (pc->timer)
        evtimer_del(pc->timer);
}

static void reset_exchange(pconn *pc)
{
    free(pc->log_method);
    free(pc->log_path);
    pc->log_method = pc->log_path = NULL;
    pc->logged = false;
    pc->status = 0;
    pc->bytes_out = 0;
    pc->json = false;
    pc->sid = 0;
    pc->rid[0] = '\0';
    pc->req_fin = pc->resp_started = pc->resp_fin = pc->resp_close = false;
    pc->keep_alive = pc->is_head = pc->upgrade = pc->is11 = pc->in_eof = false;
    pc->win = pc->rwin = 0;
    pc->unacked = 0;
    pc->body_in = 0;
    pc->body_cap = 0;
    pc->rm = RM_NONE;
    pc->jseq = pc->jseq_in = 0;
    memset(&pc->note, 0, sizeof pc->note);
}

static void start_closing(pconn *pc)
{
    pc->st = PC_CLOSING;
    if (pc->c) {
        pc_read(pc, false);
        pc_idle(pc, false);
    }
    struct timeval tv = {TTFD_LINGER_SEC, 0};
    evtimer_add(pc->timer, &tv);
}

/* Answers with msg (a whole response saying Connection: close; NULL: none) and closes. */
static void fail_with(pconn *pc, int status, const char *msg, size_t len)
{
    if (pc->st == PC_CLOSING || pc->st == PC_GONE)
        return;
    if (pc->resp_started) {
        pc_abort(pc);
        return;
    }
    end_exchange(pc, true);
    if (msg)
        pc_write(pc, msg, len);
    pc->status = status;
    pc->resp_started = true;
    pc_log(pc);
    start_closing(pc);
}

void pc_fail(pconn *pc, int status, const char *body)
{
    size_t len = 0;
    char *msg = http_format_error(status, body, true, &len);
    fail_with(pc, status, msg, len);
    free(msg);
}

/* A refusal by the tunnel's access policy (tunnel_access.h): 401, 403 or 429, then close. */
static void pc_refuse(pconn *pc, const access_verdict *v, const char *realm)
{
    size_t len = 0;
    char *msg = access_refusal_http(v, realm, &len);
    pc->note.refused = edge_refusal_of(v->result);
    fail_with(pc, msg ? v->status : 500, msg, len);
    free(msg);
}

void pc_abort(pconn *pc)
{
    end_exchange(pc, true);
    pc_log(pc);
    pc->st = PC_GONE;
}

void pc_agent_gone(pconn *pc)
{
    json_reset(pc);
    if (!pc->resp_started)
        pc_fail(pc, 502, "the tunnel agent went away");
    else
        pc_abort(pc);
    pc_settle(pc);
}

void pc_response_done(pconn *pc)
{
    pc->resp_fin = true;
    evtimer_del(pc->timer);
    if (pc->st == PC_PIPE && pc->ag && !pc->json && !pc->req_fin) {
        /* The local side ended the upgraded connection: answer with our FIN, then close. */
        agent_send_frame(pc->ag, TTF_DATA, TTF_FLAG_FIN, pc->sid, NULL, 0);
        pc->req_fin = true;
    }
    bool again =
        pc->req_fin && !pc->resp_close && pc->keep_alive && !pc->upgrade && pc->st == PC_WAIT;
    end_exchange(pc, !pc->req_fin);
    pc_log(pc);
    if (!again) {
        start_closing(pc);
        return;
    }
    reset_exchange(pc);
    pc->st = PC_HEAD;
    pc_idle(pc, true);
    pc_read(pc, true);
    /* A pipelined request may already be buffered: parse it from the loop, not from here. */
    if (evbuffer_get_length(in_buf(pc)) > 0)
        conn_trigger_read(pc->c);
}

void pc_free(pconn *pc)
{
    end_exchange(pc, true);
    pc_log(pc);
    reset_exchange(pc);
    if (pc->timer)
        event_free(pc->timer);
    conn_free(pc->c);
    http1_free(&pc->p);
    free(pc->jbuf);
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
    if (pc->st != PC_CLOSING || conn_out_len(pc->c) > 0)
        return;
    /* Half-close (TLS: close_notify first) and wait for the client's EOF, so a client still
     * sending (say, a body we refused) reads our answer instead of a reset. The linger timer
     * bounds the wait. */
    if (pc_reading(pc))
        return;
    conn_shutdown(pc->c);
    evbuffer_drain(in_buf(pc), evbuffer_get_length(in_buf(pc)));
    pc_read(pc, true);
}

/* ---- request heads ---- */

static bool is_agent_path(const char *target)
{
    size_t n = strcspn(target, "?");
    return n == 8 && memcmp(target, "/_tunnel", 8) == 0;
}

static void on_head(pconn *pc)
{
    server *srv = pc->srv;
    http1_head *h = &pc->p.head;
    pc->t0_ms = clock_now_ms();
    edge_note_start(&pc->note);
    pc->log_method = strdup(h->method);
    pc->log_path = strdup(h->target);
    pc_idle(pc, false);

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
        pc->note.agent = true;
        agent_handshake(pc);
        return;
    }
    agent *ag =
        mode == ROUTE_NONE ? NULL : registry_lookup(srv->reg, rr.tunnel_id, strlen(rr.tunnel_id));
    if (mode != ROUTE_NONE)
        snprintf(pc->note.tunnel, sizeof pc->note.tunnel, "%s", rr.tunnel_id);
    if (!ag || !ag->ready) {
        free(fwd);
        pc->note.refused = REFUSED_NOT_FOUND;
        pc_fail(pc, 404, "tunnel not found");
        return;
    }
    /* Access control (tunnel_access.h): a refused request never reaches the agent. */
    access_verdict av;
    if (tunnel_access_admit(ag->access, srv->cfg->trusted, srv->cfg->ntrusted, pc->ip, &h->headers,
                            (int64_t)clock_now_ms(), &av, pc->note.client,
                            sizeof pc->note.client) != ACCESS_ALLOW) {
        free(fwd);
        pc_refuse(pc, &av, ag->tunnel_id);
        return;
    }
    pc->keep_alive = h->keep_alive;
    pc->is_head = strcmp(h->method, "HEAD") == 0;
    pc->upgrade = h->upgrade;
    pc->is11 = h->http_major == 1 && h->http_minor >= 1;
    pc->json = !ag->bin;
    pc->body_cap = srv->cfg->max_body;
    if (pc->json && (pc->body_cap == 0 || pc->body_cap > TTFD_JSON_MAX_BODY))
        pc->body_cap = TTFD_JSON_MAX_BODY;
    if (pc->body_cap && h->content_length >= 0 && (uint64_t)h->content_length > pc->body_cap) {
        free(fwd);
        pc_fail(pc, 413, "request body too large");
        return;
    }
    if (pc->upgrade && pc->json) {
        free(fwd);
        pc_fail(pc, 501, "upgrades need the binary tunnel protocol");
        return;
    }
    bool bodiless = !h->chunked && h->content_length <= 0;
    if (!bodiless && pc->is11 && h->expect_continue) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        write_raw(pc, cont, sizeof cont - 1);
    }
    char prefix[TUNNEL_NAME_MAX + 2];
    snprintf(prefix, sizeof prefix, "/%s", rr.tunnel_id);
    proxy_request rule = {
        .client_ip = pc->ip,
        .proto = srv->scheme,
        .authority = h->form == HTTP1_TARGET_ABSOLUTE ? h->authority : NULL,
        .prefix = mode == ROUTE_PATH ? prefix : NULL,
        .upgrade = pc->upgrade,
        .body_raw = !pc->json,
        .body_length = -1,
    };
    if (proxy_request_headers(&h->headers, &rule) != 0) {
        free(fwd);
        pc_fail(pc, 500, "out of memory");
        return;
    }
    if (bodiless && !pc->upgrade) {
        /* Let the parser finish the message now (a bodiless message ends at its head). */
        size_t used = 0;
        http1_execute(&pc->p, "", 0, &used);
    }
    pc->ag = ag;
    if (agent_attach(ag, pc) != 0) {
        pc->ag = NULL;
        free(fwd);
        pc_fail(pc, 500, "out of memory");
        return;
    }
    bool fin = bodiless && !pc->upgrade;
    int rc;
    if (pc->json) {
        rc = json_start(pc, h->method, fwd, &h->headers, fin);
    } else {
        size_t hlen = 0;
        char *head = http_format_request_head(h->method, fwd, &h->headers, &hlen);
        rc = head ? bin_start(pc, head, hlen, fin) : -1;
        free(head);
    }
    pc->req_fin = fin;
    free(fwd);
    if (rc != 0) {
        pc_fail(pc, 502, "could not reach the tunnel agent");
        return;
    }
    pc->st = pc->upgrade ? PC_UPWAIT : pc->req_fin ? PC_WAIT : PC_BODY;
    pc_arm_timeout(pc);
}

void pc_arm_timeout(pconn *pc)
{
    if (pc->resp_started)
        return;
    struct timeval tv = {pc->srv->cfg->request_timeout, 0};
    evtimer_add(pc->timer, &tv);
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
        if (ev == HTTP1_ERROR) {
            /* 400, 431, 501 or 505, and the rule the request broke */
            char why[160];
            int status = pc->p.err.status ? pc->p.err.status : 400;
            const char *reason = pc->p.err.reason ? pc->p.err.reason : "unparsable";
            if (status == 400 || status == 431)
                snprintf(why, sizeof why, "%s: %s",
                         status == 431 ? "request header fields too large" : "bad request", reason);
            else
                snprintf(why, sizeof why, "%s", reason);
            pc->t0_ms = clock_now_ms();
            edge_note_start(&pc->note);
            pc_fail(pc, status, why);
            return;
        }
        if (ev == HTTP1_HEAD)
            on_head(pc);
        else if (ev == HTTP1_MSG_END)
            continue; /* only after a body we already relayed */
    }
}

void pc_process(pconn *pc)
{
    for (;;) {
        pc_state before = pc->st;
        switch (pc->st) {
        case PC_HEAD:
            parse_head(pc);
            break;
        case PC_BODY:
        case PC_PIPE:
            if (pc->json)
                json_pump(pc);
            else
                bin_pump(pc);
            break;
        case PC_WAIT:
        case PC_UPWAIT:
            /* Keep reading to notice a client that leaves, but bound what we hold. */
            if (evbuffer_get_length(in_buf(pc)) > PC_HOLD_MAX)
                pc_read(pc, false);
            return;
        case PC_CLOSING:
            if (pc_reading(pc))
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
    if (pc->ag && !pc->json)
        bin_credit(pc);
    if (pc->jblocking)
        json_check_backlog(pc);
    pc_settle(pc);
}

static void pc_on_event(conn *c, void *ud, int what)
{
    (void)c;
    pconn *pc = ud;
    if ((what & CONN_EV_EOF) && pc->st == PC_PIPE && !pc->json) {
        /* The client ended its side of an upgraded connection: relay what is left, then FIN. */
        pc->in_eof = true;
        pc_read(pc, false);
        bin_pump(pc);
        pc_settle(pc);
        return;
    }
    if (what & (CONN_EV_EOF | CONN_EV_ERROR | CONN_EV_IDLE)) {
        if (pc->st != PC_CLOSING && pc->st != PC_HEAD)
            TLOG_D(pc->srv->log, "client %s left during a request", pc->ip);
        pc_free(pc);
    }
}

static const conn_cbs pc_cbs = {pc_on_read, pc_on_drain, pc_on_event};

void pc_read(pconn *pc, bool on)
{
    conn_read(pc->c, on);
}

bool pc_reading(const pconn *pc)
{
    return conn_reading(pc->c);
}

void pc_idle(pconn *pc, bool on)
{
    conn_set_idle(pc->c, on ? TTFD_IDLE_SEC * 1000u : 0);
}

static void pc_timer_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    pconn *pc = ud;
    if (pc->st == PC_CLOSING) {
        pc_free(pc);
        return;
    }
    if (pc->ag && !pc->resp_started) {
        if (!pc->json)
            bin_cancel(pc, TTF_RST_TIMEOUT, "no response in time");
        pc_fail(pc, 504, "the local service did not answer in time");
    }
    pc_settle(pc);
}

static void on_body_bytes(void *ud, const char *at, size_t len)
{
    pconn *pc = ud;
    pc->body_in += len;
    if (!pc->json || len == 0)
        return;
    if (pc->jlen + len > pc->jcap) {
        size_t cap = pc->jcap ? pc->jcap : 32768;
        while (cap < pc->jlen + len)
            cap *= 2;
        uint8_t *b = realloc(pc->jbuf, cap);
        if (!b)
            return; /* json_pump notices body_in ahead of what was staged */
        pc->jbuf = b;
        pc->jcap = cap;
    }
    memcpy(pc->jbuf + pc->jlen, at, len);
    pc->jlen += len;
}

void pconn_accept(server *srv, evutil_socket_t fd, const struct sockaddr *sa)
{
    pconn *pc = calloc(1, sizeof *pc);
    if (!pc) {
        evutil_closesocket(fd);
        return;
    }
    pc->srv = srv;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, pc->ip, sizeof pc->ip);
    } else {
        const struct sockaddr_in *s4 = (const void *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, pc->ip, sizeof pc->ip);
    }
    SSL *ssl = srv->tls ? SSL_new(srv->tls) : NULL;
    pc->c = (!srv->tls || ssl) ? conn_new(srv->loop, fd, ssl, &pc_cbs, pc) : NULL;
    pc->timer = evtimer_new(srv->base, pc_timer_cb, pc);
    if (!pc->c || !pc->timer) {
        if (!pc->c) {
            SSL_free(ssl);
            evutil_closesocket(fd);
        }
        conn_free(pc->c);
        if (pc->timer)
            event_free(pc->timer);
        free(pc);
        return;
    }
    http1_init(&pc->p, true, srv->cfg->max_header);
    pc->p.on_body = on_body_bytes;
    pc->p.ud = pc;
    pc->st = PC_HEAD;
    pc->next = srv->pconns;
    if (srv->pconns)
        srv->pconns->prev = pc;
    srv->pconns = pc;
    conn_set_out_low(pc->c, PC_OUT_MARK);
    pc_idle(pc, true);
}
