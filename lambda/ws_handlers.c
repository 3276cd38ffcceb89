/* ws_handlers.c - $connect / $default / $disconnect. */
#include "ws_handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "events.h"
#include "clock.h"
#include "httpresp.h"
#include "names.h"
#include "proto_bin.h"
#include "proto_json.h"
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

void ws_public_urls(const lambda_config *cfg, const char *tid, char *pub, char *sub, char *path)
{
    snprintf(path, 512, "%s://%s/%s", cfg->url_scheme, cfg->domain, tid);
    if (cfg->subdomain_routing) {
        snprintf(sub, 512, "%s://%s.%s", cfg->url_scheme, tid, cfg->domain);
        snprintf(pub, 512, "%s", sub);
    } else {
        sub[0] = '\0';
        snprintf(pub, 512, "%s", path);
    }
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
    int rc = -1;
    for (int attempt = 0; attempt < 4; attempt++) {
        if (tunnel_id_generate(tid) < 0) {
            snprintf(err, sizeof err, "no randomness");
            break;
        }
        char owner[TUNNEL_OWNER_MAX + 1];
        tunnel_owner(owner, sizeof owner, ctx->cfg->require_auth, sub, NULL); /* sub fits */
        rc = store_claim_owner(&ctx->st, tid, we.connection_id, owner, false,
                               names_held_ttl(ctx->cfg, owner, now), names_keep(ctx->cfg, owner),
                               NULL, err, sizeof err);
        if (rc != DDB_CONDITION)
            break;
    }
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
    /* Its name stays its owner's for the grace (or retention) period from now. */
    if (store_get_connection(&ctx->st, we.connection_id, &c, err, sizeof err) == 0) {
        int rc = store_release_owner(&ctx->st, c.tunnel_id, we.connection_id,
                                     clock_wall_ms() / 1000, err, sizeof err);
        if (rc != 0 && rc != DDB_CONDITION)
            TLOG_E(ctx->log, "$disconnect %s: releasing %s: %s", we.connection_id, c.tunnel_id,
                   err);
    }
    if (store_delete_connection(&ctx->st, we.connection_id, err, sizeof err) != 0)
        TLOG_E(ctx->log, "$disconnect %s: %s", we.connection_id, err);
    else
        TLOG_I(ctx->log, "$disconnect %s", we.connection_id);
    return status_doc(200, NULL, NULL, len);
}

/* Posts text to the agent, retrying briefly: right after $connect the connection may not be
 * usable yet (GoneException / "dispatch failure"). */
static int post_retry(lambda_ctx *ctx, const char *cid, const char *text, size_t n, char *err)
{
    long delay = 50;
    int rc = MGMT_ERR;
    for (int attempt = 0; attempt < 6; attempt++) {
        rc = mgmt_post(&ctx->mgmt, cid, text, n, err, ERRCAP);
        if (rc == MGMT_OK || rc == MGMT_TOO_BIG)
            return rc;
        clock_sleep_ms(delay);
        delay *= 2;
    }
    return rc;
}

/* A chosen name that cannot be had: say why, then close the connection (the agent stops). */
static void refuse_name(lambda_ctx *ctx, const char *cid, const names_answer *ans)
{
    char err[ERRCAP];
    TLOG_W(ctx->log, "ready %s: %s", cid, ans->message);
    tmsg r;
    tmsg_init(&r, TMSG_TUNNEL_REFUSED);
    r.refusal = (char *)ans->code;
    r.message = (char *)ans->message;
    size_t n;
    char *text = tmsg_encode(&r, &n); /* the strings stay ans's: no tmsg_free */
    if (!text || post_retry(ctx, cid, text, n, err) != MGMT_OK)
        TLOG_E(ctx->log, "ready %s: tunnel_refused not delivered", cid);
    free(text);
    if (mgmt_delete(&ctx->mgmt, cid, err, sizeof err) != MGMT_OK)
        TLOG_W(ctx->log, "ready %s: closing the connection: %s", cid, err);
}

static void on_ready(lambda_ctx *ctx, const char *cid, const tmsg *m)
{
    char err[ERRCAP];
    conn_rec c;
    int rc = store_get_connection(&ctx->st, cid, &c, err, sizeof err);
    if (rc != 0) {
        TLOG_E(ctx->log, "ready %s: no connection record (%s)", cid, rc == 1 ? "not found" : err);
        return;
    }
    names_answer ans;
    names_result nr = names_on_ready(ctx, cid, &c, m, &ans);
    if (nr == NAMES_REFUSED) {
        refuse_name(ctx, cid, &ans);
        return;
    }
    if (nr == NAMES_ERROR) {
        TLOG_E(ctx->log, "ready %s: no tunnel name (storage error): closing", cid);
        mgmt_delete(&ctx->mgmt, cid, err, sizeof err);
        return;
    }
    const char *tid = ans.name;
    if (strcmp(tid, c.tunnel_id) != 0)
        TLOG_I(ctx->log, "ready %s: tunnel %s %s", cid, tid, m->subdomain ? "chosen" : "reclaimed");
    char notice[300] = "";
    if (ans.code) {
        TLOG_I(ctx->log, "ready %s: %s", cid, ans.message);
        snprintf(notice, sizeof notice, "%s; this tunnel has a new id", ans.message);
    }
    char pub[512], sub[512], path[512];
    ws_public_urls(ctx->cfg, tid, pub, sub, path);
    tmsg r;
    tmsg_init(&r, TMSG_CONNECTION_ESTABLISHED);
    r.connection_id = strdup(cid);
    r.tunnel_id = strdup(tid);
    r.public_url = strdup(pub);
    r.subdomain_url = sub[0] ? strdup(sub) : NULL;
    r.path_based_url = strdup(path);
    r.message = notice[0] ? strdup(notice) : NULL;
    size_t n;
    char *text = tmsg_encode(&r, &n);
    tmsg_free(&r);
    if (!text) {
        TLOG_E(ctx->log, "ready %s: cannot encode connection_established", cid);
        return;
    }
    rc = post_retry(ctx, cid, text, n, err);
    free(text);
    if (rc != MGMT_OK)
        TLOG_E(ctx->log, "ready %s: connection_established not delivered: %s", cid, err);
    else
        TLOG_I(ctx->log, "ready %s: tunnel %s established", cid, tid);
}

static void on_response(lambda_ctx *ctx, const char *cid, const tmsg *m)
{
    char err[ERRCAP];
    int rc;
    if (m->status_code < 100 || m->status_code > 599) {
        rc = store_complete_error(&ctx->st, m->request_id, cid, 502, "invalid status from agent",
                                  err, sizeof err);
    } else {
        char *hj = httpresp_headers_to_json(&m->headers);
        if (!hj) {
            TLOG_E(ctx->log, "http_response %s: out of memory", m->request_id);
            return;
        }
        rc = store_complete_head(&ctx->st, m->request_id, cid, m->status_code, hj, m->body,
                                 m->body_len, m->more, err, sizeof err);
        free(hj);
    }
    if (rc == DDB_CONDITION)
        TLOG_W(ctx->log, "http_response %s from %s dropped: unknown, late, foreign or repeated",
               m->request_id, cid);
    else if (rc != 0)
        TLOG_E(ctx->log, "http_response %s: %s", m->request_id, err);
}

static void on_body_piece(lambda_ctx *ctx, const char *cid, const tmsg *m)
{
    char err[ERRCAP];
    if (m->seq == 0 || m->seq > 100000) {
        TLOG_W(ctx->log, "http_response_body %s: bad seq %u", m->request_id, m->seq);
        return;
    }
    int64_t now = (int64_t)clock_now_ms(); /* for the verified cache: a duration */
    bool verified = false;
    for (size_t i = 0; i < sizeof ctx->verified / sizeof ctx->verified[0]; i++)
        if (now - ctx->verified[i].at_ms < VERIFIED_MS &&
            strcmp(ctx->verified[i].rid, m->request_id) == 0 &&
            strcmp(ctx->verified[i].cid, cid) == 0)
            verified = true;
    int rc = store_put_piece(&ctx->st, m->request_id, cid, m->seq, m->body, m->body_len, m->more,
                             verified, clock_wall_ms() / 1000, err, sizeof err);
    if (rc == 0 && !verified && strlen(m->request_id) < sizeof ctx->verified[0].rid &&
        strlen(cid) < sizeof ctx->verified[0].cid) {
        unsigned k = ctx->verified_next++ % (sizeof ctx->verified / sizeof ctx->verified[0]);
        snprintf(ctx->verified[k].rid, sizeof ctx->verified[k].rid, "%s", m->request_id);
        snprintf(ctx->verified[k].cid, sizeof ctx->verified[k].cid, "%s", cid);
        ctx->verified[k].at_ms = now;
    }
    if (rc == DDB_CONDITION)
        TLOG_W(ctx->log, "http_response_body %s seq %u dropped: %s", m->request_id, m->seq, err);
    else if (rc != 0)
        TLOG_E(ctx->log, "http_response_body %s seq %u: %s", m->request_id, m->seq, err);
}

static void on_error(lambda_ctx *ctx, const char *cid, const tmsg *m)
{
    if (!m->request_id) {
        TLOG_W(ctx->log, "agent %s error without request: %s", cid, tmsg_error_name(m->code));
        return;
    }
    char err[ERRCAP];
    int rc =
        store_complete_error(&ctx->st, m->request_id, cid, tmsg_error_status(m->code),
                             m->message ? m->message : tmsg_error_name(m->code), err, sizeof err);
    if (rc == DDB_CONDITION)
        TLOG_W(ctx->log, "error %s from %s dropped: unknown, late or foreign", m->request_id, cid);
    else if (rc != 0)
        TLOG_E(ctx->log, "error %s: %s", m->request_id, err);
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
        TLOG_W(ctx->log, "$default %s: message dropped: %s", we.connection_id, perr);
        return status_doc(200, NULL, NULL, len);
    }
    TLOG_D(ctx->log, "$default %s: %s", we.connection_id, tmsg_type_name(m.type));
    char err[ERRCAP];
    switch (m.type) {
    case TMSG_READY:
        on_ready(ctx, we.connection_id, &m);
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
        on_response(ctx, we.connection_id, &m);
        break;
    case TMSG_HTTP_RESPONSE_BODY:
        on_body_piece(ctx, we.connection_id, &m);
        break;
    case TMSG_ERROR:
        on_error(ctx, we.connection_id, &m);
        break;
    default:
        TLOG_W(ctx->log, "$default %s: unexpected %s dropped", we.connection_id,
               tmsg_type_name(m.type));
        break;
    }
    tmsg_free(&m);
    return status_doc(200, NULL, NULL, len);
}
