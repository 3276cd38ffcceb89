/* SPDX-License-Identifier: MIT */
/* inspect_api.h - the inspector's JSON documents (README "Inspector API"): an exchange's summary
 * (the list), its detail (heads and rendered bodies), and the replay edits a client may send.
 * Strings that carry HTTP octets (target, header values) are JSON strings when the octets are
 * UTF-8 and {"b64": "..."} otherwise, as in the JSON wire mode.
 * Owns: nothing; the json_t returned are the caller's (json_decref). */
#ifndef TTF_INSPECT_API_H
#define TTF_INSPECT_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "capture.h"
#include "http1.h"

json_t *inspect_json_summary(const cap_entry *e);
json_t *inspect_json_detail(const cap_entry *e);
/* {"requests": [newest first, at most limit, only seq > since], "seq": N, "count": N,
 *  "evicted": N, "used_bytes": N, "budget_bytes": N, "body_max_bytes": N} */
json_t *inspect_json_list(const capture *c, uint64_t since, size_t limit);
/* A string, or {"b64": ...} when s is not UTF-8. */
json_t *inspect_json_octets(const char *s, size_t len);

/* The body of POST /api/requests/{id}/replay: every field optional.
 * {"method": "PUT", "target": "/x?y", "headers": [["Name", "value"], ...],
 *  "body": "text"  |  "body_b64": "..."} */
typedef struct replay_edits {
    char *method, *target; /* NULL: as captured */
    http_headers headers;
    bool has_headers;
    uint8_t *body;
    size_t body_len;
    bool has_body;
} replay_edits;

/* An empty document means "as captured". 0, or -1 with a reason in err. */
int inspect_parse_replay(const char *json, size_t len, replay_edits *out, char *err, size_t errcap);
void replay_edits_free(replay_edits *e);

#endif
