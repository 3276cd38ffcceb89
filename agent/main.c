/* SPDX-License-Identifier: MIT */
/* main.c - ttf, the tunnel agent: parse the command line, build the logger, run the agent. */
#include <stdio.h>
#include <stdlib.h>

#include "agent.h"
#include "config.h"
#include "conn.h"
#include "log.h"

static const char *env_get(const char *name)
{
    return getenv(name);
}

int main(int argc, char **argv)
{
    agent_config cfg;
    char err[512];
    config_result r = agent_config_parse(argc, argv, env_get, &cfg, stdout, err, sizeof err);
    if (r != CONFIG_OK) {
        if (r == CONFIG_ERROR)
            fprintf(stderr, "ttf: %s (see ttf --help)\n", err);
        agent_config_free(&cfg);
        return r == CONFIG_EXIT ? 0 : AGENT_EXIT_USAGE;
    }
    conn_process_init();
    tlog lg = {.level = cfg.verbose ? TLOG_DEBUG : TLOG_INFO,
               .out = stderr,
               .json = cfg.log_format == LOGFMT_JSON,
               .prog = "ttf"};
    char hostport[300];
    TLOG_I(&lg, "HTTP Tunnel agent ttf v%s", TTF_VERSION);
    for (size_t i = 0; i < cfg.ntunnels; i++) {
        agent_tunnel_hostport(&cfg.tunnels[i], hostport, sizeof hostport);
        if (cfg.config_file)
            TLOG_I(&lg, "Tunnel %s: local service %s://%s", cfg.tunnels[i].name,
                   agent_tunnel_scheme(&cfg.tunnels[i]), hostport);
        else
            TLOG_I(&lg, "Local service: %s://%s", agent_tunnel_scheme(&cfg.tunnels[i]), hostport);
    }
    TLOG_I(&lg, "Tunnel endpoint: %s", cfg.endpoint_log);
    if (cfg.insecure && cfg.url.tls)
        TLOG_W(&lg, "--insecure: the server certificate is NOT verified; anyone on the path can "
                    "read and change the tunnel traffic");
    int rc = agent_run(&cfg, &lg, stdout);
    agent_config_free(&cfg);
    return rc;
}
