/* SPDX-License-Identifier: MIT */
/* store_pending.c - the pending requests' items over the DynamoDB JSON API (store.h): the request
 * item and its answer, body pieces and head continuations, their batched reads and deletes. */
#include "store.h"
#include "store_int.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

/* ---- pending requests ---- */

int store_put_pending(store *s, const char *rid, const char *cid, const char *tid, int64_t now,
                      char *err, size_t cap)
{
    json_t *req = json_pack("{s:s,s:{s:o,s:o,s:o,s:o,s:o,s:o}}", "TableName", s->pend_table, "Item",
                            "requestId", ddb_s(rid), "connectionId", ddb_s(cid), "tunnelId",
                            ddb_s(tid), "status", ddb_s(PEND_PENDING), "createdAt", ddb_n(now),
                            "ttl", ddb_n(now + STORE_PENDING_TTL_S));
    return store_run(s, "PutItem", req, err, cap);
}

int store_get_pending(store *s, const char *rid, json_t **item, char *err, size_t cap)
{
    return store_get_item(s, s->pend_table, "requestId", rid, item, err, cap);
}

int store_complete_head(store *s, const char *rid, const char *cid, int status,
                        const char *headers_json, const uint8_t *body, size_t len, bool more,
                        bool head_more, char *err, size_t cap)
{
    json_t *req = json_pack(
        "{s:s,s:o,s:s,s:s,s:{s:s},s:{s:o,s:o,s:o,s:o,s:o,s:o,s:o}}", "TableName", s->pend_table,
        "Key", ddb_key_s("requestId", rid), "UpdateExpression",
        "SET #s = :resp, statusCode = :sc, respHeaders = :h, body0 = :b, respMore = :m, "
        "respHeadMore = :hm",
        "ConditionExpression",
        "attribute_exists(requestId) AND connectionId = :cid AND #s = :pending",
        "ExpressionAttributeNames", "#s", "status", "ExpressionAttributeValues", ":resp",
        ddb_s(PEND_RESPONDED), ":sc", ddb_n(status), ":h", ddb_s(headers_json), ":b",
        ddb_b(body, len), ":m", ddb_bool(more), ":hm", ddb_bool(head_more), ":cid", ddb_s(cid));
    if (req && json_object_set_new(json_object_get(req, "ExpressionAttributeValues"), ":pending",
                                   ddb_s(PEND_PENDING)) < 0) {
        json_decref(req);
        req = NULL;
    }
    return store_run(s, "UpdateItem", req, err, cap);
}

int store_head_repeats(store *s, const char *rid, const char *cid, int status,
                       const char *headers_json, const uint8_t *body, size_t len, bool more,
                       bool head_more, char *err, size_t cap)
{
    json_t *it = NULL;
    int rc = store_get_pending(s, rid, &it, err, cap);
    if (rc != 0)
        return -1;
    const char *pc = ddb_get_s(it, "connectionId"), *st = ddb_get_s(it, "status");
    const char *hj = ddb_get_s(it, "respHeaders");
    int64_t sc = 0;
    int m = 0, hm = 0;
    uint8_t *b = NULL;
    size_t bl = 0;
    bool answered = pc && strcmp(pc, cid) == 0 && st && strcmp(st, PEND_RESPONDED) == 0;
    bool same =
        answered && ddb_get_n(it, "statusCode", &sc) == 0 && sc == status && hj &&
        strcmp(hj, headers_json) == 0 && ddb_get_bool(it, "respMore", &m) == 0 && (bool)m == more &&
        (ddb_get_bool(it, "respHeadMore", &hm) < 0 || (bool)hm == head_more) &&
        ddb_get_b(it, "body0", &b, &bl) == 0 && bl == len && (!len || memcmp(b, body, len) == 0);
    free(b);
    json_decref(it);
    return same ? 1 : answered ? 0 : -1;
}

int store_complete_error(store *s, const char *rid, const char *cid, int status, const char *msg,
                         char *err, size_t cap)
{
    json_t *req = json_pack("{s:s,s:o,s:s,s:s,s:{s:s},s:{s:o,s:o,s:o,s:o}}", "TableName",
                            s->pend_table, "Key", ddb_key_s("requestId", rid), "UpdateExpression",
                            "SET #s = :e, statusCode = :sc, errMsg = :m", "ConditionExpression",
                            "attribute_exists(requestId) AND connectionId = :cid AND #s <> :e",
                            "ExpressionAttributeNames", "#s", "status", "ExpressionAttributeValues",
                            ":e", ddb_s(PEND_ERROR), ":sc", ddb_n(status), ":m",
                            ddb_s(msg ? msg : ""), ":cid", ddb_s(cid));
    return store_run(s, "UpdateItem", req, err, cap);
}

/* A part of a response after its head: a body piece, or a continuation of the head's fields.
 * more_attr: the request's flag saying whether such parts follow the head; count_attr: the
 * number of parts, set by the last one. */
typedef struct part_kind {
    const char *more_attr, *count_attr, *what;
} part_kind;

static const part_kind PIECE = {"respMore", "lastSeq", "piece"};
static const part_kind HEAD_PART = {"respHeadMore", "headSeq", "header fields"};

/* Part seq (last: it says it is the last one) lies past the end of the response: the head said
 * no such parts follow, or the count is known and seq is beyond it (or another last one). */
static bool past_end(const part_kind *k, const json_t *it, uint32_t seq, bool last)
{
    const char *st = ddb_get_s(it, "status");
    int follow = 1;
    int64_t n = 0;
    if (st && strcmp(st, PEND_RESPONDED) == 0 && ddb_get_bool(it, k->more_attr, &follow) == 0 &&
        !follow)
        return true;
    return ddb_get_n(it, k->count_attr, &n) == 0 &&
           ((int64_t)seq > n || (last && (int64_t)seq != n));
}

/* Whether the request item it belongs to cid and has not failed. */
static bool owned(const json_t *it, const char *cid)
{
    const char *pc = ddb_get_s(it, "connectionId"), *st = ddb_get_s(it, "status");
    return pc && strcmp(pc, cid) == 0 && st && strcmp(st, PEND_ERROR) != 0;
}

/* Writes part seq of kind k (its value in attribute attr, stolen) under key: only for a request
 * that exists, was sent to cid, has not failed (one consistent read, skipped when verified) and
 * whose response the part lies within; once (attribute_not_exists); the last part then records
 * the count, conditional on the same and on no other part having been the last. */
static int put_part(store *s, const part_kind *k, const char *rid, const char *cid, uint32_t seq,
                    const char *key, const char *attr, json_t *value, bool last, bool verified,
                    int64_t now, char *err, size_t cap)
{
    json_t *req, *it = NULL;
    int rc;
    if (!verified) {
        char proj[96];
        snprintf(proj, sizeof proj, "connectionId, #s, %s, %s", k->count_attr, k->more_attr);
        req = json_pack("{s:s,s:o,s:b,s:s,s:{s:s}}", "TableName", s->pend_table, "Key",
                        ddb_key_s("requestId", rid), "ConsistentRead", 1, "ProjectionExpression",
                        proj, "ExpressionAttributeNames", "#s", "status");
        json_t *resp = NULL;
        rc = req ? ddb_call(s->db, "GetItem", req, &resp, err, cap) : store_oom(err, cap);
        json_decref(req);
        if (rc != DDB_OK) {
            json_decref(value);
            return rc;
        }
        it = json_object_get(resp, "Item");
        bool ok = owned(it, cid), past = ok && past_end(k, it, seq, last);
        json_decref(resp);
        if (!ok || past) {
            json_decref(value);
            if (!ok)
                snprintf(err, cap, "no such request for this connection");
            else
                snprintf(err, cap, "%s %" PRIu32 " lies past the end of the response", k->what,
                         seq);
            return ok ? STORE_OVERRUN : DDB_CONDITION;
        }
    }
    req = json_pack("{s:s,s:{s:o,s:o,s:o},s:s}", "TableName", s->pend_table, "Item", "requestId",
                    ddb_s(key), attr, value, "ttl", ddb_n(now + STORE_PENDING_TTL_S),
                    "ConditionExpression", "attribute_not_exists(requestId)");
    rc = store_run(s, "PutItem", req, err, cap);
    if (rc != 0 || !last)
        return rc;
    char upd[64], cond[160];
    snprintf(upd, sizeof upd, "SET %s = :seq", k->count_attr);
    snprintf(cond, sizeof cond,
             "attribute_exists(requestId) AND connectionId = :cid AND #s <> :e AND "
             "(attribute_not_exists(%s) OR %s = :seq)",
             k->count_attr, k->count_attr);
    req = json_pack("{s:s,s:o,s:s,s:s,s:{s:s},s:{s:o,s:o,s:o}}", "TableName", s->pend_table, "Key",
                    ddb_key_s("requestId", rid), "UpdateExpression", upd, "ConditionExpression",
                    cond, "ExpressionAttributeNames", "#s", "status", "ExpressionAttributeValues",
                    ":seq", ddb_n(seq), ":cid", ddb_s(cid), ":e", ddb_s(PEND_ERROR));
    rc = store_run(s, "UpdateItem", req, err, cap);
    if (rc != DDB_CONDITION)
        return rc;
    /* refused: a gone or foreign request, or another part was the last one */
    if (store_get_pending(s, rid, &it, err, cap) != 0)
        return DDB_CONDITION;
    int64_t n = 0;
    bool past = owned(it, cid) && ddb_get_n(it, k->count_attr, &n) == 0 && n != (int64_t)seq;
    json_decref(it);
    if (!past)
        return DDB_CONDITION;
    snprintf(err, cap, "%s %" PRIu32 " claims to be the last after %" PRId64, k->what, seq, n);
    return STORE_OVERRUN;
}

int store_put_piece(store *s, const char *rid, const char *cid, uint32_t seq, const uint8_t *body,
                    size_t len, bool more, bool verified, int64_t now, char *err, size_t cap)
{
    char key[PIECE_KEY_MAX];
    if (store_piece_key(key, sizeof key, rid, cid, seq) < 0) {
        snprintf(err, cap, "key too long");
        return -1;
    }
    json_t *v = ddb_b(body, len);
    if (!v)
        return store_oom(err, cap);
    return put_part(s, &PIECE, rid, cid, seq, key, "b", v, !more, verified, now, err, cap);
}

int store_put_head_part(store *s, const char *rid, const char *cid, uint32_t seq,
                        const char *headers_json, bool last, bool verified, int64_t now, char *err,
                        size_t cap)
{
    char key[PIECE_KEY_MAX];
    if (store_head_key(key, sizeof key, rid, cid, seq) < 0) {
        snprintf(err, cap, "key too long");
        return -1;
    }
    json_t *v = ddb_s(headers_json);
    if (!v)
        return store_oom(err, cap);
    return put_part(s, &HEAD_PART, rid, cid, seq, key, "h", v, last, verified, now, err, cap);
}

int store_cancel_response(store *s, const char *rid, const char *cid, char *err, size_t cap)
{
    json_t *req =
        json_pack("{s:s,s:o,s:s,s:s,s:{s:s},s:{s:o,s:o,s:o}}", "TableName", s->pend_table, "Key",
                  ddb_key_s("requestId", rid), "UpdateExpression", "SET cancelled = :t",
                  "ConditionExpression", "connectionId = :cid AND #s <> :e",
                  "ExpressionAttributeNames", "#s", "status", "ExpressionAttributeValues", ":t",
                  ddb_bool(1), ":cid", ddb_s(cid), ":e", ddb_s(PEND_ERROR));
    return store_run(s, "UpdateItem", req, err, cap);
}

int store_mark_overrun(store *s, const char *rid, const char *cid, const char *msg,
                       bool answered_only, char *err, size_t cap)
{
    json_t *req = json_pack(
        "{s:s,s:o,s:s,s:s,s:{s:s},s:{s:o,s:o,s:o,s:o,s:o}}", "TableName", s->pend_table, "Key",
        ddb_key_s("requestId", rid), "UpdateExpression",
        "SET #s = :e, statusCode = :sc, errMsg = :m, overrun = :t", "ConditionExpression",
        answered_only ? "connectionId = :cid AND #s = :r" : "connectionId = :cid AND #s <> :e",
        "ExpressionAttributeNames", "#s", "status", "ExpressionAttributeValues", ":e",
        ddb_s(PEND_ERROR), ":sc", ddb_n(502), ":m", ddb_s(msg), ":t", ddb_bool(1), ":cid",
        ddb_s(cid));
    if (req && answered_only &&
        json_object_set_new(json_object_get(req, "ExpressionAttributeValues"), ":r",
                            ddb_s(PEND_RESPONDED)) < 0) {
        json_decref(req);
        req = NULL;
    }
    return store_run(s, "UpdateItem", req, err, cap);
}

int piece_set_init(piece_set *ps, uint32_t n)
{
    memset(ps, 0, sizeof *ps);
    ps->data = calloc(n ? n : 1, sizeof *ps->data);
    ps->len = calloc(n ? n : 1, sizeof *ps->len);
    if (!ps->data || !ps->len) {
        piece_set_free(ps);
        return -1;
    }
    ps->n = n;
    return 0;
}

int piece_set_resize(piece_set *ps, uint32_t n)
{
    if (n <= ps->n) { /* pieces past n cannot exist: none was found */
        ps->n = n;
        return 0;
    }
    uint8_t **d = realloc(ps->data, n * sizeof *d);
    if (d)
        ps->data = d;
    size_t *l = d ? realloc(ps->len, n * sizeof *l) : NULL;
    if (!l)
        return -1;
    ps->len = l;
    memset(ps->data + ps->n, 0, (n - ps->n) * sizeof *d);
    memset(ps->len + ps->n, 0, (n - ps->n) * sizeof *l);
    ps->n = n;
    return 0;
}

void piece_set_free(piece_set *ps)
{
    for (uint32_t i = 0; ps->data && i < ps->n; i++)
        free(ps->data[i]);
    free(ps->data);
    free(ps->len);
    memset(ps, 0, sizeof *ps);
}

/* The seq at the end of a piece key, 0 when malformed. */
static uint32_t key_seq(const char *k)
{
    const char *h = k ? strrchr(k, '#') : NULL;
    if (!h)
        return 0;
    char *end;
    unsigned long v = strtoul(h + 1, &end, 10);
    return (*end || v > UINT32_MAX) ? 0 : (uint32_t)v;
}

/* BatchGetItem of keys (stolen) on the pending table, consistent, UnprocessedKeys asked again;
 * each item returned goes to take(ud, item). A round that returned items was cut by the response
 * size limit (16 MB on DynamoDB, 1 MB in dynalite): the rest is asked at once. A round that
 * returned nothing was throttled: the rest is asked after a backoff, as AWS advises. 0 or -1. */
static int batch_get(store *s, json_t *keys, void (*take)(void *ud, json_t *item), void *ud,
                     char *err, size_t cap)
{
    json_t *req = json_pack("{s:{s:{s:o,s:b}}}", "RequestItems", s->pend_table, "Keys", keys,
                            "ConsistentRead", 1);
    if (!req)
        return store_oom(err, cap);
    int rc = -1;
    for (int round = 0, idle = 0; round < 120 && idle < 20; round++) {
        json_t *resp;
        rc = ddb_call(s->db, "BatchGetItem", req, &resp, err, cap);
        if (rc != DDB_OK)
            break;
        size_t i;
        json_t *it, *got = json_object_get(json_object_get(resp, "Responses"), s->pend_table);
        json_array_foreach(got, i, it)
        {
            take(ud, it);
        }
        json_t *unk = json_object_get(
            json_object_get(json_object_get(resp, "UnprocessedKeys"), s->pend_table), "Keys");
        if (!json_is_array(unk) || json_array_size(unk) == 0) {
            json_decref(resp);
            rc = 0;
            break;
        }
        json_object_set(json_object_get(json_object_get(req, "RequestItems"), s->pend_table),
                        "Keys", unk);
        bool progress = json_array_size(got) > 0;
        json_decref(resp);
        rc = -1;
        snprintf(err, cap, "BatchGetItem: unprocessed keys");
        if (!progress) {
            clock_sleep_ms(10L << (idle < 4 ? idle : 4));
            idle++;
        }
    }
    json_decref(req);
    return rc;
}

/* One poll (store_poll_answer): batch_get's taker. */
typedef struct poll_ctx {
    const char *rid;
    piece_set *ps;
    answer_poll *p;
} poll_ctx;

/* Pieces into the piece set; the request item and piece p->probe into the poll. */
static void poll_take(void *ud, json_t *it)
{
    poll_ctx *c = ud;
    piece_set *ps = c->ps;
    const char *k = ddb_get_s(it, "requestId");
    if (k && strcmp(k, c->rid) == 0) {
        if (c->p->item && !c->p->got_item)
            c->p->got_item = json_incref(it);
        return;
    }
    uint32_t q = key_seq(k);
    if (q != 0 && q == c->p->probe) {
        c->p->probe_found = true;
        return;
    }
    if (q == 0 || q > ps->n || ps->data[q - 1])
        return;
    uint8_t *d = NULL;
    size_t n = 0;
    if (ddb_get_b(it, "b", &d, &n) < 0)
        return; /* unreadable: stays missing */
    if (!d)     /* an empty piece: keep a non-NULL marker */
        d = malloc(1);
    if (!d)
        return;
    ps->data[q - 1] = d;
    ps->len[q - 1] = n;
    ps->have++;
    ps->bytes += n;
}

int store_poll_answer(store *s, const char *rid, const char *cid, piece_set *ps, answer_poll *p,
                      char *err, size_t cap)
{
    char key[PIECE_KEY_MAX];
    p->got_item = NULL;
    p->probe_found = false;
    p->asked = 0;
    p->asked_to = 0;
    json_t *keys = json_array();
    if (!keys || (p->item && json_array_append_new(keys, ddb_key_s("requestId", rid)) < 0)) {
        json_decref(keys);
        return store_oom(err, cap);
    }
    uint32_t want = p->want && p->want < 98 ? p->want : 98;
    /* the lowest missing ones: pieces are mostly written in order (BatchGetItem: 100 keys) */
    for (uint32_t q = 1; q <= ps->n && p->asked < want; q++) {
        if (ps->data[q - 1])
            continue;
        if (store_piece_key(key, sizeof key, rid, cid, q) < 0) {
            json_decref(keys);
            return store_oom(err, cap);
        }
        json_array_append_new(keys, ddb_key_s("requestId", key));
        p->asked++;
        p->asked_to = q;
    }
    if (p->probe) {
        if (store_piece_key(key, sizeof key, rid, cid, p->probe) < 0) {
            json_decref(keys);
            return store_oom(err, cap);
        }
        json_array_append_new(keys, ddb_key_s("requestId", key));
    }
    if (json_array_size(keys) == 0) {
        json_decref(keys);
        return 0;
    }
    poll_ctx c = {rid, ps, p};
    int rc = batch_get(s, keys, poll_take, &c, err, cap);
    if (rc < 0) {
        json_decref(p->got_item);
        p->got_item = NULL;
    }
    return rc;
}

/* batch_get's taker for head continuations: the text of part q at index q - 1. */
static void take_head_part(void *ud, json_t *it)
{
    json_t *out = ud;
    const char *k = ddb_get_s(it, "requestId"), *h = ddb_get_s(it, "h");
    const char *m = k ? strrchr(k, '#') : NULL;
    unsigned long q = m && m[1] == 'h' ? strtoul(m + 2, NULL, 10) : 0;
    if (q >= 1 && q <= json_array_size(out) && h)
        json_array_set_new(out, q - 1, json_string(h));
}

int store_fetch_head_parts(store *s, const char *rid, const char *cid, uint32_t n, json_t **parts,
                           char *err, size_t cap)
{
    *parts = NULL;
    json_t *keys = json_array(), *out = json_array();
    char key[PIECE_KEY_MAX];
    for (uint32_t q = 1; keys && out && q <= n; q++) {
        if (store_head_key(key, sizeof key, rid, cid, q) < 0)
            break;
        json_array_append_new(keys, ddb_key_s("requestId", key));
        json_array_append_new(out, json_null());
    }
    if (!keys || !out || json_array_size(out) != n) {
        json_decref(keys);
        json_decref(out);
        return store_oom(err, cap);
    }
    if (batch_get(s, keys, take_head_part, out, err, cap) < 0) {
        json_decref(out);
        return -1;
    }
    for (uint32_t q = 0; q < n; q++)
        if (json_is_null(json_array_get(out, q))) {
            json_decref(out);
            return 1; /* a part is still being written */
        }
    *parts = out;
    return 0;
}

/* BatchWriteItem deletes of up to 25 keys of one table (stolen array of key objects). */
static int batch_delete(store *s, const char *table, json_t *keys, char *err, size_t cap)
{
    json_t *reqs = json_array();
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        json_array_append_new(reqs, json_pack("{s:{s:O}}", "DeleteRequest", "Key", k));
    }
    json_decref(keys);
    json_t *req = json_pack("{s:{s:o}}", "RequestItems", table, reqs);
    int rc = -1;
    for (int round = 0; req && round < 10; round++) {
        json_t *resp;
        rc = ddb_call(s->db, "BatchWriteItem", req, &resp, err, cap);
        if (rc != DDB_OK)
            break;
        json_t *unp = json_object_get(json_object_get(resp, "UnprocessedItems"), table);
        if (!json_is_array(unp) || json_array_size(unp) == 0) {
            json_decref(resp);
            break;
        }
        json_object_set(json_object_get(req, "RequestItems"), table, unp);
        json_decref(resp);
        rc = -1;
        snprintf(err, cap, "BatchWriteItem: unprocessed items");
        clock_sleep_ms(10L << (round < 4 ? round : 4));
    }
    json_decref(req);
    return rc;
}

void store_deleter_add(store_deleter *d, const char *key, char *err, size_t cap)
{
    if (!d->keys && !(d->keys = json_array())) {
        d->rc = store_oom(err, cap);
        return;
    }
    json_array_append_new(d->keys, ddb_key_s(d->key_name, key));
    if (json_array_size(d->keys) < 25)
        return;
    if (batch_delete(d->s, d->table, d->keys, err, cap) < 0)
        d->rc = -1;
    d->keys = NULL;
}

int store_deleter_finish(store_deleter *d, char *err, size_t cap)
{
    if (d->keys && json_array_size(d->keys) > 0) {
        if (batch_delete(d->s, d->table, d->keys, err, cap) < 0)
            d->rc = -1;
    } else {
        json_decref(d->keys);
    }
    d->keys = NULL;
    return d->rc;
}

int store_delete_pending(store *s, const char *rid, const char *cid, uint32_t n, uint32_t nheads,
                         char *err, size_t cap)
{
    char key[PIECE_KEY_MAX];
    store_deleter d = {.s = s, .table = s->pend_table, .key_name = "requestId"};
    store_deleter_add(&d, rid, err, cap);
    for (uint32_t q = 1; cid && q <= n + nheads; q++) {
        int k = q <= n ? store_piece_key(key, sizeof key, rid, cid, q)
                       : store_head_key(key, sizeof key, rid, cid, q - n);
        if (k < 0)
            break;
        store_deleter_add(&d, key, err, cap);
    }
    return store_deleter_finish(&d, err, cap);
}
