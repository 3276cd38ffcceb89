/* SPDX-License-Identifier: MIT */
/* pconn_xchg.c - one exchange of a public connection with a tunnel (see pconn_int.h): the
 * request body decoded by the strict parser and handed to the stream within its room, and the
 * upcalls of the response: heads (interim relayed to HTTP/1.1 clients, the final one framed by
 * lib/resp_frame), body bytes (path-mode rewriting, framing, an overrun resets the stream and
 * closes the connection after what was legitimately written), trailers, the end, failures. */
#include "pconn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "clock.h"
#include "http1_chunked.h"
#include "proxy.h"

static struct evbuffer *in_buf(const pconn *pc)
{
    return conn_in(pc->c);
}

void xchg_reset(exchange *x)
{
    free(x->method); /* the path shares its block */
    free(x->fwd);
    free(x->spans);
    path_rewriter_free(x->rw);
    path_rewrite_buf_free(&x->rwbuf);
    *x = (exchange){.req_len = -1};
}

void xchg_open(pconn *pc, bool flush)
{
    exchange *x = &pc->x;
    http1_head *h = &pc->p.head;
    mux *m = x->open_mux;
    x->open_mux = NULL;
    if (!m)
        return;
    mux_request rq = {.tunnel = x->open_index,
                      .tunnel_id = x->tunnel,
                      .method = h->method,
                      .target = x->fwd,
                      .headers = &h->headers,
                      .body = x->open_body,
                      .upgrade = x->upgrade};
    mux_admit admit = mux_admit_stream(m);
    if (admit != MUX_ADMIT_OK) { /* the agent's limit or the server's: one answer, the Lambda's */
        x->note.refused = admit == MUX_ADMIT_SERVER_FULL ? REFUSED_SERVER_BUSY : REFUSED_BUSY;
        pc_answer(pc, EDGE_AGENT_BUSY); /* before any 100 Continue: the client sends no body */
        return;
    }
    int status = 502;
    const char *why = "could not reach the tunnel agent";
    x->ops = m->ops;
    x->ms = x->ops->open(m, &rq, &pc_upcalls, pc, &status, &why);
    free(x->fwd);
    x->fwd = NULL;
    if (!x->ms) {
        pc_fail(pc, status, why); /* before any 100 Continue: the client sends no body */
        return;
    }
    if (x->expect_100 && !x->interim && !x->sent_100) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        conn_write(pc->c, cont, sizeof cont - 1);
        x->sent_100 = true;
    }
    if (flush) /* the head leaves in this pass (JSON mode stages it until a flush) */
        x->ops->flush(x->ms);
}

void xchg_end_stream(pconn *pc, mux_end how, const char *why)
{
    exchange *x = &pc->x;
    if (!x->ms)
        return;
    mux_stream *ms = x->ms;
    x->ms = NULL;
    x->ops->close(ms, how, why);
}

/* ---- request body ---- */

/* The parser's decoded body bytes: noted as spans of the batch being parsed (sent once it
 * parsed cleanly), or dropped after an early response. */
void xchg_on_body(void *ud, const char *at, size_t len)
{
    pconn *pc = ud;
    exchange *x = &pc->x;
    x->body_in += len;
    if (pc->st != PC_XCHG || x->req_abandoned || len == 0)
        return;
    if (x->nspans == x->spans_cap) {
        size_t cap = x->spans_cap ? x->spans_cap * 2 : 8;
        body_span *v = realloc(x->spans, cap * sizeof *v);
        if (!v) {
            x->send_failed = true;
            return;
        }
        x->spans = v;
        x->spans_cap = cap;
    }
    x->spans[x->nspans++] = (body_span){at, len};
}

/* The batch's decoded bytes go as one piece: a chunked body of one-octet chunks (RFC 9112 §7.1
 * allows any size) would otherwise cost a frame, and at the local service a chunk, per octet
 * (100 000 of them took 1.1 s in binary mode, 10 ms in JSON mode). The spans lie in order in the
 * batch ttfd pulled up from its own input buffer and drains after this, so they are moved
 * together in place (each one lands at or before where it was). */
static void send_spans(pconn *pc)
{
    exchange *x = &pc->x;
    if (x->nspans > 1) {
        char *base = (char *)x->spans[0].p; /* the pulled-up batch: ours, mutable */
        size_t n = x->spans[0].n;
        for (size_t i = 1; i < x->nspans; i++) {
            memmove(base + n, x->spans[i].p, x->spans[i].n);
            n += x->spans[i].n;
        }
        x->spans[0].n = n;
        x->nspans = 1;
    }
    if (x->nspans == 1 && x->ms && !x->send_failed &&
        x->ops->send_body(x->ms, x->spans[0].p, x->spans[0].n) != 0)
        x->send_failed = true;
    x->nspans = 0;
}

/* The request ended (MSG_END): the stream's request direction ends with the trailers. */
static void request_done(pconn *pc)
{
    exchange *x = &pc->x;
    x->req_done = true;
    if (x->req_abandoned || !x->ms)
        return;
    http_headers tr;
    http_headers_init(&tr);
    if (pc->p.body.framing == HTTP1_FRAMING_CHUNKED) {
        http1_chunked_trailers(&pc->p.body.ch, &tr);
        proxy_request_trailers(&tr);
    }
    if (x->ops->end_body(x->ms, &tr) != 0)
        x->send_failed = true;
    http_headers_free(&tr);
}

void xchg_bad_body(pconn *pc, const char *reason)
{
    char why[200];
    snprintf(why, sizeof why, "bad request body: %s", reason ? reason : "unparsable");
    pc->x.open_mux = NULL; /* a stream not yet open never opens */
    xchg_end_stream(pc, MUX_BAD_REQUEST, "bad request body");
    pc_fail(pc, 400, why);
}

/* Body bytes a stream not yet open takes with its head: never beyond the agent's first window. */
static size_t first_room(const mux *m)
{
    return m->first_room && m->first_room < PC_FIRST_BATCH ? m->first_room : PC_FIRST_BATCH;
}

void xchg_pump_body(pconn *pc)
{
    exchange *x = &pc->x;
    struct evbuffer *in = in_buf(pc);
    bool moved = false, flushed = false;
    while (pc->st == PC_XCHG && !x->req_done) {
        size_t avail = evbuffer_get_length(in);
        if (avail == 0)
            break;
        size_t lim = avail;
        if (!x->req_abandoned) {
            size_t room = x->ms ? x->ops->room(x->ms) : x->open_mux ? first_room(x->open_mux) : 0;
            if (room == 0 && x->ms && !flushed) {
                /* JSON mode holds a pass's bytes until the flush: sent, they make room again
                 * (more input than two pieces, 186 KiB, waited for a resume that never came) */
                x->ops->flush(x->ms);
                flushed = true;
                continue;
            }
            if (room == 0) {
                conn_read(pc->c, false); /* resumed by the resume upcall */
                break;
            }
            if (lim > room)
                lim = room;
        }
        /* one contiguous piece: raw bytes >= the decoded bytes they hold, so room holds; the
         * decoded spans point into it until it is drained. A first block of PC_PIECE_MIN or more
         * is taken as it is (the decoder goes octet by octet; the next block follows in the next
         * step): joining blocks copied up to 256 KiB per step (13% of ttfd's samples in a binary
         * upload read 256 KiB at a time). */
        struct evbuffer_iovec first;
        if (evbuffer_peek(in, -1, NULL, &first, 1) == 1 && first.iov_len >= PC_PIECE_MIN &&
            first.iov_len < lim)
            lim = first.iov_len;
        const char *data = (const char *)evbuffer_pullup(in, (ev_ssize_t)lim);
        if (!data) {
            pc_fail(pc, 500, "out of memory");
            return;
        }
        size_t used = 0;
        x->nspans = 0;
        http1_event ev = http1_execute(&pc->p, data, lim, &used);
        if (ev == HTTP1_ERROR) {
            xchg_bad_body(pc, pc->p.err.reason); /* nothing of this batch goes out */
            return;
        }
        if (x->body_cap && x->body_in > x->body_cap) {
            x->open_mux = NULL;
            xchg_end_stream(pc, MUX_CANCEL, "request body too large");
            pc_answer(pc, EDGE_BODY_TOO_LARGE);
            return;
        }
        if (!x->ms && x->open_mux) {
            xchg_open(pc, false); /* the head leaves with this batch's bytes */
            if (!x->ms)
                return;
        }
        send_spans(pc);
        evbuffer_drain(in, used);
        if (used) {
            moved = true;
            flushed = false;
        }
        if (ev == HTTP1_MSG_END) {
            request_done(pc);
            break;
        }
        if (used == 0)
            break;
    }
    if (moved)
        pc->progress_ms = clock_now_ms();
    if (x->ms && !x->req_abandoned)
        x->ops->flush(x->ms);
    if (pc->st == PC_XCHG && !x->req_done && evbuffer_get_length(in) == 0)
        conn_read(pc->c, true);
}

#define PEEK_MAX ((size_t)16 << 20) /* a socket's queue looked at, at most (tcp_rmem: 6 MiB) */

/* Whether the chunked body ends in the octets buffered, then in the socket's queue; a framing
 * error in them is XCHG_REQ_BAD, its rule in *reason. */
static xchg_req_verdict chunked_verdict(pconn *pc, size_t queued, const char **reason)
{
    http1_chunked probe;
    if (http1_chunked_copy(&probe, &pc->p.body.ch) != 0)
        return XCHG_REQ_MAY_END; /* unknown: maybe */
    http1_chunked_result r = HTTP1_CHUNKED_MORE;
    struct evbuffer *in = in_buf(pc);
    int nv = evbuffer_peek(in, -1, NULL, NULL, 0);
    struct evbuffer_iovec *v = nv > 0 ? calloc((size_t)nv, sizeof *v) : NULL;
    if (nv > 0 && !v)
        r = HTTP1_CHUNKED_END; /* unknown: maybe */
    else if (nv > 0)
        evbuffer_peek(in, -1, NULL, v, nv);
    for (int i = 0; i < nv && v && r == HTTP1_CHUNKED_MORE; i++)
        r = http1_chunked_skip(&probe, v[i].iov_base, v[i].iov_len);
    free(v);
    if (r == HTTP1_CHUNKED_MORE && queued > 0) {
        size_t cap = queued < PEEK_MAX ? queued : PEEK_MAX;
        char *buf = queued <= PEEK_MAX ? malloc(cap) : NULL;
        ssize_t n = buf ? conn_peek_queued(pc->c, buf, cap) : -1;
        /* TLS (ciphertext), a queue too large to look at, or no memory: maybe the rest */
        r = n < 0 ? HTTP1_CHUNKED_END : http1_chunked_skip(&probe, buf, (size_t)n);
        free(buf);
    }
    *reason = probe.reason; /* a static string */
    http1_chunked_free(&probe);
    return r == HTTP1_CHUNKED_MORE    ? XCHG_REQ_CUT
           : r == HTTP1_CHUNKED_ERROR ? XCHG_REQ_BAD
                                      : XCHG_REQ_MAY_END;
}

xchg_req_verdict xchg_request_verdict(pconn *pc, size_t queued, const char **reason)
{
    const exchange *x = &pc->x;
    *reason = NULL;
    if (x->req_done || x->upgrade)
        return XCHG_REQ_MAY_END;
    if (pc->p.body.framing == HTTP1_FRAMING_LENGTH)
        return evbuffer_get_length(in_buf(pc)) + queued >= pc->p.body.left ? XCHG_REQ_MAY_END
                                                                           : XCHG_REQ_CUT;
    if (pc->p.body.framing == HTTP1_FRAMING_CHUNKED)
        return chunked_verdict(pc, queued, reason);
    return XCHG_REQ_MAY_END;
}

void xchg_pump_pipe(pconn *pc)
{
    exchange *x = &pc->x;
    struct evbuffer *in = in_buf(pc);
    while (x->ms && evbuffer_get_length(in) > 0) {
        size_t room = x->ops->room(x->ms);
        if (room == 0) {
            conn_read(pc->c, false);
            return;
        }
        size_t lim = evbuffer_get_length(in);
        if (lim > room)
            lim = room;
        const char *data = (const char *)evbuffer_pullup(in, (ev_ssize_t)lim);
        if (!data || x->ops->send_body(x->ms, data, lim) != 0) {
            pc_close(pc);
            return;
        }
        x->note.pipe_in += lim; /* metrics: upgraded bytes from the client */
        evbuffer_drain(in, lim);
        pc->progress_ms = clock_now_ms(); /* --tunnel-timeout */
    }
    if (!x->ms)
        return;
    if (pc->in_eof) {
        if (!x->req_done) {
            x->req_done = true;
            x->ops->end_body(x->ms, NULL);
        }
        if (x->resp_done) { /* the local side had ended its half: both are done */
            xchg_end_stream(pc, MUX_DONE, NULL);
            pc_close(pc);
        }
    } else {
        conn_read(pc->c, true);
    }
}

/* ---- the response ---- */

static void emit(void *ud, const void *data, size_t len)
{
    pc_write(ud, data, len);
}

/* The agent broke the framing rules: the stream is reset (protocol_error, logged by the mux),
 * nothing more is written, and the connection closes after what was legitimately written. */
static void protocol_failure(pconn *pc, const char *why)
{
    exchange *x = &pc->x;
    xchg_end_stream(pc, MUX_PROTOCOL, why);
    if (!x->resp_head)
        pc_fail(pc, 502, "the tunnel agent sent a bad response");
    else
        pc_close(pc);
}

/* Path mode: the head through path_rewrite_response_head (the same fields whether or not a body
 * follows: HEAD and 304 get what GET and 200 get); bodies of rewritable types through the
 * streaming rewriter (their length changes: ttfd frames them). */
static int64_t path_mode_head(pconn *pc, int status, http_headers *h, int64_t known_len, bool fin)
{
    exchange *x = &pc->x;
    bool bodiless = fin || proxy_bodiless(status, x->head_req);
    int k = path_rewrite_response_head(x->tunnel, status, bodiless, h);
    if (k <= PATH_RW_NONE) /* nothing to rewrite (or ENOMEM: the body passes as it came) */
        return known_len;
    x->rw = path_rewriter_new((path_rewrite_kind)k, x->tunnel);
    return -1; /* Content-Length went: ttfd frames it (without x->rw, ENOMEM, unchanged) */
}

/* Whether the connection may persist after an early response: the rest of the body is known,
 * short, and the client is not waiting for a 100 it never got (it may never send it). */
static bool can_drain(const exchange *x)
{
    if (x->req_done)
        return true;
    if (x->req_len < 0 || (x->expect_100 && !x->sent_100))
        return false;
    return (uint64_t)x->req_len - x->body_in <= PC_DRAIN_MAX;
}

/* What of taken octets written at the end of pc's output may still be in it (the client took
 * the oldest first), add more about to be. */
static size_t still_held(const pconn *pc, size_t held, size_t add)
{
    size_t out = pc->c ? conn_out_len(pc->c) : 0;
    return held + add > out + add ? out + add : held + add;
}

static bool hold(pconn *pc, size_t head, size_t body)
{
    size_t heads = still_held(pc, pc->heads_out, head);
    size_t all = still_held(pc, pc->agent_out, head + body);
    size_t over_heads = heads > TTFD_AGENT_HEAD_SHARE ? heads - TTFD_AGENT_HEAD_SHARE : 0;
    size_t over_all = all > TTFD_AGENT_OUT_SHARE ? all - TTFD_AGENT_OUT_SHARE : 0;
    if (!pc->out_charged) /* the group its charge counts in: the agent answering now */
        snprintf(pc->held_by, sizeof pc->held_by, "%s", pc->x.ms ? pc->x.ms->m->id.agent : "");
    if (!mem_budget_charge(&pc->srv->agent_held, pc->held_by, &pc->out_charged, 0,
                           over_heads > over_all ? over_heads : over_all))
        return false;
    pc->heads_out = heads;
    pc->agent_out = all;
    return true;
}

bool pc_hold(pconn *pc, size_t head, size_t body)
{
    if (hold(pc, head, body))
        return true;
    /* Charges are settled when a client's output drains to PC_OUT_MARK: one taking octets slowly
     * above it still counts what it took. Settled now before refusing (refusals are rare). */
    for (pconn *p = pc->srv->pconns; p; p = p->next)
        if (p->out_charged)
            hold(p, 0, 0);
    return hold(pc, head, body);
}

/* what (a head or body bytes) of len octets would take the server's agent_held budget (or its
 * agent address's part of it) past its limit: the exchange is dropped (the agent told, the reason
 * logged) and the client answered 502 before its final head, else its connection closed. */
static void held_over(pconn *pc, const char *what, size_t len)
{
    exchange *x = &pc->x;
    mux_ident *id = &x->ms->m->id;
    MUX_WARN(id,
             "tunnel %s (agent %s): %s of %zu bytes toward a client not reading: %s (%zu bytes "
             "held beyond the shares, %zu for its address): exchange dropped",
             id->tunnel[0] ? id->tunnel : "-", id->agent, what, len, MUX_HELD_OVER,
             pc->srv->agent_held.used, mem_budget_group_used(&pc->srv->agent_held, pc->held_by));
    xchg_end_stream(pc, MUX_CANCEL, MUX_HELD_OVER);
    if (!x->resp_head)
        pc_fail(pc, 502, MUX_HELD_OVER);
    else
        pc_close(pc);
}

static void up_head(void *ud, int status, const char *reason, http_headers *h, int64_t known_len,
                    bool fin)
{
    pconn *pc = ud;
    exchange *x = &pc->x;
    bool interim = proxy_status_interim(status) && status != 101;
    if (!interim && x->path_mode)
        known_len = path_mode_head(pc, status, h, known_len, fin);
    rframe_result r = rframe_head(&x->fr, status, h, known_len, can_drain(x));
    if (r == RFRAME_SKIP)
        goto out;
    if (r != RFRAME_OK) {
        char why[160];
        snprintf(why, sizeof why, "%s (status %d)", x->fr.why ? x->fr.why : "bad head", status);
        protocol_failure(pc, why);
        goto out;
    }
    /* an interim head: the service is at work (ttf's interim_head): --request-timeout anew */
    if (interim && pc->timer == T_REQUEST)
        pc->progress_ms = clock_now_ms();
    if (interim && conn_out_len(pc->c) > PC_OUT_MARK && (status != 100 || x->sent_100))
        goto out; /* a client not reading: interims (outside any window) dropped, not piled up */
    size_t len = 0;
    proxy_cookie_scope(h, pc->srv->cfg->domain); /* one tunnel's cookies never every tunnel's */
    /* the one response rule that is the writing hop's (the agent applied the others) */
    char *head = proxy_response_date(h, status, clock_http_date_now(&pc->srv->date)) == 0
                     ? http_format_response_head(status, reason, h, &len)
                     : NULL;
    if (!head) {
        xchg_end_stream(pc, MUX_CANCEL, "out of memory");
        pc_fail(pc, 502, "the tunnel agent sent a bad response");
        goto out;
    }
    if (!pc_hold(pc, len, 0)) { /* a head toward a client that does not read it: dropped */
        held_over(pc, "response head", len);
        free(head);
        goto out;
    }
    /* A small body of known length goes into the head's buffer chain: one allocation and one
     * iovec per answer instead of two (a 1 KiB answer's head and body took a chain each). */
    if (!interim && x->fr.mode == RFRAME_LENGTH && x->fr.left > 0 &&
        x->fr.left <= PC_JOIN_BODY_MAX && pc->c)
        evbuffer_expand(conn_out(pc->c), len + (size_t)x->fr.left);
    pc_write(pc, head, len);
    free(head);
    if (interim) {
        if (status == 100)
            x->sent_100 = true;
        goto out;
    }
    x->status = status;
    x->resp_head = true;
    if (status == 101) {
        pc->st = PC_PIPE;
        pc->progress_ms = clock_now_ms(); /* --tunnel-timeout from here */
        x->req_done = false;              /* the client's side of the pipe is open */
        conn_read(pc->c, true);
        if (evbuffer_get_length(in_buf(pc)) > 0)
            conn_trigger_read(pc->c);
    } else if (!x->req_done && !x->upgrade) {
        /* A final response before the whole body (an early answer, or a service that sends its
         * head before it reads the body: Node's flushHeaders, a progress stream): written at
         * once, and the body goes on to the service while the response lasts, in both
         * directions at once as a direct connection carries it (dropping it here left such a
         * service waiting for the rest of an upload, and its client hanging). What is left when
         * the response ends is dropped (up_end). */
        conn_read(pc->c, true);
    }
out:
    pc_settle(pc);
}

static void write_body(pconn *pc, const uint8_t *data, size_t len, bool final)
{
    exchange *x = &pc->x;
    if (x->rw) {
        x->rwbuf.len = 0;
        if (path_rewriter_feed(x->rw, data, len, final, &x->rwbuf) != 0) {
            xchg_end_stream(pc, MUX_CANCEL, "out of memory");
            pc_close(pc);
            return;
        }
        data = x->rwbuf.p;
        len = x->rwbuf.len;
    }
    /* Counted in every mode, as the octets queued: the body after path rewriting, and a chunk's
     * framing (only an agent without windows, JSON without stream_windows, passes the share). */
    size_t queued = len + (x->fr.mode == RFRAME_CHUNKED && len
                               ? HTTP1_CHUNK_PREFIX_MAX + sizeof HTTP1_CHUNK_SUFFIX - 1
                               : 0);
    if (x->ms && !pc_hold(pc, 0, queued)) {
        held_over(pc, "response body", queued);
        return;
    }
    rframe_result r = rframe_body(&x->fr, data, len, emit, pc);
    if (r != RFRAME_OK)
        protocol_failure(pc, x->fr.why ? x->fr.why : "body out of place");
}

static void up_body(void *ud, const uint8_t *data, size_t len)
{
    pconn *pc = ud;
    exchange *x = &pc->x;
    if (pc->st == PC_PIPE)
        pc->progress_ms = clock_now_ms(); /* --tunnel-timeout */
    write_body(pc, data, len, false);
    if (x->ms)
        x->ops->credit(x->ms, conn_out_len(pc->c));
    pc_settle(pc);
}

static void up_end(void *ud, const http_headers *trailers)
{
    pconn *pc = ud;
    exchange *x = &pc->x;
    if (x->rw)
        write_body(pc, NULL, 0, true);
    if (!x->ms) /* the body was refused: the connection is closing */
        goto out;
    rframe_result r = rframe_end(&x->fr, trailers, emit, pc);
    if (r == RFRAME_TRUNCATED) {
        TLOG_W(pc->srv->log, "tunnel %s: %s: the response ends short; connection closed", x->tunnel,
               x->fr.why ? x->fr.why : "truncated");
        xchg_end_stream(pc, MUX_CANCEL, "response truncated");
        pc_close(pc);
        goto out;
    }
    if (r != RFRAME_OK) {
        protocol_failure(pc, x->fr.why ? x->fr.why : "end out of place");
        goto out;
    }
    x->resp_done = true;
    if (pc->st == PC_PIPE) {
        /* The local side ended its half of the upgraded connection: our FIN to the client once
         * what it sent is out, as HAProxy forwards a shutdown in a tunnel. The client's half
         * stays open until it ends it too (then the close, in xchg_pump_pipe), its octets still
         * relayed; --half-close-timeout bounds the wait (nginx closes both halves at once). */
        pc->progress_ms = clock_now_ms();
        if (x->req_done) {
            xchg_end_stream(pc, MUX_DONE, NULL);
            pc_close(pc);
        } else {
            conn_shutdown(pc->c);
        }
        goto out;
    }
    if (!x->req_done) {
        /* an early response: tell the agent the rest of the body is not coming */
        x->req_abandoned = true;
        xchg_end_stream(pc, MUX_CANCEL, "the response ended before the request body");
    } else {
        xchg_end_stream(pc, MUX_DONE, NULL);
    }
    pc_exchange_done(pc, x->fr.persist);
out:
    pc_settle(pc);
}

static void up_fail(void *ud, int status, const char *why, bool protocol)
{
    pconn *pc = ud;
    exchange *x = &pc->x;
    (void)protocol;
    x->ms = NULL; /* already gone */
    if (!x->resp_head)
        pc_fail(pc, status, why);
    else
        pc_close(pc);
    pc_settle(pc);
}

static void up_resume(void *ud)
{
    pconn *pc = ud;
    if (pc->st == PC_XCHG || pc->st == PC_PIPE) {
        conn_read(pc->c, true);
        pc_process(pc);
    }
    pc_settle(pc);
}

static size_t up_peer_window(void *ud)
{
    pconn *pc = ud;
    return pc->c ? conn_peer_window(pc->c) : SIZE_MAX;
}

const mux_upcalls pc_upcalls = {up_head, up_body, up_end, up_fail, up_resume, up_peer_window};
