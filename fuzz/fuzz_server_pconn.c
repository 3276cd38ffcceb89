/* SPDX-License-Identifier: MIT */
/* fuzz_server_pconn.c - libFuzzer target: ttfd's public-connection state machine (server/pconn*.c
 * over lib/conn) fed raw client bytes in-process, against a fake agent on the tunnel's mux.
 * Byte 0: bit 0 JSON mode (else binary; JSON mode with relay_interim and relay_trailers agreed);
 * bits 1-2 how the agent answers each request (a length, chunked with trailers, an interim then
 * 204, an overrun; JSON mode's heads with a header_order); bits 3-7 the size of the pieces the
 * client's bytes are written in (1..32, x64). The rest: what the client sends. Every request
 * the mux opens gets its answer; the client then closes; every connection and stream must end
 * (no leak, no crash, and never a byte of the agent's past the end of a response: the framer's
 * asserts). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "pconn.h"
#include "proto_bin.h"
#include "proto_json.h"
#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SENT 256

typedef struct agent {
    uint8_t *msgs[MAX_SENT];
    size_t lens[MAX_SENT];
    bool text[MAX_SENT];
    size_t n, answered;
} agent;

static int send_binary(void *ud, const void *hdr, size_t hlen, const void *d, size_t len)
{
    agent *a = ud;
    if (a->n >= MAX_SENT)
        return -1;
    uint8_t *m = malloc(hlen + len + 1);
    memcpy(m, hdr, hlen);
    if (len)
        memcpy(m + hlen, d, len);
    a->msgs[a->n] = m;
    a->lens[a->n] = hlen + len;
    a->text[a->n++] = false;
    return 0;
}

static int send_text(void *ud, const void *d, size_t len)
{
    agent *a = ud;
    if (a->n >= MAX_SENT)
        return -1;
    uint8_t *m = malloc(len + 1);
    memcpy(m, d, len);
    m[len] = 0;
    a->msgs[a->n] = m;
    a->lens[a->n] = len;
    a->text[a->n++] = true;
    return 0;
}

static size_t pending(void *ud)
{
    (void)ud;
    return 0;
}

static void pause_read(void *ud, bool on)
{
    (void)ud;
    (void)on;
}

static void frame(mux *m, uint8_t type, uint8_t flags, uint32_t sid, const char *p, size_t n)
{
    uint8_t buf[512];
    ttf_frame_header(buf, type, flags, sid);
    memcpy(buf + TTF_BIN_HDR, p, n);
    m->vt->on_binary(m, buf, TTF_BIN_HDR + n);
}

static void frame_s(mux *m, uint8_t type, uint8_t flags, uint32_t sid, const char *p)
{
    frame(m, type, flags, sid, p, strlen(p));
}

static void json_msg(mux *m, const char *json)
{
    tmsg msg;
    const char *err = NULL;
    if (tmsg_decode(json, strlen(json), &msg, &err) != 0)
        abort(); /* the target's own messages always decode */
    m->vt->on_message(m, &msg);
    tmsg_free(&msg);
}

/* Answers every request the mux sent since the last call. */
static void answer(agent *a, mux *m, bool json, unsigned style)
{
    for (; a->answered < a->n; a->answered++) {
        size_t i = a->answered;
        if (!json) {
            if (a->text[i] || a->lens[i] < TTF_BIN_HDR || a->msgs[i][0] != TTF_OPEN)
                continue;
            const uint8_t *d = a->msgs[i];
            uint32_t sid = (uint32_t)d[2] << 24 | (uint32_t)d[3] << 16 | (uint32_t)d[4] << 8 | d[5];
            switch (style) {
            case 0:
                frame_s(m, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
                frame_s(m, TTF_DATA, TTF_FLAG_FIN, sid, "hello");
                break;
            case 1:
                frame_s(m, TTF_RESPONSE, 0, sid,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n");
                frame_s(m, TTF_DATA, 0, sid, "<a href=\"/x\">x</a>");
                frame_s(m, TTF_TRAILERS, TTF_FLAG_FIN, sid, "X-Sum: 1\r\n\r\n");
                break;
            case 2:
                frame_s(m, TTF_RESPONSE, 0, sid, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n");
                frame_s(m, TTF_RESPONSE, TTF_FLAG_FIN, sid, "HTTP/1.1 204 No Content\r\n\r\n");
                break;
            default:
                frame_s(m, TTF_RESPONSE, 0, sid, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
                frame_s(m, TTF_DATA, TTF_FLAG_FIN, sid, "okHTTP/1.1 200 OK\r\n\r\n");
                break;
            }
            continue;
        }
        if (!a->text[i])
            continue;
        tmsg msg;
        const char *err = NULL;
        if (tmsg_decode((const char *)a->msgs[i], a->lens[i], &msg, &err) != 0)
            abort(); /* ttfd must send what its own codec reads */
        if (msg.type == TMSG_HTTP_REQUEST && msg.request_id) {
            char buf[512];
            const char *rid = msg.request_id;
            /* relays agreed (as ttf asks): lines out of their grouping (header_order), an
             * interim response, a trailer section on the last piece (one kept out: Host) */
            if (style == 0 || style == 2) {
                if (style == 2) {
                    snprintf(buf, sizeof buf,
                             "{\"type\":\"http_response\",\"request_id\":\"%s\","
                             "\"status_code\":103,\"headers\":{\"Link\":[\"</a>\"]}}",
                             rid);
                    json_msg(m, buf);
                }
                snprintf(buf, sizeof buf,
                         "{\"type\":\"http_response\",\"request_id\":\"%s\",\"status_code\":%d,"
                         "\"headers\":{\"content-type\":[\"text/html\"],\"X-A\":[\"1\",\"2\"]},"
                         "\"header_order\":[1,0,1],\"body\":\"aGVsbG8=\"}",
                         rid, style == 0 ? 200 : 204);
            } else {
                snprintf(buf, sizeof buf,
                         "{\"type\":\"http_response\",\"request_id\":\"%s\",\"status_code\":200,"
                         "\"headers\":{\"content-length\":[\"1\"]},\"body\":\"aGVsbG8=\","
                         "\"more\":%s}",
                         rid, style == 1 ? "true" : "false");
            }
            json_msg(m, buf);
            if (style == 1) {
                snprintf(buf, sizeof buf,
                         "{\"type\":\"http_response_body\",\"request_id\":\"%s\",\"seq\":1,"
                         "\"body\":\"\",\"more\":false,\"trailers\":{\"X-Sum\":[\"1\"],"
                         "\"Host\":[\"x\"]},\"trailer_order\":[1,0]}",
                         rid);
                json_msg(m, buf);
            }
        }
        tmsg_free(&msg);
    }
}

static void run(struct event_base *base, int rounds)
{
    for (int i = 0; i < rounds; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool json = data[0] & 1;
    unsigned style = (data[0] >> 1) & 3;
    size_t piece = ((size_t)(data[0] >> 3) + 1) * 64;
    data++;
    size--;

    struct event_base *base = event_base_new();
    server_config cfg = {.domain = "localhost",
                         .request_timeout = 30,
                         .header_timeout = 30,
                         .body_timeout = 30,
                         .max_header = 16384,
                         .max_body = 1 << 20};
    char err[256];
    state *st = state_open(":memory:", 0, err, sizeof err);
    registry_policy pol = {.grace_s = 300, .retention_s = 86400};
    server srv = {.base = base, .cfg = &cfg, .scheme = "http"};
    srv.loop = conn_loop_new(base);
    srv.reg = registry_new(st, &pol, NULL, NULL);
    agent a = {0};
    mux_link link = {&a, send_binary, send_text, pending, 1u << 20, pause_read};
    mux_ident id = {.log = NULL};
    tunnel tun = {.ready = true, .json = json, .interim = true, .trailers = true};
    tun.mux = json ? mux_json_new(&link, &id) : mux_bin_new(&link, &id);
    if (json)
        mux_json_set_relays(tun.mux, true, true); /* what ttf asks for in ready */
    /* a fixed name, so that seeds can route to it: "fuzzfuzzfuzz" (subdomain or path) */
    registry_ask ask = {.name = "fuzzfuzzfuzz", .chosen = true, .owner = ""};
    registry_answer ans;
    registry_claim(srv.reg, &ask, 0, &tun, &ans);
    snprintf(tun.name, sizeof tun.name, "%s", ans.name);
    /* its CDN-Loop mark, as session.c names a tunnel (a seed may carry it: key all zeros) */
    if (proxy_loop_mark(tun.loop_mark, srv.loop_key, sizeof srv.loop_key, tun.name) != 0)
        abort();

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        abort();
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    pconn_accept(&srv, sv[0], (struct sockaddr *)&sa);
    char sink[65536];
    for (size_t off = 0; off < size; off += piece) {
        size_t n = size - off < piece ? size - off : piece;
        if (write(sv[1], data + off, n) < 0)
            break;
        run(base, 3);
        answer(&a, tun.mux, json, style);
        run(base, 3);
        while (read(sv[1], sink, sizeof sink) > 0)
            ;
    }
    run(base, 4);
    answer(&a, tun.mux, json, style);
    run(base, 4);
    close(sv[1]);
    run(base, 4);

    pconn_free_all(&srv);
    tun.mux->vt->free(tun.mux, NULL);
    for (size_t i = 0; i < a.n; i++)
        free(a.msgs[i]);
    registry_free(srv.reg);
    state_close(st);
    conn_loop_free(srv.loop);
    event_base_free(base);
    return 0;
}
