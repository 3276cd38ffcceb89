/* registry.c - tunnel id -> {live agent, last owner} (see registry.h). */
#include "registry.h"

#include <stdlib.h>
#include <string.h>

#include "hmap.h"

#define MAX_RECORDS 100000 /* owner records kept for reclaiming; beyond it only live ids */
#define MAX_TRIES 64

typedef struct entry {
    void *live;  /* agent holding the id now, or NULL */
    char *owner; /* subject that held it last */
} entry;

struct registry {
    hmap *map; /* id -> entry */
    size_t live;
    registry_idgen gen;
    void *gen_ud;
};

static int default_gen(void *ud, char out[TUNNEL_ID_LEN + 1])
{
    (void)ud;
    return tunnel_id_generate(out);
}

registry *registry_new(registry_idgen gen, void *gen_ud)
{
    registry *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->map = hmap_new();
    if (!r->map) {
        free(r);
        return NULL;
    }
    r->gen = gen ? gen : default_gen;
    r->gen_ud = gen_ud;
    return r;
}

static void free_entry(void *ud, const void *key, size_t klen, void *value)
{
    (void)ud;
    (void)key;
    (void)klen;
    entry *e = value;
    free(e->owner);
    free(e);
}

void registry_free(registry *r)
{
    if (!r)
        return;
    hmap_each(r->map, free_entry, NULL);
    hmap_free(r->map);
    free(r);
}

/* Records agent as the live holder of id with owner sub. */
static int take(registry *r, entry *e, const char *id, const char *sub, void *agent)
{
    char *owner = strdup(sub);
    if (!owner)
        return -1;
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e || hmap_put(r->map, id, TUNNEL_ID_LEN, e) != 0) {
            free(e);
            free(owner);
            return -1;
        }
    }
    free(e->owner);
    e->owner = owner;
    e->live = agent;
    r->live++;
    return 0;
}

registry_claim_result registry_claim(registry *r, const char *requested, const char *sub,
                                     bool auth_on, void *agent, char out[TUNNEL_ID_LEN + 1])
{
    if (!sub)
        sub = "";
    if (requested && tunnel_id_valid(requested, strlen(requested))) {
        entry *e = hmap_get(r->map, requested, TUNNEL_ID_LEN);
        bool ok = !e || (!e->live && (!auth_on || strcmp(e->owner, sub) == 0));
        if (ok) {
            if (!e && hmap_count(r->map) >= MAX_RECORDS)
                goto fresh;
            if (take(r, e, requested, sub, agent) != 0)
                return REG_ERROR;
            memcpy(out, requested, TUNNEL_ID_LEN + 1);
            return REG_RECLAIMED;
        }
    }
fresh:
    for (int i = 0; i < MAX_TRIES; i++) {
        char id[TUNNEL_ID_LEN + 1];
        if (r->gen(r->gen_ud, id) != 0)
            return REG_ERROR;
        if (hmap_get(r->map, id, TUNNEL_ID_LEN))
            continue; /* live or recorded for someone else */
        if (take(r, NULL, id, sub, agent) != 0)
            return REG_ERROR;
        memcpy(out, id, TUNNEL_ID_LEN + 1);
        return REG_FRESH;
    }
    return REG_ERROR;
}

void *registry_lookup(const registry *r, const char *id, size_t len)
{
    if (len != TUNNEL_ID_LEN)
        return NULL;
    entry *e = hmap_get(r->map, id, len);
    return e ? e->live : NULL;
}

void registry_release(registry *r, const char *id, const void *agent)
{
    entry *e = hmap_get(r->map, id, TUNNEL_ID_LEN);
    if (!e || !e->live || e->live != agent)
        return;
    e->live = NULL;
    r->live--;
    if (hmap_count(r->map) > MAX_RECORDS) {
        hmap_del(r->map, id, TUNNEL_ID_LEN);
        free_entry(NULL, NULL, 0, e);
    }
}

size_t registry_live(const registry *r)
{
    return r->live;
}
