/* SPDX-License-Identifier: MIT */
/* proxy.h - the proxy rules, once, for ttfd, ttf and the Lambda (docs/protocol.md §4), as h2o
 * keeps them: a table of known header names with per-header flags, and the policies built on
 * it for requests (edge -> tunnel -> local service) and responses (back), the status rules,
 * request ids and the sizing of JSON-mode pieces.
 * Owns nothing: functions change the caller's header list in place. */
#ifndef TUNNEL_PROXY_H
#define TUNNEL_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1_headers.h"

/* ---- per-header flags ---- */
#define PROXY_HOP_BY_HOP 0x01 /* connection-specific (RFC 9110 §7.6.1): never forwarded */
#define PROXY_FRAMING 0x02    /* frames the body on this hop (Content-Length, Transfer-Encoding) */
#define PROXY_FORWARDED 0x04  /* X-Forwarded-*: the edge writes them */
#define PROXY_UPGRADE 0x08    /* kept when an upgrade passes through (Connection, Upgrade) */
#define PROXY_DROP_REQUEST                                                                         \
    0x10                     /* removed from requests: Expect (the edge answers 100-continue)      \
                              */
#define PROXY_PROTECTED 0x20 /* never removed because Connection names it (Host, framing) */
#define PROXY_TRAILER                                                                              \
    0x40 /* announces trailer fields (Trailer, RFC 9110 §6.6.2): end-to-end, not hop-by-hop, so   \
            kept where the trailers go on and removed where they are dropped (as Go's              \
            httputil.ReverseProxy re-announces the trailers it forwards) */

/* Flags of a known name (0 for HTTP_H_OTHER). */
unsigned proxy_header_flags(http_name_id id);
/* True for the hop-by-hop names: Connection, Keep-Alive, Proxy-Connection, Proxy-Authenticate,
 * Proxy-Authorization, TE, Transfer-Encoding, Upgrade (not Trailer: PROXY_TRAILER). */
bool proxy_is_hop_by_hop(const char *name);

/* Removes hop-by-hop fields and the fields named in Connection (RFC 9110 §7.6.1), except
 * Connection and Upgrade when keep_upgrade (Connection then says just "Upgrade"), and
 * Transfer-Encoding when keep_framing (the body goes on with its framing); removes Trailer
 * unless keep_trailer (the trailer fields it announces go on: binary mode). Host and the framing
 * fields are never removed because Connection names them (that would change the framing the
 * relay follows). 0, or -1 when out of memory (the list then lacks every hop-by-hop name). */
int proxy_remove_hop_by_hop(http_headers *h, bool keep_upgrade, bool keep_framing,
                            bool keep_trailer);

/* ---- requests: edge (ttfd, the Lambda) -> tunnel ---- */
typedef struct proxy_request {
    const char *client_ip; /* appended to X-Forwarded-For unless the list already ends with it
                              (API Gateway appends the client before the Lambda sees it) */
    const char *proto;     /* X-Forwarded-Proto, set: "http" or "https" */
    bool keep_proto;       /* the request came from a trusted front proxy (ttfd --trusted-proxy):
                              its own X-Forwarded-Proto, when it is one field saying "http" or
                              "https", stays (lower case), as nginx's real_ip for a trusted
                              set_real_ip_from; anything else is replaced by proto */
    const char *authority; /* absolute-form target's authority: replaces Host (RFC 9112 §3.2.2,
                              §7.2); NULL keeps Host */
    const char *prefix;    /* path routing: X-Forwarded-Prefix "/<id>", set; NULL: removed */
    bool keep_port;        /* X-Forwarded-Port stays as it came: the Lambda's only peer, API
                              Gateway, writes it; else a client's one is removed (ttfd: Host,
                              hence X-Forwarded-Host, has the port). A client's Forwarded is
                              removed too: the edge writes none, and its host=, proto=, for=
                              would contradict X-Forwarded-* (frameworks read it first). Both
                              stay as they came from a trusted front proxy (keep_proto), as do
                              a client's other claims on its address, scheme or host (X-Real-IP,
                              True-Client-IP, CF-Connecting-IP, X-Forwarded-Ssl, ... and any of
                              these or of X-Forwarded-* spelled with '_'), removed otherwise. */
    bool upgrade;          /* keep Connection: Upgrade and Upgrade */
    bool body_raw;         /* the body goes on with its framing: Transfer-Encoding kept */
    int64_t body_length;   /* >= 0: the decoded body is whole and this long: Content-Length set
                              to it when non-zero or when the client sent one; -1: unchanged */
    bool keep_expect;      /* Expect goes on (ttfd's binary mode relays the local service's
                              100 Continue); else removed: the edge answers it itself */
    bool trailers;         /* trailer fields go on (binary mode): Trailer kept; else removed */
    const char *loop_mark; /* proxy_loop_mark of this edge for the tunnel: appended to CDN-Loop
                              as a field line of its own after the client's (RFC 8586 §2: an
                              intermediary appends, never removes others); NULL: none */
} proxy_request;

/* The request policy (docs/protocol.md §4): hop-by-hop and Connection-listed fields removed
 * (proxy_remove_hop_by_hop; Trailer kept only with trailers), Expect removed unless keep_expect
 * (the edge answers 100-continue itself), Host from the authority (an empty Host added when there
 * is none: what goes on is HTTP/1.1, RFC 9112 §3.2), X-Forwarded-For appended, X-Forwarded-Proto
 * and X-Forwarded-Host (= Host) set, X-Forwarded-Prefix set in path mode and removed otherwise,
 * X-Forwarded-Port (unless keep_port), Forwarded and a client's other address, scheme and host
 * claims (X-Real-IP, ...: docs/protocol.md §4) removed (all kept with keep_proto),
 * Transfer-Encoding kept only with a raw body. 0 or -1 (ENOMEM). */
int proxy_request_headers(http_headers *h, const proxy_request *o);

/* A request's trailer section (RFC 9110 §6.5) as an edge passes it on: X-Forwarded-*, Forwarded
 * and every claim proxy_request_headers removes from an untrusted client (any spelling) are
 * removed, from a trusted front proxy too (it speaks in the header section): an app or server that
 * merges trailers into the headers (Apache httpd's MergeTrailers, CVE-2013-5704) would believe
 * them over the edge's own fields. */
void proxy_request_trailers(http_headers *tr);

/* A WebSocket upgrade request as an edge sees it: Connection lists "upgrade", Upgrade lists
 * "websocket" and not "h2c" (never relayed: RFC 9113 §3.1). The caller adds what it knows of the
 * rest (HTTP/1.1, no body: RFC 9110 §7.8). Refused where no pipe is carried
 * (EDGE_WEBSOCKET_NEEDS_BINARY): a plain answer cannot serve it. */
bool proxy_websocket_upgrade(const http_headers *h);

/* ---- responses: local service -> tunnel -> edge -> client ---- */
typedef struct proxy_response {
    int status;
    bool body_raw;    /* the body goes on with its framing: Transfer-Encoding kept */
    bool upgrade;     /* a 101 to an upgrade request: Connection: Upgrade and Upgrade kept */
    bool trailers;    /* trailer fields go on (binary mode): Trailer kept; else removed */
    const char *date; /* now as an IMF-fixdate (clock_http_date_now) when this hop writes the
                         response to the client (ttfd): proxy_response_date; NULL: the next hop
                         does (ttf: ttfd, or API Gateway for the Lambda) */
} proxy_response;

/* The response policy: hop-by-hop and Connection-listed fields removed (Connection and Upgrade
 * kept on an upgrade's 101), Transfer-Encoding kept only with a raw body, Content-Length
 * removed when Transfer-Encoding is present (RFC 9112 §6.3) and from 1xx and 204 responses
 * together with Transfer-Encoding (RFC 9110 §8.6, RFC 9112 §6.1), Date as proxy_response_date
 * says when o->date. 0 or -1 (ENOMEM). */
int proxy_response_headers(http_headers *h, const proxy_response *o);

/* The Date rule (RFC 9110 §6.6.1): a Date that is one HTTP-date (any of the three forms of
 * §5.6.7, clock_parse_http_date) stays as the local service sent it (a relay does not rewrite
 * what it forwards). An empty or invalid one, or several Date lines (Date is one value, no list),
 * is replaced by "Date: <date>" in the first one's place ("a recipient with a clock that receives
 * a response with an invalid Date header field value MAY replace that value": nginx writes its
 * own Date over any, Fastly too), or removed when this hop writes none (date NULL or "": ttf, the
 * Lambda, whose next hop writes one; interim responses). A final response (200..599) without one
 * gets "Date: <date>" appended: the origin's own rule for the edge's own answers, and "a recipient
 * with a clock that receives a response message without a Date header field MUST ... append" for
 * relayed ones (Go's net/http server, under frp's HTTP vhost, does the same); interim responses
 * (1xx, 101 included) get none, trailers are no head. 0 or -1 (ENOMEM). */
int proxy_response_date(http_headers *h, int status, const char *date);

/* ---- status rules (RFC 9110 §15, RFC 9112 §6.3) ---- */
static inline bool proxy_status_valid(int s) /* a status a relay accepts: 100..599 */
{
    return s >= 100 && s <= 599;
}
static inline bool proxy_status_interim(int s) /* 1xx: another response follows */
{
    return s >= 100 && s <= 199;
}
static inline bool proxy_status_final(int s) /* 200..599 */
{
    return s >= 200 && s <= 599;
}
/* No body follows the head: 1xx, 204, 304, or any answer to HEAD. */
static inline bool proxy_bodiless(int s, bool head_request)
{
    return head_request || proxy_status_interim(s) || s == 204 || s == 304;
}

/* RFC 9110 §9.2.2: a method whose repetition has the effect of one request (GET, HEAD, OPTIONS,
 * TRACE, PUT, DELETE). Only such a request may be sent again by a relay on its own ("A proxy
 * MUST NOT automatically retry non-idempotent requests", RFC 9112 §9.3.1). */
bool proxy_method_idempotent(const char *method);

/* ---- request loops (RFC 8586 CDN-Loop) ---- */
#define PROXY_LOOP_KEY_LEN 32  /* ttfd's per-process key: random bytes */
#define PROXY_LOOP_MARK_LEN 28 /* "http-tunnel-" and 16 hex digits */
/* The cdn-id an edge writes into CDN-Loop (proxy_request.loop_mark) for a request to tunnel name:
 * "http-tunnel-" and the first 8 bytes of HMAC-SHA256(key, name) in hex (key: ttfd's random
 * per-process key, the Lambda's deployment domain). One per tunnel: a request that comes back to
 * the tunnel that forwarded it is a loop (its local service is the edge's own public address),
 * one that goes on through another tunnel of the same edge is a chain, no loop. The app sees its
 * tunnel's mark; a client that sends it, or guesses one, only gets its own request refused. 0,
 * or -1 when the MAC fails. */
int proxy_loop_mark(char out[PROXY_LOOP_MARK_LEN + 1], const void *key, size_t key_len,
                    const char *name);
/* Whether a CDN-Loop field of h has a member whose cdn-id (up to ';' or space, RFC 8586 §2) is
 * mark, case-insensitively: the request went through this edge's tunnel before, and is answered
 * EDGE_LOOP_DETECTED (508) instead of being forwarded again. */
bool proxy_loop_seen(const http_headers *h, const char *mark);

/* ---- request ids ---- */
#define PROXY_REQUEST_ID_LEN 36
/* A fresh UUID v4 from the CSPRNG ("xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx"), drawn from
 * pool (lib/rand_pool; NULL: one RAND_bytes call). 0 or -1. */
struct rand_pool;
int proxy_request_id(char out[PROXY_REQUEST_ID_LEN + 1], struct rand_pool *pool);

/* ---- cookies ---- */
/* Removes every Set-Cookie field whose Domain attribute (RFC 6265 §5.2.3: the last one, a leading
 * '.' ignored, case-insensitive) is domain, the tunnels' shared one, or a parent of it: a browser
 * would send that cookie to every tunnel under domain, one tunnel setting or overwriting another's
 * sessions (cookie tossing) or filling its users' requests past the header limit. A browser
 * ignores such a cookie when the domain is a public suffix (RFC 6265 §5.3 step 5), as ngrok's
 * domains are on the Public Suffix List; a self-hosted domain is not, so the edge does it. Both
 * routing modes: an answer routed by path comes from domain itself, whose Domain=domain cookie
 * would reach every subdomain tunnel just the same. A Clear-Site-Data
 * field naming "cookies" or "*" is removed too: a browser clears the cookies of the whole
 * registrable domain, every tunnel's. Returns how many fields were removed. */
size_t proxy_cookie_scope(http_headers *h, const char *domain);

/* ---- URL fields ---- */
/* Maps the URL url[0..len) to a malloc'd replacement, or NULL when it stays. */
typedef char *(*proxy_url_map)(void *ud, const char *url, size_t len);
/* The URL fields of a response head (Location, Content-Location, and the URL after "url=" in
 * Refresh: "5; url=/x", maybe quoted; not in an RFC, but every browser follows it) passed
 * through map, each new value in its entry's place. 0, or -1 (ENOMEM). */
int proxy_map_url_fields(http_headers *h, proxy_url_map map, void *ud);

/* ---- JSON-mode pieces (docs/protocol.md §2) ---- */
#define PROXY_JSON_MAX_PIECES 100000u  /* most http_*_body pieces one body may have */
#define PROXY_JSON_SLACK ((size_t)256) /* room kept for the body field, "more" and numbers */
/* Raw body bytes the first message (the head) can carry next to a head that encodes to
 * encoded_len bytes without a body: base64 (4 characters per 3 bytes) within one frame of
 * TTF_JSON_MAX_MSG, at most TTF_JSON_CHUNK. 0 when the head alone leaves no room. */
size_t proxy_json_first_piece(size_t encoded_len);

#endif
