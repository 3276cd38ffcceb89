/* SPDX-License-Identifier: MIT */
/* ws.h - a WebSocket connection (RFC 6455) over a lib/conn connection (plain or TLS), framed by
 * wslay. The handshake is the caller's (server: http1 + ws_accept_key; client:
 * agent/ws_client.c); once it is done the caller hands the connection over with ws_conn_new.
 * Output: frames go into the connection's output as messages are queued and leave the process at
 * the end of the loop pass (lib/conn's one pending-write list).
 * Owns: the wslay context and the conn from ws_conn_new until ws_conn_free. */
#ifndef TUNNEL_WS_H
#define TUNNEL_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "mem_budget.h"

typedef struct ws_conn ws_conn;

typedef struct ws_handlers {
    /* A whole message arrived (fragments reassembled). */
    void (*on_text)(void *ud, const uint8_t *data, size_t len);
    void (*on_binary)(void *ud, const uint8_t *data, size_t len);
    /* The queued output dropped below the low-water mark: producers may resume. */
    void (*on_drain)(void *ud);
    /* The connection is finished (close frame, EOF, error, an idle or deadline timer of the
     * conn, or ws_close completed). code is the peer's close code or 1006; reason a short text.
     * Called once; the handler usually frees the ws_conn (ws_conn_free is safe inside any
     * handler). Handlers run from the event loop only, never inside a ws_* call. */
    void (*on_close)(void *ud, uint16_t code, const char *reason);
} ws_handlers;

/* Takes ownership of c (its callbacks are replaced; its idle timer, if set, becomes a dead-link
 * detector reported through on_close). Bytes already in c's input are parsed as frames, from
 * the loop. is_server: unmasked frames out, masked frames required in. max_msg bounds one
 * reassembled message (bigger ones close the connection with 1009). NULL on ENOMEM (c stays the
 * caller's). */
ws_conn *ws_conn_new(conn *c, bool is_server, const ws_handlers *h, void *ud, size_t max_msg);
void ws_conn_free(ws_conn *c);

/* Connections' received messages share b (mem_budget.h; it must outlive c): the bytes of a
 * message being received (its fragments so far and the frame being read, which waits whole in
 * the input) beyond share bytes of c's own are counted in b, and in b's group named group (the
 * peer's address; NULL: none), never past b's limit nor the group's part of it: a peer whose
 * message would take more gets its connection closed (1009, "try again later"), so that many
 * peers each holding part of a message up to max_msg cannot make the process hold max_msg times
 * their number, and one address's links cannot take what others' need. */
void ws_set_budget(ws_conn *c, mem_budget *b, size_t share, const char *group);

/* Queue one message; a copy is taken. 0, or -1 when the connection is closing or ENOMEM. */
int ws_send_text(ws_conn *c, const void *data, size_t len);
int ws_send_binary(ws_conn *c, const void *data, size_t len);
/* Binary message made of a header and a payload, without the caller joining them. */
int ws_send_binary2(ws_conn *c, const void *hdr, size_t hlen, const void *data, size_t len);
int ws_send_ping(ws_conn *c);

/* Data messages longer than limit bytes go out as several frames (a first frame, continuation
 * frames, RFC 6455 §5.4), none with a payload longer than limit (the 2-14 header bytes are not
 * payload), as API Gateway asks of its clients (frames of
 * at most 32 KB, messages up to 128 KB: "Quotas for configuring and running a WebSocket API in
 * API Gateway"). 0 (the default) sends each message as one frame. */
void ws_set_frame_limit(ws_conn *c, size_t limit);

/* Bytes queued and not yet written to the socket. Producers pause above ws_high_water(). */
size_t ws_pending(const ws_conn *c);
size_t ws_high_water(void);

/* Stops (or resumes) reading from the socket: a receiver that cannot take more messages for a
 * while bounds what it buffers. Frames already read are still delivered.
 * A server also stops reading by itself while more than 4 MiB of its output waits for the peer
 * (a peer that sends pings or messages and never reads their answers), until the backlog falls
 * to the low-water mark (256 KiB). */
void ws_pause_read(ws_conn *c, bool paused);

/* Sends a close frame, flushes, then reports on_close. */
void ws_close(ws_conn *c, uint16_t code, const char *reason);

/* Handshake helpers. key: the client's Sec-WebSocket-Key; out: 28 chars + NUL. 0 or -1. */
int ws_accept_key(const char *key, char out[29]);
/* A fresh random Sec-WebSocket-Key: 24 chars + NUL. 0 or -1. */
int ws_client_key(char out[25]);

#endif
