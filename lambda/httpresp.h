/* SPDX-License-Identifier: MIT */
/* httpresp.h - building HTTP API (payload format 2.0) responses for the Lambda to return:
 * headers merged case-insensitively into one "v1, v2" value per name, every Set-Cookie as its own
 * entry of "cookies", the response rules of lib/proxy.h applied (hop-by-hop and
 * Connection-listed fields dropped), the body base64 (binary safe).
 * Owns nothing: returns malloc'd JSON text. */
#ifndef LAMBDA_HTTPRESP_H
#define LAMBDA_HTTPRESP_H

#include <stddef.h>
#include <stdint.h>

#include "edge_answer.h"
#include "http1.h"

/* The agent's response as a 2.0 response document. NULL when out of memory. */
char *httpresp_build(int status, const http_headers *h, const uint8_t *body, size_t len,
                     size_t *out_len);
/* A short text/plain answer: text + "\n", with Retry-After as edge_answer_retry_after says. */
char *httpresp_text(int status, const char *text, size_t *out_len);
/* The edges' own answer for a situation (edge_answer.h), as ttfd gives it; its status in
 * *status. */
char *httpresp_answer(edge_answer_id id, int *status, size_t *out_len);

/* The header list of an agent message as the JSON object stored in DynamoDB
 * ({"name":["v1","v2"]}) and back. */
char *httpresp_headers_to_json(const http_headers *h);
int httpresp_headers_from_json(const char *json, http_headers *out);

#endif
