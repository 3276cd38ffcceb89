/* SPDX-License-Identifier: MIT */
/* conn_tls.c - OpenSSL on a connection's socket (see conn.h "TLS", conn_int.h): the read BIO,
 * the write gathering, reads, writes, close_notify, the handshake and its report (the only
 * callback here, through conn.c's conn_emit_event); conn_is_tls, conn_ssl, conn_handshaking and
 * conn_tls_plain_http (a client that spoke plain HTTP: the first bytes the read BIO kept). */
#include "conn_int.h"
#include "http1_syntax.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/err.h>

void conn_tls_setup(SSL *ssl)
{
    /* No SSL_MODE_RELEASE_BUFFERS: it frees the record buffers each time one empties, once per
     * record when the read BIO hands one at a time; release_buffers frees them once per pass. */
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_set_read_ahead(ssl, 1);
}

/* ---- the read BIO ----
 * OpenSSL reads the socket through this BIO: one read(2) of up to TLS_READ_BUF bytes of
 * ciphertext into a buffer of its own, handed to OpenSSL at most one record per BIO_read. With
 * read-ahead on, OpenSSL asks for as much as its record buffer holds; given several records, it
 * moves the bytes behind each record to the front of its buffer before the next one (OpenSSL 3.0
 * ssl3_read_n), a copying that grows with the square of the bytes buffered. Given one record, it
 * has nothing to move, and the socket is read in large pieces all the same. The buffer exists
 * while it holds bytes (an idle connection keeps none). Cutting the stream at record boundaries
 * is only an optimisation: a misread header would cost copies, never bytes. */

#define TLS_HEADER 5 /* TLSPlaintext header: type, version, length (RFC 8446 §5.1) */
/* The connection's first bytes kept: a method and its space (conn_tls_plain_http). */
#define RBIO_FIRST ((size_t)16)

typedef struct rbio {
    int fd;
    uint8_t *buf;    /* TLS_READ_BUF bytes while it holds ciphertext, else NULL */
    size_t off, len; /* unread bytes: buf[off..len) */
    size_t rec_left; /* bytes to the end of the record at buf[off]; 0: a record starts there */
    bool eof;        /* read(2) returned 0 */
    uint8_t first[RBIO_FIRST]; /* the connection's first bytes (conn_tls_plain_http) */
    uint8_t first_len;
} rbio;

/* Reads the socket into the buffer (after the bytes still in it). 1 bytes came, 0 EOF, -1 would
 * block or failed (errno). */
static int rbio_fill(rbio *r)
{
    if (!r->buf && !(r->buf = malloc(TLS_READ_BUF))) {
        errno = ENOMEM;
        return -1;
    }
    if (r->off > 0) { /* at most a few bytes of a record header */
        memmove(r->buf, r->buf + r->off, r->len - r->off);
        r->len -= r->off;
        r->off = 0;
    }
    ssize_t n = read(r->fd, r->buf + r->len, TLS_READ_BUF - r->len);
    if (n > 0) {
        if (r->first_len < RBIO_FIRST) {
            size_t k =
                RBIO_FIRST - r->first_len < (size_t)n ? RBIO_FIRST - r->first_len : (size_t)n;
            memcpy(r->first + r->first_len, r->buf + r->len, k);
            r->first_len = (uint8_t)(r->first_len + k);
        }
        r->len += (size_t)n;
        return 1;
    }
    if (n == 0)
        r->eof = true;
    return n == 0 ? 0 : -1;
}

static int rbio_read(BIO *b, char *out, int outl)
{
    rbio *r = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (outl <= 0)
        return 0;
    size_t avail = r->len - r->off;
    /* more bytes wanted: none here, or only part of the header of the next record */
    if (avail == 0 || (r->rec_left == 0 && avail < TLS_HEADER && !r->eof)) {
        int f = r->eof ? 0 : rbio_fill(r);
        if (f < 0 && conn_transient(errno)) {
            BIO_set_retry_read(b);
            return -1;
        }
        avail = r->len - r->off;
        if (avail == 0) {
            free(r->buf);
            r->buf = NULL;
            r->off = r->len = 0;
            return f; /* 0 at EOF, -1 with errno set */
        }
    }
    const uint8_t *p = r->buf + r->off;
    if (r->rec_left == 0 && avail >= TLS_HEADER)
        r->rec_left = TLS_HEADER + ((size_t)p[3] << 8 | p[4]);
    size_t n = avail < (size_t)outl ? avail : (size_t)outl;
    if (r->rec_left > 0 && n > r->rec_left)
        n = r->rec_left;
    memcpy(out, p, n);
    r->off += n;
    r->rec_left -= r->rec_left < n ? r->rec_left : n;
    if (r->off == r->len) {
        free(r->buf);
        r->buf = NULL;
        r->off = r->len = 0;
    }
    return (int)n;
}

static long rbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    (void)ptr;
    const rbio *r = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_PENDING:
        return (long)(r->len - r->off);
    case BIO_CTRL_EOF:
        return r->eof && r->len == r->off;
    case BIO_CTRL_FLUSH:
        return 1;
    default:
        return 0;
    }
}

static int rbio_destroy(BIO *b)
{
    rbio *r = BIO_get_data(b);
    if (r) {
        free(r->buf);
        free(r);
    }
    BIO_set_data(b, NULL);
    return 1;
}

BIO_METHOD *conn_tls_rbio_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "conn reader");
    if (m && (BIO_meth_set_read(m, rbio_read) != 1 || BIO_meth_set_ctrl(m, rbio_ctrl) != 1 ||
              BIO_meth_set_destroy(m, rbio_destroy) != 1)) {
        BIO_meth_free(m);
        m = NULL;
    }
    return m;
}

int conn_tls_set_fd(conn *c, SSL *ssl)
{
    conn_loop *l = c->loop;
    if (SSL_set_fd(ssl, c->fd) != 1)
        return -1;
    if (!l->rbio_meth && !(l->rbio_meth = conn_tls_rbio_method()))
        return 0; /* OpenSSL reads the socket itself */
    BIO *b = BIO_new(l->rbio_meth);
    rbio *r = calloc(1, sizeof *r);
    if (!b || !r) {
        BIO_free(b);
        free(r);
        return 0;
    }
    r->fd = c->fd;
    BIO_set_data(b, r);
    BIO_set_init(b, 1);
    SSL_set0_rbio(ssl, b); /* drops the socket BIO's read reference; it stays the write BIO */
    return 0;
}

bool conn_tls_pending(const conn *c)
{
    return SSL_has_pending(c->ssl) || BIO_ctrl_pending(SSL_get_rbio(c->ssl)) > 0 ||
           (c->tls_ahead && evbuffer_get_length(c->tls_ahead) > 0);
}

void conn_resume_input(conn *c)
{
    conn_update_io(c);
    if (c->ssl && c->rd_on && c->state == CS_OPEN && conn_tls_pending(c))
        conn_schedule(c, PEND_PULL);
}

/* The write buffer: a BIO_f_buffer between the SSL and the socket, attached for a pass that
 * makes more than one record and detached once it is empty, so an idle connection keeps none
 * (it is TLS_WRITE_BUF bytes). Without it (ENOMEM) records go out one write() each, as before. */
static void wbuf_attach(conn *c)
{
    if (c->tls_wbuf)
        return;
    BIO *sock = SSL_get_wbio(c->ssl);
    BIO *buf = BIO_new(BIO_f_buffer());
    if (!buf)
        return;
    if (BIO_set_write_buffer_size(buf, (long)TLS_WRITE_BUF) != 1 || !BIO_up_ref(sock)) {
        BIO_free(buf);
        return;
    }
    /* the chain holds its own reference to the socket BIO; SSL_set0_wbio drops the SSL's old
     * write reference to it */
    BIO_push(buf, sock);
    SSL_set0_wbio(c->ssl, buf);
    c->tls_wbuf = true;
}

static void wbuf_detach(conn *c)
{
    if (!c->tls_wbuf)
        return;
    BIO *buf = SSL_get_wbio(c->ssl);
    BIO *sock = BIO_next(buf);
    if (BIO_wpending(buf) > 0 || !sock || !BIO_up_ref(sock))
        return;
    SSL_set0_wbio(c->ssl, sock); /* frees buf and the chain's reference to sock */
    c->tls_wbuf = false;
}

size_t conn_tls_wpending(const conn *c)
{
    if (!c->ssl)
        return 0;
    return c->tls_wbuf ? (size_t)BIO_wpending(SSL_get_wbio(c->ssl)) : 0;
}

/* Writes the buffered ciphertext to the socket. true when all of it went; false when the socket
 * is full (wr_blocked set) or on an error (c failed unless soft). */
static bool flush_out(conn *c, bool soft)
{
    BIO *b = SSL_get_wbio(c->ssl);
    if (!c->tls_wbuf || BIO_wpending(b) == 0)
        return true;
    ERR_clear_error();
    errno = 0;
    if (BIO_flush(b) > 0)
        return true;
    if (BIO_should_retry(b)) {
        c->wr_blocked = true;
        return false;
    }
    if (soft) {
        ERR_clear_error();
        return true;
    }
    conn_tls_fail(c, SSL_ERROR_SYSCALL);
    return false;
}

/* Frees OpenSSL's record buffers (about 17 KiB each way) unless they hold bytes: an idle
 * connection keeps none. */
static void release_buffers(conn *c)
{
    if (!SSL_has_pending(c->ssl))
        SSL_free_buffers(c->ssl);
}

/* The error of a failed SSL call: errno for SSL_ERROR_SYSCALL, else OpenSSL's code. */
void conn_tls_fail(conn *c, int ssl_err)
{
    unsigned long e = ERR_peek_last_error();
    int sys = ssl_err == SSL_ERROR_SYSCALL ? errno : 0;
    if (ssl_err == SSL_ERROR_SYSCALL && sys == 0 && e == 0)
        sys = ECONNRESET; /* the peer closed in the middle of a TLS exchange */
    ERR_clear_error();
    conn_fail(c, sys, e);
}

/* ---- the peer's last octets, decrypted ahead (conn_int.h: conn_tls_read_ahead) ----
 * A plain socket's queue can be looked at without taking it (MSG_PEEK); a TLS socket's holds
 * records, longer than the octets they carry, which nobody can judge. After the peer's FIN
 * nothing more comes: decrypting what waits costs no more memory than the kernel held for it
 * (a receive buffer, 6 MiB at most by default), and the owner judges plain octets, at once. But
 * the kernel's share is freed as it is read: many such peers one after the other, each under the
 * kernel's global limit (tcp_mem), would pile up in the process (about 1.2 MB each behind a
 * binary stream window); so the loop's budget bounds them all (conn_loop_set_tls_ahead_max). */
#define TLS_AHEAD_MAX ((size_t)16 << 20)

void conn_tls_read_ahead(conn *c)
{
    if (!c->ssl || c->state != CS_OPEN || (!c->tls_ahead && !(c->tls_ahead = evbuffer_new())))
        return;
    ERR_clear_error();
    conn_loop *l = c->loop; /* and over all connections, conn_loop_set_tls_ahead_max */
    while (evbuffer_get_length(c->tls_ahead) < TLS_AHEAD_MAX &&
           l->tls_ahead_held + TLS_RECORD <= l->tls_ahead_max) {
        struct evbuffer_iovec v;
        if (evbuffer_reserve_space(c->tls_ahead, (ev_ssize_t)TLS_RECORD, &v, 1) < 1)
            return; /* no memory: the queue stays ciphertext, judged as before */
        size_t cap = v.iov_len < TLS_RECORD ? v.iov_len : TLS_RECORD;
        int n = SSL_read(c->ssl, v.iov_base, (int)cap);
        if (n > 0) {
            v.iov_len = (size_t)n;
            evbuffer_commit_space(c->tls_ahead, &v, 1);
            l->tls_ahead_held += (size_t)n;
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_ZERO_RETURN) /* close_notify, or the FIN (IGNORE_UNEXPECTED_EOF) */
            c->tls_ahead_all = true;
        else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            conn_tls_fail(c, e);
        break;
    }
    release_buffers(c);
}

size_t conn_tls_read(conn *c, struct evbuffer_iovec *v, int nv, bool *eof)
{
    size_t got = 0;
    c->tls_r_wants_w = false;
    int i = 0;
    size_t off = 0;
    while (c->tls_ahead && i < nv && evbuffer_get_length(c->tls_ahead) > 0) {
        int n = evbuffer_remove(c->tls_ahead, (uint8_t *)v[i].iov_base + off, v[i].iov_len - off);
        got += n > 0 ? (size_t)n : 0;
        c->loop->tls_ahead_held -= n > 0 ? (size_t)n : 0;
        off += n > 0 ? (size_t)n : 0;
        if (off == v[i].iov_len) {
            i++;
            off = 0;
        }
        if (n <= 0)
            break;
    }
    ERR_clear_error(); /* once: a successful SSL_read leaves the queue as it was */
    while (i < nv) {
        int n = SSL_read(c->ssl, (uint8_t *)v[i].iov_base + off, (int)(v[i].iov_len - off));
        if (n > 0) {
            got += (size_t)n;
            off += (size_t)n;
            if (off == v[i].iov_len) {
                i++;
                off = 0;
            }
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_WRITE)
            c->tls_r_wants_w = true;
        else if (e == SSL_ERROR_ZERO_RETURN)
            *eof = true;
        else if (e != SSL_ERROR_WANT_READ)
            conn_tls_fail(c, e);
        else
            release_buffers(c); /* all read: nothing waits */
        break;
    }
    return got;
}

/* SSL_write of c->out into records (gathered in the write buffer), then the buffer to the
 * socket. Returns the plain-text bytes SSL_write took. */
static size_t write_records(conn *c)
{
    size_t total = 0;
    c->tls_w_wants_r = false;
    if (evbuffer_get_length(c->out) > TLS_RECORD)
        wbuf_attach(c); /* several records: gather them */
    ERR_clear_error();  /* once: a successful SSL_write leaves the queue as it was */
    for (;;) {
        size_t len = evbuffer_get_length(c->out);
        if (len == 0)
            break;
        struct evbuffer_iovec v;
        if (evbuffer_peek(c->out, -1, NULL, &v, 1) < 1)
            break;
        const uint8_t *p = v.iov_base;
        size_t n = v.iov_len;
        if (n < TLS_RECORD && len > n) {
            /* Small pieces make small records: join up to a full one. The first piece only
             * grows, so a write retried after want-write never offers fewer bytes. */
            n = len < TLS_RECORD ? len : TLS_RECORD;
            p = evbuffer_pullup(c->out, (ev_ssize_t)n);
            if (!p) {
                conn_fail(c, ENOMEM, 0);
                break;
            }
        }
        if (n > TLS_WRITE_MAX)
            n = TLS_WRITE_MAX;
        int r = SSL_write(c->ssl, p, (int)n);
        if (r > 0) {
            evbuffer_drain(c->out, (size_t)r);
            total += (size_t)r;
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_WRITE)
            c->wr_blocked = true; /* the buffer is full and the socket takes no more */
        else if (e == SSL_ERROR_WANT_READ)
            c->tls_w_wants_r = true;
        else
            conn_tls_fail(c, e);
        return total;
    }
    c->wr_blocked = false;
    if (flush_out(c, false)) { /* the records of this pass leave in as few writes as fit */
        wbuf_detach(c);
        release_buffers(c);
    }
    return total;
}

size_t conn_tls_write(conn *c)
{
    size_t before = conn_out_len(c);
    size_t taken = write_records(c);
    if (taken > 0)
        return taken;
    /* SSL_write took no plain text (none was left: the socket was full when the last records
     * were made), but ciphertext that waited in the write buffer left: progress too, or an
     * owner waiting for on_drain with a mark under what waited would wait for ever. */
    size_t after = conn_out_len(c);
    return after < before ? before - after : 0;
}

bool conn_tls_shutdown(conn *c)
{
    if (!flush_out(c, true)) /* application data first */
        return false;
    if (!c->tls_close_sent) {
        ERR_clear_error();
        int r = SSL_shutdown(c->ssl);
        if (r < 0 && SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_WRITE) {
            c->wr_blocked = true; /* close_notify waits for room */
            return false;
        }
        ERR_clear_error();
        c->tls_close_sent = true;
    }
    return flush_out(c, true); /* OpenSSL leaves a warning alert in the buffer */
}

/* One handshake step, and its report when it ends. */
void conn_handshake(conn *c)
{
    int r = conn_tls_handshake(c);
    if (r > 0)
        conn_opened(c);
    else if (r == 0)
        conn_update_io(c);
    else
        conn_emit_event(c, CONN_EV_ERROR);
}

bool conn_handshaking(const conn *c)
{
    return c->state == CS_HANDSHAKE;
}

bool conn_handshake_begun(const conn *c)
{
    return c->state == CS_HANDSHAKE && c->ssl && SSL_get_state(c->ssl) != TLS_ST_BEFORE;
}

/* An HTTP/1 request line starts with a method (a token, RFC 9110 §9.1) and one space; a TLS
 * record starts with a content type byte under 0x20 (RFC 8446 §5.1), an SSLv2 hello with 0x80.
 * The handshake fails once OpenSSL has a record header (5 octets): a client that sends one
 * octet per segment, or a method without a space ("GET\r\n"), has only sent a token by then,
 * which no TLS client sends either (nginx decides on the first octet alone). */
static bool looks_like_request_line(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == ' ' || p[i] == '\r' || p[i] == '\n')
            return i > 0;
        if (!http1_is_tchar(p[i]))
            return false;
    }
    return n > 0;
}

bool conn_tls_plain_http(const conn *c)
{
    if (!c->ssl || c->client || c->state == CS_OPEN)
        return false;
    int reason = ERR_GET_REASON(c->tls_err);
    if (reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST)
        return true; /* OpenSSL's own check: GET, POST, HEAD, PUT and CONNECT */
    BIO *b = SSL_get_rbio(c->ssl);
    if (!b || BIO_method_type(b) == BIO_TYPE_SOCKET) /* no read BIO of ours (ENOMEM) */
        return false;
    const rbio *r = BIO_get_data(b);
    return r && looks_like_request_line(r->first, r->first_len);
}

size_t conn_tls_answer_plain(conn *c, const char *msg, size_t len)
{
    char sink[4096];
    for (int i = 0; i < 16 && recv(c->fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++)
        ;
    bool sent = len > 0 && send(c->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len;
    shutdown(c->fd, SHUT_WR);
    return sent ? len : 0;
}

bool conn_is_tls(const conn *c)
{
    return c->ssl != NULL;
}

SSL *conn_ssl(const conn *c)
{
    return c->ssl;
}

int conn_tls_handshake(conn *c)
{
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->hs_want = WANT_NONE;
        return 1;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->hs_want = e == SSL_ERROR_WANT_READ ? WANT_READ : WANT_WRITE;
        return 0;
    }
    c->hs_want = WANT_NONE;
    if (e == SSL_ERROR_SYSCALL && errno == 0 && ERR_peek_last_error() == 0)
        conn_fail(c, 0, 0); /* EOF in the middle of the handshake */
    else
        conn_tls_fail(c, e);
    return -1;
}

const char *conn_tls_reason(const conn *c, char *buf, size_t cap)
{
    char e[256];
    ERR_error_string_n(c->tls_err, e, sizeof e);
    const char *reason = ERR_reason_error_string(c->tls_err);
    snprintf(buf, cap, "TLS: %s", reason ? reason : e);
    return buf;
}
