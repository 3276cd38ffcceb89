/* SPDX-License-Identifier: MIT */
/* termview.c - the live status block on a TTY (see termview.h). */
#include "termview.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "qr.h"

#define REDRAW_MS 100 /* at most ten frames a second */
#define RETRY_MS 250  /* the terminal could not take a frame: try again */
#define LABEL_W 30

#define TUNNEL_W_MAX 16 /* the widest tunnel-name column (longer names are cut) */

typedef struct recent {
    char when[16];
    char tunnel[TUNNEL_W_MAX + 1]; /* its tunnel's name (ttf --config), "" for the one tunnel */
    char method[16];
    char target[160];
    char result[64];
    uint64_t ms;
} recent;

struct termview {
    struct event_base *base;
    int fd;
    const agent_config *cfg;
    struct event *redraw_ev, *winch_ev;
    bool armed, active;
    int cols, rows;
    char *state, *public_url, *path_url, *inspector;
    char local[300];
    uint64_t total, open;
    uint64_t samples[TERMVIEW_SAMPLES];
    size_t nsamples, sample_pos;
    recent recent[TERMVIEW_RECENT];
    size_t nrecent, recent_pos;
    char logs[TERMVIEW_LOG_LINES][240];
    size_t nlogs, log_pos;
    char partial[240];
    size_t partial_len;
    FILE *logf;
    char *qr, *qr_url;
    int qr_w, qr_h;
    char **urls; /* ttf --config: per tunnel of cfg, NULL until known */
};

/* ---- a growing frame buffer ---- */

typedef struct frame {
    char *p;
    size_t n, cap;
} frame;

static void fput(frame *f, const char *s, size_t n)
{
    if (f->n + n + 1 > f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 4096;
        while (nc < f->n + n + 1)
            nc *= 2;
        char *q = realloc(f->p, nc);
        if (!q)
            return;
        f->p = q;
        f->cap = nc;
    }
    memcpy(f->p + f->n, s, n);
    f->n += n;
    f->p[f->n] = '\0';
}

static void fputs_(frame *f, const char *s)
{
    fput(f, s, strlen(s));
}

/* Appends s cut to cols columns (one column per UTF-8 character), control bytes shown as '?'. */
static void fput_clipped(frame *f, const char *s, int cols)
{
    int col = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool lead = (*p & 0xc0) != 0x80;
        if (lead && col == cols)
            break;
        if (lead)
            col++;
        char c = (char)((*p < 0x20 || *p == 0x7f) ? '?' : *p);
        fput(f, &c, 1);
    }
}

/* ---- stats ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

uint64_t termview_percentile(uint64_t *v, size_t n, int p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_u64);
    size_t rank = ((size_t)p * n + 99) / 100; /* ceil(p/100 * n) */
    if (rank == 0)
        rank = 1;
    return v[rank - 1];
}

/* ---- drawing ---- */

static void label_line(frame *f, int cols, const char *label, const char *value)
{
    char line[1024];
    snprintf(line, sizeof line, "%-*s%s", LABEL_W, label, value ? value : "");
    fput_clipped(f, line, cols);
    fputs_(f, "\x1b[K\r\n");
}

static void plain_line(frame *f, int cols, const char *text)
{
    fput_clipped(f, text, cols);
    fputs_(f, "\x1b[K\r\n");
}

static void ensure_qr(termview *tv)
{
    if (!tv->cfg->qr || !tv->public_url)
        return;
    if (tv->qr_url && strcmp(tv->qr_url, tv->public_url) == 0)
        return;
    free(tv->qr);
    free(tv->qr_url);
    tv->qr = qr_render(tv->public_url, true, &tv->qr_w, &tv->qr_h);
    tv->qr_url = strdup(tv->public_url);
}

static void build(termview *tv, frame *f)
{
    int cols = tv->cols > 0 ? tv->cols : 80;
    int rows = tv->rows > 0 ? tv->rows : 24;
    int used = 0;
    char buf[1024];
    fputs_(f, "\x1b[H");
    snprintf(buf, sizeof buf, "\x1b[1mttf\x1b[0m%*s", cols > 20 ? cols - 3 - 17 : 0,
             "(Ctrl+C to quit)");
    fputs_(f, buf);
    fputs_(f, "\x1b[K\r\n\x1b[K\r\n");
    used += 2;
    label_line(f, cols, "Session Status", tv->state ? tv->state : "starting");
    label_line(f, cols, "Version", TTF_VERSION);
    for (size_t i = 0; tv->cfg->config_file && i < tv->cfg->ntunnels; i++) {
        char local[300];
        agent_tunnel_hostport(&tv->cfg->tunnels[i], local, sizeof local);
        snprintf(buf, sizeof buf, "%s: %s -> %s://%s", tv->cfg->tunnels[i].name,
                 tv->urls && tv->urls[i] ? tv->urls[i] : "(waiting)",
                 agent_tunnel_scheme(&tv->cfg->tunnels[i]), local);
        label_line(f, cols, "Forwarding", buf);
        used += i > 0;
    }
    if (!tv->cfg->config_file) {
        snprintf(buf, sizeof buf, "%s -> %s://%s", tv->public_url ? tv->public_url : "(waiting)",
                 tv->cfg->local_tls ? "https" : "http", tv->local);
        label_line(f, cols, "Forwarding", buf);
    }
    if (!tv->cfg->config_file && tv->path_url &&
        (!tv->public_url || strcmp(tv->path_url, tv->public_url) != 0)) {
        snprintf(buf, sizeof buf, "%s -> %s://%s", tv->path_url,
                 tv->cfg->local_tls ? "https" : "http", tv->local);
        label_line(f, cols, "Forwarding", buf);
        used++;
    }
    label_line(f, cols, "Web Interface", tv->inspector ? tv->inspector : "off");
    used += 4;
    plain_line(f, cols, "");
    uint64_t tmp[TERMVIEW_SAMPLES];
    memcpy(tmp, tv->samples, tv->nsamples * sizeof tmp[0]);
    uint64_t p50 = termview_percentile(tmp, tv->nsamples, 50);
    uint64_t p90 = termview_percentile(tmp, tv->nsamples, 90);
    label_line(f, cols, "Connections", "ttl     opn     p50     p90");
    char p50s[24], p90s[24];
    snprintf(p50s, sizeof p50s, "%llums", (unsigned long long)p50);
    snprintf(p90s, sizeof p90s, "%llums", (unsigned long long)p90);
    snprintf(buf, sizeof buf, "%-8llu%-8llu%-8s%s", (unsigned long long)tv->total,
             (unsigned long long)tv->open, tv->nsamples ? p50s : "-", tv->nsamples ? p90s : "-");
    label_line(f, cols, "", buf);
    used += 3;
    ensure_qr(tv);
    if (tv->cfg->qr && tv->qr) {
        plain_line(f, cols, "");
        used++;
        if (tv->qr_w <= cols && used + tv->qr_h + 4 <= rows) {
            /* The QR lines carry their own colors; they fit (checked above). */
            const char *p = tv->qr;
            while (*p) {
                const char *nl = strchr(p, '\n');
                size_t n = nl ? (size_t)(nl - p) : strlen(p);
                fput(f, p, n);
                fputs_(f, "\x1b[K\r\n");
                p += n + (nl ? 1 : 0);
            }
            used += tv->qr_h;
        } else {
            plain_line(f, cols, "(the terminal is too small for the QR code)");
            used++;
        }
    }
    plain_line(f, cols, "");
    plain_line(f, cols, "HTTP Requests");
    plain_line(f, cols, "-------------");
    used += 3;
    int logs = (int)tv->nlogs;
    int room = rows - used - (logs ? logs + 2 : 0) - 1;
    int tunnel_w = 0; /* the tunnel column: as wide as the longest name, when there are several */
    for (size_t i = 0; tv->cfg->ntunnels > 1 && i < tv->cfg->ntunnels; i++) {
        size_t n = strlen(tv->cfg->tunnels[i].name);
        if ((int)n > tunnel_w)
            tunnel_w = n > TUNNEL_W_MAX ? TUNNEL_W_MAX : (int)n;
    }
    for (int i = 0; i < room && (size_t)i < tv->nrecent; i++) {
        const recent *r =
            &tv->recent[(tv->recent_pos + TERMVIEW_RECENT - 1 - (size_t)i) % TERMVIEW_RECENT];
        if (tunnel_w) /* several tunnels: each row names its tunnel, as ngrok's lines do */
            snprintf(buf, sizeof buf, "%-13s %-*s %-7s %-40s %-24s %llu ms", r->when, tunnel_w,
                     r->tunnel, r->method, r->target, r->result, (unsigned long long)r->ms);
        else
            snprintf(buf, sizeof buf, "%-13s %-7s %-40s %-24s %llu ms", r->when, r->method,
                     r->target, r->result, (unsigned long long)r->ms);
        plain_line(f, cols, buf);
        used++;
    }
    if (logs) {
        plain_line(f, cols, "");
        plain_line(f, cols, "Log");
        for (size_t i = 0; i < tv->nlogs; i++)
            plain_line(
                f, cols,
                tv->logs[(tv->log_pos + TERMVIEW_LOG_LINES - tv->nlogs + i) % TERMVIEW_LOG_LINES]);
    }
    fputs_(f, "\x1b[J");
}

static void query_size(termview *tv)
{
    struct winsize ws;
    if (ioctl(tv->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
        tv->cols = ws.ws_col;
        tv->rows = ws.ws_row;
    }
}

static void schedule(termview *tv, int ms)
{
    if (tv->armed)
        return;
    tv->armed = true;
    struct timeval t = {0, (suseconds_t)ms * 1000};
    evtimer_add(tv->redraw_ev, &t);
}

static void redraw_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    termview *tv = arg;
    tv->armed = false;
    struct pollfd pfd = {tv->fd, POLLOUT, 0};
    if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLOUT)) {
        schedule(tv, RETRY_MS); /* paused (Ctrl-S) or slow: skip this frame */
        return;
    }
    frame f = {0};
    build(tv, &f);
    size_t off = 0;
    while (f.p && off < f.n) {
        ssize_t w = write(tv->fd, f.p + off, f.n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(f.p);
}

static void winch_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    termview *tv = arg;
    query_size(tv);
    static const char clear[] = "\x1b[2J";
    if (write(tv->fd, clear, sizeof clear - 1) < 0) {
        /* nothing to do: the next frame redraws everything */
    }
    schedule(tv, 0);
}

static void changed(termview *tv)
{
    schedule(tv, REDRAW_MS);
}

/* ---- log lines ---- */

static void keep_log_line(termview *tv, const char *s, size_t n)
{
    if (n == 0)
        return;
    if (n >= sizeof tv->logs[0])
        n = sizeof tv->logs[0] - 1;
    memcpy(tv->logs[tv->log_pos], s, n);
    tv->logs[tv->log_pos][n] = '\0';
    tv->log_pos = (tv->log_pos + 1) % TERMVIEW_LOG_LINES;
    if (tv->nlogs < TERMVIEW_LOG_LINES)
        tv->nlogs++;
    changed(tv);
}

static ssize_t log_write(void *cookie, const char *buf, size_t size)
{
    termview *tv = cookie;
    for (size_t i = 0; i < size; i++) {
        if (buf[i] == '\n') {
            keep_log_line(tv, tv->partial, tv->partial_len);
            tv->partial_len = 0;
        } else if (tv->partial_len < sizeof tv->partial - 1) {
            tv->partial[tv->partial_len++] = buf[i];
        }
    }
    return (ssize_t)size;
}

/* ---- the observer ---- */

static void *ob_head(void *ud, const obs_request *rq)
{
    (void)rq;
    termview *tv = ud;
    tv->open++;
    changed(tv);
    return NULL;
}

static void ob_end(void *ud, void *x, const exchange_info *info)
{
    (void)x;
    termview *tv = ud;
    if (tv->open)
        tv->open--;
    tv->total++;
    tv->samples[tv->sample_pos] = info->total_ms;
    tv->sample_pos = (tv->sample_pos + 1) % TERMVIEW_SAMPLES;
    if (tv->nsamples < TERMVIEW_SAMPLES)
        tv->nsamples++;
    recent *r = &tv->recent[tv->recent_pos];
    tv->recent_pos = (tv->recent_pos + 1) % TERMVIEW_RECENT;
    if (tv->nrecent < TERMVIEW_RECENT)
        tv->nrecent++;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    snprintf(r->when, sizeof r->when, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(ts.tv_nsec / 1000000));
    snprintf(r->tunnel, sizeof r->tunnel, "%s", info->tunnel ? info->tunnel : "");
    snprintf(r->method, sizeof r->method, "%s", info->method ? info->method : "?");
    snprintf(r->target, sizeof r->target, "%s", info->target ? info->target : "?");
    if (info->error)
        snprintf(r->result, sizeof r->result, "%s", info->error);
    else
        snprintf(r->result, sizeof r->result, "%d %s", info->status, http_reason(info->status));
    r->ms = info->total_ms;
    changed(tv);
}

static const exchange_observer_ops tv_ops = {ob_head, NULL, NULL, NULL, ob_end};

exchange_observer termview_observer(termview *tv)
{
    exchange_observer o = {&tv_ops, tv};
    return o;
}

/* ---- life cycle ---- */

termview *termview_new(struct event_base *base, int fd, const agent_config *cfg)
{
    if (!isatty(fd))
        return NULL;
    termview *tv = calloc(1, sizeof *tv);
    if (!tv)
        return NULL;
    tv->base = base;
    tv->fd = fd;
    tv->cfg = cfg;
    agent_config_local_hostport(cfg, tv->local, sizeof tv->local);
    tv->redraw_ev = evtimer_new(base, redraw_cb, tv);
    tv->winch_ev = evsignal_new(base, SIGWINCH, winch_cb, tv);
    cookie_io_functions_t io = {NULL, log_write, NULL, NULL};
    tv->logf = fopencookie(tv, "w", io);
    if (!tv->redraw_ev || !tv->winch_ev || !tv->logf || evsignal_add(tv->winch_ev, NULL) != 0) {
        termview_free(tv, NULL);
        return NULL;
    }
    setvbuf(tv->logf, NULL, _IOLBF, 0);
    query_size(tv);
    /* The alternate screen (the shell's screen comes back on exit), cursor hidden. */
    static const char enter[] = "\x1b[?1049h\x1b[?25l\x1b[2J";
    if (write(fd, enter, sizeof enter - 1) < 0) {
        termview_free(tv, NULL);
        return NULL;
    }
    tv->active = true;
    schedule(tv, 0);
    return tv;
}

void termview_free(termview *tv, FILE *err)
{
    if (!tv)
        return;
    if (tv->logf)
        fclose(tv->logf); /* flushes a last partial line into the ring */
    if (tv->active) {
        static const char leave[] = "\x1b[?25h\x1b[?1049l";
        if (write(tv->fd, leave, sizeof leave - 1) < 0) {
            /* the terminal is gone: nothing to restore */
        }
    }
    if (err) {
        for (size_t i = 0; i < tv->nlogs; i++)
            fprintf(
                err, "%s\n",
                tv->logs[(tv->log_pos + TERMVIEW_LOG_LINES - tv->nlogs + i) % TERMVIEW_LOG_LINES]);
        fflush(err);
    }
    if (tv->redraw_ev)
        event_free(tv->redraw_ev);
    if (tv->winch_ev)
        event_free(tv->winch_ev);
    free(tv->state);
    free(tv->public_url);
    free(tv->path_url);
    free(tv->inspector);
    free(tv->qr);
    free(tv->qr_url);
    for (size_t i = 0; tv->urls && i < tv->cfg->ntunnels; i++)
        free(tv->urls[i]);
    free(tv->urls);
    free(tv);
}

FILE *termview_log_file(termview *tv)
{
    return tv->logf;
}

static void set_copy(char **dst, const char *s)
{
    if (!s)
        return;
    char *c = strdup(s);
    if (!c)
        return;
    free(*dst);
    *dst = c;
}

void termview_session(termview *tv, const char *state, const char *public_url, const char *path_url)
{
    if (!tv)
        return;
    set_copy(&tv->state, state);
    set_copy(&tv->public_url, public_url);
    set_copy(&tv->path_url, path_url);
    changed(tv);
}

void termview_tunnel_url(termview *tv, size_t i, const char *public_url)
{
    if (!tv || i >= tv->cfg->ntunnels)
        return;
    if (!tv->urls && !(tv->urls = calloc(tv->cfg->ntunnels, sizeof *tv->urls)))
        return;
    set_copy(&tv->urls[i], public_url);
    changed(tv);
}

void termview_inspector(termview *tv, const char *url)
{
    if (!tv)
        return;
    set_copy(&tv->inspector, url);
    changed(tv);
}
