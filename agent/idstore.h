/* SPDX-License-Identifier: MIT */
/* idstore.h - what ttf remembers between runs, so that restarting it keeps its URL: for each
 * endpoint and local service, the last tunnel name the server gave and the agent key (a random
 * secret that, on a server without auth, identifies this agent across reconnects; see
 * docs/protocol.md §1). One SQLite database in the XDG state directory (statedir.h):
 * $XDG_STATE_HOME/ttf/state.db, else ~/.local/state/ttf/state.db (directory mode 0700, file
 * 0600). Several ttf processes may share it (SQLite locking, a short busy wait). The endpoint is
 * recorded without its query, so a token passed as ?token= is never written.
 * Owns: the sqlite3 handle and its prepared statements. Errors are returned, not printed. */
#ifndef TTF_IDSTORE_H
#define TTF_IDSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "tunnel_id.h"

#define IDSTORE_KEY_LEN 64 /* hex characters of an agent key (32 random bytes) */

typedef struct idstore idstore;

/* Opens the database at path (":memory:" for tests), creating it. NULL with a reason in err. */
idstore *idstore_open(const char *path, char *err, size_t cap);
void idstore_close(idstore *s);

/* The record of (endpoint, local): the last name ("" when none yet) and the agent key, created
 * with a fresh key when missing. 0 or -1. */
int idstore_load(idstore *s, const char *endpoint, const char *local,
                 char name[TUNNEL_NAME_MAX + 1], char key[IDSTORE_KEY_LEN + 1], char *err,
                 size_t cap);
/* Remembers name as the last one of (endpoint, local) at time now. 0 or -1. */
int idstore_save(idstore *s, const char *endpoint, const char *local, const char *name, int64_t now,
                 char *err, size_t cap);

/* A fresh agent key: 64 hex characters from the OS CSPRNG. 0 or -1. */
int idstore_new_key(char key[IDSTORE_KEY_LEN + 1]);

#endif
