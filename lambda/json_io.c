/* SPDX-License-Identifier: MIT */
/* json_io.c - JSON text through json-c into and out of jansson trees (json_io.h). */
#include "json_io.h"

#include "json_io_c.h"

static json_t *from_c(const jio_node *v);

static int add_member(void *ud, const char *key, const jio_node *v)
{
    json_t *m = from_c(v);
    /* keys and strings passed lib/json_text's lexical check: well-formed UTF-8; a key is cut at
     * a NUL (json-c), a string keeps it (json_io.h) */
    return m && json_object_set_new_nocheck(ud, key, m) == 0 ? 0 : -1;
}

static json_t *from_c(const jio_node *v)
{
    switch (jio_c_type(v)) {
    case JIO_NULL:
        return json_null();
    case JIO_BOOL:
        return json_boolean(jio_c_bool(v));
    case JIO_INT:
        return json_integer(jio_c_int(v));
    case JIO_REAL:
        return json_real(jio_c_real(v));
    case JIO_STRING: {
        size_t n;
        const char *s = jio_c_string(v, &n);
        return json_stringn_nocheck(s, n);
    }
    case JIO_ARRAY: {
        json_t *a = json_array();
        for (size_t i = 0, n = jio_c_size(v); a && i < n; i++) {
            json_t *x = from_c(jio_c_at(v, i));
            if (!x || json_array_append_new(a, x) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    case JIO_OBJECT: {
        json_t *o = json_object();
        if (o && jio_c_members(v, add_member, o) != 0) {
            json_decref(o);
            return NULL;
        }
        return o;
    }
    }
    return NULL;
}

json_t *json_io_load(const char *s, size_t n)
{
    jio_node *c = jio_c_parse(s, n);
    if (!c)
        return NULL;
    json_t *v = from_c(c);
    jio_c_free(c);
    return v;
}

static jio_node *to_c(const json_t *v, bool *ok);

/* An object's members into a new json-c object. */
static jio_node *object_to_c(const json_t *v, bool *ok)
{
    jio_node *o = jio_c_new(false);
    *ok = o != NULL;
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)v, k, m)
    {
        if (!*ok)
            break;
        jio_node *x = to_c(m, ok); /* added even when incomplete: freed with o */
        if (jio_c_add(o, k, x) != 0)
            *ok = false;
    }
    return o;
}

/* v in json-c; *ok false when memory ran out (NULL alone is JSON's null). */
static jio_node *to_c(const json_t *v, bool *ok)
{
    jio_node *x = NULL;
    *ok = true;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return object_to_c(v, ok);
    case JSON_ARRAY:
        x = jio_c_new(true);
        *ok = x != NULL;
        for (size_t i = 0; *ok && i < json_array_size(v); i++) {
            jio_node *e = to_c(json_array_get(v, i), ok);
            if (jio_c_append(x, e) != 0)
                *ok = false;
        }
        return x;
    case JSON_STRING:
        x = jio_c_new_string(json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        x = jio_c_new_int(json_integer_value(v));
        break;
    case JSON_REAL:
        x = jio_c_new_real(json_real_value(v));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        x = jio_c_new_bool(json_is_true(v));
        break;
    default:
        return NULL; /* null */
    }
    *ok = x != NULL;
    return x;
}

char *json_io_dump(const json_t *v, size_t *len)
{
    bool ok = true;
    jio_node *c = v ? to_c(v, &ok) : NULL;
    size_t n = 0;
    char *s = ok && c ? jio_c_dump(c, &n) : NULL;
    jio_c_free(c);
    if (s && len)
        *len = n;
    return s;
}
