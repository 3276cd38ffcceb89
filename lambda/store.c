/* SPDX-License-Identifier: MIT */
/* store.c - table records over the DynamoDB JSON API: keys, connection and owner records,
 * cleanup (the pending requests' items: store_pending.c). */
#include "store.h"
#include "store_int.h"

#include "clock.h"
#include <stdbool.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_piece_key(char *out, size_t cap, const char *rid, const char *cid, uint32_t seq)
{
    int n = snprintf(out, cap, "%s#%s#%" PRIu32, rid, cid, seq);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

int store_head_key(char *out, size_t cap, const char *rid, const char *cid, uint32_t seq)
{
    int n = snprintf(out, cap, "%s#%s#h%" PRIu32, rid, cid, seq);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

int store_owner_key(char *out, size_t cap, const char *tid)
{
    int n = snprintf(out, cap, "owner#%s", tid);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

int store_oom(char *err, size_t cap)
{
    snprintf(err, cap, "out of memory");
    return -1;
}

/* Runs op with req (stolen), discarding the response. */
int store_run(store *s, const char *op, json_t *req, char *err, size_t cap)
{
    if (!req)
        return store_oom(err, cap);
    int rc = ddb_call(s->db, op, req, NULL, err, cap);
    json_decref(req);
    return rc;
}

/* GetItem, consistent. 0 with *item, 1 when absent. */
int store_get_item(store *s, const char *table, const char *key_name, const char *key,
                   json_t **item, char *err, size_t cap)
{
    *item = NULL;
    json_t *req = json_pack("{s:s,s:o,s:b}", "TableName", table, "Key", ddb_key_s(key_name, key),
                            "ConsistentRead", 1);
    if (!req)
        return store_oom(err, cap);
    json_t *resp;
    int rc = ddb_call(s->db, "GetItem", req, &resp, err, cap);
    json_decref(req);
    if (rc != DDB_OK)
        return rc;
    json_t *it = json_object_get(resp, "Item");
    if (!json_is_object(it)) {
        json_decref(resp);
        return 1;
    }
    *item = json_incref(it);
    json_decref(resp);
    return 0;
}

/* ---- connections ---- */

int store_put_connection(store *s, const char *cid, const char *tid, const char *sub, int64_t now,
                         char *err, size_t cap)
{
    json_t *req = json_pack("{s:s,s:{s:o,s:o,s:o,s:o,s:o,s:o}}", "TableName", s->conn_table, "Item",
                            "connectionId", ddb_s(cid), "tunnelId", ddb_s(tid), "sub",
                            ddb_s(sub ? sub : ""), "createdAt", ddb_n(now), "ttl",
                            ddb_n(now + STORE_CONN_TTL_S), "access", ddb_s(STORE_ACCESS_PENDING));
    return store_run(s, "PutItem", req, err, cap);
}

int store_set_connection_attr(store *s, const char *cid, const char *attr, const char *value,
                              char *err, size_t cap)
{
    json_t *req = json_pack("{s:s,s:o,s:s,s:s,s:{s:s},s:{s:o}}", "TableName", s->conn_table, "Key",
                            ddb_key_s("connectionId", cid), "UpdateExpression", "SET #a = :v",
                            "ConditionExpression", "attribute_exists(connectionId)",
                            "ExpressionAttributeNames", "#a", attr, "ExpressionAttributeValues",
                            ":v", ddb_s(value));
    return store_run(s, "UpdateItem", req, err, cap);
}

int store_set_connection_access(store *s, const char *cid, const char *access, char *err,
                                size_t cap)
{
    return store_set_connection_attr(s, cid, "access", access, err, cap);
}

int store_count_request(store *s, const char *key, int64_t ttl, int64_t *count, char *err,
                        size_t cap)
{
    *count = 0;
    json_t *req =
        json_pack("{s:s,s:o,s:s,s:{s:s},s:{s:o,s:o},s:s}", "TableName", s->pend_table, "Key",
                  ddb_key_s("requestId", key), "UpdateExpression", "ADD hits :one SET #t = :ttl",
                  "ExpressionAttributeNames", "#t", "ttl", "ExpressionAttributeValues", ":one",
                  ddb_n(1), ":ttl", ddb_n(ttl), "ReturnValues", "UPDATED_NEW");
    if (!req)
        return store_oom(err, cap);
    json_t *resp;
    int rc = ddb_call(s->db, "UpdateItem", req, &resp, err, cap);
    json_decref(req);
    if (rc != DDB_OK)
        return rc;
    rc = ddb_get_n(json_object_get(resp, "Attributes"), "hits", count);
    json_decref(resp);
    if (rc != 0)
        snprintf(err, cap, "no count in the UpdateItem answer");
    return rc == 0 ? 0 : -1;
}

int store_conn_rec_of(const json_t *it, conn_rec *out)
{
    const char *tid = ddb_get_s(it, "tunnelId");
    const char *sub = ddb_get_s(it, "sub");
    const char *access = ddb_get_s(it, "access");
    out->pending = access && strcmp(access, STORE_ACCESS_PENDING) == 0;
    snprintf(out->tunnel_id, sizeof out->tunnel_id, "%s", tid ? tid : "");
    snprintf(out->sub, sizeof out->sub, "%s", sub ? sub : "");
    return tid ? 0 : 1;
}

int store_get_connection(store *s, const char *cid, conn_rec *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    json_t *it;
    int rc = store_get_item(s, s->conn_table, "connectionId", cid, &it, err, cap);
    if (rc != 0)
        return rc;
    rc = store_conn_rec_of(it, out);
    json_decref(it);
    return rc;
}

int store_set_connection_tunnel(store *s, const char *cid, const char *tid, char *err, size_t cap)
{
    return store_set_connection_attr(s, cid, "tunnelId", tid, err, cap);
}

int store_find_tunnel(store *s, const char *tid, char cids[][STORE_CONN_ID_SIZE], size_t max,
                      size_t *n, char **access, char *err, size_t cap)
{
    *n = 0;
    json_t *req =
        json_pack("{s:s,s:s,s:s,s:{s:o},s:s,s:{s:s,s:s}}", "TableName", s->conn_table, "IndexName",
                  "tunnel-id-index", "KeyConditionExpression", "tunnelId = :t",
                  "ExpressionAttributeValues", ":t", ddb_s(tid), "ProjectionExpression",
                  "connectionId, #c, #a", "ExpressionAttributeNames", "#a", "access", "#c", "conn");
    if (!req)
        return store_oom(err, cap);
    json_t *resp;
    int rc = ddb_call(s->db, "Query", req, &resp, err, cap);
    json_decref(req);
    if (rc != DDB_OK)
        return rc;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(resp, "Items"), i, it)
    {
        const char *cid = ddb_get_s(it, "conn"); /* a connection's other tunnel's item */
        if (!cid)
            cid = ddb_get_s(it, "connectionId");
        if (cid && *n < max && strlen(cid) < STORE_CONN_ID_SIZE) {
            const char *a = ddb_get_s(it, "access");
            if (access && a && !(access[*n] = strdup(a))) {
                rc = store_oom(err, cap); /* never "no policy" by mistake */
                break;
            }
            if (access && !a)
                access[*n] = NULL;
            snprintf(cids[(*n)++], STORE_CONN_ID_SIZE, "%s", cid);
        }
    }
    json_decref(resp);
    if (rc != 0 && access) {
        for (size_t k = 0; k < *n; k++)
            free(access[k]);
        *n = 0;
    }
    return rc;
}

/* ---- owner records (in the connections table, no tunnelId attribute: out of the GSI) ---- */

int store_claim_owner(store *s, const char *tid, const char *cid, const char *owner, bool chosen,
                      int64_t ttl, int64_t keep, const char *expect_holder, char *err, size_t cap)
{
    char key[96];
    if (store_owner_key(key, sizeof key, tid) < 0)
        return store_oom(err, cap);
    json_t *item = json_pack("{s:o,s:o,s:o,s:o}", "connectionId", ddb_s(key), "holder", ddb_s(cid),
                             "owner", ddb_s(owner ? owner : ""), "chosen", ddb_bool(chosen));
    if (item && ttl > 0)
        json_object_set_new(item, "ttl", ddb_n(ttl));
    if (item && keep >= 0)
        json_object_set_new(item, "keep", ddb_n(keep));
    json_t *req;
    if (expect_holder)
        req = json_pack("{s:s,s:o,s:s,s:{s:o}}", "TableName", s->conn_table, "Item", item,
                        "ConditionExpression", "holder = :h", "ExpressionAttributeValues", ":h",
                        ddb_s(expect_holder));
    else
        req = json_pack("{s:s,s:o,s:s}", "TableName", s->conn_table, "Item", item,
                        "ConditionExpression", "attribute_not_exists(connectionId)");
    return store_run(s, "PutItem", req, err, cap);
}

int store_release_owner(store *s, const char *tid, const char *cid, int64_t now, char *err,
                        size_t cap)
{
    char key[96];
    if (store_owner_key(key, sizeof key, tid) < 0)
        return store_oom(err, cap);
    json_t *req =
        json_pack("{s:s,s:o,s:s,s:s,s:{s:s,s:s},s:{s:o,s:o}}", "TableName", s->conn_table, "Key",
                  ddb_key_s("connectionId", key), "UpdateExpression", "SET #t = #k + :now",
                  "ConditionExpression", "holder = :cid AND attribute_exists(#k)",
                  "ExpressionAttributeNames", "#t", "ttl", "#k", "keep",
                  "ExpressionAttributeValues", ":now", ddb_n(now), ":cid", ddb_s(cid));
    return store_run(s, "UpdateItem", req, err, cap);
}

int store_get_owner(store *s, const char *tid, owner_rec *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    char key[96];
    if (store_owner_key(key, sizeof key, tid) < 0)
        return store_oom(err, cap);
    json_t *it;
    int rc = store_get_item(s, s->conn_table, "connectionId", key, &it, err, cap);
    if (rc != 0)
        return rc;
    const char *owner = ddb_get_s(it, "owner"), *holder = ddb_get_s(it, "holder");
    const char *sub = ddb_get_s(it, "sub");
    if (owner)
        snprintf(out->owner, sizeof out->owner, "%s", owner);
    else if (sub && *sub)
        snprintf(out->owner, sizeof out->owner, "sub:%s", sub);
    snprintf(out->holder, sizeof out->holder, "%s", holder ? holder : "");
    int chosen = 0;
    out->chosen = ddb_get_bool(it, "chosen", &chosen) == 0 && chosen;
    if (ddb_get_n(it, "ttl", &out->ttl) != 0)
        out->ttl = 0;
    const char *tk = ddb_get_s(it, "takeover");
    snprintf(out->takeover, sizeof out->takeover, "%s", tk ? tk : "");
    json_decref(it);
    return 0;
}

int store_set_takeover(store *s, const char *tid, const char *cid, const char *secret, char *err,
                       size_t cap)
{
    char key[96];
    if (store_owner_key(key, sizeof key, tid) < 0)
        return store_oom(err, cap);
    json_t *req = json_pack("{s:s,s:o,s:s,s:s,s:{s:o,s:o}}", "TableName", s->conn_table, "Key",
                            ddb_key_s("connectionId", key), "UpdateExpression", "SET takeover = :t",
                            "ConditionExpression", "holder = :h", "ExpressionAttributeValues", ":t",
                            ddb_s(secret), ":h", ddb_s(cid));
    return store_run(s, "UpdateItem", req, err, cap);
}

int store_move_owner(store *s, const char *tid, const char *old_cid, const char *new_cid,
                     const char *secret, int64_t ttl, char *err, size_t cap)
{
    char key[96];
    if (store_owner_key(key, sizeof key, tid) < 0)
        return store_oom(err, cap);
    json_t *req = json_pack(
        "{s:s,s:o,s:s,s:s,s:{s:o,s:o,s:o}}", "TableName", s->conn_table, "Key",
        ddb_key_s("connectionId", key), "UpdateExpression",
        ttl > 0 ? "SET holder = :n, #t = :ttl REMOVE takeover" : "SET holder = :n REMOVE takeover",
        "ConditionExpression", "holder = :o AND takeover = :t", "ExpressionAttributeValues", ":n",
        ddb_s(new_cid), ":o", ddb_s(old_cid), ":t", ddb_s(secret));
    if (req && ttl > 0) {
        json_object_set_new(json_object_get(req, "ExpressionAttributeValues"), ":ttl", ddb_n(ttl));
        json_object_set_new(req, "ExpressionAttributeNames", json_pack("{s:s}", "#t", "ttl"));
    }
    return store_run(s, "UpdateItem", req, err, cap);
}

int store_delete_owner(store *s, const char *tid, char *err, size_t cap)
{
    char key[96];
    if (store_owner_key(key, sizeof key, tid) < 0)
        return store_oom(err, cap);
    json_t *req =
        json_pack("{s:s,s:o}", "TableName", s->conn_table, "Key", ddb_key_s("connectionId", key));
    return store_run(s, "DeleteItem", req, err, cap);
}

int store_cleanup(store *s, const char *table, const char *key_name, int64_t now, long *deleted,
                  char *err, size_t cap)
{
    *deleted = 0;
    json_t *start = NULL;
    int rc = 0; /* -1 once a page's deletes failed: later pages still run, the failure stays */
    for (int page = 0; page < 10000; page++) {
        json_t *req =
            json_pack("{s:s,s:s,s:s,s:{s:s,s:s},s:{s:o}}", "TableName", table, "FilterExpression",
                      "attribute_exists(#t) AND #t < :now", "ProjectionExpression", "#k",
                      "ExpressionAttributeNames", "#t", "ttl", "#k", key_name,
                      "ExpressionAttributeValues", ":now", ddb_n(now));
        if (!req) {
            json_decref(start);
            return store_oom(err, cap);
        }
        if (start)
            json_object_set_new(req, "ExclusiveStartKey", start);
        start = NULL;
        json_t *resp;
        int sc = ddb_call(s->db, "Scan", req, &resp, err, cap);
        json_decref(req);
        if (sc != DDB_OK)
            return -1;
        store_deleter d = {.s = s, .table = table, .key_name = key_name};
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(resp, "Items"), i, it)
        {
            const char *k = ddb_get_s(it, key_name);
            if (!k)
                continue;
            store_deleter_add(&d, k, err, cap);
            (*deleted)++;
        }
        if (store_deleter_finish(&d, err, cap) < 0)
            rc = -1;
        json_t *lek = json_object_get(resp, "LastEvaluatedKey");
        if (json_is_object(lek) && json_object_size(lek) > 0)
            start = json_incref(lek);
        json_decref(resp);
        if (!start)
            break;
    }
    json_decref(start);
    return rc;
}
