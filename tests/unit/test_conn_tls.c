/* SPDX-License-Identifier: MIT */
/* test_conn_tls.c - lib/conn with TLS over loopback TCP (conn_fixture.h): large transfers,
 * backpressure, half-close, a shutdown behind buffered ciphertext, dirty close, the connect
 * timeout covering the handshake, verification failures, a plain peer, data both ways, records
 * cut anywhere on the wire. */
#include "conn_fixture.h"

static void test_big_transfer_tls(void **state)
{
    fixture *f = *state;
    tcp_pair(f, true, f->cli_ctx);
    big_transfer(f);
    assert_true(f->a.events & CONN_EV_CONNECTED);
    assert_true(conn_is_tls(f->a.c) && conn_is_tls(f->b.c));
    /* the write buffer that gathered the records is gone once empty: an idle connection keeps
     * no 128 KiB buffer */
    assert_int_equal(BIO_method_type(SSL_get_wbio(conn_ssl(f->a.c))), BIO_TYPE_SOCKET);
    assert_int_equal(BIO_method_type(SSL_get_wbio(conn_ssl(f->b.c))), BIO_TYPE_SOCKET);
}

static void test_backpressure_tls(void **state)
{
    fixture *f = *state;
    tcp_pair(f, true, f->cli_ctx);
    backpressure(f);
}

static void test_half_close_tls(void **state)
{
    fixture *f = *state;
    tcp_pair(f, true, f->cli_ctx);
    half_close(f);
}

/* A shutdown behind output the peer is not reading yet, with TLS: the socket is full and the
 * last records wait in the write buffer while the plain-text output is empty. The output is not
 * empty (conn_out_len counts them), and close_notify and the FIN leave after the last byte. */
static void test_shutdown_behind_buffered_ciphertext_tls(void **state)
{
    fixture *f = *state;
    tcp_pair(f, true, f->cli_ctx);
    conn_read(f->b.c, false);
    size_t cap = (size_t)64 << 20, n = 0;
    uint8_t *data = malloc(cap);
    fill_pattern(data, cap, 7);
    /* 64 KiB at a time, each once the previous one is out of the process: a piece always fits
     * the empty write buffer, so when the socket stops taking bytes the plain-text output is
     * empty and the rest of the piece waits as ciphertext in the buffer */
    bool seen = false;
    for (int i = 0; i < 4000 && n + ((size_t)64 << 10) <= cap; i++) {
        size_t out = conn_out_len(f->a.c), plain = evbuffer_get_length(conn_out(f->a.c));
        if (out > 0 && plain == 0) {
            seen = true;
            break;
        }
        if (out == 0) {
            conn_write(f->a.c, data + n, (size_t)64 << 10);
            n += (size_t)64 << 10;
        }
        run_for(f, 5);
    }
    assert_true(seen);
    free(data);
    conn_shutdown(f->a.c);
    run_for(f, 100);
    conn_read(f->b.c, true);
    g_want = n;
    run_until(f, b_eof);
    assert_false(f->b.events & CONN_EV_ERROR);
    assert_int_equal(conn_out_len(f->a.c), 0);
    check_pattern(f->b.got, n, 7);
}

/* on_drain when only ciphertext leaves. The socket is full, every plain-text byte is already in
 * records and some of them wait in the write buffer (more than the owner's mark: a public
 * connection's 64 KiB under a 144 KiB buffer), so the write that took the last plain text
 * reports no drain; the later write that empties the buffer takes no plain text at all and must
 * report it (before, it did not: an owner waiting for room, a public connection that credits
 * its tunnel once its output drains, waited for ever). */
static bool a_drained_empty(fixture *f)
{
    return conn_out_len(f->a.c) == 0 && f->a.drains > 0;
}

static void test_drain_after_buffered_ciphertext_tls(void **state)
{
    fixture *f = *state;
    tcp_pair(f, true, f->cli_ctx);
    conn_read(f->b.c, false);
    size_t cap = (size_t)64 << 20, n = 0, out = 0;
    uint8_t *data = malloc(cap);
    fill_pattern(data, cap, 23);
    /* 64 KiB at a time, each once the previous one is out of the process, until the socket
     * stops taking bytes with the plain text all in records (see the test above) */
    for (int i = 0; i < 4000 && n + ((size_t)64 << 10) <= cap; i++) {
        out = conn_out_len(f->a.c);
        if (out > 0 && evbuffer_get_length(conn_out(f->a.c)) == 0)
            break;
        if (out == 0) {
            conn_write(f->a.c, data + n, (size_t)64 << 10);
            n += (size_t)64 << 10;
        }
        run_for(f, 5);
    }
    assert_true(out > 0);
    assert_int_equal(evbuffer_get_length(conn_out(f->a.c)), 0);
    free(data);
    conn_set_out_low(f->a.c, out - 1); /* a mark under what waits: the next drain is due */
    f->a.drains = 0;
    conn_read(f->b.c, true);
    run_until(f, a_drained_empty);
    g_want = n;
    run_until(f, b_got_want);
    check_pattern(f->b.got, n, 23);
}

/* in_max with TLS: the input never holds more; consuming it resumes reading, also when the rest
 * already came off the socket (OpenSSL or the read BIO holds it, which wakes no epoll). */
static void test_in_max_tls(void **state)
{
    fixture *f = *state;
    tcp_pair(f, true, f->cli_ctx);
    in_max(f, 30000, 29); /* one read of the socket takes it all */
}

/* A peer that closes without a word (plain close, or no close_notify with TLS) is an EOF. */
static void test_dirty_close_is_eof_tls(void **state)
{
    fixture *f = *state;
    tcp_pair(f, true, f->cli_ctx);
    conn_write(f->a.c, "x", 1);
    g_want = 1;
    run_until(f, b_got_want);
    shutdown(conn_fd(f->a.c), SHUT_RDWR); /* under OpenSSL: no close_notify */
    run_until(f, b_eof);
    assert_true(f->b.events & CONN_EV_EOF);
}

/* A TLS server that never answers: the connect timeout covers the handshake. */
static void test_connect_timeout(void **state)
{
    fixture *f = *state;
    struct addrinfo ai;
    struct sockaddr_in sin;
    int lfd = listener(&ai, &sin);
    int err = 0;
    f->a.c = conn_connect(f->loop, &ai, SSL_new(f->cli_ctx), 100, &CBS, &f->a, &err);
    run_until(f, a_connected);
    assert_int_equal(f->a.events, CONN_EV_ERROR);
    assert_int_equal(conn_error(f->a.c), ETIMEDOUT);
    close(lfd);
}

/* A certificate the client does not trust: ERROR on both sides, with a TLS reason. */
static void test_tls_verification_failure(void **state)
{
    fixture *f = *state;
    tcp_pair(f, true, f->other_ctx);
    conn_write(f->a.c, "secret", 6);
    run_until(f, a_connected);
    run_until(f, b_error);
    assert_int_equal(f->a.events, CONN_EV_ERROR);
    assert_int_not_equal(SSL_get_verify_result(conn_ssl(f->a.c)), X509_V_OK);
    assert_int_not_equal(conn_tls_error(f->a.c), 0);
    char buf[256];
    assert_non_null(strstr(conn_strerror(f->a.c, buf, sizeof buf), "certificate"));
    assert_int_equal(evbuffer_get_length(f->b.got), 0);
}

/* A plain client talking to a TLS server: the handshake fails, no crash, no data. */
static void test_tls_garbage(void **state)
{
    fixture *f = *state;
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    nonblock(fds[0]);
    f->b.c = conn_new(f->loop, fds[0], SSL_new(f->srv_ctx), &CBS, &f->b);
    const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(write(fds[1], junk, sizeof junk - 1), (ssize_t)sizeof junk - 1);
    run_until(f, b_error);
    assert_int_equal(evbuffer_get_length(f->b.got), 0);
    close(fds[1]);
}

/* Data both ways at once over TLS (reads and writes interleave in one connection). */
static void test_tls_both_ways(void **state)
{
    fixture *f = *state;
    tcp_pair(f, true, f->cli_ctx);
    size_t n = (size_t)4 << 20;
    uint8_t *data = malloc(n);
    fill_pattern(data, n, 11);
    conn_write(f->a.c, data, n);
    fill_pattern(data, n, 13);
    conn_write(f->b.c, data, n);
    free(data);
    g_want = n;
    run_until(f, b_got_want);
    run_until(f, a_got_want);
    check_pattern(f->b.got, n, 11);
    check_pattern(f->a.got, n, 13);
}

/* Sends the ciphertext the client SSL wrote to its memory BIO in pieces of the sizes in cuts
 * (cycling), running the loop after each, and feeds what the server sent back to the client. */
static void dribble(fixture *f, int fd, BIO *from_cli, BIO *to_cli, const size_t *cuts,
                    size_t ncuts)
{
    static uint8_t piece[70000];
    for (size_t i = 0; BIO_ctrl_pending(from_cli) > 0; i++) {
        size_t want = cuts[i % ncuts] < sizeof piece ? cuts[i % ncuts] : sizeof piece;
        int n = BIO_read(from_cli, piece, (int)want);
        assert_true(n > 0);
        for (size_t off = 0; off < (size_t)n;) {
            ssize_t w = write(fd, piece + off, (size_t)n - off);
            if (w > 0)
                off += (size_t)w;
            run_for(f, 1);
        }
    }
    run_for(f, 2);
    ssize_t r;
    while ((r = read(fd, piece, sizeof piece)) > 0)
        BIO_write(to_cli, piece, (int)r);
}

/* The read BIO (conn_tls.c) cuts the ciphertext at record boundaries: a record header split over
 * several reads (1, 2, 3 bytes), records split anywhere, several records in one read, all arrive
 * whole and in order, during the handshake and after it; the buffer is empty at the end. */
static void test_tls_records_split_anywhere(void **state)
{
    fixture *f = *state;
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    nonblock(fds[0]);
    nonblock(fds[1]);
    f->b.c = conn_new(f->loop, fds[0], SSL_new(f->srv_ctx), &CBS, &f->b);
    assert_non_null(f->b.c);
    assert_int_not_equal(BIO_method_type(SSL_get_rbio(conn_ssl(f->b.c))), BIO_TYPE_SOCKET);
    SSL *cli = SSL_new(f->cli_ctx);
    BIO *to_cli = BIO_new(BIO_s_mem()), *from_cli = BIO_new(BIO_s_mem());
    assert_non_null(cli);
    SSL_set_bio(cli, to_cli, from_cli);
    SSL_set_connect_state(cli);
    const size_t cuts[] = {1, 2, 1, 3, 16384, 5, 7001, 65536, 4, 16000, 400};
    for (int i = 0; i < 50 && SSL_do_handshake(cli) != 1; i++)
        dribble(f, fds[1], from_cli, to_cli, cuts, sizeof cuts / sizeof cuts[0]);
    assert_int_equal(SSL_is_init_finished(cli), 1);
    size_t n = (size_t)600 << 10;
    uint8_t *data = malloc(n);
    fill_pattern(data, n, 17);
    for (size_t off = 0; off < n;) { /* records of every size up to 16 KiB */
        size_t len = off % 3 == 0 ? 1 : off % 3 == 1 ? 16384 : 999;
        len = len < n - off ? len : n - off;
        assert_int_equal(SSL_write(cli, data + off, (int)len), (int)len);
        off += len;
    }
    free(data);
    dribble(f, fds[1], from_cli, to_cli, cuts, sizeof cuts / sizeof cuts[0]);
    g_want = n;
    run_until(f, b_got_want);
    check_pattern(f->b.got, n, 17);
    assert_int_equal(BIO_ctrl_pending(SSL_get_rbio(conn_ssl(f->b.c))), 0);
    SSL_free(cli);
    close(fds[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_big_transfer_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_close_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirty_close_is_eof_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_behind_buffered_ciphertext_tls, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_drain_after_buffered_ciphertext_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_max_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_verification_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_records_split_anywhere, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
