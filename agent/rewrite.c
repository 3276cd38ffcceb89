/* SPDX-License-Identifier: MIT */
/* rewrite.c - head rewriting for the local side (see rewrite.h). */
#include "rewrite.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proxy.h"

char *rewrite_request_head(const char *method, const char *target, http_headers *h,
                           const char *hostport, bool keep_host, size_t *len)
{
    if (!keep_host || !http_headers_get(h, "Host")) {
        if (http_headers_set(h, "Host", hostport) != 0)
            return NULL;
    }
    return http_format_request_head(method, target, h, len);
}

char *rewrite_response_head_bin(int status, http_headers *h, size_t *len)
{
    /* the body follows with the local service's framing; a 101 keeps Connection/Upgrade */
    proxy_response rule = {.status = status, .body_raw = true, .upgrade = true};
    if (proxy_response_headers(h, &rule) != 0)
        return NULL;
    return http_format_response_head(status, http_reason(status), h, len);
}

static bool method_has_body(const char *m)
{
    return strcasecmp(m, "POST") == 0 || strcasecmp(m, "PUT") == 0 || strcasecmp(m, "PATCH") == 0;
}

char *rewrite_json_request_head(const char *method, const char *target, http_headers *h,
                                const char *hostport, bool keep_host, size_t body_len, bool more,
                                bool *chunked, size_t *len)
{
    *chunked = false;
    /* the edge applied the request rules; the framing below is ours */
    if (proxy_remove_hop_by_hop(h, false, false) != 0)
        return NULL;
    const char *cl = http_headers_get(h, "Content-Length");
    if (!cl) {
        if (more) {
            if (http_headers_add(h, "Transfer-Encoding", 17, "chunked", 7) != 0)
                return NULL;
            *chunked = true;
        } else if (body_len > 0 || method_has_body(method)) {
            char buf[32];
            int n = snprintf(buf, sizeof buf, "%zu", body_len);
            if (http_headers_add(h, "Content-Length", 14, buf, (size_t)n) != 0)
                return NULL;
        }
    }
    return rewrite_request_head(method, target, h, hostport, keep_host, len);
}

int rewrite_json_response_headers(int status, http_headers *h)
{
    proxy_response rule = {.status = status, .body_raw = false};
    return proxy_response_headers(h, &rule);
}
