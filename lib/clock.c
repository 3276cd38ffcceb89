/* SPDX-License-Identifier: MIT */
/* clock.c - see clock.h. */
#include "clock.h"

#include <errno.h>
#include <string.h>
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

static const char *const day_names[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const long_days[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                        "Friday", "Saturday", "Sunday"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* A cursor over the text being parsed: each step takes its piece or fails. */
typedef struct date_in {
    const char *p, *end;
} date_in;

static bool take(date_in *in, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(in->end - in->p) < n || memcmp(in->p, lit, n) != 0)
        return false;
    in->p += n;
    return true;
}

/* n digits (a leading space counts as 0 when space_ok: asctime's day) in [lo, hi]. */
static bool num(date_in *in, int n, int lo, int hi, bool space_ok, int *v)
{
    if (in->end - in->p < n)
        return false;
    *v = 0;
    for (int i = 0; i < n; i++) {
        char c = in->p[i];
        if (c == ' ' && space_ok && i == 0 && n > 1)
            continue;
        if (c < '0' || c > '9')
            return false;
        *v = *v * 10 + (c - '0');
    }
    in->p += n;
    return *v >= lo && *v <= hi;
}

/* One of the names (exactly as spelled); its index in *i. */
static bool name(date_in *in, const char *const *names, int count, int *i)
{
    for (*i = 0; *i < count; (*i)++)
        if (take(in, names[*i]))
            return true;
    return false;
}

/* "HH:MM:SS" (a leap second's 60 allowed) */
static bool time_of_day(date_in *in, int *h, int *m, int *sec)
{
    return num(in, 2, 0, 23, false, h) && take(in, ":") && num(in, 2, 0, 59, false, m) &&
           take(in, ":") && num(in, 2, 0, 60, false, sec);
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool clock_parse_http_date(const char *s, size_t n, int64_t *t)
{
    date_in in = {s, s + n};
    int wd = 0, d = 0, mon = 0, y = 0, h = 0, m = 0, sec = 0;
    bool ok;
    if (name(&in, long_days, 7, &wd) && take(&in, ", ")) { /* rfc850-date */
        ok = num(&in, 2, 1, 31, false, &d) && take(&in, "-") && name(&in, months, 12, &mon) &&
             take(&in, "-") && num(&in, 2, 0, 99, false, &y) && take(&in, " ") &&
             time_of_day(&in, &h, &m, &sec) && take(&in, " GMT");
        y += y < 70 ? 2000 : 1900; /* (a failed parse leaves y a number too) */
    } else if ((in.p = s, name(&in, day_names, 7, &wd)) && take(&in, ", ")) { /* IMF-fixdate */
        ok = num(&in, 2, 1, 31, false, &d) && take(&in, " ") && name(&in, months, 12, &mon) &&
             take(&in, " ") && num(&in, 4, 0, 9999, false, &y) && take(&in, " ") &&
             time_of_day(&in, &h, &m, &sec) && take(&in, " GMT");
    } else { /* asctime-date: day-name SP month SP ( 2DIGIT / ( SP DIGIT ) ) SP time SP year */
        in.p = s;
        ok = name(&in, day_names, 7, &wd) && take(&in, " ") && name(&in, months, 12, &mon) &&
             take(&in, " ") && num(&in, 2, 1, 31, true, &d) && take(&in, " ") &&
             time_of_day(&in, &h, &m, &sec) && take(&in, " ") && num(&in, 4, 0, 9999, false, &y);
    }
    if (!ok || in.p != in.end)
        return false;
    *t = (days_from_civil(y, mon + 1, d) * 24 + h) * 3600 + (int64_t)m * 60 + sec;
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
