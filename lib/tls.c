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
#include <sys/stat.h>
#include <time.h>

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

/* What is wrong with file before OpenSSL reads it (OpenSSL's own reasons for these are "no start
 * line" or a decoder's "unsupported"): a directory, an empty file, or DER (binary: an ASN.1
 * SEQUENCE, 0x30, where PEM text is wanted; convert names the openssl command that turns it into
 * PEM). True with the reason in err[0..cap); false when none of these, or when file cannot be
 * read at all (OpenSSL then names the system error). */
static bool file_shape(char *err, size_t cap, const char *what, const char *file,
                       const char *convert)
{
    struct stat st;
    if (!err || cap == 0 || stat(file, &st) != 0)
        return false;
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, cap, "%s %s is a directory: give the PEM file in it", what, file);
        return true;
    }
    if (S_ISREG(st.st_mode) && st.st_size == 0) {
        snprintf(err, cap, "%s %s is empty", what, file);
        return true;
    }
    FILE *f = fopen(file, "rb");
    if (!f)
        return false;
    char head[4096];
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    /* DER opens with a SEQUENCE; a text file that happens to start with '0' holds a PEM line */
    if (n == 0 || head[0] != 0x30 || memmem(head, n, "-----BEGIN ", 11))
        return false;
    snprintf(err, cap,
             "%s %s is DER (binary), not PEM: convert it with `openssl %s -inform DER -in %s -out "
             "%s.pem`",
             what, file, convert, file, file);
    return true;
}

/* The pem_password_cb of every file ttfd loads: never a prompt on the terminal (a service has
 * none; in a shell the server would wait for a passphrase at start). *asked (u, when not NULL)
 * notes that the file was encrypted. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    if (u)
        *(bool *)u = true;
    return -1;
}

/* A key that does not match the first certificate of cert_file but a later one: the chain is in
 * the wrong order (the server's own certificate must come first, RFC 8446 section 4.4.2). Leaves
 * OpenSSL's error queue as it found it. */
static bool chain_out_of_order(const char *cert_file, const char *key_file)
{
    ERR_set_mark();
    FILE *kf = fopen(key_file, "r");
    if (!kf) {
        ERR_pop_to_mark();
        return false;
    }
    EVP_PKEY *key = PEM_read_PrivateKey(kf, NULL, no_passphrase, NULL);
    fclose(kf);
    FILE *cf = key ? fopen(cert_file, "r") : NULL;
    bool later = false;
    X509 *x;
    for (int i = 0; cf && !later && (x = PEM_read_X509(cf, NULL, no_passphrase, NULL)) != NULL;
         i++) {
        later = i > 0 && X509_check_private_key(x, key) == 1;
        X509_free(x);
    }
    if (cf)
        fclose(cf);
    EVP_PKEY_free(key);
    ERR_pop_to_mark();
    return later;
}

/* The reason a key that does not fit the certificate gets, in m[0..cap). */
static void mismatch_reason(char *m, size_t cap, const char *cert_file, const char *key_file)
{
    if (chain_out_of_order(cert_file, key_file))
        snprintf(m, cap,
                 "the certificate file %s is in the wrong order: the server's own certificate "
                 "(the one for the private key %s) must come first, then its intermediates",
                 cert_file, key_file);
    else
        snprintf(m, cap, "the private key %s does not match the certificate %s", key_file,
                 cert_file);
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
    bool encrypted = false;
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, &encrypted);
    char m[600];
    if (file_shape(err, cap, "the certificate file", cert_file, "x509") ||
        file_shape(err, cap, "the private key file", key_file, "pkey"))
        goto fail;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        ossl_explain(err, cap, "the certificate file", cert_file, "certificate", NULL,
                     "cannot load the certificate file");
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        mismatch_reason(m, sizeof m, cert_file, key_file);
        ossl_explain(err, cap, "the private key file", key_file, "private key", m,
                     "cannot load the private key file");
        if (encrypted && err && cap)
            snprintf(err, cap,
                     "the private key file %s is encrypted with a passphrase, which ttfd cannot "
                     "ask for: decrypt it once (`openssl pkey -in %s -out plain.pem`, mode 600)",
                     key_file, key_file);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        mismatch_reason(m, sizeof m, cert_file, key_file);
        ossl_explain(err, cap, NULL, NULL, NULL, m, m);
        goto fail;
    }
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    return ctx;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

bool tls_server_cert_warning(SSL_CTX *ctx, const char *cert_file, char *warn, size_t cap)
{
    X509 *x = ctx ? SSL_CTX_get0_certificate(ctx) : NULL;
    if (!x || !warn || cap == 0)
        return false;
    const ASN1_TIME *after = X509_get0_notAfter(x), *before = X509_get0_notBefore(x);
    bool expired = X509_cmp_current_time(after) < 0;
    bool early = !expired && X509_cmp_current_time(before) > 0;
    struct tm tm;
    char when[32] = "?";
    if ((expired || early) && ASN1_TIME_to_tm(expired ? after : before, &tm) == 1)
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    ERR_clear_error();
    if (expired)
        snprintf(warn, cap, "the certificate %s expired on %s: clients will refuse it", cert_file,
                 when);
    else if (early)
        snprintf(warn, cap, "the certificate %s is not valid before %s: clients will refuse it",
                 cert_file, when);
    return expired || early;
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
    if (ca_file && file_shape(err, cap, "the CA file", ca_file, "x509")) {
        SSL_CTX_free(ctx);
        return NULL;
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

bool tls_error_plain_peer(unsigned long e)
{
    return ERR_GET_LIB(e) == ERR_LIB_SSL && (ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER ||
                                             ERR_GET_REASON(e) == SSL_R_PACKET_LENGTH_TOO_LONG);
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
