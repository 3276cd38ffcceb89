/* SPDX-License-Identifier: MIT */
/* fake_ddb.h - an in-memory DynamoDB for the Lambda's unit tests, behind the transport the Lambda
 * calls AWS through (aws_http.h aws_transport): the JSON protocol (DynamoDB_20120810) of the
 * operations the Lambda uses (GetItem, PutItem, UpdateItem, DeleteItem, Query on a GSI, Scan with
 * paging, BatchGetItem, BatchWriteItem), condition, update, key-condition, filter and projection
 * expressions with #names and :values, item size (400 KB) and batch size (100 / 25) limits, and
 * AWS's error shapes (ConditionalCheckFailedException, ValidationException, ThrottlingException).
 * Faults on demand: throttling, partial batches. Counts every operation.
 * Owns: its tables and items (jansson). Not thread-safe (the tests are single-threaded). */
#ifndef TESTS_FAKE_DDB_H
#define TESTS_FAKE_DDB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "aws_http.h"

typedef struct fake_ddb fake_ddb;

fake_ddb *fake_ddb_new(void);
void fake_ddb_free(fake_ddb *d);
/* A table with a string hash key. 0 or -1. */
int fake_ddb_add_table(fake_ddb *d, const char *table, const char *hash_key);
/* A global secondary index (projection ALL) on a string attribute. */
int fake_ddb_add_gsi(fake_ddb *d, const char *table, const char *index, const char *attr);
/* The transport answering the Lambda's calls (valid while d lives). */
const aws_transport *fake_ddb_transport(fake_ddb *d);

/* The item with that key (borrowed), or NULL. */
json_t *fake_ddb_get(fake_ddb *d, const char *table, const char *key);
/* Puts an item as is (the test's own writes). 0 or -1. */
int fake_ddb_put(fake_ddb *d, const char *table, json_t *item);
size_t fake_ddb_count(fake_ddb *d, const char *table);
/* Keys of the items of a table whose key starts with prefix, as a new JSON array. */
json_t *fake_ddb_keys(fake_ddb *d, const char *table, const char *prefix);

/* How many times op ("PutItem") was called (NULL: all operations). */
unsigned fake_ddb_calls(const fake_ddb *d, const char *op);
/* The next n calls are answered ThrottlingException (HTTP 400). */
void fake_ddb_throttle(fake_ddb *d, unsigned n);
/* The next n batch calls process only the first half of their keys/items (the rest come back
 * unprocessed, as DynamoDB does under load). */
void fake_ddb_partial_batches(fake_ddb *d, unsigned n);
/* Items per Scan page (LastEvaluatedKey paging); 0: all at once. */
void fake_ddb_scan_page(fake_ddb *d, unsigned n);
/* Called before each operation is applied (req borrowed): lets a test act "meanwhile". */
void fake_ddb_on_call(fake_ddb *d, void (*fn)(void *ud, const char *op, const json_t *req),
                      void *ud);

#endif
