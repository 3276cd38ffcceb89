/* SPDX-License-Identifier: MIT */
/* json_io.h - JSON text in and out of jansson trees for the Lambda's large documents: the events
 * (a $default event carries a 128 KB message), DynamoDB's requests and responses (body pieces of
 * 93 KiB, BatchGetItem answers of up to 16 MB) and the HTTP API answer (up to 5.6 MB of base64).
 * jansson reads and writes a long string one code point at a time, ~45 MB/s here; json-c's
 * tokener and serializer move it in runs, 10-15 times faster (docs/serverless-bench.md). So the
 * text is parsed by json-c (lib/json_text: exactly the texts jansson's json_loadb(..., 0, ...)
 * accepts) and the tree rebuilt in jansson, whose API every handler uses; and written the other
 * way round. The trees are the same as jansson's own with JSON_ALLOW_NUL: member order kept,
 * duplicate keys last wins, integers int64, strings well-formed UTF-8 that may hold NUL ("\u0000":
 * API Gateway decodes what a client sent into events, a %00 of a query parameter or of rawPath, a
 * NUL byte of a text body; read them with json_string_length). A key holding "\u0000" is cut
 * there (jansson refuses it): only queryStringParameters' keys can, which no handler reads.
 * Owns nothing: returns new references / malloc'd text. */
#ifndef LAMBDA_JSON_IO_H
#define LAMBDA_JSON_IO_H

#include <jansson.h>
#include <stddef.h>

/* s[0..n) as a JSON object (a new reference), or NULL when it is not JSON text jansson accepts
 * (with JSON_ALLOW_NUL), not an object, or memory ran out. */
json_t *json_io_load(const char *s, size_t n);
/* v as compact JSON text (malloc'd, NUL-terminated, *len its length; len may be NULL), or NULL
 * when out of memory. */
char *json_io_dump(const json_t *v, size_t *len);

#endif
