/* SPDX-License-Identifier: MIT */
/* test_tls.c - TLS contexts from a CA and certificates generated here: creation paths, errors
 * (missing file, garbage, key mismatch), SNI / host-name settings, and in-memory handshakes
 * (BIO pairs, no network) showing a matching name passes and a mismatching one is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cert_fixture.h"
#include "tls.h"

typedef struct files {
    char dir[64];
    char ca[128], cert[128], key[128], other_key[128], garbage[128];
} files;

static void write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (cert)
        assert_int_equal(PEM_write_X509(f, cert), 1);
    if (key)
        assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

static int setup(void **state)
{
    files *fs = calloc(1, sizeof *fs);
    if (!fs)
        return -1;
    strcpy(fs->dir, "/tmp/test_tlsXXXXXX");
    if (!mkdtemp(fs->dir)) {
        free(fs);
        return -1;
    }
    snprintf(fs->ca, sizeof fs->ca, "%s/ca.pem", fs->dir);
    snprintf(fs->cert, sizeof fs->cert, "%s/cert.pem", fs->dir);
    snprintf(fs->key, sizeof fs->key, "%s/key.pem", fs->dir);
    snprintf(fs->other_key, sizeof fs->other_key, "%s/other.pem", fs->dir);
    snprintf(fs->garbage, sizeof fs->garbage, "%s/garbage.pem", fs->dir);
    EVP_PKEY *cak = cert_key(), *k = cert_key(), *other = cert_key();
    X509 *ca = cert_make(cak, "Test CA", NULL, NULL, NULL, true);
    X509 *leaf = cert_make(k, "tunnel.test", ca, cak,
                           "DNS:tunnel.test,DNS:*.tunnel.test,IP:127.0.0.1", false);
    write_pem(fs->ca, ca, NULL);
    write_pem(fs->cert, leaf, NULL);
    write_pem(fs->key, NULL, k);
    write_pem(fs->other_key, NULL, other);
    FILE *g = fopen(fs->garbage, "w");
    fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", g);
    fclose(g);
    X509_free(ca);
    X509_free(leaf);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
    *state = fs;
    return 0;
}

static int teardown(void **state)
{
    files *fs = *state;
    unlink(fs->ca);
    unlink(fs->cert);
    unlink(fs->key);
    unlink(fs->other_key);
    unlink(fs->garbage);
    rmdir(fs->dir);
    free(fs);
    return 0;
}

static void test_server_ctx(void **state)
{
    files *fs = *state;
    char err[700];
    SSL_CTX *ctx = tls_server_ctx(fs->cert, fs->key, err, sizeof err);
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
    SSL_CTX_free(ctx);

    const char *bad[][2] = {
        {"/nonexistent/cert.pem", fs->key},
        {fs->cert, "/nonexistent/key.pem"},
        {fs->garbage, fs->key},
        {fs->cert, fs->garbage},
        {fs->cert, fs->other_key}, /* key does not match the certificate */
        {NULL, fs->key},
        {fs->cert, NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_null(tls_server_ctx(bad[i][0], bad[i][1], err, sizeof err));
        assert_true(strlen(err) > 0);
    }
    assert_null(ERR_peek_error()); /* no stale errors left for the next caller */
}

/* The reasons name the file and what is wrong with it (OpenSSL's own words were "system lib" and
 * "no start line"). */
static void test_server_ctx_reasons(void **state)
{
    files *fs = *state;
    char err[700], want[700];
    assert_null(tls_server_ctx("/nonexistent/cert.pem", "/nonexistent/key.pem", err, sizeof err));
    assert_string_equal(err,
                        "cannot open the certificate file /nonexistent/cert.pem: No such file or "
                        "directory");
    assert_null(tls_server_ctx(fs->cert, "/nonexistent/key.pem", err, sizeof err));
    assert_string_equal(err,
                        "cannot open the private key file /nonexistent/key.pem: No such file or "
                        "directory");
    assert_null(tls_server_ctx(fs->key, fs->key, err, sizeof err)); /* the key as certificate */
    snprintf(want, sizeof want, "the certificate file %s is not a PEM certificate", fs->key);
    assert_string_equal(err, want);
    assert_null(tls_server_ctx(fs->cert, fs->ca, err, sizeof err)); /* a certificate as key */
    snprintf(want, sizeof want, "the private key file %s is not a PEM private key", fs->ca);
    assert_string_equal(err, want);
    assert_null(tls_server_ctx(fs->cert, fs->other_key, err, sizeof err));
    snprintf(want, sizeof want, "the private key %s does not match the certificate %s",
             fs->other_key, fs->cert);
    assert_string_equal(err, want);
    assert_null(ERR_peek_error());
}

/* Files of the wrong shape get a reason before OpenSSL reads them, and an encrypted key is
 * refused without a prompt: a directory, an empty file, DER where PEM is wanted, a key with a
 * passphrase, a chain whose server certificate is not first; an expired certificate loads, with a
 * warning. */
static void test_server_ctx_file_shapes(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_tls_shapesXXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[96], empty[96], der[96], derkey[96], enc[96], chain[96], rchain[96], key[96],
        leafp[96], expired[96], expkey[96];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(empty, sizeof empty, "%s/empty.pem", dir);
    snprintf(der, sizeof der, "%s/cert.der", dir);
    snprintf(derkey, sizeof derkey, "%s/key.der", dir);
    snprintf(enc, sizeof enc, "%s/enc.pem", dir);
    snprintf(chain, sizeof chain, "%s/wrong.pem", dir);
    snprintf(rchain, sizeof rchain, "%s/right.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(leafp, sizeof leafp, "%s/leaf.pem", dir);
    snprintf(expired, sizeof expired, "%s/expired.pem", dir);
    snprintf(expkey, sizeof expkey, "%s/expkey.pem", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    fclose(fopen(empty, "w"));
    EVP_PKEY *cak = cert_key(), *k = cert_key();
    X509 *ca = cert_make(cak, "Test CA", NULL, NULL, NULL, true);
    X509 *leaf = cert_make(k, "tunnel.test", ca, cak, "DNS:tunnel.test", false);
    FILE *f = fopen(der, "wb");
    assert_int_equal(i2d_X509_fp(f, leaf), 1);
    fclose(f);
    f = fopen(derkey, "wb");
    assert_int_equal(i2d_PrivateKey_fp(f, k), 1);
    fclose(f);
    f = fopen(enc, "w");
    assert_int_equal(
        PEM_write_PrivateKey(f, k, EVP_aes_256_cbc(), (unsigned char *)"secret", 6, NULL, NULL), 1);
    fclose(f);
    f = fopen(chain, "w");
    assert_int_equal(PEM_write_X509(f, ca) && PEM_write_X509(f, leaf), 1);
    fclose(f);
    f = fopen(rchain, "w");
    assert_int_equal(PEM_write_X509(f, leaf) && PEM_write_X509(f, ca), 1);
    fclose(f);
    write_pem(key, NULL, k);
    write_pem(leafp, leaf, NULL);
    X509 *old = cert_make(cak, "old.test", NULL, NULL, NULL, true);
    X509_time_adj_ex(X509_getm_notBefore(old), -30, 0, NULL);
    X509_time_adj_ex(X509_getm_notAfter(old), -29, 0, NULL);
    assert_true(X509_sign(old, cak, EVP_sha256()) > 0);
    write_pem(expired, old, NULL);
    write_pem(expkey, NULL, cak);

    char err[700], want[700];
    assert_null(tls_server_ctx(sub, key, err, sizeof err));
    snprintf(want, sizeof want, "the certificate file %s is a directory: give the PEM file in it",
             sub);
    assert_string_equal(err, want);
    assert_null(tls_server_ctx(leafp, sub, err, sizeof err));
    snprintf(want, sizeof want, "the private key file %s is a directory: give the PEM file in it",
             sub);
    assert_string_equal(err, want);
    assert_null(tls_server_ctx(empty, key, err, sizeof err));
    snprintf(want, sizeof want, "the certificate file %s is empty", empty);
    assert_string_equal(err, want);
    assert_null(tls_server_ctx(der, key, err, sizeof err));
    snprintf(want, sizeof want,
             "the certificate file %s is DER (binary), not PEM: convert it with `openssl x509 "
             "-inform DER -in %s -out %s.pem`",
             der, der, der);
    assert_string_equal(err, want);
    assert_null(tls_server_ctx(leafp, derkey, err, sizeof err));
    assert_non_null(strstr(err, "is DER (binary), not PEM: convert it with `openssl pkey"));
    assert_null(tls_server_ctx(leafp, enc, err, sizeof err));
    snprintf(want, sizeof want,
             "the private key file %s is encrypted with a passphrase, which ttfd cannot ask for: "
             "decrypt it once (`openssl pkey -in %s -out plain.pem`, mode 600)",
             enc, enc);
    assert_string_equal(err, want);
    assert_null(tls_server_ctx(chain, key, err, sizeof err));
    snprintf(want, sizeof want,
             "the certificate file %s is in the wrong order: the server's own certificate (the "
             "one for the private key %s) must come first, then its intermediates",
             chain, key);
    assert_string_equal(err, want);
    assert_null(tls_client_ctx(sub, false, err, sizeof err));
    snprintf(want, sizeof want, "the CA file %s is a directory: give the PEM file in it", sub);
    assert_string_equal(err, want);
    assert_null(tls_client_ctx(der, false, err, sizeof err));
    assert_non_null(strstr(err, "is DER (binary), not PEM"));
    assert_null(ERR_peek_error());

    SSL_CTX *ctx = tls_server_ctx(rchain, key, err, sizeof err);
    assert_non_null(ctx);
    assert_false(tls_server_cert_warning(ctx, rchain, err, sizeof err));
    SSL_CTX_free(ctx);
    ctx = tls_server_ctx(expired, expkey, err, sizeof err);
    assert_non_null(ctx);
    assert_true(tls_server_cert_warning(ctx, expired, err, sizeof err));
    snprintf(want, sizeof want, "the certificate %s expired on ", expired);
    assert_memory_equal(err, want, strlen(want));
    assert_non_null(strstr(err, " UTC: clients will refuse it"));
    SSL_CTX_free(ctx);
    assert_null(ERR_peek_error());

    X509_free(old);
    X509_free(ca);
    X509_free(leaf);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(k);
    const char *all[] = {empty, der, derkey, enc, chain, rchain, key, leafp, expired, expkey};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        unlink(all[i]);
    rmdir(sub);
    rmdir(dir);
}

static void test_client_ctx(void **state)
{
    files *fs = *state;
    char err[700];
    SSL_CTX *ctx = tls_client_ctx(fs->ca, false, err, sizeof err);
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER);
    SSL_CTX_free(ctx);
    ctx = tls_client_ctx(NULL, false, err, sizeof err); /* system store */
    assert_non_null(ctx);
    SSL_CTX_free(ctx);
    ctx = tls_client_ctx(NULL, true, err, sizeof err);
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_NONE);
    SSL_CTX_free(ctx);
    err[0] = '\0';
    assert_null(tls_client_ctx("/nonexistent/ca.pem", false, err, sizeof err));
    assert_string_equal(err,
                        "cannot open the CA file /nonexistent/ca.pem: No such file or directory");
    assert_null(tls_client_ctx(fs->garbage, false, err, sizeof err));
    assert_true(strlen(err) > 0);
}

static void test_client_ssl_names(void **state)
{
    files *fs = *state;
    SSL_CTX *ctx = tls_client_ctx(fs->ca, false, NULL, 0);
    assert_non_null(ctx);
    SSL *ssl = tls_client_ssl(ctx, "tunnel.test", false);
    assert_non_null(ssl);
    assert_string_equal(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name), "tunnel.test");
    assert_string_equal(X509_VERIFY_PARAM_get0_host(SSL_get0_param(ssl), 0), "tunnel.test");
    SSL_free(ssl);

    ssl = tls_client_ssl(ctx, "127.0.0.1", false);
    assert_non_null(ssl);
    assert_null(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)); /* no SNI for IPs */
    char *ip = X509_VERIFY_PARAM_get1_ip_asc(SSL_get0_param(ssl));
    assert_non_null(ip);
    assert_string_equal(ip, "127.0.0.1");
    OPENSSL_free(ip);
    SSL_free(ssl);

    ssl = tls_client_ssl(ctx, "::1", false);
    assert_non_null(ssl);
    assert_null(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
    SSL_free(ssl);

    ssl = tls_client_ssl(ctx, "tunnel.test", true);
    assert_non_null(ssl);
    assert_int_equal(SSL_get_verify_mode(ssl), SSL_VERIFY_NONE);
    SSL_free(ssl);

    assert_null(tls_client_ssl(ctx, "", false));
    assert_null(tls_client_ssl(ctx, NULL, false));
    assert_null(tls_client_ssl(NULL, "x", false));
    SSL_CTX_free(ctx);
}

/* Runs a handshake between the two over an in-memory BIO pair. Returns the client's verify
 * result; *completed says whether both sides finished the handshake; the negotiated cipher's
 * OpenSSL name goes to cipher (cap bytes) unless it is NULL. */
static long handshake3(SSL_CTX *sctx, SSL_CTX *cctx, const char *host, bool insecure,
                       bool *completed, char *cipher, size_t cap)
{
    SSL *s = SSL_new(sctx);
    SSL *c = tls_client_ssl(cctx, host, insecure);
    assert_non_null(s);
    assert_non_null(c);
    BIO *cb = NULL, *sb = NULL;
    assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
    SSL_set_bio(c, cb, cb);
    SSL_set_bio(s, sb, sb);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    bool cdone = false, sdone = false, failed = false;
    for (int i = 0; i < 50 && !(cdone && sdone) && !failed; i++) {
        if (!cdone) {
            int r = SSL_do_handshake(c);
            int e = SSL_get_error(c, r);
            cdone = r == 1;
            failed = r != 1 && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
        }
        if (!sdone && !failed) {
            int r = SSL_do_handshake(s);
            int e = SSL_get_error(s, r);
            sdone = r == 1;
            failed = r != 1 && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
        }
    }
    long res = SSL_get_verify_result(c);
    *completed = cdone && sdone && !failed;
    if (cipher)
        snprintf(cipher, cap, "%s", SSL_get_cipher_name(s));
    SSL_free(c);
    SSL_free(s);
    ERR_clear_error();
    return res;
}

static long handshake2(SSL_CTX *sctx, SSL_CTX *cctx, const char *host, bool insecure,
                       bool *completed)
{
    return handshake3(sctx, cctx, host, insecure, completed, NULL, 0);
}

/* The client's verify result, or -1 when the handshake did not complete. */
static long handshake(SSL_CTX *sctx, SSL_CTX *cctx, const char *host, bool insecure)
{
    bool completed = false;
    long res = handshake2(sctx, cctx, host, insecure, &completed);
    return completed ? res : (res == X509_V_OK ? -1 : res);
}

static void test_handshakes(void **state)
{
    files *fs = *state;
    SSL_CTX *sctx = tls_server_ctx(fs->cert, fs->key, NULL, 0);
    SSL_CTX *cctx = tls_client_ctx(fs->ca, false, NULL, 0);
    SSL_CTX *sys = tls_client_ctx(NULL, false, NULL, 0);
    SSL_CTX *ins = tls_client_ctx(NULL, true, NULL, 0);
    assert_non_null(sctx);
    assert_non_null(cctx);
    assert_int_equal(handshake(sctx, cctx, "tunnel.test", false), X509_V_OK);
    assert_int_equal(handshake(sctx, cctx, "abc123def456.tunnel.test", false), X509_V_OK);
    assert_int_equal(handshake(sctx, cctx, "127.0.0.1", false), X509_V_OK);
    /* Host-name and IP mismatches are refused. */
    assert_int_equal(handshake(sctx, cctx, "evil.test", false), X509_V_ERR_HOSTNAME_MISMATCH);
    assert_int_equal(handshake(sctx, cctx, "a.b.tunnel.test", false), X509_V_ERR_HOSTNAME_MISMATCH);
    assert_int_equal(handshake(sctx, cctx, "127.0.0.2", false), X509_V_ERR_IP_ADDRESS_MISMATCH);
    /* The private CA is not in the system store. */
    bool completed = true;
    assert_int_equal(handshake2(sctx, sys, "tunnel.test", false, &completed),
                     X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    assert_false(completed);
    /* --insecure connects whatever the name and issuer (verification skipped on purpose): the
     * handshake completes although the chain does not verify. */
    completed = false;
    assert_int_equal(handshake2(sctx, ins, "evil.test", true, &completed),
                     X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    assert_true(completed);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sys);
    SSL_CTX_free(ins);
}

/* The cipher the server picks: AES-128-GCM between ttfd and ttf, and for a client that offers
 * AES-256-GCM first (OpenSSL's own default order, curl's), in TLS 1.3 and TLS 1.2. */
static void test_cipher_preference(void **state)
{
    files *fs = *state;
    SSL_CTX *sctx = tls_server_ctx(fs->cert, fs->key, NULL, 0);
    SSL_CTX *cctx = tls_client_ctx(fs->ca, false, NULL, 0);
    SSL_CTX *plain = SSL_CTX_new(TLS_client_method()); /* OpenSSL's defaults: AES-256 first */
    SSL_CTX *plain12 = SSL_CTX_new(TLS_client_method());
    assert_non_null(sctx);
    assert_non_null(cctx);
    assert_non_null(plain);
    assert_non_null(plain12);
    assert_int_equal(SSL_CTX_set_max_proto_version(plain12, TLS1_2_VERSION), 1);
    char name[64];
    bool completed = false;
    assert_int_equal(handshake3(sctx, cctx, "tunnel.test", false, &completed, name, sizeof name),
                     X509_V_OK);
    assert_true(completed);
    assert_string_equal(name, "TLS_AES_128_GCM_SHA256");
    completed = false;
    handshake3(sctx, plain, "tunnel.test", true, &completed, name, sizeof name);
    assert_true(completed);
    assert_string_equal(name, "TLS_AES_128_GCM_SHA256");
    completed = false;
    handshake3(sctx, plain12, "tunnel.test", true, &completed, name, sizeof name);
    assert_true(completed);
    assert_non_null(strstr(name, "ECDHE-"));
    assert_non_null(strstr(name, "-AES128-GCM-SHA256"));
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    SSL_CTX_free(plain);
    SSL_CTX_free(plain12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_ctx),
        cmocka_unit_test(test_server_ctx_reasons),
        cmocka_unit_test(test_server_ctx_file_shapes),
        cmocka_unit_test(test_client_ctx),
        cmocka_unit_test(test_client_ssl_names),
        cmocka_unit_test(test_handshakes),
        cmocka_unit_test(test_cipher_preference),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
