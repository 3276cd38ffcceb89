/* SPDX-License-Identifier: MIT */
/* fake_ddb_expr.c - DynamoDB's expression language for the fake DynamoDB (see fake_ddb_expr.h). */
#include "fake_ddb_expr.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- values and items ---- */

/* Size of an attribute value as DynamoDB counts it (close enough: names + data). */
static size_t value_size(const json_t *v)
{
    const char *t;
    json_t *x;
    json_object_foreach((json_t *)v, t, x)
    {
        if (strcmp(t, "B") == 0) {
            size_t n = json_string_length(x);
            return n / 4 * 3;
        }
        if (json_is_string(x))
            return json_string_length(x);
        if (json_is_boolean(x) || json_is_null(x))
            return 1;
        return 8;
    }
    return 0;
}

size_t ddb_item_size(const json_t *item)
{
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)item, k, v) n += strlen(k) + value_size(v);
    return n;
}

static const char *type_of(const json_t *v, json_t **x)
{
    const char *t;
    json_object_foreach((json_t *)v, t, *x) return t;
    *x = NULL;
    return "";
}

/* -1, 0, 1; *ok false when the two cannot be ordered (different types, BOOL). */
static int compare(const json_t *a, const json_t *b, bool *ok)
{
    json_t *xa, *xb;
    const char *ta = type_of(a, &xa), *tb = type_of(b, &xb);
    *ok = strcmp(ta, tb) == 0;
    if (!*ok)
        return 1;
    if (strcmp(ta, "N") == 0) {
        double da = strtod(json_string_value(xa), NULL), db = strtod(json_string_value(xb), NULL);
        return da < db ? -1 : da > db;
    }
    if (json_is_string(xa) && json_is_string(xb)) {
        int c = strcmp(json_string_value(xa), json_string_value(xb));
        return c < 0 ? -1 : c > 0;
    }
    if (strcmp(ta, "BOOL") == 0) {
        *ok = false;
        return json_equal(xa, xb) ? 0 : 1;
    }
    *ok = false;
    return json_equal(xa, xb) ? 0 : 1;
}

/* ---- expressions ---- */

static void skip_ws(ddb_expr *e)
{
    while (isspace((unsigned char)*e->p))
        e->p++;
}

static bool accept(ddb_expr *e, const char *tok)
{
    skip_ws(e);
    size_t n = strlen(tok);
    if (strncasecmp(e->p, tok, n) != 0)
        return false;
    if (isalpha((unsigned char)tok[0]) && (isalnum((unsigned char)e->p[n]) || e->p[n] == '_'))
        return false;
    e->p += n;
    return true;
}

static int fail(ddb_expr *e, const char *what)
{
    if (!e->err[0])
        snprintf(e->err, sizeof e->err, "Invalid expression: %s near \"%.20s\"", what, e->p);
    return -1;
}

/* An attribute name (plain or #name) into out. 0 or -1. */
static int path(ddb_expr *e, char *out, size_t cap)
{
    skip_ws(e);
    const char *s = e->p;
    if (*s == '#')
        s++;
    const char *q = s;
    while (isalnum((unsigned char)*q) || *q == '_')
        q++;
    if (q == s)
        return fail(e, "attribute name expected");
    size_t n = (size_t)(q - e->p);
    char tok[128];
    if (n >= sizeof tok)
        return fail(e, "name too long");
    memcpy(tok, e->p, n);
    tok[n] = '\0';
    e->p = q;
    const char *name = tok;
    if (tok[0] == '#' && e->used)
        json_object_set_new(e->used, tok, json_true());
    if (tok[0] == '#') {
        name = json_string_value(json_object_get(e->names, tok));
        if (!name)
            return fail(e, "undefined attribute name placeholder");
    }
    snprintf(out, cap, "%s", name);
    return 0;
}

/* A document path: an attribute, or a member of a map attribute (top.sub). */
typedef struct dpath {
    char top[128];
    char sub[128]; /* "" for a top-level attribute */
} dpath;

static int dpath_parse(ddb_expr *e, dpath *p)
{
    p->sub[0] = '\0';
    if (path(e, p->top, sizeof p->top) < 0)
        return -1;
    if (*e->p != '.')
        return 0;
    e->p++;
    return path(e, p->sub, sizeof p->sub);
}

/* The value at p in item (borrowed), NULL when absent. */
static json_t *dpath_get(const json_t *item, const dpath *p)
{
    json_t *v = json_object_get(item, p->top);
    return p->sub[0] && v ? json_object_get(json_object_get(v, "M"), p->sub) : v;
}

/* size(path) of DynamoDB: a string's or binary's length, a set's, list's or map's elements. */
static int size_of(ddb_expr *e, const json_t **v)
{
    dpath p;
    if (!accept(e, "(") || dpath_parse(e, &p) < 0 || !accept(e, ")"))
        return fail(e, "size(path) expected");
    const json_t *a = dpath_get(e->item, &p);
    *v = NULL;
    if (!a)
        return 0; /* a comparison with it is false */
    long long n = -1;
    const char *t;
    json_t *x;
    json_object_foreach((json_t *)a, t, x)
    {
        if (strcmp(t, "S") == 0)
            n = (long long)json_string_length(x);
        else if (strcmp(t, "B") == 0)
            n = (long long)(json_string_length(x) / 4 * 3); /* near enough for a test */
        else if (strcmp(t, "M") == 0)
            n = (long long)json_object_size(x);
        else if (json_is_array(x))
            n = (long long)json_array_size(x);
    }
    if (n < 0)
        return fail(e, "size() of a number or boolean");
    char b[32];
    snprintf(b, sizeof b, "%lld", n);
    if (!e->scratch)
        e->scratch = json_array();
    json_t *num = json_pack("{s:s}", "N", b);
    json_array_append_new(e->scratch, num);
    *v = num;
    return 0;
}

/* An operand: a :value, size(path) or an attribute of the item. *v borrowed (NULL: the attribute
 * is absent). */
static int operand(ddb_expr *e, const json_t **v)
{
    skip_ws(e);
    if (accept(e, "size"))
        return size_of(e, v);
    if (*e->p == ':') {
        const char *q = e->p + 1;
        while (isalnum((unsigned char)*q) || *q == '_')
            q++;
        char tok[128];
        size_t n = (size_t)(q - e->p);
        if (n >= sizeof tok)
            return fail(e, "value name too long");
        memcpy(tok, e->p, n);
        tok[n] = '\0';
        e->p = q;
        if (e->used)
            json_object_set_new(e->used, tok, json_true());
        *v = json_object_get(e->values, tok);
        return *v ? 0 : fail(e, "undefined attribute value placeholder");
    }
    dpath p;
    if (dpath_parse(e, &p) < 0)
        return -1;
    *v = dpath_get(e->item, &p);
    return 0;
}

static int cond_or(ddb_expr *e, bool *out);

static int cond_primary(ddb_expr *e, bool *out)
{
    if (accept(e, "(")) {
        if (cond_or(e, out) < 0)
            return -1;
        return accept(e, ")") ? 0 : fail(e, "')' expected");
    }
    bool exists = accept(e, "attribute_exists");
    if (exists || accept(e, "attribute_not_exists")) {
        dpath p;
        if (!accept(e, "(") || dpath_parse(e, &p) < 0 || !accept(e, ")"))
            return fail(e, "attribute_exists(path) expected");
        bool has = dpath_get(e->item, &p) != NULL;
        *out = exists ? has : !has;
        return 0;
    }
    if (accept(e, "begins_with")) {
        const json_t *a, *b;
        if (!accept(e, "(") || operand(e, &a) < 0 || !accept(e, ",") || operand(e, &b) < 0 ||
            !accept(e, ")"))
            return fail(e, "begins_with(path, value) expected");
        json_t *xa = NULL, *xb = NULL;
        if (a)
            type_of(a, &xa);
        type_of(b, &xb);
        *out = xa && json_is_string(xa) && json_is_string(xb) &&
               strncmp(json_string_value(xa), json_string_value(xb), json_string_length(xb)) == 0;
        return 0;
    }
    const json_t *a, *b;
    if (operand(e, &a) < 0)
        return -1;
    static const char *const ops[] = {"<>", "<=", ">=", "=", "<", ">"};
    size_t op = 0;
    while (op < 6 && !accept(e, ops[op]))
        op++;
    if (op == 6)
        return fail(e, "comparator expected");
    if (operand(e, &b) < 0)
        return -1;
    if (!a || !b) { /* a comparison with an absent attribute is false (also <>) */
        *out = false;
        return 0;
    }
    bool ok;
    int c = compare(a, b, &ok);
    switch (op) {
    case 0:
        *out = !ok || c != 0;
        break;
    case 3:
        *out = ok ? c == 0 : json_equal(a, b);
        break;
    case 1:
        *out = ok && c <= 0;
        break;
    case 2:
        *out = ok && c >= 0;
        break;
    case 4:
        *out = ok && c < 0;
        break;
    default:
        *out = ok && c > 0;
        break;
    }
    return 0;
}

static int cond_not(ddb_expr *e, bool *out)
{
    if (accept(e, "NOT")) {
        if (cond_not(e, out) < 0)
            return -1;
        *out = !*out;
        return 0;
    }
    return cond_primary(e, out);
}

static int cond_and(ddb_expr *e, bool *out)
{
    if (cond_not(e, out) < 0)
        return -1;
    while (accept(e, "AND")) {
        bool r;
        if (cond_not(e, &r) < 0)
            return -1;
        *out = *out && r;
    }
    return 0;
}

static int cond_or(ddb_expr *e, bool *out)
{
    if (cond_and(e, out) < 0)
        return -1;
    while (accept(e, "OR")) {
        bool r;
        if (cond_and(e, &r) < 0)
            return -1;
        *out = *out || r;
    }
    return 0;
}

/* Evaluates a whole condition on item. 0 (result in *out) or -1 (e->err). */
int ddb_expr_condition(ddb_expr *e, const char *text, const json_t *item, bool *out)
{
    e->p = text;
    e->item = item;
    int rc = cond_or(e, out);
    skip_ws(e);
    if (rc == 0 && *e->p)
        rc = fail(e, "unexpected token");
    json_decref(e->scratch);
    e->scratch = NULL;
    return rc;
}

static json_t *number(double v)
{
    char b[64];
    if (v == (double)(long long)v)
        snprintf(b, sizeof b, "%lld", (long long)v);
    else
        snprintf(b, sizeof b, "%.17g", v);
    return json_pack("{s:s}", "N", b);
}

static bool is_number(const json_t *v)
{
    return v && json_is_string(json_object_get(v, "N"));
}

static double num(const json_t *v)
{
    return strtod(json_string_value(json_object_get(v, "N")), NULL);
}

/* SET's right-hand side: operand [(+|-) operand] or if_not_exists(path, operand). New ref. */
static json_t *set_value(ddb_expr *e)
{
    const json_t *a, *b;
    if (accept(e, "if_not_exists")) {
        char name[128];
        if (!accept(e, "(") || path(e, name, sizeof name) < 0 || !accept(e, ",") ||
            operand(e, &b) < 0 || !accept(e, ")")) {
            fail(e, "if_not_exists(path, value) expected");
            return NULL;
        }
        a = json_object_get(e->item, name);
        return json_deep_copy(a ? a : b);
    }
    if (operand(e, &a) < 0)
        return NULL;
    bool plus = accept(e, "+");
    if (plus || accept(e, "-")) {
        if (operand(e, &b) < 0)
            return NULL;
        if (!is_number(a) || !is_number(b)) {
            fail(e, "An operand in the update expression has an incorrect data type");
            return NULL;
        }
        return number(plus ? num(a) + num(b) : num(a) - num(b));
    }
    if (!a) {
        fail(e, "The provided expression refers to an attribute that does not exist in the item");
        return NULL;
    }
    return json_deep_copy(a);
}

/* Applies an update expression: reads old (e->item), writes into nu. *updated receives the
 * names it set (for UPDATED_NEW). 0 or -1. */
int ddb_expr_update(ddb_expr *e, const char *text, json_t *nu, json_t *updated)
{
    e->p = text;
    enum { NONE, SET, REMOVE, ADD } mode = NONE;
    for (;;) {
        skip_ws(e);
        if (!*e->p)
            break;
        if (accept(e, "SET")) {
            mode = SET;
        } else if (accept(e, "REMOVE")) {
            mode = REMOVE;
        } else if (accept(e, "ADD")) {
            mode = ADD;
        } else if (mode == NONE) {
            return fail(e, "SET, REMOVE or ADD expected");
        }
        do {
            dpath p;
            if (dpath_parse(e, &p) < 0)
                return -1;
            const char *name = p.top;
            json_t *into = nu; /* the object the value goes in: the item, or the map of p.top */
            if (p.sub[0]) {
                into = json_object_get(json_object_get(nu, p.top), "M");
                if (!into || mode == ADD)
                    return fail(e, "The document path provided in the update expression is "
                                   "invalid for update");
                name = p.sub;
            }
            if (mode == REMOVE) {
                json_object_del(into, name);
                continue;
            }
            json_t *v = NULL;
            if (mode == SET) {
                if (!accept(e, "="))
                    return fail(e, "'=' expected");
                v = set_value(e);
            } else {
                const json_t *inc;
                if (operand(e, &inc) < 0)
                    return -1;
                const json_t *cur = json_object_get(e->item, name);
                if (!is_number(inc) || (cur && !is_number(cur)))
                    return fail(e, "ADD needs numbers");
                v = number((cur ? num(cur) : 0) + num(inc));
            }
            if (!v)
                return -1;
            json_object_set_new(into, name, v);
            json_array_append_new(updated, json_string(p.top));
        } while (accept(e, ","));
    }
    return 0;
}

/* The attributes named in a ProjectionExpression (new object), or a copy of item. */
json_t *ddb_expr_project(ddb_expr *e, const char *proj, const json_t *item)
{
    if (!proj)
        return json_deep_copy(item);
    json_t *o = json_object();
    e->p = proj;
    do {
        char name[128];
        if (path(e, name, sizeof name) < 0)
            break;
        json_t *v = json_object_get(item, name);
        if (v)
            json_object_set(o, name, v);
    } while (accept(e, ","));
    return o;
}

void ddb_expr_init(ddb_expr *e, const json_t *req, json_t *used)
{
    memset(e, 0, sizeof *e);
    e->used = used;
    e->names = json_object_get(req, "ExpressionAttributeNames");
    e->values = json_object_get(req, "ExpressionAttributeValues");
}
