/* SPDX-License-Identifier: MIT */
/* log.c - leveled logging to a stream, plain text or JSON lines (see log.h). */
#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const level_upper[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static const char *const level_lower[] = {"error", "warn", "info", "debug"};

/* "2026-11-25T13:57:15.123Z" into buf (at least 32 bytes). */
static void fmt_timestamp(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

/* One line per message whatever it holds: control bytes (a CR/LF from the network could forge a
 * log line) become \n, \r or \xHH. Returns a malloc'd copy, or NULL when nothing needs escaping
 * or memory is short (then the message is written as is). */
static char *escape_controls(const char *msg)
{
    size_t n = 0, extra = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++, n++) {
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            extra += 3;
    }
    if (extra == 0)
        return NULL;
    char *out = malloc(n + extra + 1);
    if (!out)
        return NULL;
    char *o = out;
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        if (*p == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else if (*p == '\r') {
            *o++ = '\\';
            *o++ = 'r';
        } else if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
            o += sprintf(o, "\\x%02x", *p);
        } else {
            *o++ = (char)*p;
        }
    }
    *o = '\0';
    return out;
}

static void write_line(const tlog *lg, tlog_level lvl, json_t *fields, const char *fmt, va_list ap0)
{
    char stackbuf[512];
    char *msg = stackbuf;
    va_list ap;
    va_copy(ap, ap0);
    int n = vsnprintf(stackbuf, sizeof stackbuf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof stackbuf) {
        /* Long message: format again into a heap buffer, at most TLOG_MSG_MAX bytes (a peer's
         * text must not make a line of megabytes), saying how much was cut. */
        size_t cap = (size_t)n < TLOG_MSG_MAX ? (size_t)n + 1 : TLOG_MSG_MAX + 1;
        msg = malloc(cap + 48);
        if (!msg) {
            msg = stackbuf; /* truncated, better than nothing */
        } else {
            va_copy(ap, ap0);
            vsnprintf(msg, cap, fmt, ap);
            va_end(ap);
            if ((size_t)n > TLOG_MSG_MAX)
                snprintf(msg + TLOG_MSG_MAX, 48, "... (%zu more bytes)", (size_t)n - TLOG_MSG_MAX);
        }
    }

    char ts[40];
    fmt_timestamp(ts, sizeof ts);

    if (lg->json) {
        json_t *o = json_object();
        char *line = NULL;
        if (o) {
            json_object_set_new(o, "ts", json_string(ts));
            json_object_set_new(o, "level", json_string(level_lower[lvl]));
            json_t *m = json_string(msg);
            if (!m) {
                /* Not UTF-8 (raw bytes from the network): keep the ASCII, mark the rest. */
                for (char *p = msg; *p; p++) {
                    if ((unsigned char)*p >= 0x80)
                        *p = '?';
                }
                m = json_string(msg);
            }
            json_object_set_new(o, "msg", m);
            const char *k;
            json_t *v;
            json_object_foreach(fields, k, v)
            {
                if (strcmp(k, "ts") != 0 && strcmp(k, "level") != 0 && strcmp(k, "msg") != 0)
                    json_object_set(o, k, v);
            }
            line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
            json_decref(o);
        }
        if (line) {
            fprintf(lg->out, "%s\n", line);
            free(line);
        }
    } else {
        char *esc = escape_controls(msg);
        /* one fprintf: stderr is unbuffered, so this is one write() per line */
        fprintf(lg->out, "%s %s %s %s\n", ts, lg->prog ? lg->prog : "-", level_upper[lvl],
                esc ? esc : msg);
        free(esc);
    }
    fflush(lg->out);
    if (msg != stackbuf)
        free(msg);
}

void tlog_write(const tlog *lg, tlog_level lvl, const char *fmt, ...)
{
    if (!lg || !lg->out || lvl > lg->level || (int)lvl < 0 || lvl > TLOG_DEBUG)
        return;
    va_list ap;
    va_start(ap, fmt);
    write_line(lg, lvl, NULL, fmt, ap);
    va_end(ap);
}

void tlog_write_fields(const tlog *lg, tlog_level lvl, json_t *fields, const char *fmt, ...)
{
    if (lg && lg->out && lvl <= lg->level && (int)lvl >= 0 && lvl <= TLOG_DEBUG) {
        va_list ap;
        va_start(ap, fmt);
        write_line(lg, lvl, json_is_object(fields) ? fields : NULL, fmt, ap);
        va_end(ap);
    }
    json_decref(fields);
}
