/* SPDX-License-Identifier: MIT */
/* token.h - `ttfd token`: mints an HS256 agent token with the server's secret (--jwt-secret or
 * TTFD_JWT_SECRET), carrying the claims ttfd and the Lambda require (sub, iat, exp).
 * Owns nothing beyond one call. */
#ifndef TTFD_TOKEN_H
#define TTFD_TOKEN_H

#include <stdint.h>

/* "30d", "12h", "90m", "45s" or plain seconds -> seconds (> 0). 0 or -1. */
int token_parse_ttl(const char *s, int64_t *out);

/* argv[0] is "token". Prints the token on stdout; returns the exit status (0, 1 on failure, 2 on
 * a usage error). */
int token_main(int argc, char **argv);

#endif
