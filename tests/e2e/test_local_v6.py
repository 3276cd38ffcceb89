# SPDX-License-Identifier: MIT
"""A local service that listens on ::1 only (a dev server bound to "localhost" where it resolves
to ::1 first: Node 17+, Vite) is reached when no host was given: `ttf PORT`, `-p PORT` and a
config file's `addr: PORT` try 127.0.0.1 and then ::1 (it was a 502 "Connection refused",
ngrok's and cloudflared's users met the same). A host that was given is the only one tried."""

import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import tunnelkit as tk
from test_inspector import Api


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.server.hits += 1
        self.send_response(200)
        self.send_header("Content-Length", "8")
        self.end_headers()
        self.wfile.write(b"ipv6 app")

    def log_message(self, *args):
        pass


class _Server6(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    hits = 0


@pytest.fixture
def srv6():
    """The service on ::1, its port number held on 127.0.0.1 by a socket bound but not listening
    (a connection there is refused): another test's server on 127.0.0.1 with the same number
    would otherwise answer for it (a 404 from someone else's app)."""
    for _ in range(50):
        s = _Server6(("::1", 0), _Handler)
        hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            hold.bind(("127.0.0.1", s.server_address[1]))
            break
        except OSError:
            hold.close()
            s.server_close()
    else:
        pytest.fail("no port number free on both 127.0.0.1 and ::1")
    th = threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    th.start()
    yield s
    s.shutdown()
    s.server_close()
    hold.close()


@pytest.fixture
def app6(srv6):
    return srv6.server_address[1]


def _get(d, a):
    return tk.http(d.port, "GET", "/x", tk.sub_host(d, a.tunnel_id))


@pytest.mark.parametrize("how", ["positional", "flag", "config"])
@pytest.mark.parametrize("mode", ["binary", "json"])
def test_no_host_given_reaches_a_service_on_ipv6_loopback(stack, app6, how, mode):
    d = stack.ttfd()
    proto = ("--protocol", mode)
    if how == "config":
        cfg = tk.write_config("tunnels:\n  web: {addr: %d}\n" % app6)
        try:
            p = tk.Proc("ttf", [tk.TTF_BIN, "-e", d.endpoint(), "--no-inspect", "--config", cfg]
                        + list(proto))
            stack.add_proc(p)
            m, _ = p.wait_line(r"^Tunnel web: https?://([a-z0-9]+)\.", 15)
            r = tk.http(d.port, "GET", "/x", tk.sub_host(d, m.group(1)))
        finally:
            os.unlink(cfg)
    elif how == "positional":
        p = tk.Proc("ttf", [tk.TTF_BIN, "-e", d.endpoint(), "--no-inspect", str(app6)]
                    + list(proto))
        stack.add_proc(p)
        m, _ = p.wait_line(r"Tunnel established: https?://([a-z0-9]+)\.", 15)
        r = tk.http(d.port, "GET", "/x", tk.sub_host(d, m.group(1)))
    else:
        r = _get(d, stack.ttf(d.endpoint(), app6, "--no-inspect", *proto))
    assert (r.status, r.body) == (200, b"ipv6 app"), (r.status, r.body)


def test_a_given_ipv4_host_is_the_only_one_tried(stack, app6):
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), app6, "--no-inspect", "--host", "127.0.0.1")
    r = _get(d, a)
    assert r.status == 502, (r.status, r.body)
    assert r.body == (b"local service 127.0.0.1:%d: Connection refused (is it running? nothing "
                      b"listens on that port)\n" % app6), r.body


@pytest.mark.parametrize("how", ["positional", "config"])
def test_replay_reaches_the_same_ipv6_only_service(stack, srv6, app6, how):
    """The inspector's replay goes where the tunnel goes: with no host given, 127.0.0.1 and then
    ::1 (it dialled 127.0.0.1 only: "cannot connect" for a service the tunnel reached)."""
    d = stack.ttfd()
    if how == "config":
        cfg = tk.write_config("tunnels:\n  web: {addr: %d}\n" % app6)
        try:
            p = stack.add_proc(tk.Proc("ttf", [tk.TTF_BIN, "-e", d.endpoint(), "--config", cfg]))
            m, _ = p.wait_line(r"^Tunnel web: https?://([a-z0-9]+)\.", 15)
            tid = m.group(1)
            api = Api(p.wait_line(r"^Inspector: (http://\S+)$", 15)[0].group(1))
        finally:
            os.unlink(cfg)
    else:
        a = stack.ttf(d.endpoint(), app6)
        tid, api = a.tunnel_id, Api(a.inspector())
    r = tk.http(d.port, "GET", "/x", tk.sub_host(d, tid))
    assert (r.status, r.body) == (200, b"ipv6 app"), (r.status, r.body)
    s = api.wait_entry(lambda e: e["target"] == "/x", "the original")
    new = api.replay(s["id"])
    x = api.wait_entry(lambda e: e["id"] == new["id"], "the replay")
    assert (x["state"], x["status"], x.get("error")) == ("done", 200, None), x
    assert srv6.hits == 2
