/* SPDX-License-Identifier: MIT */
/* store.h - what the Lambda keeps in its two DynamoDB tables (docs/serverless.md "Tables"):
 * connection records, tunnel owner records (for reclaiming an id), pending requests and their
 * response body pieces. Every item carries a TTL. Conditions enforce that only the connection a
 * request was sent to may answer it, and only once.
 * Owns nothing: borrows the ddb client and table names. */
#ifndef LAMBDA_STORE_H
#define LAMBDA_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynamo.h"
#include "tunnel_id.h"

#define STORE_CONN_TTL_S ((int64_t)2 * 3600) /* API Gateway closes connections after 2 h */
#define STORE_PENDING_TTL_S 120              /* well past the 29 s integration limit */
#define STORE_MAX_TUNNEL_CONNS 4
/* Most continuation messages (http_response_headers) a response head may take: 64 of up to
 * 128 KB, beyond ttfd's 1 MiB head limit and ttf's --max-response-header-size default. */
#define STORE_MAX_HEAD_PARTS 64u
/* Room for an API Gateway connectionId and its NUL: AWS's are 16 characters; longer ones (the
 * local stand-in's) fit, anything beyond this is refused rather than cut. */
#define STORE_CONN_ID_SIZE 160

typedef struct store {
    ddb *db;
    const char *conn_table;
    const char *pend_table;
} store;

typedef struct conn_rec {
    char tunnel_id[TUNNEL_NAME_MAX + 1];
    char sub[256]; /* token subject at $connect, "" without auth */
    bool pending;  /* no ready handled yet (access STORE_ACCESS_PENDING) */
} conn_rec;

/* The owner record of a tunnel name (random id or chosen name): who owns it and until when. */
typedef struct owner_rec {
    char owner[TUNNEL_OWNER_MAX + 1]; /* tunnel_owner(): "sub:<subject>", "key:<hex>", "" */
    char holder[STORE_CONN_ID_SIZE];  /* connection id that holds (or last held) the name */
    bool chosen;                      /* asked for with --subdomain */
    int64_t ttl;                      /* Unix seconds after which the record is void; 0: never */
    char takeover[65]; /* the holder's secret for moving to its next connection, "" if none */
} owner_rec;

/* Pending statuses. */
#define PEND_PENDING "pending"
#define PEND_RESPONDED "responded"
#define PEND_ERROR "error"

/* The key of body piece seq of request rid sent over connection cid: "<rid>#<cid>#<seq>". The
 * waiter builds keys from the request's own connectionId, so a piece written by any other
 * connection is never read. */
int store_piece_key(char *out, size_t cap, const char *rid, const char *cid, uint32_t seq);
/* The key of the response head's continuation seq (http_response_headers) of request rid from
 * connection cid: "<rid>#<cid>#h<seq>". */
int store_head_key(char *out, size_t cap, const char *rid, const char *cid, uint32_t seq);
/* The key of the owner record of a tunnel id: "owner#<tid>". */
int store_owner_key(char *out, size_t cap, const char *tid);

/* The `access` attribute of a connection record until its ready is handled: requests to its
 * tunnel are answered 503 meanwhile (no policy is assumed before the agent's is recorded). */
#define STORE_ACCESS_PENDING "pending"

/* Return conventions: 0 ok; 1 not found (get) ; DDB_CONDITION; -1 error (reason in err). */
int store_put_connection(store *s, const char *cid, const char *tid, const char *sub, int64_t now,
                         char *err, size_t cap);
/* Records the tunnel's access policy (lib/access.h stored form, "{}" for none) on the
 * connection record, before ready makes a name point at the connection. */
int store_set_connection_access(store *s, const char *cid, const char *access, char *err,
                                size_t cap);
/* Counts one request of window `key` (a pending-table item "rate#...", expiring at ttl):
 * DynamoDB's atomic ADD; *count receives the window's count including this one. */
int store_count_request(store *s, const char *key, int64_t ttl, int64_t *count, char *err,
                        size_t cap);
int store_get_connection(store *s, const char *cid, conn_rec *out, char *err, size_t cap);
int store_set_connection_tunnel(store *s, const char *cid, const char *tid, char *err, size_t cap);
/* Deletes the connection record and the items of its other tunnels (store_tunnels.c). */
int store_delete_connection(store *s, const char *cid, char *err, size_t cap);
/* Connection ids serving tunnel tid (GSI tunnel-id-index: connection records, and the items of
 * connections' other tunnels, which name their connection in `conn`). access (may be NULL)
 * receives, per connection, the tunnel's access attribute (malloc'd; NULL when the record has
 * none): the caller frees them. */
int store_find_tunnel(store *s, const char *tid, char cids[][STORE_CONN_ID_SIZE], size_t max,
                      size_t *n, char **access, char *err, size_t cap);

/* Writes the owner record of tid: holder cid, owner (tunnel_owner()), ttl (0: none), and keep,
 * the seconds the record lasts once cid lets it go (< 0: forever, see store_release_owner).
 * expect_holder NULL: only when no record exists; otherwise only when the record's holder is
 * expect_holder (DDB_CONDITION when someone was faster). */
int store_claim_owner(store *s, const char *tid, const char *cid, const char *owner, bool chosen,
                      int64_t ttl, int64_t keep, const char *expect_holder, char *err, size_t cap);
/* cid let tid go at now: the record's ttl becomes now + its keep. DDB_CONDITION when cid is not
 * the holder (or the record is kept forever). */
int store_release_owner(store *s, const char *tid, const char *cid, int64_t now, char *err,
                        size_t cap);
/* Records without an owner attribute (written before it existed) read "sub:<sub>" or "". */
int store_get_owner(store *s, const char *tid, owner_rec *out, char *err, size_t cap);
int store_delete_owner(store *s, const char *tid, char *err, size_t cap);
/* Records the takeover secret of tid's holder cid (docs/protocol.md §1). DDB_CONDITION when cid
 * does not hold tid. */
int store_set_takeover(store *s, const char *tid, const char *cid, const char *secret, char *err,
                       size_t cap);
/* Moves tid from holder old_cid to new_cid, conditional on the holder and its secret (which is
 * used up). ttl > 0: the record's new ttl, that of a held name (names_held_ttl: the old holder's
 * was set when it claimed, or to now + keep when it disconnected); 0 keeps the record's.
 * DDB_CONDITION when either does not match. */
int store_move_owner(store *s, const char *tid, const char *old_cid, const char *new_cid,
                     const char *secret, int64_t ttl, char *err, size_t cap);
/* The mark a connection's tunnelId gets when its tunnel moved to the agent's next connection:
 * "~<tid>" (out of the GSI for tid; the connection stays live for its requests in flight). */
#define STORE_MOVED_MARK '~'

/* ---- a connection's tunnels after its first (store_tunnels.c) ----
 * The connection record carries the first tunnel (tunnelId, access) and, in `tunnels`, the names
 * of the others, space-separated; each other tunnel has an item "tunnel#<cid>#<name>" with
 * tunnelId (in the GSI), conn (= cid), sub, access and ttl, deleted with the record. */
#define STORE_TUNNEL_KEY_MAX (STORE_CONN_ID_SIZE + TUNNEL_NAME_MAX + 16)
int store_tunnel_key(char *out, size_t cap, const char *cid, const char *tid);
/* Writes the item of tunnel tid of connection cid (access: gate.h stored form, NULL: "{}"). */
int store_put_tunnel(store *s, const char *cid, const char *tid, const char *sub,
                     const char *access, int64_t now, char *err, size_t cap);
/* Records the names of cid's other tunnels (space-separated) on its record: DDB_CONDITION when
 * the record is gone. */
int store_set_connection_tunnels(store *s, const char *cid, const char *names, char *err,
                                 size_t cap);
/* The names recorded by store_set_connection_tunnels (malloc'd, "" when none) and, in *rec (may
 * be NULL), what store_get_connection reads (tunnel_id "" when the record has none): the record
 * read once. 1 when the record does not exist. */
int store_get_connection_tunnels(store *s, const char *cid, conn_rec *rec, char **names, char *err,
                                 size_t cap);
/* Deletes the tunnel items of cid named in names (space-separated; batched). */
int store_delete_tunnels(store *s, const char *cid, const char *names, char *err, size_t cap);
/* Whether connection cid's record exists and serves tid (as its first tunnel or one of its
 * items): 1, 0, or -1 on error. */
int store_connection_serves(store *s, const char *cid, const char *tid, char *err, size_t cap);
/* Tunnel tid moved away from connection cid: its record or item gets tunnelId "~tid" (out of
 * the GSI for tid). DDB_CONDITION when cid does not serve tid. */
int store_mark_moved(store *s, const char *cid, const char *tid, char *err, size_t cap);

int store_put_pending(store *s, const char *rid, const char *cid, const char *tid, int64_t now,
                      char *err, size_t cap);
/* Strongly consistent read of the pending item; *item receives it (caller decref). */
int store_get_pending(store *s, const char *rid, json_t **item, char *err, size_t cap);
/* The response head (http_response): conditional on the request existing, being sent to cid
 * and still pending. headers_json is the header object as JSON text (httpresp.h); head_more:
 * more fields follow in continuation messages (store_put_head_part). */
int store_complete_head(store *s, const char *rid, const char *cid, int status,
                        const char *headers_json, const uint8_t *body, size_t len, bool more,
                        bool head_more, char *err, size_t cap);
/* After store_complete_head refused a head: 1 when rid was answered by cid with this very head
 * (the agent sent it again, its ack lost: harmless), 0 when cid answered it with another one (a
 * second response), -1 otherwise (unknown, foreign, failed, or the read failed). */
int store_head_repeats(store *s, const char *rid, const char *cid, int status,
                       const char *headers_json, const uint8_t *body, size_t len, bool more,
                       bool head_more, char *err, size_t cap);
/* An agent error: conditional on the request existing, being cid's, and not yet failed. */
int store_complete_error(store *s, const char *rid, const char *cid, int status, const char *msg,
                         char *err, size_t cap);
/* A response body piece: accepted only when the request exists, was sent to cid and has not
 * failed (consistent read, skipped when the caller verified that moments ago); then written once
 * under a key that names the posting connection; the last piece (!more) then records lastSeq,
 * conditional on the same and on no other piece having been the last. STORE_OVERRUN when the
 * piece lies past the end of the response: the head said no pieces follow, or the last piece
 * is known and this one comes after it (or claims to be another last one). */
int store_put_piece(store *s, const char *rid, const char *cid, uint32_t seq, const uint8_t *body,
                    size_t len, bool more, bool verified, int64_t now, char *err, size_t cap);
#define STORE_OVERRUN (-3)
/* The agent on cid cancelled rid (its local service failed during the response): marks the
 * request `cancelled` (conditional on cid and on the request not having failed). The waiter
 * decides: what is in the table still wins if it completes the response within a moment ($default
 * invocations run in any order: the cancel may be taken before the answer sent ahead of it). */
int store_cancel_response(store *s, const char *rid, const char *cid, char *err, size_t cap);
/* The agent on cid sent something past the end of rid's response (issue 12 item 1): the request
 * fails with 502 and msg, marked `overrun` so that the waiter logs it naming the tunnel.
 * answered_only: only when the head was already recorded (a second response). Conditional on
 * cid being the request's connection and the request not having failed already. */
int store_mark_overrun(store *s, const char *rid, const char *cid, const char *msg,
                       bool answered_only, char *err, size_t cap);
/* Continuation seq of the response head (http_response_headers), with the ownership rules of
 * store_put_piece; the last one (!headers_more) records headSeq on the request. STORE_OVERRUN
 * when the head was complete already. */
int store_put_head_part(store *s, const char *rid, const char *cid, uint32_t seq,
                        const char *headers_json, bool last, bool verified, int64_t now, char *err,
                        size_t cap);
/* The continuations 1..n of rid's head from cid as a new JSON array of header-object texts in
 * order: 0 with *parts, 1 while one is missing, -1 on error. */
int store_fetch_head_parts(store *s, const char *rid, const char *cid, uint32_t n, json_t **parts,
                           char *err, size_t cap);

/* Response pieces 1..n being collected by the waiter; kept across polls. */
typedef struct piece_set {
    uint32_t n;
    uint8_t **data; /* data[i] = piece i+1 (malloc'd), NULL while missing */
    size_t *len;
    uint32_t have;
    size_t bytes;
} piece_set;

int piece_set_init(piece_set *ps, uint32_t n);
/* Pieces 1..n from now on (pieces read so far kept). 0, or -1 when out of memory. */
int piece_set_resize(piece_set *ps, uint32_t n);
void piece_set_free(piece_set *ps);
/* One look of the waiter at an answer, in one consistent BatchGetItem (what DynamoDB leaves
 * out, past its response size limit, asked again): the request item (item), the `want` lowest
 * missing pieces of ps (0: up to 98) and piece probe (0: none; the one after the last, which
 * must not exist). */
typedef struct answer_poll {
    bool item;         /* in: read the request item too */
    uint32_t want;     /* in */
    uint32_t probe;    /* in */
    json_t *got_item;  /* out: the request item (the caller's reference), NULL when absent */
    bool probe_found;  /* out: piece probe exists */
    uint32_t asked;    /* out: pieces asked for (ps->have tells how many are there now) */
    uint32_t asked_to; /* out: the highest piece asked for (every missing one below it was) */
} answer_poll;
/* 0, or -1 (then *p holds nothing). */
int store_poll_answer(store *s, const char *rid, const char *cid, piece_set *ps, answer_poll *p,
                      char *err, size_t cap);
/* Deletes the pending item, pieces 1..n and head continuations 1..nheads of cid (batched).
 * cid NULL: the item only. */
int store_delete_pending(store *s, const char *rid, const char *cid, uint32_t n, uint32_t nheads,
                         char *err, size_t cap);

/* ---- admission leases (store_admission.c, admission.h) ----
 * Items of the pending table: `leases` (M), Lambda request id -> expiry (N, Unix ms), and ttl.
 * "admission#http": its size is the number of public requests waiting at once; one
 * "admission#conn#<connection id>" per agent connection: those waiting for that agent. */
#define STORE_ADMISSION_KEY "admission#http"
#define STORE_ADMISSION_CONN_PREFIX "admission#conn#"
#define STORE_ADMISSION_KEY_SIZE (sizeof STORE_ADMISSION_CONN_PREFIX + STORE_CONN_ID_SIZE)
#define STORE_LEASE_DROP_MAX 100 /* leases one store_lease_drop removes */
/* Adds lease id (until expiry_ms) to item key's map when it holds fewer than max: 0;
 * DDB_CONDITION when it is full or does not exist yet (store_lease_init); -1. */
int store_lease_take(store *s, const char *key, const char *id, int64_t expiry_ms, int64_t max,
                     int64_t now, char *err, size_t cap);
/* Creates item key's empty map unless it exists: 0 or -1. */
int store_lease_init(store *s, const char *key, int64_t now, char *err, size_t cap);
/* Consistent read of item key's map: 0 with *leases ({"id":{"N":"expiry"}}, caller decref), 1
 * when there is none. */
int store_lease_read(store *s, const char *key, json_t **leases, char *err, size_t cap);
/* Removes leases ids[0..n) (at most STORE_LEASE_DROP_MAX) from item key's map: 0 (also when they
 * or the map are gone already) or -1. */
int store_lease_drop(store *s, const char *key, const char *const *ids, size_t n, char *err,
                     size_t cap);

/* Scheduled cleanup of one table: deletes items whose ttl is in the past, every page.
 * key_name is the table's hash key. *deleted receives the count. */
int store_cleanup(store *s, const char *table, const char *key_name, int64_t now, long *deleted,
                  char *err, size_t cap);

#endif
