/* SPDX-License-Identifier: MIT */
/* replay.h - the inspector's Replay: sends a captured (optionally edited) request straight to the
 * local service with libevent's HTTP client (evhttp; over TLS, its certificate not verified, for
 * an https:// service), on ttf's event loop, and records the
 * exchange in the capture ring as a new entry ("replay" mode, replay_of = the original).
 * Methods: those evhttp can send (GET POST HEAD PUT DELETE OPTIONS TRACE PATCH); others are
 * refused. Hop-by-hop fields and Content-Length are dropped from the captured head (evhttp frames
 * the body itself with Content-Length).
 * Owns: the in-flight replays (their evhttp connections); replay_free ends each of their entries
 * with the error "cancelled". */
#ifndef TTF_REPLAY_H
#define TTF_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "http1.h"
#include "log.h"

struct event_base;

typedef struct replay_ctx replay_ctx;

typedef struct replay_request {
    const char *method;
    const char *target; /* origin-form ("/path?q") */
    const http_headers *headers;
    const uint8_t *body;
    size_t body_len;
    /* the tunnel of the captured exchange (ttf --config): its local service (host NULL: the
     * one given to replay_new) and its name on the new entry */
    const char *tunnel;
    const char *host;
    int port;
    bool host_default; /* host is the default 127.0.0.1: ::1 is tried when it refuses */
    bool tls;          /* the local service is https:// (its certificate is not verified) */
} replay_request;

/* host/port: the local service; host_default: host is the default 127.0.0.1 (none was given),
 * and ::1 is tried when 127.0.0.1 refuses the connection, as ttf's local pool does (a dev
 * server bound to "localhost" may listen on ::1 only). timeout_sec bounds each replay. NULL on
 * ENOMEM. */
replay_ctx *replay_new(struct event_base *base, const char *host, bool host_default, int port,
                       int timeout_sec, capture *cap, const tlog *lg);
void replay_free(replay_ctx *r);

/* Starts a replay; returns the new entry's id, or 0 with a reason in err (a method evhttp cannot
 * send, a bad target or header, no memory). */
uint64_t replay_start(replay_ctx *r, const replay_request *rq, uint64_t replay_of, char *err,
                      size_t errcap);

/* The evhttp command for a method name; -1 when evhttp cannot send it. (For tests.) */
int replay_method_cmd(const char *method);

#endif
