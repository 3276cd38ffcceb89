/* SPDX-License-Identifier: MIT */
/* agent_int.h - the agent's state (agent.c's connect / session / reconnect loop) shared with
 * agent_tunnels.c (what ttf --config shows and remembers per tunnel). Not an API: only these two
 * files include it. */
#ifndef TTF_AGENT_INT_H
#define TTF_AGENT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "backoff.h"
#include "config.h"
#include "hosthint.h"
#include "idstore.h"
#include "inspect.h"
#include "local.h"
#include "observer.h"
#include "proto_json.h"
#include "session.h"
#include "termview.h"
#include "token_end.h"
#include "tunnel_id.h"
#include "ws_client.h"

#define POOL_MAX_IDLE 64
#define STOP_GRACE_SEC 3

typedef struct agent {
    struct event_base *base;
    conn_loop *loop; /* every socket: the WebSocket and the local connections */
    const agent_config *cfg;
    const tlog *log;
    FILE *out;
    SSL_CTX *ssl_ctx;
    SSL_CTX *local_ssl_ctx; /* https:// local services (no verification); NULL when none */
    local_pool **pools;     /* one per tunnel of cfg */
    exchange_observer obs;  /* what the sessions call: the fan-out below */
    observer_fanout fan;
    inspector *insp; /* NULL with --no-inspect or when its port was taken */
    hosthint *hint;  /* the --host-header rewrite hint (NULL without memory) */
    termview *tv;    /* the status block on a TTY; NULL for plain log lines */
    backoff bo;
    token_end *tok; /* what the token says of its end (NULL: no token, or no exp) */
    ws_client *wsc;
    session *sess;
    struct event *retry_timer, *connect_timer, *stop_timer, *sigint, *sigterm;
    idstore *ids; /* remembered names; NULL with --forget or when unusable */
    /* ttf --config: per tunnel, the name held before ("" when none) and a pointer to it */
    char (*held)[TUNNEL_NAME_MAX + 1];
    const char **held_ptr;
    /* Moving to a new connection before the server closes this one (max_lifetime_s): */
    uint64_t max_lifetime_s;    /* announced by the server; 0 = no limit */
    struct event *rotate_timer; /* opens the next connection */
    struct event *drain_timer;  /* closes the old one once its exchanges are done */
    ws_client *next_wsc;
    session *next; /* the new connection, until it is established */
    session *old;  /* the connection left, finishing its exchanges */
    uint64_t drain_started_ms;
    int exit_code;
    bool stopping;
    bool established;      /* the current session got connection_established */
    bool ever_established; /* some session of this run did */
    bool refused;          /* the current session got tunnel_refused (retry_refusal says how) */
    bool retry_refusal;
    bool moving;       /* the current connection closed during the move: next replaces it */
    char takeover[65]; /* the current connection's secret ("" when none) */
    char tunnel_id[TUNNEL_NAME_MAX + 1]; /* the name to ask for again ("" when none) */
    char agent_key[IDSTORE_KEY_LEN + 1];
    char ids_endpoint[1400]; /* the record's key: endpoint without its query ... */
    char ids_local[300];     /* ... and the local service */
} agent;

/* agent.c */
/* A failure retrying cannot fix: say why and stop with AGENT_EXIT_FAIL. */
void agent_give_up(agent *a, const char *why);
/* Records name as the last id of (endpoint, local) in the id store (a warning when it cannot). */
void agent_remember(agent *a, const char *local, const char *name);

/* agent_tunnels.c */
/* What the server enforces for json (a tunnel's access object; name NULL for the command line's
 * tunnel), as the server reads it, in the log. */
void agent_log_access(agent *a, const char *json, const char *name);
/* "web@127.0.0.1:3000": a config tunnel's key in the id store (its name and local service). */
void agent_tunnel_key(const agent_tunnel *t, char *out, size_t cap);
/* ttf --config: connection_established for every tunnel; false when the agent gave up. */
bool agent_established_several(agent *a, const tmsg *m);
/* Whether the next connection's connection_established m gives it every tunnel the agent
 * serves, under the names held and the access policies asked for (a move, docs/protocol.md §1). */
bool agent_move_granted(const agent *a, const tmsg *m);
/* ttf --config: each tunnel's remembered id (a->held), and the agent key (the first's record). */
void agent_load_tunnel_ids(agent *a);

#endif
