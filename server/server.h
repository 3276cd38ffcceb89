/* SPDX-License-Identifier: MIT */
/* server.h - ttfd's internals shared by its modules: the server context (built in main), agent
 * sessions (agent.c) and public connections (pconn.c, relayed by relay_bin.c / relay_json.c).
 * Ownership: server owns the lists of agents and pconns; an agent's stream map only points at
 * pconns (a pconn unregisters itself when it ends); a pconn owns its bufferevent and parser. */
#ifndef TTFD_SERVER_H
#define TTFD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "auth.h"
#include "hmap.h"
#include "http1.h"
#include "log.h"
#include "proto_json.h"
#include "proxy.h"
#include "registry.h"
#include "tunnel_id.h"
#include "ws.h"

#define TTFD_VERSION TUNNEL_VERSION /* project(VERSION) in CMakeLists.txt */
#define TTFD_JSON_MAX_BODY ((uint64_t)10 << 20)
#define TTFD_AGENT_MAX_MSG ((size_t)12 << 20) /* one reassembled agent message */
#define TTFD_IDLE_SEC 60                      /* keep-alive idle limit between public requests */
#define TTFD_LINGER_SEC 5
#define TTFD_READY_SEC                                                                             \
    30 /* an agent must send ready within this */ /* a closing public connection that never drains \
                                                   */

typedef struct server_config {
    char listen[300];   /* "127.0.0.1:8080", "[::1]:0" */
    const char *domain; /* tunnel domain */
    int public_port;    /* port shown in URLs; 0: the bound port */
    const char *tls_cert, *tls_key;
    bool require_auth;
    const char *jwt_secret; /* or env TTFD_JWT_SECRET */
    const char *jwks;       /* JWKS file */
    int request_timeout;    /* seconds */
    size_t max_header;      /* bytes */
    uint64_t max_body;      /* 0: unlimited (binary), JSON mode caps at TTFD_JSON_MAX_BODY */
    const char *state_path; /* --state: the SQLite file of name owners (":memory:": none) */
    int64_t grace_s;        /* --reconnect-grace: a gone agent's name is held this long */
    int64_t retention_s;    /* --name-retention (days, in seconds): with auth; < 0 forever */
    bool verbose;
} server_config;

typedef struct server server;
typedef struct agent agent;
typedef struct pconn pconn;

struct server {
    struct event_base *base;
    const tlog *log;
    const server_config *cfg;
    SSL_CTX *tls;        /* NULL: plain */
    auth_verifier *auth; /* NULL unless --require-auth */
    struct evconnlistener *lis;
    registry *reg;
    state *st;          /* name owners (registry's store) */
    agent *agents;      /* all agent sessions (doubly linked) */
    pconn *pconns;      /* all public connections */
    char url_host[320]; /* "localhost:8080" (port omitted for 80/443), used in public URLs */
    const char *scheme; /* "http" / "https" */
    bool stopping;
    struct event *stop_timer;
    /* Output batching: plain public sockets are written directly once per loop pass (no
     * write-event churn), and log lines are gathered and written once per pass too. */
    struct event *flush_ev;
    pconn *dirty;            /* pconns with unwritten output */
    struct evbuffer *logbuf; /* log lines not yet on stderr */
};

struct agent {
    server *srv;
    agent *prev, *next;
    ws_conn *ws;
    bool bin;                            /* ttf.bin.v1, else JSON mode */
    bool ready;                          /* connection_established sent */
    char tunnel_id[TUNNEL_NAME_MAX + 1]; /* a random id or a chosen name */
    char sub[AUTH_SUB_MAX + 1];          /* token subject ("" without auth) */
    char takeover[65]; /* secret for the agent's next connection (docs/protocol.md §1) */
    char ip[64];
    hmap *streams; /* bin: uint32 stream id -> pconn; JSON: request_id -> pconn */
    uint32_t next_sid;
    struct event *ready_timer; /* an agent that never sends ready is dropped */
    int json_blockers;         /* JSON mode: clients too slow for their response; reading paused */
};

typedef enum {
    PC_HEAD,    /* reading the next request head */
    PC_BODY,    /* relaying the request body */
    PC_WAIT,    /* request relayed; waiting for the response to end */
    PC_UPWAIT,  /* upgrade request relayed; waiting for 101 */
    PC_PIPE,    /* upgraded: raw bytes both ways */
    PC_CLOSING, /* flushing, then freed */
    PC_GONE,    /* handed over (agent) or to be freed now */
} pc_state;

typedef enum { RM_NONE = 0, RM_LENGTH, RM_CHUNKED, RM_CLOSE } resp_mode;

struct pconn {
    server *srv;
    pconn *prev, *next;
    pconn *dirty_prev, *dirty_next;
    struct bufferevent *bev;
    struct event *rd; /* plain sockets: our read event (the bufferevent only writes); TLS: NULL */
    struct event *timer; /* request timeout, or linger while closing */
    http1_parser p;
    char ip[64];
    pc_state st;
    /* the current exchange */
    agent *ag;         /* NULL: none or the agent went away */
    int64_t win;       /* bin: DATA bytes we may still send */
    int64_t rwin;      /* bin: response DATA bytes the agent may still send us */
    size_t unacked;    /* bin: response bytes written, not yet credited back */
    uint64_t body_in;  /* decoded request body bytes */
    uint64_t body_cap; /* 0: unlimited */
    uint32_t sid;      /* bin stream id */
    char rid[40];      /* JSON request id (PROXY_REQUEST_ID_LEN) */
    /* JSON request body staging, JSON response */
    tmsg *jreq; /* http_request not sent yet */
    uint8_t *jbuf;
    size_t jlen, jcap;
    uint32_t jseq, jseq_in;
    resp_mode rm;
    /* log line */
    int status;
    char *log_method, *log_path;
    uint64_t bytes_out;
    uint64_t t0_ms;
    bool dirty;   /* in srv->dirty */
    bool json;    /* JSON-mode exchange */
    bool req_fin; /* request direction complete (FIN / last body piece sent) */
    bool resp_started, resp_fin, resp_close;
    bool keep_alive; /* the request allows another one after it */
    bool is_head;    /* HEAD request */
    bool upgrade;    /* request asked for an upgrade */
    bool is11;       /* HTTP/1.1 client */
    bool in_eof;     /* upgraded: the client ended its side */
    bool logged;
    bool jblocking; /* counted in ag->json_blockers */
    bool rd_idle;   /* plain: reading runs the keep-alive idle timeout */
};

/* ---- main.c / pconn.c ---- */
uint64_t now_ms(void);
void server_maybe_exit(server *srv);

/* ---- pconn.c ---- */
void pconn_accept(server *srv, evutil_socket_t fd, const struct sockaddr *sa);
/* Writes the output of every dirty pconn (called once per loop pass from srv->flush_ev). */
void pconn_flush_all(server *srv);
/* Runs the request state machine over buffered input; never frees pc. */
void pc_process(pconn *pc);
/* Frees pc when it is finished (GONE, or CLOSING and flushed). Call last; pc may be gone. */
void pc_settle(pconn *pc);
void pc_free(pconn *pc);
/* Answers with a short error (Connection: close) and closes after the flush. */
void pc_fail(pconn *pc, int status, const char *body);
/* (Re)starts the request timeout: it runs while the request still makes progress and no
 * response head came. */
void pc_arm_timeout(pconn *pc);
/* Closes without answering (a response already started) */
void pc_abort(pconn *pc);
void pc_write(pconn *pc, const void *data, size_t len);
/* Reading from the client on or off, whether it is on, and the keep-alive idle timeout on reads
 * (plain sockets use pc->rd, TLS ones the bufferevent). */
void pc_read(pconn *pc, bool on);
bool pc_reading(const pconn *pc);
void pc_idle(pconn *pc, bool on);
/* The response is complete: next request (keep-alive) or close. */
void pc_response_done(pconn *pc);
void pc_log(pconn *pc);
/* The agent went away: 502 or close. Called with pc->ag already cleared. */
void pc_agent_gone(pconn *pc);

/* ---- agent.c ---- */
/* The request on pc is an agent's upgrade: answer it and hand the connection to an agent
 * session (pc becomes PC_GONE) or fail it. */
void agent_handshake(pconn *pc);
int agent_attach(agent *ag, pconn *pc);  /* registers pc's exchange in ag->streams */
void agent_detach(agent *ag, pconn *pc); /* unregisters it */
void agent_close_all(server *srv);
void agent_free_all(server *srv);
int agent_send_frame(agent *ag, uint8_t type, uint8_t flags, uint32_t sid, const void *data,
                     size_t len);
int agent_send_msg(agent *ag, const tmsg *m);
/* Resumes every stream of ag that waited for the WebSocket to drain. */
void agent_resume_streams(agent *ag);

/* ---- relay_bin.c ---- */
int bin_start(pconn *pc, const char *head, size_t hlen, bool bodiless);
void bin_pump(pconn *pc); /* request body / piped bytes -> DATA within the window */
void bin_on_frame(agent *ag, const uint8_t *msg, size_t len);
void bin_credit(pconn *pc); /* WINDOW back for response bytes the client took */
void bin_cancel(pconn *pc, uint8_t code, const char *reason);

/* ---- relay_json.c ---- */
int json_start(pconn *pc, const char *method, const char *uri, http_headers *h, bool bodiless);
void json_pump(pconn *pc);
void json_on_message(agent *ag, tmsg *m);
void json_reset(pconn *pc); /* frees staged request state */
/* JSON mode has no per-stream flow control: a client whose output buffer grows past a mark
 * pauses reading from the agent until it drains (memory stays bounded). */
void json_check_backlog(pconn *pc);
void json_unblock(pconn *pc);

#endif
