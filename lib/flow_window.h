/* SPDX-License-Identifier: MIT */
/* flow_window.h - one direction of one stream's flow-control window, as both ends keep it (the
 * receiver's count): ttfd for responses (binary WINDOW, JSON `window`), ttf for JSON request
 * bodies (docs/protocol.md §2 "Flow control", §3). Bytes the peer sent are spent from the
 * window; once the receiver handed them on (its output holds at most FLOW_CREDIT_MARK), they
 * are credited back, batched. No allocation, no I/O: the caller sends the credit. */
#ifndef TUNNEL_FLOW_WINDOW_H
#define TUNNEL_FLOW_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct flow_window {
    int64_t left;   /* bytes the peer may still send */
    size_t unacked; /* bytes handed on, not yet credited */
} flow_window;

/* Credit goes out only while the receiver's own output (a client's, a local service's) holds at
 * most this: a slow reader gets none. */
#define FLOW_CREDIT_MARK ((size_t)64 << 10)

/* Spends n bytes the peer sent; false when they overran the window. */
bool flow_window_spend(flow_window *w, size_t n);
/* The window grows by n bytes, to be sent with a credit. Returns n (to add to that credit). */
size_t flow_window_grow(flow_window *w, size_t n);
/* The credit to send now, counted as sent: the bytes handed on since the last credit when there
 * are at least min (and some) and the receiver's backlog is at most FLOW_CREDIT_MARK; else 0. */
size_t flow_window_credit(flow_window *w, size_t backlog, size_t min);
/* The same credit counted as the receiver writes, for a receiver told of every write: of the
 * bytes since the last credit, those its backlog no longer holds beyond FLOW_CREDIT_MARK, when
 * they are at least min (and some); else 0. Steady credit for a slow steady reader, where the
 * rule above waited for the backlog to empty (a window's worth per credit). */
size_t flow_window_credit_written(flow_window *w, size_t backlog, size_t min);

#endif
