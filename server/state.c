/* SPDX-License-Identifier: MIT */
/* state.c - tunnel name owners in SQLite (see state.h). */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#define BUSY_MS 1000 /* another process holding the file: give up after this */

enum { S_GET, S_CLAIM, S_RELEASE, S_FORGET, S_PURGE, S_COUNT };

static const char *const sql[S_COUNT] = {
    [S_GET] = "SELECT owner, chosen, claimed_at, released_at FROM names WHERE name = ?1",
    [S_CLAIM] = "INSERT INTO names (name, owner, chosen, claimed_at, released_at) "
                "VALUES (?1, ?2, ?3, ?4, NULL) ON CONFLICT (name) DO UPDATE SET "
                "owner = excluded.owner, chosen = excluded.chosen, "
                "claimed_at = excluded.claimed_at, released_at = NULL",
    [S_RELEASE] = "UPDATE names SET released_at = ?2 WHERE name = ?1",
    [S_FORGET] = "DELETE FROM names WHERE name = ?1",
    [S_PURGE] = "DELETE FROM names WHERE released_at IS NOT NULL AND "
                "(CASE WHEN owner LIKE 'sub:%' THEN ?2 ELSE ?3 END) >= 0 AND "
                "released_at + (CASE WHEN owner LIKE 'sub:%' THEN ?2 ELSE ?3 END) < ?1",
};

/* Schema steps: migrations[v] takes a database at user_version v to v + 1. */
static const char *const migrations[STATE_SCHEMA_VERSION] = {
    "CREATE TABLE names ("
    " name TEXT PRIMARY KEY NOT NULL," /* a random id or a chosen name: one DNS label */
    " owner TEXT NOT NULL,"            /* 'sub:<subject>' | 'key:<sha256 hex>' | '' */
    " chosen INTEGER NOT NULL,"        /* 1: asked for with --subdomain */
    " claimed_at INTEGER NOT NULL,"    /* Unix seconds */
    " released_at INTEGER"             /* Unix seconds; NULL while an agent holds it */
    ") WITHOUT ROWID;",
};

struct state {
    sqlite3 *db;
    sqlite3_stmt *stmt[S_COUNT];
};

static int db_fail(state *st, const char *what, char *err, size_t cap)
{
    snprintf(err, cap, "state database: %s: %s", what, st->db ? sqlite3_errmsg(st->db) : "?");
    return -1;
}

static int exec(state *st, const char *q, const char *what, char *err, size_t cap)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, q, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, cap, "state database: %s: %s", what, msg ? msg : sqlite3_errmsg(st->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* The one-row, one-column integer answer of q ("PRAGMA user_version"). */
static int query_int(state *st, const char *q, int64_t *out, char *err, size_t cap)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, q, -1, &s, NULL) != SQLITE_OK)
        return db_fail(st, q, err, cap);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : db_fail(st, q, err, cap);
}

/* Brings the schema to STATE_SCHEMA_VERSION in one transaction. */
static int migrate(state *st, char *err, size_t cap)
{
    int64_t v = 0;
    if (query_int(st, "PRAGMA user_version", &v, err, cap) != 0)
        return -1;
    if (v > STATE_SCHEMA_VERSION) {
        snprintf(err, cap,
                 "state database: schema version %lld is newer than this ttfd knows (%d); "
                 "use the ttfd that wrote it",
                 (long long)v, STATE_SCHEMA_VERSION);
        return -1;
    }
    if (v == STATE_SCHEMA_VERSION)
        return 0;
    if (exec(st, "BEGIN IMMEDIATE", "begin", err, cap) != 0)
        return -1;
    for (int64_t i = v; i < STATE_SCHEMA_VERSION; i++)
        if (exec(st, migrations[i], "schema", err, cap) != 0)
            goto fail;
    char q[64];
    snprintf(q, sizeof q, "PRAGMA user_version = %d", STATE_SCHEMA_VERSION);
    if (exec(st, q, "schema version", err, cap) != 0 || exec(st, "COMMIT", "commit", err, cap) != 0)
        goto fail;
    return 0;
fail:
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* Creates the file with mode 0600 first: owners' subjects are nobody else's business. */
static int create_private(const char *path, char *err, size_t cap)
{
    if (strcmp(path, ":memory:") == 0)
        return 0;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, cap, "state database %s: %s", path, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

state *state_open(const char *path, int64_t now, char *err, size_t cap)
{
    if (create_private(path, err, cap) != 0)
        return NULL;
    state *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        db_fail(st, path, err, cap);
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, BUSY_MS);
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    /* Exclusive before WAL: the WAL index then lives in our heap, and the lock is ours. */
    if (exec(st, "PRAGMA locking_mode = EXCLUSIVE", "locking mode", err, cap) != 0 ||
        exec(st, "PRAGMA journal_mode = WAL", "journal mode", err, cap) != 0 ||
        exec(st, "PRAGMA synchronous = FULL", "synchronous", err, cap) != 0)
        goto fail;
    if (migrate(st, err, cap) != 0)
        goto fail;
    for (int i = 0; i < S_COUNT; i++)
        if (sqlite3_prepare_v3(st->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL) !=
            SQLITE_OK) {
            db_fail(st, "prepare", err, cap);
            goto fail;
        }
    /* Agents of the previous run are gone: their names were released when it stopped. The
     * write also takes the exclusive lock for as long as we run. */
    char q[128];
    snprintf(q, sizeof q, "UPDATE names SET released_at = %lld WHERE released_at IS NULL",
             (long long)now);
    if (exec(st, q, "release previous run", err, cap) != 0)
        goto fail;
    return st;
fail:
    if (st->db && (sqlite3_errcode(st->db) & 0xff) == SQLITE_BUSY)
        snprintf(err, cap,
                 "state database %s is in use by another ttfd (a second ttfd needs its own: "
                 "--state FILE, or --state :memory: to keep nothing)",
                 path);
    state_close(st);
    return NULL;
}

void state_close(state *st)
{
    if (!st)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    sqlite3_close(st->db);
    free(st);
}

/* Runs a prepared statement that returns no rows; resets it in every case. */
static int run_done(state *st, sqlite3_stmt *s, const char *what, char *err, size_t cap)
{
    int rc = sqlite3_step(s);
    int out = rc == SQLITE_DONE ? 0 : db_fail(st, what, err, cap);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return out;
}

int state_get(state *st, const char *name, state_rec *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = st->stmt[S_GET];
    if (sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC) != SQLITE_OK)
        return db_fail(st, "get", err, cap);
    int rc = sqlite3_step(s), ret;
    if (rc == SQLITE_ROW) {
        const unsigned char *o = sqlite3_column_text(s, 0);
        snprintf(out->owner, sizeof out->owner, "%s", o ? (const char *)o : "");
        out->chosen = sqlite3_column_int(s, 1) != 0;
        out->claimed_at = sqlite3_column_int64(s, 2);
        out->released_at = sqlite3_column_int64(s, 3); /* NULL reads as 0: held */
        ret = 0;
    } else if (rc == SQLITE_DONE) {
        ret = 1;
    } else {
        ret = db_fail(st, "get", err, cap);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return ret;
}

int state_claim(state *st, const char *name, const char *owner, bool chosen, int64_t now, char *err,
                size_t cap)
{
    sqlite3_stmt *s = st->stmt[S_CLAIM];
    if (sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(s, 2, owner, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int(s, 3, chosen ? 1 : 0) != SQLITE_OK ||
        sqlite3_bind_int64(s, 4, now) != SQLITE_OK) {
        sqlite3_clear_bindings(s);
        return db_fail(st, "claim", err, cap);
    }
    return run_done(st, s, "claim", err, cap);
}

int state_release(state *st, const char *name, int64_t now, char *err, size_t cap)
{
    sqlite3_stmt *s = st->stmt[S_RELEASE];
    if (sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(s, 2, now) != SQLITE_OK) {
        sqlite3_clear_bindings(s);
        return db_fail(st, "release", err, cap);
    }
    return run_done(st, s, "release", err, cap);
}

int state_forget(state *st, const char *name, char *err, size_t cap)
{
    sqlite3_stmt *s = st->stmt[S_FORGET];
    if (sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC) != SQLITE_OK) {
        sqlite3_clear_bindings(s);
        return db_fail(st, "forget", err, cap);
    }
    return run_done(st, s, "forget", err, cap);
}

int state_purge(state *st, int64_t now, int64_t keep_sub, int64_t keep_other, long *removed,
                char *err, size_t cap)
{
    *removed = 0;
    sqlite3_stmt *s = st->stmt[S_PURGE];
    if (sqlite3_bind_int64(s, 1, now) != SQLITE_OK ||
        sqlite3_bind_int64(s, 2, keep_sub) != SQLITE_OK ||
        sqlite3_bind_int64(s, 3, keep_other) != SQLITE_OK) {
        sqlite3_clear_bindings(s);
        return db_fail(st, "purge", err, cap);
    }
    if (run_done(st, s, "purge", err, cap) != 0)
        return -1;
    *removed = (long)sqlite3_changes(st->db);
    return 0;
}
