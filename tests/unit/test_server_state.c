/* SPDX-License-Identifier: MIT */
/* test_server_state.c - ttfd's SQLite state on a real file: records survive close and reopen
 * (with names held at the stop released then), WAL journal, mode 0600, a second opener refused
 * while the first runs, a newer schema refused, purge by owner kind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "state.h"

#define T0 1700000000

static char dir[256];
static char path[300];

static int setup(void **st)
{
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/ttfd-state-test-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/state.db", dir);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    char p[400];
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
    rmdir(dir);
    return 0;
}

static void test_survives_reopen(void **unused)
{
    (void)unused;
    char err[256];
    state *st = state_open(path, T0, err, sizeof err);
    assert_non_null(st);
    assert_int_equal(state_claim(st, "myapp", "sub:alice", true, T0, err, sizeof err), 0);
    assert_int_equal(state_claim(st, "abc123def456", "key:00", false, T0, err, sizeof err), 0);
    assert_int_equal(state_release(st, "abc123def456", T0 + 5, err, sizeof err), 0);
    state_rec r;
    assert_int_equal(state_get(st, "myapp", &r, err, sizeof err), 0);
    assert_string_equal(r.owner, "sub:alice");
    assert_true(r.chosen);
    assert_int_equal(r.released_at, 0);
    assert_int_equal(state_get(st, "nope", &r, err, sizeof err), 1);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    state_close(st);

    st = state_open(path, T0 + 100, err, sizeof err);
    assert_non_null(st);
    /* held when the previous run stopped: released at this start */
    assert_int_equal(state_get(st, "myapp", &r, err, sizeof err), 0);
    assert_string_equal(r.owner, "sub:alice");
    assert_int_equal(r.released_at, T0 + 100);
    assert_int_equal(r.claimed_at, T0);
    assert_int_equal(state_get(st, "abc123def456", &r, err, sizeof err), 0);
    assert_int_equal(r.released_at, T0 + 5);
    assert_false(r.chosen);
    /* a claim replaces the record */
    assert_int_equal(state_claim(st, "myapp", "sub:bob", false, T0 + 200, err, sizeof err), 0);
    assert_int_equal(state_get(st, "myapp", &r, err, sizeof err), 0);
    assert_string_equal(r.owner, "sub:bob");
    assert_int_equal(r.released_at, 0);
    assert_int_equal(state_forget(st, "myapp", err, sizeof err), 0);
    assert_int_equal(state_get(st, "myapp", &r, err, sizeof err), 1);
    state_close(st);

    /* WAL journal and the schema version, as another SQLite client sees them */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), STATE_SCHEMA_VERSION);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void test_second_opener_refused(void **unused)
{
    (void)unused;
    char err[256] = "";
    state *st = state_open(path, T0, err, sizeof err);
    assert_non_null(st);
    state *st2 = state_open(path, T0, err, sizeof err);
    assert_null(st2);
    assert_non_null(strstr(err, "in use by another ttfd"));
    state_close(st);
    st2 = state_open(path, T0, err, sizeof err);
    assert_non_null(st2);
    state_close(st2);
}

static void test_newer_schema_refused(void **unused)
{
    (void)unused;
    char err[256] = "";
    state *st = state_open(path, T0, err, sizeof err);
    assert_non_null(st);
    state_close(st);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_null(state_open(path, T0, err, sizeof err));
    assert_non_null(strstr(err, "newer"));
}

static void test_unusable_path(void **unused)
{
    (void)unused;
    char err[256] = "";
    assert_null(state_open("/nonexistent-dir/x/state.db", T0, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent-dir/x/state.db"));
}

static void test_purge(void **unused)
{
    (void)unused;
    char err[256];
    state *st = state_open(":memory:", T0, err, sizeof err);
    assert_non_null(st);
    assert_int_equal(state_claim(st, "sub-old", "sub:a", false, T0, err, sizeof err), 0);
    assert_int_equal(state_claim(st, "sub-new", "sub:a", false, T0, err, sizeof err), 0);
    assert_int_equal(state_claim(st, "key-old", "key:1", false, T0, err, sizeof err), 0);
    assert_int_equal(state_claim(st, "anon-old", "", false, T0, err, sizeof err), 0);
    assert_int_equal(state_claim(st, "live", "sub:a", false, T0, err, sizeof err), 0);
    assert_int_equal(state_release(st, "sub-old", T0, err, sizeof err), 0);
    assert_int_equal(state_release(st, "sub-new", T0 + 900, err, sizeof err), 0);
    assert_int_equal(state_release(st, "key-old", T0, err, sizeof err), 0);
    assert_int_equal(state_release(st, "anon-old", T0, err, sizeof err), 0);
    long n = -1;
    /* subjects forever: only the other kinds go */
    assert_int_equal(state_purge(st, T0 + 1000, -1, 300, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    state_rec r;
    assert_int_equal(state_get(st, "key-old", &r, err, sizeof err), 1);
    assert_int_equal(state_get(st, "sub-old", &r, err, sizeof err), 0);
    assert_int_equal(state_purge(st, T0 + 1000, 500, 300, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(state_get(st, "sub-old", &r, err, sizeof err), 1);
    assert_int_equal(state_get(st, "sub-new", &r, err, sizeof err), 0);
    assert_int_equal(state_get(st, "live", &r, err, sizeof err), 0);
    state_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_opener_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test(test_unusable_path),
        cmocka_unit_test(test_purge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
