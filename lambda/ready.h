/* SPDX-License-Identifier: MIT */
/* ready.h - the agent's ready on the serverless back-end (docs/protocol.md §1): every tunnel of
 * ready.tunnels[] (or the one of the top-level fields) gets its access policy (gate.h) and its
 * name (names.h), all or none, or the move of all of them from the agent's previous connection
 * (takeover); then connection_established lists them, or tunnel_refused says which tunnel could
 * not be had and why and the connection is closed.
 * Where the tunnels live: store.h (the connection record carries the first, an item each the
 * others). Owns nothing beyond one call. */
#ifndef LAMBDA_READY_H
#define LAMBDA_READY_H

#include "lambda_ctx.h"
#include "proto_json.h"

/* Handles ready message m from connection cid. */
void ready_handle(lambda_ctx *ctx, const char *cid, const tmsg *m);

/* A ready message from connection cid that did not decode (why: tmsg_decode's reason): a
 * connection whose ready was not handled yet (conn_rec.pending) gets tunnel_refused "ready_invalid"
 * and is closed, as from ttfd, instead of waiting for an answer that never comes; one that has its
 * tunnels keeps them (the message is dropped). */
void ready_invalid(lambda_ctx *ctx, const char *cid, const char *why);

/* The agent's public URLs for tunnel tid (buffers of 512). sub is "" when subdomain routing
 * is off. */
void ready_public_urls(const lambda_config *cfg, const char *tid, char *pub, char *sub, char *path);

#endif
