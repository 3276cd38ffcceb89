/* SPDX-License-Identifier: MIT */
/* registry.c - live names and the rules for taking one (see registry.h). */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"

#define MAX_TRIES 64
#define PURGE_EVERY_S 600

struct registry {
    hmap *live; /* name -> agent */
    state *st;
    registry_policy pol;
    registry_idgen gen;
    void *gen_ud;
    int64_t next_purge;
};

static int default_gen(void *ud, char out[TUNNEL_ID_LEN + 1])
{
    (void)ud;
    return tunnel_id_generate(out);
}

registry *registry_new(state *st, const registry_policy *pol, registry_idgen gen, void *gen_ud)
{
    registry *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->live = hmap_new();
    if (!r->live) {
        free(r);
        return NULL;
    }
    r->st = st;
    r->pol = *pol;
    r->gen = gen ? gen : default_gen;
    r->gen_ud = gen_ud;
    return r;
}

void registry_free(registry *r)
{
    if (!r)
        return;
    hmap_free(r->live);
    free(r);
}

/* Is a released (or recorded) name still its owner's at now? */
static bool held(const registry *r, const state_rec *rec, int64_t now)
{
    if (!rec->owner[0])
        return false;
    if (rec->released_at == 0)
        return true; /* recorded as held (a release that could not be written): keep it */
    bool by_sub = strncmp(rec->owner, "sub:", 4) == 0;
    int64_t keep = r->pol.auth_on && by_sub ? r->pol.retention_s : r->pol.grace_s;
    return keep < 0 || now < rec->released_at + keep;
}

static registry_claim_result claim_error(registry_answer *ans, const char *err)
{
    snprintf(ans->message, sizeof ans->message, "%s", err);
    return REG_ERROR;
}

/* Takes name for agent: recorded first (so a crash never leaves a live name unrecorded). */
static int take(registry *r, const char *name, const char *owner, bool chosen, int64_t now,
                void *agent, char *err, size_t cap)
{
    if (state_claim(r->st, name, owner, chosen, now, err, cap) != 0)
        return -1;
    if (hmap_put(r->live, name, strlen(name), agent) != 0) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    return 0;
}

static void purge(registry *r, int64_t now)
{
    if (now < r->next_purge)
        return;
    r->next_purge = now + PURGE_EVERY_S;
    long n = 0;
    char err[256];
    /* Failures are not fatal here: held() checks the time on every read anyway. */
    state_purge(r->st, now, r->pol.auth_on ? r->pol.retention_s : r->pol.grace_s, r->pol.grace_s,
                &n, err, sizeof err);
}

/* Why the asked-for name cannot be given to ask->owner (NULL: it can). */
static const char *why_not(registry *r, const registry_ask *ask, const char *name, int64_t now,
                           registry_answer *ans, bool *error)
{
    *error = false;
    ans->created = false;
    const char *what = ask->chosen ? "subdomain" : "tunnel id";
    if (hmap_get(r->live, name, strlen(name))) {
        snprintf(ans->message, sizeof ans->message, "%s '%s' is in use by another agent", what,
                 name);
        return "name_in_use";
    }
    state_rec rec;
    char err[256];
    int rc = state_get(r->st, name, &rec, err, sizeof err);
    if (rc < 0) {
        *error = true;
        snprintf(ans->message, sizeof ans->message, "%s", err);
        return NULL;
    }
    ans->created = rc == 1;
    ans->returning = rc == 0 && ask->owner[0] && strcmp(rec.owner, ask->owner) == 0;
    if (rc == 1 || !held(r, &rec, now) || strcmp(rec.owner, ask->owner) == 0)
        return NULL;
    if (strncmp(rec.owner, "sub:", 4) == 0 && r->pol.auth_on)
        snprintf(ans->message, sizeof ans->message, "%s '%s' belongs to another user", what, name);
    else
        snprintf(ans->message, sizeof ans->message,
                 "%s '%s' is held for the agent that had it until %lld s after it disconnected",
                 what, name, (long long)r->pol.grace_s);
    return "name_owned";
}

registry_claim_result registry_claim(registry *r, const registry_ask *ask, int64_t now, void *agent,
                                     registry_answer *ans)
{
    memset(ans, 0, sizeof *ans);
    const char *owner = ask->owner ? ask->owner : "";
    registry_ask a = *ask;
    a.owner = owner;
    char err[256];
    purge(r, now);
    if (ask->name && *ask->name) {
        size_t n = strlen(ask->name);
        bool ok = tunnel_name_valid(ask->name, n) && !tunnel_name_reserved(ask->name, n);
        const char *code = NULL;
        bool error = false;
        if (!ok) {
            code = "name_invalid";
            snprintf(ans->message, sizeof ans->message, "%s '%.63s' is not allowed",
                     ask->chosen ? "subdomain" : "tunnel id", ask->name);
        } else {
            code = why_not(r, &a, ask->name, now, ans, &error);
        }
        if (error)
            return REG_ERROR;
        if (!code) {
            if (take(r, ask->name, owner, ask->chosen, now, agent, err, sizeof err) != 0)
                return claim_error(ans, err);
            snprintf(ans->name, sizeof ans->name, "%s", ask->name);
            return REG_GRANTED;
        }
        ans->code = code;
        if (ask->chosen)
            return REG_REFUSED;
    }
    for (int i = 0; i < MAX_TRIES; i++) {
        char id[TUNNEL_ID_LEN + 1];
        if (r->gen(r->gen_ud, id) != 0)
            return claim_error(ans, "no randomness for a tunnel id");
        if (hmap_get(r->live, id, TUNNEL_ID_LEN))
            continue;
        state_rec rec;
        int rc = state_get(r->st, id, &rec, err, sizeof err);
        if (rc < 0)
            return claim_error(ans, err);
        if (rc == 0)
            continue; /* someone's, now or before: never hand out another's old URL */
        if (take(r, id, owner, false, now, agent, err, sizeof err) != 0)
            return claim_error(ans, err);
        memcpy(ans->name, id, TUNNEL_ID_LEN + 1);
        ans->created = true;
        return REG_FRESH;
    }
    return claim_error(ans, "no free tunnel id found");
}

void *registry_lookup(const registry *r, const char *name, size_t len)
{
    if (len == 0 || len > TUNNEL_NAME_MAX)
        return NULL;
    return hmap_get(r->live, name, len);
}

int registry_release(registry *r, const char *name, const void *agent, int64_t now, char *err,
                     size_t cap)
{
    size_t n = strlen(name);
    if (!agent || hmap_get(r->live, name, n) != agent)
        return 0;
    hmap_del(r->live, name, n);
    return state_release(r->st, name, now, err, cap);
}

int registry_unclaim(registry *r, const char *name, const void *agent, bool created, int64_t now,
                     char *err, size_t cap)
{
    size_t n = strlen(name);
    if (!agent || hmap_get(r->live, name, n) != agent)
        return 0;
    hmap_del(r->live, name, n);
    return created ? state_forget(r->st, name, err, cap)
                   : state_release(r->st, name, now, err, cap);
}

int registry_move(registry *r, const char *name, const void *old, void *agent)
{
    size_t n = strlen(name);
    if (!old || hmap_get(r->live, name, n) != old)
        return -1;
    return hmap_put(r->live, name, n, agent); /* replaces */
}

size_t registry_live(const registry *r)
{
    return hmap_count(r->live);
}
