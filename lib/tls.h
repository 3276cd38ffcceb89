/* SPDX-License-Identifier: MIT */
/* tls.h - OpenSSL contexts for ttfd (server certificate) and ttf (verifying client).
 * Owns nothing: every SSL_CTX and SSL returned is the caller's (SSL_CTX_free, SSL_free). */
#ifndef TUNNEL_TLS_H
#define TUNNEL_TLS_H

#include <stdbool.h>
#include <openssl/ssl.h>

/* Server context from PEM files. NULL with a reason in err[0..cap) (err may be NULL), naming the
 * file and what is wrong with it, from OpenSSL's error queue (emptied): "cannot open the
 * certificate file /x: No such file or directory" (a system error: its errno's text), "/x is not
 * a PEM certificate" (no PEM item of that kind in it, e.g. a key given as the certificate),
 * "the private key /k does not match the certificate /c", else OpenSSL's reason. */
SSL_CTX *tls_server_ctx(const char *cert_file, const char *key_file, char *err, size_t cap);
/* Client context: verifies peers against ca_file (NULL: the system store) unless insecure.
 * NULL with a reason in err[0..cap) as tls_server_ctx gives it. */
SSL_CTX *tls_client_ctx(const char *ca_file, bool insecure, char *err, size_t cap);
/* A client SSL for one connection: SNI and host-name verification set for host. NULL on error. */
SSL *tls_client_ssl(SSL_CTX *ctx, const char *host, bool insecure);

#endif
