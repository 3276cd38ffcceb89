/* SPDX-License-Identifier: MIT */
/* tls.c - OpenSSL contexts: ttfd's server context (TLS 1.2+, certificate chain + key) and ttf's
 * client context (peer and host-name verification against a CA file or the system store). */
#include "tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <string.h>

/* The most recent OpenSSL error as text, or fallback. OpenSSL keeps its strings static. */
static const char *ossl_reason(const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : fallback;
}

/* Cipher preferences of both programs (docs/architecture.md "TLS settings"): AES-128-GCM first,
 * then AES-256-GCM, then ChaCha20-Poly1305 (for CPUs without AES instructions, where clients put
 * it first). AES-128 runs 10 rounds to AES-256's 14: 5-6 % more bytes per second here (openssl
 * speed -evp, 16 KiB blocks, AES-NI + VAES), for every byte on both legs; 128-bit keys are the
 * choice of Mozilla's "intermediate" profile, Go's crypto/tls and Cloudflare. TLS 1.2: ECDHE and
 * AEAD only, in Mozilla's intermediate order. */
#define TLS13_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define TLS12_CIPHERS                                                                              \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

static int set_ciphers(SSL_CTX *ctx)
{
    return SSL_CTX_set_ciphersuites(ctx, TLS13_SUITES) == 1 &&
                   SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) == 1
               ? 0
               : -1;
}

SSL_CTX *tls_server_ctx(const char *cert_file, const char *key_file, const char **err)
{
    const char *dummy;
    if (!err)
        err = &dummy;
    if (!cert_file || !key_file) {
        *err = "both a certificate and a key file are needed";
        return NULL;
    }
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        *err = ossl_reason("cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Renegotiation and compression are attack surface a tunnel server does not need; the
     * server's cipher order decides (AES-128-GCM where the client offers it, see set_ciphers). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (set_ciphers(ctx) != 0) {
        *err = ossl_reason("cannot set the cipher preferences");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        *err = ossl_reason("cannot load the certificate file");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        *err = ossl_reason("cannot load the private key file");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        *err = ossl_reason("the private key does not match the certificate");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL_CTX *tls_client_ctx(const char *ca_file, bool insecure, const char **err)
{
    const char *dummy;
    if (!err)
        err = &dummy;
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        *err = ossl_reason("cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (set_ciphers(ctx) != 0) {
        *err = ossl_reason("cannot set the cipher preferences");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return ctx;
    }
    int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                     : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        *err = ossl_reason(ca_file ? "cannot load the CA file" : "cannot load the system CA store");
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

static bool is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

SSL *tls_client_ssl(SSL_CTX *ctx, const char *host, bool insecure)
{
    if (!ctx || !host || !*host)
        return NULL;
    SSL *ssl = SSL_new(ctx);
    if (!ssl)
        return NULL;
    bool ip = is_ip_literal(host);
    /* SNI carries DNS names only (RFC 6066 section 3). */
    if (!ip && SSL_set_tlsext_host_name(ssl, host) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    if (insecure) {
        SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL); /* whatever the context says */
    } else {
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        /* An IP literal must match an iPAddress SAN, a name a dNSName (or the CN fallback). */
        int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host) : SSL_set1_host(ssl, host);
        if (ok != 1) {
            SSL_free(ssl);
            return NULL;
        }
        SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
    }
    return ssl;
}
