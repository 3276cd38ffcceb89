/* SPDX-License-Identifier: MIT */
/* store_int.h - what store.c and store_pending.c share (not part of store.h's interface). */
#ifndef LAMBDA_STORE_INT_H
#define LAMBDA_STORE_INT_H

#include <jansson.h>
#include <stddef.h>

#include "store.h"

#define PIECE_KEY_MAX 512

/* "out of memory" into err; -1. */
int store_oom(char *err, size_t cap);
/* Runs op with req (stolen), discarding the response. */
int store_run(store *s, const char *op, json_t *req, char *err, size_t cap);
/* GetItem, consistent. 0 with *item, 1 when absent. */
int store_get_item(store *s, const char *table, const char *key_name, const char *key,
                   json_t **item, char *err, size_t cap);
/* A connection record's tunnelId and sub into out: 0, or 1 when it has no tunnelId. */
int store_conn_rec_of(const json_t *item, conn_rec *out);
/* UpdateItem SET attr = value (a string) on connection cid's record, conditional on the record
 * existing (DDB_CONDITION when it is gone). */
int store_set_connection_attr(store *s, const char *cid, const char *attr, const char *value,
                              char *err, size_t cap);
/* Deletes items of one table as their keys come, in BatchWriteItem requests of 25 (DynamoDB's
 * limit per request; unprocessed items sent again): store_deleter_add for each key, then
 * store_deleter_finish. Holds one batch at a time. */
typedef struct store_deleter {
    store *s;
    const char *table;
    const char *key_name; /* the table's hash key */
    json_t *keys;         /* the batch being filled, NULL before its first key */
    int rc;               /* -1 once a batch failed or memory ran out (the others still go) */
} store_deleter;
void store_deleter_add(store_deleter *d, const char *key, char *err, size_t cap);
/* Sends the last batch: 0, or -1 when any batch failed (err says why). */
int store_deleter_finish(store_deleter *d, char *err, size_t cap);

#endif
