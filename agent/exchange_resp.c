/* SPDX-License-Identifier: MIT */
/* exchange_resp.c - the response side of an exchange (see exchange.h): the local service's bytes
 * parsed strictly (lib/http1), interim heads, the final head after ttf's rules, the body decoded
 * and handed to the tunnel only as fast as the tunnel takes it, the end of input, and after a
 * 101 the raw pipe. Never an octet after the end of a response goes to the tunnel. */
#include "exchange_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "proxy.h"

/* Decoded body octets from the parser (no transfer coding). */
static void on_body(void *ud, const char *at, size_t len)
{
    exchange *x = ud;
    if (xc_gone(x) || x->ended)
        return;
    obs_response_body(&x->obs, at, len);
    x->resp_bytes += len;
    x->sink->body(x->ud, (const uint8_t *)at, len);
}

void xc_resp_init(exchange *x)
{
    x->resp.on_body = on_body;
    x->resp.ud = x;
    if (x->is_head)
        http1_expect_no_body(&x->resp);
}

/* Reading the local service stops (or goes on) as the tunnel's room says (xc_pump). */
static void pause_local(exchange *x, bool paused)
{
    if (x->paused == paused)
        return;
    x->paused = paused;
    lconn_pause(&x->lc, paused);
    if (paused)
        TLOG_D(x->env->log, "%s %s: paused, no room in the tunnel (%zu octets read ahead)", x->mode,
               x->id, x->lc.sk ? evbuffer_get_length(lconn_in(&x->lc)) : (size_t)0);
    else
        TLOG_D(x->env->log, "%s %s: resumed", x->mode, x->id);
}

/* A head the parser refused: a limit of ours, or the local service's fault. */
static void head_error(exchange *x)
{
    const char *reason = x->resp.err.reason ? x->resp.err.reason : "?";
    char msg[256];
    if (x->resp.err.kind == HTTP1_ERR_HEAD_TOO_BIG) {
        TLOG_W(x->env->log,
               "%s %s: the local service's response head exceeds --max-response-header-size "
               "(%zu bytes)",
               x->mode, x->id, x->env->max_response_head);
        snprintf(msg, sizeof msg,
                 "response head from the local service exceeds ttf's "
                 "--max-response-header-size (%zu bytes)",
                 x->env->max_response_head);
        xc_fail(x, XFAIL_UNAVAILABLE, msg);
        return;
    }
    if (x->resp.err.kind == HTTP1_ERR_TOO_MANY_FIELDS) {
        snprintf(msg, sizeof msg,
                 "response head from the local service has more than %zu header fields "
                 "(ttf's limit)",
                 x->resp.lim.max_fields);
        TLOG_W(x->env->log, "%s %s: %s", x->mode, x->id, msg);
        xc_fail(x, XFAIL_UNAVAILABLE, msg);
        return;
    }
    snprintf(msg, sizeof msg, "the local service sent an invalid response: %s", reason);
    TLOG_W(x->env->log, "%s %s: %s", x->mode, x->id, msg);
    xc_fail(x, XFAIL_BAD_RESPONSE, msg);
}

/* The response ended where the parser says; whatever follows it is never forwarded. */
static void finish_response(exchange *x)
{
    if (x->lc.sk && evbuffer_get_length(lconn_in(&x->lc)) > 0) {
        x->no_reuse = true;
        TLOG_D(x->env->log, "%s %s: octets after the end of the response dropped", x->mode, x->id);
    }
    http_headers tr;
    http_headers_init(&tr);
    if (x->resp.head.framing == HTTP1_FRAMING_CHUNKED &&
        http1_chunked_trailers(&x->resp.body.ch, &tr) != 0) {
        http_headers_free(&tr);
        xc_fail(x, XFAIL_INTERNAL, "out of memory");
        return;
    }
    xc_end(x, tr.n ? &tr : NULL);
    http_headers_free(&tr);
}

/* An interim head (1xx but 101): observed; relayed after the response rules when asked. The
 * service is at work (102 Processing exists to keep a client from timing out, RFC 2518 §10.1; a
 * 103 comes before a slow page): the wait for the final head starts again, as nginx's read
 * timeout does on every read. */
static void interim_head(exchange *x)
{
    const http1_head *h = &x->resp.head;
    xc_arm_timer(x);
    obs_response_head(&x->obs, h->status, &h->headers, true);
    if (!x->interim)
        return;
    http_headers out;
    proxy_response rule = {.status = h->status};
    if (http_headers_copy(&out, &h->headers) != 0 || proxy_response_headers(&out, &rule) != 0) {
        http_headers_free(&out);
        xc_fail(x, XFAIL_INTERNAL, "out of memory");
        return;
    }
    x->sink->interim(x->ud, h->status, h->reason, &out);
    http_headers_free(&out);
}

/* The final head: ttf's rules (lib/proxy: hop-by-hop out, the body decoded), redirects in
 * rewrite mode, then the `head` upcall. */
static void final_head(exchange *x)
{
    const http1_head *h = &x->resp.head;
    int st = h->status;
    if (st == 101) {
        /* upgrade_req only where a 101 may be relayed (binary mode): elsewhere the request went
         * without Upgrade, the same fault whatever the mode or back-end */
        if (!x->upgrade_req) {
            xc_fail(x, XFAIL_BAD_RESPONSE,
                    "the local service answered 101 to a request without Upgrade");
            return;
        }
        x->upgraded = true;
    }
    obs_response_head(&x->obs, st, &h->headers, false);
    bool fin = !x->upgraded && (h->framing == HTTP1_FRAMING_NONE ||
                                (h->framing == HTTP1_FRAMING_LENGTH && h->content_length == 0));
    http_headers out;
    proxy_response rule = {.status = st, .upgrade = x->upgraded, .trailers = x->trailers_ok};
    if (http_headers_copy(&out, &h->headers) != 0 || proxy_response_headers(&out, &rule) != 0 ||
        rewrite_response_location(x->env->host, x->public_base, &out) != 0) {
        http_headers_free(&out);
        xc_fail(x, XFAIL_INTERNAL, "out of memory");
        return;
    }
    exchange_head eh = {
        .status = st,
        .reason = h->reason ? h->reason : "",
        .headers = &out,
        /* as the head says (also on HEAD and 304 answers); never for 101 and 204, whose
         * Content-Length lib/proxy removes */
        .content_length = x->upgraded || st == 204 ? -1 : h->content_length,
        .fin = fin,
        .upgraded = x->upgraded,
    };
    x->head_sent = true;
    x->final_status = st;
    x->t_head = xc_now_ms(x);
    if (x->timer)
        event_del(x->timer);
    x->sink->head(x->ud, &eh);
    http_headers_free(&out);
    if (xc_gone(x) || x->ended)
        return;
    if (st >= 400 && !h->keep_alive)
        xc_drop_request(x);
    if (xc_gone(x) || x->ended)
        return;
    if (fin)
        finish_response(x);
}

/* The local service ended its side and every octet it sent was handled. */
static void local_end(exchange *x)
{
    if (x->upgraded) {
        x->pipe_local_done = true;
        xc_end(x, NULL);
        return;
    }
    if (!x->head_sent) {
        /* An HTTPS service reached in plain HTTP often closes without a word (OpenSSL's
         * s_server, Python's ssl; nginx and Go answer 400): ngrok's ERR_NGROK_3004 points at
         * https:// too. */
        char msg[400];
        if (local_pool_tls(x->env->pool))
            snprintf(msg, sizeof msg, "the local service closed the connection without answering");
        else
            snprintf(msg, sizeof msg,
                     "the local service closed the connection without answering (if it serves "
                     "HTTPS, tunnel https://%s)",
                     x->env->host->hostport);
        xc_fail(x, x->resp_octets > 0 ? XFAIL_BAD_RESPONSE : XFAIL_UNAVAILABLE,
                x->resp_octets > 0
                    ? "the local service closed the connection inside its response head"
                    : msg);
        return;
    }
    /* A body delimited by the close ends at a FIN, never at a reset: RFC 9112 §8, complete
     * "unless an error was indicated by the underlying connection" (a local service killed with
     * unread input resets); a reset is a cut like any other. An error after the FIN (a request
     * write the closed service refused) changes nothing. */
    bool reset = x->local_dead && !x->lc.eof;
    if (!reset && http1_finish(&x->resp) == HTTP1_MSG_END) {
        finish_response(x);
        return;
    }
    const char *msg = reset ? "the local service reset the connection mid-response"
                            : "the local service closed the connection mid-response";
    TLOG_W(x->env->log, "%s %s: %s", x->mode, x->id, msg);
    xc_fail(x, XFAIL_BAD_RESPONSE, msg);
}

/* One step over the first block of input. Returns false to stop the loop; *full when the tunnel
 * had no room for it. */
static bool step(exchange *x, struct evbuffer *in, bool *batch, bool *full)
{
    struct evbuffer_iovec v;
    if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
        return false;
    size_t n = v.iov_len;
    if (x->head_sent) {
        size_t room = x->sink->room(x->ud);
        if (room == 0) {
            *full = true;
            return false;
        }
        if (n > room)
            n = room; /* decoded octets never exceed the raw ones */
    }
    if (x->upgraded) {
        x->resp_octets += n;
        x->resp_bytes += n;
        *batch = true;
        x->sink->body(x->ud, v.iov_base, n);
        if (!xc_gone(x))
            evbuffer_drain(in, n);
        return !xc_gone(x);
    }
    size_t used = 0;
    http1_event ev = http1_execute(&x->resp, v.iov_base, n, &used);
    if (xc_gone(x) || x->ended)
        return false;
    x->resp_octets += used;
    evbuffer_drain(in, used);
    if (x->head_sent)
        *batch = true;
    switch (ev) {
    case HTTP1_ERROR:
        if (!x->head_sent) {
            head_error(x);
        } else {
            char msg[200];
            snprintf(msg, sizeof msg, "the local service sent an invalid response body: %s",
                     x->resp.err.reason ? x->resp.err.reason : "?");
            TLOG_W(x->env->log, "%s %s: %s", x->mode, x->id, msg);
            xc_fail(x, XFAIL_BAD_RESPONSE, msg);
        }
        return false;
    case HTTP1_HEAD:
        if (proxy_status_interim(x->resp.head.status) && x->resp.head.status != 101) {
            interim_head(x);
            /* a service sending interim heads faster than the tunnel takes them waits, as its
             * body would: else each one queued (100,000 of 1 KiB: 240 MB in ttf) */
            if (!xc_gone(x) && !x->ended && x->sink->room(x->ud) == 0) {
                *full = true;
                return false;
            }
        } else {
            final_head(x);
            /* a head the local service sent alone (an event stream before its first event, a
             * long poll) goes out now, not with the first body octets: the flush after this
             * read sends it unless the whole response ended in the same read */
            *batch = true;
        }
        return !xc_gone(x) && !x->ended;
    case HTTP1_MSG_END:
        if (x->head_sent) {
            finish_response(x);
            return false;
        }
        return true; /* an interim response ended; the next head follows */
    default:
        return used > 0 || x->head_sent;
    }
}

/* Reading stops only when the tunnel has no room once the batch went out: the batch's own
 * flush may make the room the last step lacked (the adapter's buffer of the batch sent), and no
 * other event would resume an exchange paused for that room (JSON mode, whose buffer holds two
 * pieces: a read of more than that stalled the response for good). An exchange paused here is
 * resumed by exchange_resume, which the adapters call on every event that makes room: window
 * credit, the WebSocket's output drained, acknowledgements. */
void xc_pump(exchange *x)
{
    bool full;
    do {
        bool batch = false;
        full = false;
        while (!xc_gone(x) && !x->ended && x->lc.sk) {
            struct evbuffer *in = lconn_in(&x->lc);
            if (evbuffer_get_length(in) == 0 || !step(x, in, &batch, &full))
                break;
        }
        if (xc_gone(x) || x->ended)
            return;
        if (batch && x->sink->flush)
            x->sink->flush(x->ud);
        if (xc_gone(x) || x->ended)
            return;
    } while (full && x->sink->room(x->ud) > 0);
    pause_local(x, full);
    if (x->local_eof && (!x->lc.sk || evbuffer_get_length(lconn_in(&x->lc)) == 0))
        local_end(x);
}
