/* SPDX-License-Identifier: MIT */
/* runtime.h - the Lambda Runtime API client (/2018-06-01/runtime/...): fetch the next
 * invocation, post its response or error, report an init error.
 * Owns: the invocation's event text and ids until rt_invocation_free. */
#ifndef LAMBDA_RUNTIME_H
#define LAMBDA_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "aws_http.h"

typedef struct runtime {
    aws_client http; /* unsigned, no timeout: /next is a long poll */
    char base[300];  /* "http://host:port/2018-06-01/runtime" */
} runtime;

typedef struct rt_invocation {
    char request_id[128];
    int64_t deadline_ms; /* Unix ms; 0 when the header was missing */
    char *event;         /* the event JSON text */
    size_t len;
} rt_invocation;

int rt_init(runtime *rt, const char *runtime_api);
void rt_free(runtime *rt);

/* Blocks until the next invocation. 0, or -1 with a reason. */
int rt_next(runtime *rt, rt_invocation *inv, char *err, size_t errcap);
void rt_invocation_free(rt_invocation *inv);
int rt_respond(runtime *rt, const char *request_id, const char *body, size_t len, char *err,
               size_t errcap);
int rt_error(runtime *rt, const char *request_id, const char *type, const char *message, char *err,
             size_t errcap);
int rt_init_error(runtime *rt, const char *type, const char *message, char *err, size_t errcap);

#endif
