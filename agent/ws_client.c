/* SPDX-License-Identifier: MIT */
/* ws_client.c - connect, TLS and the WebSocket upgrade for ttf (see ws_client.h). */
#include "ws_client.h"

#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "http1.h"
#include "proto_bin.h"
#include "tls.h"
#include "ws.h"

#define MAX_RESPONSE_HEAD ((size_t)16 * 1024)
#define MAX_REASON ((size_t)1024) /* refusal body bytes read for the reason */

struct ws_client {
    struct addrinfo *ai; /* resolved endpoint: conn_connect tries each address */
    bool connected;
    const agent_config *cfg;
    const ws_client_cbs *cbs;
    void *ud;
    conn *c;
    http1_parser parser;
    char key[25];
    bool tls;
    /* A refused upgrade: its body is read (up to MAX_REASON) for the reason shown. */
    bool answered; /* some bytes of the answer arrived */
    bool refusal;
    size_t body_want; /* bytes of body still expected (SIZE_MAX: until the close) */
    char body[MAX_REASON];
    size_t body_len;
};

static const char *offered(const agent_config *cfg)
{
    switch (cfg->protocol) {
    case PROTO_BINARY:
        return TTF_SUBPROTO_BIN;
    case PROTO_JSON:
        return TTF_SUBPROTO_JSON;
    default:
        return TTF_SUBPROTO_BIN ", " TTF_SUBPROTO_JSON;
    }
}

char *ws_client_request(const agent_config *cfg, const char *key)
{
    const tunnel_url *u = &cfg->url;
    char host[300];
    bool v6 = strchr(u->host, ':') != NULL;
    bool dflt = (u->tls && u->port == 443) || (!u->tls && u->port == 80);
    if (dflt)
        snprintf(host, sizeof host, v6 ? "[%s]" : "%s", u->host);
    else
        snprintf(host, sizeof host, v6 ? "[%s]:%d" : "%s:%d", u->host, u->port);
    const char *tok = cfg->token;
    char *out = NULL;
    int n = asprintf(&out,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Protocol: %s\r\n"
                     "User-Agent: ttf/" TTF_VERSION "\r\n"
                     "%s%s%s"
                     "\r\n",
                     u->path[0] ? u->path : "/", host, key, offered(cfg),
                     tok ? "Authorization: Bearer " : "", tok ? tok : "", tok ? "\r\n" : "");
    return n < 0 ? NULL : out;
}

/* Ends the attempt with a failure; the callback is the last thing done. */
static void fail(ws_client *c, ws_client_error kind, const char *msg)
{
    conn_free(c->c);
    c->c = NULL;
    c->cbs->on_fail(c->ud, kind, msg);
}

static bool has_token(const char *list, const char *tok)
{
    size_t tl = strlen(tok);
    const char *p = list;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *end = e;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if ((size_t)(end - p) == tl && strncasecmp(p, tok, tl) == 0)
            return true;
        p = e;
    }
    return false;
}

void ws_client_reason(const char *body, size_t len, char *out, size_t cap)
{
    if (cap == 0)
        return;
    out[0] = '\0';
    json_error_t je;
    json_t *j = len ? json_loadb(body, len, 0, &je) : NULL;
    const char *msg = json_string_value(json_object_get(j, "message"));
    if (msg) {
        body = msg;
        len = strlen(msg);
    }
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < cap; i++) {
        unsigned char ch = (unsigned char)body[i];
        char w = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
        if (w == ' ' && (o == 0 || out[o - 1] == ' '))
            continue; /* no leading or doubled blanks */
        out[o++] = w;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    json_decref(j);
}

/* The upgrade was refused and its body (the reason) is in: report it. */
static void finish_refusal(ws_client *c)
{
    const http1_head *p = &c->parser.head;
    char reason[256], msg[768];
    ws_client_reason(c->body, c->body_len, reason, sizeof reason);
    const char *sep = reason[0] ? ": " : "";
    if (p->status == 401 || p->status == 403) {
        /* ttfd's reason starts with the same words: said once */
        const char *why = reason;
        if (strncmp(why, "authentication failed: ", 23) == 0)
            why += 23;
        snprintf(msg, sizeof msg, "authentication failed: the server answered %d%s%s", p->status,
                 sep, why);
        fail(c, WSC_ERR_AUTH, msg);
    } else if (p->status == 404) {
        const char *path = c->cfg->url.path;
        if (c->cfg->path_added)
            snprintf(msg, sizeof msg,
                     "no tunnel endpoint at %s on %s (HTTP 404%s%s); the endpoint had no path and "
                     "ttf tried ttfd's %s: give the server's agent URL with -e",
                     path, c->cfg->url.host, sep, reason, path);
        else
            snprintf(msg, sizeof msg,
                     "no tunnel endpoint at %s on %s (HTTP 404%s%s); ttfd's agents connect to "
                     "/_tunnel (ws://HOST:PORT/_tunnel), API Gateway's to the stage URL "
                     "(wss://ID.execute-api.REGION.amazonaws.com/STAGE)",
                     path, c->cfg->url.host, sep, reason);
        fail(c, WSC_ERR_NOT_FOUND, msg);
    } else {
        /* nginx on a TLS port: "400 The plain HTTP request was sent to HTTPS port" */
        bool tls_port = !c->tls && strcasestr(reason, "https");
        snprintf(msg, sizeof msg, "upgrade refused: HTTP %d %s%s%s%s", p->status,
                 http_reason(p->status), sep, reason,
                 tls_port ? " (that port speaks TLS: use a wss:// endpoint)" : "");
        /* Another 4xx comes back on every retry (408 and 429 excepted); 5xx may pass. */
        bool lasting = p->status >= 400 && p->status < 500 && p->status != 408 && p->status != 429;
        fail(c, lasting ? WSC_ERR_REJECTED : WSC_ERR_HANDSHAKE, msg);
    }
}

/* Collects refusal body bytes from the input; reports once all (or MAX_REASON) are in. */
static void read_refusal(ws_client *c, struct evbuffer *in, bool eof)
{
    size_t n = evbuffer_get_length(in);
    size_t room = sizeof c->body - c->body_len;
    size_t take = n < c->body_want ? n : c->body_want;
    if (take > room)
        take = room;
    evbuffer_remove(in, c->body + c->body_len, take);
    c->body_len += take;
    if (c->body_want != SIZE_MAX)
        c->body_want -= take;
    if (eof || c->body_want == 0 || c->body_len == sizeof c->body)
        finish_refusal(c);
}

static void check_response(ws_client *c)
{
    const http1_head *p = &c->parser.head;
    char msg[256];
    if (p->status != 101) {
        /* Read the body for the server's reason: its Content-Length, else until the close;
         * a chunked one is not decoded (the status alone is reported). */
        c->refusal = true;
        if (p->content_length >= 0)
            c->body_want = (size_t)p->content_length;
        else
            c->body_want = p->chunked ? 0 : SIZE_MAX;
        read_refusal(c, conn_in(c->c), false);
        return;
    }
    const char *up = http_headers_get(&p->headers, "Upgrade");
    const char *acc = http_headers_get(&p->headers, "Sec-WebSocket-Accept");
    char want[29];
    if (!up || strcasecmp(up, "websocket") != 0 || !acc || ws_accept_key(c->key, want) != 0 ||
        strcmp(acc, want) != 0) {
        fail(c, WSC_ERR_HANDSHAKE, "bad upgrade answer (Upgrade / Sec-WebSocket-Accept)");
        return;
    }
    const char *proto = http_headers_get(&p->headers, "Sec-WebSocket-Protocol");
    bool binary = false;
    if (proto) {
        if (!has_token(offered(c->cfg), proto)) {
            snprintf(msg, sizeof msg, "server selected a subprotocol we did not offer: %.100s",
                     proto);
            fail(c, WSC_ERR_HANDSHAKE, msg);
            return;
        }
        binary = strcasecmp(proto, TTF_SUBPROTO_BIN) == 0;
    }
    conn *oc = c->c;
    c->c = NULL;
    c->cbs->on_open(c->ud, oc, binary);
}

static void on_read(conn *cn, void *ud)
{
    ws_client *c = ud;
    struct evbuffer *in = conn_in(cn);
    if (c->refusal) {
        read_refusal(c, in, false);
        return;
    }
    if (!c->tls && !c->answered && evbuffer_get_length(in) > 0) {
        /* A TLS record (alert 0x15, handshake 0x16) in answer to plain HTTP. */
        unsigned char first;
        evbuffer_copyout(in, &first, 1);
        c->answered = true;
        if (first == 0x15 || first == 0x16) {
            fail(c, WSC_ERR_SCHEME,
                 "the server answered with TLS: use a wss:// (or https://) endpoint");
            return;
        }
    }
    for (;;) {
        size_t n = evbuffer_get_length(in);
        if (n == 0)
            return;
        /* Heads are small: look at what is there, at most the head limit. */
        size_t take = n < MAX_RESPONSE_HEAD ? n : MAX_RESPONSE_HEAD;
        const char *data = (const char *)evbuffer_pullup(in, (ev_ssize_t)take);
        size_t used = 0;
        http1_event ev = http1_execute(&c->parser, data, take, &used);
        if (ev == HTTP1_ERROR) {
            fail(c, WSC_ERR_HANDSHAKE, "unparsable answer to the upgrade");
            return;
        }
        evbuffer_drain(in, used);
        if (ev == HTTP1_HEAD || ev == HTTP1_MSG_END) {
            check_response(c);
            return;
        }
        if (used == 0)
            return;
    }
}

/* What the user can do about a verification failure (X509_V_ERR_*), "" when nothing obvious. */
static const char *verify_hint(long vr)
{
    switch (vr) {
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return " (a self-signed certificate or a private CA: give its CA certificate with "
               "--ca-file FILE, or --insecure to skip verification, unsafe)";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return " (the certificate does not carry the endpoint's host name: use a name it carries)";
    default:
        return "";
    }
}

/* What the user can do about a handshake failure (OpenSSL's error code), "" when nothing
 * obvious. */
static const char *handshake_hint(unsigned long e)
{
    return tls_error_plain_peer(e)
               ? " (the server does not speak TLS on this port: use a ws:// endpoint)"
               : "";
}

/* Describes a TLS failure; true when it was one (else the socket error explains it). */
static bool tls_reason(ws_client *c, char *msg, size_t cap)
{
    if (!c->tls)
        return false;
    SSL *ssl = conn_ssl(c->c);
    long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (vr != X509_V_OK) {
        snprintf(msg, cap, "TLS certificate verification failed for %s: %s%s", c->cfg->url.host,
                 X509_verify_cert_error_string(vr), verify_hint(vr));
        return true;
    }
    unsigned long e = conn_tls_error(c->c);
    if (e) {
        char buf[256];
        snprintf(msg, cap, "TLS handshake with %s failed: %s%s", c->cfg->url.host,
                 conn_strerror(c->c, buf, sizeof buf), handshake_hint(e));
        return true;
    }
    return false;
}

static void on_event(conn *cn, void *ud, int what)
{
    ws_client *c = ud;
    char msg[384];
    if (what & CONN_EV_CONNECTED) {
        c->connected = true;
        char *req = ws_client_request(c->cfg, c->key);
        if (!req || conn_write(cn, req, strlen(req)) != 0) {
            free(req);
            fail(c, WSC_ERR_CONNECT, "out of memory");
            return;
        }
        free(req);
        return;
    }
    if (c->refusal && (what & (CONN_EV_EOF | CONN_EV_ERROR))) {
        read_refusal(c, conn_in(cn), true); /* the body ends here */
        return;
    }
    if (what & CONN_EV_ERROR) {
        int e = conn_error(cn);
        if (tls_reason(c, msg, sizeof msg)) {
            fail(c, WSC_ERR_TLS, msg);
            return;
        }
        if (c->tls && !c->connected && e == 0) {
            fail(c, WSC_ERR_HANDSHAKE, "connection refused or closed during the TLS handshake");
            return;
        }
        if (e == ETIMEDOUT && !c->connected) {
            fail(c, WSC_ERR_CONNECT, "timed out");
            return;
        }
        snprintf(msg, sizeof msg, "cannot connect to %s:%d: %s", c->cfg->url.host, c->cfg->url.port,
                 e ? strerror(e) : "connection refused or reset");
        fail(c, c->connected ? WSC_ERR_HANDSHAKE : WSC_ERR_CONNECT, msg);
        return;
    }
    if (what & CONN_EV_EOF)
        fail(c, WSC_ERR_HANDSHAKE, "connection closed during the upgrade");
}

static const conn_cbs client_cbs = {on_read, NULL, on_event};

ws_client *ws_client_start(conn_loop *loop, const agent_config *cfg, SSL_CTX *ssl_ctx,
                           const ws_client_cbs *cbs, void *ud, char *err, size_t errcap)
{
    ws_client *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    c->cfg = cfg;
    c->cbs = cbs;
    c->ud = ud;
    c->tls = cfg->url.tls;
    http1_init(&c->parser, false, MAX_RESPONSE_HEAD);
    if (ws_client_key(c->key) != 0) {
        snprintf(err, errcap, "no randomness for the WebSocket key");
        goto fail;
    }
    if (c->tls && !ssl_ctx) {
        snprintf(err, errcap, "TLS endpoint without a TLS context");
        goto fail;
    }
    /* getaddrinfo blocks, but endpoints are usually literal addresses or in /etc/hosts, and
     * a synchronous answer keeps every failure on one path. */
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->url.port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    int rc = getaddrinfo(cfg->url.host, port, &hints, &c->ai);
    if (rc != 0) {
        snprintf(err, errcap, "cannot resolve %s: %s", cfg->url.host, gai_strerror(rc));
        goto fail;
    }
    SSL *ssl = NULL;
    if (c->tls) {
        ssl = tls_client_ssl(ssl_ctx, cfg->url.host, cfg->insecure);
        if (!ssl) {
            snprintf(err, errcap, "cannot create a TLS session");
            goto fail;
        }
    }
    int e = 0;
    unsigned timeout_ms = cfg->connect_timeout > 0 ? (unsigned)cfg->connect_timeout * 1000u : 0;
    c->c = conn_connect(loop, c->ai, ssl, timeout_ms, &client_cbs, c, &e);
    if (!c->c) {
        snprintf(err, errcap, "cannot connect to %s:%d: %s", cfg->url.host, cfg->url.port,
                 strerror(e));
        goto fail;
    }
    return c;
fail:
    ws_client_free(c);
    return NULL;
}

void ws_client_free(ws_client *c)
{
    if (!c)
        return;
    conn_free(c->c);
    if (c->ai)
        freeaddrinfo(c->ai);
    http1_free(&c->parser);
    free(c);
}
