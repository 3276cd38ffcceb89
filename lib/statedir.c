/* SPDX-License-Identifier: MIT */
/* statedir.c - XDG / systemd state directories (see statedir.h). */
#include "statedir.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* mkdir -p with mode 0700 for the missing parts. */
static int make_dirs(char *path, char *err, size_t cap)
{
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        int rc = mkdir(path, 0700);
        int e = errno;
        *p = c;
        if (rc != 0 && e != EEXIST) {
            snprintf(err, cap, "cannot create %s: %s", path, strerror(e));
            return -1;
        }
        if (c == '\0')
            return 0;
    }
}

int statedir_path(char *out, size_t cap, const char *(*env)(const char *name), const char *app,
                  const char *file, bool use_systemd, char *err, size_t errcap)
{
    const char *sd = use_systemd ? env("STATE_DIRECTORY") : NULL;
    const char *xdg = env("XDG_STATE_HOME"), *home = env("HOME");
    char dir[4096];
    int n;
    if (sd && *sd == '/')
        n = snprintf(dir, sizeof dir, "%.*s", (int)strcspn(sd, ":"), sd);
    else if (xdg && *xdg == '/')
        n = snprintf(dir, sizeof dir, "%s/%s", xdg, app);
    else if (home && *home == '/')
        n = snprintf(dir, sizeof dir, "%s/.local/state/%s", home, app);
    else {
        snprintf(err, errcap, "no state directory (%sXDG_STATE_HOME and HOME unset)",
                 use_systemd ? "STATE_DIRECTORY, " : "");
        return -1;
    }
    if (n > 0 && (size_t)n < sizeof dir) {
        if (make_dirs(dir, err, errcap) != 0)
            return -1;
        n = snprintf(out, cap, "%s/%s", dir, file);
        if (n > 0 && (size_t)n < cap)
            return 0;
    }
    snprintf(err, errcap, "state directory path too long");
    return -1;
}
