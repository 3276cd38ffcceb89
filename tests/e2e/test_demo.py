# SPDX-License-Identifier: MIT
"""The README's first command. scripts/demo.sh --check starts ttfd, the TodoMVC app and ttf,
requests through the tunnel in both routing modes, loads the page and follows the server-sent
events stream, and stops everything; `make demo` on a terminal stops on Ctrl-C and exits 0 without
make's "Error 130"; the demo app itself: its event stream, and no page that needs a CDN."""

import fcntl
import importlib.util
import os
import re
import select
import signal
import socket
import subprocess
import tempfile
import termios
import time

import pytest

import tunnelkit as tk

APP_DIR = os.path.join(tk.REPO, "testapp")


@pytest.fixture(scope="module", autouse=True)
def _python_packages():
    for mod in ("fastapi", "uvicorn"):
        if importlib.util.find_spec(mod) is None:
            pytest.fail("python3-%s missing (scripts/deps.sh installs it)" % mod)


@pytest.fixture
def demo_env():
    """The environment for a demo: a private state directory, so that ttfd's name owners and
    ttf's last id stay out of $HOME and a demo running next to the test does not hold the same
    ttfd state file."""
    with tempfile.TemporaryDirectory(prefix="tunnel-demo-state-") as state:
        env = dict(os.environ, TTFD_LISTEN="127.0.0.1:0", APP_PORT=str(tk.free_port()),
                   DEMO_TIMEOUT=str(int(20 * tk.SLOW)), XDG_STATE_HOME=state,
                   TUNNEL_INSPECT="127.0.0.1:0")  # ttf's inspector: a free port, not 4040
        env.pop("STATE_DIRECTORY", None)
        yield env


def test_demo_check(demo_env):
    env = dict(demo_env, TTFD_BIN=tk.TTFD_BIN, TTF_BIN=tk.TTF_BIN)
    p = subprocess.run([os.path.join(tk.REPO, "scripts", "demo.sh"), "--check"], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=120 * tk.SLOW)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "Tunnel established: http://" in p.stdout, out
    assert "demo check: OK" in p.stdout, out
    assert '"message":"TodoMVC API"' in p.stdout, out
    assert "curl http://" in p.stdout
    assert re.search(r"/ui -> \[HTTP 200 text/html", p.stdout), out
    assert re.search(r"/events -> 2 events: hello, then created \[SSE\]", p.stdout), out


class App:
    """The demo app under uvicorn on a free port, stopped by the test."""

    def __init__(self):
        self.port = tk.free_port()
        self.proc = tk.Proc("app", ["/usr/bin/python3", "-m", "uvicorn", "main:app", "--app-dir",
                                    APP_DIR, "--host", "127.0.0.1", "--port", str(self.port)],
                            valgrind=False)
        tk.wait_for(self.listening, 20, "the demo app listening on %d" % self.port)

    def listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def request(self, method, path, body=None):
        hdrs = [("Content-Type", "application/json")] if body is not None else []
        return tk.http(self.port, method, path, "127.0.0.1:%d" % self.port, headers=hdrs,
                       body=body.encode() if body is not None else b"")


@pytest.fixture
def app():
    a = App()
    yield a
    a.proc.stop()


def read_until(sock, buf, pattern, timeout):
    """Read from sock into buf (bytearray) until pattern (bytes regex) matches; the match."""
    end = tk.deadline(timeout)
    while True:
        m = re.search(pattern, buf)
        if m:
            return m
        left = end - time.monotonic()
        assert left > 0, "timed out waiting for %r; got %r" % (pattern, bytes(buf))
        r, _, _ = select.select([sock], [], [], left)
        if r:
            chunk = sock.recv(65536)
            assert chunk, "stream closed before %r; got %r" % (pattern, bytes(buf))
            buf += chunk


def test_app_events_stream_changes(app):
    s = socket.create_connection(("127.0.0.1", app.port), timeout=10)
    try:
        s.sendall(b"GET /events HTTP/1.1\r\nHost: app\r\nAccept: text/event-stream\r\n\r\n")
        buf = bytearray()
        read_until(s, buf, rb"event: hello\ndata: [^\n]*\n\n", 10)
        head = bytes(buf).split(b"\r\n\r\n", 1)[0].lower()
        assert b"content-type: text/event-stream" in head and b"cache-control: no-cache" in head
        r = app.request("POST", "/todos", '{"title":"stream me"}')
        assert r.status == 201, r.raw_head
        m = read_until(s, buf, rb"id: (\d+)\nevent: created\ndata: ([^\n]*)\n\n", 10)
        assert b'"title": "stream me"' in m.group(2)
        r = app.request("PUT", "/todos/1", '{"completed":false}')
        assert r.status == 200
        read_until(s, buf, rb"event: updated\ndata: \{\"id\": 1, [^\n]*\n\n", 10)
        r = app.request("DELETE", "/todos/2")
        assert r.status == 204
        read_until(s, buf, rb"event: deleted\ndata: \{\"id\": 2, [^\n]*\n\n", 10)
        ids = [int(x) for x in re.findall(rb"\nid: (\d+)\n", b"\n" + bytes(buf))]
        assert ids == sorted(ids) and len(ids) == 3, ids
    finally:
        s.close()


def test_app_events_max_ends_stream(app):
    s = socket.create_connection(("127.0.0.1", app.port), timeout=10)
    try:
        s.sendall(b"GET /events?max=1 HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n")
        buf = bytearray()
        read_until(s, buf, rb"event: hello", 10)
        assert app.request("POST", "/todos", '{"title":"last"}').status == 201
        read_until(s, buf, rb"event: created", 10)
        end = tk.deadline(10)
        while time.monotonic() < end:  # the server ends the response (chunked: last chunk + close)
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        else:
            raise AssertionError("stream not ended after max=1 events: %r" % bytes(buf))
    finally:
        s.close()


def test_app_has_no_cdn_pages(app):
    assert app.request("GET", "/docs").status == 404  # FastAPI's /docs loads swagger-ui from a CDN
    assert app.request("GET", "/redoc").status == 404
    assert app.request("GET", "/openapi.json").status == 200
    r = app.request("GET", "/ui")
    assert r.status == 200 and b"text/html" in r.raw_head.lower()
    page = r.body.decode()
    assert "EventSource(\"events\")" in page  # relative: works under both tunnel URLs
    ext = re.findall(r"""(?:src|href|action)=["']?(?:https?:)?//|@import|url\((?:https?:)?//""",
                     page, re.I)
    assert not ext, ext


def test_demo_beside_a_ttfd_started_by_hand(stack, demo_env):
    """A ttfd the user started by hand holds the default state file (locked): the demo's ttfd
    uses a state file of its own, and works beside it. APP_PORT=0 picks a free port for the app,
    as TTFD_LISTEN's port 0 does for ttfd (before, the demo waited 20 s for "port 0" and
    failed)."""
    stack.ttfd(env=demo_env)  # no --state: $XDG_STATE_HOME/ttfd/state.db, the demo's default
    env = dict(demo_env, TTFD_BIN=tk.TTFD_BIN, TTF_BIN=tk.TTF_BIN, APP_PORT="0")
    p = subprocess.run([os.path.join(tk.REPO, "scripts", "demo.sh"), "--check"], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=120 * tk.SLOW)
    out = p.stdout + p.stderr
    assert p.returncode == 0 and "demo check: OK" in p.stdout, out
    assert re.search(r"^Test app \(TodoMVC API\) on http://127\.0\.0\.1:[1-9]\d*$", p.stdout, re.M), out


def test_demo_refuses_a_ttfd_port_in_use(demo_env):
    """TTFD_LISTEN's port taken (by a ttfd started by hand, say): a hint before anything starts,
    as for APP_PORT."""
    busy = socket.socket()
    try:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        env = dict(demo_env, TTFD_BIN=tk.TTFD_BIN, TTF_BIN=tk.TTF_BIN,
                   TTFD_LISTEN="127.0.0.1:%d" % port)
        p = subprocess.run([os.path.join(tk.REPO, "scripts", "demo.sh"), "--check"], env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60 * tk.SLOW)
    finally:
        busy.close()
    assert p.returncode == 1, p.stdout + p.stderr
    assert "port %d (for ttfd) is already in use" % port in p.stderr, p.stderr
    assert "TTFD_LISTEN" in p.stderr and "Listening on" not in p.stdout, p.stdout + p.stderr


def test_make_demo_ctrl_c_exits_0(tmp_path, demo_env):
    """`make demo` on a terminal: the URL, then Ctrl-C stops everything; make exits 0 and prints no
    "Error 130" (the demo takes the terminal's foreground, scripts/foreground.py)."""
    master, slave = os.openpty()
    app_port = int(demo_env["APP_PORT"])
    env = dict(demo_env, TERM="dumb")
    env.pop("MAKEFLAGS", None)
    env.pop("TTF_DEMO_FOREGROUND", None)

    def as_terminal_session():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    p = subprocess.Popen(["make", "--no-print-directory", "-C", tk.REPO, "demo",
                          "DEMO_BUILD=%s" % (tmp_path / "build-demo")],
                         stdin=slave, stdout=slave, stderr=slave, env=env,
                         preexec_fn=as_terminal_session, close_fds=True)
    os.close(slave)
    out = bytearray()

    def pump(timeout):
        r, _, _ = select.select([master], [], [], timeout)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                return False
            out.extend(chunk)
            return bool(chunk)
        return True

    try:
        end = tk.deadline(180)  # includes building ttfd and ttf in tmp_path
        while b"Press Ctrl-C to stop." not in out:
            assert time.monotonic() < end and p.poll() is None, out.decode(errors="replace")
            pump(0.2)
        os.write(master, b"\x03")  # the terminal's interrupt character: SIGINT to its foreground
        rc = None
        end = tk.deadline(30)
        while rc is None and time.monotonic() < end:
            pump(0.2)
            rc = p.poll()
        end = tk.deadline(15)  # every process of the demo closes the terminal as it ends
        while pump(0.1):
            assert time.monotonic() < end, "a process of the demo outlived it:\n%s" % (
                out.decode(errors="replace"))
        text = out.decode(errors="replace")
        assert rc == 0, "make demo exited %r after Ctrl-C:\n%s" % (rc, text)
        assert "Error 130" not in text and "Interrupt" not in text, text
        assert "demo: stopped" in text, text
        m = re.search(r"Listening on http://127\.0\.0\.1:(\d+) ", text)
        assert m, text
        for port in (int(m.group(1)), app_port):  # the demo's processes are gone
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        os.close(master)
