/* tunnel_id.c - 12-character [a-z0-9] ids from getrandom(2) (see tunnel_id.h). */
#include "tunnel_id.h"

#include <errno.h>
#include <sys/random.h>

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
