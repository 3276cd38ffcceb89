/* SPDX-License-Identifier: MIT */
/* agent_wire_fixture.c - a fake ttfd behind a real ttf session (see agent_wire_fixture.h). */
#include "agent_wire_fixture.h"

/* Keeps a copy of one message (NUL-terminated, for the text ones' string functions). */
static void keep(server *s, bool text, const uint8_t *data, size_t len)
{
    assert_true(s->n < MAX_MSGS);
    msg *m = &s->msgs[s->n++];
    m->text = text;
    m->data = malloc(len + 1);
    memcpy(m->data, data, len);
    m->data[len] = 0;
    m->len = len;
}

void srv_text(void *ud, const uint8_t *data, size_t len)
{
    keep(ud, true, data, len);
}

void srv_binary(void *ud, const uint8_t *data, size_t len)
{
    keep(ud, false, data, len);
}

void srv_drain(void *ud)
{
    (void)ud;
}

void srv_close(void *ud, uint16_t code, const char *reason)
{
    (void)code;
    (void)reason;
    ((server *)ud)->closed = true;
}

const ws_handlers srv_handlers = {srv_text, srv_binary, srv_drain, srv_close};

void on_established(void *ud, const tmsg *m)
{
    (void)ud;
    (void)m;
}

void on_closed(void *ud, uint16_t code, const char *reason)
{
    (void)ud;
    (void)code;
    (void)reason;
}

void on_refused(void *ud, const char *code, const char *message)
{
    (void)ud;
    (void)code;
    (void)message;
}

const session_cbs scbs = {on_established, on_closed, on_refused};

const char *const *fx_held;
fx *make_tunnels(bool binary, size_t ntun)
{
    fx *f = calloc(1, sizeof *f);
    f->base = event_base_new();
    f->loop = conn_loop_new(f->base);
    fl_init(&f->fl, f->base);
    fl_init(&f->fl2, f->base);
    char err[256];
    static char *names[2] = {"web", "api"};
    for (size_t i = 0; i < 2; i++) {
        int port = i ? f->fl2.port : f->fl.port;
        f->pools[i] = local_pool_new(f->loop, "127.0.0.1", port, NULL, 8, 3000, err, sizeof err);
        f->tun[i] = (agent_tunnel){.name = ntun > 1 ? names[i] : NULL,
                                   .local_host = (char *)"127.0.0.1",
                                   .local_port = port};
    }
    f->cfg.tunnels = f->tun;
    f->cfg.ntunnels = ntun;
    f->cfg.config_file = ntun > 1 ? (char *)"test.yml" : NULL;
    f->cfg.local_host = (char *)"127.0.0.1";
    f->cfg.local_port = f->fl.port;
    f->cfg.request_timeout = 5;
    f->cfg.max_response_head = 65536;
    f->log = (tlog){.level = TLOG_ERROR, .out = stderr, .prog = "test"};
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    conn *ca = conn_new(f->loop, sv[0], NULL, NULL, NULL);
    conn *cb = conn_new(f->loop, sv[1], NULL, NULL, NULL);
    f->srv.ws = ws_conn_new(cb, true, &srv_handlers, &f->srv, 64u << 20);
    session_ready ready = {.tunnel_id = fx_held ? fx_held[0] : NULL, .tunnel_ids = fx_held};
    f->s = session_new(f->base, ca, binary, &f->cfg, &f->log, f->pools, &f->obs, &ready, &scbs, f);
    assert_non_null(f->s);
    return f;
}

fx *make(bool binary)
{
    return make_tunnels(binary, 1);
}

void destroy(fx *f)
{
    session_free(f->s);
    ws_conn_free(f->srv.ws);
    for (size_t i = 0; i < f->srv.n; i++)
        free(f->srv.msgs[i].data);
    local_pool_free(f->pools[0]);
    local_pool_free(f->pools[1]);
    fl_free(&f->fl);
    fl_free(&f->fl2);
    conn_loop_free(f->loop);
    event_base_free(f->base);
    free(f);
}

bool has_msg(void *ud)
{
    fx *f = ud;
    return f->srv.n > f->seen;
}

msg *next_msg(fx *f)
{
    if (!fl_until(&f->fl, has_msg, f, 5000))
        fail_msg("no message from the agent");
    return &f->srv.msgs[f->seen++];
}

ttf_frame next_frame(fx *f)
{
    msg *m;
    do
        m = next_msg(f);
    while (m->text); /* ready, pings */
    ttf_frame fr;
    assert_int_equal(ttf_frame_decode(m->data, m->len, &fr), 0);
    return fr;
}

void next_json(fx *f, tmsg *out)
{
    for (;;) {
        msg *m = next_msg(f);
        if (!m->text)
            continue;
        const char *err = NULL;
        assert_int_equal(tmsg_decode((const char *)m->data, m->len, out, &err), 0);
        if (out->type == TMSG_READY || out->type == TMSG_PING) {
            tmsg_free(out);
            continue;
        }
        return;
    }
}

void send_open(fx *f, uint32_t sid, uint8_t tunnel, bool fin, const char *head)
{
    uint8_t hdr[TTF_BIN_OPEN_HDR];
    ttf_frame_open_header(hdr, fin ? TTF_FLAG_FIN : 0, sid, tunnel);
    ws_send_binary2(f->srv.ws, hdr, sizeof hdr, head, strlen(head));
}

void send_frame(fx *f, uint8_t type, uint8_t flags, uint32_t sid, const void *p, size_t n)
{
    uint8_t hdr[TTF_BIN_HDR];
    ttf_frame_header(hdr, type, flags, sid);
    ws_send_binary2(f->srv.ws, hdr, sizeof hdr, p, n);
}

void send_json(fx *f, const tmsg *m)
{
    size_t len = 0;
    char *s = tmsg_encode(m, &len);
    ws_send_text(f->srv.ws, s, len);
    free(s);
}

void send_ack(fx *f, tmsg_type of, const char *rid, uint32_t seq)
{
    tmsg a;
    tmsg_init(&a, TMSG_ACK);
    a.ack_of = of;
    a.request_id = rid ? strdup(rid) : NULL;
    a.seq = seq;
    send_json(f, &a);
    tmsg_free(&a);
}

void send_established(fx *f, uint32_t stream_window, uint32_t request_window)
{
    tmsg e;
    tmsg_init(&e, TMSG_CONNECTION_ESTABLISHED);
    e.connection_id = e.tunnel_id = "c";
    e.public_url = "http://c.x";
    e.stream_window = stream_window;
    e.request_window = request_window;
    send_json(f, &e);
}
