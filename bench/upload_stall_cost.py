#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/upload_stall_cost.py - what stalled uploads cost ttf in memory in JSON mode.

Starts ttfd (BUILD/bin/ttfd, plain, loopback, ephemeral port, --max-streams-per-agent CAP) and
one ttf agent (BUILD/bin/ttf, --protocol json) in front of a local service of this script that
accepts every connection and then neither reads nor answers. STREAMS public clients each POST a
BODY-octet upload and push it as fast as the tunnel takes it, until every one stalls. Once ttf's
resident memory settles it prints ttf's VmRSS growth in all and per stalled upload, and whether a
quick request through the same agent is still answered meanwhile (no head-of-line blocking).

Target: ttf's RSS growth at most TARGET_MB (64 MB) with STREAMS up to the per-agent cap (256):
what a user expects an agent next to a laptop's service to cost, whatever the public clients do.
Exits 1 when a figure misses its target, 2 on a setup failure. Not part of `make test` (a
benchmark: hundreds of sockets, seconds of settling).

With LIVE_MB set it also times one upload of LIVE_MB MiB to a service that reads it, before the
stalled uploads and while they stall (a stalled upload must not starve a live one, agent/hold.h);
RTT_MS puts a delay proxy (tests/e2e/delayproxy.py, no tc) between ttf and ttfd, so that window
credit costs a round trip as on a real link.

Environment: BUILD (build), STREAMS (256), BODY (8 MiB), CAP (256), TARGET_MB (64), MODE (json;
binary for comparison), LIVE_MB (0: no live upload), RTT_MS (0), STALLED_S (2: how long after the
stalled uploads went quiet, 2 s, the live one starts), LOGDIR (where ttfd.log and
ttf.log go; default: discarded).
Loopback only; every process and socket it opens is closed before it exits.
"""

import os
import re
import selectors
import socket
import sys
import time

import stallkit
from stallkit import start, stop

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from delayproxy import DelayProxy  # noqa: E402  (standard library only)

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("BUILD", os.path.join(HERE, "..", "build"))
TTFD = os.environ.get("TTFD_BIN", os.path.join(BUILD, "bin", "ttfd"))
TTF = os.environ.get("TTF_BIN", os.path.join(BUILD, "bin", "ttf"))
STREAMS = int(os.environ.get("STREAMS", "256"))
BODY = int(os.environ.get("BODY", str(8 << 20)))
CAP = os.environ.get("CAP", "256")
TARGET_MB = float(os.environ.get("TARGET_MB", "64"))
MODE = os.environ.get("MODE", "json")
LIVE_MB = int(os.environ.get("LIVE_MB", "0"))
RTT_MS = float(os.environ.get("RTT_MS", "0"))
STALLED_S = float(os.environ.get("STALLED_S", "2"))


def fail(msg, code=2):
    stallkit.fail("upload_stall_cost", msg, code)


class Silent(stallkit.Service):
    """The local service: accepts, then neither reads nor answers; /quick is answered, and a
    POST /live read whole and answered."""

    backlog = 1024

    def serve(self, c):
        try:
            head = c.recv(256, socket.MSG_PEEK)  # peek only: an upload stays unread
            if head.startswith(b"GET /quick"):
                c.recv(65536)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
                          b"quick")
                c.shutdown(socket.SHUT_RDWR)  # no keep-alive: ttf would queue a request on it
            elif head.startswith(b"POST /live"):
                head, _, body = stallkit.read_until(c, b"\r\n\r\n").partition(b"\r\n\r\n")
                n = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1)) - len(body)
                while n > 0:
                    x = c.recv(min(n, 1 << 20))
                    if not x:
                        return
                    n -= len(x)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\n"
                          b"live")
                c.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def status_of(s):
    """The status of the response socket s brings (0: none)."""
    data = stallkit.read_until(s, b"\r\n")
    return int(data.split(b" ")[1]) if data.startswith(b"HTTP/") else 0


def quick(port, host, timeout=10):
    """Status of GET /quick through the tunnel (0: no answer in time)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET /quick HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                      % host.encode())
            return status_of(s)
    except OSError:
        return 0


def live(port, host, size, timeout=60):
    """(status, seconds) of one POST /live of size octets through the tunnel (0: failed)."""
    t0 = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"POST /live HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n"
                      b"Connection: close\r\n\r\n" % (host.encode(), size))
            block = b"l" * (1 << 20)
            left = size
            while left > 0:
                left -= s.send(block[:min(left, len(block))])
            status = status_of(s)
    except OSError:
        status = 0
    return status, time.monotonic() - t0


def answered(socks):
    """How many of the uploads got a 504 (or any answer) so far."""
    n = 0
    for s in socks:
        try:
            n += s.recv(12, socket.MSG_PEEK | socket.MSG_DONTWAIT).startswith(b"HTTP/1.1 ")
        except OSError:
            pass
    return n


def push(socks, settle_s=60):
    """Writes each upload as fast as it is taken, until none moved for 2 s. Octets sent."""
    sel = selectors.DefaultSelector()
    left = {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_WRITE)
        left[s] = BODY
    block = b"u" * 65536
    sent, quiet_since, end = 0, time.monotonic(), time.monotonic() + settle_s
    while time.monotonic() < end and time.monotonic() - quiet_since < 2.0:
        for key, _ in sel.select(0.2):
            s = key.fileobj
            try:
                n = s.send(block[:min(len(block), left[s])])
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                sel.unregister(s)
                continue
            sent += n
            left[s] -= n
            quiet_since = time.monotonic()
            if left[s] == 0:
                sel.unregister(s)
    sel.close()
    return sent


def main():
    app = Silent()
    d = a = proxy = None
    socks = []
    try:
        d, m = start([TTFD, "--listen", "127.0.0.1:0", "--state", ":memory:",
                      "--max-streams-per-agent", CAP, "--request-timeout", "600",
                      "--body-timeout", "600"], r"Listening on http://127\.0\.0\.1:(\d+)")
        port = int(m.group(1))
        link = port
        if RTT_MS > 0:
            proxy = DelayProxy(port, RTT_MS)
            link = proxy.port
        a, ma = start([TTF, "-e", "ws://127.0.0.1:%d/_tunnel" % link, "-p", str(app.port),
                       "--protocol", MODE, "--no-inspect", "--request-timeout", "600"],
                      r"https?://([a-z0-9]+)\.localhost")
        host = "%s.localhost:%d" % (ma.group(1), port)
        if quick(port, host) != 200:
            fail("the tunnel does not answer")
        if LIVE_MB:
            st, took = live(port, host, LIVE_MB << 20)
            print("%s: a %d MiB upload alone (RTT %.0f ms): %d in %.2f s"
                  % (MODE, LIVE_MB, RTT_MS, st, took), flush=True)
        time.sleep(0.5)
        base = stallkit.rss_kb(a.pid)
        for _ in range(STREAMS):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"POST /upload HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
                      % (host.encode(), BODY))
            socks.append(s)
        sent = push(socks)
        peak = stallkit.rss_kb(a.pid)
        t0 = time.monotonic()
        q = quick(port, host)
        took = time.monotonic() - t0
        grew = (peak - base) / 1024
        print("%s: %d stalled uploads of %d MiB (%.1f MB pushed in all): ttf RSS %.1f -> %.1f MB "
              "(+%.1f MB, %.0f KB per upload); a quick request meanwhile: %d in %.2f s"
              % (MODE, STREAMS, BODY >> 20, sent / 1e6, base / 1024, peak / 1024, grew,
                 grew * 1024 / STREAMS, q, took), flush=True)
        ok = grew <= TARGET_MB and q == 200
        if LIVE_MB:
            time.sleep(STALLED_S)  # the stalled uploads have taken nothing for this long more
            st, took = live(port, host, LIVE_MB << 20)
            print("%s: a %d MiB upload among the stalled ones (RTT %.0f ms): %d in %.2f s; "
                  "stalled uploads failed (504) by then: %d"
                  % (MODE, LIVE_MB, RTT_MS, st, took, answered(socks)), flush=True)
            ok = ok and st == 200
        print("target: ttf RSS growth <= %.0f MB and the quick request answered: %s"
              % (TARGET_MB, "met" if ok else "MISSED"))
        return 0 if ok else 1
    finally:
        for s in socks:
            s.close()
        for p in (a, d):
            if p:
                stop(p)
        if proxy:
            proxy.close()
        app.close()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError) as e:  # a setup failure (stallkit, or a program missing)
        fail(str(e))
