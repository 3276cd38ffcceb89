/* SPDX-License-Identifier: MIT */
/* fake_mgmt.h - API Gateway's @connections management API for the Lambda's unit tests, behind
 * the transport the Lambda calls AWS through (aws_http.h aws_transport): POST (the message is
 * recorded, and handed to a hook: the test's scripted agent), GET, DELETE on
 * "{endpoint}/@connections/{id}"; 410 GoneException for a connection that is not open, 413
 * PayloadTooLargeException over 128 000 bytes, 429 LimitExceededException on demand.
 * Owns: the recorded messages. Not thread-safe. */
#ifndef TESTS_FAKE_MGMT_H
#define TESTS_FAKE_MGMT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "aws_http.h"

typedef struct fake_mgmt fake_mgmt;

fake_mgmt *fake_mgmt_new(void);
void fake_mgmt_free(fake_mgmt *m);
const aws_transport *fake_mgmt_transport(fake_mgmt *m);

/* Connection cid is open (posts are delivered) or not (410). */
void fake_mgmt_open(fake_mgmt *m, const char *cid);
void fake_mgmt_close(fake_mgmt *m, const char *cid);
bool fake_mgmt_is_open(const fake_mgmt *m, const char *cid);
/* The next n posts (to any connection) get 429 LimitExceededException. */
void fake_mgmt_limit(fake_mgmt *m, unsigned n);
/* The next n posts get 410 although the connection is open (a connection just after its
 * $connect, which API Gateway may not accept posts to yet). */
void fake_mgmt_not_ready(fake_mgmt *m, unsigned n);
/* Every post delivered to cid, in order, as a JSON array of message texts (borrowed). */
json_t *fake_mgmt_posts(fake_mgmt *m, const char *cid);
unsigned fake_mgmt_calls(const fake_mgmt *m, const char *method);
/* Called for each delivered post, after it is recorded (text NUL-terminated). */
void fake_mgmt_on_post(fake_mgmt *m,
                       void (*fn)(void *ud, const char *cid, const char *text, size_t len),
                       void *ud);

#endif
