/* SPDX-License-Identifier: MIT */
/* test_agent_flow.c - a response pauses for lack of room in the tunnel and always goes on
 * (agent/exchange_resp.c xc_pump, agent/wire_json.c, agent/wire_bin.c), through a real session
 * over a socketpair (agent_wire_fixture.h): downloads of several sizes, read from the local
 * service 128 KiB (LOCAL_IN_MAX) or 256 KiB at a time, JSON mode without windows (an old
 * server), with ttfd's window credit and with the Lambda's acknowledgements, binary mode with
 * its windows, and several downloads at once. A JSON exchange that read more than its adapter
 * buffers for one batch (two pieces) paused, its batch went out, and nothing resumed it: every
 * 1 MiB download read 256 KiB at a time stalled after a few pieces. */
#include "agent_wire_fixture.h"

#define MIB ((size_t)1 << 20)
#define MAXDL 4

typedef enum { JSON_PLAIN, JSON_WINDOW, JSON_ACKS, BINARY } flow_mode;

/* One download in progress: the local service's answer and what the server got of it. */
typedef struct download {
    char *resp; /* the local service's whole answer: head, then body */
    size_t resp_len, sent;
    size_t body_len, got;
    uint32_t credit; /* received and not yet credited back (window modes) */
    bool done;       /* the end of the response arrived */
    bool bad;        /* a byte differs, or more than the body arrived */
} download;

static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 7 + i / 251);
}

static void dl_init(download *d, size_t n)
{
    memset(d, 0, sizeof *d);
    d->resp = malloc(n + 100);
    d->resp_len =
        (size_t)snprintf(d->resp, 100, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);
    for (size_t i = 0; i < n; i++)
        d->resp[d->resp_len + i] = (char)pattern(i);
    d->resp_len += n;
    d->body_len = n;
}

static void dl_body(download *d, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n && !d->bad; i++)
        d->bad = d->got + i >= d->body_len || p[i] != pattern(d->got + i);
    d->got += n;
}

/* What the local service's socket takes of the answer now (never blocks). */
static void local_write(fx *f, int conn, download *d)
{
    while (conn < f->fl.nconns && d->sent < d->resp_len) {
        ssize_t n = write(f->fl.conns[conn], d->resp + d->sent, d->resp_len - d->sent);
        if (n <= 0)
            break;
        d->sent += (size_t)n;
    }
}

/* The server's side of one message: the body counted, window credit as ttfd gives it (a quarter
 * of the window, or 128 KiB in binary mode, once received), the Lambda's ack of each answer. */
static void serve(fx *f, flow_mode mode, const msg *m, download *dls)
{
    if (mode == BINARY) {
        ttf_frame fr;
        if (m->text || ttf_frame_decode(m->data, m->len, &fr) != 0 || fr.stream_id == 0 ||
            fr.stream_id > MAXDL)
            return;
        download *d = &dls[fr.stream_id - 1];
        if (fr.type == TTF_DATA)
            dl_body(d, fr.payload, fr.len);
        d->done = d->done || (fr.flags & TTF_FLAG_FIN);
        d->credit += fr.type == TTF_DATA ? (uint32_t)fr.len : 0;
        if (d->credit >= 128 * 1024) {
            uint8_t w[10];
            ws_send_binary(f->srv.ws, w, ttf_frame_window(w, fr.stream_id, d->credit));
            d->credit = 0;
        }
        return;
    }
    tmsg r;
    const char *err = NULL;
    if (!m->text || tmsg_decode((const char *)m->data, m->len, &r, &err) != 0)
        return;
    if ((r.type == TMSG_HTTP_RESPONSE || r.type == TMSG_HTTP_RESPONSE_BODY) && r.request_id &&
        r.request_id[0] == 'r' && r.request_id[1] >= '1' && r.request_id[1] < '1' + MAXDL) {
        download *d = &dls[r.request_id[1] - '1'];
        dl_body(d, r.body, r.body_len);
        d->done = d->done || !r.more;
        d->credit += (uint32_t)r.body_len;
        if (mode == JSON_WINDOW && d->credit >= TTF_JSON_STREAM_WINDOW / 4) {
            tmsg w;
            tmsg_init(&w, TMSG_WINDOW);
            w.request_id = r.request_id;
            w.increment = d->credit;
            send_json(f, &w);
            d->credit = 0;
        }
        if (mode == JSON_ACKS)
            send_ack(f, r.type, r.request_id, r.type == TMSG_HTTP_RESPONSE_BODY ? r.seq : 0);
    }
    tmsg_free(&r);
}

static void start(fx *f, flow_mode mode, unsigned i)
{
    char path[32];
    snprintf(path, sizeof path, "/dl%u", i);
    if (mode == BINARY) {
        char head[96];
        snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: pub\r\n\r\n", path);
        send_open(f, i + 1, 0, true, head);
        return;
    }
    char rid[8];
    snprintf(rid, sizeof rid, "r%u", i + 1);
    tmsg m;
    tmsg_init(&m, TMSG_HTTP_REQUEST);
    m.request_id = strdup(rid);
    m.method = strdup("GET");
    m.uri = strdup(path);
    http_headers_add(&m.headers, "Host", 4, "pub", 3);
    send_json(f, &m);
    tmsg_free(&m);
}

/* ndl downloads of n bytes each at once, read from the local service read_ahead bytes at a
 * time; every one must arrive whole within 10 s. */
static void run(flow_mode mode, size_t read_ahead, size_t n, unsigned ndl)
{
    fx *f = make(mode == BINARY);
    local_pool_set_read_ahead(f->pools[0], read_ahead);
    if (mode == JSON_WINDOW) {
        send_established(f, TTF_JSON_STREAM_WINDOW, 0);
    } else if (mode == JSON_ACKS) {
        send_ack(f, TMSG_READY, NULL, 0); /* acknowledgements on */
    }
    download dls[MAXDL];
    for (unsigned i = 0; i < ndl; i++) {
        dl_init(&dls[i], n);
        start(f, mode, i);
    }
    /* the local connections in the order the requests reached them */
    int conn_of[MAXDL] = {-1, -1, -1, -1};
    uint64_t end = fl_now_ms() + 10000;
    unsigned done = 0;
    while (done < ndl && fl_now_ms() < end) {
        fl_pass(&f->fl);
        for (int c = 0; c < f->fl.nconns; c++) {
            char *h = fl_head(&f->fl, c);
            const char *p = h ? strstr(h, "GET /dl") : NULL;
            if (p && (unsigned)(p[7] - '0') < ndl)
                conn_of[p[7] - '0'] = c;
            free(h);
        }
        for (unsigned i = 0; i < ndl; i++)
            if (conn_of[i] >= 0)
                local_write(f, conn_of[i], &dls[i]);
        while (f->seen < f->srv.n)
            serve(f, mode, &f->srv.msgs[f->seen++], dls);
        for (size_t i = 0; i < f->srv.n; i++) /* served: room for the next ones */
            free(f->srv.msgs[i].data);
        f->srv.n = f->seen = 0;
        done = 0;
        for (unsigned i = 0; i < ndl; i++)
            done += dls[i].done;
    }
    for (unsigned i = 0; i < ndl; i++) {
        if (!dls[i].done || dls[i].bad || dls[i].got != n)
            fail_msg("mode %d, reads of %zu, %u x %zu bytes: download %u got %zu bytes%s%s",
                     (int)mode, read_ahead, ndl, n, i, dls[i].got,
                     dls[i].done ? "" : ", no end (stalled)", dls[i].bad ? ", altered" : "");
        free(dls[i].resp);
    }
    destroy(f);
}

static const size_t ahead[] = {LOCAL_IN_MAX, 256 * 1024};

/* The fault as found: JSON mode without a window (what pauses is the adapter's two pieces), a
 * 1 MiB download, reads of 256 KiB. */
static void test_json_1mib_reads_256k(void **state)
{
    (void)state;
    run(JSON_PLAIN, 256 * 1024, MIB + 7, 1);
}

/* Sizes around the pieces and MiB boundaries, both read sizes, every JSON server kind. */
static void test_json_sizes(void **state)
{
    (void)state;
    const size_t piece = TTF_JSON_CHUNK;
    const size_t sizes[] = {2 * piece - 1, 2 * piece, 2 * piece + 1, 3 * piece,
                            MIB - 1,       MIB,       MIB + 1,       3 * MIB};
    for (flow_mode mode = JSON_PLAIN; mode <= JSON_ACKS; mode++)
        for (size_t a = 0; a < sizeof ahead / sizeof *ahead; a++)
            for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
                run(mode, ahead[a], sizes[i], 1);
}

/* Four downloads at once on one session: the link's room is shared. */
static void test_json_concurrent(void **state)
{
    (void)state;
    for (flow_mode mode = JSON_PLAIN; mode <= JSON_ACKS; mode++)
        for (size_t a = 0; a < sizeof ahead / sizeof *ahead; a++)
            run(mode, ahead[a], 2 * MIB + 3, MAXDL);
}

/* Binary mode: the window (256 KiB, then credit per 128 KiB) and DATA frames of 64 KiB. */
static void test_bin_sizes(void **state)
{
    (void)state;
    const size_t sizes[] = {TTF_BIN_INITIAL_WINDOW - 1, TTF_BIN_INITIAL_WINDOW,
                            TTF_BIN_INITIAL_WINDOW + 1, MIB + 1, 3 * MIB};
    for (size_t a = 0; a < sizeof ahead / sizeof *ahead; a++) {
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
            run(BINARY, ahead[a], sizes[i], 1);
        run(BINARY, ahead[a], 2 * MIB + 3, MAXDL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_1mib_reads_256k),
        cmocka_unit_test(test_json_sizes),
        cmocka_unit_test(test_json_concurrent),
        cmocka_unit_test(test_bin_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
