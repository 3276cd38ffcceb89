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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "8")
        self.end_headers()
        self.wfile.write(b"ipv6 app")

    def log_message(self, *args):
        pass


class _Server6(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True


@pytest.fixture
def app6():
    s = _Server6(("::1", 0), _Handler)
    th = threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    th.start()
    yield s.server_address[1]
    s.shutdown()
    s.server_close()


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
    assert r.body == b"local service 127.0.0.1:%d: Connection refused\n" % app6, r.body
