/* SPDX-License-Identifier: MIT */
/* ws_handlers.c - $connect / $default / $disconnect. */
#include "ws_handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "edge_answer.h"
#include "events.h"
#include "clock.h"
#include "names.h"
#include "httpresp.h"
#include "ready.h"
#include "proto_bin.h"
#include "proto_json.h"
#include "proxy.h"
#include "tunnel_id.h"

#define ERRCAP 256
/* how long a verified request/connection pair is trusted for its next pieces */
#define VERIFIED_MS 30000

static char *status_doc(int status, const char *body, const char *subproto, size_t *len)
{
    json_t *o = json_pack("{s:i}", "statusCode", status);
    if (o && body)
        json_object_set_new(o, "body", json_string(body));
    if (o && subproto)
        json_object_set_new(o, "headers", json_pack("{s:s}", "Sec-WebSocket-Protocol", subproto));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (s)
        *len = strlen(s);
    return s;
}

const char *ws_select_subprotocol(const char *offer)
{
    if (!offer)
        return NULL;
    const char *p = offer;
    size_t want = strlen(TTF_SUBPROTO_JSON);
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t n = strcspn(p, ", \t");
        if (n == want && strncmp(p, TTF_SUBPROTO_JSON, n) == 0)
            return TTF_SUBPROTO_JSON;
        p += n;
    }
    return NULL;
}

char *ws_handle_connect(lambda_ctx *ctx, const json_t *ev, size_t *len)
{
    ws_event we;
    const char *perr;
    if (ws_event_parse(ev, &we, &perr) < 0) {
        TLOG_E(ctx->log, "$connect: %s", perr);
        return status_doc(400, "Bad Request", NULL, len);
    }
    char *offer = ws_event_header(ev, "Sec-WebSocket-Protocol");
    const char *proto = ws_select_subprotocol(offer);
    if (offer && !proto)
        TLOG_W(ctx->log, "$connect %s: no supported subprotocol offered", we.connection_id);
    free(offer);

    char sub[256] = "";
    if (ctx->cfg->require_auth) {
        if (!ctx->auth) {
            TLOG_E(ctx->log, "$connect %s refused: %s", we.connection_id,
                   ctx->auth_problem ? ctx->auth_problem : "no key material");
            return status_doc(401, "Unauthorized", NULL, len);
        }
        char *authz = ws_event_header(ev, "Authorization");
        char *tok = authz ? auth_token_from_request(authz, NULL) : NULL;
        free(authz);
        if (!tok) {
            const char *q = ws_event_query(ev, "token");
            if (q && *q) {
                tok = strdup(q);
                TLOG_W(ctx->log, "$connect %s: token passed in the query string (may be logged)",
                       we.connection_id);
            }
        }
        const char *aerr = "no token";
        int ok =
            tok ? auth_verify(ctx->auth, tok, clock_wall_ms() / 1000, sub, sizeof sub, &aerr) : -1;
        free(tok);
        if (ok < 0) {
            TLOG_W(ctx->log, "$connect %s refused: authentication failed: %s", we.connection_id,
                   aerr);
            return status_doc(401, "Unauthorized", NULL, len);
        }
    }
    char err[ERRCAP];
    char tid[TUNNEL_ID_LEN + 1];
    int64_t now = clock_wall_ms() / 1000;
    char owner[TUNNEL_OWNER_MAX + 1];
    tunnel_owner(owner, sizeof owner, ctx->cfg->require_auth, sub, NULL); /* sub fits */
    int rc = names_fresh(ctx, we.connection_id, owner, now, tid, err, sizeof err);
    if (rc == 0)
        rc = store_put_connection(&ctx->st, we.connection_id, tid, sub, now, err, sizeof err);
    if (rc != 0) {
        TLOG_E(ctx->log, "$connect %s: cannot record the tunnel: %s", we.connection_id, err);
        return status_doc(500, "Internal Server Error", NULL, len);
    }
    TLOG_I(ctx->log, "$connect %s tunnel %s%s%s", we.connection_id, tid, sub[0] ? " sub " : "",
           sub);
    return status_doc(200, NULL, proto, len);
}

static void release(lambda_ctx *ctx, const char *cid, const char *tid, int64_t now)
{
    char err[ERRCAP];
    int rc = store_release_owner(&ctx->st, tid, cid, now, err, sizeof err);
    if (rc != 0 && rc != DDB_CONDITION)
        TLOG_E(ctx->log, "$disconnect %s: releasing %s: %s", cid, tid, err);
}

char *ws_handle_disconnect(lambda_ctx *ctx, const json_t *ev, size_t *len)
{
    ws_event we;
    const char *perr;
    if (ws_event_parse(ev, &we, &perr) < 0) {
        TLOG_E(ctx->log, "$disconnect: %s", perr);
        return status_doc(200, NULL, NULL, len);
    }
    char err[ERRCAP];
    conn_rec c;
    /* Its names stay their owner's for the grace (or retention) period from now: the first
     * tunnel's and those of its other tunnels (a name that moved to the agent's next connection
     * has another holder and is left alone). */
    char *others = NULL;
    int rc = store_get_connection_tunnels(&ctx->st, we.connection_id, &c, &others, err, sizeof err);
    if (rc == 0 && c.tunnel_id[0]) {
        int64_t now = clock_wall_ms() / 1000;
        release(ctx, we.connection_id, c.tunnel_id, now);
        for (char *save = NULL, *tid = others ? strtok_r(others, " ", &save) : NULL; tid;
             tid = strtok_r(NULL, " ", &save))
            release(ctx, we.connection_id, tid, now);
    }
    free(others);
    if (store_delete_connection(&ctx->st, we.connection_id, err, sizeof err) != 0)
        TLOG_E(ctx->log, "$disconnect %s: %s", we.connection_id, err);
    else
        TLOG_I(ctx->log, "$disconnect %s", we.connection_id);
    return status_doc(200, NULL, NULL, len);
}

/* The handlers below return true when the message is settled (written, or refused for good: a
 * foreign, late or repeated one), false when a write failed and the agent should send it again
 * (no acknowledgement). */
/* The verified-pair cache (a warm process skips the ownership read for the next messages of a
 * response it checked moments ago). */
static bool verified_pair(lambda_ctx *ctx, const char *rid, const char *cid, int64_t now)
{
    for (size_t i = 0; i < sizeof ctx->verified / sizeof ctx->verified[0]; i++)
        if (now - ctx->verified[i].at_ms < VERIFIED_MS && strcmp(ctx->verified[i].rid, rid) == 0 &&
            strcmp(ctx->verified[i].cid, cid) == 0)
            return true;
    return false;
}

static void remember_pair(lambda_ctx *ctx, const char *rid, const char *cid, int64_t now)
{
    if (strlen(rid) >= sizeof ctx->verified[0].rid || strlen(cid) >= sizeof ctx->verified[0].cid)
        return;
    unsigned k = ctx->verified_next++ % (sizeof ctx->verified / sizeof ctx->verified[0]);
    snprintf(ctx->verified[k].rid, sizeof ctx->verified[k].rid, "%s", rid);
    snprintf(ctx->verified[k].cid, sizeof ctx->verified[k].cid, "%s", cid);
    ctx->verified[k].at_ms = now;
}

static bool on_response(lambda_ctx *ctx, const char *cid, const tmsg *m)
{
    char err[ERRCAP];
    int rc;
    if (proxy_status_interim(m->status_code) && m->status_code != 101) {
        /* JSON mode carries no interim responses (docs/protocol.md §2); an agent that sends one
         * anyway is heard out: the final response follows */
        TLOG_D(ctx->log, "http_response %s: interim %d not forwarded", m->request_id,
               m->status_code);
        return true;
    }
    if (!proxy_status_final(m->status_code)) { /* 101 (no upgrades here) or out of range */
        rc = store_complete_error(&ctx->st, m->request_id, cid, 502, "invalid status from agent",
                                  err, sizeof err);
    } else {
        char *hj = httpresp_headers_to_json(&m->headers);
        if (!hj) {
            TLOG_E(ctx->log, "http_response %s: out of memory", m->request_id);
            return false;
        }
        rc = store_complete_head(&ctx->st, m->request_id, cid, m->status_code, hj, m->body,
                                 m->body_len, m->more, m->headers_more, err, sizeof err);
        /* refused: the same head sent again (its ack was lost: settled), or a second, other
         * final response from the connection that answered, past the end of the response (a
         * repeat from another connection changes nothing) */
        int rep =
            rc == DDB_CONDITION
                ? store_head_repeats(&ctx->st, m->request_id, cid, m->status_code, hj, m->body,
                                     m->body_len, m->more, m->headers_more, err, sizeof err)
                : -1;
        free(hj);
        if (rep == 1)
            return true;
        if (rep == 0 && store_mark_overrun(&ctx->st, m->request_id, cid,
                                           "the tunnel agent sent a second response", true, err,
                                           sizeof err) == 0) {
            TLOG_W(ctx->log, "http_response %s from %s: a second response: the request fails",
                   m->request_id, cid);
            return true;
        }
    }
    if (rc == DDB_CONDITION)
        TLOG_W(ctx->log, "http_response %s from %s dropped: unknown, late, foreign or repeated",
               m->request_id, cid);
    else if (rc != 0)
        TLOG_E(ctx->log, "http_response %s: %s", m->request_id, err);
    return rc == 0 || rc == DDB_CONDITION;
}

/* A part of a response after its head: a body piece (http_response_body) or, for a head over
 * several messages, the rest of its fields (http_response_headers). Written once under its own
 * key, within the response (store_put_piece / store_put_head_part); past its end, the request
 * fails (502) if it still waits, and the part is never read. */
static bool on_part(lambda_ctx *ctx, const char *cid, const tmsg *m)
{
    bool body = m->type == TMSG_HTTP_RESPONSE_BODY;
    const char *what = tmsg_type_name(m->type);
    char err[ERRCAP];
    if (m->seq == 0 || m->seq > (body ? PROXY_JSON_MAX_PIECES : STORE_MAX_HEAD_PARTS)) {
        TLOG_W(ctx->log, "%s %s: bad seq %u", what, m->request_id, m->seq);
        return true;
    }
    char *hj = body ? NULL : httpresp_headers_to_json(&m->headers);
    if (!body && !hj)
        return false;
    int64_t now = (int64_t)clock_now_ms();   /* for the verified cache: a duration */
    int64_t wall_s = clock_wall_ms() / 1000; /* the items' TTL */
    bool verified = verified_pair(ctx, m->request_id, cid, now);
    int rc = body ? store_put_piece(&ctx->st, m->request_id, cid, m->seq, m->body, m->body_len,
                                    m->more, verified, wall_s, err, sizeof err)
                  : store_put_head_part(&ctx->st, m->request_id, cid, m->seq, hj, !m->headers_more,
                                        verified, wall_s, err, sizeof err);
    free(hj);
    if (rc == 0 && !verified)
        remember_pair(ctx, m->request_id, cid, now);
    if (rc == STORE_OVERRUN) {
        TLOG_W(ctx->log, "%s %s seq %u from %s: %s: the request fails", what, m->request_id, m->seq,
               cid, err);
        char e2[ERRCAP];
        if (store_mark_overrun(
                &ctx->st, m->request_id, cid,
                body ? "the tunnel agent sent data after the end of its response"
                     : "the tunnel agent sent header fields after the end of its head",
                false, e2, sizeof e2) < 0)
            TLOG_E(ctx->log, "%s %s: %s", what, m->request_id, e2);
        return true;
    }
    if (rc == DDB_CONDITION)
        TLOG_W(ctx->log, "%s %s seq %u dropped: %s", what, m->request_id, m->seq, err);
    else if (rc != 0)
        TLOG_E(ctx->log, "%s %s seq %u: %s", what, m->request_id, m->seq, err);
    return rc == 0 || rc == DDB_CONDITION;
}

/* cancel from the agent: the local service failed after the response started (before it, the
 * agent sends error). Recorded on the request: the client gets a 502 unless the response is
 * complete after all (answer.c), never a response in part. */
static bool on_cancel(lambda_ctx *ctx, const char *cid, const tmsg *m)
{
    char err[ERRCAP];
    int rc = store_cancel_response(&ctx->st, m->request_id, cid, err, sizeof err);
    if (rc == 0)
        TLOG_I(ctx->log, "request %s cancelled by the agent on %s: %s", m->request_id, cid,
               m->reason ? m->reason : "(no reason)");
    else if (rc == DDB_CONDITION)
        TLOG_D(ctx->log, "cancel %s from %s: unknown, foreign or already failed", m->request_id,
               cid);
    else
        TLOG_E(ctx->log, "cancel %s: %s", m->request_id, err);
    return rc == 0 || rc == DDB_CONDITION;
}

static bool on_error(lambda_ctx *ctx, const char *cid, const tmsg *m)
{
    if (!m->request_id) {
        TLOG_W(ctx->log, "agent %s error without request: %s", cid, tmsg_error_name(m->code));
        return true;
    }
    char err[ERRCAP], text[200];
    edge_agent_error_text(text, sizeof text, m->code, m->message); /* ttfd's public text */
    int rc = store_complete_error(&ctx->st, m->request_id, cid, tmsg_error_status(m->code), text,
                                  err, sizeof err);
    if (rc == DDB_CONDITION)
        TLOG_W(ctx->log, "error %s from %s dropped: unknown, late or foreign", m->request_id, cid);
    else if (rc != 0)
        TLOG_E(ctx->log, "error %s: %s", m->request_id, err);
    return rc == 0 || rc == DDB_CONDITION;
}

/* The $default answer. Its body is an acknowledgement of the message: API Gateway passes it to
 * the agent when the $default route has a route response ("two-way communication", which infra/
 * configures), and drops it otherwise ("Set up route responses for WebSocket APIs"). The agent
 * keeps at most a few unacknowledged messages in flight once it sees acknowledgements, and sends
 * again what was not acknowledged (a throttled $default invocation is lost: API Gateway does not
 * retry it). docs/protocol.md §2. */
static char *ack_doc(const tmsg *m, size_t *len)
{
    tmsg a;
    tmsg_init(&a, TMSG_ACK);
    a.ack_of = m->type;
    a.request_id = m->request_id; /* borrowed */
    a.seq = m->seq;
    size_t n;
    char *text = tmsg_encode(&a, &n);
    a.request_id = NULL;
    tmsg_free(&a);
    char *doc = status_doc(200, text, NULL, len);
    free(text);
    return doc;
}

char *ws_handle_message(lambda_ctx *ctx, const json_t *ev, size_t *len)
{
    ws_event we;
    const char *perr;
    if (ws_event_parse(ev, &we, &perr) < 0) {
        TLOG_E(ctx->log, "$default: %s", perr);
        return status_doc(200, NULL, NULL, len);
    }
    if (!we.body || we.body_b64) {
        TLOG_W(ctx->log, "$default %s: %s dropped", we.connection_id,
               we.body_b64 ? "binary message" : "empty message");
        return status_doc(200, NULL, NULL, len);
    }
    tmsg m;
    if (tmsg_decode(we.body, we.body_len, &m, &perr) < 0) {
        /* a bad answer to a request fails that request now (502), not at the integration's
         * timeout; only the connection the request was sent to can (store_complete_error) */
        tmsg_type t;
        char *rid = tmsg_request_id_of(we.body, we.body_len, &t);
        if (t == TMSG_READY) {
            free(rid);
            ready_invalid(ctx, we.connection_id, perr ? perr : "unreadable");
            return status_doc(200, NULL, NULL, len);
        }
        TLOG_W(ctx->log, "$default %s: message dropped: %s", we.connection_id, perr);
        bool answer = t == TMSG_HTTP_RESPONSE || t == TMSG_HTTP_RESPONSE_HEADERS ||
                      t == TMSG_HTTP_RESPONSE_BODY;
        if (rid && answer) {
            char err[ERRCAP];
            if (store_complete_error(&ctx->st, rid, we.connection_id, 502,
                                     "the tunnel agent sent a bad response", err, sizeof err) != 0)
                TLOG_D(ctx->log, "bad answer for %s not recorded: %s", rid, err);
        }
        free(rid);
        return status_doc(200, NULL, NULL, len);
    }
    TLOG_D(ctx->log, "$default %s: %s", we.connection_id, tmsg_type_name(m.type));
    char err[ERRCAP];
    bool ack = false;
    switch (m.type) {
    case TMSG_READY:
        ready_handle(ctx, we.connection_id, &m);
        ack = true;
        break;
    case TMSG_PING: {
        tmsg pong;
        tmsg_init(&pong, TMSG_PONG);
        size_t plen = 0;
        char *ptext = tmsg_encode(&pong, &plen);
        if (!ptext ||
            mgmt_post(&ctx->mgmt, we.connection_id, ptext, plen, err, sizeof err) != MGMT_OK)
            TLOG_W(ctx->log, "pong to %s: %s", we.connection_id, ptext ? err : "out of memory");
        free(ptext);
        break;
    }
    case TMSG_PONG:
        break;
    case TMSG_HTTP_RESPONSE:
        ack = on_response(ctx, we.connection_id, &m);
        break;
    case TMSG_HTTP_RESPONSE_BODY:
    case TMSG_HTTP_RESPONSE_HEADERS:
        ack = on_part(ctx, we.connection_id, &m);
        break;
    case TMSG_CANCEL:
        ack = on_cancel(ctx, we.connection_id, &m);
        break;
    case TMSG_ERROR:
        ack = on_error(ctx, we.connection_id, &m);
        break;
    default:
        TLOG_W(ctx->log, "$default %s: unexpected %s dropped", we.connection_id,
               tmsg_type_name(m.type));
        break;
    }
    char *doc = ack ? ack_doc(&m, len) : status_doc(200, NULL, NULL, len);
    tmsg_free(&m);
    return doc;
}
