/* SPDX-License-Identifier: MIT */
/* tls.h - OpenSSL contexts for ttfd (server certificate) and ttf (verifying client).
 * Owns nothing: every SSL_CTX and SSL returned is the caller's (SSL_CTX_free, SSL_free). */
#ifndef TUNNEL_TLS_H
#define TUNNEL_TLS_H

#include <stdbool.h>
#include <openssl/ssl.h>

/* Server context from PEM files. NULL with a reason in err (static or OpenSSL's). */
SSL_CTX *tls_server_ctx(const char *cert_file, const char *key_file, const char **err);
/* Client context: verifies peers against ca_file (NULL: the system store) unless insecure. */
SSL_CTX *tls_client_ctx(const char *ca_file, bool insecure, const char **err);
/* A client SSL for one connection: SNI and host-name verification set for host. NULL on error. */
SSL *tls_client_ssl(SSL_CTX *ctx, const char *host, bool insecure);

#endif
