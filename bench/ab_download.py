#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""make bench-ab: the download path of two or more builds of ttfd + ttf, side by side.

    bench/ab_download.py [--tls] [--rounds N] [--mb N] [--pin CPU] DIR_A DIR_B [DIR ...]

Each DIR holds a `ttfd` and a `ttf` (a build's bin/ directory, or a directory of wrappers that exec
them with other settings). One local service (bench/echo_server.c) and one ttfd + ttf pair per DIR
(binary mode; --tls: ttfd --tls-cert/--tls-key, public HTTPS and agent wss://, as `make bench`'s
TLS row), then ROUNDS rounds of one MB-MiB download per pair with curl to /dev/null, the order of
the pairs reversed every round, after one round not counted. Every download must answer 200 with
exactly its size. Per build it prints the medians of: MB/s (MB = 2^20 bytes); CPU ms per 100 MB of
ttfd, ttf and curl (/proc/PID/schedstat, curl's rusage); the ms per 100 MB that ttfd and ttf waited
on a run queue while runnable; their voluntary context switches (sleeps) per MB; the machine's idle
ms per 100 MB (both CPUs, /proc/stat: 10 ms steps); then the MB/s ratio of each build to the first,
round by round (a paired ratio: load that hits a round hits both builds alike), and peak RSS.

--pin CPU runs everything (service, ttfd, ttf, curl) on that one CPU: a measuring device, not a
setting to ship. The path's processes then take turns on one CPU, so MB/s follows the sum of their
CPU per byte, and the other developers' load on the other CPU does not move it; unpinned MB/s also
depends on where the kernel places the four processes. Loopback only; every process it starts is
stopped before it exits. Needs curl and openssl (--tls).
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys

import benchlib as bl

MIB = 1 << 20
KEYS = ("mbs", "ttfd", "ttf", "curl", "wait_ttfd", "wait_ttf", "sleeps_ttfd", "sleeps_ttf", "idle")


def sleeps(pid):
    """Voluntary context switches of PID's main thread (/proc/PID/status), 0 when it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def snapshot(t):
    """(ttfd run, ttfd wait, ttf run, ttf wait, ttfd sleeps, ttf sleeps, curl CPU s, idle ms)."""
    d, f = bl.sched_ns(t.ttfd.pid), bl.sched_ns(t.ttf.pid)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (d[0], d[1], f[0], f[1], sleeps(t.ttfd.pid), sleeps(t.ttf.pid), ru.ru_utime + ru.ru_stime,
            bl.machine_idle_ms())


def download(t, nbytes):
    """One download through tunnel t; returns curl's MB/s. Raises BenchError on a wrong answer."""
    argv = ["curl", "-sS", "--http1.1", "--max-time", "120", "-o", os.devnull, "-w",
            "%{http_code} %{size_download} %{speed_download}", "-H", "Host: " + t.host]
    if t.ca:
        argv += ["--cacert", t.ca]
    argv.append(t.base_url() + "/bytes/%d" % nbytes)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=150)
    f = r.stdout.split()
    if len(f) != 3 or f[0] != "200" or int(f[1]) != nbytes:
        raise bl.BenchError("download: %r %s" % (r.stdout, r.stderr.strip()))
    return float(f[2]) / MIB


def measure(t, mb):
    """One download; its figures (KEYS) per 100 MB / per MB."""
    a = snapshot(t)
    mbs = download(t, mb * MIB)
    b = snapshot(t)
    k = 100.0 / mb
    return {"mbs": mbs, "ttfd": (b[0] - a[0]) / 1e6 * k, "wait_ttfd": (b[1] - a[1]) / 1e6 * k,
            "ttf": (b[2] - a[2]) / 1e6 * k, "wait_ttf": (b[3] - a[3]) / 1e6 * k,
            "sleeps_ttfd": (b[4] - a[4]) / mb, "sleeps_ttf": (b[5] - a[5]) / mb,
            "curl": (b[6] - a[6]) * 1e3 * k, "idle": (b[7] - a[7]) * k}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("dirs", nargs="+", metavar="DIR")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--pin", type=int, default=None, metavar="CPU")
    a = ap.parse_args()
    if len(a.dirs) < 2 or a.rounds < 1 or a.mb < 1:
        ap.error("two or more DIRs, --rounds and --mb at least 1")
    for d in a.dirs:
        for name in ("ttfd", "ttf"):
            if not os.access(os.path.join(d, name), os.X_OK):
                ap.error("%s/%s: not an executable" % (d, name))
    if not bl.have_tools("ab_download", ["curl"] + (["openssl"] if a.tls else []), "apt-get install curl openssl"):
        return 2
    if a.pin is not None:
        os.sched_setaffinity(0, {a.pin})  # inherited by every process started from here
    bl.install_signal_exit()
    return 2 if bl.run_in_tmp("ab_download", lambda procs, tmp: run(a, procs, tmp)) else 0


def run(a, procs, tmp):
    _echo, port = bl.start_echo_server(procs)
    tls = bl.make_tls_files(tmp) if a.tls else None
    tunnels = []
    for i, d in enumerate(a.dirs):
        os.environ["TTFD_BIN"] = os.path.join(d, "ttfd")
        os.environ["TTF_BIN"] = os.path.join(d, "ttf")
        tunnels.append(bl.Tunnel(procs, "ab%d" % i, port, tls=tls))
    res = [[] for _ in a.dirs]
    for r in range(a.rounds + 1):
        order = list(range(len(a.dirs)))
        if r % 2:
            order.reverse()
        for i in order:
            m = measure(tunnels[i], a.mb)
            if r > 0:  # the first round warms up
                res[i].append(m)
    print("%s, %d MB downloads, %d round(s)%s; medians: MB/s, then per 100 MB the CPU ms of ttfd / "
          "ttf / curl, the ms ttfd / ttf waited runnable, their sleeps per MB, the machine's idle ms"
          % ("TLS on both legs" if a.tls else "binary mode", a.mb, a.rounds,
             ", all on CPU %d" % a.pin if a.pin is not None else ""))
    width = max(len(d) for d in a.dirs)
    print("%-*s " % (width, "build") + " ".join("%11s" % k for k in KEYS))
    for d, rs in zip(a.dirs, res):
        print("%-*s " % (width, d) + " ".join("%11.1f" % statistics.median(x[k] for x in rs) for k in KEYS))
    for d, rs in zip(a.dirs[1:], res[1:]):
        ratios = sorted(b["mbs"] / x["mbs"] for x, b in zip(res[0], rs))
        q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        print("MB/s %s / %s, paired by round: median %.3f, quartiles %.3f-%.3f, range %.2f-%.2f"
              % (d, a.dirs[0], statistics.median(ratios), q[0], q[2], ratios[0], ratios[-1]))
    for d, t in zip(a.dirs, tunnels):
        print("peak RSS %s: ttfd %.1f MB, ttf %.1f MB"
              % (d, (bl.proc_status(t.ttfd.pid, "VmHWM") or 0) / 1024.0,
                 (bl.proc_status(t.ttf.pid, "VmHWM") or 0) / 1024.0))


if __name__ == "__main__":
    sys.exit(main())
