/* SPDX-License-Identifier: MIT */
/* config.c - ttf's flags and environment (see config.h). */
#include "config.h"

#include "config_file.h"
#include "tunnel_id.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_AGENT_PATH "/_tunnel"
#define DEFAULT_ENDPOINT "ws://127.0.0.1:8080" DEFAULT_AGENT_PATH

static const char usage[] =
    "Usage: ttf [options] [http] [PORT | HOST:PORT | http://HOST:PORT | https://HOST:PORT]\n"
    "       ttf --config FILE [options] [TUNNEL...]\n"
    "Expose a local HTTP service through a tunnel server (ttfd or the serverless back-end).\n"
    "The local service is the argument (ttf 3000, ttf http://localhost:3000) or -p/--host;\n"
    "https://HOST:PORT reaches one that speaks HTTPS (its certificate is not verified).\n"
    "With --config, the file's tunnels (all, or those named) share one connection.\n"
    "\n"
    "  -c, --config FILE         YAML file naming several tunnels and global options\n"
    "                            (ngrok's shape; flags and environment override it)\n"
    "  -e, --endpoint URL        tunnel endpoint (env TUNNEL_ENDPOINT; default " DEFAULT_ENDPOINT
    ")\n"
    "  -p, --port, --local-port N  local service port (default 3000)\n"
    "      --host H              local service host: a name, an IPv4 or IPv6 address\n"
    "                            (default 127.0.0.1, then ::1 if refused; every\n"
    "                            address of a name is tried)\n"
    "  -t, --token, --authtoken T  JWT sent as Authorization: Bearer (env TUNNEL_TOKEN;\n"
    "                            authtoken: ngrok's name for it)\n"
    "  -s, --subdomain NAME      ask for NAME.<domain> (a DNS label); refused if taken\n"
    "  -v, --verbose             debug logging\n"
    "      --connect-timeout SEC connect + handshake timeout (default 10)\n"
    "      --request-timeout SEC wait for the local response head (default 115)\n"
    "      --ca-file F           CA certificates (PEM) to verify a wss:// endpoint\n"
    "      --insecure            do not verify the server certificate (unsafe)\n"
    "      --host-header H       Host sent to the local service: preserve (the public one,\n"
    "                            default), rewrite (host:port of the local service; redirects\n"
    "                            to it become the public URL), or a name to send\n"
    "      --max-response-header-size N  largest local response head in bytes (default "
    "65536)\n"
    "      --protocol P          auto | binary | json (default auto)\n"
    "      --forget              do not ask for (nor remember) this tunnel's last id\n"
    "      --inspect ADDR        inspector web page and API (env TUNNEL_INSPECT;\n"
    "                            default " INSPECT_DEFAULT_ADDR ", or the next free port)\n"
    "      --no-inspect          no inspector\n"
    "      --inspect-budget SIZE memory for captured exchanges (default 4M)\n"
    "      --inspect-body-max SIZE  bytes kept per captured body (default 1M)\n"
    "      --log-format F        auto | term | plain | json (default auto: the terminal view\n"
    "                            on a TTY, plain lines otherwise)\n"
    "      --qr                  show a QR code of the public URL\n"
    "\n"
    "Access control, enforced by the server before requests reach this machine:\n"
    "      --basic-auth USER:PASS  ask every public request for this user and password (401);\n"
    "                            env TUNNEL_BASIC_AUTH; the password has 8 to 256 bytes\n"
    "      --allow-cidr CIDR     only clients in these networks (403 for others; repeatable)\n"
    "      --deny-cidr CIDR      never clients in these networks (403; wins; repeatable)\n"
    "      --rate-limit N/UNIT   at most N requests per s, m or h per client address (429)\n"
    "\n"
    "  -h, --help                this help\n"
    "      --version             print the version\n";

enum {
    OPT_HOST = 256,
    OPT_CONNECT_TIMEOUT,
    OPT_REQUEST_TIMEOUT,
    OPT_CA_FILE,
    OPT_INSECURE,
    OPT_HOST_HEADER,
    OPT_MAX_RESPONSE_HEAD,
    OPT_PROTOCOL,
    OPT_FORGET,
    OPT_BASIC_AUTH,
    OPT_ALLOW_CIDR,
    OPT_DENY_CIDR,
    OPT_RATE_LIMIT,
    OPT_VERSION,
    OPT_INSPECT,
    OPT_NO_INSPECT,
    OPT_INSPECT_BUDGET,
    OPT_INSPECT_BODY_MAX,
    OPT_LOG_FORMAT,
    OPT_QR,
    OPT_CONFIG,
};

static const struct option long_opts[] = {
    {"endpoint", required_argument, NULL, 'e'},
    {"port", required_argument, NULL, 'p'},
    {"local-port", required_argument, NULL, 'p'},
    {"host", required_argument, NULL, OPT_HOST},
    {"token", required_argument, NULL, 't'},
    {"authtoken", required_argument, NULL, 't'}, /* ngrok's flag */
    {"verbose", no_argument, NULL, 'v'},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"host-header", required_argument, NULL, OPT_HOST_HEADER},
    {"max-response-header-size", required_argument, NULL, OPT_MAX_RESPONSE_HEAD},
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"subdomain", required_argument, NULL, 's'},
    {"forget", no_argument, NULL, OPT_FORGET},
    {"basic-auth", required_argument, NULL, OPT_BASIC_AUTH},
    {"allow-cidr", required_argument, NULL, OPT_ALLOW_CIDR},
    {"deny-cidr", required_argument, NULL, OPT_DENY_CIDR},
    {"rate-limit", required_argument, NULL, OPT_RATE_LIMIT},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {"inspect", required_argument, NULL, OPT_INSPECT},
    {"no-inspect", no_argument, NULL, OPT_NO_INSPECT},
    {"inspect-budget", required_argument, NULL, OPT_INSPECT_BUDGET},
    {"inspect-body-max", required_argument, NULL, OPT_INSPECT_BODY_MAX},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"qr", no_argument, NULL, OPT_QR},
    {"config", required_argument, NULL, 'c'},
    {NULL, 0, NULL, 0},
};

int agent_config_parse_size(const char *s, size_t lo, size_t hi, size_t *out)
{
    if (!s || !*s || *s == '-')
        return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    case '\0':
        break;
    default:
        return -1;
    }
    if (shift && end[1] != '\0' && !((end[1] == 'B' || end[1] == 'b') && end[2] == '\0') &&
        !(end[1] == 'i' && (end[2] == 'B' || end[2] == 'b') && end[3] == '\0'))
        return -1;
    if (v > (unsigned long long)hi >> shift)
        return -1;
    v <<= shift;
    if (v < lo)
        return -1;
    *out = (size_t)v;
    return 0;
}

static config_result set_local_host(agent_config *cfg, const char *h, char *err, size_t errcap)
{
    cfg->local_host_given = true;
    return settings_set_host(&cfg->local_host, "--host", h, err, errcap) == 0 ? CONFIG_OK
                                                                              : CONFIG_ERROR;
}

/* --host-header: preserve | rewrite | a Host value (a valid uri-host[:port]). */
static config_result parse_host_header(const char *v, agent_config *cfg, char *err, size_t errcap)
{
    return settings_parse_host_header(v, "--host-header", &cfg->host_header, &cfg->host_header_name,
                                      err, errcap) == 0
               ? CONFIG_OK
               : CONFIG_ERROR;
}

/* Appends a copy of s to a list of networks, after checking it (--allow-cidr, --deny-cidr). */
static config_result add_net(char ***list, size_t *n, const char *flag, const char *s, char *err,
                             size_t errcap)
{
    access_net net;
    const char *why = NULL;
    if (access_net_parse(s, &net, &why) != 0) {
        snprintf(err, errcap, "invalid %s '%s': %s", flag, s, why);
        return CONFIG_ERROR;
    }
    if (*n >= ACCESS_NETS_MAX) {
        snprintf(err, errcap, "at most %d %s networks", ACCESS_NETS_MAX, flag);
        return CONFIG_ERROR;
    }
    char **v = realloc(*list, (*n + 1) * sizeof *v);
    if (!v || !(v[*n] = strdup(s))) {
        if (v)
            *list = v;
        snprintf(err, errcap, "out of memory");
        return CONFIG_ERROR;
    }
    *list = v;
    (*n)++;
    return CONFIG_OK;
}

/* The positional local service: "3000", "localhost:3000", "[::1]:3000", "http://host[:port][/]". */
static config_result parse_local_target(const char *arg, agent_config *cfg, char *err,
                                        size_t errcap)
{
    if (arg[strspn(arg, "0123456789")] != '\0') /* more than a port: it names a host */
        cfg->local_host_given = true;
    return settings_parse_service(arg, "local service host", &cfg->local_host, &cfg->local_port,
                                  &cfg->local_tls, err, errcap) == 0
               ? CONFIG_OK
               : CONFIG_ERROR;
}

static int dup_opt(char **dst, const char *s)
{
    if (!s)
        return 0;
    return settings_set_str(dst, s);
}

/* What the command line (or the environment) set: the config file does not override it. */
typedef struct agent_file_given {
    bool endpoint, token, connect_timeout, request_timeout, protocol, ca_file, inspect;
} agent_file_given;

/* The command line's one tunnel (no name): tunnels[0] from the flags. 0 or -1 (ENOMEM). */
static int command_line_tunnel(agent_config *cfg)
{
    cfg->tunnels = calloc(1, sizeof *cfg->tunnels);
    if (!cfg->tunnels)
        return -1;
    cfg->ntunnels = 1;
    agent_tunnel *t = &cfg->tunnels[0];
    t->local_port = cfg->local_port;
    t->local_host_default = !cfg->local_host_given;
    t->local_tls = cfg->local_tls;
    t->host_header = cfg->host_header;
    return dup_opt(&t->local_host, cfg->local_host) | dup_opt(&t->subdomain, cfg->subdomain) |
           dup_opt(&t->host_header_name, cfg->host_header_name);
}

/* --config: loads cfg->config_file and applies it to cfg: its globals where the command line
 * left them (given), its tunnels (all, or those names lists, in the file's order) as
 * cfg->tunnels; tunnels[0]'s fields (and access) also in cfg's single-tunnel fields. */
static config_result apply_file(agent_config *cfg, const agent_file_given *given, char **names,
                                size_t nnames, char *err, size_t errcap)
{
    agent_file f;
    if (agent_file_load(cfg->config_file, &f, err, errcap) != 0) {
        agent_file_free(&f);
        return CONFIG_ERROR;
    }
    config_result rc = CONFIG_ERROR;
    for (size_t i = 0; i < nnames; i++) {
        size_t j = 0;
        while (j < f.ntunnels && strcmp(f.tunnels[j].name, names[i]) != 0)
            j++;
        if (j == f.ntunnels) {
            snprintf(err, errcap, "%s names no tunnel '%s'", cfg->config_file, names[i]);
            goto out;
        }
    }
    if ((!given->endpoint && f.endpoint && settings_set_str(&cfg->endpoint, f.endpoint) != 0) ||
        (!given->token && f.token && settings_set_str(&cfg->token, f.token) != 0) ||
        (!given->ca_file && f.ca_file && settings_set_str(&cfg->ca_file, f.ca_file) != 0))
        goto nomem;
    if (!given->connect_timeout && f.connect_timeout)
        cfg->connect_timeout = f.connect_timeout;
    if (!given->request_timeout && f.request_timeout)
        cfg->request_timeout = f.request_timeout;
    if (!given->protocol && f.protocol_set)
        cfg->protocol = f.protocol;
    if (!given->inspect && f.inspect_off) {
        free(cfg->inspect_addr);
        cfg->inspect_addr = NULL;
    } else if (!given->inspect && f.inspect_addr) {
        if (settings_set_str(&cfg->inspect_addr, f.inspect_addr) != 0)
            goto nomem;
        cfg->inspect_explicit = true;
    }
    cfg->tunnels = f.ntunnels ? calloc(f.ntunnels, sizeof *cfg->tunnels) : NULL;
    if (!cfg->tunnels)
        goto nomem;
    for (size_t j = 0; j < f.ntunnels; j++) {
        bool wanted = nnames == 0;
        for (size_t i = 0; i < nnames && !wanted; i++)
            wanted = strcmp(f.tunnels[j].name, names[i]) == 0;
        if (wanted) { /* moved: the file's copy is left empty */
            cfg->tunnels[cfg->ntunnels++] = f.tunnels[j];
            memset(&f.tunnels[j], 0, sizeof f.tunnels[j]);
        }
    }
    const agent_tunnel *t0 = &cfg->tunnels[0];
    if (cfg->ntunnels == 0 || !t0->local_host) { /* the parser makes neither happen */
        snprintf(err, errcap, "%s: no tunnel", cfg->config_file);
        goto out;
    }
    cfg->local_port = t0->local_port;
    cfg->local_tls = t0->local_tls;
    cfg->host_header = t0->host_header;
    if (settings_set_str(&cfg->local_host, t0->local_host) != 0 ||
        (t0->access_json && settings_set_str(&cfg->access_json, t0->access_json) != 0) ||
        (t0->subdomain && settings_set_str(&cfg->subdomain, t0->subdomain) != 0) ||
        (t0->host_header_name &&
         settings_set_str(&cfg->host_header_name, t0->host_header_name) != 0))
        goto nomem;
    rc = CONFIG_OK;
    goto out;
nomem:
    snprintf(err, errcap, "out of memory");
out:
    agent_file_free(&f);
    return rc;
}

config_result agent_config_parse(int argc, char **argv, config_getenv_fn env, agent_config *cfg,
                                 void *out, char *err, size_t errcap)
{
    FILE *fout = out ? out : stdout;
    memset(cfg, 0, sizeof *cfg);
    cfg->local_port = 3000;
    cfg->connect_timeout = 10;
    cfg->request_timeout = 115; /* under ttfd's 120: its 504 comes from here, with the reason */
    cfg->protocol = PROTO_AUTO;
    cfg->max_response_head = AGENT_DEFAULT_MAX_RESPONSE_HEAD;
    cfg->inspect_budget = INSPECT_DEFAULT_BUDGET;
    cfg->inspect_body_max = INSPECT_DEFAULT_BODY_MAX;
    err[0] = '\0';

    const char *ev = env ? env("TUNNEL_ENDPOINT") : NULL;
    const char *tv = env ? env("TUNNEL_TOKEN") : NULL;
    const char *bv = env ? env("TUNNEL_BASIC_AUTH") : NULL;
    if (bv && *bv && settings_set_str(&cfg->basic_auth, bv) != 0)
        goto nomem;
    if (settings_set_str(&cfg->endpoint, ev && *ev ? ev : DEFAULT_ENDPOINT) != 0 ||
        settings_set_str(&cfg->local_host, "127.0.0.1") != 0 ||
        settings_set_str(&cfg->inspect_addr, INSPECT_DEFAULT_ADDR) != 0)
        goto nomem;
    if (tv && *tv && settings_set_str(&cfg->token, tv) != 0)
        goto nomem;
    const char *iv = env ? env("TUNNEL_INSPECT") : NULL;
    if (iv && *iv) {
        if (strcasecmp(iv, "off") == 0 || strcasecmp(iv, "false") == 0 ||
            strcasecmp(iv, "no") == 0 || strcmp(iv, "0") == 0) {
            free(cfg->inspect_addr);
            cfg->inspect_addr = NULL;
        } else {
            if (settings_set_str(&cfg->inspect_addr, iv) != 0)
                goto nomem;
            cfg->inspect_explicit = true;
        }
    }

    optind = 0; /* full re-initialisation (glibc), so tests can parse several times */
    opterr = 0;
    int c;
    bool port_given = false;
    /* given on the command line: the config file does not override them */
    bool endpoint_flag = false, token_flag = false, ct_flag = false, rt_flag = false;
    bool proto_flag = false, ca_flag = false, inspect_flag = iv && *iv;
    const char *tunnel_flag = NULL; /* a per-tunnel flag: not with --config */
    while ((c = getopt_long(argc, argv, ":e:p:t:s:c:vh", long_opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (settings_set_str(&cfg->config_file, optarg) != 0)
                goto nomem;
            break;
        case 'e':
            endpoint_flag = true;
            if (settings_set_str(&cfg->endpoint, optarg) != 0)
                goto nomem;
            break;
        case 'p':
            if (settings_parse_int(optarg, 1, 65535, &cfg->local_port) != 0) {
                snprintf(err, errcap, "invalid port: %s", optarg);
                return CONFIG_ERROR;
            }
            port_given = true;
            tunnel_flag = "-p/--port";
            break;
        case 's': {
            const char *why = NULL;
            char name[TUNNEL_NAME_MAX + 1];
            if (tunnel_name_normalize(optarg, name, &why) != 0) {
                snprintf(err, errcap, "invalid --subdomain '%s': %s", optarg, why);
                return CONFIG_ERROR;
            }
            if (settings_set_str(&cfg->subdomain, name) != 0)
                goto nomem;
            tunnel_flag = "--subdomain";
            break;
        }
        case OPT_FORGET:
            cfg->forget = true;
            break;
        case OPT_BASIC_AUTH: {
            const char *why = NULL;
            if (access_basic_check(optarg, &why) != 0) {
                snprintf(err, errcap, "invalid --basic-auth: %s", why); /* never echo it */
                return CONFIG_ERROR;
            }
            if (settings_set_str(&cfg->basic_auth, optarg) != 0)
                goto nomem;
            tunnel_flag = "--basic-auth";
            break;
        }
        case OPT_ALLOW_CIDR:
        case OPT_DENY_CIDR: {
            bool allow = c == OPT_ALLOW_CIDR;
            config_result r = add_net(allow ? &cfg->allow_cidr : &cfg->deny_cidr,
                                      allow ? &cfg->nallow : &cfg->ndeny,
                                      allow ? "--allow-cidr" : "--deny-cidr", optarg, err, errcap);
            if (r != CONFIG_OK)
                return r;
            tunnel_flag = allow ? "--allow-cidr" : "--deny-cidr";
            break;
        }
        case OPT_RATE_LIMIT: {
            const char *why = NULL;
            if (access_rate_parse(optarg, &cfg->rate, &why) != 0) {
                snprintf(err, errcap, "invalid --rate-limit '%s': %s", optarg, why);
                return CONFIG_ERROR;
            }
            tunnel_flag = "--rate-limit";
            break;
        }
        case OPT_HOST:
            if (set_local_host(cfg, optarg, err, errcap) != CONFIG_OK)
                return CONFIG_ERROR;
            tunnel_flag = "--host";
            break;
        case 't':
            if (settings_set_str(&cfg->token, optarg) != 0)
                goto nomem;
            token_flag = true;
            break;
        case 'v':
            cfg->verbose = true;
            break;
        case OPT_CONNECT_TIMEOUT:
        case OPT_REQUEST_TIMEOUT: {
            int *dst = c == OPT_CONNECT_TIMEOUT ? &cfg->connect_timeout : &cfg->request_timeout;
            *(c == OPT_CONNECT_TIMEOUT ? &ct_flag : &rt_flag) = true;
            if (settings_parse_int(optarg, 1, 86400, dst) != 0) {
                snprintf(err, errcap, "invalid timeout: %s", optarg);
                return CONFIG_ERROR;
            }
            break;
        }
        case OPT_CA_FILE:
            if (settings_set_str(&cfg->ca_file, optarg) != 0)
                goto nomem;
            ca_flag = true;
            break;
        case OPT_INSECURE:
            cfg->insecure = true;
            break;
        case OPT_HOST_HEADER:
            if (parse_host_header(optarg, cfg, err, errcap) != CONFIG_OK)
                return CONFIG_ERROR;
            tunnel_flag = "--host-header";
            break;
        case OPT_MAX_RESPONSE_HEAD: {
            int v = 0;
            if (settings_parse_int(optarg, 1024, (long)(HTTP1_MAX_RESPONSE_HEAD), &v) != 0) {
                snprintf(err, errcap, "invalid --max-response-header-size: %s (bytes, 1024 to %zu)",
                         optarg, (size_t)HTTP1_MAX_RESPONSE_HEAD);
                return CONFIG_ERROR;
            }
            cfg->max_response_head = (size_t)v;
            break;
        }
        case OPT_PROTOCOL:
            proto_flag = true;
            if (strcmp(optarg, "auto") == 0)
                cfg->protocol = PROTO_AUTO;
            else if (strcmp(optarg, "binary") == 0 || strcmp(optarg, "bin") == 0)
                cfg->protocol = PROTO_BINARY;
            else if (strcmp(optarg, "json") == 0)
                cfg->protocol = PROTO_JSON;
            else {
                snprintf(err, errcap, "invalid --protocol: %s (auto, binary or json)", optarg);
                return CONFIG_ERROR;
            }
            break;
        case OPT_INSPECT:
            if (!*optarg) {
                snprintf(err, errcap, "empty --inspect (use --no-inspect to turn it off)");
                return CONFIG_ERROR;
            }
            if (settings_set_str(&cfg->inspect_addr, optarg) != 0)
                goto nomem;
            cfg->inspect_explicit = true;
            inspect_flag = true;
            break;
        case OPT_NO_INSPECT:
            free(cfg->inspect_addr);
            cfg->inspect_addr = NULL;
            inspect_flag = true;
            break;
        case OPT_INSPECT_BUDGET:
        case OPT_INSPECT_BODY_MAX: {
            bool budget = c == OPT_INSPECT_BUDGET;
            size_t *dst = budget ? &cfg->inspect_budget : &cfg->inspect_body_max;
            if (agent_config_parse_size(optarg, budget ? 64 * 1024 : 0, (size_t)1 << 40, dst) !=
                0) {
                snprintf(err, errcap, "invalid --%s: %s (bytes, or with k, M, G%s)",
                         budget ? "inspect-budget" : "inspect-body-max", optarg,
                         budget ? "; at least 64k" : "");
                return CONFIG_ERROR;
            }
            break;
        }
        case OPT_LOG_FORMAT:
            if (strcmp(optarg, "auto") == 0)
                cfg->log_format = LOGFMT_AUTO;
            else if (strcmp(optarg, "term") == 0)
                cfg->log_format = LOGFMT_TERM;
            else if (strcmp(optarg, "plain") == 0)
                cfg->log_format = LOGFMT_PLAIN;
            else if (strcmp(optarg, "json") == 0)
                cfg->log_format = LOGFMT_JSON;
            else {
                snprintf(err, errcap, "invalid --log-format: %s (auto, term, plain or json)",
                         optarg);
                return CONFIG_ERROR;
            }
            break;
        case OPT_QR:
            cfg->qr = true;
            break;
        case 'h':
            fputs(usage, fout);
            return CONFIG_EXIT;
        case OPT_VERSION:
            fprintf(fout, "ttf %s\n", TTF_VERSION);
            return CONFIG_EXIT;
        case ':':
            snprintf(err, errcap, "option %s needs a value", argv[optind - 1]);
            return CONFIG_ERROR;
        default:
            snprintf(err, errcap, "unknown option: %s", argv[optind - 1]);
            return CONFIG_ERROR;
        }
    }
    if (cfg->config_file) {
        if (!tunnel_flag && cfg->basic_auth)
            tunnel_flag = "TUNNEL_BASIC_AUTH";
        if (tunnel_flag) {
            snprintf(err, errcap,
                     "%s is a tunnel's setting: with --config, put it in the file's tunnels",
                     tunnel_flag);
            return CONFIG_ERROR;
        }
        agent_file_given given = {endpoint_flag || (ev && *ev),
                                  token_flag || (tv && *tv),
                                  ct_flag,
                                  rt_flag,
                                  proto_flag,
                                  ca_flag,
                                  inspect_flag};
        if (apply_file(cfg, &given, argv + optind, (size_t)(argc - optind), err, errcap) !=
            CONFIG_OK)
            return CONFIG_ERROR;
    } else if (optind < argc) {
        /* ngrok's habit: `ngrok http 3000` is `ttf http 3000` (the same as `ttf 3000`). */
        if (optind + 1 < argc && strcmp(argv[optind], "http") == 0) {
            optind++;
        } else if (optind + 1 < argc &&
                   (strcmp(argv[optind], "tcp") == 0 || strcmp(argv[optind], "tls") == 0)) {
            snprintf(err, errcap,
                     "ttf tunnels HTTP only (ttf PORT, ttf http PORT); ngrok's %s tunnels have no "
                     "equivalent",
                     argv[optind]);
            return CONFIG_ERROR;
        }
        if (optind + 1 < argc) {
            snprintf(err, errcap, "unexpected argument: %s", argv[optind + 1]);
            return CONFIG_ERROR;
        }
        if (port_given) {
            snprintf(err, errcap, "the local service is given twice (-p and %s)", argv[optind]);
            return CONFIG_ERROR;
        }
        int rc = parse_local_target(argv[optind], cfg, err, errcap);
        if (rc != CONFIG_OK)
            return rc;
    }
    if (!cfg->config_file && command_line_tunnel(cfg) != 0)
        goto nomem;
    cfg->endpoint_log = agent_config_redact_url(cfg->endpoint);
    if (!cfg->endpoint_log)
        goto nomem;
    if (tunnel_url_parse(cfg->endpoint, &cfg->url) != 0) {
        snprintf(err, errcap, "invalid endpoint URL: %s (want ws://, wss://, http:// or https://)",
                 cfg->endpoint_log);
        return CONFIG_ERROR;
    }
    /* "ws://host:8080" means ttfd's agents' path: ws://host:8080/_tunnel. */
    if (strcmp(cfg->url.path, "/") == 0 && !strchr(cfg->endpoint, '?')) {
        snprintf(cfg->url.path, sizeof cfg->url.path, "%s", DEFAULT_AGENT_PATH);
        cfg->path_added = true;
    }
    if (cfg->token && !*cfg->token) {
        free(cfg->token);
        cfg->token = NULL;
    }
    if (cfg->basic_auth || cfg->nallow || cfg->ndeny || cfg->rate.requests) {
        char why[256];
        const char *w = NULL;
        if (cfg->basic_auth && access_basic_check(cfg->basic_auth, &w) != 0) {
            snprintf(err, errcap, "invalid TUNNEL_BASIC_AUTH: %s", w);
            return CONFIG_ERROR;
        }
        cfg->access_json = access_request_json(
            cfg->basic_auth, (const char *const *)cfg->allow_cidr, cfg->nallow,
            (const char *const *)cfg->deny_cidr, cfg->ndeny, &cfg->rate, why, sizeof why);
        if (!cfg->access_json) {
            snprintf(err, errcap, "%s", why);
            return CONFIG_ERROR;
        }
        if (settings_set_str(&cfg->tunnels[0].access_json, cfg->access_json) != 0)
            goto nomem;
    }
    return CONFIG_OK;
nomem:
    snprintf(err, errcap, "out of memory");
    return CONFIG_ERROR;
}

void agent_config_free(agent_config *cfg)
{
    free(cfg->endpoint);
    free(cfg->endpoint_log);
    free(cfg->local_host);
    free(cfg->host_header_name);
    free(cfg->token);
    free(cfg->ca_file);
    free(cfg->subdomain);
    free(cfg->inspect_addr);
    free(cfg->config_file);
    for (size_t i = 0; i < cfg->ntunnels; i++)
        agent_tunnel_free(&cfg->tunnels[i]);
    free(cfg->tunnels);
    if (cfg->basic_auth) /* the password: not left in freed memory */
        explicit_bzero(cfg->basic_auth, strlen(cfg->basic_auth));
    if (cfg->access_json)
        explicit_bzero(cfg->access_json, strlen(cfg->access_json));
    free(cfg->basic_auth);
    for (size_t i = 0; i < cfg->nallow; i++)
        free(cfg->allow_cidr[i]);
    for (size_t i = 0; i < cfg->ndeny; i++)
        free(cfg->deny_cidr[i]);
    free(cfg->allow_cidr);
    free(cfg->deny_cidr);
    free(cfg->access_json);
    memset(cfg, 0, sizeof *cfg);
}

char *agent_config_redact_url(const char *url)
{
    size_t n = strlen(url);
    char *out = malloc(n + 3 * (n / 7 + 1) + 1); /* each "token=" may grow by "***" */
    if (!out)
        return NULL;
    const char *q = strchr(url, '?');
    size_t o = 0, i = 0;
    if (q) {
        o = i = (size_t)(q - url) + 1;
        memcpy(out, url, o);
    }
    while (q && i < n) {
        if (strncasecmp(url + i, "token=", 6) == 0 && (url[i - 1] == '?' || url[i - 1] == '&')) {
            memcpy(out + o, url + i, 6); /* the name as written */
            memcpy(out + o + 6, "***", 3);
            o += 9;
            i += 6;
            while (i < n && url[i] != '&' && url[i] != '#')
                i++;
            continue;
        }
        out[o++] = url[i++];
    }
    if (!q) {
        memcpy(out, url, n);
        o = n;
    }
    out[o] = '\0';
    return out;
}

void agent_config_local_hostport(const agent_config *cfg, char *out, size_t cap)
{
    if (strchr(cfg->local_host, ':') && cfg->local_host[0] != '[')
        snprintf(out, cap, "[%s]:%d", cfg->local_host, cfg->local_port);
    else
        snprintf(out, cap, "%s:%d", cfg->local_host, cfg->local_port);
}
