/* fwd.c - the header rewrite applied to every public request before it enters a tunnel. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"

int fwd_headers(http_headers *h, bool keep_framing, bool upgrade, const char *client_ip,
                const char *proto, const char *prefix)
{
    char *host = NULL;
    const char *hv = http_headers_get(h, "Host");
    if (hv && !(host = strdup(hv)))
        return -1;
    http_headers_strip_hop_by_hop(h, keep_framing, upgrade);
    /* We answer 100-continue ourselves; the local app must not send an interim response. */
    http_headers_remove(h, "Expect");

    /* X-Forwarded-For: every earlier value in order, then the client. */
    size_t need = strlen(client_ip) + 1;
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->v[i].name, "X-Forwarded-For") == 0)
            need += strlen(h->v[i].value) + 2;
    char *xff = malloc(need);
    if (!xff) {
        free(host);
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(h->v[i].name, "X-Forwarded-For") != 0 || !h->v[i].value[0])
            continue;
        size_t l = strlen(h->v[i].value);
        memcpy(xff + n, h->v[i].value, l);
        n += l;
        memcpy(xff + n, ", ", 2); // NOLINT(bugprone-not-null-terminated-result): ends below
        n += 2;
    }
    strcpy(xff + n, client_ip);
    int rc = http_headers_set(h, "X-Forwarded-For", xff);
    free(xff);
    if (rc == 0)
        rc = http_headers_set(h, "X-Forwarded-Proto", proto);
    if (rc == 0 && host)
        rc = http_headers_set(h, "X-Forwarded-Host", host);
    if (rc == 0 && prefix)
        rc = http_headers_set(h, "X-Forwarded-Prefix", prefix);
    free(host);
    return rc;
}
