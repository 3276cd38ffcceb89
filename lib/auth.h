/* auth.h - verification of agent tokens (JWT) for ttfd and the Lambda.
 * HS256 with a shared secret, and/or a JWKS (RS256/384/512 and ES256 keys; a token's kid picks
 * the key when present). exp and nbf checked with a small leeway; sub required.
 * Owns: the key material loaded into an auth_verifier. */
#ifndef TUNNEL_AUTH_H
#define TUNNEL_AUTH_H

#include <stddef.h>
#include <stdint.h>

typedef struct auth_verifier auth_verifier;

#define AUTH_LEEWAY_SECONDS 60

/* secret may be NULL; jwks_json (a {"keys":[...]} document) may be NULL. At least one is needed.
 * Returns NULL with a reason in err (static string) when the JWKS is unusable. */
auth_verifier *auth_new(const char *secret, const char *jwks_json, const char **err);
/* Reads the JWKS from a file. */
auth_verifier *auth_new_from_file(const char *secret, const char *jwks_path, const char **err);
void auth_free(auth_verifier *v);

/* Verifies token at time now (Unix seconds). On success returns 0 and copies the subject into
 * sub (NUL-terminated, truncated to cap). On failure -1 with a short reason in err. */
int auth_verify(const auth_verifier *v, const char *token, int64_t now, char *sub, size_t cap,
                const char **err);

/* Extracts the token from an "Authorization: Bearer x" value or, failing that, from a raw query
 * string's token= parameter (percent-decoded). Returns a malloc'd token or NULL. */
char *auth_token_from_request(const char *authorization, const char *query);

#endif
