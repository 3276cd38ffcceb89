/* SPDX-License-Identifier: MIT */
/* b64.h - base64 (RFC 4648) on top of OpenSSL's EVP encoder.
 * Standard alphabet with padding for protocol bodies; base64url for JWKS key material.
 * Owns nothing: the caller sizes and owns every buffer (b64_encoded_len, b64_decoded_max). */
#ifndef TUNNEL_B64_H
#define TUNNEL_B64_H

#include <stddef.h>
#include <stdint.h>

/* Characters b64_encode writes for n bytes, not counting the NUL. */
size_t b64_encoded_len(size_t n);
/* Upper bound of bytes b64_decode writes for n characters. */
size_t b64_decoded_max(size_t n);

/* Encodes n bytes into out (b64_encoded_len(n)+1 bytes), NUL-terminated; returns the length. */
size_t b64_encode(const uint8_t *in, size_t n, char *out);

/* Strict decoding: length a multiple of 4, padding only at the end, no whitespace.
 * out has room for b64_decoded_max(n). Returns 0 and sets *outlen, or -1 on bad input. */
int b64_decode(const char *in, size_t n, uint8_t *out, size_t *outlen);

/* base64url, padding optional (JWK "n", "e", "k", "x", "y"). Returns 0 or -1. */
int b64url_decode(const char *in, size_t n, uint8_t *out, size_t *outlen);

#endif
