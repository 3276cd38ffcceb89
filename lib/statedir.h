/* SPDX-License-Identifier: MIT */
/* statedir.h - where a program keeps state that must survive a restart, by the XDG Base Directory
 * rules (XDG_STATE_HOME, default ~/.local/state), or systemd's StateDirectory= for a service.
 * Pure path logic plus the mkdir; owns nothing. */
#ifndef TUNNEL_STATEDIR_H
#define TUNNEL_STATEDIR_H

#include <stdbool.h>
#include <stddef.h>

/* Writes "<dir>/<file>" into out and creates <dir> (mode 0700) when missing, <dir> being:
 * $STATE_DIRECTORY (only when use_systemd; the first of a colon-separated list), else
 * $XDG_STATE_HOME/<app>, else $HOME/.local/state/<app> (relative values are ignored, as the XDG
 * spec says). env reads the environment (getenv; tests inject one). 0, or -1 with a reason. */
int statedir_path(char *out, size_t cap, const char *(*env)(const char *name), const char *app,
                  const char *file, bool use_systemd, char *err, size_t errcap);

#endif
