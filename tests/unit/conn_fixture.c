/* SPDX-License-Identifier: MIT */
/* conn_fixture.c - the conn test fixture: sides, certificates, socket pairs, loop drivers and
 * shared scenarios (see conn_fixture.h). */
#include "conn_fixture.h"

void on_read(conn *c, void *ud)
{
    side *s = ud;
    s->reads++;
    size_t n = evbuffer_get_length(conn_in(c));
    if (n > s->max_in_seen)
        s->max_in_seen = n;
    if (!s->keep_input)
        evbuffer_add_buffer(s->got, conn_in(c));
    if (s->free_on_read) {
        conn_free(c);
        s->c = NULL;
    }
}

void on_drain(conn *c, void *ud)
{
    side *s = ud;
    s->drains++;
    if (s->free_other && *s->free_other) {
        conn_free(*s->free_other);
        *s->free_other = NULL;
    }
    if (s->free_on_drain) {
        conn_free(c);
        s->c = NULL;
    }
}

void on_event(conn *c, void *ud, int what)
{
    side *s = ud;
    s->events |= what;
    if (s->free_on_event) {
        conn_free(c);
        s->c = NULL;
    }
}

const conn_cbs CBS = {on_read, on_drain, on_event};

void tick_cb(evutil_socket_t fd, short w, void *ud)
{
    (void)fd;
    (void)w;
    (void)ud; /* wakes the loop so run_until checks its condition and deadline */
}

EVP_PKEY *g_key;
X509 *g_cert, *g_other_cert;
EVP_PKEY *g_other_key;

int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    g_key = cert_key();
    g_other_key = cert_key();
    g_cert = cert_make(g_key, "conn test", NULL, NULL, "IP:127.0.0.1", false);
    g_other_cert = cert_make(g_other_key, "someone else", NULL, NULL, "IP:127.0.0.1", false);
    return 0;
}

int group_teardown(void **state)
{
    (void)state;
    X509_free(g_cert);
    X509_free(g_other_cert);
    EVP_PKEY_free(g_key);
    EVP_PKEY_free(g_other_key);
    return 0;
}

SSL_CTX *client_ctx(X509 *trusted)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), trusted);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->base = event_base_new();
    f->loop = conn_loop_new(f->base);
    assert_non_null(f->loop);
    f->tick = event_new(f->base, -1, EV_PERSIST, tick_cb, NULL);
    struct timeval tv = {0, 10000};
    event_add(f->tick, &tv);
    f->a.got = evbuffer_new();
    f->b.got = evbuffer_new();
    f->srv_ctx = SSL_CTX_new(TLS_server_method());
    assert_int_equal(SSL_CTX_use_certificate(f->srv_ctx, g_cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(f->srv_ctx, g_key), 1);
    f->cli_ctx = client_ctx(g_cert);
    f->other_ctx = client_ctx(g_other_cert);
    *state = f;
    return 0;
}

int teardown(void **state)
{
    fixture *f = *state;
    conn_free(f->a.c);
    conn_free(f->b.c);
    evbuffer_free(f->a.got);
    evbuffer_free(f->b.got);
    event_free(f->tick);
    conn_loop_free(f->loop);
    event_base_free(f->base);
    SSL_CTX_free(f->srv_ctx);
    SSL_CTX_free(f->cli_ctx);
    SSL_CTX_free(f->other_ctx);
    free(f);
    return 0;
}

void run_until(fixture *f, pred_fn pred)
{
    uint64_t end = clock_now_ms() + WAIT_MS;
    while (!pred(f)) {
        assert_true(clock_now_ms() < end);
        event_base_loop(f->base, EVLOOP_ONCE);
    }
}

void run_for(fixture *f, unsigned ms)
{
    uint64_t end = clock_now_ms() + ms;
    while (clock_now_ms() < end)
        event_base_loop(f->base, EVLOOP_ONCE);
}

void nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

void plain_pair(fixture *f)
{
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    nonblock(fds[0]);
    nonblock(fds[1]);
    f->a.c = conn_new(f->loop, fds[0], NULL, &CBS, &f->a);
    f->b.c = conn_new(f->loop, fds[1], NULL, &CBS, &f->b);
    assert_non_null(f->a.c);
    assert_non_null(f->b.c);
}

int listener(struct addrinfo *ai, struct sockaddr_in *sin)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)sin, sizeof *sin), 0);
    assert_int_equal(listen(fd, 16), 0);
    socklen_t len = sizeof *sin;
    getsockname(fd, (struct sockaddr *)sin, &len);
    memset(ai, 0, sizeof *ai);
    ai->ai_family = AF_INET;
    ai->ai_socktype = SOCK_STREAM;
    ai->ai_addr = (struct sockaddr *)sin;
    ai->ai_addrlen = sizeof *sin;
    return fd;
}

bool a_connected(fixture *f)
{
    return (f->a.events & (CONN_EV_CONNECTED | CONN_EV_ERROR)) != 0;
}

void tcp_pair(fixture *f, bool tls, SSL_CTX *cli)
{
    struct addrinfo ai;
    struct sockaddr_in sin;
    int lfd = listener(&ai, &sin);
    int err = 0;
    SSL *cssl = tls ? SSL_new(cli) : NULL;
    f->a.c = conn_connect(f->loop, &ai, cssl, 5000, &CBS, &f->a, &err);
    assert_non_null(f->a.c);
    int sfd = accept(lfd, NULL, NULL);
    assert_true(sfd >= 0);
    close(lfd);
    nonblock(sfd);
    f->b.c = conn_new(f->loop, sfd, tls ? SSL_new(f->srv_ctx) : NULL, &CBS, &f->b);
    assert_non_null(f->b.c);
}

int raw_peer(fixture *f, int peer_rcvbuf, int b_rcvbuf)
{
    struct addrinfo ai;
    struct sockaddr_in sin;
    int lfd = listener(&ai, &sin);
    if (b_rcvbuf) /* the accepted socket inherits it */
        setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &b_rcvbuf, sizeof b_rcvbuf);
    int peer = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(peer >= 0);
    if (peer_rcvbuf)
        setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &peer_rcvbuf, sizeof peer_rcvbuf);
    assert_int_equal(connect(peer, (struct sockaddr *)&sin, sizeof sin), 0);
    int sfd = accept(lfd, NULL, NULL);
    assert_true(sfd >= 0);
    close(lfd);
    nonblock(sfd);
    f->b.c = conn_new(f->loop, sfd, NULL, &CBS, &f->b);
    assert_non_null(f->b.c);
    return peer;
}

void reset_close(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((i * 31 + seed) % 251);
}

void check_pattern(struct evbuffer *b, size_t n, unsigned seed)
{
    assert_int_equal(evbuffer_get_length(b), n);
    const uint8_t *p = evbuffer_pullup(b, -1);
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)((i * 31 + seed) % 251))
            fail_msg("byte %zu differs", i);
}

size_t g_want;
bool b_got_want(fixture *f)
{
    return evbuffer_get_length(f->b.got) >= g_want;
}

bool a_got_want(fixture *f)
{
    return evbuffer_get_length(f->a.got) >= g_want;
}

bool b_eof(fixture *f)
{
    return (f->b.events & (CONN_EV_EOF | CONN_EV_ERROR)) != 0;
}

bool a_eof(fixture *f)
{
    return (f->a.events & (CONN_EV_EOF | CONN_EV_ERROR)) != 0;
}

bool b_error(fixture *f)
{
    return (f->b.events & CONN_EV_ERROR) != 0;
}

bool a_idle(fixture *f)
{
    return (f->a.events & CONN_EV_IDLE) != 0;
}

bool a_deadline(fixture *f)
{
    return (f->a.events & CONN_EV_DEADLINE) != 0;
}

bool a_freed(fixture *f)
{
    return f->a.c == NULL;
}

bool b_freed(fixture *f)
{
    return f->b.c == NULL;
}

bool b_read_once(fixture *f)
{
    return f->b.reads > 0;
}

void big_transfer(fixture *f)
{
    size_t n = (size_t)1 << 20;
    uint8_t *data = malloc(n);
    fill_pattern(data, n, 7);
    conn_write(f->a.c, data, n);
    free(data);
    g_want = n;
    run_until(f, b_got_want);
    check_pattern(f->b.got, n, 7);
    assert_true(f->a.drains >= 1);
    assert_int_equal(conn_out_len(f->a.c), 0);
}

void backpressure(fixture *f)
{
    conn_read(f->b.c, false);
    assert_false(conn_reading(f->b.c));
    size_t n = (size_t)16 << 20;
    uint8_t *data = malloc(n);
    fill_pattern(data, n, 3);
    conn_write(f->a.c, data, n);
    free(data);
    run_for(f, 300);
    assert_int_equal(evbuffer_get_length(f->b.got), 0);
    assert_true(conn_out_len(f->a.c) > 0); /* the socket buffers are full */
    conn_read(f->b.c, true);
    g_want = n;
    run_until(f, b_got_want);
    check_pattern(f->b.got, n, 3);
}

void half_close(fixture *f)
{
    conn_write(f->a.c, "request", 7);
    conn_shutdown(f->a.c);
    g_want = 7;
    run_until(f, b_eof);
    assert_true(f->b.events & CONN_EV_EOF);
    assert_false(f->b.events & CONN_EV_ERROR);
    assert_int_equal(evbuffer_get_length(f->b.got), 7);
    conn_write(f->b.c, "answer", 6);
    conn_shutdown(f->b.c);
    g_want = 6;
    run_until(f, a_got_want);
    run_until(f, a_eof);
    assert_true(f->a.events & CONN_EV_EOF);
    assert_memory_equal(evbuffer_pullup(f->a.got, -1), "answer", 6);
}

void in_max(fixture *f, size_t n, unsigned seed)
{
    f->b.keep_input = true;
    conn_set_in_max(f->b.c, 10000);
    uint8_t *data = malloc(n);
    assert_non_null(data);
    fill_pattern(data, n, seed);
    conn_write(f->a.c, data, n);
    free(data);
    run_until(f, b_read_once);
    run_for(f, 100);
    assert_int_equal(evbuffer_get_length(conn_in(f->b.c)), 10000);
    f->b.keep_input = false;
    evbuffer_add_buffer(f->b.got, conn_in(f->b.c));
    g_want = n;
    run_until(f, b_got_want);
    check_pattern(f->b.got, n, seed);
    assert_true(f->b.max_in_seen <= 10000);
}
