/* SPDX-License-Identifier: MIT */
/* log.c - leveled logging to a stream, plain text or JSON lines (see log.h). */
#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const level_upper[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static const char *const level_lower[] = {"error", "warn", "info", "debug"};

/* Writes v as n decimal digits (zero-padded) at p; returns the end. */
static char *digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

/* The proleptic Gregorian date (UTC) of day z counted from 1970-01-01: Howard Hinnant's
 * civil_from_days (http://howardhinnant.github.io/date_algorithms.html), exact for every day. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);                          /* [0, 146096] */
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    const unsigned mp = (5 * doy + 2) / 153;                                    /* March = 0 */
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

size_t tlog_format_time(char *buf, const struct timespec *ts)
{
    /* Digits by hand rather than gmtime_r (its time-zone machinery: ~300 instructions) and
     * strftime + snprintf: one line per request goes through here. */
    int64_t days = (int64_t)ts->tv_sec / 86400, secs = (int64_t)ts->tv_sec % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int64_t year;
    unsigned mon, mday;
    civil_from_days(days, &year, &mon, &mday);
    char *p = digits(buf, (unsigned)(((year % 10000) + 10000) % 10000), 4);
    *p++ = '-';
    p = digits(p, mon, 2);
    *p++ = '-';
    p = digits(p, mday, 2);
    *p++ = 'T';
    p = digits(p, (unsigned)(secs / 3600), 2);
    *p++ = ':';
    p = digits(p, (unsigned)(secs / 60 % 60), 2);
    *p++ = ':';
    p = digits(p, (unsigned)(secs % 60), 2);
    *p++ = '.';
    p = digits(p, (unsigned)(ts->tv_nsec / 1000000L), 3);
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - buf);
}

size_t tlog_format_time_cached(char *buf, const struct timespec *ts, tlog_stamp *st)
{
    enum { SEC_LEN = 20 }; /* "2026-11-25T13:57:15." */
    if (!st->valid || st->sec != (long long)ts->tv_sec) {
        struct timespec whole = {.tv_sec = ts->tv_sec, .tv_nsec = 0};
        char full[32];
        tlog_format_time(full, &whole);
        memcpy(st->text, full, SEC_LEN);
        st->sec = (long long)ts->tv_sec;
        st->valid = true;
    }
    memcpy(buf, st->text, SEC_LEN);
    char *p = digits(buf + SEC_LEN, (unsigned)(ts->tv_nsec / 1000000L), 3);
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - buf);
}

/* The current time so into buf (at least 32 bytes); returns its length (24). */
static size_t fmt_timestamp(const tlog *lg, char *buf)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return lg->stamp ? tlog_format_time_cached(buf, &ts, lg->stamp) : tlog_format_time(buf, &ts);
}

static bool plain(unsigned char c)
{
    return (c >= 0x20 || c == '\t') && c != 0x7f;
}

/* One line per message whatever it holds: control bytes (a CR/LF from the network could forge a
 * log line) become \n, \r or \xHH. Writes msg so escaped at out, which has room for 4 bytes per
 * byte of msg; returns the end. */
static char *escape_controls(char *out, const char *msg, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    const unsigned char *p = (const unsigned char *)msg, *end = p + n;
    while (p < end) {
        const unsigned char *run = p;
        /* eight bytes at a time while none is below 0x20 or 0x7f (SWAR: a word holds a byte
         * under 0x20 exactly when (w - 0x20..) & ~w & 0x80.. is non-zero; 0x7f as a zero byte
         * of w ^ 0x7f..); a tab stops the fast step and passes the byte-wise one */
        const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
        while (end - p >= 8) {
            uint64_t w, d;
            memcpy(&w, p, 8);
            d = w ^ (0x7f * ones);
            if (((w - 0x20 * ones) & ~w & highs) | ((d - ones) & ~d & highs))
                break;
            p += 8;
        }
        while (p < end && plain(*p))
            p++;
        memcpy(o, run, (size_t)(p - run)); /* the usual case: the whole message at once */
        o += p - run;
        if (p == end)
            break;
        *o++ = '\\';
        if (*p == '\n') {
            *o++ = 'n';
        } else if (*p == '\r') {
            *o++ = 'r';
        } else {
            *o++ = 'x';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
        p++;
    }
    return o;
}

/* The text line "TS PROG LEVEL MSG\n", escaped, written with one fwrite. */
static void write_text(const tlog *lg, tlog_level lvl, const char *ts, size_t tslen,
                       const char *msg)
{
    const char *prog = lg->prog ? lg->prog : "-";
    size_t plen = strlen(prog), llen = strlen(level_upper[lvl]), mlen = strlen(msg);
    size_t cap = tslen + plen + llen + 4 * mlen + 4;
    char stackbuf[1024];
    char *line = cap <= sizeof stackbuf ? stackbuf : malloc(cap);
    if (!line) { /* no memory: unescaped, still one line per call */
        fprintf(lg->out, "%s %s %s %s\n", ts, prog, level_upper[lvl], msg);
        if (lg->sink)
            fflush(lg->out); /* emit flushes only lines that did not go to the sink */
        return;
    }
    char *o = line;
    memcpy(o, ts, tslen);
    o += tslen;
    *o++ = ' ';
    memcpy(o, prog, plen);
    o += plen;
    *o++ = ' ';
    memcpy(o, level_upper[lvl], llen);
    o += llen;
    *o++ = ' ';
    o = escape_controls(o, msg, mlen);
    *o++ = '\n';
    /* one sink call, or one fwrite (stderr is unbuffered: one write() per line) */
    if (lg->sink)
        lg->sink(lg->sink_ud, line, (size_t)(o - line));
    else
        fwrite(line, 1, (size_t)(o - line), lg->out);
    if (line != stackbuf)
        free(line);
}

/* The line for msg (writable: the JSON form replaces its non-UTF-8 bytes). */
static void emit(const tlog *lg, tlog_level lvl, json_t *fields, char *msg)
{
    char ts[40];
    size_t tslen = fmt_timestamp(lg, ts);

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
        fflush(lg->out);
    } else {
        write_text(lg, lvl, ts, tslen, msg);
        if (!lg->sink)
            fflush(lg->out);
    }
}

static void write_line(const tlog *lg, tlog_level lvl, json_t *fields, const char *fmt, va_list ap0)
{
    char stackbuf[512];
    char *msg = stackbuf, *heap = NULL;
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
        heap = malloc(cap + 48); /* NULL: the truncated stackbuf, better than nothing */
        if (heap) {
            msg = heap;
            va_copy(ap, ap0);
            vsnprintf(msg, cap, fmt, ap);
            va_end(ap);
            if ((size_t)n > TLOG_MSG_MAX)
                snprintf(msg + TLOG_MSG_MAX, 48, "... (%zu more bytes)", (size_t)n - TLOG_MSG_MAX);
        }
    }
    emit(lg, lvl, fields, msg);
    free(heap);
}

void tlog_write(const tlog *lg, tlog_level lvl, const char *fmt, ...)
{
    if (!tlog_enabled(lg, lvl))
        return;
    va_list ap;
    va_start(ap, fmt);
    write_line(lg, lvl, NULL, fmt, ap);
    va_end(ap);
}

void tlog_write_fields(const tlog *lg, tlog_level lvl, json_t *fields, const char *fmt, ...)
{
    if (tlog_enabled(lg, lvl)) {
        va_list ap;
        va_start(ap, fmt);
        write_line(lg, lvl, json_is_object(fields) ? fields : NULL, fmt, ap);
        va_end(ap);
    }
    json_decref(fields);
}

/* ---- messages built without printf ---- */

void tlog_msg_init(tlog_msg *m)
{
    m->len = 0;
}

void tlog_msg_add(tlog_msg *m, const char *s, size_t n)
{
    if (m->len < TLOG_MSG_MAX) {
        size_t room = TLOG_MSG_MAX - m->len;
        memcpy(m->buf + m->len, s, n < room ? n : room);
    }
    m->len += n;
}

void tlog_msg_str(tlog_msg *m, const char *s)
{
    tlog_msg_add(m, s, strlen(s));
}

void tlog_msg_uint(tlog_msg *m, unsigned long long v)
{
    char d[24], *p = d + sizeof d;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    tlog_msg_add(m, p, (size_t)(d + sizeof d - p));
}

void tlog_msg_int(tlog_msg *m, long long v)
{
    if (v < 0) {
        tlog_msg_add(m, "-", 1);
        tlog_msg_uint(m, 0ULL - (unsigned long long)v);
    } else {
        tlog_msg_uint(m, (unsigned long long)v);
    }
}

void tlog_write_msg(const tlog *lg, tlog_level lvl, tlog_msg *m)
{
    if (!tlog_enabled(lg, lvl))
        return;
    if (m->len > TLOG_MSG_MAX)
        snprintf(m->buf + TLOG_MSG_MAX, sizeof m->buf - TLOG_MSG_MAX, "... (%zu more bytes)",
                 m->len - TLOG_MSG_MAX);
    else
        m->buf[m->len] = '\0';
    emit(lg, lvl, NULL, m->buf);
}
