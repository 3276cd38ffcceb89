/* SPDX-License-Identifier: MIT */
/* http1_names.h - the field names the library knows by id (as h2o's tokens): the parser, the
 * header list and the proxy rules compare ids instead of strings. Lookup is case-insensitive.
 * Owns: the constant table of names (canonical spelling). */
#ifndef TUNNEL_HTTP1_NAMES_H
#define TUNNEL_HTTP1_NAMES_H

#include <stddef.h>

typedef enum http_name_id {
    HTTP_H_OTHER = 0, /* a name the table does not hold */
    HTTP_H_CONNECTION,
    HTTP_H_CONTENT_LENGTH,
    HTTP_H_CONTENT_LOCATION,
    HTTP_H_CONTENT_TYPE,
    HTTP_H_CONTENT_ENCODING,
    HTTP_H_COOKIE,
    HTTP_H_DATE,
    HTTP_H_EXPECT,
    HTTP_H_FORWARDED,
    HTTP_H_HOST,
    HTTP_H_HTTP2_SETTINGS,
    HTTP_H_KEEP_ALIVE,
    HTTP_H_LOCATION,
    HTTP_H_PROXY_AUTHENTICATE,
    HTTP_H_PROXY_AUTHORIZATION,
    HTTP_H_PROXY_CONNECTION,
    HTTP_H_SEC_WEBSOCKET_KEY,
    HTTP_H_SEC_WEBSOCKET_PROTOCOL,
    HTTP_H_SET_COOKIE,
    HTTP_H_TE,
    HTTP_H_TRAILER,
    HTTP_H_TRANSFER_ENCODING,
    HTTP_H_UPGRADE,
    HTTP_H_X_FORWARDED_FOR,
    HTTP_H_X_FORWARDED_HOST,
    HTTP_H_X_FORWARDED_PORT,
    HTTP_H_X_FORWARDED_PREFIX,
    HTTP_H_X_FORWARDED_PROTO,
    HTTP_H__COUNT
} http_name_id;

/* The id of name[0..n) (any case), HTTP_H_OTHER when unknown. */
http_name_id http_name_lookup(const char *name, size_t n);
/* The canonical spelling ("Content-Length"); "" for HTTP_H_OTHER. */
const char *http_name_str(http_name_id id);

#endif
