/* SPDX-License-Identifier: MIT */
/* ws_client.h - the agent's side of the WebSocket opening: TCP connect (getaddrinfo, each
 * address in turn), optional TLS (verification and host name through lib/tls), the HTTP/1.1
 * upgrade with the token and the offered subprotocols, and the check of the 101 answer. The
 * socket work is lib/conn's (conn_connect). On success the connection (with any bytes that
 * followed the 101 still in its input) is handed to the caller for ws_conn_new.
 * Owns: the resolved addresses, the connection until on_open hands it over, the parser. */
#ifndef TTF_WS_CLIENT_H
#define TTF_WS_CLIENT_H

#include <stdbool.h>
#include <openssl/ssl.h>

#include "config.h"

#include "conn.h"

typedef enum {
    WSC_ERR_CONNECT = 1, /* DNS, TCP */
    WSC_ERR_TLS,         /* handshake; msg says "certificate" when verification failed */
    WSC_ERR_AUTH,        /* 401 / 403 on the upgrade; msg carries the server's reason */
    WSC_ERR_HANDSHAKE,   /* other status, bad accept key, bad subprotocol */
    WSC_ERR_NOT_FOUND,   /* 404 on the upgrade: no tunnel endpoint at that path (with a hint) */
    WSC_ERR_SCHEME,      /* a ws:// endpoint answered with TLS: it wants wss:// */
    WSC_ERR_REJECTED,    /* another 4xx (not 408/429): the same answer would come again */
} ws_client_error;

typedef struct ws_client_cbs {
    /* The upgrade succeeded; c is the caller's now. binary: ttf.bin.v2 was selected. */
    void (*on_open)(void *ud, conn *c, bool binary);
    /* The attempt failed; msg is a short reason. */
    void (*on_fail)(void *ud, ws_client_error kind, const char *msg);
} ws_client_cbs;

typedef struct ws_client ws_client;

/* Starts an attempt (connect + TLS within cfg->connect_timeout). ssl_ctx is required for wss://
 * endpoints. Returns NULL when it could not even start (reason in err). Exactly one callback
 * follows, from the loop, unless ws_client_free comes first; the callback is the client's last
 * action, so ws_client_free may be called inside it. */
ws_client *ws_client_start(conn_loop *loop, const agent_config *cfg, SSL_CTX *ssl_ctx,
                           const ws_client_cbs *cbs, void *ud, char *err, size_t errcap);
void ws_client_free(ws_client *c);

/* The server's reason from a refusal body: the "message" of a JSON object (API Gateway's
 * {"message":"Unauthorized"}) or the text, control bytes replaced, trimmed, at most cap - 1
 * bytes. Exposed for tests. */
void ws_client_reason(const char *body, size_t len, char *out, size_t cap);

/* Builds the upgrade request (exposed for tests). Returns a malloc'd string. */
char *ws_client_request(const agent_config *cfg, const char *key);

#endif
