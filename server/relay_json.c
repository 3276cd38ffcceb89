/* SPDX-License-Identifier: MIT */
/* relay_json.c - JSON mode (docs/protocol.md §2) on the server side: a public request becomes an
 * http_request (+ http_request_body pieces, each message within API Gateway's 32 KiB frame), the
 * agent's http_response (+ http_response_body pieces) is written to the client as it arrives,
 * framed by Content-Length, chunked coding, or the close of the connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "server.h"

#define CHUNK ((size_t)TTF_JSON_CHUNK)
#define BACKLOG_MAX                                                                                \
    ((size_t)1                                                                                     \
     << 20) /* client output that pauses the agent (JSON mode) */ /* room kept below MAX_MSG for   \
                                                                     the fields of a body message  \
                                                                   */

static uint64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

static void drop_jreq(pconn *pc)
{
    if (pc->jreq) {
        tmsg_free(pc->jreq);
        free(pc->jreq);
        pc->jreq = NULL;
    }
}

void json_reset(pconn *pc)
{
    drop_jreq(pc);
    pc->jlen = 0;
    json_unblock(pc);
}

void json_unblock(pconn *pc)
{
    if (!pc->jblocking)
        return;
    pc->jblocking = false;
    if (pc->ag && --pc->ag->json_blockers == 0)
        ws_pause_read(pc->ag->ws, false);
}

void json_check_backlog(pconn *pc)
{
    if (!pc->json || !pc->bev)
        return;
    size_t out = evbuffer_get_length(bufferevent_get_output(pc->bev));
    if (!pc->jblocking && pc->ag && out > BACKLOG_MAX) {
        pc->jblocking = true;
        if (pc->ag->json_blockers++ == 0)
            ws_pause_read(pc->ag->ws, true);
    } else if (pc->jblocking && out <= BACKLOG_MAX / 2) {
        json_unblock(pc);
    }
}

static void consume(pconn *pc, size_t n)
{
    if (n == 0)
        return;
    memmove(pc->jbuf, pc->jbuf + n, pc->jlen - n);
    pc->jlen -= n;
}

/* Raw body bytes that fit in the first message next to this head (0: none). */
static size_t first_piece_cap(const tmsg *m)
{
    size_t l0 = 0;
    char *js = tmsg_encode(m, &l0);
    if (!js)
        return 0;
    free(js);
    return proxy_json_first_piece(l0);
}

/* Sends staged body bytes in pieces; final: the body is complete. 0 or -1. */
static int flush(pconn *pc, bool final)
{
    while (pc->ag && !pc->req_fin) {
        if (!final && pc->jlen < CHUNK)
            return 0; /* wait for a full piece */
        size_t cap = pc->jreq ? first_piece_cap(pc->jreq) : CHUNK;
        size_t piece = pc->jlen < cap ? pc->jlen : cap;
        bool more = !(final && piece == pc->jlen);
        int rc;
        if (pc->jreq) {
            tmsg *m = pc->jreq;
            m->body = piece ? pc->jbuf : NULL;
            m->body_len = piece;
            m->more = more;
            rc = agent_send_msg(pc->ag, m);
            m->body = NULL; /* jbuf stays ours */
            m->body_len = 0;
            drop_jreq(pc);
        } else {
            if (piece == 0 && more)
                return 0;
            tmsg m;
            tmsg_init(&m, TMSG_HTTP_REQUEST_BODY);
            m.request_id = pc->rid;
            m.seq = pc->jseq++;
            m.body = piece ? pc->jbuf : NULL;
            m.body_len = piece;
            m.more = more;
            rc = agent_send_msg(pc->ag, &m);
        }
        if (rc != 0)
            return -1;
        if (piece)
            pc_arm_timeout(pc); /* the request is still moving */
        consume(pc, piece);
        if (!more)
            pc->req_fin = true;
    }
    return 0;
}

int json_start(pconn *pc, const char *method, const char *uri, http_headers *h, bool bodiless)
{
    tmsg *m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    tmsg_init(m, TMSG_HTTP_REQUEST);
    m->request_id = strdup(pc->rid);
    m->method = strdup(method);
    m->uri = strdup(uri);
    m->timestamp = wall_ms();
    m->headers = *h; /* moved out of the parser */
    http_headers_init(h);
    pc->jreq = m;
    pc->jseq = 1;
    pc->jlen = 0;
    if (!m->request_id || !m->method || !m->uri)
        return -1;
    if (first_piece_cap(m) == 0)
        return -1;
    return bodiless ? flush(pc, true) : 0;
}

void json_pump(pconn *pc)
{
    struct evbuffer *in = bufferevent_get_input(pc->bev);
    while (pc->st == PC_BODY && pc->ag && !pc->req_fin) {
        if (ws_pending(pc->ag->ws) > ws_high_water()) {
            pc_read(pc, false); /* resumed by on_drain */
            return;
        }
        size_t n = evbuffer_get_length(in);
        if (n > CHUNK)
            n = CHUNK;
        const char *data = n ? (const char *)evbuffer_pullup(in, (ev_ssize_t)n) : "";
        if (!data) {
            pc_fail(pc, 500, "out of memory");
            return;
        }
        size_t used = 0;
        size_t staged_before = pc->jlen;
        uint64_t in_before = pc->body_in;
        http1_event ev = http1_execute(&pc->p, data, n, &used);
        evbuffer_drain(in, used);
        if (ev == HTTP1_ERROR) {
            pc_fail(pc, 400, "bad request body");
            return;
        }
        if (pc->body_cap && pc->body_in > pc->body_cap) {
            pc_fail(pc, 413, "request body too large");
            return;
        }
        if (pc->jlen - staged_before != pc->body_in - in_before) {
            pc_fail(pc, 500, "out of memory");
            return;
        }
        bool fin = ev == HTTP1_MSG_END;
        if (flush(pc, fin) != 0) {
            pc_fail(pc, 502, "could not reach the tunnel agent");
            return;
        }
        if (fin) {
            pc->st = PC_WAIT;
            return;
        }
        if (used == 0) {
            pc_read(pc, true);
            return;
        }
    }
}

/* ---- responses ---- */

static void write_piece(pconn *pc, const uint8_t *data, size_t len)
{
    if (!len || pc->rm == RM_NONE)
        return;
    if (pc->rm == RM_CHUNKED) {
        char hdr[HTTP1_CHUNK_PREFIX_MAX];
        pc_write(pc, hdr, http1_chunk_prefix(hdr, len));
        pc_write(pc, data, len);
        pc_write(pc, HTTP1_CHUNK_SUFFIX, sizeof HTTP1_CHUNK_SUFFIX - 1);
    } else {
        pc_write(pc, data, len);
    }
}

static void finish(pconn *pc)
{
    if (pc->rm == RM_CHUNKED)
        pc_write(pc, HTTP1_LAST_CHUNK, sizeof HTTP1_LAST_CHUNK - 1);
    pc_response_done(pc);
}

static void on_response(pconn *pc, tmsg *m)
{
    if (pc->resp_started) {
        pc_abort(pc);
        return;
    }
    evtimer_del(pc->timer);
    int status = m->status_code;
    if (!proxy_status_final(status)) { /* JSON mode carries no interim responses */
        pc_fail(pc, 502, "the tunnel agent sent a bad response");
        return;
    }
    pc->resp_started = true;
    pc->status = status;
    http_headers *h = &m->headers;
    proxy_response rule = {.status = status, .body_raw = false};
    if (proxy_response_headers(h, &rule) != 0) {
        pc_fail(pc, 502, "out of memory");
        return;
    }
    char cl[32];
    if (proxy_bodiless(status, pc->is_head)) {
        pc->rm = RM_NONE;
    } else if (http_headers_get(h, "Content-Length")) {
        pc->rm = RM_LENGTH;
    } else if (!m->more) {
        snprintf(cl, sizeof cl, "%zu", m->body_len);
        http_headers_set(h, "Content-Length", cl);
        pc->rm = RM_LENGTH;
    } else if (pc->is11) {
        http_headers_set(h, "Transfer-Encoding", "chunked");
        pc->rm = RM_CHUNKED;
    } else {
        pc->rm = RM_CLOSE;
        pc->resp_close = true;
    }
    if (!pc->keep_alive || pc->resp_close || !pc->req_fin)
        http_headers_set(h, "Connection", "close");
    size_t hlen = 0;
    char *head = http_format_response_head(status, NULL, h, &hlen);
    if (!head) {
        pc_fail(pc, 502, "the tunnel agent sent a bad response");
        return;
    }
    pc_write(pc, head, hlen);
    free(head);
    write_piece(pc, m->body, m->body_len);
    json_check_backlog(pc);
    pc->jseq_in = 1;
    if (!m->more)
        finish(pc);
}

void json_on_message(agent *ag, tmsg *m)
{
    if (!m->request_id) {
        if (m->type == TMSG_ERROR)
            TLOG_W(ag->srv->log, "agent %s error: %s", ag->ip, m->message ? m->message : "");
        return;
    }
    pconn *pc = hmap_get(ag->streams, m->request_id, strlen(m->request_id));
    if (!pc) {
        TLOG_D(ag->srv->log, "agent %s: %s for an unknown request dropped", ag->ip,
               tmsg_type_name(m->type));
        return;
    }
    switch (m->type) {
    case TMSG_HTTP_RESPONSE:
        on_response(pc, m);
        break;
    case TMSG_HTTP_RESPONSE_BODY:
        if (!pc->resp_started || m->seq != pc->jseq_in) {
            TLOG_W(ag->srv->log, "agent %s: response piece out of order", ag->ip);
            if (pc->resp_started)
                pc_abort(pc);
            else
                pc_fail(pc, 502, "the tunnel agent sent a bad response");
            break;
        }
        pc->jseq_in++;
        write_piece(pc, m->body, m->body_len);
        json_check_backlog(pc);
        if (!m->more)
            finish(pc);
        break;
    case TMSG_ERROR:
        if (pc->resp_started) {
            pc_abort(pc);
        } else {
            char body[200];
            snprintf(body, sizeof body, "tunnel error: %s", tmsg_error_name(m->code));
            pc_fail(pc, tmsg_error_status(m->code), body);
        }
        break;
    default:
        break;
    }
    pc_settle(pc);
}
