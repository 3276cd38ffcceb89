#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""make bench-soak (bench/soak.sh): minutes of steady mixed load through ttfd + ttf, watching their
memory and file descriptors (issue 12, "Tests that stay"). Not part of `make test`.

Starts a local service (this file, `serve`: a threaded HTTP/1.1 server), ttfd and ttf, then
SOAK_WORKERS client threads loop over a mix of exchanges through the tunnel, each carrying its own
marker (worker, sequence number, random) that the answer must carry back exactly:
  small GET (answer: the marker), POST echo of 1-64 KiB, PUT upload of 1-4 MiB (answer: marker,
  length, SHA-256), download of 1-4 MiB (Content-Length or chunked; bytes derived from the marker),
  server-sent events (5 events, 20 ms apart, each naming the marker and its index), and WebSocket
  upgrades (binary mode only: 3 messages echoed, then a close).
Every SOAK_INTERVAL seconds it prints the exchanges done and ttfd's and ttf's RSS and open fds.

Fails (exit 1) when any exchange fails or gets an answer that is not its own, when after the
warm-up (SOAK_WARMUP s) RSS exceeds the warm-up's peak by more than SOAK_RSS_SLACK_MB or fds the
warm-up's peak by more than SOAK_FD_SLACK, when ttfd's fds do not return to their idle count (+2)
within 15 s of the load stopping, or when ttfd or ttf exits. Exit 2: set-up failed.
Environment: SOAK_DURATION (300 s), SOAK_WARMUP (30 s), SOAK_INTERVAL (10 s), SOAK_WORKERS (8),
SOAK_PROTOCOL (binary; or json), SOAK_TLS (0; 1: public HTTPS and agent wss://),
SOAK_RSS_SLACK_MB (4), SOAK_FD_SLACK (8), BUILD, TTFD_BIN, TTF_BIN.
"""

import hashlib
import http.client
import os
import random
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import benchlib as bl

sys.path.insert(0, os.path.join(bl.ROOT, "tests", "e2e"))
import tunnelkit as tk  # noqa: E402  (WebSocket frame helpers, standard library only)

KIB, MIB = 1024, 1024 * 1024


def pattern(marker, n):
    """N bytes derived from MARKER: what the service sends and the client expects for it."""
    unit = (marker + ":").encode()
    return (unit * (n // len(unit) + 1))[:n]


# ---------------------------------------------------------------------- the local service


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        u = urlsplit(self.path)
        q = parse_qs(u.query)
        m = q.get("m", [""])[0]
        n = int(q.get("n", ["0"])[0])
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if u.path == "/small":
            return self.answer((m + "\n").encode())
        if u.path == "/echo":
            return self.answer(body)
        if u.path == "/upload":
            return self.answer(("%s %d %s\n" % (m, len(body), hashlib.sha256(body).hexdigest())).encode())
        if u.path == "/download":
            data = pattern(m, n)
            if q.get("chunked"):
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(0, len(data), 256 * KIB):
                    piece = data[i:i + 256 * KIB]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
                return None
            return self.answer(data)
        if u.path == "/sse":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(n):
                ev = ("id: %d\ndata: %s %d\n\n" % (i, m, i)).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(ev), ev))
                self.wfile.flush()
                time.sleep(0.02)
            self.wfile.write(b"0\r\n\r\n")
            return None
        if u.path == "/ws":
            return self.websocket()
        return self.answer(b"not found\n", 404)

    do_POST = do_PUT = do_GET

    def answer(self, body, status=200):
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        self.wfile.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Accept: %s\r\n\r\n" % tk.ws_accept(key)).encode())
        self.wfile.flush()
        self.close_connection = True

        def read_exact(k):
            d = self.rfile.read(k)
            if len(d) != k:
                raise EOFError
            return d
        try:
            while True:
                _fin, op, _masked, payload = tk.ws_read_frame(read_exact)
                if op == 8:
                    self.wfile.write(tk.ws_frame(8, payload[:2], False))
                    return
                self.wfile.write(tk.ws_frame(op, payload, False))
                self.wfile.flush()
        except (EOFError, OSError):
            return


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, EOFError, TimeoutError)):
            super().handle_error(request, client_address)


def serve():
    httpd = Server(("127.0.0.1", 0), Handler)
    print("PORT %d" % httpd.server_address[1], flush=True)
    httpd.serve_forever()


# ---------------------------------------------------------------------- the load


class Load:
    def __init__(self, port, host, ctx, websockets):
        self.port, self.host, self.ctx, self.websockets = port, host, ctx, websockets
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.done = {}  # kind -> count
        self.errors = []  # first errors, text
        self.nerrors = 0

    def connect(self, timeout=30):
        if self.ctx:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=self.ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def fail(self, kind, marker, what):
        with self.lock:
            self.nerrors += 1
            if len(self.errors) < 20:
                self.errors.append("%s %s: %s" % (kind, marker, what))

    def count(self, kind):
        with self.lock:
            self.done[kind] = self.done.get(kind, 0) + 1

    def exchange(self, conn, method, target, body=None, headers=None):
        h = {"Host": self.host}
        h.update(headers or {})
        conn.request(method, target, body=body, headers=h)
        r = conn.getresponse()
        return r.status, r.read()

    def worker(self, wid):
        rnd = random.Random(wid)
        conn = self.connect()
        seq = 0
        kinds = ["small"] * 60 + ["echo"] * 15 + ["upload"] * 5 + ["download"] * 6 + ["sse"] * 8
        if self.websockets:
            kinds += ["ws"] * 6
        while not self.stop.is_set():
            seq += 1
            kind = rnd.choice(kinds)
            m = "w%d-%d-%s" % (wid, seq, os.urandom(4).hex())
            try:
                if kind == "small":
                    st, body = self.exchange(conn, "GET", "/small?m=" + m)
                    ok = st == 200 and body == (m + "\n").encode()
                elif kind == "echo":
                    data = pattern(m, rnd.randint(1, 64) * KIB)
                    st, body = self.exchange(conn, "POST", "/echo?m=" + m, data)
                    ok = st == 200 and body == data
                elif kind == "upload":
                    data = pattern(m, rnd.randint(1, 4) * MIB)
                    st, body = self.exchange(conn, "PUT", "/upload?m=" + m, data)
                    ok = st == 200 and body == ("%s %d %s\n" % (m, len(data), hashlib.sha256(data).hexdigest())).encode()
                elif kind == "download":
                    n = rnd.randint(1, 4) * MIB + rnd.randint(0, 1000)
                    st, body = self.exchange(conn, "GET", "/download?m=%s&n=%d%s" % (m, n, "&chunked=1" if seq % 2 else ""))
                    ok = st == 200 and body == pattern(m, n)
                elif kind == "sse":
                    c = self.connect()
                    try:
                        st, body = self.exchange(c, "GET", "/sse?n=5&m=" + m, headers={"Accept": "text/event-stream"})
                    finally:
                        c.close()
                    ok = st == 200 and body == b"".join(b"id: %d\ndata: %s %d\n\n" % (i, m.encode(), i) for i in range(5))
                else:
                    ok, st, body = self.ws(m)
                if not ok:
                    self.fail(kind, m, "HTTP %s, answer %r" % (st, body[:80]))
                    conn.close()
                    conn = self.connect()
                else:
                    self.count(kind)
            except (OSError, http.client.HTTPException, EOFError, ValueError) as e:
                self.fail(kind, m, repr(e))
                conn.close()
                conn = self.connect()
        conn.close()

    def ws(self, m):
        """One WebSocket upgrade through the tunnel: 3 messages echoed, then a close."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        if self.ctx:
            s = self.ctx.wrap_socket(s, server_hostname="127.0.0.1")
        try:
            f = s.makefile("rb")
            key = "dGhlIHNhbXBsZSBub25jZQ=="
            s.sendall(("GET /ws?m=%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (m, self.host, key)).encode())
            status = f.readline()
            head = status
            while True:
                line = f.readline()
                if line in (b"\r\n", b""):
                    break
                head += line
            if not status.startswith(b"HTTP/1.1 101") or tk.ws_accept(key).encode() not in head:
                return False, status.strip(), head

            def read_exact(k):
                d = f.read(k)
                if len(d) != k:
                    raise EOFError("websocket closed")
                return d
            for i in range(3):
                msg = ("%s message %d" % (m, i)).encode()
                s.sendall(tk.ws_frame(1, msg, True))
                _fin, op, _masked, payload = tk.ws_read_frame(read_exact)
                if op != 1 or payload != msg:
                    return False, 101, payload
            s.sendall(tk.ws_frame(8, b"\x03\xe8", True))
            _fin, op, _masked, payload = tk.ws_read_frame(read_exact)
            return op == 8, 101, payload
        finally:
            s.close()


def main():
    bl.install_signal_exit()
    duration = bl.env_int("SOAK_DURATION", 300)
    warmup = bl.env_int("SOAK_WARMUP", 30)
    interval = bl.env_int("SOAK_INTERVAL", 10)
    workers = bl.env_int("SOAK_WORKERS", 8)
    protocol = os.environ.get("SOAK_PROTOCOL", "binary")
    use_tls = bl.env_int("SOAK_TLS", 0)
    rss_slack = bl.env_int("SOAK_RSS_SLACK_MB", 4) * 1024
    fd_slack = bl.env_int("SOAK_FD_SLACK", 8)
    if warmup >= duration:
        print("soak: SOAK_WARMUP must be shorter than SOAK_DURATION", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="ttf-soak.")
    procs = bl.Procs(tmp)
    load = None
    threads = []
    try:
        svc = procs.start("service", ["/usr/bin/python3", os.path.abspath(__file__), "serve"])
        lport = int(bl.wait_line(svc, r"^PORT (\d+)").group(1))
        tls = bl.make_tls_files(tmp) if use_tls else None
        tun = bl.Tunnel(procs, "soak", lport, protocol=protocol, tls=tls)
        ctx = ssl.create_default_context(cafile=tun.ca) if tls else None
        watched = {"ttfd": tun.ttfd, "ttf": tun.ttf}
        idle_fds = {n: bl.open_fds(p.pid) for n, p in watched.items()}
        print("soak: %s mode%s, %d workers, %d s (warm-up %d s), tunnel %s; idle fds ttfd %d, ttf %d"
              % (protocol, " over TLS" if tls else "", workers, duration, warmup, tun.host,
                 idle_fds["ttfd"], idle_fds["ttf"]), flush=True)
        print("%6s %9s %7s %6s | %9s %5s | %9s %5s" % ("time", "exchanges", "per s", "errors", "ttfd RSS", "fds",
                                                      "ttf RSS", "fds"), flush=True)
        load = Load(tun.port, tun.host, ctx, websockets=(protocol == "binary"))
        threads = [threading.Thread(target=load.worker, args=(i,), daemon=True) for i in range(workers)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        samples = []  # (t, {name: (rss_kb, fds)})
        last_n, last_t = 0, t0
        next_t = t0 + interval
        while True:
            time.sleep(max(0.0, min(next_t, t0 + duration) - time.monotonic()))
            now = time.monotonic()
            fig = {n: (bl.proc_status(p.pid, "VmRSS"), bl.open_fds(p.pid)) for n, p in watched.items()}
            for n, p in watched.items():
                if p.poll() is not None:
                    raise bl.BenchError("%s exited (%s) during the soak:\n%s" % (n, p.returncode, bl.log_tail(p)))
            samples.append((now - t0, fig))
            with load.lock:
                n_done, n_err = sum(load.done.values()), load.nerrors
            print("%5.0fs %9d %7.0f %6d | %6.1f MB %5d | %6.1f MB %5d" % (
                now - t0, n_done, (n_done - last_n) / (now - last_t), n_err,
                fig["ttfd"][0] / 1024.0, fig["ttfd"][1], fig["ttf"][0] / 1024.0, fig["ttf"][1]), flush=True)
            last_n, last_t = n_done, now
            next_t += interval
            if now - t0 >= duration:
                break
        load.stop.set()
        for t in threads:
            t.join(timeout=60)
        stuck = sum(1 for t in threads if t.is_alive())

        problems = []
        if stuck:
            problems.append("%d client threads still waiting 60 s after the end" % stuck)
        if load.nerrors:
            problems.append("%d exchanges failed or got an answer not their own; first ones:\n    %s"
                            % (load.nerrors, "\n    ".join(load.errors)))
        warm = [f for t, f in samples if t <= warmup + 0.5]
        after = [(t, f) for t, f in samples if t > warmup + 0.5]
        if not warm or not after:
            problems.append("too few samples: make SOAK_INTERVAL shorter than SOAK_WARMUP and the run")
        else:
            for name in watched:
                peak_rss = max(f[name][0] for f in warm)
                peak_fds = max(f[name][1] for f in warm)
                worst = max(after, key=lambda s: s[1][name][0])
                if worst[1][name][0] > peak_rss + rss_slack:
                    problems.append("%s RSS %.1f MB at %.0f s: above the warm-up peak %.1f MB + %d MB"
                                    % (name, worst[1][name][0] / 1024.0, worst[0], peak_rss / 1024.0, rss_slack // 1024))
                worst = max(after, key=lambda s: s[1][name][1])
                if worst[1][name][1] > peak_fds + fd_slack:
                    problems.append("%s %d fds at %.0f s: above the warm-up peak %d + %d"
                                    % (name, worst[1][name][1], worst[0], peak_fds, fd_slack))
                rss = [f[name][0] for _t, f in after]
                print("soak: %s RSS after warm-up %.1f .. %.1f MB (warm-up peak %.1f MB); fds %d .. %d (warm-up peak %d)"
                      % (name, min(rss) / 1024.0, max(rss) / 1024.0, peak_rss / 1024.0,
                         min(f[name][1] for _t, f in after), max(f[name][1] for _t, f in after), peak_fds))
        # Once the clients have closed everything, ttfd holds only its idle descriptors again.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and bl.open_fds(tun.ttfd.pid) > idle_fds["ttfd"] + 2:
            time.sleep(0.2)
        end_fds = {n: bl.open_fds(p.pid) for n, p in watched.items()}
        print("soak: after the load: fds ttfd %d (idle %d), ttf %d (idle %d; its pool may keep local connections)"
              % (end_fds["ttfd"], idle_fds["ttfd"], end_fds["ttf"], idle_fds["ttf"]))
        if end_fds["ttfd"] > idle_fds["ttfd"] + 2:
            problems.append("ttfd still has %d fds 15 s after the load (idle: %d)" % (end_fds["ttfd"], idle_fds["ttfd"]))
        for n, p in watched.items():
            if p.poll() is not None:
                problems.append("%s exited (%s)" % (n, p.returncode))
        with load.lock:
            kinds = ", ".join("%s %d" % kv for kv in sorted(load.done.items()))
        print("soak: %d exchanges checked (%s)" % (sum(load.done.values()), kinds))
        if problems:
            for p in problems:
                print("soak: FAILED: " + p)
            return 1
        print("soak: OK")
        return 0
    except bl.BenchError as e:
        print("soak: %s" % e, file=sys.stderr)
        return 2
    finally:
        if load is not None:
            load.stop.set()
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        sys.exit(main())
