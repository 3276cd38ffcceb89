/* SPDX-License-Identifier: MIT */
/* proto_json.h - the JSON messages of the tunnel protocol (docs/protocol.md §1-2), compatible
 * with upstream's envelope. Decoding validates types and fields and never trusts sizes.
 * Owns: a decoded tmsg owns its strings, header list and decoded body until tmsg_free. */
#ifndef TUNNEL_PROTO_JSON_H
#define TUNNEL_PROTO_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "http1.h"

/* API Gateway WebSocket limits ("Quotas for configuring and running a WebSocket API in API
 * Gateway"): frames of 32 KB, messages of 128 KB. AWS does not say whether a KB is 1000 or 1024
 * bytes here: we stay under the decimal figures. A message longer than one frame is sent as
 * several frames (ws_set_frame_limit). */
#define TTF_JSON_MAX_FRAME ((size_t)32 * 1000)
#define TTF_JSON_MAX_MSG ((size_t)128 * 1000)
/* Raw body bytes per message: 93 KiB are 126976 bytes of base64, which leaves room for the
 * other fields (a request id of up to 256 bytes) in one message. */
#define TTF_JSON_CHUNK ((size_t)93 * 1024)
#define TTF_AGENT_KEY_MAX 256 /* ready's agent_key, bytes */

typedef enum {
    TMSG_UNKNOWN = 0,
    TMSG_READY,
    TMSG_CONNECTION_ESTABLISHED,
    TMSG_PING,
    TMSG_PONG,
    TMSG_HTTP_REQUEST,
    TMSG_HTTP_REQUEST_BODY,
    TMSG_HTTP_RESPONSE,
    TMSG_HTTP_RESPONSE_BODY,
    TMSG_ERROR,
    TMSG_TUNNEL_REFUSED,
    TMSG_ACK,
} tmsg_type;

typedef enum {
    TERR_NONE = 0,
    TERR_INVALID_REQUEST,
    TERR_TIMEOUT,
    TERR_LOCAL_UNAVAILABLE,
    TERR_INTERNAL,
} tmsg_error_code;

typedef struct tmsg {
    tmsg_type type;
    /* ready: tunnel_id optional (asks for a name held before), subdomain optional (a chosen name:
     * granted or refused, never replaced), agent_key optional (the agent's secret, identifying it
     * across reconnects when the server has no auth). connection_established: all ids/urls, and
     * message (optional: why an asked-for name was not given). */
    char *tunnel_id, *connection_id, *public_url, *subdomain_url, *path_based_url;
    char *subdomain, *agent_key;
    /* ready: the `access` value as compact JSON text (checked by lib/access, not here; NULL
     * when absent). connection_established: access_applied, the server enforces it. */
    char *access;
    bool access_applied;
    char *refusal; /* tunnel_refused: "name_invalid", "name_in_use", "name_owned" (+ message) */
    /* connection_established: the secret that lets the agent's next connection take the tunnel
     * over while this one is still open (docs/protocol.md §1 "Moving to a new connection");
     * ready: that secret, to take tunnel_id over. NULL when absent. */
    char *takeover;
    /* connection_established: the server closes the connection after this many seconds (API
     * Gateway: 7200); 0 = no limit announced */
    uint64_t max_lifetime_s;
    /* http_* */
    char *request_id;
    char *method, *uri;   /* http_request */
    int status_code;      /* http_response */
    http_headers headers; /* http_request, http_response */
    uint8_t *body;        /* decoded body piece (NULL when empty) */
    size_t body_len;
    bool more;                   /* more body pieces follow */
    uint32_t seq;                /* *_body messages: 1, 2, ... */
    uint64_t timestamp;          /* http_request, Unix ms */
    uint64_t processing_time_ms; /* http_response */
    /* ack (server -> agent, docs/protocol.md §2 "Acknowledgements"): the message it acknowledges
     * is of type ack_of, for request_id (and seq for a body piece); a ready has no request_id */
    tmsg_type ack_of;
    /* error; message also in connection_established and tunnel_refused */
    tmsg_error_code code;
    char *message;
} tmsg;

void tmsg_init(tmsg *m, tmsg_type type);
void tmsg_free(tmsg *m);

/* Parses one text message. 0 on success; -1 with a short reason in err (static string) when
 * the JSON is bad, the type unknown, a required field missing or of the wrong type, or base64
 * invalid. */
int tmsg_decode(const char *json, size_t len, tmsg *out, const char **err);

/* Serialises m (body is base64-encoded; optional fields omitted when NULL/false, request_id null
 * for an error without one). Returns a malloc'd NUL-terminated string, length in *len, or NULL. */
char *tmsg_encode(const tmsg *m, size_t *len);

const char *tmsg_type_name(tmsg_type t);
const char *tmsg_error_name(tmsg_error_code c); /* "local_service_unavailable" */
int tmsg_error_status(tmsg_error_code c);       /* 400 / 504 / 502 / 502 */

#endif
