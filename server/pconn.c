/* SPDX-License-Identifier: MIT */
/* pconn.c - public connections: accept (plain or TLS), parse request heads, route them to a
 * tunnel (or to the agent endpoint), and the lifecycle of one exchange at a time per connection:
 * keep-alive, pipelining, errors, timeouts, the per-request log line.
 * Lifetime rule: pc_process never frees; every entry point ends with pc_settle. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <event2/bufferevent_ssl.h>

#include "bev_io.h"
#include "proto_bin.h"
#include "proxy.h"
#include "route.h"
#include "server.h"

#define PC_OUT_MARK ((size_t)64 << 10) /* write callback below this: credit the agent, refill */
#define PC_HOLD_MAX ((size_t)64 << 10) /* pipelined input buffered while a response is pending */
#define PC_READ_MAX ((size_t)64 << 10) /* plain sockets: bytes asked for per read */

uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct evbuffer *in_buf(pconn *pc)
{
    return bufferevent_get_input(pc->bev);
}

static struct evbuffer *out_buf(pconn *pc)
{
    return bufferevent_get_output(pc->bev);
}

static void dirty_unlink(pconn *pc)
{
    if (!pc->dirty)
        return;
    if (pc->dirty_prev)
        pc->dirty_prev->dirty_next = pc->dirty_next;
    else
        pc->srv->dirty = pc->dirty_next;
    if (pc->dirty_next)
        pc->dirty_next->dirty_prev = pc->dirty_prev;
    pc->dirty_prev = pc->dirty_next = NULL;
    pc->dirty = false;
}

/* Plain sockets: queue pc for the direct write at the end of this loop pass. */
static void mark_dirty(pconn *pc)
{
    if (pc->dirty || pc->srv->tls)
        return;
    pc->dirty = true;
    pc->dirty_prev = NULL;
    pc->dirty_next = pc->srv->dirty;
    if (pc->srv->dirty)
        pc->srv->dirty->dirty_prev = pc;
    pc->srv->dirty = pc;
    event_active(pc->srv->flush_ev, EV_TIMEOUT, 0);
}

static void write_raw(pconn *pc, const void *data, size_t len)
{
    if (!pc->bev || !len)
        return;
    evbuffer_add(out_buf(pc), data, len);
    mark_dirty(pc);
}

void pc_write(pconn *pc, const void *data, size_t len)
{
    write_raw(pc, data, len);
    pc->bytes_out += len;
}

/* One direct write; what the socket does not take goes out through the write event. */
static void flush_one(pconn *pc)
{
    struct evbuffer *out = out_buf(pc);
    if (evbuffer_get_length(out) > 0 && !(bufferevent_get_enabled(pc->bev) & EV_WRITE)) {
        int err;
        if (bev_write_direct(pc->bev, &err) < 0 && !bev_io_transient(err)) {
            TLOG_D(pc->srv->log, "client %s: write failed: %s", pc->ip, strerror(err));
            pc_abort(pc);
            pc_settle(pc);
            return;
        }
        if (evbuffer_get_length(out) > 0)
            bufferevent_enable(pc->bev, EV_WRITE);
    }
    if (pc->ag && !pc->json)
        bin_credit(pc);
    if (pc->jblocking)
        json_check_backlog(pc);
    pc_settle(pc);
}

void pconn_flush_all(server *srv)
{
    while (srv->dirty) {
        pconn *pc = srv->dirty;
        dirty_unlink(pc); // NOLINT(clang-analyzer-unix.Malloc): a freed pconn unlinks itself
        if (pc->bev)
            flush_one(pc);
    }
}

void pc_log(pconn *pc)
{
    if (pc->logged || (!pc->log_method && !pc->status))
        return;
    pc->logged = true;
    const char *path = pc->log_path ? pc->log_path : "-";
    TLOG_I(pc->srv->log, "%s %.300s %d %llu bytes %llu ms (%s)",
           pc->log_method ? pc->log_method : "-", path, pc->status,
           (unsigned long long)pc->bytes_out, (unsigned long long)(now_ms() - pc->t0_ms), pc->ip);
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
}

static void start_closing(pconn *pc)
{
    pc->st = PC_CLOSING;
    if (pc->bev) {
        pc_read(pc, false);
        pc_idle(pc, false);
    }
    struct timeval tv = {TTFD_LINGER_SEC, 0};
    evtimer_add(pc->timer, &tv);
}

void pc_fail(pconn *pc, int status, const char *body)
{
    if (pc->st == PC_CLOSING || pc->st == PC_GONE)
        return;
    if (pc->resp_started) {
        pc_abort(pc);
        return;
    }
    end_exchange(pc, true);
    size_t len = 0;
    char *msg = http_format_error(status, body, true, &len);
    if (msg)
        pc_write(pc, msg, len);
    free(msg);
    pc->status = status;
    pc->resp_started = true;
    pc_log(pc);
    start_closing(pc);
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
        bufferevent_trigger(pc->bev, EV_READ,
                            BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

void pc_free(pconn *pc)
{
    dirty_unlink(pc);
    end_exchange(pc, true);
    pc_log(pc);
    reset_exchange(pc);
    if (pc->timer)
        event_free(pc->timer);
    if (pc->rd)
        event_free(pc->rd);
    if (pc->bev)
        bufferevent_free(pc->bev);
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
    if (pc->st != PC_CLOSING || evbuffer_get_length(out_buf(pc)) > 0)
        return;
    if (pc->srv->tls) {
        pc_free(pc);
        return;
    }
    /* Half-close and wait for the client's EOF, so a client still sending (say, a body we
     * refused) reads our answer instead of a reset. The linger timer bounds the wait. */
    if (pc_reading(pc))
        return;
    shutdown(bufferevent_getfd(pc->bev), SHUT_WR);
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
    pc->t0_ms = now_ms();
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
        agent_handshake(pc);
        return;
    }
    agent *ag =
        mode == ROUTE_NONE ? NULL : registry_lookup(srv->reg, rr.tunnel_id, strlen(rr.tunnel_id));
    if (!ag || !ag->ready) {
        free(fwd);
        pc_fail(pc, 404, "tunnel not found");
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
            pc->t0_ms = now_ms();
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

/* ---- libevent callbacks ---- */

static void pc_read_cb(struct bufferevent *bev, void *ud)
{
    (void)bev;
    pconn *pc = ud;
    pc_process(pc);
    pc_settle(pc);
}

static void pc_write_cb(struct bufferevent *bev, void *ud)
{
    (void)bev;
    pconn *pc = ud;
    if (pc->ag && !pc->json)
        bin_credit(pc);
    if (pc->jblocking)
        json_check_backlog(pc);
    if (!pc->srv->tls && evbuffer_get_length(out_buf(pc)) == 0)
        bufferevent_disable(pc->bev, EV_WRITE); /* back to direct writes */
    pc_settle(pc);
}

static void pc_event_cb(struct bufferevent *bev, short what, void *ud)
{
    (void)bev;
    pconn *pc = ud;
    if ((what & BEV_EVENT_EOF) && pc->st == PC_PIPE && !pc->json) {
        /* The client ended its side of an upgraded connection: relay what is left, then FIN. */
        pc->in_eof = true;
        pc_read(pc, false);
        bin_pump(pc);
        pc_settle(pc);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        if (pc->st != PC_CLOSING && pc->st != PC_HEAD)
            TLOG_D(pc->srv->log, "client %s left during a request", pc->ip);
        pc_free(pc);
    }
}

/* Plain sockets: one readv of up to PC_READ_MAX straight into the input buffer per readiness,
 * without the ioctl(FIONREAD) and the 4 KiB cap of libevent's own reads; then what the
 * bufferevent would do (read callback, or event callback on EOF, error or idle timeout). */
static void pc_rd_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd; /* bev_read_direct reads the bufferevent's own socket */
    pconn *pc = ud;
    if (what & EV_TIMEOUT) {
        event_del(pc->rd);
        pc_event_cb(pc->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, pc);
        return;
    }
    int err;
    ssize_t n = bev_read_direct(pc->bev, PC_READ_MAX, &err);
    if (n < 0 && bev_io_transient(err))
        return;
    if (n <= 0) {
        event_del(pc->rd);
        pc_event_cb(pc->bev, BEV_EVENT_READING | (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR), pc);
        return;
    }
    pc_read_cb(pc->bev, pc);
}

void pc_read(pconn *pc, bool on)
{
    if (!pc->rd) {
        if (on)
            bufferevent_enable(pc->bev, EV_READ);
        else
            bufferevent_disable(pc->bev, EV_READ);
        return;
    }
    struct timeval idle = {TTFD_IDLE_SEC, 0};
    if (on)
        event_add(pc->rd, pc->rd_idle ? &idle : NULL);
    else
        event_del(pc->rd);
}

bool pc_reading(const pconn *pc)
{
    if (!pc->rd)
        return (bufferevent_get_enabled(pc->bev) & EV_READ) != 0;
    return event_pending(pc->rd, EV_READ, NULL) != 0;
}

void pc_idle(pconn *pc, bool on)
{
    struct timeval idle = {TTFD_IDLE_SEC, 0};
    if (!pc->rd) {
        bufferevent_set_timeouts(pc->bev, on ? &idle : NULL, NULL);
        return;
    }
    pc->rd_idle = on;
    if (!event_pending(pc->rd, EV_READ, NULL))
        return;
    if (on)
        event_add(pc->rd, &idle);
    else
        event_remove_timer(pc->rd);
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
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (srv->tls) {
        SSL *ssl = SSL_new(srv->tls);
        pc->bev = ssl ? bufferevent_openssl_socket_new(
                            srv->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE)
                      : NULL;
        if (pc->bev)
            bufferevent_openssl_set_allow_dirty_shutdown(pc->bev, 1);
        else if (ssl)
            SSL_free(ssl);
    } else {
        pc->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
        pc->rd = event_new(srv->base, fd, EV_READ | EV_PERSIST, pc_rd_cb, pc);
    }
    pc->timer = evtimer_new(srv->base, pc_timer_cb, pc);
    if (!pc->bev || !pc->timer || (!srv->tls && !pc->rd)) {
        if (!pc->bev)
            evutil_closesocket(fd);
        if (pc->bev)
            bufferevent_free(pc->bev);
        if (pc->timer)
            event_free(pc->timer);
        if (pc->rd)
            event_free(pc->rd);
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
    bufferevent_setcb(pc->bev, pc_read_cb, pc_write_cb, pc_event_cb, pc);
    bufferevent_setwatermark(pc->bev, EV_WRITE, PC_OUT_MARK, 0);
    pc_idle(pc, true);
    /* TLS: the bufferevent reads and writes; plain: pc->rd reads, direct writes (the
     * bufferevent's EV_WRITE only for leftovers). */
    if (srv->tls)
        bufferevent_enable(pc->bev, EV_READ | EV_WRITE);
    else
        pc_read(pc, true);
}
