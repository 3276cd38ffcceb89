/* SPDX-License-Identifier: MIT */
/* proto_json.h - the JSON messages of the tunnel protocol (docs/protocol.md §1-2), compatible
 * with upstream's envelope and extended compatibly: cancel, head continuation messages
 * (http_request_headers / http_response_headers), the lossless octet form {"b64":"..."} for
 * HTTP octets that are not UTF-8, several tunnels per connection (tunnels[], tunnel_id).
 * Decoding validates types and fields and never trusts sizes; every string that ends up in an
 * HTTP head is checked for injection octets.
 * Owns: a decoded tmsg owns its strings, header list, tunnel list and decoded body until
 * tmsg_free. */
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
#define TTF_AGENT_KEY_MAX 256       /* ready's agent_key, bytes */
#define TTF_JSON_MAX_TUNNELS 256    /* tunnels[] entries: binary OPEN's index is one octet */
#define TTF_JSON_TUNNEL_NAME_MAX 64 /* tunnels[].name, bytes */
#define TTF_JSON_REQUEST_ID_MAX 256 /* request_id, bytes */
/* The per-request response window ttfd grows a stream to once its client reads (docs/protocol.md
 * §2 "Flow control"): about 11 pieces of TTF_JSON_CHUNK, as much as ttfd held for a slow client
 * before it paused the whole link. */
#define TTF_JSON_STREAM_WINDOW ((uint64_t)1 << 20)
/* The window ttfd announces (connection_established.stream_window) and a stream starts with: a
 * client that never reads makes ttfd hold no more than this. */
#define TTF_JSON_STREAM_WINDOW_FIRST ((uint64_t)256 << 10)
/* The per-request request-body window ttfd announces to an agent that honours it
 * (connection_established.request_window, docs/protocol.md §2 "Flow control"): what ttf holds for
 * a local service that does not read its request body, instead of pausing the whole link. */
#define TTF_JSON_REQUEST_WINDOW ((uint64_t)1 << 20)

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
    TMSG_CANCEL,                /* either way: drop the exchange at once */
    TMSG_HTTP_REQUEST_HEADERS,  /* server -> agent: more fields of a request head */
    TMSG_HTTP_RESPONSE_HEADERS, /* agent -> server: more fields of a response head */
    TMSG_WINDOW, /* either way: more body bytes for one request (server -> agent: response body,
                    agent -> server: request body) */
} tmsg_type;
/* The last type: TMSG_READY..TMSG_TYPE_LAST are every message (for loops over all of them);
 * moves with a type added above. */
#define TMSG_TYPE_LAST TMSG_WINDOW

typedef enum {
    TERR_NONE = 0,
    TERR_INVALID_REQUEST,
    TERR_TIMEOUT,
    TERR_LOCAL_UNAVAILABLE,
    TERR_INTERNAL,
} tmsg_error_code;

/* One tunnel of a session (docs/protocol.md §1 "Several tunnels"): in ready, what the agent asks
 * for (name, subdomain); in connection_established, what it got (name, tunnel_id, urls). The
 * array order is the tunnel index (binary OPEN's index, JSON http_request's tunnel_id). */
typedef struct tmsg_tunnel {
    char *name;      /* the agent's name for it (ready: required; connection_established: echo) */
    char *subdomain; /* ready: a chosen name, optional */
    /* connection_established: required; ready: optional, a name held before (asked for again,
     * as ready's top-level tunnel_id) */
    char *tunnel_id;
    char *public_url;                     /* connection_established: required */
    char *subdomain_url, *path_based_url; /* connection_established: optional */
    /* ready: this tunnel's access object as compact JSON text (as tmsg.access; NULL: none);
     * connection_established: access_applied, the server enforces it for this tunnel */
    char *access;
    bool access_applied;
} tmsg_tunnel;

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
    bool stream_windows; /* ready: the agent honours per-request windows (§2 "Flow control") */
    /* ready: the agent honours per-request request-body windows and credits them with `window`
     * messages (§2 "Flow control") */
    bool request_windows;
    /* ready: the agent sends interim (1xx) responses and trailer sections and takes request
     * trailers; connection_established: the server relays them (docs/protocol.md §2 "Interim
     * responses and trailers"). Neither side sends them unless both said so. */
    bool relay_interim, relay_trailers;
    /* ready: the agent takes a header name's single value as a plain string ("name":"value",
     * which decoders always accepted) and sends it so where the server confirms;
     * connection_established: the server does both (docs/protocol.md §2 "Header values").
     * http_request, http_response, http_*_headers, http_*_body (trailers): encode a name with one
     * value so (set by a sender once both said so; decoding leaves it false). */
    bool header_strings;
    char *refusal; /* tunnel_refused: "name_invalid", "name_in_use", "name_owned" (+ message) */
    /* connection_established: the secret that lets the agent's next connection take the tunnel
     * over while this one is still open (docs/protocol.md §1 "Moving to a new connection");
     * ready: that secret, to take tunnel_id over. NULL when absent. */
    char *takeover;
    /* connection_established: the server closes the connection after this many seconds (API
     * Gateway: 7200); 0 = no limit announced */
    uint64_t max_lifetime_s;
    /* connection_established: the decoded response body bytes the agent may send per request
     * before a `window` message credits more (docs/protocol.md §2 "Flow control"; 0: not
     * announced, no limit) */
    uint64_t stream_window;
    /* connection_established: the decoded request body bytes the server sends per request before
     * the agent's `window` (binary: WINDOW) credits more (0: not announced; JSON: no limit,
     * binary: TTF_BIN_INITIAL_WINDOW). ready: the window the agent asks for, both modes (0: the
     * server's own; docs/protocol.md §2 "Flow control") */
    uint64_t request_window;
    /* window: the receiver of request_id's body takes this many more decoded body bytes,
     * 1..UINT32_MAX (server -> agent: response body; agent -> server: request body) */
    uint64_t increment;
    /* ready, connection_established: several tunnels (NULL/0: one tunnel, the top-level
     * fields). connection_established repeats the first tunnel at the top level. */
    tmsg_tunnel *tunnels;
    size_t ntunnels;
    /* http_*: request_id; http_request: tunnel_id (optional, absent = the session's first
     * tunnel) in the field above. method, uri, header values and reason carry HTTP octets:
     * sent as JSON strings when they are UTF-8, else as {"b64":"..."} (decoders accept both);
     * they never hold NUL (refused). */
    char *request_id;
    char *method, *uri;   /* http_request */
    int status_code;      /* http_response */
    char *reason;         /* http_response: the reason-phrase (optional, absent = standard);
                             cancel: why (text, optional) */
    http_headers headers; /* http_request, http_response, http_*_headers */
    bool headers_more;    /* http_request, http_response, http_*_headers: more fields follow in
                             http_*_headers messages (seq 1, 2, ...); no body before the last */
    /* http_request_body, http_response_body with more false: the trailer section that ends a
     * chunked body (only where relay_trailers was agreed) */
    http_headers trailers;
    uint8_t *body; /* decoded body piece (NULL when empty) */
    size_t body_len;
    bool more;                   /* more body pieces follow */
    uint32_t seq;                /* *_body and *_headers messages: 1, 2, ... (each its own) */
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

/* tmsg_decode's result, and its reason, for a text of more than JSON_TEXT_MAX_TOKENS (2^19)
 * tokens (lib/json_text.h: refused before any object is built): more than any message of the
 * protocol holds, and it names no exchange (tmsg_request_id_of reads none of it). */
#define TMSG_TOO_MANY_TOKENS (-2)
#define TMSG_ERR_TOO_MANY_TOKENS "more than 524288 JSON tokens"

/* Parses one text message. 0 on success; -1 with a short reason in err (static string) when
 * the JSON is bad, the type unknown, a required field missing or of the wrong type, or base64
 * invalid; TMSG_TOO_MANY_TOKENS (with TMSG_ERR_TOO_MANY_TOKENS in err) for too many tokens. */
int tmsg_decode(const char *json, size_t len, tmsg *out, const char **err);

/* A decoder to reuse for one connection's messages: lib/json_text's parser, json-c's tokener
 * with its stack and buffers kept between messages instead of allocated for each. Owns the
 * parser; holds nothing of a message between calls. NULL when out of memory. */
typedef struct tmsg_decoder tmsg_decoder;
tmsg_decoder *tmsg_decoder_new(void);
void tmsg_decoder_free(tmsg_decoder *d); /* NULL is fine */

/* tmsg_decode with d's parser (NULL d: as tmsg_decode); the same results for every text. */
int tmsg_decode_with(tmsg_decoder *d, const char *json, size_t len, tmsg *out, const char **err);

/* After tmsg_decode failed: the request_id the message names when that field is a string of
 * 1..TTF_JSON_REQUEST_ID_MAX bytes (malloc'd, the caller frees), else NULL, and in *type the
 * message's type (TMSG_UNKNOWN when it has none we know). Reads the text by its structure alone,
 * so a message refused for a lexical fault (an integer beyond int64, say) still names its
 * exchange; one of more than JSON_TEXT_MAX_TOKENS tokens names none (NULL). Lets a receiver fail
 * the exchange a bad message belongs to at once instead of leaving it to time out. */
char *tmsg_request_id_of(const char *json, size_t len, tmsg_type *type);

/* Serialises m (body is base64-encoded; optional fields omitted when NULL/false, request_id null
 * for an error without one). Returns a malloc'd NUL-terminated string, length in *len, or NULL. */
char *tmsg_encode(const tmsg *m, size_t *len);

/* Serialises m as tmsg_encode does and hands the text (len bytes, NUL-terminated, valid during
 * the call only) to send: one copy fewer than tmsg_encode's (send may still copy it, as
 * ws_send_text does into its frame). Returns -1 when encoding failed, else send's result. */
typedef int (*tmsg_text_fn)(void *ud, const char *text, size_t len);
int tmsg_encode_to(const tmsg *m, tmsg_text_fn send, void *ud);

/* ---- heads that do not fit one message (docs/protocol.md §2 "Large heads") ---- */

/* The bytes header entry e adds to a message's "headers" object when encoded on its own
 * ("name":["value"], in the form the encoder picks: a string when the value is UTF-8, else
 * {"b64":...}); grouping with other values of the name only makes it smaller. */
size_t tmsg_header_encoded_max(const http_header *e);

/* A bound of tmsg_header_encoded_max(e) from the lengths alone (6 bytes an octet, the most an
 * escape takes, and the punctuation): where it fits, the exact figure fits too. */
size_t tmsg_header_encoded_bound(const http_header *e);

/* Sends the head message m (http_request or http_response carrying all its header fields and
 * the first body piece, possibly empty, with m->more saying whether pieces follow) through
 * send: as m itself when it fits TTF_JSON_MAX_MSG; else as m with the first fields that fit,
 * headers_more and no body, then http_request_headers / http_response_headers messages (seq 1,
 * 2, ...) with the rest, the last with headers_more false. Returns 1 when m's body piece went
 * out with the head, 0 when it did not (the caller sends it, if any, as body piece seq 1: the
 * head said more when m had a body or m->more), -1 when one field line alone cannot fit one
 * message, when encoding failed, or when send returned non-zero. */
typedef int (*tmsg_send_fn)(void *ud, const tmsg *m);
int tmsg_send_head(const tmsg *m, tmsg_send_fn send, void *ud);

/* Appends the fields of a continuation message (src) to a head's list (dst). 0 or -1 (ENOMEM);
 * src is left empty. */
int tmsg_take_headers(http_headers *dst, http_headers *src);

const char *tmsg_type_name(tmsg_type t);
const char *tmsg_error_name(tmsg_error_code c); /* "local_service_unavailable" */
int tmsg_error_status(tmsg_error_code c);       /* 400 / 504 / 502 / 502 */

#endif
