/* SPDX-License-Identifier: MIT */
/* dispatch.c - event -> handler. */
#include "dispatch.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "admission.h"
#include "answer.h"
#include "cleanup.h"
#include "events.h"
#include "http_handler.h"
#include "json_io.h"
#include "ws_handlers.h"

char *dispatch_event(lambda_ctx *ctx, const char *event, size_t n, size_t *len, const char **etype,
                     char *emsg, size_t emsgcap)
{
    json_t *ev = json_io_load(event, n);
    if (!ev) {
        *etype = "Runtime.InvalidEvent";
        snprintf(emsg, emsgcap, "event is not a JSON object");
        return NULL;
    }
    char *doc = NULL;
    event_kind k = event_classify(ev);
    switch (k) {
    case EV_WS_CONNECT:
        doc = ws_handle_connect(ctx, ev, len);
        break;
    case EV_WS_MESSAGE:
        doc = ws_handle_message(ctx, ev, len);
        break;
    case EV_WS_DISCONNECT:
        doc = ws_handle_disconnect(ctx, ev, len);
        break;
    case EV_HTTP:
        doc = http_handle(ctx, ev, len);
        break;
    case EV_SCHEDULED:
        doc = cleanup_run(ctx, len, emsg, emsgcap);
        if (!doc)
            *etype = "Cleanup.Failed";
        break;
    default:
        *etype = "Runtime.UnknownEvent";
        snprintf(emsg, emsgcap, "unable to determine the event type");
        break;
    }
    if (!doc && k != EV_UNKNOWN && k != EV_SCHEDULED) {
        *etype = "Runtime.OutOfMemory";
        snprintf(emsg, emsgcap, "out of memory");
    }
    json_decref(ev);
    return doc;
}

void dispatch_after(lambda_ctx *ctx)
{
    admission_leave(ctx); /* first: a waiting request may take the place at once */
    answer_cleanup(ctx);
}
