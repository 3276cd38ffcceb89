# SPDX-License-Identifier: MIT
"""Helpers of the fault-injection suite (issue 12, "Tests that stay").

Owns: the killable local service (MarkerApp, markerapp.py in its own process), a load generator
whose every request carries its own marker and checks that the answer it gets is its own (Load),
and the resource watch (fds and RSS of ttfd and ttf from /proc, a baseline and a wait for the
return to it). Processes go on the test's Stack (tests/e2e/conftest.py), so every process a test
starts is stopped by it.

An answer is classified as:
  ok       200 with X-Marker = the request's marker and exactly the body the marker implies;
  error    another status with a short text body that names no marker (a clean refusal);
  cut      the connection closed mid-body, every byte received a prefix of the right body;
  closed   the connection closed or was reset before a head;
  wrong    anything else: another request's marker or bytes, a long error body, garbage — the
           fault these tests exist to catch; never allowed;
  hang     no answer within the deadline; never allowed.
"""

import collections
import os
import random
import re
import socket
import threading
import time

import tunnelkit as tk

HERE = os.path.dirname(os.path.abspath(__file__))
APP = os.path.join(HERE, "markerapp.py")
MODES = ["binary", "json"]
MARKER_RX = re.compile(rb"mk-[0-9a-z]+-\d+-\d+")


def mode_args(mode):
    return ["--protocol", "json"] if mode == "json" else []


def pattern(marker, n):
    unit = (marker + ":").encode()
    return (unit * (n // len(unit) + 1))[:n]


# ------------------------------------------------------------------ resources from /proc


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


# RSS allowed above the baseline once a scenario is over. glibc keeps up to 4 MiB of heap top
# (conn_process_init): after a flood ttfd stays up to ~4.7 MiB above its baseline, after kills and
# restarts within 0.4 MiB (measured, release build). ASan's quarantine (16 MiB here, see
# conftest.py) and its allocator keep freed memory (+58 MiB seen after a 64 MiB JSON-ping flood
# under ASan, where the release build is back within 4.5 MiB); valgrind keeps its own heap.
RSS_SLACK_KB = (64 if tk.SANITIZED or tk.VALGRIND else 6) * 1024
# the same for scenarios without floods (kills and restarts under load)
RSS_SLACK_CALM_KB = (48 if tk.SANITIZED or tk.VALGRIND else 2) * 1024


class Baseline:
    """Open fds and RSS of some processes at a quiet moment; back() waits for them to return."""

    def __init__(self, **procs):
        self.procs = procs  # name -> tunnelkit.Proc
        self.fds = {n: fds(p.pid) for n, p in procs.items()}
        self.rss = {n: rss_kb(p.pid) for n, p in procs.items()}

    def back(self, timeout=15, fd_slack=0, rss_slack_kb=RSS_SLACK_KB, what="the scenario"):
        """Waits (deadline, scaled) until every process is back to its fd count (+fd_slack: a
        number, or a dict by name) and RSS (+rss_slack_kb); fails naming the process and its
        figures."""
        last = {}
        slack = fd_slack if isinstance(fd_slack, dict) else {n: fd_slack for n in self.procs}

        def ok():
            for n, p in self.procs.items():
                assert p.alive(), "%s died during %s\n%s" % (n, what, p.describe())
                f, r = fds(p.pid), rss_kb(p.pid)
                last[n] = (f, r)
                if f > self.fds[n] + slack.get(n, 0) or r > self.rss[n] + rss_slack_kb:
                    return False
            return True

        try:
            tk.wait_for(ok, timeout, "fds and RSS back to their baseline", interval=0.1)
        except AssertionError:
            raise AssertionError("after %s: %s" % (what, "; ".join(
                "%s fds %d (baseline %d, +%d allowed) RSS %d kB (baseline %d kB, +%d allowed)"
                % (n, last[n][0], self.fds[n], slack.get(n, 0), last[n][1], self.rss[n], rss_slack_kb)
                for n in last)))
        return last


def wait_still(read, hold, timeout, what, interval=0.02):
    """Waits until read() has returned the same value for hold seconds, with a deadline."""
    last, since = object(), time.monotonic()

    def still():
        nonlocal last, since
        now = read()
        if now != last:
            last, since = now, time.monotonic()
        return time.monotonic() - since >= hold

    tk.wait_for(still, timeout, what, interval=interval)


def quiet(*procs, timeout=10):
    """Waits until the open-fd counts of procs stay the same for half a second (connections the
    peers closed are gone), with a deadline."""
    wait_still(lambda: tuple(fds(p.pid) for p in procs), 0.5, timeout, "the fd counts to settle",
               interval=0.05)


def settled_growth_kb(proc, base_kb, limit_kb, timeout=60):
    """Peak RSS growth (KiB) of proc over base_kb, once it is over limit_kb (returned at once:
    the test fails) or its peak has not risen by more than 1 MiB for a second (the process is
    done with its input). The peak, not the last sample: the Scene's honest users keep the
    process allocating and freeing, so under ASan its RSS jitters by megabytes for as long as
    they run, while memory that grows with a stalled transfer keeps raising the peak until the
    limit. Waits with a deadline."""
    ref, peak, since = None, None, time.monotonic()

    def done():
        nonlocal ref, peak, since
        assert proc.alive(), "%s died\n%s" % (proc.name, proc.describe())
        g = rss_kb(proc.pid) - base_kb
        peak = g if peak is None else max(peak, g)
        if peak > limit_kb:
            return True
        if ref is None or peak - ref > 1024:
            ref, since = peak, time.monotonic()
        return time.monotonic() - since >= 1.0

    tk.wait_for(done, timeout, "%s's RSS to settle" % proc.name, interval=0.1)
    return peak


# RSS a flood may cost ttfd at most (what its buffers and marks allow, with room to spare).
FLOOD_RSS_LIMIT_KB = (64 if tk.SANITIZED else 24) * 1024


def flood(sock, unit, total, stall=3.0):
    """Sends `unit` again and again, `total` bytes in all, until the peer stops reading for
    `stall` seconds (its backpressure: fine) or resets. Returns (bytes sent, why it stopped)."""
    blob = unit * max(1, (1 << 20) // len(unit))
    sock.settimeout(stall * tk.SLOW)
    sent = 0
    try:
        while sent < total:
            sock.sendall(blob)
            sent += len(blob)
    except socket.timeout:
        return sent, "the peer stopped reading"
    except OSError as e:
        return sent, "send failed: %s" % e
    return sent, "all sent"


# ------------------------------------------------------------------ the local service


class MarkerApp:
    """markerapp.py in its own process on the Stack: kill() (SIGKILL) and start() again on the
    same port."""

    def __init__(self, stack, name="app", port=0):
        self.stack, self.name, self.port = stack, name, port
        self.proc = None
        self.start()

    def start(self):
        p = tk.Proc("markerapp-" + self.name, ["/usr/bin/python3", APP, str(self.port), self.name],
                    valgrind=False)
        self.stack.add_proc(p)
        self.proc = p
        m, _ = p.wait_line(r"^listening (\d+)$", 15)
        self.port = int(m.group(1))
        return self

    def kill(self):
        self.proc.kill()
        self.stack.expect(self.proc, None)


# ------------------------------------------------------------------ routing


class Route:
    """How a client reaches a tunnel: by subdomain (Host) or by path (/<id> prefix)."""

    def __init__(self, ttfd_port, host, prefix=""):
        self.port, self.host, self.prefix = ttfd_port, host, prefix

    @staticmethod
    def sub(ttfd, tunnel_id):
        return Route(ttfd.port, tk.sub_host(ttfd, tunnel_id))

    @staticmethod
    def path(ttfd, tunnel_id):
        return Route(ttfd.port, tk.path_host(ttfd), "/" + tunnel_id)


# ------------------------------------------------------------------ one exchange, checked


class Outcome:
    __slots__ = ("kind", "status", "detail", "t")

    def __init__(self, kind, status=None, detail=""):
        self.kind, self.status, self.detail, self.t = kind, status, detail, time.monotonic()

    def __repr__(self):
        return "%s%s%s" % (self.kind, "(%s)" % self.status if self.status else "",
                           ": " + self.detail if self.detail else "")


class Client:
    """A keep-alive connection that reconnects after a close; reads answers itself so that a
    truncated body is kept (tunnelkit.RawConn drops it)."""

    def __init__(self, route, timeout=20):
        self.route = route
        self.timeout = timeout
        self.sock = None
        self.buf = b""

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock = None
        self.buf = b""

    def _fill(self):
        d = self.sock.recv(262144)
        if not d:
            raise EOFError
        self.buf += d

    def _until(self, marker, limit=65536):
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise ValueError("no %r in %d bytes" % (marker, len(self.buf)))
            self._fill()
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def exchange(self, method, path, marker, expect, body=None, chunked=False, origin_close=False):
        """One request; returns an Outcome. expect: the body a 200 must carry. origin_close: the
        local service delimits this answer by closing (markerapp's mode=close)."""
        if self.sock is None:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.route.port),
                                                     timeout=self.timeout * tk.SLOW)
            except OSError as e:
                return Outcome("closed", detail="connect: %s" % e)
        req = tk.build_request(method, self.route.prefix + path, self.route.host,
                               body=body or b"", chunked=chunked)
        try:
            self.sock.sendall(req)
        except OSError:
            pass  # the answer (or the close) is read below
        return self.read_only(marker, expect, method, path, origin_close)

    def read_only(self, marker, expect, method="GET", path="", origin_close=False):
        """Reads the next answer on the connection (a request sent before, pipelined or not)
        and classifies it; returns an Outcome."""
        got = b""
        status = None
        try:
            head = self._until(b"\r\n\r\n")
            lines = head[:-4].split(b"\r\n")
            m = re.match(rb"^HTTP/1\.1 (\d{3}) ", lines[0] + b" ")
            if not m:
                self.close()
                return Outcome("wrong", detail="status line %r" % lines[0][:200])
            status = int(m.group(1))
            hd = {}
            for ln in lines[1:]:
                n, _, v = ln.partition(b":")
                hd.setdefault(n.strip().lower(), []).append(v.strip())
            if 100 <= status < 200:
                self.close()
                return Outcome("wrong", status, "an interim response the app never sent")
            te = b",".join(hd.get(b"transfer-encoding", []))
            cl = hd.get(b"content-length")
            keep = b"close" not in b",".join(hd.get(b"connection", [])).lower()
            if method == "HEAD":
                pass
            elif b"chunked" in te.lower():
                while True:
                    size = int(self._until(b"\r\n", 1024).split(b";")[0], 16)
                    if size == 0:
                        while self._until(b"\r\n", 16384) != b"\r\n":
                            pass
                        break
                    while size:
                        if not self.buf:
                            self._fill()
                        k = min(size, len(self.buf))
                        got += self.buf[:k]
                        self.buf = self.buf[k:]
                        size -= k
                    if self._exact(2) != b"\r\n":
                        raise ValueError("chunk without CRLF")
            elif cl:
                n = int(cl[0])
                while len(got) < n:
                    if not self.buf:
                        self._fill()
                    k = min(n - len(got), len(self.buf))
                    got += self.buf[:k]
                    self.buf = self.buf[k:]
            else:
                keep = False
                try:
                    while True:
                        self._fill()
                        got += self.buf
                        self.buf = b""
                except EOFError:
                    pass
        except (EOFError, ConnectionError) as e:
            self.close()
            if status is None:
                return Outcome("closed", detail=type(e).__name__)
            if status == 200 and expect.startswith(got):
                return Outcome("cut", status, "%d of %d bytes" % (len(got), len(expect)))
            if status != 200 and not MARKER_RX.search(got):
                return Outcome("cut", status, "error body cut")
            return Outcome("wrong", status, "cut body that is not its own: %r" % got[:120])
        except socket.timeout:
            self.close()
            return Outcome("hang", status, "%s %s: no answer in %ss" % (method, path,
                                                                       self.timeout * tk.SLOW))
        except ValueError as e:
            self.close()
            return Outcome("wrong", status, "unparseable answer: %s" % e)
        if not keep:
            self.close()
        if status == 200:
            mk = hd.get(b"x-marker", [b""])[0].decode("latin-1")
            if mk != marker:
                return Outcome("wrong", 200, "X-Marker %r for %r" % (mk, marker))
            if got != expect and (origin_close or not cl and b"chunked" not in te.lower()) and \
                    len(got) < len(expect) and expect.startswith(got):
                # a close-delimited body (RFC 9112 §6.3 rule 8) ends where the local service
                # closed: when it was killed mid-body (a FIN, not an error), nobody on the way
                # can tell its prefix from a whole body, which a relay frames as it frames any
                # whole body (chunked or Content-Length to an HTTP/1.1 client, docs/protocol.md
                # §3.1): a complete answer then, the app's octets and nothing else
                return Outcome("cut", 200, "close-delimited: %d of %d bytes" % (len(got), len(expect)))
            if got != expect:
                return Outcome("wrong", 200, "body of %d bytes is not its own (%r...)"
                               % (len(got), got[:80]))
            return Outcome("ok", 200)
        if len(got) > 1024 or MARKER_RX.search(got) or MARKER_RX.search(head):
            return Outcome("wrong", status, "error answer carrying data: %r" % (head + got)[:200])
        return Outcome("error", status, got[:100].decode("latin-1").strip())


# ------------------------------------------------------------------ load


# (weight, kind, size) of the exchanges a worker draws from
DEFAULT_MIX = [(4, "get", 64), (2, "get", 40000), (1, "get-chunked", 300000), (1, "get-close", 20000),
               (2, "echo", 5000), (1, "echo-chunked", 120000), (1, "slow", 200000)]


class Load:
    """Worker threads sending marked requests through one route until stopped; every outcome is
    kept with its time. `with Load(...) as load:` starts and stops it."""

    _seq = 0

    def __init__(self, route, workers=4, mix=DEFAULT_MIX, tag=None, timeout=20):
        Load._seq += 1
        self.route = route
        self.workers = workers
        self.mix = mix
        self.tag = tag or "l%d" % Load._seq
        self.timeout = timeout
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.outcomes = []
        self.stopping = threading.Event()
        self.threads = []

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        for w in range(self.workers):
            t = threading.Thread(target=self._work, args=(w,), daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=(self.timeout + 10) * tk.SLOW)
        alive = [t for t in self.threads if t.is_alive()]
        self.threads = []
        assert not alive, "%d load workers did not stop" % len(alive)

    def _draw(self, rnd):
        total = sum(w for w, _, _ in self.mix)
        x = rnd.uniform(0, total)
        for w, kind, size in self.mix:
            x -= w
            if x <= 0:
                return kind, size
        return self.mix[-1][1:]

    def _work(self, w):
        rnd = random.Random(w * 7919 + Load._seq)
        c = Client(self.route, self.timeout)
        seq = 0
        try:
            while not self.stopping.is_set():
                seq += 1
                marker = "mk-%s-%d-%d" % (self.tag, w, seq)
                kind, size = self._draw(rnd)
                size = max(1, int(size * rnd.uniform(0.5, 1.0)))
                if kind.startswith("echo"):
                    body = pattern(marker, size)
                    o = c.exchange("POST", "/echo/" + marker, marker, body, body=body,
                                   chunked=kind == "echo-chunked")
                else:
                    mode = {"get": "length", "get-chunked": "chunked", "get-close": "close",
                            "slow": "length"}[kind]
                    q = "n=%d&mode=%s%s" % (size, mode, "&slow=1" if kind == "slow" else "")
                    o = c.exchange("GET", "/m/%s?%s" % (marker, q), marker, pattern(marker, size),
                                   origin_close=mode == "close")
                with self.cond:
                    self.outcomes.append(o)
                    self.cond.notify_all()
                if o.kind not in ("ok",):
                    # a refused or failed exchange: do not spin (the tunnel may be down a moment)
                    self.stopping.wait(0.05)
        finally:
            c.close()

    # -- reading the results

    def mark(self):
        with self.lock:
            return len(self.outcomes)

    def since(self, mark=0):
        with self.lock:
            return list(self.outcomes[mark:])

    def wait_ok(self, n, timeout, start=None, what=None):
        """Waits until n exchanges after index `start` (default: now) were ok."""
        start = self.mark() if start is None else start
        end = tk.deadline(timeout)
        with self.cond:
            while True:
                got = sum(1 for o in self.outcomes[start:] if o.kind == "ok")
                if got >= n:
                    return
                left = end - time.monotonic()
                if left <= 0:
                    tail = self.outcomes[start:][-8:]
                    raise AssertionError("%s: %d of %d exchanges ok in %.0fs; last: %r"
                                         % (what or self.tag, got, n, timeout * tk.SLOW, tail))
                self.cond.wait(min(left, 0.5))

    def check(self, start=0, allow=(), what=None):
        """No wrong answer and no hang after `start`; errors only with statuses in allow
        (ints), cuts/closes only when "cut"/"closed" is in allow. Returns a Counter of kinds."""
        outs = self.since(start)
        bad = [o for o in outs if o.kind in ("wrong", "hang")
               or (o.kind == "error" and o.status not in allow)
               or (o.kind in ("cut", "closed") and o.kind not in allow)]
        kinds = collections.Counter(o.kind if o.kind != "error" else "error %d" % o.status
                                    for o in outs)
        assert not bad, "%s: %d bad outcomes of %d (%s), first: %r" % (
            what or self.tag, len(bad), len(outs), dict(kinds), bad[:5])
        return kinds


# ------------------------------------------------------------------ a link that dies silently


class FreezingProxy:
    """A TCP relay on loopback in front of `port` (ttf's endpoint goes through it). freeze()
    stops relaying on every connection open then, both ways, and keeps their sockets open: a
    link that died without a FIN or a reset (a network change, a NAT that forgot it, a machine
    that slept), as neither end can tell it from a quiet one. Connections opened later relay as
    usual. close() (the stack's teardown calls it) ends everything."""

    def __init__(self, port):
        self.target = port
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(64)
        self.port = self.ls.getsockname()[1]
        self.lock = threading.Lock()
        self.links = []  # (client socket, target socket, frozen event)
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def endpoint(self):
        return "ws://127.0.0.1:%d/_tunnel" % self.port

    def _accept(self):
        while True:
            try:
                a, _ = self.ls.accept()
                b = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                return
            link = (a, b, threading.Event())
            with self.lock:
                if self.stopped:
                    a.close()
                    b.close()
                    return
                self.links.append(link)
            for src, dst in ((a, b), (b, a)):
                threading.Thread(target=self._pump, args=(src, dst, link[2]), daemon=True).start()

    @staticmethod
    def _pump(src, dst, frozen):
        try:
            while not frozen.is_set():
                data = src.recv(65536)
                if frozen.is_set():
                    return  # dropped: what a dead link does to it
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                dst.sendall(data)
        except OSError:
            pass

    def freeze(self):
        with self.lock:
            for _, _, frozen in self.links:
                frozen.set()

    def close(self):
        with self.lock:
            self.stopped = True
            links, self.links = self.links, []
        self.ls.close()
        for a, b, frozen in links:
            frozen.set()
            a.close()
            b.close()


# ------------------------------------------------------------------ a scene for attacks

# ttf's inspector keeps captured exchanges up to a budget (32 MiB by default): a small one here,
# so that RSS figures are the relay's.
TTF_ARGS = ["--inspect-budget", "1M"]


class Scene:
    """ttfd and an honest tunnel (markerapp + ttf) with marked load running through it while a
    test attacks ttfd. On a clean exit: the honest tunnel is still served, every answer it got
    during the attack was its own with no error at all, and ttfd's fds and RSS are back to their
    baseline (taken after a warm-up) — so close every socket the attack opened before leaving."""

    def __init__(self, stack, mode="binary", ttfd_args=(), workers=2, rss_slack_kb=RSS_SLACK_KB):
        self.stack = stack
        self.mode = mode
        self.rss_slack_kb = rss_slack_kb
        self.d = stack.ttfd("--state", ":memory:", *ttfd_args)
        self.app = MarkerApp(stack, "honest")
        self.ttf = stack.ttf(self.d.endpoint(), self.app.port, *mode_args(mode), *TTF_ARGS)
        self.route = Route.sub(self.d, self.ttf.tunnel_id)
        with Load(self.route, workers, tag="warm") as w:
            w.wait_ok(20, 30, what="warm-up")
        w.check(what="warm-up")
        quiet(self.d.proc, self.ttf.proc)
        self.base = Baseline(ttfd=self.d.proc, ttf=self.ttf.proc)
        self.workers = workers
        self.load = Load(self.route, workers, tag="honest")

    @property
    def port(self):
        return self.d.port

    def __enter__(self):
        self.load.start()
        return self

    def __exit__(self, et, ev, tb):
        try:
            if et is None:
                self.load.wait_ok(10, 30, what="the honest tunnel after the attack")
        finally:
            self.load.stop()
        if et is None:
            self.load.check(what="the honest tunnel during the attack")
            quiet(self.d.proc, self.ttf.proc)
            # ttf's pool may keep one idle local connection per concurrent exchange
            self.base.back(fd_slack={"ttf": self.workers + 1}, rss_slack_kb=self.rss_slack_kb,
                           what="the attack")
        return False
