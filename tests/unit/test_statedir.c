/* SPDX-License-Identifier: MIT */
/* test_statedir.c - state directories: systemd's STATE_DIRECTORY (first of a list), then
 * XDG_STATE_HOME/<app>, then ~/.local/state/<app>; relative values ignored; created 0700. */
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

#include "statedir.h"

static char dir[256];
static const char *v_sd, *v_xdg, *v_home;

static const char *fake_env(const char *name)
{
    if (strcmp(name, "STATE_DIRECTORY") == 0)
        return v_sd;
    if (strcmp(name, "XDG_STATE_HOME") == 0)
        return v_xdg;
    if (strcmp(name, "HOME") == 0)
        return v_home;
    return NULL;
}

static void rm(const char *fmt)
{
    char p[512];
    snprintf(p, sizeof p, fmt, dir);
    rmdir(p);
}

static void test_paths(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/statedir-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char out[512], err[256], want[512], xdg[300], home[300], sd[600];
    snprintf(xdg, sizeof xdg, "%s/x/y", dir);
    snprintf(home, sizeof home, "%s/home", dir);

    v_sd = NULL, v_xdg = xdg, v_home = home;
    assert_int_equal(
        statedir_path(out, sizeof out, fake_env, "ttf", "state.db", false, err, sizeof err), 0);
    snprintf(want, sizeof want, "%s/x/y/ttf/state.db", dir);
    assert_string_equal(out, want);
    struct stat sb;
    snprintf(want, sizeof want, "%s/x/y/ttf", dir);
    assert_int_equal(stat(want, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0700);

    /* relative XDG_STATE_HOME: ignored, HOME's default */
    v_xdg = "relative/dir";
    assert_int_equal(
        statedir_path(out, sizeof out, fake_env, "ttfd", "state.db", false, err, sizeof err), 0);
    snprintf(want, sizeof want, "%s/home/.local/state/ttfd/state.db", dir);
    assert_string_equal(out, want);

    /* systemd's StateDirectory= wins for a service, and only when asked for */
    snprintf(sd, sizeof sd, "%s:/elsewhere", dir);
    v_sd = sd;
    assert_int_equal(
        statedir_path(out, sizeof out, fake_env, "ttfd", "state.db", true, err, sizeof err), 0);
    snprintf(want, sizeof want, "%s/state.db", dir);
    assert_string_equal(out, want);

    v_sd = v_xdg = v_home = NULL;
    assert_int_equal(
        statedir_path(out, sizeof out, fake_env, "ttf", "state.db", false, err, sizeof err), -1);
    assert_non_null(strstr(err, "HOME"));

    /* a directory that cannot be made */
    v_xdg = "/proc/no-such/dir";
    assert_int_equal(
        statedir_path(out, sizeof out, fake_env, "ttf", "state.db", false, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot create"));

    rm("%s/x/y/ttf");
    rm("%s/x/y");
    rm("%s/x");
    rm("%s/home/.local/state/ttfd");
    rm("%s/home/.local/state");
    rm("%s/home/.local");
    rm("%s/home");
    rm("%s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_paths)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
