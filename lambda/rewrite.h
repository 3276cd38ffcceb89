/* SPDX-License-Identifier: MIT */
/* rewrite.h - path-mode content rewriting (upstream's "FullRewrite", its bugs fixed): makes
 * absolute links of an app served under /<id>/ point back under /<id>/.
 *   text/html: href/src/action attribute values (either quote, whole attribute names only),
 *     API-looking string literals, and an injected window.__TUNNEL_CONTEXT__ (basePath "/<id>");
 *   text/css: url(...) values;  application/json: OpenAPI servers[0].url and API-looking string
 *     values (never object keys);  JavaScript: unchanged.
 * Never applied to a body with a Content-Encoding, nor in subdomain mode (callers decide).
 * Owns: nothing; results are malloc'd for the caller. */
#ifndef LAMBDA_REWRITE_H
#define LAMBDA_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { RW_NONE = 0, RW_HTML, RW_CSS, RW_JSON, RW_JS } rewrite_kind;

/* Which rewrite applies to a response with these Content-Type / Content-Encoding values (either
 * may be NULL). RW_NONE when the type is not rewritable or the body is encoded. */
rewrite_kind rewrite_kind_for(const char *content_type, const char *content_encoding);

/* Rewrites body for tunnel tid. Returns 1 and a malloc'd out (length out_len) when it changed,
 * 0 when unchanged (*out NULL), -1 when out of memory. */
int rewrite_body(rewrite_kind k, const char *tid, const uint8_t *body, size_t len, uint8_t **out,
                 size_t *out_len);

/* A Location value in path mode: "/x" -> "/<tid>/x". malloc'd new value, or NULL when it stays
 * (absolute URLs, protocol-relative, already under /<tid>). */
char *rewrite_location(const char *tid, const char *location);

#endif
