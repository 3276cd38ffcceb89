/* SPDX-License-Identifier: MIT */
/* auth.h - verification of agent tokens (JWT) for ttfd and the Lambda.
 * HS256 with a shared secret, and/or a JWKS (RS256/384/512 and ES256 keys; a token's kid picks
 * the key when present). exp and nbf checked with a small leeway; sub required. Also mints the
 * HS256 tokens `ttfd token` prints.
 * Owns: the key material loaded into an auth_verifier. */
#ifndef TUNNEL_AUTH_H
#define TUNNEL_AUTH_H

#include <stddef.h>
#include <stdint.h>

typedef struct auth_verifier auth_verifier;

#define AUTH_LEEWAY_SECONDS 60
#define AUTH_SUB_MAX 255 /* longer subjects are refused, never truncated */
#define AUTH_MINT_MAX_TTL ((int64_t)10 * 366 * 86400)

/* secret may be NULL; jwks_json (a {"keys":[...]} document) may be NULL. At least one is needed.
 * Returns NULL with a reason in err (static string) when the JWKS is unusable. */
auth_verifier *auth_new(const char *secret, const char *jwks_json, const char **err);
/* Reads the JWKS from a file. */
auth_verifier *auth_new_from_file(const char *secret, const char *jwks_path, const char **err);
void auth_free(auth_verifier *v);

/* Verifies token at time now (Unix seconds). On success returns 0 and copies the subject into
 * sub (NUL-terminated). On failure -1 with a short reason in err; a subject longer than
 * AUTH_SUB_MAX bytes, or than sub can hold, is a failure (two subjects must never compare equal
 * because a buffer cut them). */
int auth_verify(const auth_verifier *v, const char *token, int64_t now, char *sub, size_t cap,
                const char **err);

/* Mints an HS256 token for `ttfd token`: claims sub, iat = now and exp = now + ttl (seconds,
 * 1 .. AUTH_MINT_MAX_TTL), exactly what auth_verify requires. Returns a malloc'd compact JWT, or
 * NULL with a reason in err. */
char *auth_mint_hs256(const char *secret, const char *sub, int64_t now, int64_t ttl,
                      const char **err);

/* The exp claim of a compact JWT, read WITHOUT verifying it (for ttf, which holds no key: what
 * its own token says of its end; only the server judges it). 0, or -1 when there is none. */
int auth_token_exp(const char *token, int64_t *exp);

/* Extracts the token from an "Authorization: Bearer x" value or, failing that, from a raw query
 * string's token= parameter (percent-decoded). Returns a malloc'd token or NULL. */
char *auth_token_from_request(const char *authorization, const char *query);

#endif
