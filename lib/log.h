/* SPDX-License-Identifier: MIT */
/* log.h - leveled logging to a stream, plain text or JSON lines.
 * Owns nothing global: each program builds one `tlog` in main and passes it down.
 * Library code deep inside returns errors instead of logging them. */
#ifndef TUNNEL_LOG_H
#define TUNNEL_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { TLOG_ERROR = 0, TLOG_WARN, TLOG_INFO, TLOG_DEBUG } tlog_level;

/* The wall-clock second last formatted, reused for every line within it (as nginx's
 * ngx_time_update caches its log time): a tlog's owner keeps one where lines are many. */
typedef struct tlog_stamp {
    long long sec; /* the second text holds, when valid */
    bool valid;    /* false (zero-initialised): nothing formatted yet */
    char text[24]; /* "2026-11-25T13:57:15." (20 bytes) */
} tlog_stamp;

typedef struct tlog {
    tlog_level level; /* messages above this level are dropped */
    FILE *out;        /* usually stderr */
    bool json;        /* one JSON object per line (the Lambda) instead of text */
    const char *prog; /* program name shown in text lines */
    /* Optional: takes each whole text line (with its newline) instead of out, without stdio
     * (logbuf_add). Lines still written to out stay in order with it only when out is flushed
     * after each line, as tlog does. */
    void (*sink)(void *ud, const char *line, size_t n);
    void *sink_ud;
    tlog_stamp *stamp; /* optional (NULL: every line formats its time) */
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

struct timespec;
/* ts (wall clock, UTC) as "2026-11-25T13:57:15.123Z" (RFC 3339, milliseconds, the year modulo
 * 10000) into buf, which has room for at least 32 bytes; returns the length (24). */
size_t tlog_format_time(char *buf, const struct timespec *ts);
/* The same through a stamp: only a new second is formatted in full. */
size_t tlog_format_time_cached(char *buf, const struct timespec *ts, tlog_stamp *st);

/* Whether a line at lvl would be written. */
static inline bool tlog_enabled(const tlog *lg, tlog_level lvl)
{
    return lg && lg->out && (int)lvl >= 0 && lvl <= lg->level && lvl <= TLOG_DEBUG;
}

/* A warning written at most once per period, counting the events between: each event calls
 * tlog_every_due, which is true when its line is due (the first event, or every_ms after the last
 * line) and then gives in *since the events since the last line, this one included. */
typedef struct tlog_every {
    uint64_t last_ms; /* when the last line was due (0: never) */
    uint64_t events;  /* events since then */
} tlog_every;

static inline bool tlog_every_due(tlog_every *e, uint64_t now_ms, uint64_t every_ms,
                                  unsigned long long *since)
{
    e->events++;
    if (e->last_ms && now_ms - e->last_ms < every_ms)
        return false;
    *since = e->events;
    e->events = 0;
    e->last_ms = now_ms;
    return true;
}

/* A message built piece by piece without printf, for the lines written once per request (ttfd's
 * access log, ttf's exchange line): tlog_write_msg writes the line tlog_write would write for
 * the same text, cut the same way past TLOG_MSG_MAX bytes. Build it only when tlog_enabled. */
typedef struct tlog_msg {
    size_t len;                  /* bytes added, kept or not */
    char buf[TLOG_MSG_MAX + 48]; /* the first TLOG_MSG_MAX, then room for the cut note */
} tlog_msg;

void tlog_msg_init(tlog_msg *m);
void tlog_msg_add(tlog_msg *m, const char *s, size_t n);
void tlog_msg_str(tlog_msg *m, const char *s);
void tlog_msg_uint(tlog_msg *m, unsigned long long v);
void tlog_msg_int(tlog_msg *m, long long v);
void tlog_write_msg(const tlog *lg, tlog_level lvl, tlog_msg *m);

#define TLOG_E(lg, ...) tlog_write((lg), TLOG_ERROR, __VA_ARGS__)
#define TLOG_W(lg, ...) tlog_write((lg), TLOG_WARN, __VA_ARGS__)
#define TLOG_I(lg, ...) tlog_write((lg), TLOG_INFO, __VA_ARGS__)
#define TLOG_D(lg, ...) tlog_write((lg), TLOG_DEBUG, __VA_ARGS__)

#endif
