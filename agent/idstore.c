/* SPDX-License-Identifier: MIT */
/* idstore.c - ttf's remembered names and agent keys in SQLite (see idstore.h). */
#include "idstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <sqlite3.h>

#define SCHEMA_VERSION 1
#define BUSY_MS 3000

enum { Q_GET, Q_INSERT, Q_SAVE, Q_COUNT };

static const char *const sql[Q_COUNT] = {
    [Q_GET] = "SELECT name, agent_key FROM tunnels WHERE endpoint = ?1 AND local = ?2",
    [Q_INSERT] = ("INSERT OR IGNORE INTO tunnels (endpoint, local, name, agent_key, updated_at) "
                  "VALUES (?1, ?2, '', ?3, 0)"),
    [Q_SAVE] = "UPDATE tunnels SET name = ?3, updated_at = ?4 WHERE endpoint = ?1 AND local = ?2",
};

static const char *const schema = "CREATE TABLE IF NOT EXISTS tunnels ("
                                  " endpoint TEXT NOT NULL,"  /* ws[s]://host:port/path */
                                  " local TEXT NOT NULL,"     /* host:port of the local service */
                                  " name TEXT NOT NULL,"      /* last tunnel name, '' when none */
                                  " agent_key TEXT NOT NULL," /* 64 hex */
                                  " updated_at INTEGER NOT NULL,"
                                  " PRIMARY KEY (endpoint, local)"
                                  ") WITHOUT ROWID;";

struct idstore {
    sqlite3 *db;
    sqlite3_stmt *q[Q_COUNT];
};

static int db_fail(idstore *s, const char *what, char *err, size_t cap)
{
    snprintf(err, cap, "ttf state: %s: %s", what, s->db ? sqlite3_errmsg(s->db) : "?");
    return -1;
}

int idstore_new_key(char key[IDSTORE_KEY_LEN + 1])
{
    unsigned char raw[IDSTORE_KEY_LEN / 2];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(key + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

/* Schema version 1 in one transaction; a newer file is refused. */
static int migrate(idstore *s, char *err, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (v < 0)
        return db_fail(s, "schema version", err, cap);
    if (v > SCHEMA_VERSION) {
        snprintf(err, cap, "ttf state: schema version %d is newer than this ttf knows (%d)", v,
                 SCHEMA_VERSION);
        return -1;
    }
    if (v == SCHEMA_VERSION)
        return 0;
    char q[512];
    snprintf(q, sizeof q, "BEGIN IMMEDIATE; %s PRAGMA user_version = %d; COMMIT;", schema,
             SCHEMA_VERSION);
    char *msg = NULL;
    if (sqlite3_exec(s->db, q, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, cap, "ttf state: schema: %s", msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

idstore *idstore_open(const char *path, char *err, size_t cap)
{
    if (strcmp(path, ":memory:") != 0) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            snprintf(err, cap, "ttf state %s: %s", path, strerror(errno));
            return NULL;
        }
        close(fd);
    }
    idstore *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        db_fail(s, path, err, cap);
        goto fail;
    }
    sqlite3_busy_timeout(s->db, BUSY_MS);
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    if (sqlite3_exec(s->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL", NULL, NULL,
                     NULL) != SQLITE_OK) {
        db_fail(s, "journal mode", err, cap);
        goto fail;
    }
    if (migrate(s, err, cap) != 0)
        goto fail;
    for (int i = 0; i < Q_COUNT; i++)
        if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL) !=
            SQLITE_OK) {
            db_fail(s, "prepare", err, cap);
            goto fail;
        }
    return s;
fail:
    idstore_close(s);
    return NULL;
}

void idstore_close(idstore *s)
{
    if (!s)
        return;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(s->q[i]);
    sqlite3_close(s->db);
    free(s);
}

static void reset(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* 0 found (copied), 1 none, -1 error. */
static int get(idstore *s, const char *endpoint, const char *local, char name[TUNNEL_NAME_MAX + 1],
               char key[IDSTORE_KEY_LEN + 1], char *err, size_t cap)
{
    sqlite3_stmt *st = s->q[Q_GET];
    if (sqlite3_bind_text(st, 1, endpoint, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, local, -1, SQLITE_STATIC) != SQLITE_OK) {
        reset(st);
        return db_fail(s, "read", err, cap);
    }
    int rc = sqlite3_step(st), ret = 1;
    if (rc == SQLITE_ROW) {
        const char *n = (const char *)sqlite3_column_text(st, 0);
        const char *k = (const char *)sqlite3_column_text(st, 1);
        /* A damaged row is treated as a name never seen and a key to replace. */
        bool nok = n && tunnel_name_valid(n, strlen(n));
        bool kok = k && strlen(k) == IDSTORE_KEY_LEN;
        snprintf(name, TUNNEL_NAME_MAX + 1, "%s", nok ? n : "");
        if (kok)
            memcpy(key, k, IDSTORE_KEY_LEN + 1);
        ret = kok ? 0 : 1;
    } else if (rc != SQLITE_DONE) {
        ret = db_fail(s, "read", err, cap);
    }
    reset(st);
    return ret;
}

int idstore_load(idstore *s, const char *endpoint, const char *local,
                 char name[TUNNEL_NAME_MAX + 1], char key[IDSTORE_KEY_LEN + 1], char *err,
                 size_t cap)
{
    name[0] = '\0';
    int rc = get(s, endpoint, local, name, key, err, cap);
    if (rc <= 0)
        return rc;
    /* First run for this pair: a new key. INSERT OR IGNORE then read back, so two ttf starting
     * together agree on one key. */
    char fresh[IDSTORE_KEY_LEN + 1];
    if (idstore_new_key(fresh) != 0) {
        snprintf(err, cap, "ttf state: no randomness for an agent key");
        return -1;
    }
    sqlite3_stmt *st = s->q[Q_INSERT];
    if (sqlite3_bind_text(st, 1, endpoint, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, local, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 3, fresh, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_DONE) {
        reset(st);
        return db_fail(s, "write", err, cap);
    }
    reset(st);
    rc = get(s, endpoint, local, name, key, err, cap);
    if (rc == 1) { /* a damaged key that INSERT OR IGNORE kept: use ours in memory */
        memcpy(key, fresh, IDSTORE_KEY_LEN + 1);
        rc = 0;
    }
    return rc;
}

int idstore_save(idstore *s, const char *endpoint, const char *local, const char *name, int64_t now,
                 char *err, size_t cap)
{
    sqlite3_stmt *st = s->q[Q_SAVE];
    if (sqlite3_bind_text(st, 1, endpoint, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, local, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, now) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
        reset(st);
        return db_fail(s, "write", err, cap);
    }
    reset(st);
    return 0;
}
