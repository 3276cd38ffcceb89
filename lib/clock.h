/* SPDX-License-Identifier: MIT */
/* clock.h - the programs' one source of time: a monotonic clock for durations, timeouts and
 * deadlines inside a process, the wall clock for timestamps that leave it (protocol fields,
 * DynamoDB TTL attributes, JWT exp/nbf checks), and a sleep for the blocking Lambda runtime.
 * Owns nothing. */
#ifndef TUNNEL_CLOCK_H
#define TUNNEL_CLOCK_H

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

/* Sleeps ms milliseconds, resuming after signal interruptions; returns at once for ms <= 0. */
void clock_sleep_ms(long ms);

#endif
