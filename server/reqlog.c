/* SPDX-License-Identifier: MIT */
/* reqlog.c - the access log line (see reqlog.h). */
#include "reqlog.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LOGGED 4096

/* A JSON string from request bytes: as they are when UTF-8, else bytes >= 0x80 become '?'. */
static json_t *jstr(const char *s, size_t max)
{
    if (!s)
        return json_null();
    size_t n = strnlen(s, max);
    json_t *v = json_stringn(s, n);
    if (v)
        return v;
    char *c = malloc(n + 1);
    if (!c)
        return json_null();
    for (size_t i = 0; i < n; i++)
        c[i] = (unsigned char)s[i] >= 0x80 ? '?' : s[i];
    v = json_stringn(c, n);
    free(c);
    return v ? v : json_null();
}

void reqlog_write(const tlog *lg, const metrics_request *r)
{
    const char *method = r->method ? r->method : "-";
    const char *path = r->path ? r->path : "-";
    bool has_tunnel = r->tunnel && *r->tunnel;
    const char *why = edge_refusal_name(r->refused);
    unsigned long long ms = (unsigned long long)(r->duration_us / 1000);
    if (!lg || !lg->json) {
        /* "GET /path 200 1234 bytes 5 ms (client) tunnel ID refused: WHY", without printf: one
         * line per request */
        if (!tlog_enabled(lg, TLOG_INFO))
            return;
        tlog_msg m;
        tlog_msg_init(&m);
        tlog_msg_str(&m, method);
        tlog_msg_add(&m, " ", 1);
        tlog_msg_add(&m, path, strnlen(path, 300));
        tlog_msg_add(&m, " ", 1);
        tlog_msg_int(&m, r->status);
        tlog_msg_add(&m, " ", 1);
        tlog_msg_uint(&m, (unsigned long long)r->bytes_out);
        tlog_msg_add(&m, " bytes ", 7);
        tlog_msg_uint(&m, ms);
        tlog_msg_add(&m, " ms (", 5);
        tlog_msg_str(&m, r->client ? r->client : "-");
        tlog_msg_add(&m, ")", 1);
        if (has_tunnel) {
            tlog_msg_add(&m, " tunnel ", 8);
            tlog_msg_str(&m, r->tunnel);
        }
        if (*why) {
            tlog_msg_add(&m, " refused: ", 10);
            tlog_msg_str(&m, why);
        }
        tlog_write_msg(lg, TLOG_INFO, &m);
        return;
    }
    json_t *f = json_object();
    if (f) {
        json_object_set_new(f, "tunnel_id", has_tunnel ? json_string(r->tunnel) : json_null());
        json_object_set_new(f, "method", jstr(method, 64));
        json_object_set_new(f, "path", jstr(path, PATH_MAX_LOGGED));
        json_object_set_new(f, "status", json_integer(r->status));
        json_object_set_new(f, "bytes_in", json_integer((json_int_t)r->bytes_in));
        json_object_set_new(f, "bytes_out", json_integer((json_int_t)r->bytes_out));
        json_object_set_new(f, "duration_ms", json_real((double)r->duration_us / 1000.0));
        json_object_set_new(f, "client", jstr(r->client ? r->client : "", 64));
        if (*why)
            json_object_set_new(f, "refused", json_string(why));
    }
    tlog_write_fields(lg, TLOG_INFO, f, "request");
}
