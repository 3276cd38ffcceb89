/* SPDX-License-Identifier: MIT */
/* lambda/ws_handlers against the fakes: $connect (subprotocol, records), ready
 * (connection_established retried while the new connection refuses posts, the takeover of a
 * tunnel by the agent's next connection), ping, the acknowledgements of the agent's answers,
 * messages that are dropped, agent errors and $disconnect. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "harness.h"

/* The last message posted to cid, decoded into m (0), or -1. */
static int last_post(harness *h, const char *cid, tmsg *m)
{
    json_t *posts = fake_mgmt_posts(h->mgmt, cid);
    size_t n = json_array_size(posts);
    const char *err;
    if (n == 0)
        return -1;
    const char *text = json_string_value(json_array_get(posts, n - 1));
    return tmsg_decode(text, strlen(text), m, &err);
}

/* The $default answer's body decoded (an ack), or -1 when it has none. */
static int ack_of(const json_t *answer, tmsg *m)
{
    const char *b = json_string_value(json_object_get(answer, "body"));
    const char *err;
    return b ? tmsg_decode(b, strlen(b), m, &err) : -1;
}

static void connect_selects_json(void **state)
{
    harness *h = *state;
    json_t *r = harness_invoke(h, &h->ws, ev_connect(h, "C1=", "ttf.bin.v2, ttf.json.v1"));
    assert_int_equal(json_integer_value(json_object_get(r, "statusCode")), 200);
    assert_string_equal(harness_header(r, "Sec-WebSocket-Protocol"), "ttf.json.v1");
    json_decref(r);
    /* the connection and its fresh tunnel id's owner record */
    json_t *c = fake_ddb_get(h->db, H_CONN_TABLE, "C1=");
    assert_non_null(c);
    const char *tid = json_string_value(json_object_get(json_object_get(c, "tunnelId"), "S"));
    assert_non_null(tid);
    assert_int_equal(strlen(tid), 12);
    char key[64];
    snprintf(key, sizeof key, "owner#%s", tid);
    assert_non_null(fake_ddb_get(h->db, H_CONN_TABLE, key));
    /* nothing is posted from $connect: the connection is not usable yet */
    assert_int_equal(fake_mgmt_calls(h->mgmt, "POST"), 0);
    /* an offer without ours: no subprotocol selected (API Gateway then drops the connection) */
    r = harness_invoke(h, &h->ws, ev_connect(h, "C2=", "ttf.bin.v1"));
    assert_int_equal(json_integer_value(json_object_get(r, "statusCode")), 200);
    assert_null(json_object_get(r, "headers"));
    json_decref(r);
    assert_true(harness_log_has(h, "C2=", "no supported subprotocol"));
}

static void ready_retries_connection_established(void **state)
{
    harness *h = *state;
    json_decref(harness_invoke(h, &h->ws, ev_connect(h, "C1=", "ttf.json.v1")));
    fake_mgmt_open(h->mgmt, "C1=");
    fake_mgmt_not_ready(h->mgmt, 3); /* the first three posts meet 410 */
    json_t *r = harness_agent_send(h, "C1=", "{\"type\":\"ready\"}");
    tmsg a;
    assert_int_equal(ack_of(r, &a), 0);
    assert_int_equal(a.type, TMSG_ACK);
    assert_int_equal(a.ack_of, TMSG_READY);
    tmsg_free(&a);
    json_decref(r);
    tmsg m;
    assert_int_equal(last_post(h, "C1=", &m), 0);
    assert_int_equal(m.type, TMSG_CONNECTION_ESTABLISHED);
    assert_string_equal(m.connection_id, "C1=");
    char want[128];
    snprintf(want, sizeof want, "https://%s.%s", m.tunnel_id, H_DOMAIN);
    assert_string_equal(m.public_url, want);
    assert_non_null(m.takeover);
    assert_int_equal(strlen(m.takeover), 64);
    assert_int_equal(m.max_lifetime_s, 7200);
    tmsg_free(&m);
    assert_int_equal(fake_mgmt_calls(h->mgmt, "POST"), 4);
}

static void takeover_moves_the_tunnel(void **state)
{
    harness *h = *state;
    char tid[16];
    assert_int_equal(harness_agent_connect(h, "Old=", tid), 0);
    tmsg est;
    assert_int_equal(last_post(h, "Old=", &est), 0);
    /* the agent's next connection takes the tunnel over with the secret */
    json_decref(harness_invoke(h, &h->ws, ev_connect(h, "New=", "ttf.json.v1")));
    fake_mgmt_open(h->mgmt, "New=");
    tmsg rd;
    tmsg_init(&rd, TMSG_READY);
    rd.tunnel_id = strdup(tid);
    rd.takeover = strdup(est.takeover);
    char *text = harness_encode(&rd);
    tmsg_free(&rd);
    json_decref(harness_agent_send(h, "New=", text));
    free(text);
    tmsg m;
    assert_int_equal(last_post(h, "New=", &m), 0);
    assert_int_equal(m.type, TMSG_CONNECTION_ESTABLISHED);
    assert_string_equal(m.tunnel_id, tid);
    assert_string_not_equal(m.takeover, est.takeover); /* a fresh secret for the next move */
    tmsg_free(&m);
    /* new requests go to the new connection; the old one stays live for its answers */
    json_t *old = fake_ddb_get(h->db, H_CONN_TABLE, "Old=");
    char moved[20];
    snprintf(moved, sizeof moved, "~%s", tid);
    assert_string_equal(json_string_value(json_object_get(json_object_get(old, "tunnelId"), "S")),
                        moved);
    /* the secret is used up: the same ready again is refused (a fresh id instead) */
    json_decref(harness_invoke(h, &h->ws, ev_connect(h, "Third=", "ttf.json.v1")));
    fake_mgmt_open(h->mgmt, "Third=");
    tmsg_init(&rd, TMSG_READY);
    rd.tunnel_id = strdup(tid);
    rd.takeover = strdup(est.takeover);
    text = harness_encode(&rd);
    tmsg_free(&rd);
    json_decref(harness_agent_send(h, "Third=", text));
    free(text);
    assert_int_equal(last_post(h, "Third=", &m), 0);
    assert_int_equal(m.type, TMSG_CONNECTION_ESTABLISHED);
    assert_string_not_equal(m.tunnel_id, tid);
    tmsg_free(&m);
    assert_true(harness_log_has(h, "Third=", "takeover"));
    tmsg_free(&est);
}

static void ping_pong_and_dropped_messages(void **state)
{
    harness *h = *state;
    char tid[16];
    assert_int_equal(harness_agent_connect(h, "C1=", tid), 0);
    json_t *r = harness_agent_send(h, "C1=", "{\"type\":\"ping\"}");
    tmsg m;
    assert_int_equal(ack_of(r, &m), -1); /* no ack for a ping */
    json_decref(r);
    assert_int_equal(last_post(h, "C1=", &m), 0);
    assert_int_equal(m.type, TMSG_PONG);
    tmsg_free(&m);
    size_t posts = json_array_size(fake_mgmt_posts(h->mgmt, "C1="));
    /* unparsable and unexpected messages: answered, dropped, logged */
    r = harness_agent_send(h, "C1=", "{not json");
    assert_int_equal(json_integer_value(json_object_get(r, "statusCode")), 200);
    assert_int_equal(ack_of(r, &m), -1);
    json_decref(r);
    r = harness_agent_send(h, "C1=", "{\"type\":\"connection_established\"}");
    assert_int_equal(ack_of(r, &m), -1);
    json_decref(r);
    json_t *ev = ev_message(h, "C1=", "AAEC");
    json_object_set_new(ev, "isBase64Encoded", json_true());
    r = harness_invoke(h, &h->ws, ev);
    assert_int_equal(ack_of(r, &m), -1);
    json_decref(r);
    assert_true(harness_log_has(h, "C1=", "binary message"));
    assert_int_equal(json_array_size(fake_mgmt_posts(h->mgmt, "C1=")), posts);
}

static void answers_acknowledged(void **state)
{
    harness *h = *state;
    char tid[16], err[256];
    assert_int_equal(harness_agent_connect(h, "C1=", tid), 0);
    assert_int_equal(store_put_pending(&h->ws.st, "R1", "C1=", tid, 100, err, sizeof err), 0);
    const char *resp = "{\"type\":\"http_response\",\"request_id\":\"R1\",\"status_code\":200,"
                       "\"headers\":{},\"body\":\"aGk=\",\"more\":true}";
    json_t *r = harness_agent_send(h, "C1=", resp);
    tmsg m;
    assert_int_equal(ack_of(r, &m), 0);
    assert_int_equal(m.ack_of, TMSG_HTTP_RESPONSE);
    assert_string_equal(m.request_id, "R1");
    tmsg_free(&m);
    json_decref(r);
    /* a repeat (the agent did not see the ack) is settled too: acknowledged, nothing changes
     * (it is no second response) */
    r = harness_agent_send(h, "C1=", resp);
    assert_int_equal(ack_of(r, &m), 0);
    tmsg_free(&m);
    json_decref(r);
    json_t *item = fake_ddb_get(h->db, H_PEND_TABLE, "R1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(item, "status"), "S")),
                        "responded");
    assert_null(json_object_get(item, "overrun"));
    const char *piece = "{\"type\":\"http_response_body\",\"request_id\":\"R1\",\"seq\":1,"
                        "\"body\":\"IQ==\",\"more\":false}";
    r = harness_agent_send(h, "C1=", piece);
    assert_int_equal(ack_of(r, &m), 0);
    assert_int_equal(m.ack_of, TMSG_HTTP_RESPONSE_BODY);
    assert_int_equal(m.seq, 1);
    tmsg_free(&m);
    json_decref(r);
    /* a write that failed is not acknowledged: the agent sends it again */
    fake_ddb_throttle(h->db, 100);
    const char *piece2 = "{\"type\":\"http_response_body\",\"request_id\":\"R1\",\"seq\":2,"
                         "\"body\":\"IQ==\",\"more\":false}";
    r = harness_agent_send(h, "C1=", piece2);
    assert_int_equal(ack_of(r, &m), -1);
    json_decref(r);
    fake_ddb_throttle(h->db, 0);
}

static void agent_error(void **state)
{
    harness *h = *state;
    char tid[16], err[256];
    assert_int_equal(harness_agent_connect(h, "C1=", tid), 0);
    assert_int_equal(store_put_pending(&h->ws.st, "R2", "C1=", tid, 100, err, sizeof err), 0);
    json_decref(harness_agent_send(h, "C1=",
                                   "{\"type\":\"error\",\"request_id\":\"R2\",\"code\":"
                                   "\"local_service_unavailable\",\"message\":\"refused\"}"));
    json_t *it = fake_ddb_get(h->db, H_PEND_TABLE, "R2");
    assert_string_equal(json_string_value(json_object_get(json_object_get(it, "status"), "S")),
                        "error");
    assert_string_equal(json_string_value(json_object_get(json_object_get(it, "statusCode"), "N")),
                        "502");
    assert_string_equal(json_string_value(json_object_get(json_object_get(it, "errMsg"), "S")),
                        "refused");
    /* the text ttfd answers with (edge_agent_error_text): no message, or one of controls */
    static const char *const sent[][2] = {
        {"{\"type\":\"error\",\"request_id\":\"R3\",\"code\":\"timeout\"}",
         "the local service did not answer in time"}, /* ttfd's binary-mode text too */
        {"{\"type\":\"error\",\"request_id\":\"R3\",\"code\":\"internal_error\","
         "\"message\":\"bad\\r\\nX-Injected: 1 \"}",
         "badX-Injected: 1"},
    };
    for (size_t i = 0; i < sizeof sent / sizeof sent[0]; i++) {
        assert_int_equal(store_put_pending(&h->ws.st, "R3", "C1=", tid, 100, err, sizeof err), 0);
        json_decref(harness_agent_send(h, "C1=", sent[i][0]));
        it = fake_ddb_get(h->db, H_PEND_TABLE, "R3");
        assert_string_equal(json_string_value(json_object_get(json_object_get(it, "errMsg"), "S")),
                            sent[i][1]);
        store_delete_pending(&h->ws.st, "R3", NULL, 0, 0, err, sizeof err);
    }
}

static void disconnect_releases_the_name(void **state)
{
    harness *h = *state;
    char tid[16];
    assert_int_equal(harness_agent_connect(h, "C1=", tid), 0);
    unsigned gets = fake_ddb_calls(h->db, "GetItem");
    json_t *r = harness_invoke(h, &h->ws, ev_disconnect(h, "C1="));
    assert_int_equal(json_integer_value(json_object_get(r, "statusCode")), 200);
    json_decref(r);
    assert_int_equal(fake_ddb_calls(h->db, "GetItem") - gets, 1); /* the record, read once */
    assert_null(fake_ddb_get(h->db, H_CONN_TABLE, "C1="));
    /* without auth the name is kept for the grace period from now (NAME_GRACE_SECS, 300) */
    char key[64];
    snprintf(key, sizeof key, "owner#%s", tid);
    json_t *o = fake_ddb_get(h->db, H_CONN_TABLE, key);
    assert_non_null(o);
    int64_t ttl =
        strtoll(json_string_value(json_object_get(json_object_get(o, "ttl"), "N")), NULL, 10);
    int64_t now = clock_wall_ms() / 1000;
    assert_true(ttl >= now + 300 - 5 && ttl <= now + 300);
}

static void ready_with_tunnels(void **state)
{
    harness *h = *state;
    json_decref(harness_invoke(h, &h->ws, ev_connect(h, "C1=", "ttf.json.v1")));
    fake_mgmt_open(h->mgmt, "C1=");
    json_decref(harness_agent_send(
        h,
        "C1=", "{\"type\":\"ready\",\"tunnels\":[{\"name\":\"web\",\"subdomain\":\"mywebapp\"}]}"));
    tmsg m;
    assert_int_equal(last_post(h, "C1=", &m), 0);
    assert_int_equal(m.type, TMSG_CONNECTION_ESTABLISHED);
    assert_string_equal(m.tunnel_id, "mywebapp"); /* the chosen name of tunnels[0] */
    assert_int_equal(m.ntunnels, 1);
    assert_string_equal(m.tunnels[0].name, "web");
    assert_string_equal(m.tunnels[0].tunnel_id, "mywebapp");
    assert_string_equal(m.tunnels[0].public_url, m.public_url);
    tmsg_free(&m);
}

/* A new connection cid sending ready text; the last message posted to it decoded into m. */
static void connect_ready(harness *h, const char *cid, const char *text, tmsg *m)
{
    json_decref(harness_invoke(h, &h->ws, ev_connect(h, cid, "ttf.json.v1")));
    fake_mgmt_open(h->mgmt, cid);
    json_decref(harness_agent_send(h, cid, text));
    assert_int_equal(last_post(h, cid, m), 0);
}

static const char *attr(json_t *item, const char *name)
{
    return json_string_value(json_object_get(json_object_get(item, name), "S"));
}

/* Several tunnels: all or none. A name that cannot be had refuses the ready naming the tunnel,
 * and the name claimed for the other tunnel is let go (its record deleted). */
static void several_tunnels_all_or_none(void **state)
{
    harness *h = *state;
    tmsg m;
    connect_ready(h, "C0=", "{\"type\":\"ready\",\"subdomain\":\"taken\"}", &m);
    assert_string_equal(m.tunnel_id, "taken");
    tmsg_free(&m);
    connect_ready(h, "C1=",
                  "{\"type\":\"ready\",\"tunnels\":[{\"name\":\"web\",\"subdomain\":\"free1\"},"
                  "{\"name\":\"api\",\"subdomain\":\"taken\"}]}",
                  &m);
    assert_int_equal(m.type, TMSG_TUNNEL_REFUSED);
    assert_string_equal(m.refusal, "name_in_use");
    assert_string_equal(m.message, "tunnel api: subdomain 'taken' is in use by another agent");
    tmsg_free(&m);
    assert_null(fake_ddb_get(h->db, H_CONN_TABLE, "owner#free1"));
    json_t *c1 = fake_ddb_get(h->db, H_CONN_TABLE, "C1=");
    assert_string_not_equal(attr(c1, "tunnelId"), "free1");
    /* both free: both given, one record and one item; each its own access */
    connect_ready(h, "C2=",
                  "{\"type\":\"ready\",\"tunnels\":[{\"name\":\"web\",\"subdomain\":\"free1\"},"
                  "{\"name\":\"api\",\"access\":{\"allow_cidr\":[\"10.0.0.0/8\"]}}]}",
                  &m);
    assert_int_equal(m.type, TMSG_CONNECTION_ESTABLISHED);
    assert_int_equal(m.ntunnels, 2);
    assert_string_equal(m.tunnels[0].tunnel_id, "free1");
    assert_string_equal(m.tunnel_id, "free1");
    assert_false(m.tunnels[0].access_applied);
    assert_true(m.tunnels[1].access_applied);
    char key[128];
    snprintf(key, sizeof key, "tunnel#C2=#%s", m.tunnels[1].tunnel_id);
    json_t *item = fake_ddb_get(h->db, H_CONN_TABLE, key);
    assert_non_null(item);
    assert_string_equal(attr(item, "conn"), "C2=");
    assert_string_equal(attr(item, "tunnelId"), m.tunnels[1].tunnel_id);
    assert_non_null(strstr(attr(item, "access"), "10.0.0.0"));
    assert_string_equal(attr(fake_ddb_get(h->db, H_CONN_TABLE, "C2="), "tunnels"),
                        m.tunnels[1].tunnel_id);
    /* $disconnect: both names released, the item deleted with the record */
    json_decref(harness_invoke(h, &h->ws, ev_disconnect(h, "C2=")));
    assert_null(fake_ddb_get(h->db, H_CONN_TABLE, "C2="));
    assert_null(fake_ddb_get(h->db, H_CONN_TABLE, key));
    snprintf(key, sizeof key, "owner#%s", m.tunnels[1].tunnel_id);
    assert_non_null(json_object_get(fake_ddb_get(h->db, H_CONN_TABLE, key), "ttl"));
    tmsg_free(&m);
    /* two entries asking for one name */
    connect_ready(h, "C3=",
                  "{\"type\":\"ready\",\"tunnels\":[{\"name\":\"a\",\"subdomain\":\"same\"},"
                  "{\"name\":\"b\",\"subdomain\":\"SAME\"}]}",
                  &m);
    assert_int_equal(m.type, TMSG_TUNNEL_REFUSED);
    assert_string_equal(m.refusal, "name_invalid");
    tmsg_free(&m);
}

/* The agent's next connection takes every tunnel over with one secret. */
static void several_tunnels_move(void **state)
{
    harness *h = *state;
    tmsg est, m;
    connect_ready(h, "Old=",
                  "{\"type\":\"ready\",\"tunnels\":[{\"name\":\"web\",\"subdomain\":\"mv-web\"},"
                  "{\"name\":\"api\"}]}",
                  &est);
    assert_int_equal(est.ntunnels, 2);
    char api[TUNNEL_NAME_MAX + 1], text[600];
    snprintf(api, sizeof api, "%s", est.tunnels[1].tunnel_id);
    snprintf(
        text, sizeof text,
        "{\"type\":\"ready\",\"tunnel_id\":\"mv-web\",\"takeover\":\"%s\",\"tunnels\":["
        "{\"name\":\"web\",\"subdomain\":\"mv-web\"},{\"name\":\"api\",\"tunnel_id\":\"%s\"}]}",
        est.takeover, api);
    connect_ready(h, "New=", text, &m);
    assert_int_equal(m.type, TMSG_CONNECTION_ESTABLISHED);
    assert_int_equal(m.ntunnels, 2);
    assert_string_equal(m.tunnels[0].tunnel_id, "mv-web");
    assert_string_equal(m.tunnels[1].tunnel_id, api);
    tmsg_free(&m);
    assert_true(harness_log_has(h, "New=", "2 tunnels taken over"));
    /* the old connection's record and item are out of the index; the new ones serve */
    assert_string_equal(attr(fake_ddb_get(h->db, H_CONN_TABLE, "Old="), "tunnelId"), "~mv-web");
    char key[128], moved[TUNNEL_NAME_MAX + 2];
    snprintf(key, sizeof key, "tunnel#Old=#%s", api);
    snprintf(moved, sizeof moved, "~%s", api);
    assert_string_equal(attr(fake_ddb_get(h->db, H_CONN_TABLE, key), "tunnelId"), moved);
    snprintf(key, sizeof key, "tunnel#New=#%s", api);
    assert_string_equal(attr(fake_ddb_get(h->db, H_CONN_TABLE, key), "tunnelId"), api);
    /* the old connection closing lets neither name go: they are the new one's */
    json_decref(harness_invoke(h, &h->ws, ev_disconnect(h, "Old=")));
    snprintf(key, sizeof key, "owner#%s", api);
    assert_string_equal(attr(fake_ddb_get(h->db, H_CONN_TABLE, key), "holder"), "New=");
    assert_string_equal(attr(fake_ddb_get(h->db, H_CONN_TABLE, "owner#mv-web"), "holder"), "New=");
    tmsg_free(&est);
}

/* A $disconnect that deletes the record (and the items it lists) while ready is writing the
 * tunnel items: once the record is gone, ready deletes the items written after that. */
static void disconnect_during_ready(harness *h, const char *op, void *ud)
{
    bool *done = ud;
    json_t *rec = fake_ddb_get(h->db, H_CONN_TABLE, "C5=");
    if (*done || strcmp(op, "PutItem") != 0 || !rec || !json_object_get(rec, "tunnels"))
        return;
    *done = true;
    char err[256];
    assert_int_equal(store_delete_connection(&h->ws.st, "C5=", err, sizeof err), 0);
}

static void ready_cleans_up_when_the_connection_closes(void **state)
{
    harness *h = *state;
    json_decref(harness_invoke(h, &h->ws, ev_connect(h, "C5=", "ttf.json.v1")));
    fake_mgmt_open(h->mgmt, "C5=");
    bool done = false;
    h->meanwhile = disconnect_during_ready;
    h->meanwhile_ud = &done;
    json_decref(harness_agent_send(h, "C5=",
                                   "{\"type\":\"ready\",\"tunnels\":[{\"name\":"
                                   "\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}]}"));
    h->meanwhile = NULL;
    assert_true(done);
    assert_true(harness_log_has(h, "C5=", "the connection closed"));
    json_t *left = fake_ddb_keys(h->db, H_CONN_TABLE, "tunnel#C5=#");
    assert_int_equal(json_array_size(left), 0);
    json_decref(left);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, harness_setup, harness_teardown)
    const struct CMUnitTest tests[] = {
        T(connect_selects_json),
        T(ready_retries_connection_established),
        T(takeover_moves_the_tunnel),
        T(ping_pong_and_dropped_messages),
        T(answers_acknowledged),
        T(agent_error),
        T(disconnect_releases_the_name),
        T(ready_with_tunnels),
        T(several_tunnels_all_or_none),
        T(several_tunnels_move),
        T(ready_cleans_up_when_the_connection_closes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
