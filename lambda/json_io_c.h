/* SPDX-License-Identifier: MIT */
/* json_io_c.h - the json-c half of json_io.h, in plain C: json-c's and jansson's headers cannot
 * be included in one file (both declare json_object, json_object_get, ...), so json_io.c walks
 * and builds json-c trees through these calls. Not for other modules: use json_io.h.
 * Owns: a jio_node tree from jio_c_parse or jio_c_new_* until jio_c_free. */
#ifndef LAMBDA_JSON_IO_C_H
#define LAMBDA_JSON_IO_C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct jio_node jio_node; /* a json-c json_object; NULL is JSON's null */

typedef enum { JIO_NULL, JIO_BOOL, JIO_INT, JIO_REAL, JIO_STRING, JIO_ARRAY, JIO_OBJECT } jio_type;

/* s[0..n) as one JSON object, with exactly the texts jansson's json_loadb accepts with
 * JSON_ALLOW_NUL (lib/json_text.h): NULL when it is not (or out of memory). */
jio_node *jio_c_parse(const char *s, size_t n);
void jio_c_free(jio_node *v);

jio_type jio_c_type(const jio_node *v);
bool jio_c_bool(const jio_node *v);
int64_t jio_c_int(const jio_node *v);
double jio_c_real(const jio_node *v);
const char *jio_c_string(const jio_node *v, size_t *len);
size_t jio_c_size(const jio_node *array);
const jio_node *jio_c_at(const jio_node *array, size_t i);
/* Calls fn for each member of object in order; stops at the first non-zero return (returned). */
int jio_c_members(const jio_node *object, int (*fn)(void *ud, const char *key, const jio_node *v),
                  void *ud);

/* New nodes (NULL when out of memory); jio_c_add and jio_c_append take v (also on failure;
 * v NULL adds a null). */
jio_node *jio_c_new(bool array); /* an empty array, or an empty object */
jio_node *jio_c_new_bool(bool b);
jio_node *jio_c_new_int(int64_t i);
jio_node *jio_c_new_real(double d);
jio_node *jio_c_new_string(const char *s, size_t n);
int jio_c_add(jio_node *object, const char *key, jio_node *v);
int jio_c_append(jio_node *array, jio_node *v);
/* The tree as compact JSON text (malloc'd, *len), '/' unescaped; NULL when out of memory. */
char *jio_c_dump(jio_node *v, size_t *len);

#endif
