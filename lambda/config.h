/* SPDX-License-Identifier: MIT */
/* config.h - the Lambda's configuration, read once from the environment at start-up.
 * Owns: the strings of a lambda_config (copies of the environment) until config_free. */
#ifndef LAMBDA_CONFIG_H
#define LAMBDA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lambda_config {
    char *runtime_api;   /* AWS_LAMBDA_RUNTIME_API host:port */
    char *region;        /* AWS_REGION (default us-east-1) */
    char *access_key;    /* AWS_ACCESS_KEY_ID */
    char *secret_key;    /* AWS_SECRET_ACCESS_KEY */
    char *session_token; /* AWS_SESSION_TOKEN, NULL when unset */
    char *ddb_endpoint;  /* base URL of DynamoDB, no trailing slash */
    char *mgmt_endpoint; /* base URL of the @connections API (https://host/stage), or NULL */
    char *connections_table;
    char *pending_table;
    char *domain;             /* DOMAIN_NAME as given (may carry ":port", kept in URLs) */
    char *route_domain;       /* DOMAIN_NAME without ":port", lowercase (routing) */
    char *url_scheme;         /* PUBLIC_URL_SCHEME, default https */
    bool subdomain_routing;   /* ENABLE_SUBDOMAIN_ROUTING, default true */
    bool require_auth;        /* REQUIRE_AUTH, default false */
    char *jwks;               /* JWKS (JSON text) or NULL */
    char *jwks_path;          /* JWKS_PATH or NULL */
    char *jwt_secret;         /* JWT_SECRET or NULL (no insecure default) */
    int request_timeout_s;    /* REQUEST_TIMEOUT_SECS, default 25 */
    int max_waiting;          /* MAX_WAITING_REQUESTS, default 0: no admission limit */
    int max_waiting_agent;    /* MAX_WAITING_PER_AGENT, default 0: no limit per agent */
    size_t max_body;          /* MAX_BODY_BYTES, default 4194304 */
    int64_t name_grace_s;     /* NAME_GRACE_SECS, default 300: a gone agent's name is held */
    int64_t name_retention_s; /* NAME_RETENTION_DAYS (default 30) in seconds; -1: forever (0) */
    int max_lifetime_s; /* CONNECTION_MAX_LIFETIME_SECS: API Gateway's 2 h (7200), told to agents */
    bool debug;         /* LOG_LEVEL=debug */
} lambda_config;

/* getenv_fn lets tests inject an environment; NULL means getenv. 0, or -1 with a reason in err
 * (a required variable missing or a number out of range). */
int config_load(lambda_config *c, const char *(*getenv_fn)(const char *name), char *err,
                size_t errcap);
void config_free(lambda_config *c);

/* WEBSOCKET_API_ENDPOINT (wss://host/stage, ws://, https://, http://) -> management API base
 * (https://host/stage, http:// for ws://). Returns malloc'd string or NULL when unusable. */
char *config_mgmt_endpoint(const char *ws_endpoint);

/* "true"/"1"/"yes" (case-insensitive) -> true; NULL -> dflt. */
bool config_bool(const char *v, bool dflt);

#endif
