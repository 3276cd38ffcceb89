/* SPDX-License-Identifier: MIT */
/* reqlog.h - ttfd's log line per public request (the access log), on ttfd's log:
 *   text:  "GET /path 200 1234 bytes 5 ms (192.0.2.7)" (with " tunnel ID" and " refused: WHY")
 *   json (--log-format json): one JSON object per line, lib/log's ts/level/msg ("request") and
 *         tunnel_id (null: none), method, path, status (499: the client left before a response
 *         head; 0: none sent), bytes_in, bytes_out, duration_ms, client, and refused ("auth",
 *         "cidr", "rate_limit", "not_found", "busy", "server_busy") when ttfd answered the
 *         request itself.
 * Hook: next to metrics_on_request_end (metrics.h). Owns nothing. */
#ifndef TTFD_REQLOG_H
#define TTFD_REQLOG_H

#include "log.h"
#include "metrics.h"

void reqlog_write(const tlog *lg, const metrics_request *r);

#endif
