/* SPDX-License-Identifier: MIT */
/* store_tunnels.c - the items of a connection's tunnels after its first (docs/serverless.md
 * "Tables"): "tunnel#<cid>#<name>" items of the connections table, each in the tunnel-id-index
 * under its name, naming its connection in `conn`. */
#include "store.h"
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_tunnel_key(char *out, size_t cap, const char *cid, const char *tid)
{
    int n = snprintf(out, cap, "tunnel#%s#%s", cid, tid);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

int store_put_tunnel(store *s, const char *cid, const char *tid, const char *sub,
                     const char *access, int64_t now, char *err, size_t cap)
{
    char key[STORE_TUNNEL_KEY_MAX];
    if (store_tunnel_key(key, sizeof key, cid, tid) < 0)
        return store_oom(err, cap);
    json_t *req =
        json_pack("{s:s,s:{s:o,s:o,s:o,s:o,s:o,s:o,s:o}}", "TableName", s->conn_table, "Item",
                  "connectionId", ddb_s(key), "tunnelId", ddb_s(tid), "conn", ddb_s(cid), "sub",
                  ddb_s(sub ? sub : ""), "createdAt", ddb_n(now), "ttl",
                  ddb_n(now + STORE_CONN_TTL_S), "access", ddb_s(access ? access : "{}"));
    return store_run(s, "PutItem", req, err, cap);
}

int store_set_connection_tunnels(store *s, const char *cid, const char *names, char *err,
                                 size_t cap)
{
    return store_set_connection_attr(s, cid, "tunnels", names, err, cap);
}

int store_get_connection_tunnels(store *s, const char *cid, conn_rec *rec, char **names, char *err,
                                 size_t cap)
{
    *names = NULL;
    if (rec)
        memset(rec, 0, sizeof *rec);
    json_t *it;
    int rc = store_get_item(s, s->conn_table, "connectionId", cid, &it, err, cap);
    if (rc != 0)
        return rc;
    if (rec)
        store_conn_rec_of(it, rec);
    const char *t = ddb_get_s(it, "tunnels");
    *names = strdup(t ? t : "");
    json_decref(it);
    return *names ? 0 : store_oom(err, cap);
}

int store_delete_tunnels(store *s, const char *cid, const char *names, char *err, size_t cap)
{
    store_deleter d = {.s = s, .table = s->conn_table, .key_name = "connectionId"};
    for (const char *p = names; *p;) {
        size_t n = strcspn(p, " ");
        char tid[TUNNEL_NAME_MAX + 1], key[STORE_TUNNEL_KEY_MAX];
        if (n > 0 && n <= TUNNEL_NAME_MAX) {
            memcpy(tid, p, n);
            tid[n] = '\0';
            if (store_tunnel_key(key, sizeof key, cid, tid) == 0)
                store_deleter_add(&d, key, err, cap);
        }
        p += n;
        p += *p == ' ';
    }
    return store_deleter_finish(&d, err, cap);
}

int store_delete_connection(store *s, const char *cid, char *err, size_t cap)
{
    json_t *req = json_pack("{s:s,s:o,s:s}", "TableName", s->conn_table, "Key",
                            ddb_key_s("connectionId", cid), "ReturnValues", "ALL_OLD");
    if (!req)
        return store_oom(err, cap);
    json_t *resp;
    int rc = ddb_call(s->db, "DeleteItem", req, &resp, err, cap);
    json_decref(req);
    if (rc != DDB_OK)
        return rc;
    const char *names = ddb_get_s(json_object_get(resp, "Attributes"), "tunnels");
    if (names && *names)
        rc = store_delete_tunnels(s, cid, names, err, cap);
    json_decref(resp);
    return rc;
}

int store_connection_serves(store *s, const char *cid, const char *tid, char *err, size_t cap)
{
    conn_rec c;
    int rc = store_get_connection(s, cid, &c, err, cap);
    if (rc != 0)
        return rc == 1 ? 0 : -1;
    if (strcmp(c.tunnel_id, tid) == 0)
        return 1;
    char key[STORE_TUNNEL_KEY_MAX];
    if (store_tunnel_key(key, sizeof key, cid, tid) < 0)
        return 0;
    json_t *it;
    rc = store_get_item(s, s->conn_table, "connectionId", key, &it, err, cap);
    if (rc != 0)
        return rc == 1 ? 0 : -1;
    const char *t = ddb_get_s(it, "tunnelId");
    bool serves = t && strcmp(t, tid) == 0;
    json_decref(it);
    return serves ? 1 : 0;
}

/* SET tunnelId = "~tid" on item key when its tunnelId is tid. */
static int mark(store *s, const char *key, const char *tid, char *err, size_t cap)
{
    char moved[TUNNEL_NAME_MAX + 2];
    snprintf(moved, sizeof moved, "%c%s", STORE_MOVED_MARK, tid);
    json_t *req = json_pack("{s:s,s:o,s:s,s:s,s:{s:o,s:o}}", "TableName", s->conn_table, "Key",
                            ddb_key_s("connectionId", key), "UpdateExpression", "SET tunnelId = :m",
                            "ConditionExpression", "tunnelId = :t", "ExpressionAttributeValues",
                            ":m", ddb_s(moved), ":t", ddb_s(tid));
    return store_run(s, "UpdateItem", req, err, cap);
}

int store_mark_moved(store *s, const char *cid, const char *tid, char *err, size_t cap)
{
    int rc = mark(s, cid, tid, err, cap);
    if (rc != DDB_CONDITION)
        return rc;
    char key[STORE_TUNNEL_KEY_MAX];
    if (store_tunnel_key(key, sizeof key, cid, tid) < 0)
        return store_oom(err, cap);
    return mark(s, key, tid, err, cap);
}
