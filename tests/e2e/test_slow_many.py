# SPDX-License-Identifier: MIT
"""Many slow readers of large downloads at once through one binary-mode agent: what ttfd holds
for a client that does not read is bounded by the stream's response window (its first 256 KiB:
the window grows to 512 KiB only for a client that reads, docs/protocol.md §3), so ttfd's peak
RSS grows in proportion to the streams and stays within that bound; ttf holds little; no stream
starves another (a fast download and a small request go through while they wait), and every
stream ends when its client leaves."""

import hashlib
import socket
import time

import pytest

import tunnelkit as tk
from conftest import make_tunnel

STREAMS = 200
WINDOW_KB = 512  # TTF_BIN_INITIAL_WINDOW + BULK_EXTRA (server/mux_bin.c)


@pytest.fixture(scope="module")
def t(mstack):
    return make_tunnel(mstack)  # fresh processes: VmHWM is a lifetime peak


def vmrss_kb(proc):
    with open("/proc/%d/status" % proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_many_slow_readers_are_bounded_and_starve_no_one(t):
    base = {"ttfd": vmrss_kb(t.ttfd.proc), "ttf": vmrss_kb(t.ttf.proc)}
    socks = []
    try:
        for _ in range(STREAMS):
            s = socket.create_connection(("127.0.0.1", t.port), timeout=20 * tk.SLOW)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /download?n=%d HTTP/1.1\r\nHost: %s\r\n\r\n"
                      % (64 * tk.MB, t.host.encode()))
            socks.append(s)
        # each stream fills its window and the client's socket, then waits: RSS settles
        last, end = -1, time.monotonic() + 30 * tk.SLOW
        while True:
            now = vmrss_kb(t.ttfd.proc) + vmrss_kb(t.ttf.proc)
            if abs(now - last) <= 256 or time.monotonic() > end:
                break
            last = now
            time.sleep(0.5)
        # a fast download and a small request still go through
        n = 8 * tk.MB
        r = tk.http(t.port, "GET", "/download?n=%d" % n, t.host, timeout=60)
        assert r.status == 200 and len(r.body) == n
        assert hashlib.sha256(r.body).hexdigest() == tk.pattern_sha256(n)
        peak = {"ttfd": vmrss_kb(t.ttfd.proc), "ttf": vmrss_kb(t.ttf.proc)}
        print("RSS with %d slow readers: ttfd %.1f -> %.1f MB, ttf %.1f -> %.1f MB" % (
            STREAMS, base["ttfd"] / 1024, peak["ttfd"] / 1024, base["ttf"] / 1024,
            peak["ttf"] / 1024))
        if not (tk.SANITIZED or tk.VALGRIND):
            for name in peak:
                per = (peak[name] - base[name]) / STREAMS
                # the window, plus what the buffers' allocation holds around it (measured on
                # 2026-11-30: ttfd ~775 KB, ttf ~250 KB per stream with a 512 KiB window; ttfd
                # ~470 KB once a client that reads nothing kept the first 256 KiB)
                assert per < 2 * WINDOW_KB, "%s holds %.0f KB per slow stream" % (name, per)
    finally:
        for s in socks:
            s.close()
