/* SPDX-License-Identifier: MIT */
/* store_admission.c - the leases of waiting public requests (store.h "admission leases"): items
 * of the pending table whose map `leases` holds request id -> expiry. */
#include "store.h"
#include "store_int.h"

#include <stdio.h>
#include <string.h>

/* Any lease's item expires an hour after the last one was taken: by then every lease in it has
 * expired (Lambda's longest timeout is 15 minutes), and the cleanup may delete it. */
#define LEASE_ITEM_TTL_S 3600

int store_lease_take(store *s, const char *key, const char *id, int64_t expiry_ms, int64_t max,
                     int64_t now, char *err, size_t cap)
{
    /* size() of a map is its number of elements ("Condition and filter expressions, operators,
     * and functions in DynamoDB"); the condition is false when the map does not exist. */
    json_t *req = json_pack("{s:s,s:o,s:s,s:s,s:{s:s,s:s,s:s},s:{s:o,s:o,s:o}}", "TableName",
                            s->pend_table, "Key", ddb_key_s("requestId", key), "UpdateExpression",
                            "SET #l.#id = :exp, #t = :ttl", "ConditionExpression",
                            "size(#l) < :max", "ExpressionAttributeNames", "#l", "leases", "#id",
                            id, "#t", "ttl", "ExpressionAttributeValues", ":exp", ddb_n(expiry_ms),
                            ":ttl", ddb_n(now + LEASE_ITEM_TTL_S), ":max", ddb_n(max));
    return store_run(s, "UpdateItem", req, err, cap);
}

int store_lease_init(store *s, const char *key, int64_t now, char *err, size_t cap)
{
    json_t *req = json_pack("{s:s,s:o,s:s,s:s,s:{s:s,s:s},s:{s:{s:{}},s:o}}", "TableName",
                            s->pend_table, "Key", ddb_key_s("requestId", key), "UpdateExpression",
                            "SET #l = :empty, #t = :ttl", "ConditionExpression",
                            "attribute_not_exists(#l)", "ExpressionAttributeNames", "#l", "leases",
                            "#t", "ttl", "ExpressionAttributeValues", ":empty", "M", ":ttl",
                            ddb_n(now + LEASE_ITEM_TTL_S));
    int rc = store_run(s, "UpdateItem", req, err, cap);
    return rc == DDB_CONDITION ? 0 : rc; /* another environment made it first */
}

int store_lease_read(store *s, const char *key, json_t **leases, char *err, size_t cap)
{
    *leases = NULL;
    json_t *it;
    int rc = store_get_item(s, s->pend_table, "requestId", key, &it, err, cap);
    if (rc != 0)
        return rc;
    json_t *m = json_object_get(json_object_get(it, "leases"), "M");
    if (json_is_object(m))
        *leases = json_incref(m);
    json_decref(it);
    return *leases ? 0 : 1;
}

int store_lease_drop(store *s, const char *key, const char *const *ids, size_t n, char *err,
                     size_t cap)
{
    if (n == 0)
        return 0;
    if (n > STORE_LEASE_DROP_MAX)
        n = STORE_LEASE_DROP_MAX;
    char expr[16 + STORE_LEASE_DROP_MAX * 12];
    size_t off = (size_t)snprintf(expr, sizeof expr, "REMOVE ");
    json_t *names = json_pack("{s:s}", "#l", "leases");
    for (size_t i = 0; names && i < n; i++) {
        char alias[16];
        snprintf(alias, sizeof alias, "#i%zu", i);
        if (json_object_set_new(names, alias, json_string(ids[i])) != 0) {
            json_decref(names);
            names = NULL;
        }
        off += (size_t)snprintf(expr + off, sizeof expr - off, "%s#l.%s", i ? ", " : "", alias);
    }
    if (!names)
        return store_oom(err, cap);
    /* Only while the map exists (a path into a missing map is a ValidationException, and an
     * UpdateItem of a missing item would create it); a key already removed is no error. */
    json_t *req =
        json_pack("{s:s,s:o,s:s,s:s,s:o}", "TableName", s->pend_table, "Key",
                  ddb_key_s("requestId", key), "UpdateExpression", expr, "ConditionExpression",
                  "attribute_exists(#l)", "ExpressionAttributeNames", names);
    int rc = store_run(s, "UpdateItem", req, err, cap);
    return rc == DDB_CONDITION ? 0 : rc;
}
