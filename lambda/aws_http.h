/* SPDX-License-Identifier: MIT */
/* aws_http.h - HTTP calls to AWS services (and the Runtime API) over one reused libcurl easy
 * handle per client, so connections stay warm between invocations. Signing is libcurl's
 * CURLOPT_AWS_SIGV4 ("aws:amz:REGION:SERVICE"), credentials via CURLOPT_USERNAME/PASSWORD and the
 * X-Amz-Security-Token header.
 * Owns: the CURL handle and copies of the credentials of an aws_client; an aws_resp's buffers. */
#ifndef LAMBDA_AWS_HTTP_H
#define LAMBDA_AWS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct aws_resp;

/* Something that answers calls instead of the network, with aws_call's contract (a test's fake
 * DynamoDB or @connections: tests/lambda/fake_aws.h). */
typedef struct aws_transport {
    int (*call)(void *ud, const char *method, const char *url, const char *const *headers,
                const void *body, size_t len, struct aws_resp *out, char *err, size_t errcap);
    void *ud;
} aws_transport;

typedef struct aws_client {
    const aws_transport *transport; /* NULL: libcurl; otherwise every call goes to it */
    void *curl;                     /* CURL *, reused for every call */
    char sigv4[128]; /* "aws:amz:us-east-1:dynamodb"; empty = unsigned (Runtime API) */
    char *key, *secret;
    char *token_hdr;    /* "X-Amz-Security-Token: ..." or NULL */
    long timeout_ms;    /* per call; 0 = none (Runtime API's long poll) */
    size_t max_resp;    /* response bodies above this fail the call */
    const char *cainfo; /* CA bundle for https (borrowed), NULL = libcurl's default */
} aws_client;

/* The CA bundle to use: $SSL_CERT_FILE, else the first existing of the Debian and Amazon Linux
 * locations (the package is built on Debian, runs on Amazon Linux). NULL when none exists. */
const char *aws_find_ca_bundle(void);

typedef struct aws_resp {
    long status; /* HTTP status, 0 when the call failed */
    char *body;  /* NUL-terminated, malloc'd (may be empty) */
    size_t len;
    char *hdrs; /* raw response header lines, NUL-terminated */
    size_t hlen;
} aws_resp;

/* region/service NULL = unsigned client. 0 or -1. */
int aws_client_init(aws_client *c, const char *region, const char *service, const char *key,
                    const char *secret, const char *session_token, long timeout_ms);
void aws_client_free(aws_client *c);
/* A client whose calls all go to t (borrowed; no libcurl handle). */
void aws_client_init_transport(aws_client *c, const aws_transport *t);

/* Writes the CURLOPT_AWS_SIGV4 parameter for region/service into out. Returns 0, -1 if too long
 * or a part is empty or contains ':'. */
int aws_sigv4_param(char *out, size_t cap, const char *region, const char *service);

/* One request. method "GET"/"POST"/"DELETE"; headers NULL-terminated array of "Name: value".
 * Returns 0 when an HTTP response arrived (any status, see out->status), -1 on transport error
 * with a reason in err. out must be released with aws_resp_free. */
int aws_call(aws_client *c, const char *method, const char *url, const char *const *headers,
             const void *body, size_t len, aws_resp *out, char *err, size_t errcap);
void aws_resp_free(aws_resp *r);

/* Value of a response header (case-insensitive) copied into out; 0 or -1 when absent. */
int aws_resp_header(const aws_resp *r, const char *name, char *out, size_t cap);

/* For SigV4 of a non-S3 service: when url's path has characters beyond the unreserved set and
 * '/', *canon_url receives url with each such character percent-encoded (once more: "%3D" ->
 * "%253D", "@" -> "%40") and *target the path as it is to be sent; both malloc'd. Otherwise both
 * stay NULL. 0, or -1 when out of memory. */
int aws_canonical_split(const char *url, char **canon_url, char **target);

/* Percent-encodes s for one URL path segment (unreserved characters kept). malloc'd. */
char *aws_path_escape(const char *s);

#endif
