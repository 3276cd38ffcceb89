/* SPDX-License-Identifier: MIT */
/* hold.h - request body octets an agent holds unwritten for its local services, over all of a
 * session's exchanges (both wire modes), and which exchange to fail when that is too much.
 * Windows bound what one exchange holds (binary 256 KiB, JSON ttfd's 1 MiB; the Lambda sends a
 * whole body, up to 4 MiB): 255 uploads to local services that read nothing took ttf's RSS to
 * +330 MB in JSON mode, +97 MB in binary mode (bench/upload_stall_cost.py). Past HOLD_AGENT the
 * exchange whose local service took none of its body for the longest, at least HOLD_STALL_MS, is
 * failed (504 `timeout`, or RESET timeout); past HOLD_AGENT_MAX the stalest at once, however
 * recently it moved (uploads that arrive together each bring a window before any can be seen to
 * stall). The link is never paused for it: the session's other exchanges go on.
 * Owns nothing: each exchange keeps its hold_entry, the session the total (session.h). */
#ifndef TTF_HOLD_H
#define TTF_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hmap.h"

/* 24 MiB: 24 JSON uploads' windows at once through ttfd, 6 of the Lambda's largest bodies, 96
 * binary windows. */
#define HOLD_AGENT ((size_t)24 << 20)
/* The hard bound. With it, 255 stalled uploads cost ttf +45 MB of RSS in JSON mode, +59 MB in
 * binary mode (bench/upload_stall_cost.py; 40 MiB gave +56 and +68 MB). */
#define HOLD_AGENT_MAX ((size_t)32 << 20)
/* Past HOLD_AGENT, an exchange whose local service took no request octet for this long (ms)
 * while it holds some is failed: a service that reads, however slowly, is not. A service that
 * takes a piece every 1.5 s (it processes each before the next) reads: with 1 s, 4 of 28 such
 * JSON uploads got 504 (tests/e2e/test_hold_bursts.py). Memory does not need it shorter:
 * HOLD_AGENT_MAX bounds the total whatever this is. */
#define HOLD_STALL_MS 3000u

typedef struct hold_entry {
    size_t held;       /* request octets unwritten, as last noted (in the session's total) */
    uint64_t moved_ms; /* when the local service last took some, or had none to take */
} hold_entry;

/* A new exchange at now (ms, clock_now_ms). */
void hold_start(hold_entry *e, uint64_t now);
/* Notes e's unwritten octets (pending) at now in the session's *total. True when the total is
 * over HOLD_AGENT: the caller has exchanges failed by hold_shed (not from inside an exchange's
 * upcall). */
bool hold_note(size_t *total, hold_entry *e, size_t pending, uint64_t now);
/* The exchange ends: its octets leave the total. */
void hold_forget(size_t *total, hold_entry *e);

/* Fails exchanges, the stalest first, while *total is over HOLD_AGENT: exchanges are the values
 * of m, each with its hold_entry at entry_off; fail(exchange, ms its service took nothing, ud)
 * ends one (its hold_forget lowers *total). False when none has stalled long enough yet: look
 * again in HOLD_RETRY_MS. Not from inside an exchange's upcall (exchanges are freed). */
#define HOLD_RETRY_MS 250u
bool hold_shed(size_t *total, const hmap *m, size_t entry_off,
               void (*fail)(void *exchange, uint64_t idle_ms, void *ud), void *ud);

#endif
