/* SPDX-License-Identifier: MIT */
/* acks.h - delivery of the agent's answers (http_response, http_response_body, error) when the
 * server acknowledges them (docs/protocol.md §2 "Acknowledgements"). Over API Gateway each message
 * is one $default invocation, and an invocation throttled at the function's concurrency limit is
 * lost (API Gateway does not retry it). Once the server has acknowledged a message, at most a
 * window of answers are in flight unacknowledged; later ones wait (the session counts as
 * congested, so exchanges stop reading their local sockets). The window adapts as TCP's
 * congestion window does (RFC 5681 §3.1): ACKS_WINDOW at first, one more per ack up to
 * ACKS_WINDOW_MAX (each answer in flight is one $default invocation running: concurrency the
 * function must have) while the acks' round trip stays within half again the shortest seen
 * (more answers in flight would only queue); halved (not under ACKS_WINDOW_MIN) when answers
 * were lost (the function throttled them), at most once per round trip, then one more per window
 * of acks. One left unacknowledged for the
 * retransmission timeout, or in flight when API Gateway reports a failed integration, is sent
 * again (the server takes each answer once). The timeout follows the acks' round trips as TCP's
 * does (RFC 6298: SRTT + 4 RTTVAR, at least ACKS_RESEND_MS, at most ACKS_RTO_MAX_MS; Karn's rule:
 * no sample from a message sent more than once) and doubles when it expires, until a new sample:
 * a server slowed by load (each $default invocation taking seconds) is not sent every message
 * again every second, which would double its load and slow it further. Before any
 * acknowledgement (ttfd, or no route response on API Gateway's $default) answers go out at once,
 * as before.
 * Owns: copies of the messages in flight or waiting. */
#ifndef TTF_ACKS_H
#define TTF_ACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto_json.h"

#define ACKS_WINDOW 8        /* the window at first */
#define ACKS_WINDOW_MAX 16   /* the most answers in flight */
#define ACKS_WINDOW_MIN 2    /* the least, after losses */
#define ACKS_RESEND_MS 1000  /* the least (and initial) retransmission timeout */
#define ACKS_RTO_MAX_MS 8000 /* the most, backed off included */
#define ACKS_MAX_TRIES 8

typedef struct acks acks;

/* send(ud, text, len): writes one message to the WebSocket; 0 or -1. */
typedef int (*acks_send_fn)(void *ud, const char *text, size_t len);

acks *acks_new(acks_send_fn send, void *ud);
void acks_free(acks *a);

/* An answer m (encoded here): sent now, or kept waiting for room in the window. 0 or -1. */
int acks_send(acks *a, const tmsg *m, uint64_t now_ms);
/* An ack from the server: its message leaves the window, waiting ones go out. */
void acks_on_ack(acks *a, const tmsg *ack, uint64_t now_ms);
/* API Gateway told the client an integration failed (a message was lost, which one it does not
 * say): every message in flight for at least min_age_ms is sent again. */
void acks_resend_older(acks *a, uint64_t now_ms, uint64_t min_age_ms);
/* Periodic: resends what waited its retransmission timeout for its ack; gives up after
 * ACKS_MAX_TRIES sends. */
void acks_tick(acks *a, uint64_t now_ms);
/* The current retransmission timeout (ms). */
uint64_t acks_rto(const acks *a);

bool acks_enabled(const acks *a);
size_t acks_waiting(const acks *a);   /* answers not sent yet (window full) */
size_t acks_in_flight(const acks *a); /* sent, not acknowledged */
/* Answers of request rid sent or waiting, not acknowledged. */
size_t acks_pending_for(const acks *a, const char *rid);
uint64_t acks_resent(const acks *a); /* messages sent again so far */
size_t acks_window(const acks *a);   /* the current window */

#endif
