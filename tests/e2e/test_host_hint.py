# SPDX-License-Identifier: MIT
"""A development server that checks Host (Vite: 403 "Blocked request. This host (...) is not
allowed", webpack-dev-server: "Invalid Host header") refuses the public name the tunnel passes on
by default (ngrok's default too). ttf now says once per tunnel what fixes it (--host-header
rewrite, ngrok's --host-header=rewrite) and the Host it would send; with it the server answers.
Before, the only sign was the 403 in the log line. Other 403s give no hint."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import tunnelkit as tk

VITE = b'Blocked request. This host ("%s") is not allowed.\nTo allow this host, add it to ' \
       b'`server.allowedHosts` in vite.config.js.'


class _DevServer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        port = self.server.server_address[1]
        host = self.headers.get("Host", "")
        if self.path == "/forbidden":  # an ordinary 403 of the app: no hint
            status, body = 403, b"forbidden: no access to this page"
        elif host in ("localhost:%d" % port, "127.0.0.1:%d" % port):
            status, body = 200, b"dev page"
        else:
            status, body = 403, VITE % host.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def devserver():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _DevServer)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()
    t.join(10)


HINT = r"WARN the local service refused the public Host header \(403: .*--host-header rewrite "


def test_host_check_refusal_hints_host_header_rewrite_once(stack, devserver):
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), "localhost:%d" % devserver, "--no-inspect")
    host = tk.sub_host(d, a.tunnel_id)
    assert tk.http(d.port, "GET", "/forbidden", host).status == 403
    for _ in range(3):
        r = tk.http(d.port, "GET", "/", host)
        assert r.status == 403 and b"Blocked request" in r.body, (r.status, r.body)
    m, i = a.proc.wait_line(HINT + r"sends it Host: localhost:%d instead$" % devserver, 10,
                            stream="err")
    assert tk.http(d.port, "GET", "/again", host).status == 403
    a.proc.wait_line(r"GET /again -> 403 ", 10, stream="err", start=i + 1)
    hints = [ln for ln in a.proc.err_lines if "refused the public Host header" in ln]
    assert len(hints) == 1, hints


def test_no_hint_with_rewrite_and_the_page_loads(stack, devserver):
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), "localhost:%d" % devserver, "--no-inspect", "--host-header",
                  "rewrite")
    host = tk.sub_host(d, a.tunnel_id)
    r = tk.http(d.port, "GET", "/", host)
    assert (r.status, r.body) == (200, b"dev page"), (r.status, r.body)
    _, i = a.proc.wait_line(r"GET / -> 200 ", 10, stream="err")
    # a hint is logged at its exchange's end: one more exchange's line, and the first's is out
    assert tk.http(d.port, "GET", "/again", host).status == 200
    a.proc.wait_line(r"GET /again -> 200 ", 10, stream="err", start=i + 1)
    assert not any("refused the public Host" in ln for ln in a.proc.err_lines)


def test_an_ordinary_403_gives_no_hint(stack, devserver):
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), "localhost:%d" % devserver, "--no-inspect")
    host = tk.sub_host(d, a.tunnel_id)
    i = -1
    for _ in range(3):  # a hint is logged at its exchange's end: the last one's line follows it
        assert tk.http(d.port, "GET", "/forbidden", host).status == 403
        _, i = a.proc.wait_line(r"GET /forbidden -> 403 ", 10, stream="err", start=i + 1)
    assert not any("refused the public Host" in ln for ln in a.proc.err_lines)
