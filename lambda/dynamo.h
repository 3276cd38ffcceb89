/* SPDX-License-Identifier: MIT */
/* dynamo.h - the DynamoDB JSON API (DynamoDB_20120810) over aws_http: one call per operation,
 * typed attribute values built and read with jansson.
 * Owns nothing beyond a call: request objects are the caller's, responses are handed over. */
#ifndef LAMBDA_DYNAMO_H
#define LAMBDA_DYNAMO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "aws_http.h"

typedef struct ddb {
    aws_client *http;
    const char *endpoint; /* "https://dynamodb.us-east-1.amazonaws.com" or an override */
} ddb;

enum {
    DDB_OK = 0,
    DDB_ERR = -1,       /* transport, throttling after retries, or a service error */
    DDB_CONDITION = -2, /* ConditionalCheckFailedException */
};

/* Calls operation op ("PutItem") with the request object req (borrowed). On DDB_OK *out (when
 * out is non-NULL) receives the parsed response (caller json_decref). Throttling and 5xx are
 * retried a few times. On DDB_ERR a reason is in err. */
int ddb_call(ddb *d, const char *op, json_t *req, json_t **out, char *err, size_t errcap);

/* The X-Amz-Target header value for op: "X-Amz-Target: DynamoDB_20120810.PutItem". */
int ddb_target_header(char *out, size_t cap, const char *op);

/* Attribute values (new references). */
json_t *ddb_s(const char *s);              /* {"S":s} */
json_t *ddb_n(int64_t v);                  /* {"N":"v"} */
json_t *ddb_b(const uint8_t *p, size_t n); /* {"B":base64} ; empty becomes {"B":""} */
json_t *ddb_bool(int v);                   /* {"BOOL":v} */

/* Reading an item ({"name":{"S":...}}): NULL / -1 when absent or of another type. */
const char *ddb_get_s(const json_t *item, const char *name);
int ddb_get_n(const json_t *item, const char *name, int64_t *out);
int ddb_get_bool(const json_t *item, const char *name, int *out);
/* Decodes a B attribute into a malloc'd buffer (*out NULL and *len 0 for an empty one). */
int ddb_get_b(const json_t *item, const char *name, uint8_t **out, size_t *len);

/* {"name": {"S": value}} - a key with one string attribute. */
json_t *ddb_key_s(const char *name, const char *value);

#endif
