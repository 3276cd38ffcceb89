/* SPDX-License-Identifier: MIT */
/* path_rewrite_head.c - path mode, what a rewritten body changes in its response head
 * (path_rewrite_response_head in path_rewrite.h): one decision for answers with and without a
 * body, for ttfd and the Lambda. */
#include <stdlib.h>
#include <string.h>

#include "http1_headers.h"
#include "path_rewrite.h"

/* A strong entity-tag ("x") becomes weak (W/"x"); a weak one, or a malformed value, stays. */
static int weaken_etag(http_headers *h)
{
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(h->v[i].name, "ETag") != 0)
            continue;
        const char *v = h->v[i].value;
        size_t n = strlen(v);
        if (n < 2 || v[0] != '"' || v[n - 1] != '"')
            continue; /* W/"x" already, or not an entity-tag */
        char *w = malloc(n + 3);
        if (!w)
            return -1;
        memcpy(w, "W/", 2);
        memcpy(w + 2, v, n + 1);
        int rc = http_headers_replace_at(h, i, w, n + 2);
        free(w);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int path_rewrite_response_head(const char *tid, int status, bool bodiless, http_headers *h)
{
    if (path_rewrite_head_urls(tid, h) != 0)
        return -1;
    const char *ct = http_headers_get_id(h, HTTP_H_CONTENT_TYPE);
    path_rewrite_kind k =
        path_rewrite_kind_for(ct, http_headers_get_id(h, HTTP_H_CONTENT_ENCODING));
    if (status == 206)
        return PATH_RW_NONE;
    if (status == 304 && !ct)
        return weaken_etag(h) != 0 ? -1 : PATH_RW_NONE;
    if (!path_rewrite_changes(k))
        return PATH_RW_NONE;
    http_headers_remove_id(h, HTTP_H_CONTENT_LENGTH);
    http_headers_remove(h, "Content-MD5");
    if (weaken_etag(h) != 0 || http_headers_set(h, "X-Tunnel-Rewrite-Applied", "true") != 0)
        return -1;
    return bodiless ? PATH_RW_NONE : (int)k;
}
