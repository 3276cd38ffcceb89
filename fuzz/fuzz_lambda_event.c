/* SPDX-License-Identifier: MIT */
/* fuzz_lambda_event.c - libFuzzer target: the Lambda's readers of bytes that arrive from the
 * network through the Runtime API: event classification and parsing (WebSocket and HTTP API 2.0
 * events), $connect header/query look-ups, the agent's message in a $default event, the headers
 * forwarded for a public request, and the stored-headers JSON of a response. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "events.h"
#include "http_handler.h"
#include "httpresp.h"
#include "proto_json.h"

/* What http_forward_headers promises: no hop-by-hop field, one exact content-length. */
static void check_forwarded(const http_event *h)
{
    http_headers out;
    http_headers_init(&out);
    if (http_forward_headers(h, "/abc123def456", NULL, NULL, &out) == 0) {
        size_t lengths = 0;
        for (size_t i = 0; i < out.n; i++) {
            const char *n = out.v[i].name;
            if (strcasecmp(n, "connection") == 0 || strcasecmp(n, "transfer-encoding") == 0 ||
                strcasecmp(n, "keep-alive") == 0 || strcasecmp(n, "upgrade") == 0)
                abort();
            if (strcasecmp(n, "content-length") == 0) {
                lengths++;
                if (strtoull(out.v[i].value, NULL, 10) != h->body_len)
                    abort();
            }
        }
        if (lengths > 1 || (h->body_len > 0 && lengths != 1))
            abort();
    }
    http_headers_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *ev = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
    if (ev) {
        const char *err = NULL;
        switch (event_classify(ev)) {
        case EV_WS_CONNECT:
        case EV_WS_MESSAGE:
        case EV_WS_DISCONNECT: {
            ws_event w;
            if (ws_event_parse(ev, &w, &err) == 0 && w.body) {
                if (strlen(w.body) < w.body_len)
                    abort();       /* body_len must describe the string it came with */
                if (!w.body_b64) { /* the agent's message, as $default decodes it */
                    tmsg m;
                    const char *merr = NULL;
                    (void)tmsg_decode(w.body, w.body_len, &m, &merr);
                    tmsg_free(&m);
                }
            }
            free(ws_event_header(ev, "Authorization"));
            free(ws_event_header(ev, "Sec-WebSocket-Protocol"));
            (void)ws_event_query(ev, "token");
            break;
        }
        case EV_HTTP: {
            http_event h;
            if (http_event_parse(ev, 1u << 16, &h, &err) == 0) {
                if (h.body_len > (1u << 16))
                    abort(); /* the limit given must hold */
                if (!h.too_big)
                    check_forwarded(&h);
            }
            http_event_free(&h); /* owed on success and failure alike */
            break;
        }
        default:
            break;
        }
        json_decref(ev);
    }

    /* The same bytes as a stored header map (responseData written from agent messages). */
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    http_headers hh;
    http_headers_init(&hh);
    (void)httpresp_headers_from_json(s, &hh);
    http_headers_free(&hh);
    free(s);
    return 0;
}
