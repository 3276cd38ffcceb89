/* SPDX-License-Identifier: MIT */
/* main.c - bootstrap: the Lambda custom runtime process. Builds the context from the
 * environment, then serves invocations one at a time until the Runtime API goes away. */
#include <curl/curl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "clock.h"
#include "config.h"
#include "dispatch.h"
#include "dynamo.h"
#include "http_handler.h"
#include "lambda_ctx.h"
#include "log.h"
#include "runtime.h"

#define ERRCAP 512

static void setup_auth(lambda_ctx *ctx, const lambda_config *cfg)
{
    if (!cfg->require_auth)
        return;
    const char *aerr = NULL;
    if (cfg->jwks)
        ctx->auth = auth_new(cfg->jwt_secret, cfg->jwks, &aerr);
    else if (cfg->jwks_path)
        ctx->auth = auth_new_from_file(cfg->jwt_secret, cfg->jwks_path, &aerr);
    else if (cfg->jwt_secret)
        ctx->auth = auth_new(cfg->jwt_secret, NULL, &aerr);
    else
        aerr = "REQUIRE_AUTH is true but none of JWKS, JWKS_PATH, JWT_SECRET is set";
    if (!ctx->auth)
        ctx->auth_problem = aerr ? aerr : "unusable key material";
}

/* A process assembles answers of up to 4 MiB (5.6 MB of base64, its JSON document, the pieces):
 * buffers that glibc would map and unmap for each one (its dynamic mmap threshold) or give back
 * from the heap's top, and the kernel fault in and zero again, page by page, for the next. Kept
 * instead: malloc serves up to 64 MB from the heap and returns memory to the system only past
 * 128 MB free at its top (the function has 256 MB; a 4 MiB answer peaks at ~40 MB). */
static void keep_heap(void)
{
#if defined(M_MMAP_THRESHOLD) && defined(M_TRIM_THRESHOLD)
    mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);
#endif
}

int main(void)
{
    keep_heap();
    tlog lg = {.level = TLOG_INFO, .out = stderr, .json = true, .prog = "bootstrap"};
    char err[ERRCAP];
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        TLOG_E(&lg, "curl_global_init failed");
        return 1;
    }
    lambda_config cfg;
    int cfg_rc = config_load(&cfg, NULL, err, sizeof err);
    if (cfg.debug)
        lg.level = TLOG_DEBUG;
    if (!cfg.runtime_api) {
        TLOG_E(&lg, "%s", err);
        config_free(&cfg);
        curl_global_cleanup();
        return 1;
    }
    runtime rt;
    if (rt_init(&rt, cfg.runtime_api) < 0) {
        TLOG_E(&lg, "bad AWS_LAMBDA_RUNTIME_API");
        config_free(&cfg);
        curl_global_cleanup();
        return 1;
    }
    if (cfg_rc < 0) {
        TLOG_E(&lg, "configuration: %s", err);
        char e2[ERRCAP];
        rt_init_error(&rt, "Runtime.ConfigError", err, e2, sizeof e2);
        rt_free(&rt);
        config_free(&cfg);
        curl_global_cleanup();
        return 1;
    }

    aws_client ddb_http, mgmt_http;
    /* a DynamoDB call or a post should never take seconds; the wait loop has its own budget */
    if (aws_client_init(&ddb_http, cfg.region, "dynamodb", cfg.access_key, cfg.secret_key,
                        cfg.session_token, 5000) < 0 ||
        aws_client_init(&mgmt_http, cfg.region, "execute-api", cfg.access_key, cfg.secret_key,
                        cfg.session_token, 5000) < 0) {
        TLOG_E(&lg, "cannot create HTTP clients");
        return 1;
    }
    ddb db = {.http = &ddb_http, .endpoint = cfg.ddb_endpoint};
    lambda_ctx ctx = {
        .cfg = &cfg,
        .log = &lg,
        .st = {.db = &db, .conn_table = cfg.connections_table, .pend_table = cfg.pending_table},
        .mgmt = {.http = &mgmt_http, .endpoint = cfg.mgmt_endpoint},
    };
    setup_auth(&ctx, &cfg);
    if (ctx.auth_problem)
        TLOG_E(&lg, "auth: %s: every $connect will be refused", ctx.auth_problem);
    if (!cfg.mgmt_endpoint)
        TLOG_W(&lg, "WEBSOCKET_API_ENDPOINT is not set: agents cannot be reached");
    TLOG_I(&lg, "bootstrap ready: domain %s, tables %s / %s", cfg.domain, cfg.connections_table,
           cfg.pending_table);

    int failures = 0;
    for (;;) {
        rt_invocation inv;
        if (rt_next(&rt, &inv, err, sizeof err) < 0) {
            TLOG_E(&lg, "runtime: %s", err);
            if (++failures >= 5)
                break; /* the Runtime API is gone: let Lambda restart us */
            clock_sleep_ms(100L * failures);
            continue;
        }
        failures = 0;
        ctx.deadline_ms = inv.deadline_ms;
        snprintf(ctx.invocation_id, sizeof ctx.invocation_id, "%s", inv.request_id);
        size_t len = 0;
        const char *etype = NULL;
        char emsg[ERRCAP] = "";
        char *doc = dispatch_event(&ctx, inv.event, inv.len, &len, &etype, emsg, sizeof emsg);
        int rc;
        if (doc) {
            rc = rt_respond(&rt, inv.request_id, doc, len, err, sizeof err);
        } else {
            TLOG_E(&lg, "invocation %s: %s: %s", inv.request_id, etype, emsg);
            rc = rt_error(&rt, inv.request_id, etype, emsg, err, sizeof err);
        }
        if (rc < 0)
            TLOG_E(&lg, "runtime: %s", err);
        free(doc);
        rt_invocation_free(&inv);
        dispatch_after(&ctx);
    }
    http_routes_free(&ctx);
    auth_free(ctx.auth);
    aws_client_free(&ddb_http);
    aws_client_free(&mgmt_http);
    rt_free(&rt);
    config_free(&cfg);
    curl_global_cleanup();
    return 1;
}
