/* SPDX-License-Identifier: MIT */
/* test_agent_idstore.c - what ttf remembers between runs: a key made once per endpoint and local
 * service and kept, the last name saved and read back by another opener (another ttf), records
 * kept apart, damaged rows ignored, a newer schema refused, the file private. */
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

#include "idstore.h"

static char dir[256], path[300];

static int setup(void **st)
{
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/ttf-idstore-test-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/state.db", dir);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char p[400];
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
    rmdir(dir);
    return 0;
}

#define EP "ws://127.0.0.1:8080/_tunnel"

static void test_remember(void **unused)
{
    (void)unused;
    char err[256], name[TUNNEL_NAME_MAX + 1], key[IDSTORE_KEY_LEN + 1], key2[IDSTORE_KEY_LEN + 1];
    idstore *a = idstore_open(path, err, sizeof err);
    idstore *b = idstore_open(path, err, sizeof err); /* a second ttf on the same file */
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(idstore_load(a, EP, "127.0.0.1:3000", name, key, err, sizeof err), 0);
    assert_string_equal(name, "");
    assert_int_equal(strlen(key), IDSTORE_KEY_LEN);
    assert_int_equal(strspn(key, "0123456789abcdef"), IDSTORE_KEY_LEN);
    /* the same record: the same key, for the other opener too */
    assert_int_equal(idstore_load(b, EP, "127.0.0.1:3000", name, key2, err, sizeof err), 0);
    assert_string_equal(key, key2);
    assert_int_equal(
        idstore_save(a, EP, "127.0.0.1:3000", "k3v9q2m8x0ab", 1700000000, err, sizeof err), 0);
    assert_int_equal(idstore_load(b, EP, "127.0.0.1:3000", name, key2, err, sizeof err), 0);
    assert_string_equal(name, "k3v9q2m8x0ab");
    /* another local service or endpoint: another record, another key */
    assert_int_equal(idstore_load(b, EP, "127.0.0.1:3001", name, key2, err, sizeof err), 0);
    assert_string_equal(name, "");
    assert_string_not_equal(key, key2);
    assert_int_equal(
        idstore_load(b, "wss://other:443/_tunnel", "127.0.0.1:3000", name, key2, err, sizeof err),
        0);
    assert_string_equal(name, "");
    idstore_close(a);
    idstore_close(b);
    /* survives closing */
    a = idstore_open(path, err, sizeof err);
    assert_int_equal(idstore_load(a, EP, "127.0.0.1:3000", name, key2, err, sizeof err), 0);
    assert_string_equal(name, "k3v9q2m8x0ab");
    assert_string_equal(key, key2);
    idstore_close(a);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_damaged_and_newer(void **unused)
{
    (void)unused;
    char err[256], name[TUNNEL_NAME_MAX + 1], key[IDSTORE_KEY_LEN + 1];
    idstore *a = idstore_open(path, err, sizeof err);
    assert_non_null(a);
    assert_int_equal(idstore_load(a, EP, "l:1", name, key, err, sizeof err), 0);
    idstore_close(a);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE tunnels SET name = 'Not A Name', agent_key = 'short'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    a = idstore_open(path, err, sizeof err);
    assert_int_equal(idstore_load(a, EP, "l:1", name, key, err, sizeof err), 0);
    assert_string_equal(name, "");                  /* not asked for */
    assert_int_equal(strlen(key), IDSTORE_KEY_LEN); /* a usable key all the same */
    idstore_close(a);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_null(idstore_open(path, err, sizeof err));
    assert_non_null(strstr(err, "newer"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_remember, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_and_newer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
