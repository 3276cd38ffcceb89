/* SPDX-License-Identifier: MIT */
/* acks.c - the window of unacknowledged answers (see acks.h). A FIFO list: entries in flight
 * first, then those waiting; it holds a few messages (the window, plus what exchanges produced
 * before they saw the session congested). */
#include "acks.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    struct entry *next;
    tmsg_type type;
    char *rid;
    uint32_t seq;
    char *text;
    size_t len;
    bool sent;
    uint64_t sent_ms;
    unsigned tries;
} entry;

struct acks {
    acks_send_fn send;
    void *ud;
    bool enabled;
    entry *head, *tail;
    size_t in_flight, waiting;
    uint64_t resent;
    /* RFC 6298 §2: smoothed round trip and its variation (ms), 0 before the first sample */
    uint64_t srtt, rttvar, rto;
    /* RFC 5681 §3.1: the window (answers that may be in flight), the slow start threshold, acks
     * counted towards one more past it; when the window last shrank (ms) */
    size_t cwnd, ssthresh, acked;
    uint64_t shrunk_ms;
    uint64_t min_rtt; /* the shortest round trip seen (ms), 0 before the first */
};

acks *acks_new(acks_send_fn send, void *ud)
{
    acks *a = calloc(1, sizeof *a);
    if (a) {
        a->send = send;
        a->ud = ud;
        a->rto = ACKS_RESEND_MS;
        a->cwnd = ACKS_WINDOW;
        a->ssthresh = ACKS_WINDOW_MAX;
    }
    return a;
}

static void entry_free(entry *e)
{
    free(e->rid);
    free(e->text);
    free(e);
}

void acks_free(acks *a)
{
    if (!a)
        return;
    while (a->head) {
        entry *e = a->head;
        a->head = e->next;
        entry_free(e);
    }
    free(a);
}

static void transmit(acks *a, entry *e, uint64_t now_ms)
{
    if (e->sent) {
        a->resent++;
    } else {
        a->in_flight++;
        a->waiting--;
    }
    e->sent = true;
    e->sent_ms = now_ms;
    e->tries++;
    a->send(a->ud, e->text, e->len);
}

/* Sends waiting entries while the window has room. */
static void fill(acks *a, uint64_t now_ms)
{
    for (entry *e = a->head; e && a->in_flight < a->cwnd; e = e->next)
        if (!e->sent)
            transmit(a, e, now_ms);
}

static void unlink_entry(acks *a, entry *prev, entry *e)
{
    if (prev)
        prev->next = e->next;
    else
        a->head = e->next;
    if (a->tail == e)
        a->tail = prev;
    if (e->sent)
        a->in_flight--;
    else
        a->waiting--;
    entry_free(e);
}

int acks_send(acks *a, const tmsg *m, uint64_t now_ms)
{
    if (!a->enabled) /* nothing kept: the text goes out from the encoder's buffer */
        return tmsg_encode_to(m, a->send, a->ud);
    size_t len = 0;
    char *text = tmsg_encode(m, &len);
    if (!text)
        return -1;
    entry *e = calloc(1, sizeof *e);
    if (!e || (m->request_id && !(e->rid = strdup(m->request_id)))) {
        free(e);
        free(text);
        return -1;
    }
    e->type = m->type;
    e->seq = m->type == TMSG_HTTP_RESPONSE_BODY ? m->seq : 0;
    e->text = text;
    e->len = len;
    if (a->tail)
        a->tail->next = e;
    else
        a->head = e;
    a->tail = e;
    a->waiting++;
    fill(a, now_ms);
    return 0;
}

/* An answer was acknowledged after r ms: one more in the window up to the slow start threshold,
 * past it one more per window of acks (RFC 5681 §3.1); never over ACKS_WINDOW_MAX. Only while
 * the round trip stays within half again the shortest seen (a delay-based rule, as TCP Vegas):
 * a longer one says the answers in flight already queue at the server (invocations that share
 * CPU, environments still starting), where more of them would only add to the queue. */
static void grow(acks *a, uint64_t r)
{
    if (a->min_rtt == 0 || r < a->min_rtt)
        a->min_rtt = r ? r : 1;
    if (a->cwnd >= ACKS_WINDOW_MAX || 2 * r > 3 * a->min_rtt)
        return;
    if (a->cwnd < a->ssthresh) {
        a->cwnd++;
    } else if (++a->acked >= a->cwnd) {
        a->acked = 0;
        a->cwnd++;
    }
}

/* Answers were lost (throttled at the function's concurrency, or their invocations failed): the
 * window halves (RFC 5681 §3.1 equation 4, not under ACKS_WINDOW_MIN), and grows again one per
 * window of acks. Once per round trip: the losses of one burst (API Gateway reports each one)
 * are one loss event. */
static void shrink(acks *a, uint64_t now_ms)
{
    uint64_t rtt = a->srtt > 100 ? a->srtt : 100;
    if (a->shrunk_ms && now_ms - a->shrunk_ms < rtt)
        return;
    a->shrunk_ms = now_ms;
    a->ssthresh = a->cwnd / 2 < ACKS_WINDOW_MIN ? ACKS_WINDOW_MIN : a->cwnd / 2;
    a->cwnd = a->ssthresh;
    a->acked = 0;
}

/* RFC 6298 §2.2-2.3 with alpha 1/8, beta 1/4, K 4; the bounds of acks.h. */
static void rtt_sample(acks *a, uint64_t r)
{
    if (a->srtt == 0) {
        a->srtt = r ? r : 1;
        a->rttvar = r / 2;
    } else {
        uint64_t d = a->srtt > r ? a->srtt - r : r - a->srtt;
        a->rttvar = (3 * a->rttvar + d) / 4;
        a->srtt = (7 * a->srtt + r) / 8;
        if (a->srtt == 0)
            a->srtt = 1;
    }
    uint64_t rto = a->srtt + 4 * a->rttvar;
    a->rto = rto < ACKS_RESEND_MS ? ACKS_RESEND_MS : rto > ACKS_RTO_MAX_MS ? ACKS_RTO_MAX_MS : rto;
}

void acks_on_ack(acks *a, const tmsg *ack, uint64_t now_ms)
{
    a->enabled = true;
    entry *prev = NULL;
    for (entry *e = a->head; e; prev = e, e = e->next) {
        if (!e->sent || e->type != ack->ack_of || !e->rid || !ack->request_id ||
            strcmp(e->rid, ack->request_id) != 0 ||
            (e->type == TMSG_HTTP_RESPONSE_BODY && e->seq != ack->seq))
            continue;
        bool sample = e->tries == 1 && now_ms >= e->sent_ms; /* Karn: unambiguous round trips */
        uint64_t r = now_ms - e->sent_ms;
        unlink_entry(a, prev, e);
        if (sample) {
            rtt_sample(a, r);
            grow(a, r);
        }
        break;
    }
    fill(a, now_ms);
}

void acks_resend_older(acks *a, uint64_t now_ms, uint64_t min_age_ms)
{
    bool any = false;
    for (entry *e = a->head; e; e = e->next)
        if (e->sent && now_ms - e->sent_ms >= min_age_ms) {
            transmit(a, e, now_ms);
            any = true;
        }
    if (any)
        shrink(a, now_ms);
}

void acks_tick(acks *a, uint64_t now_ms)
{
    uint64_t rto = a->rto;
    bool expired = false;
    entry *prev = NULL, *e = a->head;
    while (e) {
        entry *next = e->next;
        if (e->sent && now_ms - e->sent_ms >= rto) {
            if (e->tries >= ACKS_MAX_TRIES) { /* the server is not taking it: give it up */
                unlink_entry(a, prev, e);
                e = next;
                continue;
            }
            transmit(a, e, now_ms);
            expired = true;
        }
        prev = e;
        e = next;
    }
    /* RFC 6298 §5.5: back off (once per tick, however many expired); kept until a new sample.
     * RFC 5681 §3.1: the window halves. */
    if (expired) {
        a->rto = a->rto * 2 > ACKS_RTO_MAX_MS ? ACKS_RTO_MAX_MS : a->rto * 2;
        shrink(a, now_ms);
    }
    fill(a, now_ms);
}

size_t acks_pending_for(const acks *a, const char *rid)
{
    size_t n = 0;
    for (const entry *e = a->head; e; e = e->next)
        n += e->rid && rid && strcmp(e->rid, rid) == 0;
    return n;
}

uint64_t acks_rto(const acks *a)
{
    return a->rto;
}

bool acks_enabled(const acks *a)
{
    return a->enabled;
}

size_t acks_waiting(const acks *a)
{
    return a->waiting;
}

size_t acks_in_flight(const acks *a)
{
    return a->in_flight;
}

uint64_t acks_resent(const acks *a)
{
    return a->resent;
}

size_t acks_window(const acks *a)
{
    return a->cwnd;
}
