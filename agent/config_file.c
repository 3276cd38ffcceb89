/* SPDX-License-Identifier: MIT */
/* config_file.c - ttf --config FILE, a YAML file read with libyaml's document loader (see
 * config_file.h). */
#include "config_file.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "access.h"
#include "access_net.h"
#include "proto_json.h"
#include "tunnel_id.h"

/* The walk's context: the document, the label for errors and where the error goes. */
typedef struct walk {
    yaml_document_t *doc;
    const char *label;
    char *err;
    size_t errcap;
} walk;

/* "LABEL:LINE:COL: PATH: reason" (libyaml's marks count from 0). Always -1. */
static int fail(const walk *w, const yaml_node_t *n, const char *path, const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(w->err, w->errcap, "%s:%zu:%zu: %s%s%s", w->label, n ? n->start_mark.line + 1 : 1,
             n ? n->start_mark.column + 1 : 1, path ? path : "", path && *path ? ": " : "", why);
    return -1;
}

static const char *kind_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a single value";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

/* A scalar's text (NUL-terminated by libyaml); NULL when it is not a scalar or holds a NUL. */
static const char *scalar(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE)
        return NULL;
    const char *v = (const char *)n->data.scalar.value;
    return strlen(v) == n->data.scalar.length ? v : NULL;
}

/* A plain (unquoted) null: "", "~", "null" (YAML 1.1). */
static bool is_null(const yaml_node_t *n)
{
    const char *v = scalar(n);
    return v && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (!*v || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0);
}

static bool is_false(const yaml_node_t *n)
{
    const char *v = scalar(n);
    return v && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0 || strcasecmp(v, "off") == 0);
}

/* A non-empty string value. */
static int get_text(const walk *w, const yaml_node_t *n, const char *path, char **dst)
{
    const char *v = scalar(n);
    if (!v)
        return fail(w, n, path, "expected a single value, found %s", kind_name(n));
    if (!*v)
        return fail(w, n, path, "empty value");
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return fail(w, n, path, "control characters are not allowed");
    char *c = strdup(v);
    if (!c)
        return fail(w, n, path, "out of memory");
    free(*dst);
    *dst = c;
    return 0;
}

static int get_int(const walk *w, const yaml_node_t *n, const char *path, long lo, long hi,
                   int *dst)
{
    const char *v = scalar(n);
    if (!v)
        return fail(w, n, path, "expected a number, found %s", kind_name(n));
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || errno || *end || x < lo || x > hi)
        return fail(w, n, path, "'%s' is not a whole number from %ld to %ld", v, lo, hi);
    *dst = (int)x;
    return 0;
}

/* A string or a list of strings, appended to (list, n). */
static int get_list(const walk *w, const yaml_node_t *n, const char *path, char ***list,
                    size_t *count)
{
    yaml_node_item_t one = 0; /* a single value: the node itself (item 0) */
    const yaml_node_item_t *it = &one, *end = &one + 1;
    if (n->type == YAML_SEQUENCE_NODE) {
        it = n->data.sequence.items.start;
        end = n->data.sequence.items.top;
    } else if (n->type != YAML_SCALAR_NODE) {
        return fail(w, n, path, "expected a value or a list of values, found %s", kind_name(n));
    }
    for (; it < end; it++) {
        const yaml_node_t *e = *it ? yaml_document_get_node(w->doc, *it) : n;
        char *v = NULL;
        if (get_text(w, e, path, &v) != 0)
            return -1;
        char **grown = realloc(*list, (*count + 1) * sizeof **list);
        if (!grown) {
            free(v);
            return fail(w, e, path, "out of memory");
        }
        *list = grown;
        (*list)[(*count)++] = v;
    }
    return 0;
}

/* Calls fn for each pair of a mapping; duplicate keys are refused. */
typedef int (*pair_fn)(const walk *w, const char *key, const yaml_node_t *kn, const yaml_node_t *vn,
                       const char *path, void *ud);

static int each_pair(const walk *w, const yaml_node_t *map, const char *path, pair_fn fn, void *ud)
{
    if (map->type != YAML_MAPPING_NODE)
        return fail(w, map, path, "expected a mapping (key: value lines), found %s",
                    kind_name(map));
    const yaml_node_pair_t *start = map->data.mapping.pairs.start;
    for (const yaml_node_pair_t *p = start; p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
        const yaml_node_t *vn = yaml_document_get_node(w->doc, p->value);
        const char *key = scalar(kn);
        if (!key)
            return fail(w, kn, path, "a key must be a single value");
        for (const yaml_node_pair_t *q = start; q < p; q++) {
            const char *prev = scalar(yaml_document_get_node(w->doc, q->key));
            if (prev && strcmp(prev, key) == 0)
                return fail(w, kn, path, "'%s' is given twice", key);
        }
        char sub[200];
        snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
        if (fn(w, key, kn, vn, sub, ud) != 0)
            return -1;
    }
    return 0;
}

/* ---- one tunnel ---- */

/* allow_cidr / deny_cidr entries: each a network lib/access accepts (what the server checks). */
static int get_nets(const walk *w, const yaml_node_t *n, const char *path, char ***list,
                    size_t *count)
{
    size_t before = *count;
    if (get_list(w, n, path, list, count) != 0)
        return -1;
    for (size_t i = before; i < *count; i++) {
        access_net net;
        const char *why = NULL;
        if (access_net_parse((*list)[i], &net, &why) != 0)
            return fail(w, n, path, "'%s': %s", (*list)[i], why);
    }
    if (*count > ACCESS_NETS_MAX)
        return fail(w, n, path, "at most %d networks", ACCESS_NETS_MAX);
    return 0;
}

static int ip_restriction_pair(const walk *w, const char *key, const yaml_node_t *kn,
                               const yaml_node_t *vn, const char *path, void *ud)
{
    agent_tunnel *t = ud;
    if (strcmp(key, "allow_cidrs") == 0)
        return get_nets(w, vn, path, &t->allow_cidr, &t->nallow);
    if (strcmp(key, "deny_cidrs") == 0)
        return get_nets(w, vn, path, &t->deny_cidr, &t->ndeny);
    return fail(w, kn, path, "unknown key (allow_cidrs, deny_cidrs)");
}

static int tunnel_pair(const walk *w, const char *key, const yaml_node_t *kn, const yaml_node_t *vn,
                       const char *path, void *ud)
{
    agent_tunnel *t = ud;
    char why[300];
    if (is_null(vn))
        return 0; /* "subdomain:" with nothing: as if absent */
    if (strcmp(key, "proto") == 0) {
        const char *v = scalar(vn);
        if (!v || strcmp(v, "http") != 0)
            return fail(w, vn, path, "only http tunnels are supported");
        return 0;
    }
    if (strcmp(key, "addr") == 0) {
        const char *v = scalar(vn);
        if (!v)
            return fail(w, vn, path,
                        "expected a port, host:port, http://host:port or https://host:port");
        if (settings_parse_service(v, "host", &t->local_host, &t->local_port, &t->local_tls, why,
                                   sizeof why) != 0)
            return fail(w, vn, path, "%s", why);
        return 0;
    }
    if (strcmp(key, "subdomain") == 0) {
        const char *v = scalar(vn), *bad = NULL;
        char name[TUNNEL_NAME_MAX + 1];
        if (!v)
            return fail(w, vn, path, "expected a name, found %s", kind_name(vn));
        if (tunnel_name_normalize(v, name, &bad) != 0)
            return fail(w, vn, path, "'%s' is not allowed: %s", v, bad);
        char *c = strdup(name);
        if (!c)
            return fail(w, vn, path, "out of memory");
        free(t->subdomain);
        t->subdomain = c;
        return 0;
    }
    if (strcmp(key, "host_header") == 0) {
        const char *v = scalar(vn);
        if (!v)
            return fail(w, vn, path, "expected preserve, rewrite or a host[:port]");
        if (settings_parse_host_header(v, "value", &t->host_header, &t->host_header_name, why,
                                       sizeof why) != 0)
            return fail(w, vn, path, "%s", why);
        return 0;
    }
    if (strcmp(key, "basic_auth") == 0 || strcmp(key, "auth") == 0) {
        char **list = NULL;
        size_t n = 0;
        int rc = get_list(w, vn, path, &list, &n);
        if (rc == 0 && (n != 1 || !list))
            rc = fail(w, vn, path, "one user:password (the server checks one)");
        const char *why = NULL;
        if (rc == 0 && list && access_basic_check(list[0], &why) != 0)
            rc = fail(w, vn, path, "%s", why); /* never echo the password */
        if (rc == 0 && t->basic_auth)
            rc = fail(w, kn, path, "basic_auth and auth both given");
        if (rc == 0 && list) {
            t->basic_auth = list[0];
            list[0] = NULL;
        }
        for (size_t i = 0; list && i < n; i++)
            free(list[i]);
        free(list);
        return rc;
    }
    if (strcmp(key, "allow_cidr") == 0 || strcmp(key, "allow_cidrs") == 0)
        return get_nets(w, vn, path, &t->allow_cidr, &t->nallow);
    if (strcmp(key, "deny_cidr") == 0 || strcmp(key, "deny_cidrs") == 0)
        return get_nets(w, vn, path, &t->deny_cidr, &t->ndeny);
    if (strcmp(key, "ip_restriction") == 0)
        return each_pair(w, vn, path, ip_restriction_pair, t);
    if (strcmp(key, "rate_limit") == 0) {
        access_rate rate;
        const char *why = NULL;
        if (get_text(w, vn, path, &t->rate_limit) != 0)
            return -1;
        if (access_rate_parse(t->rate_limit, &rate, &why) != 0)
            return fail(w, vn, path, "'%s': %s", t->rate_limit, why);
        return 0;
    }
    return fail(w, kn, path,
                "unknown key (proto, addr, subdomain, host_header, basic_auth, allow_cidr, "
                "deny_cidr, ip_restriction, rate_limit)");
}

static bool valid_tunnel_name(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= TTF_JSON_TUNNEL_NAME_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static int tunnels_pair(const walk *w, const char *key, const yaml_node_t *kn,
                        const yaml_node_t *vn, const char *path, void *ud)
{
    agent_file *f = ud;
    if (!valid_tunnel_name(key))
        return fail(w, kn, path, "a tunnel name is 1 to %d letters, digits, '_', '.' or '-'",
                    TTF_JSON_TUNNEL_NAME_MAX);
    if (f->ntunnels >= TTF_JSON_MAX_TUNNELS)
        return fail(w, kn, path, "at most %d tunnels", TTF_JSON_MAX_TUNNELS);
    agent_tunnel *grown = realloc(f->tunnels, (f->ntunnels + 1) * sizeof *f->tunnels);
    if (!grown)
        return fail(w, kn, path, "out of memory");
    f->tunnels = grown;
    agent_tunnel *t = &f->tunnels[f->ntunnels++];
    memset(t, 0, sizeof *t);
    t->name = strdup(key);
    if (!t->name)
        return fail(w, kn, path, "out of memory");
    if (vn->type != YAML_MAPPING_NODE)
        return fail(w, vn, path, "expected the tunnel's settings (addr: ...), found %s",
                    kind_name(vn));
    if (each_pair(w, vn, path, tunnel_pair, t) != 0)
        return -1;
    if (!t->local_port)
        return fail(w, vn, path,
                    "addr is missing (the local service: 3000, localhost:3000 or "
                    "http://localhost:3000)");
    if (!t->local_host) {
        t->local_host_default = true;
        if (!(t->local_host = strdup("127.0.0.1")))
            return fail(w, vn, path, "out of memory");
    }
    if (t->basic_auth || t->nallow || t->ndeny || t->rate_limit) { /* ready's access object */
        access_rate rate = {0};
        const char *bad = NULL;
        char why[256];
        if (t->rate_limit)
            access_rate_parse(t->rate_limit, &rate, &bad); /* checked above */
        t->access_json = access_request_json(t->basic_auth, (const char *const *)t->allow_cidr,
                                             t->nallow, (const char *const *)t->deny_cidr, t->ndeny,
                                             &rate, why, sizeof why);
        if (!t->access_json)
            return fail(w, vn, path, "%s", why);
    }
    for (size_t i = 0; t->subdomain && i + 1 < f->ntunnels; i++)
        if (f->tunnels[i].subdomain && strcmp(f->tunnels[i].subdomain, t->subdomain) == 0)
            return fail(w, vn, path, "subdomain '%s' is also tunnel '%s''s", t->subdomain,
                        f->tunnels[i].name);
    return 0;
}

/* ---- the top level ---- */

static int top_pair(const walk *w, const char *key, const yaml_node_t *kn, const yaml_node_t *vn,
                    const char *path, void *ud)
{
    agent_file *f = ud;
    if (strcmp(key, "version") == 0 || (is_null(vn) && strcmp(key, "tunnels") != 0))
        return 0;
    if (strcmp(key, "endpoint") == 0)
        return get_text(w, vn, path, &f->endpoint);
    if (strcmp(key, "authtoken") == 0 || strcmp(key, "token") == 0) {
        if (f->token)
            return fail(w, kn, path, "authtoken and token both given");
        return get_text(w, vn, path, &f->token);
    }
    if (strcmp(key, "ca_file") == 0)
        return get_text(w, vn, path, &f->ca_file);
    if (strcmp(key, "connect_timeout") == 0)
        return get_int(w, vn, path, 1, 86400, &f->connect_timeout);
    if (strcmp(key, "request_timeout") == 0)
        return get_int(w, vn, path, 1, 86400, &f->request_timeout);
    if (strcmp(key, "protocol") == 0) {
        const char *v = scalar(vn);
        f->protocol_set = true;
        if (v && strcmp(v, "auto") == 0)
            f->protocol = PROTO_AUTO;
        else if (v && (strcmp(v, "binary") == 0 || strcmp(v, "bin") == 0))
            f->protocol = PROTO_BINARY;
        else if (v && strcmp(v, "json") == 0)
            f->protocol = PROTO_JSON;
        else
            return fail(w, vn, path, "auto, binary or json");
        return 0;
    }
    if (strcmp(key, "web_addr") == 0) {
        if (is_false(vn)) {
            f->inspect_off = true;
            return 0;
        }
        f->inspect_off = false;
        return get_text(w, vn, path, &f->inspect_addr);
    }
    if (strcmp(key, "tunnels") == 0) {
        if (is_null(vn) || (vn->type == YAML_MAPPING_NODE &&
                            vn->data.mapping.pairs.top == vn->data.mapping.pairs.start))
            return fail(w, vn, path, "no tunnel: name at least one (web: {addr: 3000})");
        return each_pair(w, vn, path, tunnels_pair, f);
    }
    return fail(w, kn, path,
                "unknown key (version, endpoint, authtoken, connect_timeout, request_timeout, "
                "protocol, ca_file, web_addr, tunnels)");
}

int agent_file_parse(const char *text, size_t len, const char *label, agent_file *f, char *err,
                     size_t errcap)
{
    memset(f, 0, sizeof *f);
    yaml_parser_t p;
    yaml_document_t doc;
    walk w = {&doc, label, err, errcap};
    if (!yaml_parser_initialize(&p))
        return fail(&w, NULL, NULL, "out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, &doc)) {
        snprintf(err, errcap, "%s:%zu:%zu: not valid YAML: %s%s%s", label, p.problem_mark.line + 1,
                 p.problem_mark.column + 1, p.problem ? p.problem : "syntax error",
                 p.context ? " " : "", p.context ? p.context : "");
        yaml_parser_delete(&p);
        return -1;
    }
    int rc = 0;
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root)
        rc = fail(&w, NULL, NULL, "the file is empty (it needs tunnels:)");
    else
        rc = each_pair(&w, root, "", top_pair, f);
    if (rc == 0 && !f->tunnels)
        rc = fail(&w, root, NULL, "no tunnels: section (tunnels: {web: {addr: 3000}})");
    if (rc == 0) { /* a second document is not read: say so rather than ignore it */
        yaml_document_t next;
        if (!yaml_parser_load(&p, &next))
            rc = fail(&w, NULL, NULL, "not valid YAML after the first document");
        else if (yaml_document_get_root_node(&next))
            rc = fail(&w, yaml_document_get_root_node(&next), NULL,
                      "only one YAML document is read (remove the '---')");
        yaml_document_delete(&next);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return rc;
}

int agent_file_load(const char *path, agent_file *f, char *err, size_t errcap)
{
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errcap, "cannot read the config file %s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(AGENT_FILE_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, AGENT_FILE_MAX_BYTES + 1, fp) : 0;
    bool bad = !buf || ferror(fp);
    int saved = errno;
    fclose(fp);
    if (bad) {
        free(buf);
        snprintf(err, errcap, "cannot read the config file %s: %s", path,
                 buf ? strerror(saved) : "out of memory");
        return -1;
    }
    if (n > AGENT_FILE_MAX_BYTES) {
        free(buf);
        snprintf(err, errcap, "the config file %s is over %zu bytes", path, AGENT_FILE_MAX_BYTES);
        return -1;
    }
    int rc = agent_file_parse(buf, n, path, f, err, errcap);
    free(buf);
    return rc;
}

void agent_file_free(agent_file *f)
{
    free(f->endpoint);
    if (f->token)
        explicit_bzero(f->token, strlen(f->token));
    free(f->token);
    free(f->ca_file);
    free(f->inspect_addr);
    for (size_t i = 0; i < f->ntunnels; i++)
        agent_tunnel_free(&f->tunnels[i]);
    free(f->tunnels);
    memset(f, 0, sizeof *f);
}
