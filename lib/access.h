/* SPDX-License-Identifier: MIT */
/* access.h - access control at the edge, per tunnel, as the agent asks for it in `ready`
 * (docs/protocol.md §1.2): basic auth (RFC 7617), allowed and denied client networks, and a
 * request rate limit. One implementation for ttfd and the Lambda; ttf uses the same parsers to
 * check its flags before it connects.
 *
 * Order of the checks (access_decide): networks (403: a denied network wins over an allowed
 * one; with an allow list, only its networks pass), then the rate limit (429, so that password
 * guesses are limited too), then basic auth (401). A refused request never reaches the agent.
 *
 * The password is never kept: a policy holds HMAC-SHA256(key, "user:pass") under a random
 * 32-byte key of its own (OpenSSL), and a presented credential is compared by its HMAC in
 * constant time (CRYPTO_memcmp). A slow KDF (PBKDF2) is not used on purpose: every public
 * request is checked on the event loop, so a KDF's cost per wrong guess would let anyone burn
 * the server's CPU; the secret lives only as long as its tunnel.
 *
 * Addresses and networks (and the client behind trusted proxies) are in access_net.h.
 * Owns: an access_policy owns its network lists. Nothing global; thread-compatible. */
#ifndef TUNNEL_ACCESS_H
#define TUNNEL_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access_net.h"
#include "http1.h"

#define ACCESS_NETS_MAX 64      /* entries per network list */
#define ACCESS_USER_MAX 128     /* basic auth user-id, bytes */
#define ACCESS_PASS_MIN 8       /* basic auth password, bytes (as ngrok) */
#define ACCESS_PASS_MAX 256     /* basic auth password, bytes */
#define ACCESS_RATE_MAX 1000000 /* rate_limit.requests */
#define ACCESS_WINDOW_MAX 86400 /* rate_limit.per_sec, seconds */
#define ACCESS_KEY_LEN 32       /* HMAC key and MAC, bytes */
#define ACCESS_RATE_KEY_MAX 9   /* access_rate_key() output, bytes */

/* N requests per S seconds (requests 0: no limit). */
typedef struct access_rate {
    uint32_t requests;
    uint32_t per_sec;
} access_rate;

typedef struct access_policy {
    bool basic;                  /* basic auth required */
    uint8_t key[ACCESS_KEY_LEN]; /* per-policy random HMAC key */
    uint8_t mac[ACCESS_KEY_LEN]; /* HMAC-SHA256(key, "user:pass") */
    void *hmac;                  /* OpenSSL EVP_MAC_CTX keyed with key (owned) */
    access_net *allow, *deny;    /* malloc'd (NULL when empty) */
    size_t nallow, ndeny;
    access_rate rate;
} access_policy;

typedef enum {
    ACCESS_ALLOW = 0,
    ACCESS_REFUSE_CIDR, /* 403 */
    ACCESS_REFUSE_RATE, /* 429 with Retry-After */
    ACCESS_REFUSE_AUTH, /* 401 with WWW-Authenticate */
} access_result;

typedef struct access_verdict {
    access_result result;
    int status;               /* 0 (allowed), 403, 429 or 401 */
    uint32_t retry_after_s;   /* 429: whole seconds until a request may pass again (>= 1) */
    bool strip_authorization; /* allowed by the tunnel's basic credentials: remove the
                               * Authorization field before forwarding (it carried only them) */
} access_verdict;

/* ---- what the agent asks for ---- */

/* "user:pass": a user-id of 1..ACCESS_USER_MAX bytes without ':' and a password of
 * ACCESS_PASS_MIN..ACCESS_PASS_MAX bytes, neither with control characters (RFC 7617 §2).
 * 0, or -1 with a reason in *why. */
int access_basic_check(const char *userpass, const char **why);
/* "100/s", "100/m", "100/h" (N requests per second, minute, hour). 0 or -1 (reason in *why). */
int access_rate_parse(const char *s, access_rate *out, const char **why);

/* The `access` object of ready, as compact JSON text, from ttf's flags (each checked as above).
 * basic NULL: none; rate NULL or rate->requests 0: none. malloc'd, or NULL with a reason in
 * why (cap bytes). */
char *access_request_json(const char *basic, const char *const *allow, size_t nallow,
                          const char *const *deny, size_t ndeny, const access_rate *rate, char *why,
                          size_t cap);

/* ---- policies ---- */

/* Parses and checks ready's `access` value (JSON text of any JSON value). *out receives the
 * policy, or NULL when it asks for nothing ({}). Everything is checked: an object of known
 * fields only (a field this server does not know cannot be enforced, so it is refused), the
 * credential's form, every network, the rate's bounds, the list sizes. -1 with a message for
 * the agent in why ("access: allow_cidr[1]: '10.0.0.0/33': prefix length out of range"). */
int access_policy_from_request(const char *json, size_t len, access_policy **out, char *why,
                               size_t cap);
/* The stored form (no password: the HMAC key and MAC, base64) as JSON text, for a record that
 * other processes read (the Lambda's connection record). malloc'd or NULL. p NULL: "{}". */
char *access_policy_dump(const access_policy *p);
/* Reads access_policy_dump's text back (checked as strictly). *out NULL for "{}". 0 or -1. */
int access_policy_load(const char *json, size_t len, access_policy **out, char *why, size_t cap);
void access_policy_free(access_policy *p);
/* "basic auth, allow 10.0.0.0/8, deny 10.1.0.0/16, 100 requests per 60 s per client" */
void access_policy_describe(const access_policy *p, char *out, size_t cap);

/* ---- deciding ---- */

/* The rate limit's count of one more request from client at now_ms (a Unix or monotonic
 * clock, the callee's choice): 0 when it may pass, > 0 the milliseconds until one may, < 0 when
 * the count failed (the request passes: the limit protects, it does not gate availability). */
typedef int64_t (*access_rate_fn)(void *ud, const access_policy *p, const access_addr *client,
                                  int64_t now_ms);

/* Decides a request: p NULL allows everything. rate may be NULL (no rate limit counted). h: the
 * request's header fields (Authorization). Returns v->result. */
access_result access_decide(const access_policy *p, const access_addr *client,
                            const http_headers *h, int64_t now_ms, access_rate_fn rate,
                            void *rate_ud, access_verdict *v);

/* The refusal's header fields (Cache-Control: no-store, as every edge's own answer; then
 * WWW-Authenticate: Basic realm="<realm>", charset="UTF-8" for 401; Retry-After for 429)
 * appended to out. 0 or -1 (ENOMEM). */
int access_refusal_headers(const access_verdict *v, const char *realm, http_headers *out);
/* The refusal's short text body (no newline). */
const char *access_refusal_body(const access_verdict *v);
/* A whole HTTP/1.1 refusal (text/plain, Content-Length, Date as proxy_response_date says for
 * date, NULL: none, Connection: close), malloc'd. */
char *access_refusal_http(const access_verdict *v, const char *realm, const char *date,
                          size_t *len);
/* "auth", "cidr", "rate_limit" ("" for ACCESS_ALLOW): metric labels and log fields. */
const char *access_result_name(access_result r);

#endif
