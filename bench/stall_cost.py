#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/stall_cost.py - what stalled public clients cost ttfd in memory, and what
--max-streams-per-agent bounds.

Starts ttfd (BUILD/bin/ttfd, plain, loopback, ephemeral port) and AGENTS ttf agents (BUILD/bin/ttf,
wire MODE) in front of a local service of this script that answers every GET with an endless
body. Then STREAMS public clients per agent ask for it and never read (receive buffer RCVBUF
octets): each stream fills its window and stalls. Once ttfd's resident memory settles it prints,
per mode: the streams ttfd let in (200) and refused (503), ttfd's VmRSS growth in all and per
stream let in, and the octets queued in ttfd's sockets to those clients (the kernel's share,
from /proc/net/tcp, not in VmRSS).

Targets, per stream let in: at most 600 KB of ttfd RSS in either mode (0.8 MB binary and 1.3 MB
JSON before a client that does not read kept its stream's first 256 KiB window), and at most
256 KiB queued in the kernel toward it (about 3 MB before ttfd set TCP_NOTSENT_LOWAT on public
sockets: the send buffer grew to tcp_wmem's 4 MiB). Exits 1 when a figure misses its target, 2 on a setup failure. Not part of
`make test` (a benchmark: hundreds of sockets, seconds of settling).

Environment: BUILD (build), MODES (binary,json), AGENTS (1), STREAMS (200), CAP (ttfd's
--max-streams-per-agent; default: ttfd's own, 128), RCVBUF (4096).
Loopback only; every process and socket it opens is closed before it exits.
"""

import os
import socket
import time

import stallkit
from stallkit import start, stop

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("BUILD", os.path.join(HERE, "..", "build"))
TTFD = os.environ.get("TTFD_BIN", os.path.join(BUILD, "bin", "ttfd"))
TTF = os.environ.get("TTF_BIN", os.path.join(BUILD, "bin", "ttf"))
MODES = os.environ.get("MODES", "binary,json").split(",")
AGENTS = int(os.environ.get("AGENTS", "1"))
STREAMS = int(os.environ.get("STREAMS", "200"))
CAP = os.environ.get("CAP")
RCVBUF = int(os.environ.get("RCVBUF", "4096"))
TARGET_STREAM_KB = 600.0
TARGET_KERNEL_KB = 256.0


def fail(msg, code=2):
    stallkit.fail("stall_cost", msg, code)


class Endless(stallkit.Service):
    """The local service: every request gets 200 and an endless chunk-free body (Content-Length
    1 TB), written as long as the tunnel takes it."""

    def serve(self, c):
        block = b"x" * 65536
        try:
            if b"\r\n\r\n" not in stallkit.read_until(c, b"\r\n\r\n"):
                return
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n")
            while not self.stop:
                c.sendall(block)
        except OSError:
            pass


def kernel_queued(port, peers):
    """Octets queued in ttfd's sockets (local port `port`) toward the given client ports."""
    total = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            cols = line.split()
            lport = int(cols[1].split(":")[1], 16)
            rport = int(cols[2].split(":")[1], 16)
            if lport == port and rport in peers:
                total += int(cols[4].split(":")[0], 16)
    return total


def run(mode, app):
    args = [TTFD, "--listen", "127.0.0.1:0", "--state", ":memory:"]
    if CAP is not None:
        args += ["--max-streams-per-agent", CAP]
    d, m = start(args, r"Listening on http://127\.0\.0\.1:(\d+)")
    port = int(m.group(1))
    agents, socks = [], []
    try:
        hosts = []
        for _ in range(AGENTS):
            a, ma = start([TTF, "-e", "ws://127.0.0.1:%d/_tunnel" % port, "-p", str(app.port),
                           "--protocol", mode, "--no-inspect"], r"https?://([a-z0-9]+)\.localhost")
            agents.append(a)
            hosts.append("%s.localhost:%d" % (ma.group(1), port))
        time.sleep(0.5)
        base = stallkit.rss_kb(d.pid)
        for host in hosts:
            for _ in range(STREAMS):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
                s.connect(("127.0.0.1", port))
                s.sendall(b"GET /big HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
                socks.append(s)
        last, end = -1, time.monotonic() + 60
        while time.monotonic() < end:  # each stream fills its window and stalls: RSS settles
            now = stallkit.rss_kb(d.pid)
            if abs(now - last) <= 256:
                break
            last = now
            time.sleep(1)
        peak = stallkit.rss_kb(d.pid)
        statuses = {}
        for s in socks:
            s.settimeout(10)
            head = b""
            while b"\r\n" not in head:
                data = s.recv(16)
                if not data:
                    break
                head += data
            st = head.split(b" ")[1].decode() if b" " in head else "none"
            statuses[st] = statuses.get(st, 0) + 1
        let_in = statuses.get("200", 0)
        peers = {s.getsockname()[1] for s in socks}
        queued = kernel_queued(port, peers)
        grew = peak - base
        per = grew / let_in if let_in else 0.0
        print("%-6s agents %d, %d clients each: let in %d, refused (503) %d; ttfd RSS %.1f -> "
              "%.1f MB (+%.1f MB, %.0f KB per stream let in); kernel send queues %.1f MB"
              % (mode, AGENTS, STREAMS, let_in, statuses.get("503", 0), base / 1024,
                 peak / 1024, grew / 1024, per, queued / 1e6), flush=True)
        return per, queued / 1024 / let_in if let_in else 0.0
    finally:
        for s in socks:
            s.close()
        for a in agents:
            stop(a)
        stop(d)


def main():
    for b in (TTFD, TTF):
        if not os.access(b, os.X_OK):
            fail("%s missing (make build)" % b)
    app = Endless()
    missed = []
    try:
        for mode in MODES:
            per, kernel = run(mode, app)
            if per > TARGET_STREAM_KB:
                missed.append("%s: %.0f KB of RSS per stream (target %.0f)"
                              % (mode, per, TARGET_STREAM_KB))
            if kernel > TARGET_KERNEL_KB:
                missed.append("%s: %.0f KiB queued in the kernel per stream (target %.0f)"
                              % (mode, kernel, TARGET_KERNEL_KB))
    finally:
        app.close()
    if missed:
        fail("; ".join(missed), 1)


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, OSError) as e:  # a setup failure (stallkit, or a program missing)
        fail(str(e))
