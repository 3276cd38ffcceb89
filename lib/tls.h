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
 * "the private key /k does not match the certificate /c", else OpenSSL's reason. Before OpenSSL
 * reads them: "/x is a directory: ...", "/x is empty", "/x is DER (binary), not PEM: convert it
 * with `openssl ...`". A key encrypted with a passphrase is refused without a prompt ("... is
 * encrypted with a passphrase, which ttfd cannot ask for: ..."); a chain whose first certificate
 * is not the key's but a later one is "in the wrong order". */
SSL_CTX *tls_server_ctx(const char *cert_file, const char *key_file, char *err, size_t cap);
/* True with a warning in warn[0..cap) when the server certificate of ctx (loaded from cert_file)
 * is outside its validity period now: "the certificate /c expired on 2020-01-02 00:00:00 UTC:
 * clients will refuse it" (or "is not valid before ..."). ttfd starts anyway, as nginx does. */
bool tls_server_cert_warning(SSL_CTX *ctx, const char *cert_file, char *warn, size_t cap);
/* Client context: verifies peers against ca_file (NULL: the system store) unless insecure.
 * NULL with a reason in err[0..cap) as tls_server_ctx gives it (a directory, an empty or a DER
 * ca_file named as such). */
SSL_CTX *tls_client_ctx(const char *ca_file, bool insecure, char *err, size_t cap);
/* True when a client handshake failed with e (conn_tls_error) because the peer answered its
 * ClientHello in plain text: a plain HTTP listener's "HTTP/1.1 400 ...", which OpenSSL reads as
 * a record of a wrong version (or an absurd length). */
bool tls_error_plain_peer(unsigned long e);
/* A client SSL for one connection: SNI and host-name verification set for host. NULL on error. */
SSL *tls_client_ssl(SSL_CTX *ctx, const char *host, bool insecure);

#endif
