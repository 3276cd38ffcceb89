/* SPDX-License-Identifier: MIT */
/* cert_fixture.h - X.509 certificates made in memory for the TLS tests (test_tls.c, the conn
 * fixture of test_conn_tls.c): EC P-256 keys, and a certificate for a key, self-signed or
 * signed by an issuer, either a CA (basicConstraints CA:TRUE, keyCertSign) or an end entity
 * (CA:FALSE and a subjectAltName), valid from an hour ago for two hours. A failure fails the
 * running test (cmocka). Compiled once in the unit tests' support library (cert_fixture.c). */
#ifndef TTF_TEST_CERT_FIXTURE_H
#define TTF_TEST_CERT_FIXTURE_H

#include <stdbool.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* A fresh P-256 key (EVP_PKEY_free it). */
EVP_PKEY *cert_key(void);

/* A certificate for key with subject CN cn, signed by issuer_key under issuer's name, or
 * self-signed when issuer is NULL. ca: a CA certificate (san ignored); else an end entity whose
 * subjectAltName is san in OpenSSL's config form ("DNS:a.test,IP:127.0.0.1"). X509_free it. */
X509 *cert_make(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, const char *san,
                bool ca);

#endif
