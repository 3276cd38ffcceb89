/* SPDX-License-Identifier: MIT */
/* clock.h - the programs' one source of time: a monotonic clock for durations, timeouts and
 * deadlines inside a process, the wall clock for timestamps that leave it (protocol fields,
 * DynamoDB TTL attributes, JWT exp/nbf checks), and a sleep for the blocking Lambda runtime.
 * Owns nothing. */
#ifndef TUNNEL_CLOCK_H
#define TUNNEL_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

/* Milliseconds on CLOCK_MONOTONIC (an arbitrary origin, never steps back): subtract two
 * readings for a duration; never compare with a wall-clock time. */
uint64_t clock_now_ms(void);
/* The same clock in microseconds (request durations for metrics). */
uint64_t clock_now_us(void);

/* Milliseconds since the Unix epoch on CLOCK_REALTIME: for timestamps only (it may jump). */
int64_t clock_wall_ms(void);

/* ms milliseconds as a struct timeval (libevent's timeouts). */
static inline struct timeval clock_timeval_ms(uint64_t ms)
{
    return (struct timeval){(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
}

/* ---- the Date of HTTP responses (RFC 9110 §6.6.1) ---- */
#define CLOCK_HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */
/* A wall clock that can be replaced (tests): milliseconds since the Unix epoch. */
typedef int64_t (*clock_wall_fn)(void *ud);
/* Now as an IMF-fixdate (RFC 9110 §5.6.7), formatted at most once per second: a relay writes
 * one per response. One per thread (it caches); zero-initialised it reads clock_wall_ms. */
typedef struct clock_http_date {
    clock_wall_fn wall; /* NULL: clock_wall_ms */
    void *ud;
    int64_t sec; /* the second text was formatted for */
    char text[CLOCK_HTTP_DATE_LEN + 1];
} clock_http_date;
/* The IMF-fixdate of the second t (seconds since the Unix epoch) into out; false when gmtime_r
 * cannot represent it (out is then ""). */
bool clock_format_http_date(int64_t t, char out[CLOCK_HTTP_DATE_LEN + 1]);
/* Whether s[0..n) is one HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, rfc850-date or asctime-date,
 * case-sensitive, nothing around it); *t then the second it names (rfc850's two-digit years
 * 00..69 as 20xx, 70..99 as 19xx). The day name is not checked against the date. */
bool clock_parse_http_date(const char *s, size_t n, int64_t *t);
/* d's clock now, as an IMF-fixdate (d->text); "" only when the clock is unrepresentable. */
const char *clock_http_date_now(clock_http_date *d);

/* Sleeps ms milliseconds, resuming after signal interruptions; returns at once for ms <= 0. */
void clock_sleep_ms(long ms);

#endif
