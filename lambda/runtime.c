/* SPDX-License-Identifier: MIT */
/* runtime.c - Runtime API calls over one kept-alive connection. */
#include "runtime.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rt_init(runtime *rt, const char *runtime_api)
{
    memset(rt, 0, sizeof *rt);
    int n = snprintf(rt->base, sizeof rt->base, "http://%s/2018-06-01/runtime", runtime_api);
    if (n < 0 || (size_t)n >= sizeof rt->base)
        return -1;
    if (aws_client_init(&rt->http, NULL, NULL, NULL, NULL, NULL, 0) < 0)
        return -1;
    rt->http.max_resp = (size_t)8 * 1024 * 1024; /* Lambda's event limit is 6 MB */
    return 0;
}

void rt_free(runtime *rt)
{
    aws_client_free(&rt->http);
}

int rt_next(runtime *rt, rt_invocation *inv, char *err, size_t errcap)
{
    memset(inv, 0, sizeof *inv);
    char url[400];
    snprintf(url, sizeof url, "%s/invocation/next", rt->base);
    aws_resp r;
    if (aws_call(&rt->http, "GET", url, NULL, NULL, 0, &r, err, errcap) < 0)
        return -1;
    if (r.status != 200) {
        snprintf(err, errcap, "invocation/next: HTTP %ld", r.status);
        aws_resp_free(&r);
        return -1;
    }
    if (aws_resp_header(&r, "Lambda-Runtime-Aws-Request-Id", inv->request_id,
                        sizeof inv->request_id) < 0 ||
        !inv->request_id[0]) {
        snprintf(err, errcap, "invocation/next: no request id");
        aws_resp_free(&r);
        return -1;
    }
    char dl[32];
    if (aws_resp_header(&r, "Lambda-Runtime-Deadline-Ms", dl, sizeof dl) == 0)
        inv->deadline_ms = strtoll(dl, NULL, 10);
    inv->event = r.body;
    inv->len = r.len;
    r.body = NULL;
    aws_resp_free(&r);
    return 0;
}

void rt_invocation_free(rt_invocation *inv)
{
    free(inv->event);
    memset(inv, 0, sizeof *inv);
}

static int post(runtime *rt, const char *path, const char *body, size_t len, const char *etype,
                char *err, size_t errcap)
{
    char url[600];
    snprintf(url, sizeof url, "%s/%s", rt->base, path);
    char eh[160];
    snprintf(eh, sizeof eh, "Lambda-Runtime-Function-Error-Type: %s", etype ? etype : "");
    const char *hdrs[] = {"Content-Type: application/json", etype ? eh : NULL, NULL};
    aws_resp r;
    if (aws_call(&rt->http, "POST", url, hdrs, body, len, &r, err, errcap) < 0)
        return -1;
    int rc = (r.status >= 200 && r.status < 300) ? 0 : -1;
    if (rc < 0)
        snprintf(err, errcap, "%s: HTTP %ld %.200s", path, r.status, r.body);
    aws_resp_free(&r);
    return rc;
}

int rt_respond(runtime *rt, const char *request_id, const char *body, size_t len, char *err,
               size_t errcap)
{
    char path[256];
    snprintf(path, sizeof path, "invocation/%s/response", request_id);
    return post(rt, path, body, len, NULL, err, errcap);
}

static char *error_doc(const char *type, const char *message)
{
    json_t *o = json_pack("{s:s,s:s,s:[]}", "errorMessage", message ? message : "", "errorType",
                          type ? type : "Runtime.Error", "stackTrace");
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

int rt_error(runtime *rt, const char *request_id, const char *type, const char *message, char *err,
             size_t errcap)
{
    char path[256];
    snprintf(path, sizeof path, "invocation/%s/error", request_id);
    char *doc = error_doc(type, message);
    if (!doc)
        return -1;
    int rc = post(rt, path, doc, strlen(doc), type, err, errcap);
    free(doc);
    return rc;
}

int rt_init_error(runtime *rt, const char *type, const char *message, char *err, size_t errcap)
{
    char *doc = error_doc(type, message);
    if (!doc)
        return -1;
    int rc = post(rt, "init/error", doc, strlen(doc), type, err, errcap);
    free(doc);
    return rc;
}
