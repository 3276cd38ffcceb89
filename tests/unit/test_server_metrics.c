/* SPDX-License-Identifier: MIT */
/* test_server_metrics.c - ttfd's counters and their Prometheus text (server/metrics.h): every
 * line a comment or a sample, each metric with HELP and TYPE before its samples, counts by code
 * and class, cumulative histogram buckets with +Inf = count, refusals by reason, agent events;
 * and the access log line (server/reqlog.h) in text and JSON form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "reqlog.h"

/* The value of the sample line that starts with `series ` (series includes any labels). */
static double sample(const char *text, const char *series)
{
    char pat[256];
    snprintf(pat, sizeof pat, "\n%s ", series);
    const char *at = strstr(text, pat);
    if (!at)
        fail_msg("no sample %s in:\n%s", series, text);
    return strtod(at + strlen(pat), NULL);
}

static void check_format(const char *text)
{
    regex_t sample_rx, comment_rx;
    assert_int_equal(regcomp(&sample_rx,
                             "^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\""
                             "(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\")*\\})? [-+0-9.eE]+(Inf)?$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    assert_int_equal(regcomp(&comment_rx, "^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    char *copy = strdup(text);
    assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (regexec(&sample_rx, line, 0, NULL, 0) != 0 &&
            regexec(&comment_rx, line, 0, NULL, 0) != 0)
            fail_msg("not a sample or comment: '%s'", line);
    }
    free(copy);
    regfree(&sample_rx);
    regfree(&comment_rx);
}

static char *render(metrics *m)
{
    metrics_gauges g = {.tunnels = 2,
                        .agents = 3,
                        .streams = 4,
                        .public_connections = 5,
                        .accept_backoffs = 7,
                        .accept_fulls = 8};
    size_t len = 0;
    char *text = metrics_render(m, &g, 12.5, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    check_format(text);
    return text;
}

static void test_counters(void **state)
{
    (void)state;
    metrics *m = metrics_new(1700000000, "9.9.9");
    char *t = render(m);
    assert_non_null(strstr(t, "\nttfd_build_info{version=\"9.9.9\"} 1\n"));
    assert_true(sample(t, "ttfd_tunnels") == 2);
    assert_true(sample(t, "ttfd_streams_open") == 4);
    assert_true(sample(t, "ttfd_uptime_seconds") == 12.5);
    assert_true(sample(t, "ttfd_http_requests_by_class_total{class=\"2xx\"}") == 0);
    assert_null(strstr(t, "ttfd_http_requests_total{")); /* no code seen yet */
    assert_true(sample(t, "ttfd_requests_refused_total{reason=\"not_found\"}") == 0);
    free(t);

    metrics_request r = {
        .tunnel = "abc", .status = 200, .bytes_in = 10, .bytes_out = 100, .duration_us = 3000};
    metrics_on_request_end(m, &r);
    r.duration_us = 5000; /* on a bucket's bound: in it (le) */
    metrics_on_request_end(m, &r);
    r = (metrics_request){
        .status = 401, .bytes_out = 7, .duration_us = 70000000, .refused = REFUSED_AUTH};
    metrics_on_request_end(m, &r);
    r = (metrics_request){.status = 0, .duration_us = 20000};
    metrics_on_request_end(m, &r);
    r = (metrics_request){.status = 404, .refused = REFUSED_NOT_FOUND, .duration_us = 1};
    metrics_on_request_end(m, &r);
    metrics_on_agent_connect(m, false);
    metrics_on_agent_connect(m, true);
    metrics_on_agent_disconnect(m);
    metrics_on_room_made(m, ROOM_IDLE, 2);
    metrics_on_room_made(m, ROOM_HEAD, 3);
    metrics_on_room_made(m, ROOM_HEAD, 1);
    metrics_on_room_made(m, ROOM_LINGER, 5);
    metrics_on_room_made(m, ROOM_READY, 6);
    metrics_on_room_made(m, ROOM_STALLED, 7);
    t = render(m);
    assert_true(sample(t, "ttfd_http_requests_total{code=\"200\"}") == 2);
    assert_true(sample(t, "ttfd_http_requests_total{code=\"401\"}") == 1);
    assert_true(sample(t, "ttfd_http_requests_total{code=\"none\"}") == 1);
    assert_true(sample(t, "ttfd_http_requests_by_class_total{class=\"2xx\"}") == 2);
    assert_true(sample(t, "ttfd_http_requests_by_class_total{class=\"4xx\"}") == 2);
    assert_true(sample(t, "ttfd_http_requests_by_class_total{class=\"none\"}") == 1);
    assert_true(sample(t, "ttfd_http_request_duration_seconds_bucket{le=\"0.005\"}") == 3);
    assert_true(sample(t, "ttfd_http_request_duration_seconds_bucket{le=\"0.025\"}") == 4);
    assert_true(sample(t, "ttfd_http_request_duration_seconds_bucket{le=\"60\"}") == 4);
    /* a long poll under the default --request-timeout (120 s) has a bucket of its own */
    assert_true(sample(t, "ttfd_http_request_duration_seconds_bucket{le=\"120\"}") == 5);
    assert_true(sample(t, "ttfd_http_request_duration_seconds_bucket{le=\"+Inf\"}") == 5);
    assert_true(sample(t, "ttfd_http_request_duration_seconds_count") == 5);
    double sum = sample(t, "ttfd_http_request_duration_seconds_sum");
    assert_true(sum > 70.027 && sum < 70.029);
    assert_true(sample(t, "ttfd_request_body_bytes_total") == 20);
    assert_true(sample(t, "ttfd_response_bytes_total") == 207);
    assert_true(sample(t, "ttfd_requests_refused_total{reason=\"auth\"}") == 1);
    assert_true(sample(t, "ttfd_requests_refused_total{reason=\"not_found\"}") == 1);
    assert_true(sample(t, "ttfd_requests_refused_total{reason=\"cidr\"}") == 0);
    assert_true(sample(t, "ttfd_agent_connects_total") == 2);
    assert_true(sample(t, "ttfd_agent_reconnects_total") == 1);
    assert_true(sample(t, "ttfd_agent_disconnects_total") == 1);
    assert_true(sample(t, "ttfd_accept_backoffs_total") == 7); /* the listener's count */
    assert_true(sample(t, "ttfd_accept_full_total") == 8);
    assert_true(sample(t, "ttfd_accept_room_closes_total{state=\"idle\"}") == 2);
    assert_true(sample(t, "ttfd_accept_room_closes_total{state=\"head\"}") == 4);
    assert_true(sample(t, "ttfd_accept_room_closes_total{state=\"linger\"}") == 5);
    assert_true(sample(t, "ttfd_accept_room_closes_total{state=\"ready\"}") == 6);
    assert_true(sample(t, "ttfd_accept_room_closes_total{state=\"stalled\"}") == 7);
    /* HELP and TYPE come before a metric's first sample */
    const char *type = strstr(t, "# TYPE ttfd_http_request_duration_seconds histogram\n");
    assert_non_null(type);
    assert_true(type < strstr(t, "\nttfd_http_request_duration_seconds_bucket"));
    free(t);
    metrics_free(m);
}

/* The JSON access log line: one object, the fields of the request. */
static void test_reqlog(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    tlog lg = {.level = TLOG_INFO, .out = f, .json = true, .prog = "ttfd"};
    metrics_request r = {.tunnel = "myapp",
                         .method = "POST",
                         .path = "/a?\xff=1",
                         .client = "192.0.2.1",
                         .status = 429,
                         .bytes_in = 3,
                         .bytes_out = 44,
                         .duration_us = 1500,
                         .refused = REFUSED_RATE};
    reqlog_write(&lg, &r);
    r = (metrics_request){.method = "GET", .path = "/", .client = "::1", .status = 404};
    reqlog_write(&lg, &r);
    lg.json = false;
    r = (metrics_request){.tunnel = "t1",
                          .method = "GET",
                          .path = "/x",
                          .client = "::1",
                          .status = 200,
                          .bytes_out = 5,
                          .duration_us = 2000000};
    reqlog_write(&lg, &r);
    fclose(f);
    char *line2 = strchr(buf, '\n') + 1, *line3 = strchr(line2, '\n') + 1;
    json_error_t e;
    json_t *o = json_loadb(buf, (size_t)(line2 - buf), 0, &e);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "msg")), "request");
    assert_string_equal(json_string_value(json_object_get(o, "tunnel_id")), "myapp");
    assert_string_equal(json_string_value(json_object_get(o, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(o, "path")), "/a?"
                                                                       "?=1");
    assert_int_equal(json_integer_value(json_object_get(o, "status")), 429);
    assert_int_equal(json_integer_value(json_object_get(o, "bytes_in")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "bytes_out")), 44);
    assert_true(json_real_value(json_object_get(o, "duration_ms")) == 1.5);
    assert_string_equal(json_string_value(json_object_get(o, "client")), "192.0.2.1");
    assert_string_equal(json_string_value(json_object_get(o, "refused")), "rate_limit");
    assert_non_null(json_object_get(o, "ts"));
    json_decref(o);
    o = json_loadb(line2, (size_t)(line3 - line2), 0, &e);
    assert_non_null(o);
    assert_true(json_is_null(json_object_get(o, "tunnel_id")));
    assert_null(json_object_get(o, "refused"));
    json_decref(o);
    assert_non_null(strstr(line3, " ttfd INFO GET /x 200 5 bytes 2000 ms (::1) tunnel t1\n"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_reqlog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
