/* SPDX-License-Identifier: MIT */
/* token_end.h - the end of ttf's own token, as the token itself says (its exp claim, read without
 * verifying it: only the server judges a token), so that ttf can tell its user instead of
 * leaving them with a bare 401: a warning when it passes while the tunnel is up (the connection
 * stays, the next one will be refused: a reconnection, a restart of the server, the serverless
 * back-end's move before API Gateway's 2-hour limit), and the reason beside a refusal.
 * Owns: its timer. */
#ifndef TTF_TOKEN_END_H
#define TTF_TOKEN_END_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "log.h"

typedef struct token_end token_end;

/* NULL when token is NULL or carries no exp (nothing to say), or on ENOMEM. A token already
 * past its exp is warned about at once; otherwise once, when it passes. */
token_end *token_end_new(struct event_base *base, const char *token, const tlog *log);
void token_end_free(token_end *t);
/* What to say beside a refusal of the token at time now (Unix seconds): "the token expired at
 * <UTC> (N ago): ..." when its exp has passed, else "" (t may be NULL). */
void token_end_hint(const token_end *t, int64_t now, char *out, size_t cap);

#endif
