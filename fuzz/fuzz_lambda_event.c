/* SPDX-License-Identifier: MIT */
/* fuzz_lambda_event.c - libFuzzer target: the Lambda's readers of bytes that arrive from the
 * network through the Runtime API: event classification and parsing (WebSocket and HTTP API 2.0
 * events), $connect header/query look-ups, and the stored-headers JSON of a response. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "events.h"
#include "httpresp.h"

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
            if (ws_event_parse(ev, &w, &err) == 0 && w.body && strlen(w.body) < w.body_len)
                abort(); /* body_len must describe the string it came with */
            free(ws_event_header(ev, "Authorization"));
            free(ws_event_header(ev, "Sec-WebSocket-Protocol"));
            (void)ws_event_query(ev, "token");
            break;
        }
        case EV_HTTP: {
            http_event h;
            if (http_event_parse(ev, 1u << 16, &h, &err) == 0 && h.body_len > (1u << 16))
                abort();         /* the limit given must hold */
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
