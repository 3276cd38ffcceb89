/* SPDX-License-Identifier: MIT */
/* log.h - leveled logging to a stream, plain text or JSON lines.
 * Owns nothing global: each program builds one `tlog` in main and passes it down.
 * Library code deep inside returns errors instead of logging them. */
#ifndef TUNNEL_LOG_H
#define TUNNEL_LOG_H

#include <stdbool.h>
#include <stdio.h>

typedef enum { TLOG_ERROR = 0, TLOG_WARN, TLOG_INFO, TLOG_DEBUG } tlog_level;

typedef struct tlog {
    tlog_level level; /* messages above this level are dropped */
    FILE *out;        /* usually stderr */
    bool json;        /* one JSON object per line (the Lambda) instead of text */
    const char *prog; /* program name shown in text lines */
} tlog;

/* A message is cut after this many bytes (before escaping), and says how many it lost. */
#define TLOG_MSG_MAX 4096

/* Writes one line: "2026-11-25T13:57:15.123Z ttfd INFO message" or
 * {"ts":"…","level":"info","msg":"…"}. NULL lg is allowed and drops the line. */
void tlog_write(const tlog *lg, tlog_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct json_t;
/* The same line with structured fields: in JSON mode the members of the object `fields` follow
 * ts, level and msg (a field named like those three is dropped); in text mode only the message
 * is written. fields is taken (its reference released) in every case; NULL is allowed. */
void tlog_write_fields(const tlog *lg, tlog_level lvl, struct json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define TLOG_E(lg, ...) tlog_write((lg), TLOG_ERROR, __VA_ARGS__)
#define TLOG_W(lg, ...) tlog_write((lg), TLOG_WARN, __VA_ARGS__)
#define TLOG_I(lg, ...) tlog_write((lg), TLOG_INFO, __VA_ARGS__)
#define TLOG_D(lg, ...) tlog_write((lg), TLOG_DEBUG, __VA_ARGS__)

#endif
