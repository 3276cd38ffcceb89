/* SPDX-License-Identifier: MIT */
/* http1_names.c - known field names by id (see http1_names.h). */
#include "http1_names.h"

#include <stdint.h>
#include <strings.h>

/* Every known name once: X(id, spelling, a) with a passed through (see LEN_MASK). */
#define KNOWN_NAMES(X, a)                                                                          \
    X(HTTP_H_CONNECTION, "Connection", a)                                                          \
    X(HTTP_H_CONTENT_LENGTH, "Content-Length", a)                                                  \
    X(HTTP_H_CONTENT_LOCATION, "Content-Location", a)                                              \
    X(HTTP_H_CONTENT_TYPE, "Content-Type", a)                                                      \
    X(HTTP_H_CONTENT_ENCODING, "Content-Encoding", a)                                              \
    X(HTTP_H_COOKIE, "Cookie", a)                                                                  \
    X(HTTP_H_DATE, "Date", a)                                                                      \
    X(HTTP_H_EXPECT, "Expect", a)                                                                  \
    X(HTTP_H_FORWARDED, "Forwarded", a)                                                            \
    X(HTTP_H_HOST, "Host", a)                                                                      \
    X(HTTP_H_HTTP2_SETTINGS, "HTTP2-Settings", a)                                                  \
    X(HTTP_H_KEEP_ALIVE, "Keep-Alive", a)                                                          \
    X(HTTP_H_LOCATION, "Location", a)                                                              \
    X(HTTP_H_PROXY_AUTHENTICATE, "Proxy-Authenticate", a)                                          \
    X(HTTP_H_PROXY_AUTHORIZATION, "Proxy-Authorization", a)                                        \
    X(HTTP_H_PROXY_CONNECTION, "Proxy-Connection", a)                                              \
    X(HTTP_H_SEC_WEBSOCKET_KEY, "Sec-WebSocket-Key", a)                                            \
    X(HTTP_H_SEC_WEBSOCKET_PROTOCOL, "Sec-WebSocket-Protocol", a)                                  \
    X(HTTP_H_SET_COOKIE, "Set-Cookie", a)                                                          \
    X(HTTP_H_TE, "TE", a)                                                                          \
    X(HTTP_H_TRAILER, "Trailer", a)                                                                \
    X(HTTP_H_TRANSFER_ENCODING, "Transfer-Encoding", a)                                            \
    X(HTTP_H_UPGRADE, "Upgrade", a)                                                                \
    X(HTTP_H_X_FORWARDED_FOR, "X-Forwarded-For", a)                                                \
    X(HTTP_H_X_FORWARDED_HOST, "X-Forwarded-Host", a)                                              \
    X(HTTP_H_X_FORWARDED_PORT, "X-Forwarded-Port", a)                                              \
    X(HTTP_H_X_FORWARDED_PREFIX, "X-Forwarded-Prefix", a)                                          \
    X(HTTP_H_X_FORWARDED_PROTO, "X-Forwarded-Proto", a)

static const struct {
    const char *name;
    size_t len;
} names[HTTP_H__COUNT] = {
#define N(id, s, a) [id] = {(s), sizeof(s) - 1},
    [HTTP_H_OTHER] = {"", 0}, KNOWN_NAMES(N, 0)
#undef N
};

/* by_len[n]: the ids of the names n octets long, as bits, computed by the compiler from the one
 * list above: a lookup compares those only (it walked the whole table once per field line). */
_Static_assert(HTTP_H__COUNT <= 32, "by_len holds the ids as the bits of 32-bit words");
#define BIT_IF_LEN(id, s, n) | (sizeof(s) - 1 == (n) ? 1u << (id) : 0u)
#define LEN_MASK(n) (0u KNOWN_NAMES(BIT_IF_LEN, n))
#define NAME_LEN_MAX 22
#define FITS(id, s, a) _Static_assert(sizeof(s) - 1 <= NAME_LEN_MAX, s " is over NAME_LEN_MAX");
KNOWN_NAMES(FITS, 0)
#undef FITS
static const uint32_t by_len[NAME_LEN_MAX + 1] = {
    LEN_MASK(0),  LEN_MASK(1),  LEN_MASK(2),  LEN_MASK(3),  LEN_MASK(4),  LEN_MASK(5),
    LEN_MASK(6),  LEN_MASK(7),  LEN_MASK(8),  LEN_MASK(9),  LEN_MASK(10), LEN_MASK(11),
    LEN_MASK(12), LEN_MASK(13), LEN_MASK(14), LEN_MASK(15), LEN_MASK(16), LEN_MASK(17),
    LEN_MASK(18), LEN_MASK(19), LEN_MASK(20), LEN_MASK(21), LEN_MASK(22),
};
#undef LEN_MASK
#undef BIT_IF_LEN

http_name_id http_name_lookup(const char *name, size_t n)
{
    if (n > NAME_LEN_MAX)
        return HTTP_H_OTHER;
    unsigned char c0 = n ? (unsigned char)(name[0] | 0x20) : 0;
    for (uint32_t m = by_len[n]; m != 0; m &= m - 1) {
        int id = __builtin_ctz(m);
        if ((unsigned char)(names[id].name[0] | 0x20) == c0 &&
            strncasecmp(names[id].name, name, n) == 0)
            return (http_name_id)id;
    }
    return HTTP_H_OTHER;
}

const char *http_name_str(http_name_id id)
{
    return id > 0 && id < HTTP_H__COUNT ? names[id].name : "";
}
