/* SPDX-License-Identifier: MIT */
/* hold.h - request body octets an agent holds for its local services over all of a session's
 * exchanges (both wire modes), bounded by the window credit it gives, not by failing uploads.
 *
 * A windowed exchange (binary mode; JSON mode when the server announced a request window) is
 * bounded by what its sender may still send (its window left, `avail`) plus what ttf holds of
 * its body unwritten (`held`). ttf asks the server for a small first window (HOLD_WINDOW_FIRST,
 * in ready.request_window, as HTTP/2's SETTINGS_INITIAL_WINDOW_SIZE, RFC 9113 §6.9.2) and grows
 * each stream's window with its credit (hold_credit) up to a target: the mode's normal window
 * (binary 256 KiB, JSON 1 MiB) while HOLD_BUDGET spread over the live uploads allows, never under
 * HOLD_WINDOW_MIN, so every upload keeps moving, and above that floor only while the session's
 * avail + held is under HOLD_BUDGET. A slow or bursty local service makes its upload slow (no
 * credit: the public client's TCP window closes), never fails it. Over all streams ttf holds at
 * most HOLD_BUDGET + streams x HOLD_WINDOW_MIN (ttfd's --max-streams-per-agent, 256: 32 MiB,
 * HOLD_AGENT_MAX). Credit freed by ending streams goes to the others at their next frame or write.
 *
 * A stalled upload never starves a live one. An upload whose local service took none of its body
 * for HOLD_STALL_MS while ttf holds some is stalled (hold_shed marks it; it moves again, and is
 * live again, as soon as its service takes an octet): it keeps what it holds but no longer counts
 * in the live uploads' shares, nor grows. When a live upload whose service took all it was sent
 * is refused credit the budget lacks (it waits for credit: `want`), the stalled uploads whose
 * services took nothing for the longest, at least HOLD_SHED_MS, are failed (504 `timeout`, or
 * RESET timeout: the hard bound's answer) until the budget has room for it, while ttf holds at
 * least half of HOLD_BUDGET (credit idle or slow public clients have not used is not memory: it
 * never fails a stalled upload, whose client may be waiting for a webhook that computes); with no
 * live upload waiting, a stalled one waits for its --request-timeout as before. HOLD_SHED_MS is
 * longer than HOLD_STALL_MS because a service reading a byte at a time looks stalled to ttf (TCP
 * opens the window by a segment, not by the byte read): being out of the shares costs it nothing it
 * uses, a 504 would cost its upload. Why not let live uploads grow past the budget instead: credit
 * cannot be taken back, so octets given to stalled uploads stay given; growing newcomers to their
 * share up to a second cap only moves the starvation to that cap (16 stalled JSON uploads at 1 MiB,
 * then each newcomer that stalls too at its share, reach 32 MiB after 29 more) and spends
 * HOLD_AGENT_MAX's room. frp (yamux: 256 KiB a stream to start) and ngrok (muxado) flow-control
 * each stream on its own, with no budget over streams, so there a stalled upload costs memory,
 * never another upload's speed; ttf keeps its bound and its live uploads' speed, and fails what has
 * taken nothing for HOLD_SHED_MS only when a live upload needs the room: nginx's
 * client_body_timeout (60 s between two reads) fails a stalled body with no such reason.
 *
 * Windowless exchanges (the Lambda, which posts whole bodies of up to 4 MiB; an older ttfd that
 * did not take the window asked for) cannot be slowed so: for them the hard bound stays
 * (hold_shed): past HOLD_AGENT the exchange whose local service took none of its body for the
 * longest, at least HOLD_STALL_MS, is failed (504 `timeout`, or RESET timeout); past
 * HOLD_AGENT_MAX the stalest at once. The link is never paused for it.
 * Owns nothing: each exchange keeps its hold_entry, the session the hold_total (session.h). */
#ifndef TTF_HOLD_H
#define TTF_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hmap.h"

/* What windowed exchanges may hold and be sent over a session (avail + held), beyond each
 * one's floor: 16 binary windows, 16 JSON ones. */
#define HOLD_BUDGET ((size_t)16 << 20)
/* The first window ttf asks for (ready.request_window) and the least a stream's window grows
 * back to: a 64 KiB upload goes in one round trip; 256 stalled uploads hold 16 MiB. */
#define HOLD_WINDOW_FIRST ((size_t)64 << 10)
#define HOLD_WINDOW_MIN HOLD_WINDOW_FIRST

/* Windowless exchanges (hold_shed): 24 MiB, 6 of the Lambda's largest bodies. */
#define HOLD_AGENT ((size_t)24 << 20)
/* Their hard bound. With it, 255 stalled uploads cost ttf +45 MB of RSS on the Lambda's way
 * (bench/upload_stall_cost.py). */
#define HOLD_AGENT_MAX ((size_t)32 << 20)
/* An exchange whose local service took no request body octet for this long (ms) while ttf holds
 * some is stalled: past HOLD_AGENT (windowless), or when a live upload wants credit the budget
 * lacks (windowed), it may be failed. A service that takes a piece every 1.5 s reads. */
#define HOLD_STALL_MS 3000u
/* A windowed upload is failed for one waiting for credit only once its service took nothing for
 * this long (ms): a reader of 1 byte every 0.9 s for 5.4 s, then 1 MiB every 1.5 s, among 40
 * such uploads is not (tests/e2e/test_hold_bursts.py). */
#define HOLD_SHED_MS 10000u

/* Over all of a session's exchanges. */
typedef struct hold_total {
    size_t held;    /* request body octets unwritten, every exchange */
    size_t avail;   /* windowed uploads: octets their senders may still send */
    size_t uploads; /* windowed exchanges whose body still comes */
    size_t stalled; /* of those, the ones marked stalled (out of the live uploads' shares) */
    size_t want;    /* credit live uploads were refused for want of budget (their `want`s) */
} hold_total;

typedef struct hold_entry {
    size_t held;       /* request body octets unwritten, as last noted (in the total) */
    size_t avail;      /* an upload: octets its sender may still send (its window left) */
    size_t want;       /* a live upload whose service took all it was sent: credit it was
                          last refused for want of budget (it waits for credit) */
    uint64_t moved_ms; /* when the local service last took some, or had none to take */
    bool upload;       /* windowed, its body still comes (in the total's uploads) */
    bool stalled;      /* marked by hold_shed: took nothing for HOLD_STALL_MS; live once it moves */
} hold_entry;

/* A new exchange at now (ms, clock_now_ms). */
void hold_start(hold_entry *e, uint64_t now);
/* e's body comes within a window of `window` octets (the server's first window). */
void hold_window(hold_total *t, hold_entry *e, size_t window);
/* The sender sent n octets of e's window; false when they overran it (a protocol error). */
bool hold_spend(hold_total *t, hold_entry *e, size_t n);
/* e's body ended: what its window had left is no longer counted. */
void hold_body_done(hold_total *t, hold_entry *e);
/* The window a live windowed upload grows to now: normal (the mode's window, octets) or its share
 * of HOLD_BUDGET over the live uploads (not marked stalled), whichever is smaller, never under
 * HOLD_WINDOW_MIN. */
size_t hold_target(const hold_total *t, size_t normal);
/* The credit to give e now (octets, counted in avail; 0: none): what takes its avail + held up to
 * hold_target (a stalled upload's: HOLD_WINDOW_MIN), above HOLD_WINDOW_MIN only within
 * HOLD_BUDGET, when it is at least min (at most a quarter of the target). What the budget lacked
 * is e's want. */
size_t hold_credit(hold_total *t, hold_entry *e, size_t normal, size_t min);
/* After hold_credit, windowed sessions: in how many ms hold_shed should look for stalled uploads
 * for e: 0 when e wants credit the budget lacks, HOLD_RETRY_MS when its share is cut by the other
 * uploads (some may have stalled), -1 when e needs nothing. */
long hold_scan_in(const hold_total *t, const hold_entry *e, size_t normal);
/* Notes e's unwritten body octets (pending) at now; e moved (it is live again) when its service
 * took some. True when the total is over HOLD_AGENT (only a windowless session acts on it, with
 * hold_shed, not from inside an exchange's upcall). */
bool hold_note(hold_total *t, hold_entry *e, size_t pending, uint64_t now);
/* The exchange ends: its octets and window leave the total. */
void hold_forget(hold_total *t, hold_entry *e);

/* Marks the exchanges that stalled (HOLD_STALL_MS) and fails the stalest stalled ones first:
 * windowed (normal, the mode's window: not 0) those stalled for HOLD_SHED_MS while the live
 * uploads' want is more than the budget's room; windowless (normal 0) while the total held is over
 * HOLD_AGENT (past HOLD_AGENT_MAX whatever moved least recently). Exchanges are the values of m,
 * each with its hold_entry at entry_off; fail(exchange, ms its service took nothing, ud) ends one
 * (its hold_forget lowers the total). Returns how many it marked or failed (windowed: room or
 * larger shares came, credit the uploads waiting again); *later: look again in HOLD_RETRY_MS
 * (some may stall by then). Not from inside an exchange's upcall (exchanges are freed). */
#define HOLD_RETRY_MS 250u
size_t hold_shed(hold_total *t, const hmap *m, size_t entry_off, size_t normal,
                 void (*fail)(void *exchange, uint64_t idle_ms, void *ud), void *ud, bool *later);

#endif
