/* SPDX-License-Identifier: MIT */
/* fake_ddb_expr.h - DynamoDB's expression language for the fake DynamoDB (fake_ddb.h): condition,
 * filter and key-condition expressions (AND/OR/NOT, parentheses, = <> < <= > >=,
 * attribute_exists, attribute_not_exists, begins_with, size), update expressions (SET with + - and
 * if_not_exists, REMOVE, ADD) and projections, with #name and :value placeholders; document paths
 * one map deep (a.b: SET and REMOVE need the map, as DynamoDB's "The document path provided in
 * the update expression is invalid for update"); typed attribute values compared as DynamoDB
 * does; item sizes.
 * Owns nothing: reads the caller's request and items. */
#ifndef TESTS_FAKE_DDB_EXPR_H
#define TESTS_FAKE_DDB_EXPR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define DDB_EXPR_ERRCAP 256

typedef struct ddb_expr {
    const char *p;
    const json_t *names, *values; /* ExpressionAttributeNames / Values */
    const json_t *item;           /* the item conditions read (old item) */
    json_t *used;                 /* placeholders seen (DynamoDB refuses unused ones) */
    json_t *scratch;              /* values size() made while a condition is evaluated */
    char err[DDB_EXPR_ERRCAP];
} ddb_expr;

/* The placeholders of request req (ExpressionAttributeNames/Values); used collects the ones the
 * expressions read (DynamoDB refuses unused ones), may be NULL. */
void ddb_expr_init(ddb_expr *e, const json_t *req, json_t *used);
/* Evaluates a condition on item: 0 with *out, or -1 with e->err. */
int ddb_expr_condition(ddb_expr *e, const char *text, const json_t *item, bool *out);
/* Applies an update expression reading e->item (the old item) into nu; updated receives the names
 * it set. 0 or -1 with e->err. */
int ddb_expr_update(ddb_expr *e, const char *text, json_t *nu, json_t *updated);
/* The attributes named in a projection (new object), or a copy of item when proj is NULL. */
json_t *ddb_expr_project(ddb_expr *e, const char *proj, const json_t *item);
/* An item's size as DynamoDB counts it, near enough (names + values). */
size_t ddb_item_size(const json_t *item);

#endif
