/* SPDX-License-Identifier: MIT */
/* tunnel_id.c - random ids from getrandom(2), and chosen names (see tunnel_id.h). */
#include "tunnel_id.h"

#include <errno.h>
#include <sys/random.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "http1_syntax.h"

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
#define ALPHA_N 36u
/* Largest multiple of 36 not above 256: bytes at or above it are rejected so that every
 * symbol has the same probability (no modulo bias). */
#define ACCEPT_BELOW 252u

static int fill_random(unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

int tunnel_id_generate(char out[TUNNEL_ID_LEN + 1])
{
    unsigned char buf[32];
    size_t have = 0;
    /* Each byte is accepted with probability 252/256, so this loop ends almost at once. */
    for (int rounds = 0; have < TUNNEL_ID_LEN; rounds++) {
        if (rounds > 64 || fill_random(buf, sizeof buf) != 0)
            return -1;
        for (size_t i = 0; i < sizeof buf && have < TUNNEL_ID_LEN; i++) {
            if (buf[i] < ACCEPT_BELOW)
                out[have++] = alphabet[buf[i] % ALPHA_N];
        }
    }
    out[TUNNEL_ID_LEN] = '\0';
    return 0;
}

bool tunnel_id_valid(const char *s, size_t n)
{
    if (!s || n != TUNNEL_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

bool tunnel_name_valid(const char *s, size_t n)
{
    if (!s || n == 0 || n > TUNNEL_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

/* Names that read as the service's own (a phishing page at admin.<domain>, a mail host), or
 * that front proxies and users expect to be the server itself. Kept in docs/protocol.md §1. */
#define R(w)                                                                                       \
    {                                                                                              \
        (w), sizeof(w) - 1                                                                         \
    }
static const struct {
    const char *w;
    size_t n;
} reserved[] = {R("www"),        R("api"),        R("admin"),    R("administrator"),
                R("root"),       R("dashboard"),  R("console"),  R("status"),
                R("health"),     R("healthz"),    R("metrics"),  R("login"),
                R("auth"),       R("oauth"),      R("sso"),      R("account"),
                R("accounts"),   R("billing"),    R("support"),  R("help"),
                R("docs"),       R("blog"),       R("mail"),     R("email"),
                R("smtp"),       R("imap"),       R("pop"),      R("pop3"),
                R("ftp"),        R("ns"),         R("ns1"),      R("ns2"),
                R("dns"),        R("mx"),         R("cdn"),      R("static"),
                R("assets"),     R("localhost"),  R("tunnel"),   R("tunnels"),
                R("ttf"),        R("ttfd"),       R("security"), R("abuse"),
                R("postmaster"), R("hostmaster"), R("webmaster")};
#undef R

bool tunnel_name_reserved(const char *s, size_t n)
{
    if (n >= 4 && s[0] == 'x' && s[1] == 'n' && s[2] == '-' && s[3] == '-')
        return true;
    /* lengths kept, not taken with strlen: every public request is routed through here */
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (reserved[i].n == n && reserved[i].w[0] == s[0] && memcmp(reserved[i].w, s, n) == 0)
            return true;
    return false;
}

int tunnel_name_normalize(const char *in, char out[TUNNEL_NAME_MAX + 1], const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    size_t n = in ? strlen(in) : 0;
    if (n == 0) {
        *why = "the name is empty";
        return -1;
    }
    if (n > TUNNEL_NAME_MAX) {
        *why = "the name is longer than 63 characters (one DNS label)";
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = http1_lower(in[i]);
    out[n] = '\0';
    if (out[0] == '-' || out[n - 1] == '-') {
        *why = "the name may not begin or end with a hyphen";
        return -1;
    }
    if (!tunnel_name_valid(out, n)) {
        *why = "the name may only hold letters a-z, digits and hyphens";
        return -1;
    }
    if (tunnel_name_reserved(out, n)) {
        *why = "the name is reserved";
        return -1;
    }
    return 0;
}

int tunnel_owner(char *out, size_t cap, bool auth_on, const char *sub, const char *agent_key)
{
    if (auth_on) {
        int n = snprintf(out, cap, "sub:%s", sub ? sub : "");
        return n < 0 || (size_t)n >= cap ? -1 : 0;
    }
    if (!agent_key || !*agent_key) {
        snprintf(out, cap, "%s", "");
        return 0;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (cap < 4 + 64 + 1 ||
        EVP_Digest(agent_key, strlen(agent_key), md, &mdlen, EVP_sha256(), NULL) != 1)
        return -1;
    memcpy(out, "key:", 4);
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(out + 4 + 2 * (size_t)i, 3, "%02x", md[i]);
    return 0;
}
