/* SPDX-License-Identifier: MIT */
/* registry.h - ttfd's tunnel table: which live agent holds each tunnel name (random ids and names
 * chosen with `ttf --subdomain`), and the rules for who may take a name. Owners are kept in the
 * state database (state.h) so that they survive a restart:
 *
 * - with auth, a name belongs to the token's subject ("sub:<subject>") for `retention` seconds
 *   after its last agent let it go (forever when retention < 0);
 * - without auth, an agent that sent an agent key ("key:<sha256 of the key>") keeps its name for
 *   `grace` seconds after it disconnected, so nobody else takes it mid-reconnect; an agent
 *   without a key ("") keeps nothing.
 *
 * Owns: its live map (name -> agent; the agents are opaque pointers, never freed here). Borrows
 * the state. */
#ifndef TTFD_REGISTRY_H
#define TTFD_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"
#include "tunnel_id.h"

typedef struct registry registry;

typedef struct registry_policy {
    bool auth_on;
    int64_t grace_s;     /* seconds a released name is held for a key owner (and without auth) */
    int64_t retention_s; /* seconds a released name stays its subject's with auth; < 0 forever */
} registry_policy;

/* Random source for fresh ids (tests inject a fixed sequence). 0 or -1. */
typedef int (*registry_idgen)(void *ud, char out[TUNNEL_ID_LEN + 1]);

/* gen NULL: tunnel_id_generate. st is borrowed and must outlive the registry. */
registry *registry_new(state *st, const registry_policy *pol, registry_idgen gen, void *gen_ud);
void registry_free(registry *r);

typedef struct registry_ask {
    const char *name;  /* asked for: a name held before (NULL: none) */
    bool chosen;       /* name came from --subdomain: refuse rather than give another one */
    const char *owner; /* tunnel_owner() of the agent */
} registry_ask;

typedef enum {
    REG_ERROR = -1,  /* state database failure or no fresh id: reason in answer.message */
    REG_FRESH = 0,   /* a new random id (answer.code says why an asked-for name was not given) */
    REG_GRANTED = 1, /* the name asked for */
    REG_REFUSED = 2, /* a chosen name that cannot be given: answer.code and .message say why */
} registry_claim_result;

typedef struct registry_answer {
    char name[TUNNEL_NAME_MAX + 1];
    const char *code; /* NULL, "name_invalid", "name_in_use" or "name_owned" */
    char message[256];
    bool created;   /* granted or fresh: no owner record existed, this claim made it */
    bool returning; /* granted a name whose record was already this owner's (a reconnect or a
                     * restart of the same agent or subject) */
} registry_answer;

/* Gives agent a name at time now (Unix seconds). */
registry_claim_result registry_claim(registry *r, const registry_ask *ask, int64_t now, void *agent,
                                     registry_answer *ans);
/* The live agent holding name (NULL when none). name need not be NUL-terminated. */
void *registry_lookup(const registry *r, const char *name, size_t len);
/* The agent let name go (disconnected) at now; the owner record stays for its grace/retention.
 * No-op unless agent holds it. 0, or -1 when the state could not record it (reason in err). */
int registry_release(registry *r, const char *name, const void *agent, int64_t now, char *err,
                     size_t cap);
/* Undoes a claim of agent that is not used after all (another tunnel of the same ready was
 * refused): the name is let go at now, and its owner record removed when the claim created it
 * (created from registry_answer), so the refused agent holds nothing it never served. 0 or -1
 * (reason in err). */
int registry_unclaim(registry *r, const char *name, const void *agent, bool created, int64_t now,
                     char *err, size_t cap);
/* The live holder of name becomes agent instead of old (the agent moved to a new connection). 0,
 * or -1 when old does not hold name. */
int registry_move(registry *r, const char *name, const void *old, void *agent);
size_t registry_live(const registry *r);

#endif
