# SPDX-License-Identifier: MIT
"""Command-line habits of ngrok users (issue 16 "CLI habits"):

- `ttf 3000`, `ttf localhost:3000` and `ttf http://localhost:3000` name the local service;
- an endpoint without a path gets ttfd's /_tunnel; a wrong path (404 on the upgrade) stops ttf with
  a hint instead of retrying forever;
- a wrong scheme (wss:// to a plain server, ws:// to a TLS one) and a certificate that does not
  verify stop ttf with the reason (exit 1);
- the server's reason for a 401 is shown;
- usage errors exit 2 in both programs.
"""

import http.server
import json
import subprocess
import threading

import pytest

import pki
import tunnelkit as tk


def run(binary, *args):
    path = tk.TTFD_BIN if binary == "ttfd" else tk.TTF_BIN
    return tk.run([path] + list(args), stdin=subprocess.DEVNULL,
                  env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})


def ttf_proc(stack, *argv, rc=0):
    """ttf with exactly argv (no -e/-p added)."""
    return stack.add_proc(tk.Proc("ttf", [tk.TTF_BIN] + list(argv)), expect_rc=rc)


def established(p):
    m, _ = p.wait_line(r"^Tunnel established: http://([a-z0-9]{12})\.localhost:\d+$", 15)
    return m.group(1)


def fails(p, rc, *needles):
    code = p.wait_exit(20)
    assert code == rc, "exit %r, expected %r\n%s" % (code, rc, p.describe())
    err = p.stderr()
    for n in needles:
        assert n in err, "%r not in stderr\n%s" % (n, p.describe())
    assert "Tunnel established" not in p.stdout()
    assert "Reconnecting" not in err, p.describe()


@pytest.mark.parametrize("form", ["{port}", "127.0.0.1:{port}", "http://127.0.0.1:{port}",
                                  "http://localhost:{port}/", "localhost:{port}"])
def test_positional_local_service(stack, form):
    srv = stack.local()
    d = stack.ttfd()
    p = ttf_proc(stack, "-e", d.endpoint(), form.format(port=srv.port))
    tid = established(p)
    r = tk.http(d.port, "GET", "/pos", tk.sub_host(d, tid))
    assert r.status == 200, r.raw_head
    assert json.loads(r.body)["target"] == "/pos"


def test_endpoint_without_path_gets_tunnel_path(stack):
    srv = stack.local()
    d = stack.ttfd()
    for ep in ("ws://127.0.0.1:%d" % d.port, "http://127.0.0.1:%d/" % d.port):
        p = ttf_proc(stack, "-e", ep, str(srv.port))
        tid = established(p)
        assert tk.http(d.port, "GET", "/", tk.sub_host(d, tid)).status == 200
        assert p.stop() == 0


def test_wrong_path_stops_with_hint(stack):
    srv = stack.local()
    d = stack.ttfd()
    p = ttf_proc(stack, "-e", "ws://127.0.0.1:%d/tunnel" % d.port, str(srv.port), rc=1)
    fails(p, 1, "HTTP 404", "/_tunnel", "no tunnel endpoint at /tunnel")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = pki.make_ca(d)
    good = pki.make_server_cert(d, ca, "good", ["localhost"], ["127.0.0.1"])
    return {"ca": str(ca[2]), "good": [str(x) for x in good]}


def tls_ttfd(stack, certs):
    return stack.ttfd("--tls-cert", certs["good"][0], "--tls-key", certs["good"][1])


def test_wss_to_plain_server_stops(stack):
    srv = stack.local()
    plain = stack.ttfd()
    p = ttf_proc(stack, "-e", "wss://127.0.0.1:%d/_tunnel" % plain.port, str(srv.port), rc=1)
    fails(p, 1, "TLS handshake with 127.0.0.1 failed")


class _NginxTlsPort(http.server.BaseHTTPRequestHandler):
    """Answers as nginx does when plain HTTP reaches its TLS port (its exact 400 page)."""

    def do_GET(self):
        body = (b"<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title>"
                b"</head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>The "
                b"plain HTTP request was sent to HTTPS port</center>\r\n</body>\r\n</html>\r\n")
        self.send_response(400)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def test_ws_to_tls_port_stops_with_hint(stack):
    srv = stack.local()
    fake = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NginxTlsPort)
    t = threading.Thread(target=fake.serve_forever, daemon=True)
    t.start()
    try:
        p = ttf_proc(stack, "-e", "ws://127.0.0.1:%d/_tunnel" % fake.server_address[1],
                     str(srv.port), rc=1)
        fails(p, 1, "HTTP 400 Bad Request", "use a wss:// endpoint")
    finally:
        fake.shutdown()
        fake.server_close()


def test_unverified_certificate_stops(stack, certs):
    srv = stack.local()
    tls = tls_ttfd(stack, certs)  # signed by a CA ttf does not know
    p = ttf_proc(stack, "-e", "wss://localhost:%d/_tunnel" % tls.port, str(srv.port), rc=1)
    fails(p, 1, "TLS certificate verification failed for localhost")
    # with the CA it works: the failure was the certificate, nothing else
    ok = ttf_proc(stack, "-e", "wss://localhost:%d/_tunnel" % tls.port, "--ca-file", certs["ca"],
                  str(srv.port))
    ok.wait_line(r"^Tunnel established: https://", 15)


def test_401_reason_shown(stack):
    srv = stack.local()
    d = stack.ttfd("--require-auth", "--jwt-secret", "cli-secret-0123456789abcdef0123456")
    p = ttf_proc(stack, "-e", d.endpoint(), "-t", "not.a.jwt", str(srv.port), rc=2)
    # ttfd's reason starts with "authentication failed" too: said once
    fails(p, 2, "authentication failed: the server answered 401: malformed token")


@pytest.mark.parametrize("binary,args", [
    ("ttf", ["--no-such-flag"]), ("ttf", ["-p", "notaport"]), ("ttf", ["--protocol", "pigeon"]),
    ("ttf", ["3000", "4000"]), ("ttf", ["-p", "3000", "4000"]), ("ttf", ["https://localhost:0"]),
    ("ttf", ["ftp://localhost:3"]), ("ttf", ["tcp", "22"]), ("ttf", ["localhost"]),
    ("ttf", ["-e", "ftp://x/"]),
    ("ttf", ["http://localhost:3000/app"]), ("ttf", ["--subdomain", "www"]), ("ttf", ["-p"]),
    ("ttfd", ["--no-such-flag"]), ("ttfd", ["--listen", "nonsense"]), ("ttfd", ["stray"]),
    ("ttfd", ["--reconnect-grace", "-1"]), ("ttfd", ["--name-retention", "x"]),
    ("ttfd", ["--state", ""]), ("ttfd", ["--require-auth"]), ("ttfd", ["token"]),
])
def test_usage_errors_exit_2(binary, args):
    p = run(binary, *args)
    assert p.returncode == 2, "%s %s exited %r: %s" % (binary, args, p.returncode, p.stderr)
    assert p.stderr.strip(), "no message on stderr"


def test_ngrok_http_verb(stack):
    """`ttf http PORT` (typed as `ngrok http PORT`) is `ttf PORT`; before: "unexpected argument"."""
    srv = stack.local()
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), "http", str(srv.port), "--no-inspect")
    r = tk.http(d.port, "GET", "/verb", tk.sub_host(d, a.tunnel_id))
    assert r.status == 200 and json.loads(r.body)["target"] == "/verb", (r.status, r.body[:200])
