#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/cap-* and syn-*) from real messages.

    fuzz/seeds.py [--build DIR] [--only capture|synth]   (default: both; DIR default build)

capture ttfd + ttf (binary mode, then JSON mode) and the AWS stand-in + bootstrap + ttf, each agent
        connected through a WebSocket tap here that records every frame both ways while it relays
        them unchanged; a set of public requests (bodies in pieces, chunked, cookies, HEAD, 204,
        errors, timeouts, a refused local service, a cancelled download, a WebSocket upgrade) runs
        through. Text frames become fuzz_proto_json seeds, binary frames fuzz_proto_bin seeds.
        In the same stand-in run, every event the bootstrap fetched from the Runtime API (payload 2.0
        HTTP events, $connect/$default/$disconnect WebSocket events, a scheduled event) is recorded
        by a Runtime API tap (`seeds.py --runtime-tap DIR CMD...`, run by the stand-in as the
        Lambda command), and becomes a fuzz_lambda_event seed, with the stored response headers.
synth   inputs built from the documents for the targets whose input is not one network message:
        JWTs signed with the fuzz target's keys (fuzz_auth_token), Host/target pairs
        (fuzz_route).

Only cap-*/syn-* files are replaced; hand-written seeds stay. Loopback only; every process started
here is stopped here.
"""

import argparse
import base64
import collections
import ctypes
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")


def corpus_dir(target, prefix):
    """The target's corpus directory, emptied of files starting with prefix."""
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        if name.startswith(prefix):
            os.unlink(os.path.join(d, name))
    return d


def write_seeds(target, prefix, items):
    """items: [(name, bytes)]; names are made unique and file-system safe."""
    d = corpus_dir(target, prefix)
    seen = collections.Counter()
    for name, data in items:
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        seen[name] += 1
        path = os.path.join(d, "%s%s-%d" % (prefix, name, seen[name]))
        with open(path, "wb") as f:
            f.write(data)
    print("%s: %d %s* seeds" % (target, len(items), prefix))


# ------------------------------------------------------------------------ WebSocket tap


def _read_head(sock):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("closed before the end of the HTTP head")
        buf += chunk
    i = buf.index(b"\r\n\r\n") + 4
    return buf[:i], buf[i:]


class WsTap:
    """A TCP relay between agents and a WebSocket server that records every frame (unmasked
    payload, opcode, direction) and forwards the bytes unchanged."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.frames = []  # (direction "a2s"/"s2a", opcode, payload)
        self.socks = []
        self.closing = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            u = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            c.close()
            return
        with self.lock:
            self.socks += [c, u]
        try:
            head, rest = _read_head(c)
            u.sendall(head + rest)
            rhead, rrest = _read_head(u)
            c.sendall(rhead + rrest)
        except (OSError, EOFError):
            c.close()
            u.close()
            return
        if not rhead.startswith(b"HTTP/1.1 101"):
            c.close()
            u.close()
            return
        threading.Thread(target=self._pump, args=(c, u, "a2s", rest), daemon=True).start()
        self._pump(u, c, "s2a", rrest)

    def _pump(self, src, dst, direction, buf):
        msg_op, parts = None, []
        while True:
            while True:  # every complete frame in buf
                if len(buf) < 2:
                    break
                b0, b1 = buf[0], buf[1]
                n, off = b1 & 0x7F, 2
                if n == 126:
                    if len(buf) < 4:
                        break
                    n, off = struct.unpack(">H", buf[2:4])[0], 4
                elif n == 127:
                    if len(buf) < 10:
                        break
                    n, off = struct.unpack(">Q", buf[2:10])[0], 10
                key = None
                if b1 & 0x80:
                    if len(buf) < off + 4:
                        break
                    key, off = buf[off:off + 4], off + 4
                if len(buf) < off + n:
                    break
                payload = buf[off:off + n]
                if key:
                    payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
                buf = buf[off + n:]
                fin, op = b0 & 0x80, b0 & 0x0F
                if op >= 8:
                    self._record(direction, op, payload)
                    continue
                if op != 0:
                    msg_op, parts = op, []
                parts.append(payload)
                if fin:
                    self._record(direction, msg_op, b"".join(parts))
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            try:
                dst.sendall(data)
            except OSError:
                return
            buf += data

    def _record(self, direction, op, payload):
        with self.lock:
            self.frames.append((direction, op, payload))

    def close(self):
        self.lsock.close()
        with self.lock:
            for s in self.socks:
                try:
                    s.close()
                except OSError:
                    pass


# ------------------------------------------------------------------------ Runtime API tap


def _pdeathsig():
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def runtime_tap(capdir, cmd):
    """Runs cmd (the Lambda) against a relay of AWS_LAMBDA_RUNTIME_API that saves every event the
    function fetches (GET .../invocation/next) into capdir. Exits with cmd's exit code."""
    upstream = os.environ["AWS_LAMBDA_RUNTIME_API"]
    count = [0]
    lock = threading.Lock()

    class Relay(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def relay(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else None
            hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            conn = http.client.HTTPConnection(upstream, timeout=None)
            try:
                conn.request(self.command, self.path, body, hdrs)
                r = conn.getresponse()
                data = r.read()
                rh = [(k, v) for k, v in r.getheaders()
                      if k.lower() not in ("transfer-encoding", "connection", "content-length")]
            finally:
                conn.close()
            if self.command == "GET" and self.path.endswith("/invocation/next") and r.status == 200:
                with lock:
                    count[0] += 1
                    path = os.path.join(capdir, "%d-%d.json" % (os.getpid(), count[0]))
                with open(path, "wb") as f:
                    f.write(data)
            self.send_response(r.status)
            for k, v in rh:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = relay

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % srv.server_address[1])
    p = subprocess.Popen(cmd, env=env, preexec_fn=_pdeathsig)
    signal.signal(signal.SIGTERM, lambda *_: p.terminate())
    rc = p.wait()
    srv.shutdown()
    sys.exit(rc)


# ------------------------------------------------------------------------ traffic


def body_of(n, seed):
    return random.Random(seed).randbytes(n)


def drive_ttfd(tk, port, host, phost, tid, ws_ok):
    """Public requests through ttfd; every answer is checked so that a broken run is noticed."""
    def ok(r, status=200):
        assert r.status == status, (status, r.status, r.raw_head)
        return r

    ok(tk.http(port, "GET", "/hello?x=1&y=%20z", host,
               [("X-Rep", "1"), ("X-Rep", "2"), ("Cookie", "a=1; b=2"), ("Accept", "*/*")]))
    ok(tk.http(port, "GET", "/%s/p/q?r=s" % tid, phost))
    b = body_of(200000, 1)  # over one JSON-mode piece (93 KiB): pieces both ways
    assert ok(tk.http(port, "POST", "/raw-echo", host, [("Content-Type", "application/octet-stream")], b)).body == b
    b = body_of(20000, 2)
    assert ok(tk.http(port, "POST", "/raw-echo", host, body=b, chunked=True)).body == b
    ok(tk.http(port, "PROPFIND", "/dav/", host, [("Depth", "1"), ("Content-Type", "application/xml")],
               b'<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>'))
    ok(tk.http(port, "GET", "/cookies", host))
    for mode in ("length", "chunked", "close"):
        ok(tk.http(port, "GET", "/download?n=70000&mode=%s" % mode, host))
    ok(tk.http(port, "HEAD", "/head", host))
    ok(tk.http(port, "GET", "/status/204", host), 204)
    ok(tk.http(port, "GET", "/status/503", host), 503)
    ok(tk.http(port, "GET", "/hop", host))
    c = tk.RawConn(port)
    try:  # Expect: 100-continue
        c.send(tk.build_request("PUT", "/raw-echo", host, [("Expect", "100-continue")], b"x" * 3000))
        r = c.read_response()
        while r.status == 100:
            r = c.read_response()
        ok(r)
    finally:
        c.close()
    ok(tk.http(port, "GET", "/hang", host, timeout=30), 504)  # ttf --request-timeout 1
    c = tk.RawConn(port)
    try:  # a client that leaves in the middle of a download: the stream is cancelled
        c.send(tk.build_request("GET", "/download?n=%d&mode=chunked" % (20 * tk.MB), host))
        c.read_head()
    finally:
        c.close()
    if ws_ok:
        c = tk.RawConn(port)
        try:
            key = base64.b64encode(b"0123456789abcdef").decode()
            c.send(tk.build_request("GET", "/ws", host, [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                                         ("Sec-WebSocket-Key", key),
                                                         ("Sec-WebSocket-Version", "13")]))
            assert c.read_head()[0] == 101
            for op, payload in ((1, b"hello"), (2, bytes(range(256))), (8, b"\x03\xe8bye")):
                c.send(tk.ws_frame(op, payload, mask=True))
                tk.ws_read_message(c.read_exact)
        finally:
            c.close()


def capture_ttfd(build):
    sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
    os.environ.setdefault("TTFD_BIN", os.path.join(build, "bin", "ttfd"))
    os.environ.setdefault("TTF_BIN", os.path.join(build, "bin", "ttf"))
    import localsrv
    import tunnelkit as tk

    frames = []
    for mode in ("binary", "json"):
        srv = localsrv.LocalServer()
        d = tk.Ttfd("--request-timeout", "30")
        tap = WsTap(d.port)
        agents = []
        try:
            extra = ["--protocol", mode, "--request-timeout", "1"]
            a = tk.Ttf("ws://127.0.0.1:%d/_tunnel" % tap.port, srv.port, *extra)
            agents.append(a)
            drive_ttfd(tk, d.port, tk.sub_host(d, a.tunnel_id), tk.path_host(d), a.tunnel_id, mode == "binary")
            # a local service that refuses connections
            b = tk.Ttf("ws://127.0.0.1:%d/_tunnel" % tap.port, tk.free_port(), *extra)
            agents.append(b)
            r = tk.http(d.port, "GET", "/refused", tk.sub_host(d, b.tunnel_id))
            assert r.status == 502, r.raw_head
        finally:
            for a in agents:
                a.stop()
            d.stop()
            srv.close()
            tap.close()
        frames += tap.frames
    return frames


def capture_lambda(build):
    sys.path.insert(0, os.path.join(REPO, "tests", "aws"))
    os.environ.setdefault("TTF_BIN", os.path.join(build, "bin", "ttf"))
    os.environ.setdefault("BOOTSTRAP_BIN", os.path.join(build, "bin", "bootstrap"))
    import awskit as ak

    tmp = tempfile.mkdtemp(prefix="fuzz-seeds-")
    capdir = os.path.join(tmp, "events")
    os.makedirs(capdir)
    cmd = [sys.executable, os.path.abspath(__file__), "--runtime-tap", capdir, ak.BOOTSTRAP_BIN]
    standin = ak.Standin(os.path.join(tmp, "standin"), lambda_cmd=cmd, env={"REQUEST_TIMEOUT_SECS": "2"})
    app = ak.LocalApp()
    tap = WsTap(int(standin.ws_url.split(":")[2].split("/")[0]))
    agent = None
    try:
        ws_url = standin.ws_url.replace(":%d/" % tap.upstream_port, ":%d/" % tap.port)
        agent = ak.Agent(ws_url, app.port, token="eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZWVkIn0.c2ln")
        tid = ak.tunnel_id(agent.wait_established(30))
        t = ak.Tunnel(standin, tid)

        def ok(r, status=200):
            assert r.status == status, (status, r.status, r.body[:200])
            return r

        ok(t.sub("GET", "/echo/a%2Fb?x=1&x=2&e=%C3%A9", [("Cookie", "a=1; b=2"), ("X-Rep", "1"), ("X-Rep", "2")]))
        ok(t.path("GET", "/html"))
        data = body_of(200000, 3)  # over one piece (93 KiB) both ways
        ok(t.sub("POST", "/raw-echo", [("Content-Type", "application/octet-stream")], data))
        ok(t.path("PUT", "/upload", [("Content-Type", "text/plain; charset=utf-8")], b"plain text body"))
        ok(t.sub("POST", "/upload", [("Content-Type", "application/json")], chunks=[b'{"a":', b'[1,2]}']))
        ok(t.sub("GET", "/cookies"))
        ok(t.sub("HEAD", "/status/204"), 204)
        ok(t.sub("GET", "/download?n=200000"))
        ok(t.sub("GET", "/hang"), 504)
        ok(ak.public(standin.http_port, "GET", "/x", "zzzzzzzzzzzz.%s:%d" % (ak.DOMAIN, standin.http_port)), 404)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        r = standin.invoke({"version": "0", "id": "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c",
                            "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
                            "time": now, "region": "us-east-1",
                            "resources": ["arn:aws:events:us-east-1:123456789012:rule/http-tunnel-cleanup"],
                            "detail": {}})
        assert r["ok"], r
    finally:
        if agent:
            agent.stop()
        app.close()
        tap.close()
        standin.stop()
    events = []
    for name in sorted(os.listdir(capdir)):
        with open(os.path.join(capdir, name), "rb") as f:
            events.append(f.read())
    shutil.rmtree(tmp, ignore_errors=True)
    return tap.frames, events


# ------------------------------------------------------------------------ selection


BIN_TYPES = {1: "OPEN", 2: "DATA", 3: "RESPONSE", 4: "WINDOW", 5: "RESET"}
SHORT_BODY = 64  # base64 characters kept of a long body (a prefix of whole quanta stays valid)


def shorten(text):
    """A message or event with its long body strings cut short (the fuzzer runs a 20 KiB input
    ~100 times slower than a small one, for no more code reached); JSON text stays compact."""
    def cut(obj):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k == "body" and isinstance(v, str) and len(v) > SHORT_BODY:
                    try:
                        inner = json.loads(v)  # a $default event: the agent's message inside
                        obj[k] = json.dumps(cut(inner), separators=(",", ":"), ensure_ascii=False)
                    except ValueError:
                        obj[k] = v[:SHORT_BODY]
                else:
                    cut(v)
        elif isinstance(obj, list):
            for v in obj:
                cut(v)
        return obj
    return json.dumps(cut(json.loads(text)), separators=(",", ":"), ensure_ascii=False).encode()


def pick_frames(frames, per_kind=3, max_len=40000):
    """Text and binary frames, at most per_kind of each (direction, message type, size class)."""
    texts, bins = [], []
    kinds = collections.Counter()
    for direction, op, payload in frames:
        if op == 1:
            try:
                kind = json.loads(payload).get("type", "none")
            except ValueError:
                kind = "notjson"
            size = "long" if len(payload) > 1024 else "short"
            k = ("t", direction, kind, size)
            if kinds[k] < per_kind and len(payload) <= max_len:
                kinds[k] += 1
                if size == "long":
                    payload = shorten(payload)
                texts.append(("%s-%s-%s" % (direction, kind, size), payload))
        elif op == 2 and len(payload) >= 6:
            kind = BIN_TYPES.get(payload[0], "type%d" % payload[0])
            flags = payload[1]
            k = ("b", direction, kind, flags, len(payload) > 4096)
            if kinds[k] < per_kind:
                kinds[k] += 1
                if len(payload) > 4096:  # a DATA frame cut short is still a DATA frame
                    payload = payload[:4096]
                bins.append(("%s-%s-f%d" % (direction, kind, flags), payload))
    return texts, bins


def pick_events(events, per_kind=2):
    out = []
    kinds = collections.Counter()
    for raw in events:
        ev = json.loads(raw)
        ctx = ev.get("requestContext") or {}
        if ev.get("version") == "2.0" and "http" in ctx:
            kind = "http-%s" % ctx["http"].get("method", "?")
        elif "eventType" in ctx:
            kind = "ws-%s" % ctx["eventType"].lower()
            if ctx["eventType"] == "MESSAGE":
                try:
                    kind += "-" + json.loads(ev.get("body") or "{}").get("type", "none")
                except ValueError:
                    kind += "-notjson"
        elif ev.get("detail-type"):
            kind = "scheduled"
        else:
            kind = "other"
        if kinds[kind] < per_kind:
            kinds[kind] += 1
            out.append((kind, shorten(raw) if len(raw) > 4096 else raw))
    return out


# ------------------------------------------------------------------------ synthetic (from the documents)


def _b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _jwt(header, claims, sign):
    h = _b64u(json.dumps(header, separators=(",", ":")).encode())
    c = _b64u(json.dumps(claims, separators=(",", ":")).encode())
    return "%s.%s.%s" % (h, c, _b64u(sign(("%s.%s" % (h, c)).encode())))


# The fuzz target's keys (fuzz/fuzz_auth_token.c): derived from fixed numbers here, so valid
# signatures can be made without a private key in the tree.
FUZZ_SECRET = b"fuzz-secret-fuzz-secret-fuzz-sec"
FUZZ_NOW = 1790000000  # the target's fixed clock


def _fuzz_keys():
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    ec_key = ec.derive_private_key(int.from_bytes(hashlib.sha256(b"fuzz-ec").digest(), "big") % (2 ** 255),
                                   ec.SECP256R1())
    rnd = random.Random("fuzz-rsa")

    def prime(bits):
        while True:
            n = rnd.getrandbits(bits) | (1 << (bits - 1)) | 1
            if all(pow(a, n - 1, n) == 1 for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)):
                return n
    e = 65537
    while True:
        p, q = prime(1024), prime(1024)
        phi = (p - 1) * (q - 1)
        if p != q and phi % e:
            break
    d = pow(e, -1, phi)
    nums = rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q),
                                 rsa.rsa_crt_iqmp(p, q), rsa.RSAPublicNumbers(e, p * q))
    return ec_key, nums.private_key()


def fuzz_jwks():
    """The JWKS fuzz/fuzz_auth_token.c embeds (printed by --print-jwks)."""
    ec_key, rsa_key = _fuzz_keys()
    pe, pr = ec_key.public_key().public_numbers(), rsa_key.public_key().public_numbers()
    return {"keys": [
        {"kty": "EC", "crv": "P-256", "kid": "fuzz-ec", "use": "sig", "alg": "ES256",
         "x": _b64u(pe.x.to_bytes(32, "big")), "y": _b64u(pe.y.to_bytes(32, "big"))},
        {"kty": "RSA", "kid": "fuzz-rsa", "use": "sig", "e": _b64u(pr.e.to_bytes(3, "big")),
         "n": _b64u(pr.n.to_bytes(256, "big"))}]}


def synth_auth():
    import hmac
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    ec_key, rsa_key = _fuzz_keys()

    def hs(alg, key=FUZZ_SECRET):
        h = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
        return lambda m: hmac.new(key, m, h).digest()

    def rs(alg):
        h = {"RS256": hashes.SHA256(), "RS384": hashes.SHA384(), "RS512": hashes.SHA512()}[alg]
        return lambda m: rsa_key.sign(m, padding.PKCS1v15(), h)

    def es(m):
        r, s = decode_dss_signature(ec_key.sign(m, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    ok = {"sub": "alice", "iat": FUZZ_NOW - 60, "exp": FUZZ_NOW + 3600}
    tokens = [
        ("hs256", _jwt({"alg": "HS256", "typ": "JWT"}, ok, hs("HS256"))),
        ("hs256-nbf", _jwt({"alg": "HS256"}, dict(ok, nbf=FUZZ_NOW - 1, aud="x", iss="y"), hs("HS256"))),
        ("hs256-expired", _jwt({"alg": "HS256"}, dict(ok, exp=FUZZ_NOW - 1), hs("HS256"))),
        ("hs256-notyet", _jwt({"alg": "HS256"}, dict(ok, nbf=FUZZ_NOW + 600), hs("HS256"))),
        ("hs256-nosub", _jwt({"alg": "HS256"}, {"exp": FUZZ_NOW + 60}, hs("HS256"))),
        ("hs256-float-exp", _jwt({"alg": "HS256"}, dict(ok, exp=FUZZ_NOW + 0.5), hs("HS256"))),
        ("hs256-wrongkey", _jwt({"alg": "HS256"}, ok, hs("HS256", b"another-secret-another-secret-00"))),
        ("hs384", _jwt({"alg": "HS384"}, ok, hs("HS384"))),
        ("rs256", _jwt({"alg": "RS256", "kid": "fuzz-rsa"}, ok, rs("RS256"))),
        ("rs384", _jwt({"alg": "RS384", "kid": "fuzz-rsa"}, ok, rs("RS384"))),
        ("rs512", _jwt({"alg": "RS512", "kid": "fuzz-rsa"}, ok, rs("RS512"))),
        ("rs256-nokid", _jwt({"alg": "RS256"}, ok, rs("RS256"))),
        ("rs256-unknown-kid", _jwt({"alg": "RS256", "kid": "nope"}, ok, rs("RS256"))),
        ("es256", _jwt({"alg": "ES256", "kid": "fuzz-ec", "typ": "JWT"}, ok, es)),
        ("es256-nokid", _jwt({"alg": "ES256"}, ok, es)),
        ("es256-as-rs", _jwt({"alg": "RS256", "kid": "fuzz-ec"}, ok, es)),
        ("none", _jwt({"alg": "none"}, ok, lambda m: b"")),
        ("ps256", _jwt({"alg": "PS256", "kid": "fuzz-rsa"}, ok, rs("RS256"))),
    ]
    items = [("verify-" + n, b"\x00" + t.encode()) for n, t in tokens]
    tok = tokens[0][1]
    for n, auth, query in (("bearer", "Bearer " + tok, ""), ("bearer-lower", "bearer  " + tok, ""),
                           ("basic", "Basic YWxpY2U6c2VjcmV0", "token=" + tok),
                           ("query", "", "token=%s&x=1" % tok), ("query-second", "", "a=b&token=" + tok),
                           ("query-encoded", "", "token=" + tok.replace(".", "%2E")),
                           ("empty", "", "")):
        items.append(("extract-" + n, b"\x01" + ("%s\n%s" % (auth, query)).encode()))
    jwks = fuzz_jwks()
    items.append(("load-fuzz", b"\x02" + json.dumps(jwks).encode()))
    items.append(("load-ec", b"\x02" + json.dumps({"keys": [jwks["keys"][0]]}).encode()))
    items.append(("load-rsa-alg", b"\x02" + json.dumps({"keys": [dict(jwks["keys"][1], alg="RS512")]}).encode()))
    items.append(("load-enc", b"\x02" + json.dumps({"keys": [dict(jwks["keys"][1], use="enc")]}).encode()))
    items.append(("load-oct", b"\x02" + b'{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}'))
    items.append(("load-p384", b"\x02" + json.dumps({"keys": [dict(jwks["keys"][0], crv="P-384")]}).encode()))
    return items


def synth_route():
    """byte 0 host length, byte 1 domain length, host, domain, target (fuzz/fuzz_route.c)."""
    tid = "abc123def456"
    cases = [
        ("%s.localhost:8080" % tid, "localhost", "/"),
        ("%s.localhost" % tid, "localhost", "/a/b?c=d"),
        ("%s.TUNNEL.example.com" % tid.upper(), "tunnel.example.com", "/x"),
        ("%s.tunnel.example.com." % tid, "tunnel.example.com", "/x"),
        ("%s.tunnel.example.com:443" % tid, "tunnel.example.com", "*"),
        ("localhost:8080", "localhost", "/%s" % tid),
        ("localhost:8080", "localhost", "/%s/" % tid),
        ("localhost:8080", "localhost", "/%s?q=1" % tid),
        ("localhost:8080", "localhost", "/%s/todos/?a=%%2F#frag" % tid),
        ("tunnel.example.com", "tunnel.example.com", "/%s//x" % tid),
        ("tunnel.example.com", "tunnel.example.com", "/%sx/y" % tid),
        ("tunnel.example.com", "tunnel.example.com", "/%s" % tid[:11]),
        ("www.tunnel.example.com", "tunnel.example.com", "/%s/w" % tid),
        ("a.%s.localhost" % tid, "localhost", "/"),
        ("[::1]:8080", "localhost", "/%s/v6" % tid),
        ("127.0.0.1:8080", "localhost", "/%s/ip" % tid),
        ("", "localhost", "/%s" % tid),
        ("%s.localhost" % tid, "", "/"),
        ("http://%s.localhost/" % tid, "localhost", "http://%s.localhost/abs" % tid),
        ("%s.localhost" % tid, "localhost", ""),
    ]
    items = []
    for i, (host, domain, target) in enumerate(cases):
        h, d, t = host.encode(), domain.encode(), target.encode()
        items.append(("case%02d" % i, bytes([len(h), len(d)]) + h + d + t))
    return items


def stored_headers():
    """fuzz_lambda_event also reads its input as the stored headers of a response (responseData
    written by the Lambda from an agent's http_response: name -> array of values)."""
    return [("respheaders", json.dumps(h, separators=(",", ":")).encode()) for h in (
        {"content-type": ["text/html; charset=utf-8"], "set-cookie": ["a=1; Path=/", "b=2; HttpOnly"]},
        {"Content-Length": ["12"], "Location": ["/login"], "X-Multi": ["1", "2"]},
        {"x-empty": [], "x-num": [1], "x-null": [None], "x-str": "notalist"},
    )]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--only", choices=("capture", "synth"))
    ap.add_argument("--print-jwks", action="store_true")
    ap.add_argument("--runtime-tap", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    if args.runtime_tap:
        return runtime_tap(args.runtime_tap[0], args.runtime_tap[1:])
    if args.print_jwks:
        print(json.dumps(fuzz_jwks(), separators=(",", ":")))
        return 0
    build = os.path.abspath(args.build)
    if args.only in (None, "capture"):
        frames = capture_ttfd(build)
        lframes, events = capture_lambda(build)
        texts, bins = pick_frames(frames)
        ltexts, _ = pick_frames(lframes)
        write_seeds("fuzz_proto_json", "cap-", [("ttfd-" + n, p) for n, p in texts] +
                    [("lambda-" + n, p) for n, p in ltexts])
        write_seeds("fuzz_proto_bin", "cap-", bins)
        write_seeds("fuzz_lambda_event", "cap-", pick_events(events) + stored_headers())
    if args.only in (None, "synth"):
        write_seeds("fuzz_auth_token", "syn-", synth_auth())
        write_seeds("fuzz_route", "syn-", synth_route())
    return 0


if __name__ == "__main__":
    sys.exit(main())
