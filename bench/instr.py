#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""make bench-instr: CPU work per request of ttfd and ttf, counted instead of timed.

For each mode in INSTR_MODES (default "json binary"), starts the benchmark's local service and a
ttfd + ttf pair under valgrind's callgrind, warms up with INSTR_WARMUP requests, zeroes the
counters and sends exactly INSTR_REQUESTS keep-alive GETs of a 1 KiB body over INSTR_CONNECTIONS
connections (a fixed-count client of this script: every answer checked, 200 and the whole body).
Prints per program the user-space instructions per request (callgrind's Ir: the same figure
whatever else loads the machine, within a few tenths of a percent from run to run) and its top
INSTR_TOP functions by self cost. Then, on the programs run natively, the system calls per
request over the same count (perf stat on the raw_syscalls and syscalls tracepoints: no hardware
counters needed; unlike instructions these depend a little on how requests batch: this
script's Python client is slower than wrk). The CPU time the 2-core benchmark measures follows
both.
INSTR_KEEP=DIR keeps the callgrind files (DIR/MODE-PROG.callgrind) for callgrind_annotate.
Needs valgrind and linux-perf (root, or perf_event_paranoid <= 1 for the tracepoints).
"""

import collections
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time

import benchlib as bl

SYSCALLS = ("read", "writev", "write", "epoll_wait", "epoll_ctl")


class BadAnswer(bl.BenchError):
    pass


def fixed_gets(port, host, total, conns, path="/bytes/1024", size=1024):
    """TOTAL GETs of PATH on CONNS keep-alive connections to 127.0.0.1:PORT; every answer must be
    a 200 with SIZE body bytes."""
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bench-instr\r\nAccept: */*\r\n\r\n" % (path, host)).encode()
    sel = selectors.DefaultSelector()
    socks = []
    sent = done = 0
    for _ in range(min(conns, total)):
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(req)
        sent += 1
        socks.append(s)
        sel.register(s, selectors.EVENT_READ, bytearray())
    try:
        while done < total:
            events = sel.select(timeout=60)
            if not events:
                raise BadAnswer("no answer within 60 s (%d of %d done)" % (done, total))
            for key, _ in events:
                buf = key.data
                chunk = key.fileobj.recv(65536)
                if not chunk:
                    raise BadAnswer("connection closed (%d of %d done)" % (done, total))
                buf += chunk
                while True:
                    end = buf.find(b"\r\n\r\n")
                    if end < 0:
                        break
                    head = bytes(buf[:end]).decode("latin-1")
                    m = re.search(r"\r\ncontent-length: *(\d+)", head, re.I)
                    if not head.startswith("HTTP/1.1 200 ") or not m or int(m.group(1)) != size:
                        raise BadAnswer("unexpected answer: %r" % head[:200])
                    if len(buf) < end + 4 + size:
                        break
                    del buf[:end + 4 + size]
                    done += 1
                    if sent < total:
                        key.fileobj.sendall(req)
                        sent += 1
    finally:
        sel.close()
        for s in socks:
            s.close()


def callgrind_self(path):
    """(total Ir, Counter of self Ir per function) of a callgrind output file."""
    names = {}
    self_ir = collections.Counter()
    fn = None
    after_call = False
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith(("fn=", "cfn=")):
                m = re.match(r"c?fn=\((\d+)\)(?: (.*))?$", line)
                if m and m.group(2):
                    names[m.group(1)] = m.group(2)
                if m and line.startswith("fn="):
                    fn = names.get(m.group(1), m.group(1))
                    after_call = False
            elif line.startswith("calls="):
                after_call = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()
                if len(parts) >= 2 and after_call:  # a call's inclusive cost: not fn's own
                    after_call = False
                elif len(parts) >= 2:
                    self_ir[fn] += int(parts[1])
    return sum(self_ir.values()), self_ir


def count_instructions(procs, tmp, mode, lport, n, conns, warmup, top, keep):
    wrap = ["valgrind", "--tool=callgrind", "--dump-instr=no"]
    tun = bl.Tunnel(procs, "cg-" + mode, lport, protocol=mode,
                    wrap={"ttfd": wrap + ["--callgrind-out-file=%s/ttfd.%%p" % tmp],
                          "ttf": wrap + ["--callgrind-out-file=%s/ttf.%%p" % tmp]})
    fixed_gets(tun.port, tun.host, warmup, conns)
    progs = (("ttfd", tun.ttfd.pid), ("ttf", tun.ttf.pid))
    for _name, pid in progs:
        subprocess.run(["callgrind_control", "--zero", str(pid)], check=True, capture_output=True)
    fixed_gets(tun.port, tun.host, n, conns)
    both = 0
    for name, pid in progs:
        before = set(os.listdir(tmp))
        subprocess.run(["callgrind_control", "--dump", str(pid)], check=True, capture_output=True)
        dumps = sorted(f for f in set(os.listdir(tmp)) - before if f.startswith("%s.%d" % (name, pid)))
        if not dumps:
            raise bl.BenchError("%s: callgrind wrote no dump" % name)
        path = os.path.join(tmp, dumps[-1])
        total, self_ir = callgrind_self(path)
        both += total
        print("%s: %.0f instructions per request (user space)" % (name, total / n))
        for fn, ir in self_ir.most_common(top):
            print("   %8.0f  %5.1f %%  %s" % (ir / n, 100.0 * ir / total, fn))
        if keep:
            os.makedirs(keep, exist_ok=True)
            shutil.copy(path, os.path.join(keep, "%s-%s.callgrind" % (mode, name)))
    print("ttfd + ttf: %.0f instructions per request" % (both / n), flush=True)
    procs.stop(tun.ttf)
    procs.stop(tun.ttfd)


def count_syscalls(procs, tmp, mode, lport, n, conns, warmup):
    tun = bl.Tunnel(procs, "sc-" + mode, lport, protocol=mode)
    fixed_gets(tun.port, tun.host, warmup, conns)
    events = ",".join(["raw_syscalls:sys_enter"] + ["syscalls:sys_enter_" + s for s in SYSCALLS])
    stats = []
    for name, p in (("ttfd", tun.ttfd), ("ttf", tun.ttf)):
        out = os.path.join(tmp, "%s-%s.stat" % (mode, name))
        stats.append((name, out, subprocess.Popen(
            ["perf", "stat", "-x", ",", "-e", events, "-o", out, "-p", str(p.pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    time.sleep(0.5)  # perf attached
    fixed_gets(tun.port, tun.host, n, conns)
    for _name, _out, st in stats:
        st.send_signal(signal.SIGINT)
        st.wait()
    for name, out, _st in stats:
        counts = {}
        with open(out) as f:
            for line in f:
                fields = line.split(",")
                if len(fields) > 2 and fields[0].strip().isdigit():
                    counts[fields[2].split(":")[-1].replace("sys_enter_", "")] = int(fields[0])
        print("%s: %.2f system calls per request: %s" % (
            name, counts.get("sys_enter", 0) / n,
            ", ".join("%s %.2f" % (s, counts.get(s, 0) / n) for s in SYSCALLS)))
    procs.stop(tun.ttf)
    procs.stop(tun.ttfd)


def main():
    bl.install_signal_exit()
    modes = os.environ.get("INSTR_MODES", "json binary").split()
    n, conns, warmup, top = (bl.env_int("INSTR_" + name, default) for name, default in (
        ("REQUESTS", 20000), ("CONNECTIONS", 32), ("WARMUP", 2000), ("TOP", 12)))
    keep = os.environ.get("INSTR_KEEP", "")
    if not bl.have_tools("instr", ("valgrind", "callgrind_control", "perf"), "install valgrind and linux-perf"):
        return 2

    def run(procs, tmp):
        _echo, lport = bl.start_echo_server(procs)
        for mode in modes:
            if mode not in ("binary", "json"):
                raise bl.BenchError("INSTR_MODES: unknown mode %r (binary, json)" % mode)
            print("\n==== %s mode: %d keep-alive GETs of 1 KiB, %d connections ====" % (mode, n, conns),
                  flush=True)
            count_instructions(procs, tmp, mode, lport, n, conns, warmup, top, keep)
            count_syscalls(procs, tmp, mode, lport, n, conns, warmup)

    return bl.run_in_tmp("instr", run)


if __name__ == "__main__":
    sys.exit(main())
