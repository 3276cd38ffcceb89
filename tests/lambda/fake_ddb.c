/* SPDX-License-Identifier: MIT */
/* fake_ddb.c - the in-memory DynamoDB of the Lambda's unit tests (see fake_ddb.h). */
#include "fake_ddb.h"

#include "fake_ddb_expr.h"

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

/* The hash key string of item (or Key object) for table t, or NULL when it has none. */
static const char *item_key(const json_t *t, const json_t *item)
{
    const char *kn = json_string_value(json_object_get(t, "key"));
    return json_string_value(json_object_get(json_object_get(item, kn), "S"));
}

/* The key string of a Key object for table t, or NULL (ValidationException). */
static const char *key_of(call *c, json_t *t, const json_t *key)
{
    const char *v = item_key(t, key);
    if (!v || json_object_size(key) != 1) {
        error(c, "ValidationException", "The provided key element does not match the schema");
        return NULL;
    }
    return v;
}

/* Checks ConditionExpression on old (NULL: no item). 0 when it holds or there is none. */
static int check_condition(call *c, const json_t *req, const json_t *old)
{
    const char *ce = json_string_value(json_object_get(req, "ConditionExpression"));
    if (!ce)
        return 0;
    ddb_expr e;
    ddb_expr_init(&e, req, c->used);
    json_t *empty = json_object();
    bool ok;
    int rc = ddb_expr_condition(&e, ce, old ? old : empty, &ok);
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
    ddb_expr e;
    ddb_expr_init(&e, c->req, c->used);
    const char *proj = json_string_value(json_object_get(c->req, "ProjectionExpression"));
    json_t *p = ddb_expr_project(&e, proj, item ? item : c->resp); /* validates the projection */
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
    const char *k = item_key(t, item);
    if (!k)
        return error(c, "ValidationException", "One of the required keys was not given a value");
    if (ddb_item_size(item) > ITEM_MAX)
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
    ddb_expr e;
    ddb_expr_init(&e, c->req, c->used);
    json_t *empty = json_object();
    e.item = old ? old : empty;
    const char *ue = json_string_value(json_object_get(c->req, "UpdateExpression"));
    int rc = ue ? ddb_expr_update(&e, ue, nu, updated) : 0;
    json_decref(empty);
    if (rc < 0 || ddb_item_size(nu) > ITEM_MAX) {
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
    json_t *old = json_object_get(items, k);
    if (check_condition(c, c->req, old) < 0)
        return -1;
    c->resp = json_object();
    const char *rv = json_string_value(json_object_get(c->req, "ReturnValues"));
    if (old && rv && strcmp(rv, "ALL_OLD") == 0)
        json_object_set(c->resp, "Attributes", old);
    json_object_del(items, k);
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
    ddb_expr e;
    ddb_expr_init(&e, c->req, c->used);
    const char *proj = json_string_value(json_object_get(c->req, "ProjectionExpression"));
    json_t *out = json_array();
    json_t *none = json_object();
    bool ok = false;
    int vrc = ddb_expr_condition(&e, kce, none, &ok); /* validates it (and its placeholders) once */
    json_decref(ddb_expr_project(&e, proj, none));
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
        if (ddb_expr_condition(&e, kce, item, &ok) < 0) {
            json_decref(out);
            return error(c, "ValidationException", e.err);
        }
        if (ok)
            json_array_append_new(out, ddb_expr_project(&e, proj, item));
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
    ddb_expr e;
    ddb_expr_init(&e, c->req, c->used);
    const char *fe = json_string_value(json_object_get(c->req, "FilterExpression"));
    const char *proj = json_string_value(json_object_get(c->req, "ProjectionExpression"));
    json_t *out = json_array();
    json_t *none = json_object();
    bool valid;
    int vrc = fe ? ddb_expr_condition(&e, fe, none, &valid) : 0;
    json_decref(ddb_expr_project(&e, proj, none));
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
        if (fe && ddb_expr_condition(&e, fe, item, &ok) < 0) {
            free(keys);
            json_decref(out);
            return error(c, "ValidationException", e.err);
        }
        if (ok)
            json_array_append_new(out, ddb_expr_project(&e, proj, item));
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
        ddb_expr e;
        ddb_expr_init(&e, spec, NULL);
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
                json_array_append_new(got, ddb_expr_project(&e, proj, item));
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
            const char *k = del ? key_of(c, t, del) : item_key(t, put);
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

static const struct {
    const char *name;
    int (*fn)(call *c);
} OPS[] = {
    {"GetItem", op_get},
    {"PutItem", op_put},
    {"UpdateItem", op_update},
    {"DeleteItem", op_delete},
    {"Query", op_query},
    {"Scan", op_scan},
    {"BatchGetItem", op_batch_get},
    {"BatchWriteItem", op_batch_write},
};

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
    int (*fn)(call *) = NULL;
    for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
        if (strcmp(op, OPS[i].name) == 0)
            fn = OPS[i].fn;
    int rc;
    if (d->throttle > 0) {
        d->throttle--;
        rc = error(&c, "ThrottlingException", "Rate of requests exceeds the allowed throughput");
    } else {
        rc = fn ? fn(&c) : error(&c, "UnknownOperationException", "unknown operation");
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
    const char *k = item_key(t, item);
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
