/* SPDX-License-Identifier: MIT */
/* access.c - edge access control (see access.h). */
#include "access.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "b64.h"
#include "edge_answer.h"
#include "proxy.h"

#define AUTH_VALUE_MAX 1024

/* ------------------------------------------------------------------ the agent's request */

static bool has_ctl(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return true;
    }
    return false;
}

int access_basic_check(const char *userpass, const char **why)
{
    const char *colon = userpass ? strchr(userpass, ':') : NULL;
    if (!colon) {
        *why = "want USER:PASSWORD";
        return -1;
    }
    size_t ul = (size_t)(colon - userpass), pl = strlen(colon + 1);
    if (ul == 0 || ul > ACCESS_USER_MAX) {
        *why = "the user name must have 1 to 128 bytes";
        return -1;
    }
    if (pl < ACCESS_PASS_MIN || pl > ACCESS_PASS_MAX) {
        *why = "the password must have 8 to 256 bytes";
        return -1;
    }
    if (has_ctl(userpass, ul + 1 + pl)) {
        *why = "control characters are not allowed";
        return -1;
    }
    return 0;
}

int access_rate_parse(const char *s, access_rate *out, const char **why)
{
    memset(out, 0, sizeof *out);
    const char *slash = s ? strchr(s, '/') : NULL;
    size_t nl = slash ? (size_t)(slash - s) : 0;
    if (!slash || nl == 0 || nl > 7 || strspn(s, "0123456789") != nl) {
        *why = "want N/s, N/m or N/h (N requests per second, minute or hour)";
        return -1;
    }
    long n = strtol(s, NULL, 10);
    const char *u = slash + 1;
    uint32_t per = strcmp(u, "s") == 0   ? 1
                   : strcmp(u, "m") == 0 ? 60
                   : strcmp(u, "h") == 0 ? 3600
                                         : 0;
    if (!per) {
        *why = "the unit is s, m or h (per second, minute or hour)";
        return -1;
    }
    if (n < 1 || n > ACCESS_RATE_MAX) {
        *why = "N must be between 1 and 1000000";
        return -1;
    }
    out->requests = (uint32_t)n;
    out->per_sec = per;
    return 0;
}

static json_t *net_array(const char *const *v, size_t n, const char *what, char *why, size_t cap)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        access_net net;
        const char *w = NULL;
        if (access_net_parse(v[i], &net, &w) != 0) {
            snprintf(why, cap, "%s '%.60s': %s", what, v[i], w);
            json_decref(a);
            return NULL;
        }
        char txt[64];
        access_net_format(&net, txt, sizeof txt);
        if (json_array_append_new(a, json_string(txt)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

char *access_request_json(const char *basic, const char *const *allow, size_t nallow,
                          const char *const *deny, size_t ndeny, const access_rate *rate, char *why,
                          size_t cap)
{
    snprintf(why, cap, "out of memory");
    json_t *o = json_object();
    if (!o)
        return NULL;
    const char *w = NULL;
    if (basic && access_basic_check(basic, &w) != 0) {
        snprintf(why, cap, "--basic-auth: %s", w);
        goto fail;
    }
    if (basic && json_object_set_new(o, "basic_auth", json_string(basic)) != 0) {
        snprintf(why, cap, "--basic-auth: not UTF-8");
        goto fail;
    }
    if (nallow > ACCESS_NETS_MAX || ndeny > ACCESS_NETS_MAX) {
        snprintf(why, cap, "at most %d networks per list", ACCESS_NETS_MAX);
        goto fail;
    }
    json_t *a;
    if (nallow) {
        if (!(a = net_array(allow, nallow, "--allow-cidr", why, cap)) ||
            json_object_set_new(o, "allow_cidr", a) != 0)
            goto fail;
    }
    if (ndeny) {
        if (!(a = net_array(deny, ndeny, "--deny-cidr", why, cap)) ||
            json_object_set_new(o, "deny_cidr", a) != 0)
            goto fail;
    }
    if (rate && rate->requests &&
        json_object_set_new(o, "rate_limit",
                            json_pack("{s:I,s:I}", "requests", (json_int_t)rate->requests,
                                      "per_sec", (json_int_t)rate->per_sec)) != 0)
        goto fail;
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
fail:
    json_decref(o);
    return NULL;
}

/* ------------------------------------------------------------------ policies */

void access_policy_free(access_policy *p)
{
    if (!p)
        return;
    free(p->allow);
    free(p->deny);
    EVP_MAC_CTX_free(p->hmac);
    OPENSSL_cleanse(p, sizeof *p);
    free(p);
}

/* Keys p->hmac with p->key: the HMAC's setup (algorithm fetch, key schedule) is done once per
 * policy; each request then costs a copy of the keyed context. */
static int hmac_prepare(access_policy *p)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac); /* the context keeps its own reference */
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    if (!ctx || !EVP_MAC_init(ctx, p->key, sizeof p->key, params)) {
        EVP_MAC_CTX_free(ctx);
        return -1;
    }
    p->hmac = ctx;
    return 0;
}

/* HMAC-SHA256(p->key, data) into out. 0 or -1. */
static int hmac(const access_policy *p, const void *data, size_t len, uint8_t out[ACCESS_KEY_LEN])
{
    EVP_MAC_CTX *ctx = p->hmac ? EVP_MAC_CTX_dup(p->hmac) : NULL;
    size_t olen = 0;
    int rc = ctx && EVP_MAC_update(ctx, data, len) &&
                     EVP_MAC_final(ctx, out, &olen, ACCESS_KEY_LEN) && olen == ACCESS_KEY_LEN
                 ? 0
                 : -1;
    EVP_MAC_CTX_free(ctx);
    return rc;
}

/* A network list field (array of strings). */
static int get_nets(json_t *o, const char *key, access_net **out, size_t *n, char *why, size_t cap)
{
    json_t *a = json_object_get(o, key);
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a)) {
        snprintf(why, cap, "access: %s must be an array of networks", key);
        return -1;
    }
    size_t cnt = json_array_size(a);
    if (cnt > ACCESS_NETS_MAX) {
        snprintf(why, cap, "access: %s has %zu networks (at most %d)", key, cnt, ACCESS_NETS_MAX);
        return -1;
    }
    if (!cnt)
        return 0;
    *out = calloc(cnt, sizeof **out);
    if (!*out) {
        snprintf(why, cap, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < cnt; i++) {
        json_t *s = json_array_get(a, i);
        const char *w = "not a string";
        if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s) ||
            access_net_parse(json_string_value(s), &(*out)[i], &w) != 0) {
            snprintf(why, cap, "access: %s[%zu]: '%.60s': %s", key, i,
                     json_is_string(s) ? json_string_value(s) : "", w);
            return -1;
        }
    }
    *n = cnt;
    return 0;
}

static int get_rate(json_t *o, access_rate *r, char *why, size_t cap)
{
    json_t *v = json_object_get(o, "rate_limit");
    if (!v || json_is_null(v))
        return 0;
    json_t *req = json_object_get(v, "requests"), *per = json_object_get(v, "per_sec");
    if (!json_is_object(v) || json_object_size(v) != 2 || !json_is_integer(req) ||
        !json_is_integer(per)) {
        snprintf(why, cap, "access: rate_limit must be {\"requests\":N,\"per_sec\":S}");
        return -1;
    }
    json_int_t n = json_integer_value(req), s = json_integer_value(per);
    if (n < 1 || n > ACCESS_RATE_MAX || s < 1 || s > ACCESS_WINDOW_MAX) {
        snprintf(why, cap,
                 "access: rate_limit out of range (requests 1..%d, per_sec 1..%d seconds)",
                 ACCESS_RATE_MAX, ACCESS_WINDOW_MAX);
        return -1;
    }
    r->requests = (uint32_t)n;
    r->per_sec = (uint32_t)s;
    return 0;
}

/* The fields both forms share; `known` lists the allowed keys. */
static int check_keys(json_t *o, const char *const *known, char *why, size_t cap)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        bool ok = false;
        for (const char *const *p = known; *p && !ok; p++)
            ok = strcmp(*p, k) == 0;
        if (!ok) {
            snprintf(why, cap, "access: unknown field '%.40s' (this server cannot enforce it)", k);
            return -1;
        }
    }
    return 0;
}

static json_t *load_object(const char *json, size_t len, char *why, size_t cap)
{
    json_error_t e;
    json_t *o = json ? json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e) : NULL;
    if (!o) {
        snprintf(why, cap, "access: invalid JSON");
        return NULL;
    }
    if (!json_is_object(o)) {
        snprintf(why, cap, "access must be an object");
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Reads the basic_auth member b (NULL when absent) into p; 0, or -1 with why written. */
typedef int (*basic_reader)(access_policy *p, json_t *b, char *why, size_t cap);

/* The loaders' one body: the object and its known keys, basic_auth through read_basic, then the
 * networks and the rate. *out is NULL for a policy that asks for nothing. 0 or -1 (why). */
static int load_policy(const char *json, size_t len, basic_reader read_basic, access_policy **out,
                       char *why, size_t cap)
{
    static const char *const known[] = {"basic_auth", "allow_cidr", "deny_cidr", "rate_limit",
                                        NULL};
    *out = NULL;
    json_t *o = load_object(json, len, why, cap);
    if (!o || check_keys(o, known, why, cap) != 0) {
        json_decref(o);
        return -1;
    }
    access_policy *p = calloc(1, sizeof *p);
    int rc = -1;
    if (!p) {
        snprintf(why, cap, "out of memory");
    } else if (read_basic(p, json_object_get(o, "basic_auth"), why, cap) != 0 ||
               get_nets(o, "allow_cidr", &p->allow, &p->nallow, why, cap) != 0 ||
               get_nets(o, "deny_cidr", &p->deny, &p->ndeny, why, cap) != 0 ||
               get_rate(o, &p->rate, why, cap) != 0) {
        access_policy_free(p);
    } else {
        rc = 0;
        if (!p->basic && !p->nallow && !p->ndeny && !p->rate.requests)
            access_policy_free(p); /* asks for nothing */
        else
            *out = p;
    }
    json_decref(o);
    return rc;
}

/* basic_reader for an agent's request: "USER:PASSWORD", kept as a keyed HMAC only. */
static int basic_from_request(access_policy *p, json_t *b, char *why, size_t cap)
{
    if (!b || json_is_null(b))
        return 0;
    const char *w = "not a string";
    if (!json_is_string(b) || strlen(json_string_value(b)) != json_string_length(b) ||
        access_basic_check(json_string_value(b), &w) != 0) {
        snprintf(why, cap, "access: basic_auth: %s", w);
        return -1;
    }
    p->basic = true;
    if (RAND_bytes(p->key, sizeof p->key) != 1 || hmac_prepare(p) != 0 ||
        hmac(p, json_string_value(b), json_string_length(b), p->mac) != 0) {
        snprintf(why, cap, "no randomness or HMAC for basic_auth");
        return -1;
    }
    return 0;
}

int access_policy_from_request(const char *json, size_t len, access_policy **out, char *why,
                               size_t cap)
{
    return load_policy(json, len, basic_from_request, out, why, cap);
}

static json_t *nets_json(const access_net *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        char txt[64];
        access_net_format(&v[i], txt, sizeof txt);
        json_array_append_new(a, json_string(txt));
    }
    return a;
}

static json_t *b64_json(const uint8_t *b, size_t n)
{
    char txt[64];
    b64_encode(b, n, txt);
    return json_string(txt);
}

char *access_policy_dump(const access_policy *p)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (p && p->basic)
        json_object_set_new(o, "basic_auth",
                            json_pack("{s:o,s:o}", "key", b64_json(p->key, sizeof p->key), "mac",
                                      b64_json(p->mac, sizeof p->mac)));
    if (p && p->nallow)
        json_object_set_new(o, "allow_cidr", nets_json(p->allow, p->nallow));
    if (p && p->ndeny)
        json_object_set_new(o, "deny_cidr", nets_json(p->deny, p->ndeny));
    if (p && p->rate.requests)
        json_object_set_new(o, "rate_limit",
                            json_pack("{s:I,s:I}", "requests", (json_int_t)p->rate.requests,
                                      "per_sec", (json_int_t)p->rate.per_sec));
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

static int get_b64_key(json_t *o, const char *key, uint8_t out[ACCESS_KEY_LEN])
{
    json_t *v = json_object_get(o, key);
    uint8_t buf[64];
    size_t n = 0;
    if (!json_is_string(v) || json_string_length(v) > 48 ||
        b64_decode(json_string_value(v), json_string_length(v), buf, &n) != 0 ||
        n != ACCESS_KEY_LEN)
        return -1;
    memcpy(out, buf, ACCESS_KEY_LEN);
    return 0;
}

/* basic_reader for a stored policy: {"key": base64, "mac": base64} as access_policy_dump wrote. */
static int basic_from_store(access_policy *p, json_t *b, char *why, size_t cap)
{
    if (!b)
        return 0;
    if (!json_is_object(b) || json_object_size(b) != 2 || get_b64_key(b, "key", p->key) != 0 ||
        get_b64_key(b, "mac", p->mac) != 0 || hmac_prepare(p) != 0) {
        snprintf(why, cap, "access: stored basic_auth is damaged");
        return -1;
    }
    p->basic = true;
    return 0;
}

int access_policy_load(const char *json, size_t len, access_policy **out, char *why, size_t cap)
{
    return load_policy(json, len, basic_from_store, out, why, cap);
}

static void append(char *out, size_t cap, size_t *len, const char *s)
{
    if (*len >= cap)
        return;
    int n = snprintf(out + *len, cap - *len, "%s%s", *len ? ", " : "", s);
    if (n > 0)
        *len += (size_t)n;
}

static void describe_nets(char *out, size_t cap, size_t *len, const char *what, const access_net *v,
                          size_t n)
{
    if (!n)
        return;
    char part[256];
    size_t pl = (size_t)snprintf(part, sizeof part, "%s", what);
    for (size_t i = 0; i < n && pl < sizeof part; i++) {
        char txt[64];
        access_net_format(&v[i], txt, sizeof txt);
        pl += (size_t)snprintf(part + pl, sizeof part - pl, " %s", txt);
    }
    append(out, cap, len, part);
}

void access_policy_describe(const access_policy *p, char *out, size_t cap)
{
    size_t len = 0;
    if (cap)
        out[0] = '\0';
    if (!p) {
        snprintf(out, cap, "none");
        return;
    }
    if (p->basic)
        append(out, cap, &len, "basic auth");
    describe_nets(out, cap, &len, "allow", p->allow, p->nallow);
    describe_nets(out, cap, &len, "deny", p->deny, p->ndeny);
    if (p->rate.requests) {
        char r[96];
        snprintf(r, sizeof r, "%u requests per %u s per client", p->rate.requests, p->rate.per_sec);
        append(out, cap, &len, r);
    }
}

/* ------------------------------------------------------------------ deciding */

/* Does the one Authorization field carry the policy's credentials? (RFC 7617 §2, RFC 9110
 * §11.6.2: the scheme is case-insensitive, a token68 follows after one or more spaces.) */
static bool basic_ok(const access_policy *p, const http_headers *h)
{
    const char *value = NULL;
    for (size_t i = 0; h && i < h->n; i++) {
        if (strcasecmp(h->v[i].name, "Authorization") != 0)
            continue;
        if (value)
            return false; /* more than one: not a credential we can attribute */
        value = h->v[i].value;
    }
    if (!value || strncasecmp(value, "Basic", 5) != 0 || (value[5] != ' ' && value[5] != '\t'))
        return false;
    const char *t = value + 5;
    while (*t == ' ' || *t == '\t')
        t++;
    size_t n = strcspn(t, " \t");
    if (n == 0 || n > AUTH_VALUE_MAX || t[n + strspn(t + n, " \t")] != '\0')
        return false;
    uint8_t dec[AUTH_VALUE_MAX];
    size_t dl = 0;
    if (b64_decode(t, n, dec, &dl) != 0)
        return false;
    uint8_t mac[ACCESS_KEY_LEN];
    bool ok = hmac(p, dec, dl, mac) == 0 && CRYPTO_memcmp(mac, p->mac, sizeof mac) == 0;
    OPENSSL_cleanse(dec, sizeof dec);
    return ok;
}

access_result access_decide(const access_policy *p, const access_addr *client,
                            const http_headers *h, int64_t now_ms, access_rate_fn rate,
                            void *rate_ud, access_verdict *v)
{
    memset(v, 0, sizeof *v);
    if (!p)
        return ACCESS_ALLOW;
    if (access_in_nets(p->deny, p->ndeny, client) ||
        (p->nallow && !access_in_nets(p->allow, p->nallow, client))) {
        v->result = ACCESS_REFUSE_CIDR;
        v->status = 403;
        return v->result;
    }
    if (p->rate.requests && rate) {
        int64_t wait_ms = rate(rate_ud, p, client, now_ms);
        if (wait_ms > 0) {
            v->result = ACCESS_REFUSE_RATE;
            v->status = 429;
            int64_t s = (wait_ms + 999) / 1000;
            v->retry_after_s = (uint32_t)(s < 1                   ? 1
                                          : s > ACCESS_WINDOW_MAX ? ACCESS_WINDOW_MAX
                                                                  : s);
            return v->result;
        }
    }
    if (p->basic) {
        if (!basic_ok(p, h)) {
            v->result = ACCESS_REFUSE_AUTH;
            v->status = 401;
            return v->result;
        }
        v->strip_authorization = true;
    }
    return ACCESS_ALLOW;
}

int access_refusal_headers(const access_verdict *v, const char *realm, http_headers *out)
{
    char val[160];
    if (edge_answer_fields(out, v->status) != 0) /* Cache-Control: no-store (edge_answer.h) */
        return -1;
    if (v->result == ACCESS_REFUSE_AUTH) {
        /* the realm is a tunnel name (a DNS label): nothing to escape in the quoted-string */
        snprintf(val, sizeof val, "Basic realm=\"%.63s\", charset=\"UTF-8\"",
                 realm && *realm ? realm : "tunnel");
        return http_headers_add(out, "WWW-Authenticate", 16, val, strlen(val));
    }
    if (v->result == ACCESS_REFUSE_RATE) {
        snprintf(val, sizeof val, "%u", v->retry_after_s);
        return http_headers_add(out, "Retry-After", 11, val, strlen(val));
    }
    return 0;
}

const char *access_refusal_body(const access_verdict *v)
{
    switch (v->result) {
    case ACCESS_REFUSE_AUTH:
        return "this tunnel needs a user name and password";
    case ACCESS_REFUSE_CIDR:
        return "your address may not use this tunnel";
    case ACCESS_REFUSE_RATE:
        return "too many requests from your address: see Retry-After";
    default:
        return "";
    }
}

char *access_refusal_http(const access_verdict *v, const char *realm, const char *date, size_t *len)
{
    http_headers h;
    http_headers_init(&h);
    char *out =
        access_refusal_headers(v, realm, &h) == 0 && proxy_response_date(&h, v->status, date) == 0
            ? http_format_text(v->status, access_refusal_body(v), &h, true, len)
            : NULL;
    http_headers_free(&h);
    return out;
}

const char *access_result_name(access_result r)
{
    switch (r) {
    case ACCESS_REFUSE_AUTH:
        return "auth";
    case ACCESS_REFUSE_CIDR:
        return "cidr";
    case ACCESS_REFUSE_RATE:
        return "rate_limit";
    default:
        return "";
    }
}
