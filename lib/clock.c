/* SPDX-License-Identifier: MIT */
/* clock.c - see clock.h. */
#include "clock.h"

#include <errno.h>
#include <time.h>

uint64_t clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t clock_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool clock_format_http_date(int64_t t, char out[CLOCK_HTTP_DATE_LEN + 1])
{
    struct tm tm;
    time_t tt = (time_t)t;
    /* "%a" and "%b" are the C locale's names, which a program gets until it calls setlocale
     * (none of ours does): the day and month names RFC 9110 §5.6.7 spells */
    if (!gmtime_r(&tt, &tm) || strftime(out, CLOCK_HTTP_DATE_LEN + 1, "%a, %d %b %Y %H:%M:%S GMT",
                                        &tm) != CLOCK_HTTP_DATE_LEN) {
        out[0] = '\0';
        return false;
    }
    return true;
}

const char *clock_http_date_now(clock_http_date *d)
{
    int64_t ms = d->wall ? d->wall(d->ud) : clock_wall_ms();
    int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    if (sec != d->sec || !d->text[0]) {
        clock_format_http_date(sec, d->text);
        d->sec = sec;
    }
    return d->text;
}

void clock_sleep_ms(long ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
