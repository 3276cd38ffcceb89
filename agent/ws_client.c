/* SPDX-License-Identifier: MIT */
/* ws_client.c - connect, TLS and the WebSocket upgrade for ttf (see ws_client.h). */
#include "ws_client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "http1.h"
#include "proto_bin.h"
#include "tls.h"
#include "ws.h"

#define MAX_RESPONSE_HEAD ((size_t)16 * 1024)
#define MAX_REASON ((size_t)1024) /* refusal body bytes read for the reason */

struct ws_client {
    struct event_base *base;
    SSL_CTX *ssl_ctx;
    struct addrinfo *ai, *next; /* resolved endpoint; next address to try */
    bool connected;
    const agent_config *cfg;
    const ws_client_cbs *cbs;
    void *ud;
    struct bufferevent *bev;
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
    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
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
        snprintf(msg, sizeof msg, "authentication failed: the server answered %d%s%s", p->status,
                 sep, reason);
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
        read_refusal(c, bufferevent_get_input(c->bev), false);
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
    struct bufferevent *bev = c->bev;
    c->bev = NULL;
    bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
    bufferevent_set_timeouts(bev, NULL, NULL);
    c->cbs->on_open(c->ud, bev, binary);
}

static void read_cb(struct bufferevent *bev, void *ud)
{
    ws_client *c = ud;
    struct evbuffer *in = bufferevent_get_input(bev);
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

/* Describes a TLS failure; true when it was one (else the socket error explains it). The
 * OpenSSL error queue is read once, here. */
static bool tls_reason(ws_client *c, char *msg, size_t cap)
{
    if (!c->tls)
        return false;
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    unsigned long e = bufferevent_get_openssl_error(c->bev);
    if (vr != X509_V_OK) {
        snprintf(msg, cap, "TLS certificate verification failed for %s: %s", c->cfg->url.host,
                 X509_verify_cert_error_string(vr));
        return true;
    }
    /* lib 0 is libevent's own note of SSL_ERROR_SYSCALL: a socket-level failure. */
    if (e && ERR_GET_LIB(e) != ERR_LIB_SYS && ERR_GET_LIB(e) != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        snprintf(msg, cap, "TLS handshake with %s failed: %s", c->cfg->url.host, buf);
        return true;
    }
    return false;
}

static bool tcp_level(int e)
{
    return e == ECONNREFUSED || e == ENETUNREACH || e == EHOSTUNREACH || e == ETIMEDOUT ||
           e == EADDRNOTAVAIL;
}

static int connect_next(ws_client *c, char *err, size_t errcap);

static void event_cb(struct bufferevent *bev, short what, void *ud)
{
    (void)bev;
    ws_client *c = ud;
    char msg[384];
    if (what & BEV_EVENT_CONNECTED) {
        c->connected = true;
        /* Small control frames (WINDOW, RESPONSE) must not wait for Nagle. */
        int one = 1;
        setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char *req = ws_client_request(c->cfg, c->key);
        if (!req || bufferevent_write(c->bev, req, strlen(req)) != 0) {
            free(req);
            fail(c, WSC_ERR_CONNECT, "out of memory");
            return;
        }
        free(req);
        return;
    }
    if (c->refusal && (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) {
        read_refusal(c, bufferevent_get_input(c->bev), true); /* the body ends here */
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        int e0 = EVUTIL_SOCKET_ERROR();
        bool tls_fail = !tcp_level(e0) && tls_reason(c, msg, sizeof msg);
        if (!tls_fail && !c->connected && c->next) {
            /* Refused on this address: try the host's next one (localhost -> ::1, 127.0.0.1). */
            bufferevent_free(c->bev);
            c->bev = NULL;
            if (connect_next(c, msg, sizeof msg) != 0)
                fail(c, WSC_ERR_CONNECT, msg);
            return;
        }
        if (tls_fail) {
            fail(c, WSC_ERR_TLS, msg);
            return;
        }
        snprintf(msg, sizeof msg, "cannot connect to %s:%d: %s", c->cfg->url.host, c->cfg->url.port,
                 e0 ? strerror(e0) : "connection refused or reset");
        fail(c, WSC_ERR_CONNECT, msg);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        if (tls_reason(c, msg, sizeof msg)) {
            fail(c, WSC_ERR_TLS, msg);
            return;
        }
        /* libevent reports a refused TLS connect as an EOF without a reason. */
        fail(c, WSC_ERR_HANDSHAKE,
             c->tls && !c->connected ? "connection refused or closed during the TLS handshake"
                                     : "connection closed during the upgrade");
        return;
    }
    if (what & BEV_EVENT_TIMEOUT)
        fail(c, WSC_ERR_CONNECT, "timed out");
}

/* Creates the bufferevent for the next resolved address and starts connecting. */
static int connect_next(ws_client *c, char *err, size_t errcap)
{
    int e = 0;
    while (c->next) {
        struct addrinfo *a = c->next;
        c->next = a->ai_next;
        if (c->tls) {
            SSL *ssl = tls_client_ssl(c->ssl_ctx, c->cfg->url.host, c->cfg->insecure);
            if (!ssl) {
                snprintf(err, errcap, "cannot create a TLS session");
                return -1;
            }
            c->bev = bufferevent_openssl_socket_new(c->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                    BEV_OPT_CLOSE_ON_FREE);
            if (!c->bev) {
                SSL_free(ssl);
                snprintf(err, errcap, "out of memory");
                return -1;
            }
            bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
        } else {
            c->bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
            if (!c->bev) {
                snprintf(err, errcap, "out of memory");
                return -1;
            }
        }
        bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
        /* Failures such as a refused connection are reported through event_cb, from the loop. */
        if (bufferevent_socket_connect(c->bev, a->ai_addr, (int)a->ai_addrlen) == 0)
            return 0;
        e = EVUTIL_SOCKET_ERROR();
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    snprintf(err, errcap, "cannot connect to %s:%d: %s", c->cfg->url.host, c->cfg->url.port,
             e ? strerror(e) : "no usable address");
    return -1;
}

ws_client *ws_client_start(struct event_base *base, const agent_config *cfg, SSL_CTX *ssl_ctx,
                           const ws_client_cbs *cbs, void *ud, char *err, size_t errcap)
{
    ws_client *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    c->base = base;
    c->ssl_ctx = ssl_ctx;
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
    c->next = c->ai;
    if (connect_next(c, err, errcap) != 0)
        goto fail;
    return c;
fail:
    ws_client_free(c);
    return NULL;
}

void ws_client_free(ws_client *c)
{
    if (!c)
        return;
    if (c->bev)
        bufferevent_free(c->bev);
    if (c->ai)
        freeaddrinfo(c->ai);
    http1_free(&c->parser);
    free(c);
}
