#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""make bench-profile: where ttfd and ttf spend their time, from perf.

For each mode in PROFILE_MODES (default "binary tls json small": a PROFILE_MB download in binary
mode, in binary mode with TLS on both legs, in JSON mode, and PROFILE_SECONDS of 1 KiB keep-alive
GETs at 32 connections in binary mode), starts the benchmark's local service and a ttfd + ttf
pair, warms up with one step, then
  1. traces the system calls of ttfd and ttf during one step (perf trace) and prints their counts
     per MB or per request, and per socket (fd) the bytes moved by read- and write-like calls, the
     average per call and the commonest sizes (TLS record sizes show there);
  2. samples both programs during PROFILE_REPEAT steps (perf record -F PROFILE_FREQ, on-CPU time;
     flat unless PROFILE_CALLGRAPH is set, e.g. "dwarf") and prints each program's share per
     library and its top PROFILE_TOP symbols (self time; [k] marks kernel symbols);
  3. prints the CPU time each program used per 100 MB or per request and the rate that would give
     if the program were the only limit (CPU time: independent of other load on the machine);
     for transfers also the client's CPU, the time ttfd and ttf waited on a run queue while
     runnable, and the machine's idle CPU time (how the 2 cores were shared).
Every step is checked (HTTP 200 and the whole body; wrk without errors or non-2xx answers).
PROFILE_TRANSFER=upload profiles uploads instead of downloads. Needs root (or
perf_event_paranoid <= 0), linux-perf, curl and wrk.
Environment: PROFILE_MODES, PROFILE_MB (100), PROFILE_SECONDS (3), PROFILE_REPEAT (3),
PROFILE_FREQ (2999), PROFILE_TOP (15), PROFILE_CALLGRAPH, PROFILE_TRANSFER (download), BUILD,
TTFD_BIN, TTF_BIN.
"""

import collections
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import benchlib as bl

MIB = 1 << 20
READS = ("read", "readv", "recvfrom", "recvmsg", "recvmmsg", "pread64")
WRITES = ("write", "writev", "sendto", "sendmsg", "sendmmsg", "pwrite64", "sendfile", "splice")


def transfer(tun, nbytes, upload_file, tmp):
    """One download (or upload) through TUN; returns MB/s; raises BenchError unless it was whole."""
    argv = ["curl", "-sS", "--http1.1", "--max-time", "300", "-H", "Host: " + tun.host]
    if tun.ca:
        argv += ["--cacert", tun.ca]
    if upload_file:
        body = os.path.join(tmp, "answer")
        argv += ["-o", body, "-T", upload_file, "-H", "Expect:", "-w", "%{http_code} %{size_upload} %{speed_upload}",
                 tun.base_url() + "/upload"]
    else:
        argv += ["-o", "/dev/null", "-w", "%{http_code} %{size_download} %{speed_download}",
                 tun.base_url() + "/bytes/%d" % nbytes]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=330)
    f = r.stdout.split()
    ok = len(f) == 3 and f[0] == "200" and int(f[1]) == nbytes
    if ok and upload_file:
        with open(body, "rb") as fh:
            ok = fh.read() == b"%d\n" % nbytes
    if not ok:
        raise bl.BenchError("transfer failed: %s %s" % (r.stdout.strip(), r.stderr.strip()))
    return float(f[2]) / MIB


def client_cpu_s():
    """CPU seconds of the children waited for so far (the curl and wrk runs)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def size_bucket(n):
    return "%d B" % n if n < 1024 else "%d KiB" % (n // 1024)


def syscall_summary(tun, work, tmp, names):
    """perf trace over one WORK step. Returns (units done, {prog: {"calls": Counter(syscall), "io":
    {(kind, fd): [calls, bytes, Counter(size bucket)]}}}) where kind is "read" or "write"."""
    out = os.path.join(tmp, "trace.txt")
    pids = "%d,%d" % (tun.ttfd.pid, tun.ttf.pid)
    tr = subprocess.Popen(["perf", "trace", "-o", out, "-p", pids], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, preexec_fn=bl._die_with_parent)
    try:
        time.sleep(1.0)  # perf trace attaches
        units, _rate = work.run()
    finally:
        tr.send_signal(2)
        try:
            tr.wait(timeout=60)
        except subprocess.TimeoutExpired:
            tr.kill()
            tr.wait()
    res = {n: {"calls": collections.Counter(), "io": {}} for n in names.values()}
    pat = re.compile(r"\): \S+/(\d+) (\w+)\((?:fd: (\d+))?.*\)\s+= (-?\d+)")
    with open(out, errors="replace") as f:
        for line in f:
            m = pat.search(line)
            if not m or int(m.group(1)) not in names:
                continue
            prog, call, ret = names[int(m.group(1))], m.group(2), int(m.group(4))
            res[prog]["calls"][call] += 1
            kind = "read" if call in READS else "write" if call in WRITES else None
            if kind and ret > 0:
                e = res[prog]["io"].setdefault((kind, m.group(3)), [0, 0, collections.Counter()])
                e[0] += 1
                e[1] += ret
                e[2][size_bucket(ret)] += 1
    return units, res


class Work:
    """One profiled step through a tunnel: a whole transfer (counted in MB) or, in mode "small", a
    burst of wrk keep-alive GETs of a 1 KiB body (counted in requests). run() returns (units, rate)."""

    def __init__(self, mode, tun, tmp, mbytes, upload_file, seconds, conns):
        self.mode, self.tun, self.tmp = mode, tun, tmp
        self.mbytes, self.upload_file, self.seconds, self.conns = mbytes, upload_file, seconds, conns
        self.small = mode == "small"
        self.unit = "request" if self.small else "MB"
        self.what = ("1 KiB GETs (wrk -c%d)" % conns if self.small
                     else "%d MB %s" % (mbytes, "upload" if upload_file else "download"))

    def run(self):
        if not self.small:
            return self.mbytes, transfer(self.tun, self.mbytes * MIB, self.upload_file, self.tmp)
        r = subprocess.run(["wrk", "-t1", "-c%d" % self.conns, "-d%ds" % self.seconds, "-H", "Host: " + self.tun.host,
                            self.tun.base_url() + "/bytes/1024"], capture_output=True, text=True,
                           timeout=self.seconds + 60)
        m = re.search(r"^\s*(\d+) requests in ([\d.]+)s", r.stdout, re.M)
        if not m or re.search(r"Non-2xx|Socket errors", r.stdout):
            raise bl.BenchError("wrk failed or got errors:\n%s%s" % (r.stdout, r.stderr))
        n = int(m.group(1))
        return n, n / float(m.group(2))


def main():
    bl.install_signal_exit()
    modes = os.environ.get("PROFILE_MODES", "binary tls json small").split()
    mbytes = bl.env_int("PROFILE_MB", 100)
    repeat = bl.env_int("PROFILE_REPEAT", 3)
    freq = bl.env_int("PROFILE_FREQ", 2999)
    top = bl.env_int("PROFILE_TOP", 15)
    seconds = bl.env_int("PROFILE_SECONDS", 3)
    callgraph = os.environ.get("PROFILE_CALLGRAPH", "")
    upload = os.environ.get("PROFILE_TRANSFER", "download") == "upload"
    if not bl.have_tools("profile", ("perf", "curl") + (("wrk",) if "small" in modes else ()),
                         "run ./scripts/deps.sh bench"):
        return 2
    nbytes = mbytes * MIB
    tmp = tempfile.mkdtemp(prefix="ttf-profile.")
    procs = bl.Procs(tmp)
    try:
        upload_file = None
        if upload:
            upload_file = os.path.join(tmp, "upload.bin")
            with open(upload_file, "wb") as f:
                f.truncate(nbytes)
        _echo, lport = bl.start_echo_server(procs)
        tls = bl.make_tls_files(tmp) if "tls" in modes else None
        for mode in modes:
            if mode not in ("binary", "tls", "json", "small"):
                raise bl.BenchError("PROFILE_MODES: unknown mode %r (binary, tls, json, small)" % mode)
            tun = bl.Tunnel(procs, mode, lport, protocol="json" if mode == "json" else "binary",
                            tls=tls if mode == "tls" else None)
            names = {tun.ttfd.pid: "ttfd", tun.ttf.pid: "ttf"}
            work = Work(mode, tun, tmp, mbytes, upload_file, seconds, 32)
            print("\n==== %s mode: %s through ttfd + ttf%s ====" % (
                "binary" if mode == "small" else mode, work.what,
                " (public HTTPS, agent wss://)" if mode == "tls" else ""), flush=True)
            work.run()  # warm-up

            # 1. system calls during one step
            units, sums = syscall_summary(tun, work, tmp, names)
            for prog in ("ttfd", "ttf"):
                calls = sums[prog]["calls"]
                total = sum(calls.values())
                print("%s: %d system calls for %d %ss (%.1f per %s): %s" % (
                    prog, total, units, work.unit, total / units, work.unit,
                    ", ".join("%s %d" % kv for kv in calls.most_common(8))))
                for kind in ("read", "write"):
                    n = sum(v[0] for (k, _fd), v in sums[prog]["io"].items() if k == kind)
                    print("   %-5s all fds %6d calls (%.2f per %s) that moved bytes" % (kind, n, n / units, work.unit))
                io = sorted(sums[prog]["io"].items(), key=lambda kv: -kv[1][1])[:4]
                for (kind, fd), (n, nb, sizes) in io:
                    print("   %-5s fd %-3s %8d calls (%.2f per %s), %6.1f MB, %7.1f KiB per call; commonest sizes: %s" % (
                        kind, fd, n, n / units, work.unit, nb / MIB, nb / 1024.0 / n,
                        ", ".join("%s x%d" % kv for kv in sizes.most_common(3))))

            # 2. on-CPU samples during REPEAT steps
            data = os.path.join(tmp, "perf-%s.data" % mode)
            argv = ["perf", "record", "-q", "-F", str(freq), "-o", data, "-p", "%d,%d" % (tun.ttfd.pid, tun.ttf.pid)]
            if callgraph:
                argv[2:2] = ["--call-graph", callgraph]
            rec = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   preexec_fn=bl._die_with_parent)
            rates, done = [], 0
            try:
                time.sleep(0.5)
                cpu0 = {p: bl.cpu_ns(p) for p in names}
                sched0 = {p: bl.sched_ns(p) for p in names}
                client0, idle0, wall0 = client_cpu_s(), bl.machine_idle_ms(), time.monotonic()
                for _ in range(repeat):
                    n, rate = work.run()
                    done += n
                    rates.append(rate)
                cpu1 = {p: bl.cpu_ns(p) for p in names}
                sched1 = {p: bl.sched_ns(p) for p in names}
                client1, idle1, wall1 = client_cpu_s(), bl.machine_idle_ms(), time.monotonic()
            finally:
                rec.send_signal(2)
                rec.wait(timeout=60)
            print("%s/s while sampled: %s" % (work.unit, " ".join("%.0f" % r for r in rates)))
            for pid, prog in names.items():
                us = (cpu1[pid] - cpu0[pid]) / 1e3 / done
                if work.small:
                    print("%s: %.1f µs CPU per request -> at most %.0f req/s if %s were the only limit"
                          % (prog, us, 1e6 / us if us else 0, prog))
                else:
                    print("%s: %.0f ms CPU per 100 MB -> at most %.0f MB/s if %s were the only limit"
                          % (prog, us * 100 / 1e3, 1e6 / us if us else 0, prog))
            if not work.small:
                # Where the machine's CPUs went: a transfer runs the client, ttfd, ttf and the
                # local service at once; a program that waits on a run queue while CPUs are idle
                # was placed on a busy CPU (the scheduler keeps programs that wake each other
                # together), which no CPU time of its own shows.
                per = 100.0 / done
                print("per 100 MB: client (curl) %.0f ms of CPU; waiting for a CPU while runnable: %s;"
                      " the machine's %d CPUs idle %.0f ms of %.0f ms (load average %.1f: other work"
                      " counts too)" % (
                          (client1 - client0) * 1e3 * per,
                          ", ".join("%s %.0f ms" % (names[pid], (sched1[pid][1] - sched0[pid][1]) / 1e6 * per)
                                    for pid in names),
                          os.cpu_count() or 1, (idle1 - idle0) * per,
                          (wall1 - wall0) * 1e3 * per * (os.cpu_count() or 1), os.getloadavg()[0]))
            for prog in ("ttfd", "ttf"):
                r = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--comm", prog,
                                    "--percentage", "relative", "--sort", "dso,sym"]
                                   + (["--percent-limit", "0.5", "-g", "none"] if not callgraph else
                                      ["--percent-limit", "2", "-g", "caller,0.5,callee,function,percent"]),
                                   capture_output=True, text=True, timeout=300)
                lines = [ln for ln in r.stdout.splitlines() if ln.strip() and not ln.startswith("#")]
                if not callgraph:
                    lines = lines[:top]
                # (--sort dso with --comm drops libraries here: sort by comm,dso and share it out.)
                d = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                                    "--sort", "comm,dso", "-g", "none"], capture_output=True, text=True, timeout=300)
                dsos = [(float(f[0].rstrip("%")), f[2]) for f in
                        (ln.split() for ln in d.stdout.splitlines() if ln.strip() and not ln.startswith("#"))
                        if len(f) >= 3 and f[1] == prog]
                whole = sum(x for x, _ in dsos) or 1.0
                print("\n-- %s: share of samples by program or library: %s" % (
                    prog, ", ".join("%s %.1f%%" % (n, 100.0 * x / whole) for x, n in dsos[:6])))
                print("-- %s: top symbols (self time; share of %s's samples; [k] kernel) --" % (prog, prog))
                print("\n".join(lines) if lines else "(no samples) " + r.stderr.strip()[-300:])
            procs.stop(tun.ttf)
            procs.stop(tun.ttfd)
        return 0
    except bl.BenchError as e:
        print("profile: %s" % e, file=sys.stderr)
        return 2
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
