/* SPDX-License-Identifier: MIT */
/* state.h - ttfd's state that survives a restart: who owns each tunnel name (random ids and
 * names chosen with `ttf --subdomain`), in one SQLite database (`ttfd --state FILE`).
 *
 * The database: WAL journal with synchronous=FULL (a committed claim survives a crash of ttfd or
 * of the machine), an exclusive lock held while ttfd runs (a second ttfd on the same file is
 * refused instead of sharing owners behind the first one's back), the schema version in
 * PRAGMA user_version (a file from a newer ttfd is refused, older ones are migrated), every
 * statement prepared once. Errors are returned with a reason, never printed.
 *
 * Owns: the sqlite3 handle and its prepared statements. Policy (who may take a name, how long a
 * released one is kept) is the registry's (registry.h); this module only stores. */
#ifndef TTFD_STATE_H
#define TTFD_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel_id.h"

#define STATE_SCHEMA_VERSION 1
#define STATE_OWNER_MAX TUNNEL_OWNER_MAX /* tunnel_owner(): "sub:<subject>", "key:<hex>", "" */

typedef struct state state;

/* One name's record. */
typedef struct state_rec {
    char owner[STATE_OWNER_MAX + 1]; /* "sub:<subject>", "key:<sha256 hex>" or "" (nobody) */
    bool chosen;                     /* asked for by name (--subdomain), not drawn at random */
    int64_t claimed_at;              /* Unix seconds */
    int64_t released_at;             /* Unix seconds; 0 while an agent holds the name */
} state_rec;

/* Opens (creating when missing, mode 0600) the database at path; ":memory:" keeps it in memory
 * (nothing survives). Names held when the previous ttfd stopped count as released at now.
 * NULL with a reason in err (file unusable, locked by another ttfd, newer schema). */
state *state_open(const char *path, int64_t now, char *err, size_t cap);
void state_close(state *st);

/* 0 with *out filled, 1 when name has no record, -1 on error (reason in err). */
int state_get(state *st, const char *name, state_rec *out, char *err, size_t cap);
/* Records that owner now holds name (replacing any record). 0 or -1. */
int state_claim(state *st, const char *name, const char *owner, bool chosen, int64_t now, char *err,
                size_t cap);
/* The agent holding name let it go at now. 0 or -1. */
int state_release(state *st, const char *name, int64_t now, char *err, size_t cap);
/* Removes name's record. 0 or -1. */
int state_forget(state *st, const char *name, char *err, size_t cap);
/* Removes released records whose time is up at now: those whose owner starts with "sub:" kept
 * keep_sub seconds after release (<0: forever), the others keep_other seconds. *removed gets
 * the count. 0 or -1. */
int state_purge(state *st, int64_t now, int64_t keep_sub, int64_t keep_other, long *removed,
                char *err, size_t cap);

#endif
