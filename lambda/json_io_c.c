/* SPDX-License-Identifier: MIT */
/* json_io_c.c - the json-c half of json_io (json_io_c.h). */
#include "json_io_c.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "json_text.h"

static json_object *jo(const jio_node *v)
{
    return (json_object *)(void *)v; /* json-c's getters take non-const objects */
}

jio_node *jio_c_parse(const char *s, size_t n)
{
    json_text_status st;
    return (jio_node *)json_text_parse_object(s, n, JSON_TEXT_ALLOW_NUL, &st);
}

void jio_c_free(jio_node *v)
{
    json_object_put(jo(v));
}

jio_type jio_c_type(const jio_node *v)
{
    switch (json_object_get_type(jo(v))) {
    case json_type_boolean:
        return JIO_BOOL;
    case json_type_int:
        return JIO_INT;
    case json_type_double:
        return JIO_REAL;
    case json_type_string:
        return JIO_STRING;
    case json_type_array:
        return JIO_ARRAY;
    case json_type_object:
        return JIO_OBJECT;
    default:
        return JIO_NULL;
    }
}

bool jio_c_bool(const jio_node *v)
{
    return json_object_get_boolean(jo(v)) != 0;
}

int64_t jio_c_int(const jio_node *v)
{
    return json_object_get_int64(jo(v));
}

double jio_c_real(const jio_node *v)
{
    return json_object_get_double(jo(v));
}

const char *jio_c_string(const jio_node *v, size_t *len)
{
    *len = (size_t)json_object_get_string_len(jo(v));
    return json_object_get_string(jo(v));
}

size_t jio_c_size(const jio_node *array)
{
    return json_object_array_length(jo(array));
}

const jio_node *jio_c_at(const jio_node *array, size_t i)
{
    return (const jio_node *)json_object_array_get_idx(jo(array), i);
}

int jio_c_members(const jio_node *object, int (*fn)(void *ud, const char *key, const jio_node *v),
                  void *ud)
{
    json_object_object_foreach(jo(object), k, v)
    {
        int rc = fn(ud, k, (const jio_node *)v);
        if (rc != 0)
            return rc;
    }
    return 0;
}

jio_node *jio_c_new(bool array)
{
    return (jio_node *)(array ? json_object_new_array() : json_object_new_object());
}

jio_node *jio_c_new_bool(bool b)
{
    return (jio_node *)json_object_new_boolean(b);
}

jio_node *jio_c_new_int(int64_t i)
{
    return (jio_node *)json_object_new_int64(i);
}

jio_node *jio_c_new_real(double d)
{
    return (jio_node *)json_object_new_double(d);
}

jio_node *jio_c_new_string(const char *s, size_t n)
{
    return n > INT_MAX ? NULL : (jio_node *)json_object_new_string_len(s, (int)n);
}

int jio_c_add(jio_node *object, const char *key, jio_node *v)
{
    if (json_object_object_add(jo(object), key, jo(v)) != 0) {
        json_object_put(jo(v));
        return -1;
    }
    return 0;
}

int jio_c_append(jio_node *array, jio_node *v)
{
    if (json_object_array_add(jo(array), jo(v)) != 0) {
        json_object_put(jo(v));
        return -1;
    }
    return 0;
}

char *jio_c_dump(jio_node *v, size_t *len)
{
    size_t n;
    const char *s = json_object_to_json_string_length(
        jo(v), JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    char *out = s ? malloc(n + 1) : NULL;
    if (!out)
        return NULL;
    memcpy(out, s, n + 1);
    *len = n;
    return out;
}
