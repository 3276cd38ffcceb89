# SPDX-License-Identifier: MIT
"""ttf's terminal view under tmux: on a TTY, a live status block (session status, forwarding URLs,
inspector URL, connection counts, p50/p90, the last requests) redrawn in place, a QR code of the
public URL with --qr (decoded back with zbarimg), the shell's screen restored on exit; plain log
lines when stdout is not a terminal or with --log-format plain."""

import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib

import pytest

import tunnelkit as tk


class Tmux:
    """One private tmux server (its own socket) running one command in a detached session.
    The command runs under a shell that ignores SIGINT (so Ctrl-C reaches the command alone) and
    prints "[exited with N]" after it: tmux may learn of a child's death late (it waits for
    SIGCHLD, which the test runner's environment can hold back), the shell's line cannot."""

    def __init__(self, argv, cols=120, rows=50):
        if not shutil.which("tmux"):
            pytest.fail("tmux is missing: run scripts/deps.sh")
        self.dir = tempfile.mkdtemp(prefix="ttf-tmux-")
        self.sock = os.path.join(self.dir, "sock")
        conf = os.path.join(self.dir, "tmux.conf")
        with open(conf, "w") as f:
            f.write("set -g remain-on-exit on\nset -g status off\n")
        env = dict(os.environ, TUNNEL_INSPECT="127.0.0.1:0", TERM="xterm-256color")
        for k in ("TUNNEL_TOKEN", "TUNNEL_ENDPOINT"):
            env.pop(k, None)
        cmd = " ".join("'%s'" % a.replace("'", "'\\''") for a in argv)
        self.run("-f", conf, "new-session", "-d", "-s", "t", "-x", str(cols), "-y", str(rows),
                 "trap '' INT; %s; echo \"[exited with $?]\"; exec sleep 3600" % cmd, env=env)
        self.shell = int(self.run("display-message", "-p", "-t", "t", "#{pane_pid}").strip())
        self.pid = tk.wait_for(self.child, 10, "the command to start under tmux")

    def child(self):
        try:
            with open("/proc/%d/task/%d/children" % (self.shell, self.shell)) as f:
                kids = f.read().split()
        except OSError:
            return None
        return int(kids[0]) if kids else None

    def run(self, *args, env=None):
        p = subprocess.run(["tmux", "-S", self.sock] + list(args), capture_output=True, text=True,
                           timeout=20, env=env, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, "tmux %s: %s" % (args, p.stderr)
        return p.stdout

    def screen(self):
        return self.run("capture-pane", "-p", "-t", "t")

    def wait_screen(self, pred, what, timeout=15):
        last = [""]

        def check():
            last[0] = self.screen()
            return pred(last[0])
        try:
            tk.wait_for(check, timeout, what)
            return last[0]
        except AssertionError as e:
            raise AssertionError("%s\nscreen:\n%s" % (e, last[0]))

    def exit_status(self):
        """The command's exit status once the shell printed it, else None."""
        m = re.search(r"^\[exited with (\d+)\]$", self.screen(), re.M)
        return int(m.group(1)) if m else None

    def close(self):
        try:
            if self.exit_status() is None:
                os.kill(self.pid, 9)
        except (ProcessLookupError, AssertionError):
            pass
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True, timeout=20)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def tmux_ttf(stack):
    started = []

    def start(*extra):
        srv = stack.local()
        d = stack.ttfd()
        argv = ([] if not tk.VALGRIND else tk.VALGRIND_CMD) + [
            tk.TTF_BIN, "-e", d.endpoint(), "-p", str(srv.port)] + list(extra)
        t = Tmux(argv)
        started.append(t)
        return srv, d, t
    yield start
    for t in started:
        t.close()


def proc_state(pid):
    """What a process that does not exit is doing (for the failure message)."""
    out = []
    for name in ("status", "wchan", "stack"):
        try:
            with open("/proc/%d/%s" % (pid, name)) as f:
                text = f.read()
            out.append("%s: %s" % (name, " ".join(ln for ln in text.splitlines()
                                                  if name != "status" or ln.split(":")[0] in
                                                  ("State", "SigPnd", "ShdPnd", "SigBlk", "SigCgt"))))
        except OSError as e:
            out.append("%s: %s" % (name, e))
    return "\n".join(out)


def url_on(screen):
    m = re.search(r"^Forwarding\s+(http://([a-z0-9]{12})\.localhost:\d+) -> http://127\.0\.0\.1:\d+",
                  screen, re.M)
    return m and (m.group(1), m.group(2))


def three_rows(t):
    """The rows of the last requests once three are counted (with p50/p90), newest first."""
    screen = t.wait_screen(lambda s: re.search(r"^\s+3\s+0\s+\d+ms\s+\d+ms$", s, re.M),
                           "three requests counted with p50/p90")
    lines = screen.splitlines()
    i = lines.index("HTTP Requests")
    reqs = [ln for ln in lines[i + 2:] if re.match(r"^\d\d:\d\d:\d\d\.\d{3} ", ln)]
    assert len(reqs) == 3, screen
    return reqs


def test_status_block(tmux_ttf):
    srv, d, t = tmux_ttf()
    screen = t.wait_screen(lambda s: "online" in s and url_on(s), "the session online")
    url, tid = url_on(screen)
    assert re.search(r"^Session Status\s+online$", screen, re.M)
    assert re.search(r"^Web Interface\s+http://127\.0\.0\.1:\d+$", screen, re.M)
    assert re.search(r"^Forwarding\s+http://localhost:%d/%s -> " % (d.port, tid), screen, re.M)
    assert re.search(r"^\s+0\s+0\s+-\s+-$", screen, re.M)  # no requests yet
    host = tk.sub_host(d, tid)
    for target in ("/first", "/second?x=1"):
        assert tk.http(d.port, "GET", target, host).status == 200
    assert tk.http(d.port, "GET", "/status/404", host).status == 404
    reqs = three_rows(t)
    assert re.search(r" GET\s+/status/404\s+404 Not Found\s+\d+ ms$", reqs[0])  # newest first
    assert re.search(r" GET\s+/second\?x=1\s+200 OK\s+\d+ ms$", reqs[1])
    assert re.search(r" GET\s+/first\s+200 OK\s+\d+ ms$", reqs[2])
    # Redrawn in place: one status block, not one per change.
    assert screen.count("Session Status") == 1
    # Ctrl-C: graceful exit, the shell's screen back (the alternate screen is left).
    t.run("send-keys", "-t", "t", "C-c")
    try:
        tk.wait_for(lambda: t.exit_status() is not None, 15, "ttf to exit after Ctrl-C")
    except AssertionError as e:
        raise AssertionError("%s\n%s\nscreen:\n%s" % (e, proc_state(t.pid), t.screen()))
    assert t.exit_status() == 0
    after = t.screen()
    assert "Session Status" not in after and "HTTP Requests" not in after, after


def test_rows_name_their_tunnel_with_several(stack):
    """ttf --config with two tunnels: each row of the last requests names the tunnel that served
    it (as ngrok's per-tunnel lines do); each tunnel has its Forwarding line."""
    web, api = stack.local(), stack.local()
    d = stack.ttfd()
    cfg = tk.write_config("version: 2\ntunnels:\n  web:\n    addr: %d\n"
                          "  backend-api:\n    addr: %d\n" % (web.port, api.port))
    t = Tmux(([] if not tk.VALGRIND else tk.VALGRIND_CMD) + [
        tk.TTF_BIN, "-e", d.endpoint(), "--config", cfg])
    try:
        fwd = re.compile(r"^Forwarding\s+(web|backend-api): http://([a-z0-9]{12})\.localhost:\d+ -> "
                         r"http://127\.0\.0\.1:(\d+)$", re.M)
        screen = t.wait_screen(lambda s: "online" in s and len(fwd.findall(s)) == 2,
                               "both tunnels online")
        ids = {name: tid for name, tid, _ in fwd.findall(screen)}
        assert tk.http(d.port, "GET", "/from-web", tk.sub_host(d, ids["web"])).status == 200
        assert tk.http(d.port, "GET", "/from-api", tk.sub_host(d, ids["backend-api"])).status == 200
        assert tk.http(d.port, "GET", "/status/404", tk.sub_host(d, ids["web"])).status == 404
        reqs = three_rows(t)
        # newest first; the tunnel column as wide as the longest name
        assert re.search(r"\.\d{3} +web {9}GET\s+/status/404\s+404 Not Found\s+\d+ ms$", reqs[0]), reqs
        assert re.search(r"\.\d{3} +backend-api GET\s+/from-api\s+200 OK\s+\d+ ms$", reqs[1]), reqs
        assert re.search(r"\.\d{3} +web {9}GET\s+/from-web\s+200 OK\s+\d+ ms$", reqs[2]), reqs
    finally:
        t.close()
        os.unlink(cfg)


def decode_qr(screen):
    """The half-block QR on the screen as a PNG, decoded with zbarimg."""
    rows = [ln.rstrip() for ln in screen.splitlines()]
    block = [ln for ln in rows if ln.strip() and set(ln) <= set(" \u2580\u2584\u2588")]
    assert len(block) >= 10, "no QR block on the screen:\n" + screen
    width = max(len(ln) for ln in block)
    grid = []
    for ln in block:
        ln = ln.ljust(width)
        grid.append([c in "\u2580\u2588" for c in ln])  # upper half dark
        grid.append([c in "\u2584\u2588" for c in ln])  # lower half dark
    scale, pad = 6, 4
    w = (width + 2 * pad) * scale
    h = (len(grid) + 2 * pad) * scale
    raw = b""
    for y in range(h):
        gy = y // scale - pad
        row = bytearray(b"\x00")  # filter: none
        for x in range(w):
            gx = x // scale - pad
            dark = 0 <= gy < len(grid) and 0 <= gx < width and grid[gy][gx]
            row.append(0 if dark else 255)
        raw += bytes(row)

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    zbar = shutil.which("zbarimg")
    if not zbar:
        pytest.fail("zbarimg is missing: run scripts/deps.sh (zbar-tools)")
    with tempfile.NamedTemporaryFile(suffix=".png") as f:
        f.write(png)
        f.flush()
        p = subprocess.run([zbar, "--raw", "-q", f.name], capture_output=True, text=True,
                           timeout=30)
    assert p.returncode == 0, "zbarimg could not read the QR code: %s" % p.stderr
    return p.stdout.strip()


def test_qr_code(tmux_ttf):
    srv, d, t = tmux_ttf("--qr")
    screen = t.wait_screen(lambda s: "online" in s and url_on(s) and "\u2588" in s,
                           "the session online with its QR code")
    url, _ = url_on(screen)
    assert decode_qr(screen) == url


def test_plain_lines_when_not_a_tty(stack):
    srv = stack.local()
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), srv.port, "--qr")  # stdout is a pipe here
    assert tk.http(d.port, "GET", "/plain", tk.sub_host(d, a.tunnel_id)).status == 200
    a.proc.wait_line(r"INFO GET /plain -> 200 \d+ B \d+ ms$", 10, stream="err")
    out = a.proc.stdout()
    assert "\x1b[" not in out and "Session Status" not in out
    # --qr without a terminal: the code follows the URL lines, in plain characters.
    qr = [ln for ln in a.proc.out_lines if ln.strip() and set(ln) <= set(" \u2580\u2584\u2588")]
    assert len(qr) >= 10
    assert decode_qr("\n".join(qr)) == a.url


def test_log_format_plain_on_a_tty(tmux_ttf):
    srv, d, t = tmux_ttf("--log-format", "plain")
    screen = t.wait_screen(lambda s: "Tunnel established: http://" in s, "the plain lines")
    assert "Session Status" not in screen
    assert re.search(r"^Inspector: http://127\.0\.0\.1:\d+$", screen, re.M)
    assert re.search(r"ttf INFO ", screen)
