# SPDX-License-Identifier: MIT
"""Resource limits: ttfd at file-descriptor exhaustion (issue 12 item 5).

With its descriptor limit lowered (prlimit on the running process) and more connections waiting
than it may accept, ttfd must back off accepting instead of failing accept(2) in a busy loop:
bounded CPU time and a bounded number of log lines over a waited interval, a keep-alive connection
accepted before still served, and new connections accepted again once descriptors are free.
"""

import os
import resource
import socket
import time

import tunnelkit as tk

HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of pid, from /proc/<pid>/stat (fields 14 and 15)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_fd_exhaustion_backs_off_and_keeps_serving(stack):
    srv = stack.local()
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), srv.port)
    host = tk.sub_host(d, a.tunnel_id)
    keep = tk.RawConn(d.port)
    r = keep.request("GET", "/before", host)
    assert r.status == 200, r.raw_head
    assert (r.get("Connection") or "").lower() != "close"

    # Room for a few more descriptors only, then three times more connections than that.
    limit = open_fds(d.proc.pid) + 4
    resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE, (limit, limit))
    flood = []
    try:
        for _ in range(3 * 4 + 30):
            flood.append(socket.create_connection(("127.0.0.1", d.port)))
        # ttfd has reached its limit once it says so (at most one line per interval)
        d.proc.wait_line(r"accept failed", 10, stream="err")

        window = 2.0
        cpu0 = cpu_seconds(d.proc.pid)
        lines0 = len(d.proc.err_times(r"accept"))
        t0 = time.monotonic()
        # while the flood waits, the connection accepted before is served
        r = keep.request("GET", "/during", host)
        assert r.status == 200, r.raw_head
        time.sleep(max(0.0, window - (time.monotonic() - t0)))  # the measured interval
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(d.proc.pid) - cpu0
        lines = len(d.proc.err_times(r"accept")) - lines0
        # A busy loop burns the whole interval (and writes thousands of lines a second).
        assert cpu < 0.25 * elapsed, "ttfd used %.2f s of CPU in %.2f s at its fd limit" % (
            cpu, elapsed)
        assert lines <= elapsed + 2, "%d accept log lines in %.2f s:\n%s" % (
            lines, elapsed, "\n".join(d.proc.err_lines[-10:]))
    finally:
        for s in flood:
            s.close()

    # Descriptors are free again: new connections are accepted and served.
    r = tk.http(d.port, "GET", "/after", host, timeout=20)
    assert r.status == 200, r.raw_head
    keep.close()
