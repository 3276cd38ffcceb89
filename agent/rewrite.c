/* rewrite.c - head rewriting for the local side (see rewrite.h). */
#include "rewrite.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

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
    http_headers_strip_hop_by_hop(h, true, status == 101);
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
    http_headers_strip_hop_by_hop(h, false, false);
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

void rewrite_json_response_headers(http_headers *h)
{
    http_headers_strip_hop_by_hop(h, false, false);
}
