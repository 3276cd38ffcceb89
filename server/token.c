/* SPDX-License-Identifier: MIT */
/* token.c - `ttfd token --sub NAME --ttl 30d` (see token.h). */
#include "token.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"

static void usage(FILE *out)
{
    fprintf(out, "Usage: ttfd token --sub NAME [--ttl DURATION] [--jwt-secret S]\n"
                 "Prints an HS256 agent token (claims sub, iat, exp) signed with the secret ttfd\n"
                 "verifies with (--jwt-secret, or env TTFD_JWT_SECRET). Give it to ttf with -t.\n\n"
                 "  --sub NAME        the subject: names the agent claims belong to it\n"
                 "  --ttl DURATION    lifetime: 30d, 12h, 90m, 45s or seconds (default 30d)\n"
                 "  --jwt-secret S    HS256 secret (or env TTFD_JWT_SECRET)\n"
                 "  -h, --help        this help\n");
}

int token_parse_ttl(const char *s, int64_t *out)
{
    if (!s || !*s)
        return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v <= 0)
        return -1;
    int64_t unit = 1;
    if (*end) {
        if (end[1])
            return -1;
        switch (*end) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        default:
            return -1;
        }
    }
    if (v > AUTH_MINT_MAX_TTL / unit)
        return -1;
    *out = (int64_t)v * unit;
    return 0;
}

int token_main(int argc, char **argv)
{
    enum { O_SUB = 256, O_TTL, O_SECRET };
    static const struct option opts[] = {
        {"sub", required_argument, NULL, O_SUB},
        {"ttl", required_argument, NULL, O_TTL},
        {"jwt-secret", required_argument, NULL, O_SECRET},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *sub = NULL, *secret = getenv("TTFD_JWT_SECRET");
    int64_t ttl = (int64_t)30 * 86400;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_SUB:
            sub = optarg;
            break;
        case O_TTL:
            if (token_parse_ttl(optarg, &ttl) != 0) {
                fprintf(stderr,
                        "ttfd token: bad --ttl '%s' (30d, 12h, 90m, 45s or seconds; at "
                        "most 10 years)\n",
                        optarg);
                return 2;
            }
            break;
        case O_SECRET:
            secret = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ttfd token: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!sub || !*sub) {
        fprintf(stderr, "ttfd token: --sub NAME is required\n");
        return 2;
    }
    if (strlen(sub) > AUTH_SUB_MAX) {
        fprintf(stderr, "ttfd token: --sub is longer than %d bytes\n", AUTH_SUB_MAX);
        return 2;
    }
    if (!secret || !*secret) {
        fprintf(stderr, "ttfd token: no secret (--jwt-secret S or env TTFD_JWT_SECRET)\n");
        return 2;
    }
    const char *err = NULL;
    char *tok = auth_mint_hs256(secret, sub, (int64_t)time(NULL), ttl, &err);
    if (!tok) {
        fprintf(stderr, "ttfd token: %s\n", err ? err : "cannot mint the token");
        return 1;
    }
    printf("%s\n", tok);
    free(tok);
    return fflush(stdout) == 0 ? 0 : 1;
}
