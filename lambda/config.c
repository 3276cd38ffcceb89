/* SPDX-License-Identifier: MIT */
/* config.c - environment -> lambda_config. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *env_default(const char *name)
{
    return getenv(name);
}

static char *dup_or_null(const char *s)
{
    return (s && *s) ? strdup(s) : NULL;
}

static char *dup_default(const char *s, const char *dflt)
{
    return strdup((s && *s) ? s : dflt);
}

bool config_bool(const char *v, bool dflt)
{
    if (!v || !*v)
        return dflt;
    return strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0;
}

static char *strip_slash(char *s)
{
    size_t n = s ? strlen(s) : 0;
    while (n > 0 && s[n - 1] == '/')
        s[--n] = '\0';
    return s;
}

char *config_mgmt_endpoint(const char *ws)
{
    if (!ws || !*ws)
        return NULL;
    const char *rest;
    const char *scheme;
    if (strncasecmp(ws, "wss://", 6) == 0) {
        scheme = "https://";
        rest = ws + 6;
    } else if (strncasecmp(ws, "ws://", 5) == 0) {
        scheme = "http://";
        rest = ws + 5;
    } else if (strncasecmp(ws, "https://", 8) == 0) {
        scheme = "https://";
        rest = ws + 8;
    } else if (strncasecmp(ws, "http://", 7) == 0) {
        scheme = "http://";
        rest = ws + 7;
    } else {
        return NULL;
    }
    if (!*rest || *rest == '/')
        return NULL;
    size_t n = strlen(scheme) + strlen(rest) + 1;
    char *out = malloc(n);
    if (!out)
        return NULL;
    snprintf(out, n, "%s%s", scheme, rest);
    return strip_slash(out);
}

static int parse_num(const char *v, long long lo, long long hi, long long dflt, long long *out)
{
    if (!v || !*v) {
        *out = dflt;
        return 0;
    }
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

int config_load(lambda_config *c, const char *(*getenv_fn)(const char *name), char *err,
                size_t errcap)
{
    const char *(*ge)(const char *) = getenv_fn ? getenv_fn : env_default;
    memset(c, 0, sizeof *c);
    c->runtime_api = dup_or_null(ge("AWS_LAMBDA_RUNTIME_API"));
    c->region = dup_default(ge("AWS_REGION"), "us-east-1");
    c->access_key = dup_default(ge("AWS_ACCESS_KEY_ID"), "");
    c->secret_key = dup_default(ge("AWS_SECRET_ACCESS_KEY"), "");
    c->session_token = dup_or_null(ge("AWS_SESSION_TOKEN"));
    const char *ddb = ge("AWS_ENDPOINT_URL_DYNAMODB");
    if (!ddb || !*ddb)
        ddb = ge("AWS_ENDPOINT_URL");
    if (ddb && *ddb) {
        c->ddb_endpoint = strip_slash(strdup(ddb));
    } else {
        char buf[160];
        snprintf(buf, sizeof buf, "https://dynamodb.%s.amazonaws.com", c->region);
        c->ddb_endpoint = strdup(buf);
    }
    c->mgmt_endpoint = config_mgmt_endpoint(ge("WEBSOCKET_API_ENDPOINT"));
    c->connections_table = dup_default(ge("CONNECTIONS_TABLE_NAME"), "connections");
    c->pending_table = dup_default(ge("PENDING_REQUESTS_TABLE_NAME"), "pending-requests");
    c->domain = dup_default(ge("DOMAIN_NAME"), "tunnel.example.com");
    c->route_domain = strdup(c->domain);
    c->url_scheme = dup_default(ge("PUBLIC_URL_SCHEME"), "https");
    c->subdomain_routing = config_bool(ge("ENABLE_SUBDOMAIN_ROUTING"), true);
    c->require_auth = config_bool(ge("REQUIRE_AUTH"), false);
    c->jwks = dup_or_null(ge("JWKS"));
    c->jwks_path = dup_or_null(ge("JWKS_PATH"));
    c->jwt_secret = dup_or_null(ge("JWT_SECRET"));
    const char *lvl = ge("LOG_LEVEL");
    c->debug = lvl && strcasecmp(lvl, "debug") == 0;
    if (!c->region || !c->access_key || !c->secret_key || !c->ddb_endpoint ||
        !c->connections_table || !c->pending_table || !c->domain || !c->route_domain ||
        !c->url_scheme) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    /* Routing compares host names: drop a ":port" and lowercase. */
    char *colon = strrchr(c->route_domain, ':');
    if (colon && c->route_domain[0] != '[')
        *colon = '\0';
    for (char *p = c->route_domain; *p; p++)
        *p = (char)tolower((unsigned char)*p);

    long long v;
    if (parse_num(ge("REQUEST_TIMEOUT_SECS"), 1, 28, 25, &v) < 0) {
        snprintf(err, errcap, "REQUEST_TIMEOUT_SECS must be 1..28");
        return -1;
    }
    c->request_timeout_s = (int)v;
    /* one lease is ~50 bytes of the admission item: 5000 stay far under DynamoDB's 400 KB */
    if (parse_num(ge("MAX_WAITING_REQUESTS"), 0, 5000, 0, &v) < 0) {
        snprintf(err, errcap, "MAX_WAITING_REQUESTS must be 0 (no limit)..5000");
        return -1;
    }
    c->max_waiting = (int)v;
    if (parse_num(ge("MAX_WAITING_PER_AGENT"), 0, 5000, 0, &v) < 0) {
        snprintf(err, errcap, "MAX_WAITING_PER_AGENT must be 0 (no limit)..5000");
        return -1;
    }
    c->max_waiting_agent = (int)v;
    if (parse_num(ge("MAX_BODY_BYTES"), 0, 4LL * 1024 * 1024, 4LL * 1024 * 1024, &v) < 0) {
        snprintf(err, errcap, "MAX_BODY_BYTES must be 0..4194304 (Lambda's 6 MB response)");
        return -1;
    }
    c->max_body = (size_t)v;
    if (parse_num(ge("CONNECTION_MAX_LIFETIME_SECS"), 1, 7200, 7200, &v) < 0) {
        snprintf(err, errcap, "CONNECTION_MAX_LIFETIME_SECS must be 1..7200 (API Gateway's 2 h)");
        return -1;
    }
    c->max_lifetime_s = (int)v;
    if (parse_num(ge("NAME_GRACE_SECS"), 0, 30LL * 86400, 300, &v) < 0) {
        snprintf(err, errcap, "NAME_GRACE_SECS must be 0..2592000");
        return -1;
    }
    c->name_grace_s = v;
    if (parse_num(ge("NAME_RETENTION_DAYS"), 0, 36600, 30, &v) < 0) {
        snprintf(err, errcap, "NAME_RETENTION_DAYS must be 0 (forever)..36600");
        return -1;
    }
    c->name_retention_s = v == 0 ? -1 : v * 86400;
    if (!c->runtime_api) {
        snprintf(err, errcap, "AWS_LAMBDA_RUNTIME_API is not set");
        return -1;
    }
    return 0;
}

void config_free(lambda_config *c)
{
    char **fields[] = {
        &c->runtime_api,   &c->region,       &c->access_key,    &c->secret_key,
        &c->session_token, &c->ddb_endpoint, &c->mgmt_endpoint, &c->connections_table,
        &c->pending_table, &c->domain,       &c->route_domain,  &c->url_scheme,
        &c->jwks,          &c->jwks_path,    &c->jwt_secret};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        free(*fields[i]);
        *fields[i] = NULL;
    }
}
