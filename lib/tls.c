/* SPDX-License-Identifier: MIT */
/* tls.c - OpenSSL contexts: ttfd's server context (TLS 1.2+, certificate chain + key) and ttf's
 * client context (peer and host-name verification against a CA file or the system store). */
#include "tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

/* Why OpenSSL failed with what (a file named file, of PEM kind pem, or NULL), from its error
 * queue, which is emptied: a system error (fopen's errno, ERR_SYSTEM_ERROR) first, then a file
 * that holds no PEM item of the kind (PEM_R_NO_START_LINE; for a key, OpenSSL 3's decoders find
 * nothing they support: ERR_LIB_OSSL_DECODER, ERR_R_UNSUPPORTED), then a key that is not the
 * certificate's (X509_R_KEY_VALUES_MISMATCH: mismatch, when not NULL), else OpenSSL's reason of
 * the first error, else fallback. */
static void ossl_explain(char *err, size_t cap, const char *what, const char *file, const char *pem,
                         const char *mismatch, const char *fallback)
{
    unsigned long e, first = 0, sys = 0;
    bool no_pem = false, has_mismatch = false;
    while ((e = ERR_get_error()) != 0) {
        if (!first)
            first = e;
        if (ERR_SYSTEM_ERROR(e)) {
            if (!sys)
                sys = e;
        } else if ((ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) ||
                   (ERR_GET_LIB(e) == ERR_LIB_OSSL_DECODER &&
                    ERR_GET_REASON(e) == ERR_R_UNSUPPORTED)) {
            no_pem = true;
        } else if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
                   ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
            has_mismatch = true;
        }
    }
    if (!err || cap == 0)
        return;
    const char *r = first ? ERR_reason_error_string(first) : NULL;
    if (sys && file)
        snprintf(err, cap, "cannot open %s %s: %s", what, file, strerror(ERR_GET_REASON(sys)));
    else if (no_pem && file && pem)
        snprintf(err, cap, "%s %s is not a PEM %s", what, file, pem);
    else if (has_mismatch && mismatch)
        snprintf(err, cap, "%s", mismatch);
    else if (!r)
        snprintf(err, cap, "%s", fallback);
    else if (file)
        snprintf(err, cap, "%s %s: %s", what, file, r);
    else
        snprintf(err, cap, "%s: %s", fallback, r);
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

SSL_CTX *tls_server_ctx(const char *cert_file, const char *key_file, char *err, size_t cap)
{
    if (!cert_file || !key_file) {
        if (err && cap)
            snprintf(err, cap, "both a certificate and a key file are needed");
        return NULL;
    }
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        ossl_explain(err, cap, NULL, NULL, NULL, NULL, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Renegotiation and compression are attack surface a tunnel server does not need; the
     * server's cipher order decides (AES-128-GCM where the client offers it, see set_ciphers). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (set_ciphers(ctx) != 0) {
        ossl_explain(err, cap, NULL, NULL, NULL, NULL, "cannot set the cipher preferences");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        ossl_explain(err, cap, "the certificate file", cert_file, "certificate", NULL,
                     "cannot load the certificate file");
        SSL_CTX_free(ctx);
        return NULL;
    }
    char m[600];
    snprintf(m, sizeof m, "the private key %s does not match the certificate %s", key_file,
             cert_file);
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        ossl_explain(err, cap, "the private key file", key_file, "private key", m,
                     "cannot load the private key file");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ossl_explain(err, cap, NULL, NULL, NULL, m, m);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL_CTX *tls_client_ctx(const char *ca_file, bool insecure, char *err, size_t cap)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        ossl_explain(err, cap, NULL, NULL, NULL, NULL, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (set_ciphers(ctx) != 0) {
        ossl_explain(err, cap, NULL, NULL, NULL, NULL, "cannot set the cipher preferences");
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
        if (ca_file)
            ossl_explain(err, cap, "the CA file", ca_file, "certificate", NULL,
                         "cannot load the CA file");
        else
            ossl_explain(err, cap, NULL, NULL, NULL, NULL, "cannot load the system CA store");
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
