# SPDX-License-Identifier: MIT
"""bench/stallkit.py - what the stall benchmarks (stall_cost.py, upload_stall_cost.py) share: a
threaded local service of the script's own, a process's resident memory, and starting and stopping
ttfd and ttf. Loopback only."""

import os
import re
import socket
import subprocess
import sys
import threading
import time


def fail(prog, msg, code=2):
    """Prints 'prog: msg' on stderr and exits with code (1: a target missed, 2: a setup failure)."""
    print("%s: %s" % (prog, msg), file=sys.stderr)
    sys.exit(code)


class Service:
    """A local service on 127.0.0.1 (an ephemeral port): each connection is handed to serve(c) on
    a thread of its own. close() stops accepting and shuts every connection down."""

    backlog = 512

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(self.backlog)
        self.port = self.lsock.getsockname()[1]
        self.conns = []
        self.stop = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.stop:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        raise NotImplementedError

    def close(self):
        self.stop = True
        self.lsock.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()


def read_until(c, marker, data=b""):
    """Reads socket c until marker is in what was read (data first), or to its end: all of it."""
    while marker not in data:
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def rss_kb(pid):
    """VmRSS of pid in KiB (/proc/PID/status)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for %d" % pid)


def start(argv, pattern, timeout=15):
    """Starts argv and reads its stdout until a line matches pattern: (process, match). Its stderr
    goes to LOGDIR/<program>.log when LOGDIR is set, else nowhere. RuntimeError when the pattern
    did not come within timeout seconds (the process is killed)."""
    err = subprocess.DEVNULL
    if os.environ.get("LOGDIR"):
        err = open(os.path.join(os.environ["LOGDIR"], os.path.basename(argv[0]) + ".log"), "w")
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = p.stdout.readline()
        m = re.search(pattern, line)
        if m:
            return p, m
        if not line and p.poll() is not None:
            break
    p.kill()
    p.wait()
    raise RuntimeError("%s did not print /%s/" % (argv[0], pattern))


def stop(p):
    """SIGTERM, then SIGKILL after 10 s; waits for the process."""
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()

