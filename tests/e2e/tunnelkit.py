# SPDX-License-Identifier: MIT
"""Helpers for the end-to-end tests: start/stop ttfd and ttf, talk HTTP byte-exact.

Owns: process handling (output capture, waiting on lines with deadlines, SIGTERM then kill,
exit-code checks, valgrind wrapping), raw HTTP/1.1 client helpers, WebSocket frame helpers,
free-port and certificate helpers. The local test servers live in localsrv.py.
"""

import base64
import hashlib
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
TTFD_BIN = os.environ.get("TTFD_BIN", os.path.join(REPO, "build", "bin", "ttfd"))
TTF_BIN = os.environ.get("TTF_BIN", os.path.join(REPO, "build", "bin", "ttf"))
VALGRIND = os.environ.get("TUNNEL_VALGRIND") == "1"
SANITIZED = os.environ.get("TUNNEL_SANITIZE", "").upper() in ("1", "ON", "TRUE", "YES")
# Deadlines are scaled for slow builds (valgrind is ~20x slower, ASan ~2x).
SLOW = float(os.environ.get("TUNNEL_TEST_SLOW", "10" if VALGRIND else ("2" if SANITIZED else "1")))
# Every leak kind is an error, "still reachable" too: ttfd and ttf free everything before exiting
# (valgrind: "All heap blocks were freed"), so any block left at exit is a new leak.
VALGRIND_CMD = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                "--errors-for-leak-kinds=all", "--show-leak-kinds=all"]

MB = 1024 * 1024


def deadline(seconds):
    """Absolute monotonic deadline, scaled for slow builds."""
    return time.monotonic() + seconds * SLOW


def wait_for(cond, timeout, what, interval=0.02):
    """Poll cond() until it returns a truthy value or the (scaled) deadline passes."""
    end = deadline(timeout)
    while True:
        val = cond()
        if val:
            return val
        if time.monotonic() > end:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout * SLOW, what))
        time.sleep(interval)


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    """A port that was free a moment ago (for tests that need a closed port or a fixed one).
    Taken below the kernel's ephemeral range when there is room: there the source ports of the
    many connections other tests on the machine open cannot take it between now and its use."""
    lo, _ = _ephemeral_range()
    rnd = random.Random()
    for _ in range(200) if lo > 11000 else ():
        port = rnd.randrange(10000, lo)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TCP_ESTABLISHED = 1  # a TCP state in /proc/net/tcp (the kernel's include/net/tcp_states.h)


def _proc_net_tcp(local, remote):
    """The columns of the IPv4 TCP socket local -> remote ((host, port) pairs) in /proc/net/tcp,
    or None when there is no such socket."""
    def enc(addr):
        a = socket.inet_aton(addr[0])
        return "%08X:%04X" % (int.from_bytes(a, "little"), addr[1])
    want_l, want_r = enc(local), enc(remote)
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            cols = line.split()
            if cols[1] == want_l and cols[2] == want_r:
                return cols
    return None


def tcp_state(local, remote):
    """The state of the IPv4 TCP socket local -> remote (TCP_ESTABLISHED, ...; None: gone)."""
    cols = _proc_net_tcp(local, remote)
    return None if cols is None else int(cols[3], 16)


def rx_queue(local, remote):
    """Octets waiting unread in the IPv4 TCP socket local -> remote (None: gone)."""
    cols = _proc_net_tcp(local, remote)
    return None if cols is None else int(cols[4].split(":")[1], 16)


def write_config(text):
    """A ttf --config file holding text (a temporary .yml; the caller unlinks it)."""
    fd, path = tempfile.mkstemp(prefix="ttf-config-", suffix=".yml")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def run(argv, timeout=10, **kw):
    """subprocess.run for a short-lived ttfd/ttf command (--help, usage errors, `ttfd token`):
    under valgrind like the long-lived ones (their exit paths must free too; exit code 99 means
    memory errors or definite leaks), deadline scaled. Output is captured as text."""
    return subprocess.run((VALGRIND_CMD if VALGRIND else []) + list(argv), capture_output=True,
                          text=True, timeout=timeout * SLOW, **kw)


class Proc:
    """A child process whose stdout/stderr lines are collected by reader threads."""

    def __init__(self, name, argv, env=None, valgrind=VALGRIND, preexec_fn=None):
        self.name = name
        self.argv = (VALGRIND_CMD + argv) if valgrind else argv
        self.valgrind = valgrind
        self.out_lines = []
        self.err_lines = []
        self.times = {}  # id(sink) -> arrival time (monotonic) of each line
        self.cond = threading.Condition()
        full_env = dict(os.environ)
        # Never let the test runner's environment leak tokens/endpoints into the programs.
        for k in ("TUNNEL_TOKEN", "TUNNEL_ENDPOINT", "TTFD_JWT_SECRET", "STATE_DIRECTORY",
                  "TUNNEL_INSPECT", "TUNNEL_BASIC_AUTH"):
            full_env.pop(k, None)
        # ttf's inspector on a port the OS picks (never the fixed default 4040 in tests).
        full_env["TUNNEL_INSPECT"] = "127.0.0.1:0"
        # ttfd and ttf keep state in the XDG state directory (ttfd: name owners, ttf: its last
        # id): each process gets a private one unless the test passes XDG_STATE_HOME (to share
        # it across a restart), so parallel tests never see each other's state.
        self.state_home = None
        if "XDG_STATE_HOME" not in (env or {}):
            self.state_home = tempfile.mkdtemp(prefix="tunnel-state-")
            full_env["XDG_STATE_HOME"] = self.state_home
        full_env.update(env or {})
        self.p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=full_env, preexec_fn=preexec_fn)
        self.pid = self.p.pid
        self.threads = [threading.Thread(target=self._pump, args=(self.p.stdout, self.out_lines),
                                         daemon=True),
                        threading.Thread(target=self._pump, args=(self.p.stderr, self.err_lines),
                                         daemon=True)]
        for t in self.threads:
            t.start()
        self.stopped_rc = None
        self.exited_early = False  # it had exited before stop() was called

    def _pump(self, stream, sink):
        times = self.times.setdefault(id(sink), [])
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self.cond:
                sink.append(line)
                times.append(time.monotonic())
                self.cond.notify_all()
        stream.close()
        with self.cond:
            self.cond.notify_all()

    def stdout(self):
        with self.cond:
            return "\n".join(self.out_lines)

    def stderr(self):
        with self.cond:
            return "\n".join(self.err_lines)

    def wait_line(self, pattern, timeout, stream="out", start=0, allow_exit=False):
        """Wait for a line matching pattern (from line index `start`); returns (match, index)."""
        rx = re.compile(pattern)
        end = deadline(timeout)
        sink = self.out_lines if stream == "out" else self.err_lines
        with self.cond:
            i = start
            while True:
                while i < len(sink):
                    m = rx.search(sink[i])
                    if m:
                        return m, i
                    i += 1
                if self.p.poll() is not None and not allow_exit:
                    # Let the readers drain what is left before giving up.
                    if all(not t.is_alive() for t in self.threads):
                        raise AssertionError(
                            "%s exited (rc=%s) before printing /%s/\nstdout:\n%s\nstderr:\n%s"
                            % (self.name, self.p.returncode, pattern, "\n".join(self.out_lines),
                               "\n".join(self.err_lines[-40:])))
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "%s: timed out after %.1fs waiting for /%s/ on std%s\nstdout:\n%s\n"
                        "stderr (last 40 lines):\n%s"
                        % (self.name, timeout * SLOW, pattern, stream, "\n".join(self.out_lines),
                           "\n".join(self.err_lines[-40:])))
                self.cond.wait(min(left, 0.2))

    def err_times(self, pattern):
        """Arrival times of the stderr lines matching pattern."""
        rx = re.compile(pattern)
        with self.cond:
            times = self.times.get(id(self.err_lines), [])
            return [t for line, t in zip(self.err_lines, times) if rx.search(line)]

    def wait_exit(self, timeout):
        """Wait for the process to exit on its own; its output is fully read on return."""
        try:
            rc = self.p.wait(timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            return None
        for t in self.threads:
            t.join(timeout=5)
        return rc

    def alive(self):
        return self.p.poll() is None

    def vmhwm_kb(self):
        """Peak resident set size of the process, from /proc (VmHWM, kB)."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        raise AssertionError("no VmHWM for %s" % self.name)

    def _drop_state(self):
        if self.state_home:
            shutil.rmtree(self.state_home, ignore_errors=True)
            self.state_home = None

    def kill(self):
        """SIGKILL (for tests that simulate a crash); no exit-code check."""
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(timeout=30)
        self.stopped_rc = self.p.returncode
        for t in self.threads:
            t.join(timeout=5)
        self._drop_state()

    def stop(self, timeout=10):
        """SIGTERM, wait up to timeout (scaled), then SIGKILL. Returns the exit code
        (None if it had to be killed)."""
        if self.stopped_rc is not None or self.p.poll() is not None:
            if self.stopped_rc is None:
                self.exited_early = True
                for t in self.threads:
                    t.join(timeout=5)
            rc = self.p.returncode
            self.stopped_rc = rc
            self._drop_state()
            return rc
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(timeout=30)
            rc = None
        for t in self.threads:
            t.join(timeout=5)
        self.stopped_rc = rc
        self._drop_state()
        return rc

    def describe(self):
        return "%s (pid %d) argv=%s\nstdout:\n%s\nstderr (last 60 lines):\n%s" % (
            self.name, self.pid, " ".join(self.argv), self.stdout(),
            "\n".join(self.err_lines[-60:]))


class Ttfd:
    """A running ttfd. Parse its one STDOUT line for the real bound port."""

    LINE = (r"^Listening on (https?)://(127\.0\.0\.1|\[::1\]):(\d+) "
            r"\(agents: (wss?)://(?:127\.0\.0\.1|\[::1\]):(\d+)/_tunnel\)$")
    ADMIN_LINE = r"^Admin listening on http://(127\.0\.0\.1|\[::1\]):(\d+)$"

    def __init__(self, *extra, listen="127.0.0.1:0", env=None, valgrind=VALGRIND):
        self.args = list(extra)
        self.proc = Proc("ttfd", [TTFD_BIN, "--listen", listen] + self.args, env=env,
                         valgrind=valgrind)
        try:
            m, _ = self.proc.wait_line(Ttfd.LINE, 15)
        except BaseException:
            self.proc.kill()  # never leave a half-started server behind
            raise
        self.scheme = m.group(1)
        self.addr = m.group(2).strip("[]")  # the address it listens on (the clients' address)
        self.port = int(m.group(3))
        assert m.group(5) == m.group(3), "agent URL port differs from listen port: %s" % m.group(0)
        self.ws_scheme = m.group(4)
        self.admin_port = None
        if any(a == "--admin" for a in self.args):
            ma, _ = self.proc.wait_line(Ttfd.ADMIN_LINE, 5)
            self.admin_port = int(ma.group(2))

    def endpoint(self, host=None):
        host = host or ("[%s]" % self.addr if ":" in self.addr else self.addr)
        return "%s://%s:%d/_tunnel" % (self.ws_scheme, host, self.port)

    def stop(self):
        return self.proc.stop()


class Ttf:
    """A running ttf; `url`/`path_url`/`tunnel_id` come from its STDOUT lines."""

    def __init__(self, endpoint, local_port, *extra, env=None, wait=True, valgrind=VALGRIND):
        """local_port: a port number (-p), or a string naming the service as the positional
        argument does ("https://localhost:8443")."""
        svc = ([local_port] if isinstance(local_port, str) and not local_port.isdigit()
               else ["-p", str(local_port)])
        argv = [TTF_BIN, "-e", endpoint] + svc + list(extra)
        self.proc = Proc("ttf", argv, env=env, valgrind=valgrind)
        self.url = self.path_url = self.tunnel_id = None
        self.established = 0  # how many "Tunnel established" lines were consumed
        self._next_line = 0
        if wait:
            try:
                self.wait_established(15)
            except BaseException:
                self.proc.kill()
                raise

    def inspector(self, timeout=15):
        """The inspector's base URL, from ttf's "Inspector: <url>" line."""
        m, _ = self.proc.wait_line(r"^Inspector: (http://\S+)$", timeout)
        return m.group(1)

    def wait_established(self, timeout):
        m, i = self.proc.wait_line(r"^Tunnel established: (\S+)$", timeout, start=self._next_line)
        url = m.group(1)
        mp, j = self.proc.wait_line(r"^Path URL: (\S+)$", 5, start=i + 1)
        self._next_line = j + 1
        self.established += 1
        mid = re.match(r"^(https?)://([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.([^/:]+)(?::(\d+))?/?$",
                       url)
        assert mid, "public URL does not look like scheme://<name>.<domain>:port: %r" % url
        self.url, self.path_url, self.tunnel_id = url, mp.group(1), mid.group(2)
        return url

    def stop(self):
        return self.proc.stop()


def sub_host(ttfd, tunnel_id, domain="localhost"):
    """Host header for subdomain routing."""
    return "%s.%s:%d" % (tunnel_id, domain, ttfd.port)


def path_host(ttfd, domain="localhost"):
    return "%s:%d" % (domain, ttfd.port)


# ---------------------------------------------------------------- raw HTTP/1.1 client


class RawResponse:
    def __init__(self, status, reason, head_lines, body, raw_head):
        self.status = status
        self.reason = reason
        self.head_lines = head_lines  # [(name, value)] in order, names as sent
        self.body = body
        self.raw_head = raw_head

    def get_all(self, name):
        return [v for (n, v) in self.head_lines if n.lower() == name.lower()]

    def get(self, name):
        vals = self.get_all(name)
        return vals[0] if vals else None


class RawConn:
    """A blocking HTTP/1.1 client on a raw socket: sends bytes as given, parses answers
    itself (Content-Length, chunked, or close-delimited), keeping header lines byte-exact."""

    def __init__(self, port, host="127.0.0.1", timeout=20, sock=None):
        self.sock = sock or socket.create_connection((host, port), timeout=timeout * SLOW)
        self.sock.settimeout(timeout * SLOW)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def read_until(self, marker):
        while marker not in self.buf:
            self._fill()
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_to_eof(self):
        while True:
            try:
                self._fill()
            except EOFError:
                break
        out, self.buf = self.buf, b""
        return out

    def read_head(self):
        raw = self.read_until(b"\r\n\r\n")
        lines = raw[:-4].split(b"\r\n")
        m = re.match(rb"^HTTP/1\.[01] (\d{3}) ?(.*)$", lines[0])
        assert m, "bad status line %r" % lines[0]
        heads = []
        for ln in lines[1:]:
            name, _, value = ln.partition(b":")
            heads.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
        return int(m.group(1)), m.group(2).decode("latin-1"), heads, raw

    def read_response(self, method="GET"):
        status, reason, heads, raw = self.read_head()
        resp = RawResponse(status, reason, heads, b"", raw)
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return resp
        te = ",".join(resp.get_all("Transfer-Encoding")).lower()
        if "chunked" in te:
            body = []
            while True:
                size_line = self.read_until(b"\r\n")
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.read_until(b"\r\n") != b"\r\n":
                        pass
                    break
                body.append(self.read_exact(size))
                assert self.read_exact(2) == b"\r\n"
            resp.body = b"".join(body)
        elif resp.get("Content-Length") is not None:
            resp.body = self.read_exact(int(resp.get("Content-Length")))
        else:
            resp.body = self.read_to_eof()
        return resp

    def request(self, method, target, host, headers=(), body=b"", chunked=False):
        self.send(build_request(method, target, host, headers, body, chunked))
        return self.read_response(method)


def build_request(method, target, host, headers=(), body=b"", chunked=False):
    lines = ["%s %s HTTP/1.1" % (method, target), "Host: %s" % host]
    lines += ["%s: %s" % (n, v) for (n, v) in headers]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        payload = b""
        for i in range(0, len(body), 7000):
            part = body[i:i + 7000]
            payload += b"%x\r\n" % len(part) + part + b"\r\n"
        payload += b"0\r\n\r\n"
    else:
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append("Content-Length: %d" % len(body))
        payload = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


def http(port, method, target, host, headers=(), body=b"", chunked=False, timeout=20):
    """One request on a fresh connection."""
    c = RawConn(port, timeout=timeout)
    try:
        return c.request(method, target, host, headers, body, chunked)
    finally:
        c.close()


def http_early_answer(port, method, target, host, body_pieces, length, timeout=30):
    """Send a request whose body the server may refuse early (413): sending stops quietly at
    a reset/broken pipe, then the answer is read."""
    c = RawConn(port, timeout=timeout)
    try:
        c.send(("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
                % (method, target, host, length)).encode())
        try:
            for piece in body_pieces:
                c.send(piece)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the server stopped reading: its answer should be waiting
        try:
            return c.read_response(method)
        except (EOFError, ConnectionResetError) as e:
            raise AssertionError("no answer read after the server stopped the upload: %r" % e)
    finally:
        c.close()


# ---------------------------------------------------------------- data patterns


def pattern_block():
    """1 MiB of deterministic pseudo-random bytes (the download/upload pattern unit)."""
    out = bytearray()
    seed = b"http-tunnel-e2e"
    i = 0
    while len(out) < MB:
        out += hashlib.sha256(seed + i.to_bytes(4, "big")).digest()
        i += 1
    return bytes(out[:MB])


PATTERN = pattern_block()


def pattern_chunks(n, size=MB):
    """Yield n bytes of the repeated pattern, in pieces of at most `size`."""
    sent = 0
    while sent < n:
        k = min(size, n - sent)
        off = sent % MB
        piece = (PATTERN[off:] + PATTERN)[:k] if off + k > MB else PATTERN[off:off + k]
        yield piece
        sent += k


def pattern_sha256(n):
    h = hashlib.sha256()
    for c in pattern_chunks(n):
        h.update(c)
    return h.hexdigest()


# ---------------------------------------------------------------- WebSocket frames (RFC 6455)

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_accept(key):
    return base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()


def ws_mask(payload, key):
    n = len(payload)
    if n == 0:
        return payload
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def ws_frame(opcode, payload, mask, fin=True):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack(">Q", n)
    if mask:
        key = os.urandom(4)
        payload = ws_mask(payload, key)
        head += key
    return head + payload


def ws_read_frame(read_exact):
    """Read one frame with read_exact(n); returns (fin, opcode, masked, payload)."""
    b0, b1 = read_exact(2)
    fin, opcode, masked, n = bool(b0 & 0x80), b0 & 0x0F, bool(b1 & 0x80), b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", read_exact(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", read_exact(8))[0]
    key = read_exact(4) if masked else None
    payload = read_exact(n) if n else b""
    if key:
        payload = ws_mask(payload, key)
    return fin, opcode, masked, payload


def ws_read_message(read_exact):
    """Read a whole (possibly fragmented) data message; control frames are returned as is."""
    fin, op, masked, data = ws_read_frame(read_exact)
    if op >= 8:
        return op, masked, data
    first_op, parts = op, [data]
    while not fin:
        fin, op, masked2, data = ws_read_frame(read_exact)
        assert op == 0, "expected a continuation frame, got opcode %d" % op
        parts.append(data)
    return first_op, masked, b"".join(parts)
