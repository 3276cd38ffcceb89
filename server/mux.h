/* SPDX-License-Identifier: MIT */
/* mux.h - the one interface between a public connection (pconn) and a tunnel link, HAProxy mux
 * style: a public connection opens a stream on its tunnel's mux and drives it through the ops
 * table; the mux reports the response back through the upcalls the stream was opened with. Two
 * implementations: mux_bin.c (ttf.bin.v2: OPEN/DATA/RESPONSE/TRAILERS/WINDOW/RESET frames) and
 * mux_json.c (ttf.json.v1: http_request/http_*_body/http_response/cancel messages).
 *
 * Direction of calls: pconn -> ops -> mux -> link (the agent's WebSocket); the session hands the
 * agent's messages to the mux (mux_vt), which calls the stream's upcalls into pconn. A mux never
 * reads or writes pconn state; pconn never sees frames or messages.
 *
 * What travels: request heads after ttfd's request rules (parsed once by pconn, serialised once
 * by the mux), request and response bodies without transfer coding, response heads parsed once
 * by the mux (strict RFC 9112 rules for binary heads) and serialised once by pconn after its
 * framing (lib/resp_frame.h).
 *
 * Lifetime: a stream lives from ops->open until ops->close, or until the mux reports fail (the
 * stream is then already gone: the caller forgets it and must not call ops on it). Upcalls run
 * from the event loop (agent messages), never inside an op, except fail from open's caller
 * side: open returns NULL instead.
 *
 * Owns (mux): its streams and the map from wire ids to them; borrows the link. */
#ifndef TTFD_MUX_H
#define TTFD_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_answer.h"
#include "flow_window.h"
#include "http1_headers.h"
#include "log.h"
#include "mem_budget.h"
#include "proto_json.h"

typedef struct mux mux;
typedef struct mux_stream mux_stream;

/* ---- the link a mux sends on (the agent's WebSocket; a fake in unit tests) ---- */
typedef struct mux_link {
    void *ud;
    /* one binary message made of hdr then data; one text message. 0 or -1 (link closing) */
    int (*send_binary)(void *ud, const void *hdr, size_t hlen, const void *data, size_t len);
    int (*send_text)(void *ud, const void *data, size_t len);
    size_t (*pending)(void *ud);           /* bytes queued, not yet written */
    size_t high_water;                     /* producers pause while pending is above it */
    void (*pause_read)(void *ud, bool on); /* stop (or resume) reading agent messages */
} mux_link;

/* ---- a request, as pconn hands it to open ---- */
typedef struct mux_request {
    uint8_t tunnel;        /* tunnel index within the session (0: the first) */
    const char *tunnel_id; /* that tunnel's name (JSON http_request.tunnel_id when index > 0) */
    const char *method;    /* token, as received */
    const char *target;    /* origin-form target to forward (path mode: the prefix removed) */
    http_headers *headers; /* after the request rules; the mux may take the entries */
    bool body;             /* body bytes and end_body follow (FIN otherwise) */
    bool upgrade;          /* a 101 may turn the stream into a raw pipe */
} mux_request;

/* ---- what the mux reports to the stream's owner ---- */
typedef struct mux_upcalls {
    /* A response head: interim (1xx but 101; more heads follow) or final. reason may be NULL
     * (the standard phrase). h: fields after ttf's response rules; the callee may change them.
     * known_len >= 0: the whole body is known to be that long (it came with the head, or no
     * body follows: fin); -1 unknown. fin: no body follows (end follows at once). */
    void (*head)(void *ud, int status, const char *reason, http_headers *h, int64_t known_len,
                 bool fin);
    /* Body bytes of the final response (decoded), or raw bytes after a 101. */
    void (*body)(void *ud, const uint8_t *data, size_t len);
    /* The response ended; trailers NULL or the trailer fields. The stream stays open until
     * ops->close (the request direction may still be going). */
    void (*end)(void *ud, const http_headers *trailers);
    /* The stream failed and is gone (the agent reset it, left, or broke the protocol): before a
     * final head, status and why are for the client (502, 504, 400...); after it the client
     * connection can only be closed. protocol: the agent broke the protocol (already logged). */
    void (*fail)(void *ud, int status, const char *why, bool protocol);
    /* The stream can take request body bytes again (window credit, the link drained). */
    void (*resume)(void *ud);
    /* The receive window the client advertises (bytes; SIZE_MAX unknown): whether it reads
     * what it is sent, before a stream's window grows past its first size (binary
     * BULK_EXTRA). NULL: it does. */
    size_t (*peer_window)(void *ud);
} mux_upcalls;

/* Why a stream is closed by its owner. */
typedef enum {
    MUX_DONE = 0,    /* both directions ended normally */
    MUX_CANCEL,      /* the client left, or the request was abandoned: drop the exchange */
    MUX_TIMEOUT,     /* no response in time */
    MUX_BAD_REQUEST, /* the request body broke the HTTP rules */
    MUX_PROTOCOL,    /* the agent broke the protocol (an overrun): logged by the mux as such */
} mux_end;

typedef struct mux_ops {
    /* A new stream for rq; the request head goes out. NULL when the link refused it (closing,
     * no memory, or a head that cannot be sent in this mode: *status and *why then say what to
     * answer). */
    mux_stream *(*open)(mux *m, const mux_request *rq, const mux_upcalls *up, void *ud, int *status,
                        const char **why);
    /* Request body bytes (decoded), or raw bytes after a 101; at most room() of them. 0 or -1
     * (the link is gone: a fail upcall follows from the loop). */
    int (*send_body)(mux_stream *s, const void *data, size_t len);
    /* The request body (or the client's side of a pipe) ended; trailers NULL or its trailer
     * fields (binary mode forwards them; JSON mode drops them). 0 or -1. */
    int (*end_body)(mux_stream *s, const http_headers *trailers);
    /* Everything given in this loop pass may go out now (JSON mode batches per pass). */
    void (*flush)(mux_stream *s);
    /* Body bytes send_body takes now (window and link room); 0: wait for resume. */
    size_t (*room)(const mux_stream *s);
    /* The client's output holds backlog bytes not yet written: credit the agent for what left
     * (binary WINDOW) or pause the link while a client is too slow (JSON mode). */
    void (*credit)(mux_stream *s, size_t backlog);
    /* Ends and frees the stream (why: a short text for the agent). Unless both directions ended
     * (MUX_DONE after end_body and the end upcall), the agent is told to drop the exchange
     * (RESET / cancel). No upcall follows. */
    void (*close)(mux_stream *s, mux_end how, const char *why);
} mux_ops;

/* ---- what the session calls (agent messages in, the end of the link) ---- */
typedef struct mux_vt {
    void (*on_binary)(mux *m, const uint8_t *data, size_t len);
    /* A decoded JSON message of an exchange (responses, errors, cancels); m stays the
     * caller's. */
    void (*on_message)(mux *m, tmsg *msg);
    /* A JSON message for exchange request_id that broke the protocol (why: the decoder's
     * reason): the exchange fails at once (502 before a response) and the agent is told (NULL
     * in binary mode, whose frames carry no such messages). */
    void (*on_bad_message)(mux *m, const char *request_id, const char *why);
    void (*on_drain)(mux *m); /* the link's output drained: streams may send again */
    size_t (*streams)(const mux *m);
    /* The link is gone: every stream fails (502 before a response) and the mux is freed. */
    void (*free)(mux *m, const char *why);
} mux_vt;

/* The streams open over all of ttfd's muxes (--max-streams): one per server (main's), shared by
 * every mux (mux_set_budget). A stream counts from open until it is gone, as for the per-agent
 * limit; pconn refuses a new one while the budget is full (mux_admit_stream). */
typedef struct mux_budget {
    size_t open;     /* streams open now, over every mux that counts in it */
    size_t max;      /* 0: no limit */
    tlog_every warn; /* the warning at the limit: one per MUX_WARN_WINDOW_MS, refusals since */
} mux_budget;

/* Names the tunnel in the mux's log lines. */
typedef struct mux_ident {
    const tlog *log;
    char agent[64];  /* the agent's address */
    char tunnel[64]; /* the tunnel's name ("" before ready) */
    /* warnings about this agent's input: at most MUX_WARN_BURST per MUX_WARN_WINDOW_MS */
    uint64_t warn_window_ms;
    unsigned warn_count, warn_dropped;
} mux_ident;

#define MUX_WARN_BURST 20u
#define MUX_WARN_WINDOW_MS 10000u

/* Whether one more warning about this agent's input may be logged now (an agent must not fill
 * the log: bad frames, protocol errors). A new window first logs how many were dropped. */
bool mux_warn_allowed(mux_ident *id);
#define MUX_WARN(id, ...)                                                                          \
    do {                                                                                           \
        if (mux_warn_allowed(id))                                                                  \
            TLOG_W((id)->log, __VA_ARGS__);                                                        \
    } while (0)

struct mux {
    const mux_ops *ops;
    const mux_vt *vt;
    mux_ident id;
    size_t max_streams; /* streams open at once (mux_set_max_streams); 0: no limit */
    mux_budget *budget; /* the server-wide count its streams are in (NULL: none); borrowed */
    mem_budget *held;   /* agents' answers held (mux_set_held_budget); borrowed */
    size_t head_share;  /* what a stream's head being assembled holds before it counts in held */
    /* request body bytes a stream takes before it opens: at most its first request window (the
     * agent's, mux_*_set_request_window); 0: PC_FIRST_BATCH */
    size_t first_room;
};

/* The part of every stream the muxes share (each mux's stream type begins with it). */
struct mux_stream {
    mux *m;
    const mux_upcalls *up;
    void *ud;
};

mux *mux_bin_new(const mux_link *link, const mux_ident *id);
mux *mux_json_new(const mux_link *link, const mux_ident *id);
/* JSON mode: the per-request response window (bytes of decoded body) announced to the agent in
 * connection_established; streams opened from now on are held to it and credited with `window`
 * messages (docs/protocol.md §2 "Flow control"). A stream whose client reads (mux_client_reads)
 * grows to `grown` at its first credit (0: no growth). window 0 (the default): no window, a slow
 * client pauses the link instead. */
void mux_json_set_window(mux *m, uint32_t window, uint32_t grown);
/* JSON mode: the per-request request-body window (decoded body bytes) announced to an agent that
 * honours it (ready.request_windows): streams opened from now on send no more request body than
 * the agent credited with its `window` messages, and a stream out of credit stops reading its
 * client only (docs/protocol.md §2 "Flow control"). 0 (the default): no window. */
void mux_json_set_request_window(mux *m, uint32_t window);
/* JSON mode: the agent's interim responses (http_response 1xx) and trailer sections (the last
 * body piece's trailers) are relayed, and request trailers sent to it (docs/protocol.md §2
 * "Interim responses and trailers"); off (the default): a 1xx is a protocol error and request
 * trailers are dropped. */
void mux_json_set_relays(mux *m, bool interim, bool trailers);
/* JSON mode: a header or trailer name of one value goes to the agent as a plain string (both
 * said header_strings, docs/protocol.md §2 "Header values"); off (the default): as an array. */
void mux_json_set_header_strings(mux *m, bool on);
/* Binary mode: the request DATA window (octets) streams opened from now on start with, smaller
 * than TTF_BIN_INITIAL_WINDOW when the agent asked so in ready (ready.request_window, as HTTP/2's
 * SETTINGS_INITIAL_WINDOW_SIZE, RFC 9113 §6.9.2); its WINDOW frames credit more. */
void mux_bin_set_request_window(mux *m, uint32_t window);
/* The tunnel name in the mux's log lines (ready, takeover). */
void mux_set_tunnel(mux *m, const char *tunnel);
/* At most n streams open at once on this mux, i.e. for this agent over all its tunnels (ttfd
 * --max-streams-per-agent; 0: no limit): mux_admit_stream refuses one more. */
void mux_set_max_streams(mux *m, size_t n);
/* m's streams count in b from now on (b outlives m; set before the first open). */
void mux_set_budget(mux *m, mux_budget *b);
/* The answers m's agent makes ttfd hold count in b from now on (ttfd's TTFD_AGENT_HELD_BUDGET; b
 * outlives m), in b's group named m's id.agent (the agent's address, mem_budget.h): here (the
 * JSON mux) a head being assembled from http_response_headers continuations, beyond share bytes
 * per stream; pconn counts what is written toward a client not yet taken, per public connection.
 * A stream whose head would pass the budget or the group's part of it fails: 502 MUX_HELD_OVER. */
void mux_set_held_budget(mux *m, mem_budget *b, size_t share);
#define MUX_HELD_OVER "the tunnel agent's answers held are over the server's memory for them"
/* For the muxes: a stream of m was opened (added to its map) / is gone (removed from it). */
void mux_stream_added(mux *m);
void mux_stream_gone(mux *m);
/* Whether one more stream may open on m (the caller asks before ops->open; open itself does not
 * count): MUX_ADMIT_SERVER_FULL when m's budget is at its limit (ttfd --max-streams; a warning
 * naming the flag at most once per MUX_WARN_WINDOW_MS, with how many were refused since the
 * last), else MUX_ADMIT_AGENT_FULL when m is at its own (--max-streams-per-agent; a warning, at
 * most MUX_WARN_BURST per MUX_WARN_WINDOW_MS). Either is answered EDGE_AGENT_BUSY (503). */
typedef enum mux_admit {
    MUX_ADMIT_OK,
    MUX_ADMIT_AGENT_FULL,
    MUX_ADMIT_SERVER_FULL,
} mux_admit;
mux_admit mux_admit_stream(mux *m);
/* Whether a stream's client reads what it is sent (its receive window is open: the upcall
 * peer_window): a stream's window grows past its first size only then. A client that does not
 * read has shut it by the time a credit can go (its kernel and ours took what they hold), so ttfd
 * holds only the first window for it (bench/stall_cost.py); a client slowed by its network keeps
 * it open. */
bool mux_client_reads(const mux_stream *s);

#endif
