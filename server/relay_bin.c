/* SPDX-License-Identifier: MIT */
/* relay_bin.c - the binary stream protocol (ttf.bin.v2, docs/protocol.md §3) on the server side:
 * request bytes -> OPEN/DATA within the agent's window, RESPONSE/DATA -> the public client with
 * WINDOW credit as the client takes the bytes, RESET both ways, upgrades as raw pipes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_bin.h"
#include "server.h"

#define CREDIT_MIN ((size_t)64 << 10) /* batch WINDOW frames (a quarter of the initial window) */
#define OUT_MARK ((size_t)64 << 10)   /* credit only when the client's buffer is below this */
#define MAX_WINDOW (1u << 30)

int bin_start(pconn *pc, const char *head, size_t hlen, bool bodiless)
{
    pc->win = pc->rwin = (int64_t)TTF_BIN_INITIAL_WINDOW;
    uint8_t hdr[TTF_BIN_OPEN_HDR];
    ttf_frame_open_header(hdr, bodiless ? TTF_FLAG_FIN : 0, pc->sid, 0);
    return ws_send_binary2(pc->ag->ws, hdr, sizeof hdr, head, hlen);
}

void bin_cancel(pconn *pc, uint8_t code, const char *reason)
{
    if (!pc->ag)
        return;
    uint8_t buf[256];
    size_t n = ttf_frame_reset(buf, sizeof buf, pc->sid, code, reason);
    ws_send_binary(pc->ag->ws, buf, n);
    agent_detach(pc->ag, pc);
    pc->ag = NULL;
}

void bin_credit(pconn *pc)
{
    if (!pc->ag || pc->resp_fin || pc->unacked == 0 || !pc->bev)
        return;
    size_t out = evbuffer_get_length(bufferevent_get_output(pc->bev));
    if (out > OUT_MARK || pc->unacked < CREDIT_MIN)
        return;
    uint8_t buf[10];
    size_t n = ttf_frame_window(buf, pc->sid, (uint32_t)pc->unacked);
    ws_send_binary(pc->ag->ws, buf, n);
    pc->rwin += (int64_t)pc->unacked;
    pc->unacked = 0;
}

/* Sends one DATA frame of request/pipe bytes; -1 when the WebSocket refused it. */
static int send_data(pconn *pc, const void *data, size_t len, bool fin)
{
    pc->win -= (int64_t)len;
    if (len)
        pc_arm_timeout(pc); /* the request is still moving */
    return agent_send_frame(pc->ag, TTF_DATA, fin ? TTF_FLAG_FIN : 0, pc->sid, data, len);
}

void bin_pump(pconn *pc)
{
    struct evbuffer *in = bufferevent_get_input(pc->bev);
    while ((pc->st == PC_BODY || pc->st == PC_PIPE) && pc->ag && !pc->req_fin) {
        size_t avail = evbuffer_get_length(in);
        if (pc->st == PC_PIPE && avail == 0) {
            if (pc->in_eof) {
                send_data(pc, NULL, 0, true);
                pc->req_fin = true;
            } else {
                pc_read(pc, true);
            }
            return;
        }
        if (pc->win <= 0 || ws_pending(pc->ag->ws) > ws_high_water()) {
            pc_read(pc, false); /* resumed by WINDOW or on_drain */
            return;
        }
        size_t lim = avail;
        if (lim > (uint64_t)pc->win)
            lim = (size_t)pc->win;
        if (lim > (size_t)TTF_BIN_MAX_DATA)
            lim = (size_t)TTF_BIN_MAX_DATA;
        /* one contiguous piece per frame: few large frames instead of one per buffer chunk */
        const char *data = lim ? (const char *)evbuffer_pullup(in, (ev_ssize_t)lim) : "";
        if (!data) {
            pc_abort(pc);
            return;
        }
        if (pc->st == PC_PIPE) {
            if (send_data(pc, data, lim, false) != 0) {
                pc_abort(pc);
                return;
            }
            evbuffer_drain(in, lim);
            continue;
        }
        size_t used = 0;
        http1_event ev = http1_execute(&pc->p, data, lim, &used);
        if (ev == HTTP1_ERROR) {
            bin_cancel(pc, TTF_RST_INVALID_REQUEST, "bad request body");
            pc_fail(pc, 400, "bad request body");
            return;
        }
        if (pc->body_cap && pc->body_in > pc->body_cap) {
            bin_cancel(pc, TTF_RST_CANCEL, "request body too large");
            pc_fail(pc, 413, "request body too large");
            return;
        }
        bool fin = ev == HTTP1_MSG_END;
        if ((used || fin) && send_data(pc, data, used, fin) != 0) {
            pc_abort(pc);
            return;
        }
        evbuffer_drain(in, used);
        if (fin) {
            pc->req_fin = true;
            pc->st = PC_WAIT;
            return;
        }
        if (used == 0) {
            pc_read(pc, true); /* need more bytes */
            return;
        }
    }
}

/* Status code of a response head ("HTTP/1.1 200 OK\r\n..."); 0 when unreadable. */
static int head_status(const uint8_t *p, size_t n)
{
    if (n < 12 || memcmp(p, "HTTP/", 5) != 0)
        return 0;
    const uint8_t *sp = memchr(p, ' ', n);
    if (!sp || (size_t)(sp - p) + 4 > n)
        return 0;
    int s = 0;
    for (int i = 1; i <= 3; i++) {
        if (sp[i] < '0' || sp[i] > '9')
            return 0;
        s = s * 10 + (sp[i] - '0');
    }
    return s;
}

/* True when the response head frames its body by the close of the connection (ttf.bin.v2
 * has no CLOSE flag: the head says it). */
static bool head_until_close(const uint8_t *p, size_t n)
{
    http1_head h;
    http1_head_init(&h);
    size_t used = 0;
    http1_err err;
    bool close =
        http1_parse_head(&h, (const char *)p, n, false, NULL, &used, &err) == HTTP1_HEAD_DONE &&
        h.framing == HTTP1_FRAMING_CLOSE;
    http1_head_free(&h);
    return close;
}

static void on_response(pconn *pc, const ttf_frame *f)
{
    int status = head_status(f->payload, f->len);
    if (pc->resp_started || !proxy_status_valid(status) || f->len < 4 ||
        memcmp(f->payload + f->len - 4, "\r\n\r\n", 4) != 0) {
        bin_cancel(pc, TTF_RST_INVALID_REQUEST, "bad response head");
        if (pc->resp_started)
            pc_abort(pc);
        else
            pc_fail(pc, 502, "the tunnel agent sent a bad response");
        return;
    }
    evtimer_del(pc->timer);
    pc->resp_started = true;
    pc->status = status;
    pc->resp_close = status != 101 && head_until_close(f->payload, f->len);
    if (status == 101 && pc->upgrade) {
        pc_write(pc, f->payload, f->len);
        pc->st = PC_PIPE;
        pc_read(pc, true);
        if (evbuffer_get_length(bufferevent_get_input(pc->bev)) > 0)
            bufferevent_trigger(pc->bev, EV_READ,
                                BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
    } else if (!pc->keep_alive || pc->upgrade) {
        /* We close after this response: say so. */
        static const char cc[] = "Connection: close\r\n\r\n";
        pc_write(pc, f->payload, f->len - 2);
        pc_write(pc, cc, sizeof cc - 1);
    } else {
        pc_write(pc, f->payload, f->len);
    }
    if (f->flags & TTF_FLAG_FIN)
        pc_response_done(pc);
}

static const char *reset_text(uint8_t code)
{
    switch (code) {
    case TTF_RST_INVALID_REQUEST:
        return "the local service rejected the request";
    case TTF_RST_TIMEOUT:
        return "the local service did not answer in time";
    case TTF_RST_LOCAL_UNAVAILABLE:
        return "the local service is unavailable";
    default:
        return "the tunnel agent failed";
    }
}

void bin_on_frame(agent *ag, const uint8_t *msg, size_t len)
{
    ttf_frame f;
    if (ttf_frame_decode(msg, len, &f) != 0) {
        TLOG_W(ag->srv->log, "agent %s: malformed binary frame dropped", ag->ip);
        return;
    }
    pconn *pc = hmap_get_u32(ag->streams, f.stream_id);
    if (!pc) {
        if (f.type == TTF_DATA || f.type == TTF_RESPONSE) {
            uint8_t buf[64];
            size_t n = ttf_frame_reset(buf, sizeof buf, f.stream_id, TTF_RST_CANCEL, "no stream");
            ws_send_binary(ag->ws, buf, n);
        }
        return;
    }
    switch (f.type) {
    case TTF_RESPONSE:
        on_response(pc, &f);
        break;
    case TTF_DATA:
        if (!pc->resp_started) {
            bin_cancel(pc, TTF_RST_INVALID_REQUEST, "DATA before RESPONSE");
            pc_fail(pc, 502, "the tunnel agent sent a bad response");
            break;
        }
        pc->rwin -= (int64_t)f.len;
        if (pc->rwin < 0) {
            /* the agent ignored our window: we will not buffer without bound */
            bin_cancel(pc, TTF_RST_INVALID_REQUEST, "window exceeded");
            pc_abort(pc);
            break;
        }
        pc_write(pc, f.payload, f.len);
        pc->unacked += f.len;
        bin_credit(pc);
        if (f.flags & TTF_FLAG_FIN)
            pc_response_done(pc);
        break;
    case TTF_WINDOW:
        pc->win += f.window;
        if (pc->win > MAX_WINDOW)
            pc->win = MAX_WINDOW;
        if (pc->st == PC_BODY || pc->st == PC_PIPE)
            pc_process(pc);
        break;
    case TTF_RESET:
        agent_detach(ag, pc);
        pc->ag = NULL;
        TLOG_D(ag->srv->log, "stream %u reset by agent: %s", f.stream_id,
               ttf_reset_name(f.reset_code));
        if (pc->resp_started)
            pc_abort(pc);
        else
            pc_fail(pc, ttf_reset_status(f.reset_code), reset_text(f.reset_code));
        break;
    default:
        break;
    }
    pc_settle(pc);
}
