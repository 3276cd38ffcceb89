/* SPDX-License-Identifier: MIT */
/* main.c - ttfd: command line, the server context, the listener, signals, and teardown.
 * Everything mutable lives in the `server` struct built here and passed down. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <event2/event.h>
#include <event2/util.h>

#include "listener.h"
#include "logbuf.h"
#include "pconn.h"
#include "rand_pool.h"
#include "session.h"
#include "srv.h"
#include "statedir.h"
#include "tls.h"
#include "token.h"

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: ttfd [options]\n"
        "       ttfd token --sub NAME [--ttl DURATION]   (ttfd token --help)\n"
        "Self-hosted tunnel server: public HTTP in, agents (ttf) on /_tunnel.\n\n"
        "  --listen ADDR:PORT        listen address (default 127.0.0.1:8080; port 0: any)\n"
        "  --domain NAME             tunnel domain (default localhost)\n"
        "  --public-port N           port shown in public URLs (default: the bound port;\n"
        "                            omitted when it is the scheme's default, 80 or 443)\n"
        "  --public-scheme http|https\n"
        "                            scheme of public URLs and X-Forwarded-Proto (default:\n"
        "                            https with --tls-cert, else http; https behind a TLS\n"
        "                            front proxy)\n"
        "  --tls-cert FILE           PEM certificate chain (enables https/wss)\n"
        "  --tls-key FILE            PEM private key\n"
        "  --require-auth            agents must present a valid JWT\n"
        "  --jwt-secret S            HS256 secret (or env TTFD_JWT_SECRET)\n"
        "  --jwks FILE               JWKS with RS256/384/512 and ES256 public keys\n"
        "  --request-timeout SEC     504 when no response head came this long after the\n"
        "                            request stopped moving (120)\n"
        "  --header-timeout SEC      a whole request head must arrive within this, 408\n"
        "                            beyond it (30)\n"
        "  --body-timeout SEC        408 when a request body stalls this long (60)\n"
        "  --send-timeout SEC        close a connection whose client takes nothing of its\n"
        "                            answer this long (60)\n"
        "  --tunnel-timeout SEC      close an upgraded connection (a WebSocket) that carried\n"
        "                            nothing either way this long (3600; 0: never)\n"
        "  --half-close-timeout SEC  once one side of an upgraded connection ended its half\n"
        "                            (a FIN), close it when nothing moved this long; a client\n"
        "                            whose FIN followed its whole request and toward which\n"
        "                            nothing went this long is taken as gone: 499, the stream\n"
        "                            cancelled (30; 0: the tunnel timeout alone, no bound)\n"
        "  --agent-timeout SEC       close an agent link that brought nothing this long\n"
        "                            (pinged every quarter of it): its requests fail at once\n"
        "                            (502) and its names wait for its reconnection (60; 0:\n"
        "                            never)\n"
        "  --max-header-size BYTES   request head limit, 431 beyond it (16384; at most\n"
        "                            1048576)\n"
        "  --max-body-size BYTES     request body limit, 413 beyond it (0: none; both\n"
        "                            wire modes)\n"
        "  --max-streams-per-agent N\n"
        "                            requests in progress at once per agent (over all its\n"
        "                            tunnels); 503 with Retry-After beyond it (256; 0: none)\n"
        "  --max-streams N           requests in progress at once over all agents; 503 with\n"
        "                            Retry-After beyond it (2000; 0: none)\n"
        "  --max-connections N       connections open at once (public and agents); at it the\n"
        "                            public ones waiting longest for a request head are\n"
        "                            closed to make room (kept-alive idle ones at once, new\n"
        "                            ones and heads or TLS handshakes under way after 1 s),\n"
        "                            else new ones wait in the kernel's queue; requests in\n"
        "                            progress and agents are never closed so (default: the\n"
        "                            descriptor limit less 64; 0: none)\n"
        "  --max-agents N            agents' links open at once, so that public connections\n"
        "                            keep the rest of --max-connections; beyond it an upgrade\n"
        "                            is refused (503 with Retry-After) unless a link that\n"
        "                            sent no ready 1 s after its upgrade can close (default:\n"
        "                            half of --max-connections; 0: none)\n"
        "  --max-agents-per-ip N     agents' links open at once from one address (behind a\n"
        "                            trusted proxy: the client its X-Forwarded-For names),\n"
        "                            as --max-agents (32; 0: none)\n"
        "  --state FILE              SQLite file of tunnel name owners (default\n"
        "                            $STATE_DIRECTORY/state.db, $XDG_STATE_HOME/ttfd/state.db\n"
        "                            or ~/.local/state/ttfd/state.db; :memory: keeps nothing)\n"
        "  --reconnect-grace SEC     a disconnected agent's name is kept for it this long (300)\n"
        "  --name-retention DAYS     with auth, an unused name stays its owner's this long\n"
        "                            (30; 0: forever)\n"
        "  --admin ADDR:PORT         serve /healthz and Prometheus /metrics there (off by\n"
        "                            default; no authentication: keep it on loopback)\n"
        "  --log-format FORMAT       text (default; also: plain) or json: one JSON object per\n"
        "                            line, one per request (tunnel_id, method, path, status...)\n"
        "  --trusted-proxy CIDR      a proxy in front of ttfd: the client address of its\n"
        "                            requests is read from X-Forwarded-For, and its own\n"
        "                            X-Forwarded-Proto (http or https) is kept (repeatable)\n"
        "  -v, --verbose             debug logging\n"
        "  -h, --help                this help\n"
        "      --version             print the version\n");
}

static int parse_num(const char *s, long long min, long long max, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end || end == s || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* --max-connections's default: the descriptor limit (RLIMIT_NOFILE's soft value) less
 * TTFD_FD_RESERVE, as HAProxy derives its global maxconn from `ulimit -n`: accepting then pauses
 * at the cap instead of failing at EMFILE (listener.h), and descriptors stay for the rest. */
static size_t default_max_conns(void)
{
    const rlim_t reserve = TTFD_FD_RESERVE;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > 10000000)
        return 0; /* no limit the process would meet first */
    return (size_t)(rl.rlim_cur > 2 * reserve ? rl.rlim_cur - reserve : rl.rlim_cur / 2);
}

/* 0 run, 1 exit 0 (help/version), -1 error (message printed). */
static int parse_args(int argc, char **argv, server_config *cfg)
{
    enum {
        O_LISTEN = 256,
        O_DOMAIN,
        O_PPORT,
        O_PSCHEME,
        O_CERT,
        O_KEY,
        O_AUTH,
        O_SECRET,
        O_JWKS,
        O_RTIMEOUT,
        O_HTIMEOUT,
        O_BTIMEOUT,
        O_STIMEOUT,
        O_TUNTIMEOUT,
        O_HALFTIMEOUT,
        O_AGENTTIMEOUT,
        O_MAXHDR,
        O_MAXBODY,
        O_MAXSTREAMS,
        O_MAXSTREAMS_TOTAL,
        O_MAXCONNS,
        O_MAXAGENTS,
        O_MAXAGENTS_IP,
        O_STATE,
        O_GRACE,
        O_RETENTION,
        O_ADMIN,
        O_LOGFMT,
        O_TRUSTED,
        O_VERSION
    };
    static const struct option opts[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"domain", required_argument, NULL, O_DOMAIN},
        {"public-port", required_argument, NULL, O_PPORT},
        {"public-scheme", required_argument, NULL, O_PSCHEME},
        {"tls-cert", required_argument, NULL, O_CERT},
        {"tls-key", required_argument, NULL, O_KEY},
        {"require-auth", no_argument, NULL, O_AUTH},
        {"jwt-secret", required_argument, NULL, O_SECRET},
        {"jwks", required_argument, NULL, O_JWKS},
        {"request-timeout", required_argument, NULL, O_RTIMEOUT},
        {"header-timeout", required_argument, NULL, O_HTIMEOUT},
        {"body-timeout", required_argument, NULL, O_BTIMEOUT},
        {"send-timeout", required_argument, NULL, O_STIMEOUT},
        {"tunnel-timeout", required_argument, NULL, O_TUNTIMEOUT},
        {"half-close-timeout", required_argument, NULL, O_HALFTIMEOUT},
        {"agent-timeout", required_argument, NULL, O_AGENTTIMEOUT},
        {"max-header-size", required_argument, NULL, O_MAXHDR},
        {"max-body-size", required_argument, NULL, O_MAXBODY},
        {"max-streams-per-agent", required_argument, NULL, O_MAXSTREAMS},
        {"max-streams", required_argument, NULL, O_MAXSTREAMS_TOTAL},
        {"max-connections", required_argument, NULL, O_MAXCONNS},
        {"max-agents", required_argument, NULL, O_MAXAGENTS},
        {"max-agents-per-ip", required_argument, NULL, O_MAXAGENTS_IP},
        {"state", required_argument, NULL, O_STATE},
        {"reconnect-grace", required_argument, NULL, O_GRACE},
        {"name-retention", required_argument, NULL, O_RETENTION},
        {"admin", required_argument, NULL, O_ADMIN},
        {"log-format", required_argument, NULL, O_LOGFMT},
        {"trusted-proxy", required_argument, NULL, O_TRUSTED},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    snprintf(cfg->listen, sizeof cfg->listen, "127.0.0.1:8080");
    cfg->domain = "localhost";
    /* Long polls (a 60 s hold is common: Apollo, nginx's proxy_read_timeout) pass; frp's
     * vhostHTTPTimeout is 60 s, Cloudflare's edge 100 s. ttf's own (115 s) answers first. */
    cfg->request_timeout = 120;
    cfg->header_timeout = 30;
    cfg->body_timeout = 60;
    cfg->send_timeout = 60;
    cfg->tunnel_timeout = TTFD_TUNNEL_SEC;
    cfg->half_close_timeout = TTFD_HALF_CLOSE_SEC;
    cfg->agent_timeout = TTFD_AGENT_SEC;
    cfg->max_header = 16384;
    cfg->max_streams = TTFD_MAX_STREAMS;
    cfg->max_streams_total = TTFD_MAX_STREAMS_TOTAL;
    cfg->max_conns = default_max_conns();
    cfg->max_agents = SIZE_MAX; /* half of max_conns, once that is known */
    cfg->max_agents_ip = TTFD_MAX_AGENTS_IP;
    cfg->head_grace_ms = TTFD_HEAD_GRACE_MS;
    cfg->grace_s = 300;
    cfg->retention_s = (int64_t)30 * 86400;
    cfg->jwt_secret = getenv("TTFD_JWT_SECRET");
    if (cfg->jwt_secret && !*cfg->jwt_secret)
        cfg->jwt_secret = NULL;
    int c;
    long long v;
    while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (c) {
        case O_LISTEN:
            if (strlen(optarg) >= sizeof cfg->listen) {
                fprintf(stderr, "ttfd: --listen too long\n");
                return -1;
            }
            snprintf(cfg->listen, sizeof cfg->listen, "%s", optarg);
            break;
        case O_DOMAIN:
            cfg->domain = optarg;
            break;
        case O_PPORT:
            if (parse_num(optarg, 1, 65535, &v) != 0) {
                fprintf(stderr, "ttfd: bad --public-port '%s'\n", optarg);
                return -1;
            }
            cfg->public_port = (int)v;
            break;
        case O_PSCHEME:
            if (strcmp(optarg, "http") != 0 && strcmp(optarg, "https") != 0) {
                fprintf(stderr, "ttfd: bad --public-scheme '%s' (http or https)\n", optarg);
                return -1;
            }
            cfg->public_scheme = optarg;
            break;
        case O_CERT:
            cfg->tls_cert = optarg;
            break;
        case O_KEY:
            cfg->tls_key = optarg;
            break;
        case O_AUTH:
            cfg->require_auth = true;
            break;
        case O_SECRET:
            cfg->jwt_secret = optarg;
            break;
        case O_JWKS:
            cfg->jwks = optarg;
            break;
        case O_RTIMEOUT:
            if (parse_num(optarg, 1, 86400, &v) != 0) {
                fprintf(stderr, "ttfd: bad --request-timeout '%s'\n", optarg);
                return -1;
            }
            cfg->request_timeout = (int)v;
            break;
        case O_HTIMEOUT:
            if (parse_num(optarg, 1, 3600, &v) != 0) {
                fprintf(stderr, "ttfd: bad --header-timeout '%s' (seconds, 1..3600)\n", optarg);
                return -1;
            }
            cfg->header_timeout = (int)v;
            break;
        case O_BTIMEOUT:
            if (parse_num(optarg, 1, 86400, &v) != 0) {
                fprintf(stderr, "ttfd: bad --body-timeout '%s' (seconds, 1..86400)\n", optarg);
                return -1;
            }
            cfg->body_timeout = (int)v;
            break;
        case O_STIMEOUT:
            if (parse_num(optarg, 1, 86400, &v) != 0) {
                fprintf(stderr, "ttfd: bad --send-timeout '%s' (seconds, 1..86400)\n", optarg);
                return -1;
            }
            cfg->send_timeout = (int)v;
            break;
        case O_TUNTIMEOUT:
        case O_HALFTIMEOUT:
        case O_AGENTTIMEOUT: {
            int *dst = c == O_TUNTIMEOUT    ? &cfg->tunnel_timeout
                       : c == O_HALFTIMEOUT ? &cfg->half_close_timeout
                                            : &cfg->agent_timeout;
            if (parse_num(optarg, 0, 604800, &v) != 0) {
                fprintf(stderr, "ttfd: bad --%s '%s' (seconds, 0..604800)\n",
                        c == O_TUNTIMEOUT    ? "tunnel-timeout"
                        : c == O_HALFTIMEOUT ? "half-close-timeout"
                                             : "agent-timeout",
                        optarg);
                return -1;
            }
            *dst = (int)v;
            break;
        }
        case O_MAXHDR:
            if (parse_num(optarg, 256, (long long)TTFD_MAX_HEADER_MAX, &v) != 0) {
                fprintf(stderr, "ttfd: bad --max-header-size '%s'\n", optarg);
                return -1;
            }
            cfg->max_header = (size_t)v;
            break;
        case O_MAXBODY:
            if (parse_num(optarg, 0, (long long)1 << 50, &v) != 0) {
                fprintf(stderr, "ttfd: bad --max-body-size '%s'\n", optarg);
                return -1;
            }
            cfg->max_body = (uint64_t)v;
            break;
        case O_MAXSTREAMS:
            if (parse_num(optarg, 0, 1000000, &v) != 0) {
                fprintf(stderr, "ttfd: bad --max-streams-per-agent '%s' (0..1000000; 0: none)\n",
                        optarg);
                return -1;
            }
            cfg->max_streams = (size_t)v;
            break;
        case O_MAXSTREAMS_TOTAL:
            if (parse_num(optarg, 0, 10000000, &v) != 0) {
                fprintf(stderr, "ttfd: bad --max-streams '%s' (0..10000000; 0: none)\n", optarg);
                return -1;
            }
            cfg->max_streams_total = (size_t)v;
            break;
        case O_MAXCONNS:
            if (parse_num(optarg, 0, 10000000, &v) != 0) {
                fprintf(stderr, "ttfd: bad --max-connections '%s' (0..10000000; 0: none)\n",
                        optarg);
                return -1;
            }
            cfg->max_conns = (size_t)v;
            break;
        case O_MAXAGENTS:
        case O_MAXAGENTS_IP:
            if (parse_num(optarg, 0, 10000000, &v) != 0) {
                fprintf(stderr, "ttfd: bad --%s '%s' (0..10000000; 0: none)\n",
                        c == O_MAXAGENTS ? "max-agents" : "max-agents-per-ip", optarg);
                return -1;
            }
            *(c == O_MAXAGENTS ? &cfg->max_agents : &cfg->max_agents_ip) = (size_t)v;
            break;
        case O_STATE:
            if (!*optarg) {
                fprintf(stderr, "ttfd: --state needs a file name\n");
                return -1;
            }
            cfg->state_path = optarg;
            break;
        case O_GRACE:
            if (parse_num(optarg, 0, 30L * 86400, &v) != 0) {
                fprintf(stderr, "ttfd: bad --reconnect-grace '%s' (seconds)\n", optarg);
                return -1;
            }
            cfg->grace_s = v;
            break;
        case O_RETENTION:
            if (parse_num(optarg, 0, 100L * 366, &v) != 0) {
                fprintf(stderr, "ttfd: bad --name-retention '%s' (days, 0: forever)\n", optarg);
                return -1;
            }
            cfg->retention_s = v == 0 ? -1 : v * 86400;
            break;
        case O_ADMIN:
            cfg->admin = optarg;
            break;
        case O_LOGFMT:
            if (strcmp(optarg, "text") != 0 && strcmp(optarg, "plain") != 0 &&
                strcmp(optarg, "json") != 0) {
                fprintf(stderr, "ttfd: bad --log-format '%s' (text, as ttf's plain, or json)\n",
                        optarg);
                return -1;
            }
            cfg->log_json = strcmp(optarg, "json") == 0;
            break;
        case O_TRUSTED: {
            const char *why = NULL;
            if (cfg->ntrusted >= ACCESS_NETS_MAX) {
                fprintf(stderr, "ttfd: at most %d --trusted-proxy networks\n", ACCESS_NETS_MAX);
                return -1;
            }
            if (access_net_parse(optarg, &cfg->trusted[cfg->ntrusted], &why) != 0) {
                fprintf(stderr, "ttfd: bad --trusted-proxy '%s': %s\n", optarg, why);
                return -1;
            }
            cfg->ntrusted++;
            break;
        }
        case 'v':
            cfg->verbose = true;
            break;
        case 'h':
            usage(stdout);
            return 1;
        case O_VERSION:
            printf("ttfd %s\n", TTFD_VERSION);
            return 1;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ttfd: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!cfg->tls_cert != !cfg->tls_key) {
        fprintf(stderr, "ttfd: --tls-cert and --tls-key go together\n");
        return -1;
    }
    if (cfg->require_auth && !cfg->jwt_secret && !cfg->jwks) {
        fprintf(stderr, "ttfd: --require-auth needs --jwt-secret (or TTFD_JWT_SECRET) or --jwks\n");
        return -1;
    }
    if (!*cfg->domain) {
        fprintf(stderr, "ttfd: --domain must not be empty\n");
        return -1;
    }
    if (cfg->max_agents == SIZE_MAX) /* the other half is the public connections' */
        cfg->max_agents = (cfg->max_conns + 1) / 2;
    return 0;
}

/* "IPv4:PORT" or "[IPv6]:PORT" (port 0: ephemeral). 0 or -1. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, int *len)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon = strrchr(s, ':');
    if (!colon)
        return -1;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    long long port;
    if (hl == 0 || hl >= sizeof host || parse_num(colon + 1, 0, 65535, &port) != 0)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *len = sizeof *s4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *len = sizeof *s6;
        return 0;
    }
    return -1;
}

static void stop_timer_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    server *srv = ud;
    event_base_loopexit(srv->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *ud)
{
    (void)what;
    server *srv = ud;
    if (srv->stopping)
        return;
    TLOG_I(srv->log, "signal %d: shutting down", (int)sig);
    srv->stopping = true;
    if (srv->lis)
        listener_stop(srv->lis);
    pconn_free_all(srv);
    session_close_all(srv);
    struct timeval tv = {3, 0}; /* agents that never finish the close handshake */
    evtimer_add(srv->stop_timer, &tv);
    session_maybe_exit(srv);
}

static void accept_cb(void *ud, int fd, const struct sockaddr *sa)
{
    server *srv = ud;
    if (pconn_accept(srv, fd, sa) != 0)
        listener_release(srv->lis); /* closed without a connection: no release hook */
}

static const char *env_get(const char *name)
{
    return getenv(name);
}

/* The live gauges for /metrics and /healthz (admin.h). */
static void gauges_cb(void *ud, metrics_gauges *g)
{
    const server *srv = ud;
    g->tunnels = registry_live(srv->reg);
    g->agents = session_count(srv);
    g->streams = session_streams(srv);
    g->public_connections = pconn_count(srv);
    g->accept_backoffs = listener_backoffs(srv->lis);
    g->accept_fulls = listener_fulls(srv->lis);
}

/* The state database: --state, or the default place (state.h). NULL after logging why. */
static state *open_state(const server_config *cfg, const tlog *lg)
{
    char path[4200], err[512];
    if (cfg->state_path)
        snprintf(path, sizeof path, "%s", cfg->state_path);
    else if (statedir_path(path, sizeof path, env_get, "ttfd", "state.db", true, err, sizeof err) !=
             0) {
        TLOG_E(lg, "%s", err);
        return NULL;
    }
    state *st = state_open(path, (int64_t)time(NULL), err, sizeof err);
    if (!st)
        TLOG_E(lg, "%s", err);
    else
        TLOG_I(lg, "tunnel name owners kept in %s", path);
    return st;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "token") == 0)
        return token_main(argc - 1, argv + 1);
    server_config cfg = {0};
    int pr = parse_args(argc, argv, &cfg);
    if (pr != 0)
        return pr > 0 ? 0 : 2;
    tlog_stamp stamp = {0};
    tlog lg = {.level = cfg.verbose ? TLOG_DEBUG : TLOG_INFO,
               .out = stderr,
               .json = cfg.log_json,
               .prog = "ttfd",
               .stamp = &stamp};
    conn_process_init();

    /* The public scheme: as given, else what the listener speaks (a TLS front proxy that
     * terminates https and forwards http says --public-scheme https). */
    server srv = {.log = &lg,
                  .cfg = &cfg,
                  .agent_msgs = {.limit = TTFD_AGENT_MSG_BUDGET},
                  .agent_held = {.limit = TTFD_AGENT_HELD_BUDGET},
                  .scheme = cfg.public_scheme ? cfg.public_scheme
                            : cfg.tls_cert    ? "https"
                                              : "http"};
    int rc = 1;
    struct event *sigint = NULL, *sigterm = NULL;
    logbuf *lb = NULL;

    struct sockaddr_storage ss;
    int sslen = sizeof ss;
    if (parse_listen(cfg.listen, &ss, &sslen) != 0) {
        TLOG_E(&lg, "bad --listen '%s' (want IPv4:PORT or [IPv6]:PORT)", cfg.listen);
        return 2;
    }
    if (cfg.tls_cert) {
        char err[700];
        srv.tls = tls_server_ctx(cfg.tls_cert, cfg.tls_key, err, sizeof err);
        if (!srv.tls) {
            TLOG_E(&lg, "TLS setup failed: %s", err);
            return 2;
        }
        if (tls_server_cert_warning(srv.tls, cfg.tls_cert, err, sizeof err))
            TLOG_W(&lg, "%s", err);
    }
    if (cfg.require_auth) {
        const char *err = NULL;
        srv.auth = cfg.jwks ? auth_new_from_file(cfg.jwt_secret, cfg.jwks, &err)
                            : auth_new(cfg.jwt_secret, NULL, &err);
        if (!srv.auth) {
            TLOG_E(&lg, "auth setup failed: %s", err ? err : "unknown error");
            goto out;
        }
    }
    if (rand_pool_bytes(NULL, srv.loop_key, sizeof srv.loop_key) != 0) {
        TLOG_E(&lg, "no random bytes for the CDN-Loop key");
        goto out;
    }
    srv.st = open_state(&cfg, &lg);
    if (!srv.st)
        goto out;
    registry_policy pol = {
        .auth_on = srv.auth != NULL, .grace_s = cfg.grace_s, .retention_s = cfg.retention_s};
    srv.base = conn_base_new();
    srv.reg = registry_new(srv.st, &pol, NULL, NULL);
    srv.metrics = metrics_new((int64_t)time(NULL), TTFD_VERSION);
    srv.streams.max = cfg.max_streams_total;
    if (!srv.base || !srv.reg || !srv.metrics)
        goto out;
    srv.lis = listener_new(srv.base, (struct sockaddr *)&ss, (socklen_t)sslen, cfg.max_conns, &lg,
                           accept_cb, &srv);
    if (!srv.lis) {
        TLOG_E(&lg, "cannot listen on %s: %s", cfg.listen, strerror(errno));
        goto out;
    }

    struct sockaddr_storage bound;
    memset(&bound, 0, sizeof bound);
    socklen_t blen = sizeof bound;
    if (getsockname(listener_fd(srv.lis), (struct sockaddr *)&bound, &blen) != 0) {
        TLOG_E(&lg, "getsockname: %s", strerror(errno));
        goto out;
    }
    char addr[INET6_ADDRSTRLEN + 2] = "";
    int port;
    if (bound.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *)&bound;
        char a[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
        snprintf(addr, sizeof addr, "[%s]", a);
        port = ntohs(s6->sin6_port);
    } else {
        const struct sockaddr_in *s4 = (const void *)&bound;
        inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof addr);
        port = ntohs(s4->sin_port);
    }
    int pport = cfg.public_port ? cfg.public_port : port;
    bool https = strcmp(srv.scheme, "https") == 0;
    if (!https && pport == 443)
        TLOG_W(&lg, "public URLs read http://...:443; behind a TLS front proxy, pass "
                    "--public-scheme https");
    if ((https && pport == 443) || (!https && pport == 80)) /* the scheme's default port */
        snprintf(srv.url_host, sizeof srv.url_host, "%s", cfg.domain);
    else
        snprintf(srv.url_host, sizeof srv.url_host, "%s:%d", cfg.domain, pport);

    srv.loop = conn_loop_new(srv.base);
    /* One line per request: gathered and written to stderr once per loop pass. */
    lb = logbuf_new(srv.base, STDERR_FILENO);
    if (!srv.loop || !lb)
        goto out;
    /* A closed connection frees a descriptor: a listener paused at EMFILE tries again. */
    conn_loop_on_release(srv.loop, listener_release, srv.lis);
    listener_on_full(srv.lis, pconn_make_room, &srv); /* at --max-connections */
    lg.out = logbuf_file(lb);
    lg.sink = logbuf_add;
    lg.sink_ud = lb;
    srv.stop_timer = evtimer_new(srv.base, stop_timer_cb, &srv);
    sigint = evsignal_new(srv.base, SIGINT, on_signal, &srv);
    sigterm = evsignal_new(srv.base, SIGTERM, on_signal, &srv);
    if (!srv.stop_timer || !sigint || !sigterm || event_add(sigint, NULL) != 0 ||
        event_add(sigterm, NULL) != 0)
        goto out;

    if (cfg.admin) {
        struct sockaddr_storage ass;
        int aslen = sizeof ass;
        char err[256], where[80];
        if (parse_listen(cfg.admin, &ass, &aslen) != 0) {
            TLOG_E(&lg, "bad --admin '%s' (want IPv4:PORT or [IPv6]:PORT)", cfg.admin);
            goto out;
        }
        srv.admin = admin_new(srv.base, (struct sockaddr *)&ass, (socklen_t)aslen, srv.metrics,
                              TTFD_VERSION, gauges_cb, &srv, err, sizeof err);
        if (!srv.admin) {
            TLOG_E(&lg, "cannot listen on --admin %s: %s", cfg.admin, err);
            goto out;
        }
        admin_address(srv.admin, where, sizeof where);
        TLOG_I(&lg, "admin listener on http://%s (/healthz, /metrics)", where);
    }

    printf("Listening on %s://%s:%d (agents: %s://%s:%d/_tunnel)\n", srv.tls ? "https" : "http",
           addr, port, srv.tls ? "wss" : "ws", addr, port);
    if (srv.admin) {
        char where[80];
        admin_address(srv.admin, where, sizeof where);
        printf("Admin listening on http://%s\n", where);
    }
    fflush(stdout);
    TLOG_I(&lg,
           "ttfd %s: domain %s, public URLs %s://<id>.%s, auth %s, timeouts: request %ds, "
           "header %ds, body %ds, send %ds, tunnel %ds, half-close %ds, agent %ds; at most %zu "
           "requests in "
           "progress per agent, %zu in "
           "all, %zu connections, %zu agents, %zu agents per address (0: no limit)",
           TTFD_VERSION, cfg.domain, srv.scheme, srv.url_host, srv.auth ? "required" : "off",
           cfg.request_timeout, cfg.header_timeout, cfg.body_timeout, cfg.send_timeout,
           cfg.tunnel_timeout, cfg.half_close_timeout, cfg.agent_timeout, cfg.max_streams,
           cfg.max_streams_total, cfg.max_conns, cfg.max_agents, cfg.max_agents_ip);
    if (cfg.max_conns && (!cfg.max_streams_total || cfg.max_streams_total >= cfg.max_conns))
        /* requests in progress are never closed to make room (pconn.h): only --max-streams
         * keeps some of the cap for agents and new clients */
        TLOG_W(&lg,
               "--max-connections %zu is not above --max-streams (%zu; 0: none): requests in "
               "progress, never closed to make room, can fill it and keep agents out",
               cfg.max_conns, cfg.max_streams_total);
    if (cfg.max_conns && (!cfg.max_agents || cfg.max_agents >= cfg.max_conns))
        TLOG_W(&lg,
               "--max-agents %zu (0: none) leaves public connections no part of "
               "--max-connections %zu: agents' links, never closed to make room once ready, can "
               "fill it",
               cfg.max_agents, cfg.max_conns);

    event_base_dispatch(srv.base);
    rc = 0;
    TLOG_I(&lg, "stopped");

out:
    pconn_free_all(&srv);
    session_free_all(&srv);
    admin_free(srv.admin);
    listener_free(srv.lis);
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    if (srv.stop_timer)
        event_free(srv.stop_timer);
    lg.out = stderr;
    lg.sink = NULL;
    logbuf_free(lb); /* writes the last lines */
    conn_loop_free(srv.loop);
    registry_free(srv.reg);
    metrics_free(srv.metrics);
    state_close(srv.st);
    if (srv.auth)
        auth_free(srv.auth);
    if (srv.tls)
        SSL_CTX_free(srv.tls);
    if (srv.base)
        event_base_free(srv.base);
    return rc;
}
