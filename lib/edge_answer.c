/* SPDX-License-Identifier: MIT */
/* edge_answer.c - the edges' own short answers (edge_answer.h). */
#include "edge_answer.h"

#include <stdio.h>
#include <string.h>

#include "http1_write.h"
#include "proto_bin.h"
#include "proxy.h"

static const edge_answer answers[EDGE_ANSWER_COUNT] = {
    [EDGE_TUNNEL_NOT_FOUND] = {404, "tunnel not found"},
    [EDGE_BODY_TOO_LARGE] = {413, "request body too large"},
    [EDGE_AGENT_BUSY] = {503, "tunnel agent busy: try again"},
    [EDGE_AGENT_GONE] = {502, "the tunnel agent went away"},
    [EDGE_NO_ANSWER_IN_TIME] = {504, "the local service did not answer in time"},
    [EDGE_JSON_FIELD_TOO_LARGE] = {431, "request header field too large for the tunnel's JSON "
                                        "mode (one field line must fit one 128 KB message)"},
    [EDGE_AGENT_HEAD_TOO_LARGE] = {502, "the tunnel agent sent too big a response head"},
    [EDGE_WEBSOCKET_NEEDS_BINARY] = {501, "WebSocket upgrades need the binary tunnel protocol"},
    [EDGE_CONNECT_NOT_SUPPORTED] = {501, "CONNECT is not supported: a tunnel URL is an origin, "
                                         "not a proxy"},
    [EDGE_LOOP_DETECTED] = {508, "request loop: the tunnel's local service sends requests back "
                                 "to this tunnel"},
};

const edge_answer *edge_answer_of(edge_answer_id id)
{
    return &answers[id];
}

const char *edge_answer_retry_after(int status)
{
    return status == 503 ? "1" : NULL;
}

int edge_answer_fields(http_headers *h, int status)
{
    const char *after = edge_answer_retry_after(status);
    if (after && http_headers_add(h, "Retry-After", 11, after, strlen(after)) != 0)
        return -1;
    return http_headers_add(h, "Cache-Control", 13, EDGE_CACHE_CONTROL,
                            sizeof EDGE_CACHE_CONTROL - 1);
}

char *edge_answer_http(int status, const char *text, const char *date, size_t *len)
{
    http_headers extra;
    http_headers_init(&extra);
    char *out = NULL;
    if (edge_answer_fields(&extra, status) == 0 && proxy_response_date(&extra, status, date) == 0)
        out = http_format_text(status, text, &extra, true, len);
    http_headers_free(&extra);
    return out;
}

void edge_reason_text(char *out, size_t cap, const uint8_t *reason, size_t len, const char *dflt)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < cap; i++)
        if (reason[i] >= 0x20 && reason[i] < 0x7f) /* printable ASCII only: a public body */
            out[n++] = (char)reason[i];
    while (n > 0 && out[n - 1] == ' ')
        n--;
    if (n == 0)
        n = (size_t)snprintf(out, cap, "%s", dflt);
    out[n < cap ? n : cap - 1] = '\0';
}

const char *edge_fault_text(uint8_t rst_code)
{
    switch (rst_code) {
    case TTF_RST_INVALID_REQUEST:
        return "the local service rejected the request";
    case TTF_RST_TIMEOUT:
        return answers[EDGE_NO_ANSWER_IN_TIME].text;
    case TTF_RST_LOCAL_UNAVAILABLE:
        return "the local service is unavailable";
    case TTF_RST_PROTOCOL_ERROR:
        return "the tunnel agent reported a protocol error";
    default: /* internal_error, cancel, unknown */
        return "the tunnel agent failed";
    }
}

void edge_agent_error_text(char *out, size_t cap, tmsg_error_code code, const char *message)
{
    uint8_t same = code == TERR_INVALID_REQUEST     ? TTF_RST_INVALID_REQUEST
                   : code == TERR_TIMEOUT           ? TTF_RST_TIMEOUT
                   : code == TERR_LOCAL_UNAVAILABLE ? TTF_RST_LOCAL_UNAVAILABLE
                                                    : TTF_RST_INTERNAL;
    edge_reason_text(out, cap, (const uint8_t *)message, message ? strlen(message) : 0,
                     edge_fault_text(same));
}
