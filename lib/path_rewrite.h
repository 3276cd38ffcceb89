/* SPDX-License-Identifier: MIT */
/* path_rewrite.h - path-mode content rewriting, one implementation for ttfd (streaming, across
 * DATA/piece boundaries) and the Lambda (a whole body): makes the absolute links of an app served
 * under /<id>/ point back under /<id>/ (upstream's "FullRewrite", its bugs fixed).
 *   text/html: href/src/action attribute values (either quote, whole attribute names only),
 *     API-looking string literals ('/api/..', '/openapi.json'), and an injected
 *     window.__TUNNEL_CONTEXT__ script (basePath "/<id>") right after <head ...> (or in a <head>
 *     added after <html ...>, or before everything when the page has neither);
 *   text/css: url(...) values;  application/json: OpenAPI servers[].url and API-looking string
 *     values (never object keys);  JavaScript and everything else: unchanged.
 * Never applied to a body with a Content-Encoding, nor in subdomain mode (callers decide); a
 * rewritten body changes length: callers drop Content-Length and frame it themselves.
 *
 * Streaming: the result never depends on where the body was split. Every decision looks at most
 * PATH_REWRITE_LOOKAHEAD bytes past the octet it is about (the HTML injection point at most
 * PATH_REWRITE_INJECT_WINDOW bytes into the body); a rewriter holds back at most that many bytes
 * between two feeds. Longer constructs (a 100 KB data: URL) pass through unchanged.
 *
 * Owns: a path_rewriter owns its held-back bytes and state; a path_rewrite_buf owns its bytes. */
#ifndef TUNNEL_PATH_REWRITE_H
#define TUNNEL_PATH_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel_id.h"

#define PATH_REWRITE_LOOKAHEAD ((size_t)4096)
#define PATH_REWRITE_INJECT_WINDOW ((size_t)16384)

typedef enum {
    PATH_RW_NONE = 0, /* not rewritten */
    PATH_RW_HTML,
    PATH_RW_CSS,
    PATH_RW_JSON,
    PATH_RW_JS, /* recognised, left unchanged */
} path_rewrite_kind;

/* Which rewrite applies to a response with these Content-Type / Content-Encoding values (either
 * may be NULL). PATH_RW_NONE when the type is not rewritable or the body is encoded (any coding
 * but identity). */
path_rewrite_kind path_rewrite_kind_for(const char *content_type, const char *content_encoding);

/* True when the kind changes bodies (HTML, CSS, JSON). */
bool path_rewrite_changes(path_rewrite_kind k);

/* A Location (or Content-Location) value in path mode: "/x" -> "/<tid>/x". A malloc'd new value,
 * or NULL when it stays (absolute URLs, protocol-relative, relative, already under /<tid>) or on
 * ENOMEM. */
char *path_rewrite_location(const char *tid, const char *location);

/* Path mode, the response head's URL fields: Location, Content-Location, and the URL after
 * "url=" in Refresh ("0; url=/login"), each through path_rewrite_location; every field keeps
 * its place. ttfd and the Lambda both use this (one rule for both back-ends). 0, or -1 on
 * ENOMEM (the fields left are unchanged). */
struct http_headers;
int path_rewrite_head_urls(const char *tid, struct http_headers *h);

/* Path mode, a final response's head: the one rule for ttfd and the Lambda, decided from the
 * fields alone so that an answer without a body carries the fields the answer with it gets
 * (HEAD's are those GET's would be, RFC 9110 §9.3.2; a 304's validators are the 200's, §15.4.5).
 * The URL fields go through path_rewrite_head_urls. Then, when a body of this type is rewritten
 * (path_rewrite_kind_for and path_rewrite_changes):
 *   Content-Length and Content-MD5 are removed (the new length is known only once rewritten; the
 *     digest is the app's bytes'), a strong ETag becomes weak (W/"x": the same content, other
 *     bytes, RFC 9110 §8.8.1; the app still matches W/"x" in If-None-Match by weak comparison,
 *     and never in If-Range, which needs a strong one, so no range of its bytes is asked as
 *     ours), and X-Tunnel-Rewrite-Applied: true is added;
 *   a 206 (a range of the app's bytes, counted by its Content-Range) cannot be rewritten: it
 *     passes unchanged, strong ETag included, so that nothing labels it as the rewritten body.
 * A 304 without Content-Type has its strong ETag made weak too (the 200 it stands for most
 * likely had it made weak: W/ matches either by weak comparison).
 * Clear-Site-Data is removed (every tunnel here is one origin: its "storage" would be all of
 * theirs) and Service-Worker-Allowed kept under "/<tid>/".
 * status: the final status (200..599); bodiless: no body follows (HEAD, 204, 304).
 * Returns the kind the body goes through, PATH_RW_NONE when it passes unchanged (or there is
 * none), or -1 on ENOMEM (fields partly changed; the caller answers 502). */
int path_rewrite_response_head(const char *tid, int status, bool bodiless, struct http_headers *h);

/* An output buffer the caller keeps across feeds (reset len to reuse it). */
typedef struct path_rewrite_buf {
    uint8_t *p;
    size_t len, cap;
} path_rewrite_buf;

void path_rewrite_buf_free(path_rewrite_buf *b);

typedef struct path_rewriter path_rewriter;

/* A rewriter of one body for tunnel tid (a valid tunnel name). NULL on ENOMEM. */
path_rewriter *path_rewriter_new(path_rewrite_kind k, const char *tid);
void path_rewriter_free(path_rewriter *rw); /* NULL is allowed */

/* Feeds in[0..len) (the next body bytes) and appends the rewritten bytes that are decided to
 * out; final: the body ends with these bytes (everything held back is written). 0, or -1 on
 * ENOMEM (the rewriter is then unusable). */
int path_rewriter_feed(path_rewriter *rw, const uint8_t *in, size_t len, bool final,
                       path_rewrite_buf *out);
/* True once the rewriter changed anything (so far). */
bool path_rewriter_changed(const path_rewriter *rw);
/* Bytes held back, waiting for more input. */
size_t path_rewriter_pending(const path_rewriter *rw);

/* A whole body at once. 1 and a malloc'd *out (length *out_len) when it changed, 0 when it did
 * not (*out NULL), -1 on ENOMEM. */
int path_rewrite_body(path_rewrite_kind k, const char *tid, const uint8_t *body, size_t len,
                      uint8_t **out, size_t *out_len);

#endif
