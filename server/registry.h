/* registry.h - ttfd's tunnel table: which live agent holds each tunnel id, and who (the token's
 * subject) held it last, so an agent that reconnects can ask for its id back.
 * Owns: its map and owner records; never the agents (opaque pointers). */
#ifndef TTFD_REGISTRY_H
#define TTFD_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "tunnel_id.h"

typedef struct registry registry;

/* Random source for fresh ids (tests inject a fixed sequence). 0 or -1. */
typedef int (*registry_idgen)(void *ud, char out[TUNNEL_ID_LEN + 1]);

registry *registry_new(registry_idgen gen, void *gen_ud); /* gen NULL: tunnel_id_generate */
void registry_free(registry *r);

typedef enum { REG_ERROR = -1, REG_FRESH = 0, REG_RECLAIMED = 1 } registry_claim_result;

/* Gives agent a tunnel id in out. requested (may be NULL) is granted when it is a valid id, no
 * live agent holds it, and - when auth_on - its recorded owner is sub (an id never seen, e.g. after
 * a server restart, is granted and recorded). Otherwise a fresh id unique among live and recorded
 * ids. sub is "" without auth. */
registry_claim_result registry_claim(registry *r, const char *requested, const char *sub,
                                     bool auth_on, void *agent, char out[TUNNEL_ID_LEN + 1]);
/* The live agent holding id (NULL when none). id need not be NUL-terminated. */
void *registry_lookup(const registry *r, const char *id, size_t len);
/* The agent gave up id (disconnected); the owner record stays. No-op unless agent holds it. */
void registry_release(registry *r, const char *id, const void *agent);
size_t registry_live(const registry *r);

#endif
