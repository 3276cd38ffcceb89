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
/* UpdateItem SET attr = value (a string) on connection cid's record, conditional on the record
 * existing (DDB_CONDITION when it is gone). */
int store_set_connection_attr(store *s, const char *cid, const char *attr, const char *value,
                              char *err, size_t cap);
/* BatchWriteItem deletes of up to 25 keys of one table (stolen array of key objects). */
int store_batch_delete(store *s, const char *table, json_t *keys, char *err, size_t cap);

#endif
