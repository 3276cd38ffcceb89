/* SPDX-License-Identifier: MIT */
/* http1_names.c - known field names by id (see http1_names.h). */
#include "http1_names.h"

#include <strings.h>

static const struct {
    const char *name;
    size_t len;
} names[HTTP_H__COUNT] = {
#define N(id, s) [id] = {(s), sizeof(s) - 1}
    N(HTTP_H_OTHER, ""),
    N(HTTP_H_CONNECTION, "Connection"),
    N(HTTP_H_CONTENT_LENGTH, "Content-Length"),
    N(HTTP_H_CONTENT_LOCATION, "Content-Location"),
    N(HTTP_H_CONTENT_TYPE, "Content-Type"),
    N(HTTP_H_CONTENT_ENCODING, "Content-Encoding"),
    N(HTTP_H_COOKIE, "Cookie"),
    N(HTTP_H_EXPECT, "Expect"),
    N(HTTP_H_FORWARDED, "Forwarded"),
    N(HTTP_H_HOST, "Host"),
    N(HTTP_H_HTTP2_SETTINGS, "HTTP2-Settings"),
    N(HTTP_H_KEEP_ALIVE, "Keep-Alive"),
    N(HTTP_H_LOCATION, "Location"),
    N(HTTP_H_PROXY_AUTHENTICATE, "Proxy-Authenticate"),
    N(HTTP_H_PROXY_AUTHORIZATION, "Proxy-Authorization"),
    N(HTTP_H_PROXY_CONNECTION, "Proxy-Connection"),
    N(HTTP_H_SEC_WEBSOCKET_KEY, "Sec-WebSocket-Key"),
    N(HTTP_H_SEC_WEBSOCKET_PROTOCOL, "Sec-WebSocket-Protocol"),
    N(HTTP_H_SET_COOKIE, "Set-Cookie"),
    N(HTTP_H_TE, "TE"),
    N(HTTP_H_TRAILER, "Trailer"),
    N(HTTP_H_TRANSFER_ENCODING, "Transfer-Encoding"),
    N(HTTP_H_UPGRADE, "Upgrade"),
    N(HTTP_H_X_FORWARDED_FOR, "X-Forwarded-For"),
    N(HTTP_H_X_FORWARDED_HOST, "X-Forwarded-Host"),
    N(HTTP_H_X_FORWARDED_PREFIX, "X-Forwarded-Prefix"),
    N(HTTP_H_X_FORWARDED_PROTO, "X-Forwarded-Proto"),
#undef N
};

http_name_id http_name_lookup(const char *name, size_t n)
{
    /* Few names share a length and first letter: compare those only. */
    if (n < 2 || n > 22)
        return HTTP_H_OTHER;
    unsigned char c0 = (unsigned char)(name[0] | 0x20);
    for (int id = 1; id < HTTP_H__COUNT; id++) {
        if (names[id].len != n || (unsigned char)(names[id].name[0] | 0x20) != c0)
            continue;
        if (strncasecmp(names[id].name, name, n) == 0)
            return (http_name_id)id;
    }
    return HTTP_H_OTHER;
}

const char *http_name_str(http_name_id id)
{
    return id > 0 && id < HTTP_H__COUNT ? names[id].name : "";
}
