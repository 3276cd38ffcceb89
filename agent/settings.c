/* SPDX-License-Identifier: MIT */
/* settings.c - one tunnel's settings, shared by ttf's command line and its config file (see
 * settings.h). */
#include "settings.h"

#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http1_syntax.h"

int settings_parse_int(const char *s, long lo, long hi, int *out)
{
    if (!s || !*s)
        return -1;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

int settings_set_str(char **dst, const char *s)
{
    char *c = strdup(s);
    if (!c)
        return -1;
    free(*dst);
    *dst = c;
    return 0;
}

/* --host: a name (letters, digits, '-', '.', '_'), an IPv4 address, or an IPv6 address with or
 * without brackets (stored without). */
int settings_set_host(char **dst, const char *what, const char *h, char *err, size_t errcap)
{
    char buf[256];
    size_t n = strlen(h);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        if (n - 2 >= sizeof buf)
            goto bad;
        memcpy(buf, h + 1, n - 2);
        buf[n - 2] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, buf, &a6) != 1)
            goto bad;
        h = buf;
    } else if (strchr(h, ':')) {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, h, &a6) != 1)
            goto bad;
    } else if (n == 0 || n > 253 ||
               strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") !=
                   n) {
        goto bad;
    }
    if (settings_set_str(dst, h) != 0) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    return 0;
bad:
    snprintf(err, errcap, "invalid %s '%s': a host name, an IPv4 or an IPv6 address", what, h);
    return -1;
}

int settings_parse_host_header(const char *v, const char *what, host_header_mode *mode, char **name,
                               char *err, size_t errcap)
{
    if (strcmp(v, "preserve") == 0) {
        *mode = HOST_HEADER_PRESERVE;
        return 0;
    }
    if (strcmp(v, "rewrite") == 0) {
        *mode = HOST_HEADER_REWRITE;
        return 0;
    }
    if (!http1_valid_authority(v, strlen(v), false, false)) {
        snprintf(err, errcap, "invalid %s '%s': preserve, rewrite, or a host[:port] to send", what,
                 v);
        return -1;
    }
    if (settings_set_str(name, v) != 0) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    *mode = HOST_HEADER_NAME;
    return 0;
}

int settings_parse_service(const char *arg, const char *what, char **hostp, int *portp, bool *tlsp,
                           char *err, size_t errcap)
{
    const char *s = arg;
    int port = 80;
    bool scheme = false, tls = false;
    if (strncasecmp(s, "https://", 8) == 0) {
        s += 8;
        scheme = tls = true;
        port = 443;
    } else if (strncasecmp(s, "http://", 7) == 0) {
        s += 7;
        scheme = true;
    } else if (strstr(s, "://")) {
        snprintf(err, errcap, "%s: the local service is http://HOST:PORT or https://HOST:PORT",
                 arg);
        return -1;
    }
    size_t n = strcspn(s, "/");
    if (s[n] && strcmp(s + n, "/") != 0) {
        snprintf(err, errcap, "%s: a path is not part of the local service (give host and port)",
                 arg);
        return -1;
    }
    char hp[300];
    if (n == 0 || n >= sizeof hp) {
        snprintf(err, errcap, "invalid local service: %s", arg);
        return -1;
    }
    memcpy(hp, s, n);
    hp[n] = '\0';
    char *host = hp, *colon = NULL;
    if (hp[0] == '[') {
        char *close = strchr(hp, ']');
        if (!close || (close[1] && close[1] != ':')) {
            snprintf(err, errcap, "invalid local service: %s", arg);
            return -1;
        }
        *close = '\0';
        host = hp + 1;
        colon = close[1] ? close + 1 : NULL;
    } else {
        colon = strrchr(hp, ':');
        if (colon && strchr(hp, ':') != colon) {
            snprintf(err, errcap, "%s: put an IPv6 address in brackets ([::1]:3000)", arg);
            return -1;
        }
    }
    if (colon)
        *colon = '\0';
    bool all_digits = !scheme && !colon && *host && strspn(host, "0123456789") == strlen(host);
    if (all_digits) { /* "3000" */
        if (settings_parse_int(host, 1, 65535, portp) != 0) {
            snprintf(err, errcap, "invalid port: %s", arg);
            return -1;
        }
        *tlsp = false;
        return 0;
    }
    if (colon && settings_parse_int(colon + 1, 1, 65535, &port) != 0) {
        snprintf(err, errcap, "invalid port in %s", arg);
        return -1;
    }
    if (!colon && !scheme) {
        snprintf(err, errcap, "%s: give a port (3000, localhost:3000 or http://localhost:3000)",
                 arg);
        return -1;
    }
    if (!*host) {
        snprintf(err, errcap, "invalid local service: %s", arg);
        return -1;
    }
    if (settings_set_host(hostp, what, host, err, errcap) != 0)
        return -1;
    *portp = port;
    *tlsp = tls;
    return 0;
}

const char *agent_tunnel_scheme(const agent_tunnel *t)
{
    return t->local_tls ? "https" : "http";
}

void agent_tunnel_hostport(const agent_tunnel *t, char *out, size_t cap)
{
    if (strchr(t->local_host, ':') && t->local_host[0] != '[')
        snprintf(out, cap, "[%s]:%d", t->local_host, t->local_port);
    else
        snprintf(out, cap, "%s:%d", t->local_host, t->local_port);
}

void agent_tunnel_free(agent_tunnel *t)
{
    free(t->name);
    free(t->local_host);
    free(t->subdomain);
    free(t->host_header_name);
    if (t->basic_auth) /* the password: not left in freed memory */
        explicit_bzero(t->basic_auth, strlen(t->basic_auth));
    free(t->basic_auth);
    for (size_t i = 0; i < t->nallow; i++)
        free(t->allow_cidr[i]);
    for (size_t i = 0; i < t->ndeny; i++)
        free(t->deny_cidr[i]);
    free(t->allow_cidr);
    free(t->deny_cidr);
    free(t->rate_limit);
    if (t->access_json)
        explicit_bzero(t->access_json, strlen(t->access_json));
    free(t->access_json);
    memset(t, 0, sizeof *t);
}
