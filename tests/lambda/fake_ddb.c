/* SPDX-License-Identifier: MIT */
/* fake_ddb.c - the in-memory DynamoDB of the Lambda's unit tests (see fake_ddb.h). */
#include "fake_ddb.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ITEM_MAX 400000 /* bytes: DynamoDB's item size limit (400 KB) */
#define ERRCAP 256

struct fake_ddb {
    json_t *tables; /* name -> {"key": hash key, "gsi": {index: attr}, "items": {key: item}} */
    json_t *calls;  /* op -> count */
    unsigned throttle, partial, scan_page;
    void (*on_call)(void *ud, const char *op, const json_t *req);
    void *on_call_ud;
    aws_transport tr;
};

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

static size_t item_size(const json_t *item)
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

typedef struct expr {
    const char *p;
    const json_t *names, *values; /* ExpressionAttributeNames / Values */
    const json_t *item;           /* the item conditions read (old item) */
    json_t *used;                 /* placeholders seen (DynamoDB refuses unused ones) */
    char err[ERRCAP];
} expr;

static void skip_ws(expr *e)
{
    while (isspace((unsigned char)*e->p))
        e->p++;
}

static bool accept(expr *e, const char *tok)
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

static int fail(expr *e, const char *what)
{
    if (!e->err[0])
        snprintf(e->err, sizeof e->err, "Invalid expression: %s near \"%.20s\"", what, e->p);
    return -1;
}

/* An attribute name (plain or #name) into out. 0 or -1. */
static int path(expr *e, char *out, size_t cap)
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

/* An operand: a :value or an attribute of the item. *v borrowed (NULL: the attribute is absent). */
static int operand(expr *e, const json_t **v)
{
    skip_ws(e);
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
    char name[128];
    if (path(e, name, sizeof name) < 0)
        return -1;
    *v = json_object_get(e->item, name);
    return 0;
}

static int cond_or(expr *e, bool *out);

static int cond_primary(expr *e, bool *out)
{
    if (accept(e, "(")) {
        if (cond_or(e, out) < 0)
            return -1;
        return accept(e, ")") ? 0 : fail(e, "')' expected");
    }
    bool exists = accept(e, "attribute_exists");
    if (exists || accept(e, "attribute_not_exists")) {
        char name[128];
        if (!accept(e, "(") || path(e, name, sizeof name) < 0 || !accept(e, ")"))
            return fail(e, "attribute_exists(path) expected");
        bool has = json_object_get(e->item, name) != NULL;
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

static int cond_not(expr *e, bool *out)
{
    if (accept(e, "NOT")) {
        if (cond_not(e, out) < 0)
            return -1;
        *out = !*out;
        return 0;
    }
    return cond_primary(e, out);
}

static int cond_and(expr *e, bool *out)
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

static int cond_or(expr *e, bool *out)
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
static int condition(expr *e, const char *text, const json_t *item, bool *out)
{
    e->p = text;
    e->item = item;
    if (cond_or(e, out) < 0)
        return -1;
    skip_ws(e);
    return *e->p ? fail(e, "unexpected token") : 0;
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
static json_t *set_value(expr *e)
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
static int update(expr *e, const char *text, json_t *nu, json_t *updated)
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
            char name[128];
            if (path(e, name, sizeof name) < 0)
                return -1;
            if (mode == REMOVE) {
                json_object_del(nu, name);
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
            json_object_set_new(nu, name, v);
            json_array_append_new(updated, json_string(name));
        } while (accept(e, ","));
    }
    return 0;
}

/* The attributes named in a ProjectionExpression (new object), or a copy of item. */
static json_t *project(expr *e, const char *proj, const json_t *item)
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

/* ---- operations ---- */

typedef struct call {
    fake_ddb *d;
    const json_t *req;
    json_t *resp;      /* the answer body (object) */
    json_t *used;      /* placeholders the request's expressions used */
    const char *etype; /* error __type, NULL when ok */
    char emsg[ERRCAP];
} call;

static int error(call *c, const char *type, const char *msg)
{
    c->etype = type;
    snprintf(c->emsg, sizeof c->emsg, "%s", msg);
    return -1;
}

static json_t *table_of(call *c, const char *name)
{
    json_t *t = json_object_get(c->d->tables, name ? name : "");
    if (!t)
        error(c, "ResourceNotFoundException", "Requested resource not found");
    return t;
}

/* The key string of a Key object for table t, or NULL (ValidationException). */
static const char *key_of(call *c, json_t *t, const json_t *key)
{
    const char *kn = json_string_value(json_object_get(t, "key"));
    const char *v = json_string_value(json_object_get(json_object_get(key, kn), "S"));
    if (!v || json_object_size(key) != 1) {
        error(c, "ValidationException", "The provided key element does not match the schema");
        return NULL;
    }
    return v;
}

static void expr_init(expr *e, const json_t *req, json_t *used)
{
    memset(e, 0, sizeof *e);
    e->used = used;
    e->names = json_object_get(req, "ExpressionAttributeNames");
    e->values = json_object_get(req, "ExpressionAttributeValues");
}

/* Checks ConditionExpression on old (NULL: no item). 0 when it holds or there is none. */
static int check_condition(call *c, const json_t *req, const json_t *old)
{
    const char *ce = json_string_value(json_object_get(req, "ConditionExpression"));
    if (!ce)
        return 0;
    expr e;
    expr_init(&e, req, c->used);
    json_t *empty = json_object();
    bool ok;
    int rc = condition(&e, ce, old ? old : empty, &ok);
    json_decref(empty);
    if (rc < 0)
        return error(c, "ValidationException", e.err);
    return ok ? 0 : error(c, "ConditionalCheckFailedException", "The conditional request failed");
}

static int op_get(call *c)
{
    json_t *t = table_of(c, json_string_value(json_object_get(c->req, "TableName")));
    const char *k = t ? key_of(c, t, json_object_get(c->req, "Key")) : NULL;
    if (!k)
        return -1;
    json_t *item = json_object_get(json_object_get(t, "items"), k);
    c->resp = json_object();
    expr e;
    expr_init(&e, c->req, c->used);
    const char *proj = json_string_value(json_object_get(c->req, "ProjectionExpression"));
    json_t *p = project(&e, proj, item ? item : c->resp); /* validates the projection */
    if (item)
        json_object_set_new(c->resp, "Item", p);
    else
        json_decref(p);
    return 0;
}

static int op_put(call *c)
{
    json_t *t = table_of(c, json_string_value(json_object_get(c->req, "TableName")));
    if (!t)
        return -1;
    json_t *item = json_object_get(c->req, "Item");
    const char *kn = json_string_value(json_object_get(t, "key"));
    const char *k = json_string_value(json_object_get(json_object_get(item, kn), "S"));
    if (!k)
        return error(c, "ValidationException", "One of the required keys was not given a value");
    if (item_size(item) > ITEM_MAX)
        return error(c, "ValidationException", "Item size has exceeded the maximum allowed size");
    json_t *items = json_object_get(t, "items");
    if (check_condition(c, c->req, json_object_get(items, k)) < 0)
        return -1;
    json_object_set_new(items, k, json_deep_copy(item));
    c->resp = json_object();
    return 0;
}

static int op_update(call *c)
{
    json_t *t = table_of(c, json_string_value(json_object_get(c->req, "TableName")));
    const json_t *key = json_object_get(c->req, "Key");
    const char *k = t ? key_of(c, t, key) : NULL;
    if (!k)
        return -1;
    json_t *items = json_object_get(t, "items");
    json_t *old = json_object_get(items, k);
    if (check_condition(c, c->req, old) < 0)
        return -1;
    json_t *nu = old ? json_deep_copy(old) : json_deep_copy(key);
    json_t *updated = json_array();
    expr e;
    expr_init(&e, c->req, c->used);
    json_t *empty = json_object();
    e.item = old ? old : empty;
    const char *ue = json_string_value(json_object_get(c->req, "UpdateExpression"));
    int rc = ue ? update(&e, ue, nu, updated) : 0;
    json_decref(empty);
    if (rc < 0 || item_size(nu) > ITEM_MAX) {
        json_decref(nu);
        json_decref(updated);
        return rc < 0 ? error(c, "ValidationException", e.err)
                      : error(c, "ValidationException",
                              "Item size to update has exceeded the maximum allowed size");
    }
    c->resp = json_object();
    const char *rv = json_string_value(json_object_get(c->req, "ReturnValues"));
    if (rv && strcmp(rv, "ALL_NEW") == 0) {
        json_object_set(c->resp, "Attributes", nu);
    } else if (rv && strcmp(rv, "ALL_OLD") == 0 && old) {
        json_object_set(c->resp, "Attributes", old);
    } else if (rv && strcmp(rv, "UPDATED_NEW") == 0) {
        json_t *a = json_object();
        size_t i;
        json_t *n;
        json_array_foreach(updated, i, n)
        {
            json_t *v = json_object_get(nu, json_string_value(n));
            if (v)
                json_object_set(a, json_string_value(n), v);
        }
        json_object_set_new(c->resp, "Attributes", a);
    }
    json_object_set_new(items, k, nu);
    json_decref(updated);
    return 0;
}

static int op_delete(call *c)
{
    json_t *t = table_of(c, json_string_value(json_object_get(c->req, "TableName")));
    const char *k = t ? key_of(c, t, json_object_get(c->req, "Key")) : NULL;
    if (!k)
        return -1;
    json_t *items = json_object_get(t, "items");
    if (check_condition(c, c->req, json_object_get(items, k)) < 0)
        return -1;
    json_object_del(items, k);
    c->resp = json_object();
    return 0;
}

/* Query: every item of the table (or having the index's attribute) matching the key condition. */
static int op_query(call *c)
{
    json_t *t = table_of(c, json_string_value(json_object_get(c->req, "TableName")));
    if (!t)
        return -1;
    const char *index = json_string_value(json_object_get(c->req, "IndexName"));
    const char *attr = json_string_value(json_object_get(t, "key"));
    if (index) {
        attr = json_string_value(json_object_get(json_object_get(t, "gsi"), index));
        if (!attr)
            return error(c, "ValidationException", "The table does not have the specified index");
        if (json_is_true(json_object_get(c->req, "ConsistentRead")))
            return error(c, "ValidationException",
                         "Consistent reads are not supported on global secondary indexes");
    }
    const char *kce = json_string_value(json_object_get(c->req, "KeyConditionExpression"));
    if (!kce)
        return error(c, "ValidationException", "KeyConditionExpression is required");
    expr e;
    expr_init(&e, c->req, c->used);
    const char *proj = json_string_value(json_object_get(c->req, "ProjectionExpression"));
    json_t *out = json_array();
    json_t *none = json_object();
    bool ok = false;
    int vrc = condition(&e, kce, none, &ok); /* validates it (and its placeholders) once */
    json_decref(project(&e, proj, none));
    json_decref(none);
    if (vrc < 0) {
        json_decref(out);
        return error(c, "ValidationException", e.err);
    }
    const char *k;
    json_t *item;
    json_object_foreach(json_object_get(t, "items"), k, item)
    {
        ok = false;
        if (!json_object_get(item, attr))
            continue;
        if (condition(&e, kce, item, &ok) < 0) {
            json_decref(out);
            return error(c, "ValidationException", e.err);
        }
        if (ok)
            json_array_append_new(out, project(&e, proj, item));
    }
    c->resp = json_pack("{s:o,s:I}", "Items", out, "Count", (json_int_t)json_array_size(out));
    return 0;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Scan: key order, a page of scan_page items, then the filter (as DynamoDB: Limit first). */
static int op_scan(call *c)
{
    json_t *t = table_of(c, json_string_value(json_object_get(c->req, "TableName")));
    if (!t)
        return -1;
    json_t *items = json_object_get(t, "items");
    size_t n = json_object_size(items), i = 0;
    const char **keys = calloc(n ? n : 1, sizeof *keys);
    const char *k;
    json_t *item;
    json_object_foreach(items, k, item) keys[i++] = k;
    qsort(keys, n, sizeof *keys, cmp_keys);
    const char *kn = json_string_value(json_object_get(t, "key"));
    const char *start = json_string_value(
        json_object_get(json_object_get(json_object_get(c->req, "ExclusiveStartKey"), kn), "S"));
    size_t from = 0;
    while (start && from < n && strcmp(keys[from], start) <= 0)
        from++;
    size_t page = c->d->scan_page ? c->d->scan_page : n;
    expr e;
    expr_init(&e, c->req, c->used);
    const char *fe = json_string_value(json_object_get(c->req, "FilterExpression"));
    const char *proj = json_string_value(json_object_get(c->req, "ProjectionExpression"));
    json_t *out = json_array();
    json_t *none = json_object();
    bool valid;
    int vrc = fe ? condition(&e, fe, none, &valid) : 0;
    json_decref(project(&e, proj, none));
    json_decref(none);
    if (vrc < 0) {
        free(keys);
        json_decref(out);
        return error(c, "ValidationException", e.err);
    }
    size_t to = from + page < n ? from + page : n;
    for (i = from; i < to; i++) {
        item = json_object_get(items, keys[i]);
        bool ok = true;
        if (fe && condition(&e, fe, item, &ok) < 0) {
            free(keys);
            json_decref(out);
            return error(c, "ValidationException", e.err);
        }
        if (ok)
            json_array_append_new(out, project(&e, proj, item));
    }
    c->resp = json_pack("{s:o,s:I}", "Items", out, "Count", (json_int_t)json_array_size(out));
    if (to < n && to > 0)
        json_object_set_new(c->resp, "LastEvaluatedKey",
                            json_pack("{s:{s:s}}", kn, "S", keys[to - 1]));
    free(keys);
    return 0;
}

static int op_batch_get(call *c)
{
    json_t *ri = json_object_get(c->req, "RequestItems");
    json_t *responses = json_object(), *unprocessed = json_object();
    c->resp = json_pack("{s:o,s:o}", "Responses", responses, "UnprocessedKeys", unprocessed);
    bool partial = c->d->partial > 0;
    if (partial)
        c->d->partial--;
    size_t total = 0;
    const char *tn;
    json_t *spec;
    json_object_foreach(ri, tn, spec) total += json_array_size(json_object_get(spec, "Keys"));
    if (total > 100)
        return error(c, "ValidationException",
                     "Too many items requested for the BatchGetItem call");
    json_object_foreach(ri, tn, spec)
    {
        json_t *t = table_of(c, tn);
        if (!t)
            return -1;
        json_t *keys = json_object_get(spec, "Keys");
        json_t *got = json_array(), *left = json_array();
        expr e;
        expr_init(&e, spec, NULL);
        const char *proj = json_string_value(json_object_get(spec, "ProjectionExpression"));
        size_t i, keep = partial ? (json_array_size(keys) + 1) / 2 : json_array_size(keys);
        json_t *key;
        json_array_foreach(keys, i, key)
        {
            if (i >= keep) {
                json_array_append(left, key);
                continue;
            }
            const char *k = key_of(c, t, key);
            if (!k) {
                json_decref(got);
                json_decref(left);
                return -1;
            }
            json_t *item = json_object_get(json_object_get(t, "items"), k);
            if (item)
                json_array_append_new(got, project(&e, proj, item));
        }
        json_object_set_new(responses, tn, got);
        if (json_array_size(left) > 0) {
            json_t *u = json_deep_copy(spec);
            json_object_set_new(u, "Keys", left);
            json_object_set_new(unprocessed, tn, u);
        } else {
            json_decref(left);
        }
    }
    return 0;
}

static int op_batch_write(call *c)
{
    json_t *ri = json_object_get(c->req, "RequestItems");
    json_t *unprocessed = json_object();
    c->resp = json_pack("{s:o}", "UnprocessedItems", unprocessed);
    bool partial = c->d->partial > 0;
    if (partial)
        c->d->partial--;
    size_t total = 0;
    const char *tn;
    json_t *reqs;
    json_object_foreach(ri, tn, reqs) total += json_array_size(reqs);
    if (total > 25)
        return error(c, "ValidationException",
                     "Too many items requested for the BatchWriteItem call");
    json_object_foreach(ri, tn, reqs)
    {
        json_t *t = table_of(c, tn);
        if (!t)
            return -1;
        json_t *items = json_object_get(t, "items");
        json_t *left = json_array();
        size_t i, keep = partial ? (json_array_size(reqs) + 1) / 2 : json_array_size(reqs);
        json_t *r;
        json_array_foreach(reqs, i, r)
        {
            if (i >= keep) {
                json_array_append(left, r);
                continue;
            }
            json_t *del = json_object_get(json_object_get(r, "DeleteRequest"), "Key");
            json_t *put = json_object_get(json_object_get(r, "PutRequest"), "Item");
            const char *kn = json_string_value(json_object_get(t, "key"));
            const char *k = del ? key_of(c, t, del)
                                : json_string_value(json_object_get(json_object_get(put, kn), "S"));
            if (!k) {
                json_decref(left);
                return error(c, "ValidationException", "bad write request");
            }
            if (del)
                json_object_del(items, k);
            else
                json_object_set_new(items, k, json_deep_copy(put));
        }
        if (json_array_size(left) > 0)
            json_object_set_new(unprocessed, tn, left);
        else
            json_decref(left);
    }
    return 0;
}

/* ---- transport ---- */

static int answer(aws_resp *out, long status, json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    out->status = status;
    out->body = s ? s : strdup("{}");
    out->len = strlen(out->body);
    out->hdrs = strdup("");
    return 0;
}

static int transport_call(void *ud, const char *method, const char *url, const char *const *headers,
                          const void *body, size_t len, aws_resp *out, char *err, size_t errcap)
{
    (void)url;
    (void)err;
    (void)errcap;
    fake_ddb *d = ud;
    const char *op = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        if (strncasecmp(headers[i], "X-Amz-Target: DynamoDB_20120810.", 32) == 0)
            op = headers[i] + 32;
    json_error_t je;
    json_t *req = body ? json_loadb(body, len, 0, &je) : NULL;
    if (strcmp(method, "POST") != 0 || !op || !json_is_object(req)) {
        json_decref(req);
        return answer(out, 400,
                      json_pack("{s:s,s:s}", "__type",
                                "com.amazon.coral.validate#ValidationException", "message",
                                "bad request"));
    }
    json_t *cnt = json_object_get(d->calls, op);
    json_object_set_new(d->calls, op, json_integer(cnt ? json_integer_value(cnt) + 1 : 1));
    if (d->on_call)
        d->on_call(d->on_call_ud, op, req);
    call c = {.d = d, .req = req, .used = json_object()};
    int rc;
    if (d->throttle > 0) {
        d->throttle--;
        rc = error(&c, "ThrottlingException", "Rate of requests exceeds the allowed throughput");
    } else if (strcmp(op, "GetItem") == 0) {
        rc = op_get(&c);
    } else if (strcmp(op, "PutItem") == 0) {
        rc = op_put(&c);
    } else if (strcmp(op, "UpdateItem") == 0) {
        rc = op_update(&c);
    } else if (strcmp(op, "DeleteItem") == 0) {
        rc = op_delete(&c);
    } else if (strcmp(op, "Query") == 0) {
        rc = op_query(&c);
    } else if (strcmp(op, "Scan") == 0) {
        rc = op_scan(&c);
    } else if (strcmp(op, "BatchGetItem") == 0) {
        rc = op_batch_get(&c);
    } else if (strcmp(op, "BatchWriteItem") == 0) {
        rc = op_batch_write(&c);
    } else {
        rc = error(&c, "UnknownOperationException", "unknown operation");
    }
    if (rc == 0) { /* "Value provided in ExpressionAttributeValues unused in expressions" */
        const char *maps[] = {"ExpressionAttributeNames", "ExpressionAttributeValues"};
        for (int i = 0; i < 2; i++) {
            const char *k;
            json_t *v;
            json_object_foreach(json_object_get(req, maps[i]), k, v)
            {
                if (!json_object_get(c.used, k) && rc == 0) {
                    json_decref(c.resp);
                    c.resp = NULL;
                    char msg[160];
                    snprintf(msg, sizeof msg, "Value provided in %s unused in expressions: %s",
                             maps[i], k);
                    rc = error(&c, "ValidationException", msg);
                }
            }
        }
    }
    json_decref(c.used);
    json_decref(req);
    if (rc < 0) {
        json_decref(c.resp);
        char type[128];
        snprintf(type, sizeof type, "com.amazonaws.dynamodb.v20120810#%s", c.etype);
        return answer(out, 400, json_pack("{s:s,s:s}", "__type", type, "message", c.emsg));
    }
    return answer(out, 200, c.resp);
}

/* ---- API ---- */

fake_ddb *fake_ddb_new(void)
{
    fake_ddb *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->tables = json_object();
    d->calls = json_object();
    d->tr.call = transport_call;
    d->tr.ud = d;
    return d;
}

void fake_ddb_free(fake_ddb *d)
{
    if (!d)
        return;
    json_decref(d->tables);
    json_decref(d->calls);
    free(d);
}

int fake_ddb_add_table(fake_ddb *d, const char *table, const char *hash_key)
{
    return json_object_set_new(d->tables, table,
                               json_pack("{s:s,s:{},s:{}}", "key", hash_key, "gsi", "items"));
}

int fake_ddb_add_gsi(fake_ddb *d, const char *table, const char *index, const char *attr)
{
    json_t *t = json_object_get(d->tables, table);
    return t ? json_object_set_new(json_object_get(t, "gsi"), index, json_string(attr)) : -1;
}

const aws_transport *fake_ddb_transport(fake_ddb *d)
{
    return &d->tr;
}

json_t *fake_ddb_get(fake_ddb *d, const char *table, const char *key)
{
    return json_object_get(json_object_get(json_object_get(d->tables, table), "items"), key);
}

int fake_ddb_put(fake_ddb *d, const char *table, json_t *item)
{
    json_t *t = json_object_get(d->tables, table);
    const char *kn = json_string_value(json_object_get(t, "key"));
    const char *k = json_string_value(json_object_get(json_object_get(item, kn), "S"));
    if (!k)
        return -1;
    return json_object_set(json_object_get(t, "items"), k, item);
}

size_t fake_ddb_count(fake_ddb *d, const char *table)
{
    return json_object_size(json_object_get(json_object_get(d->tables, table), "items"));
}

json_t *fake_ddb_keys(fake_ddb *d, const char *table, const char *prefix)
{
    json_t *out = json_array();
    const char *k;
    json_t *item;
    json_object_foreach(json_object_get(json_object_get(d->tables, table), "items"), k, item)
    {
        if (strncmp(k, prefix, strlen(prefix)) == 0)
            json_array_append_new(out, json_string(k));
    }
    return out;
}

unsigned fake_ddb_calls(const fake_ddb *d, const char *op)
{
    if (op)
        return (unsigned)json_integer_value(json_object_get(d->calls, op));
    unsigned n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(d->calls, k, v) n += (unsigned)json_integer_value(v);
    return n;
}

void fake_ddb_throttle(fake_ddb *d, unsigned n)
{
    d->throttle = n;
}

void fake_ddb_partial_batches(fake_ddb *d, unsigned n)
{
    d->partial = n;
}

void fake_ddb_scan_page(fake_ddb *d, unsigned n)
{
    d->scan_page = n;
}

void fake_ddb_on_call(fake_ddb *d, void (*fn)(void *ud, const char *op, const json_t *req),
                      void *ud)
{
    d->on_call = fn;
    d->on_call_ud = ud;
}
