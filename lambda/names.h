/* SPDX-License-Identifier: MIT */
/* names.h - which tunnel name an agent gets on the serverless back-end: the rules of ttfd's
 * registry (docs/protocol.md §1) over DynamoDB owner records ("owner#<name>" items, store.h),
 * every claim a conditional write so two Lambdas never give one name to two agents:
 *
 * - with auth, a name belongs to the token's subject for NAME_RETENTION_DAYS after its last
 *   connection let it go (0: forever);
 * - without auth, to the agent key's hash for NAME_GRACE_SECS after its connection closed, so
 *   nobody else takes it mid-reconnect; an agent without a key keeps nothing;
 * - a chosen name (ready.subdomain) is granted or refused, a remembered one (ready.tunnel_id)
 *   granted or replaced by a fresh id with the reason; per tunnel with several (ready.c).
 *
 * Owns nothing beyond one call. */
#ifndef LAMBDA_NAMES_H
#define LAMBDA_NAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "lambda_ctx.h"
#include "proto_json.h"
#include "store.h"

typedef enum {
    NAMES_ERROR = -1,  /* storage failure: close the connection */
    NAMES_OK = 0,      /* ans.name is the tunnel; ans.code/message say why another was asked */
    NAMES_REFUSED = 1, /* a chosen name that cannot be had: ans.code and ans.message */
} names_result;

typedef struct names_answer {
    char name[TUNNEL_NAME_MAX + 1];
    const char *code; /* NULL, "name_invalid", "name_in_use", "name_owned" */
    char message[256];
    bool created; /* the claim created name's owner record (names_unclaim deletes it) */
} names_answer;

/* What one tunnel of a ready asks for. */
typedef struct names_ask {
    const char *held;      /* a name it held before (ready's tunnel_id), or NULL */
    const char *subdomain; /* a chosen name (ready's subdomain), or NULL; wins over held */
    /* its fresh id, recorded for the connection already (the first tunnel's, from $connect);
     * NULL: one is drawn and recorded when no asked-for name is given */
    const char *fresh;
} names_ask;

/* Claims a name for one tunnel of connection cid (owner: tunnel_owner()) in the owner records
 * only: the caller points the connection's record or tunnel item at ans->name, and lets an
 * unused fresh id go. */
names_result names_claim(lambda_ctx *ctx, const char *cid, const char *owner, const names_ask *ask,
                         names_answer *ans);
/* Draws a fresh random id for connection cid and records its owner record (owner:
 * tunnel_owner()), drawing again when the id is taken (4 tries): 0 with the id in tid, or -1
 * (err says why: no randomness, storage, every draw taken). */
int names_fresh(lambda_ctx *ctx, const char *cid, const char *owner, int64_t now,
                char tid[TUNNEL_ID_LEN + 1], char *err, size_t cap);
/* Undoes a granted claim of a ready refused as a whole: a record the claim created is deleted,
 * another released as on disconnect (its owner keeps it for the grace/retention period). */
void names_unclaim(lambda_ctx *ctx, const char *cid, const names_answer *ans);

/* Seconds an owner record lasts once its connection is gone (< 0: forever). */
int64_t names_keep(const lambda_config *cfg, const char *owner);
/* The ttl of a record while its connection lives: past API Gateway's 2-hour connection limit
 * plus names_keep (0: none). */
int64_t names_held_ttl(const lambda_config *cfg, const char *owner, int64_t now);

#endif
