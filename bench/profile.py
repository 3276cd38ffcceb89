#!/usr/bin/python3
"""make bench-profile: where ttfd and ttf spend the bulk path, from perf.

For each mode in PROFILE_MODES (default "binary tls json": plain binary mode, binary mode with TLS
on both legs, JSON mode), starts the benchmark's local service and a ttfd + ttf pair, warms up with
one download, then
  1. traces the system calls of ttfd and ttf during one download (perf trace) and prints their
     counts, and per socket (fd) the bytes moved by read- and write-like calls, the average per
     call and the commonest sizes (TLS record sizes show there);
  2. samples both programs during PROFILE_REPEAT downloads (perf record -F PROFILE_FREQ, on-CPU
     time; flat unless PROFILE_CALLGRAPH is set, e.g. "dwarf") and prints the top PROFILE_TOP
     symbols of each program (self time, kernel and user, [k] marks kernel symbols);
  3. prints the CPU time each program used per download and the MB/s that would give if the
     program were the only limit (CPU time, so independent of other load on the machine).
Every download is checked (HTTP 200, exactly PROFILE_MB MB). PROFILE_TRANSFER=upload profiles
uploads instead. Needs root (or perf_event_paranoid <= 0) and linux-perf.
Environment: PROFILE_MODES, PROFILE_MB (100), PROFILE_REPEAT (3), PROFILE_FREQ (2999),
PROFILE_TOP (15), PROFILE_CALLGRAPH, PROFILE_TRANSFER (download), BUILD, TTFD_BIN, TTF_BIN.
"""

import collections
import os
import re
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


def size_bucket(n):
    return "%d B" % n if n < 1024 else "%d KiB" % (n // 1024)


def syscall_summary(tun, nbytes, upload_file, tmp, names):
    """perf trace over one transfer. Returns {prog: {"calls": Counter(syscall), "io": {(kind, fd):
    [calls, bytes, Counter(size bucket)]}}} where kind is "read" or "write"."""
    out = os.path.join(tmp, "trace.txt")
    pids = "%d,%d" % (tun.ttfd.pid, tun.ttf.pid)
    tr = subprocess.Popen(["perf", "trace", "-o", out, "-p", pids], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, preexec_fn=bl._die_with_parent)
    try:
        time.sleep(1.0)  # perf trace attaches
        transfer(tun, nbytes, upload_file, tmp)
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
    return res


def main():
    bl.install_signal_exit()
    modes = os.environ.get("PROFILE_MODES", "binary tls json").split()
    mbytes = bl.env_int("PROFILE_MB", 100)
    repeat = bl.env_int("PROFILE_REPEAT", 3)
    freq = bl.env_int("PROFILE_FREQ", 2999)
    top = bl.env_int("PROFILE_TOP", 15)
    callgraph = os.environ.get("PROFILE_CALLGRAPH", "")
    upload = os.environ.get("PROFILE_TRANSFER", "download") == "upload"
    if shutil.which("perf") is None:
        print("profile: perf not found: run ./scripts/deps.sh bench", file=sys.stderr)
        return 2
    nbytes = mbytes * MIB
    tmp = tempfile.mkdtemp(prefix="ttf-profile.")
    procs = bl.Procs(tmp)
    what = "upload" if upload else "download"
    try:
        upload_file = None
        if upload:
            upload_file = os.path.join(tmp, "upload.bin")
            with open(upload_file, "wb") as f:
                f.truncate(nbytes)
        _echo, lport = bl.start_echo_server(procs)
        tls = bl.make_tls_files(tmp) if "tls" in modes else None
        for mode in modes:
            if mode not in ("binary", "tls", "json"):
                raise bl.BenchError("PROFILE_MODES: unknown mode %r (binary, tls, json)" % mode)
            tun = bl.Tunnel(procs, mode, lport, protocol="json" if mode == "json" else "binary",
                            tls=tls if mode == "tls" else None)
            names = {tun.ttfd.pid: "ttfd", tun.ttf.pid: "ttf"}
            print("\n==== %s mode: %d MB %s through ttfd + ttf%s ====" % (
                mode, mbytes, what, " (public HTTPS, agent wss://)" if mode == "tls" else ""), flush=True)
            if upload and mode == "json":
                print("(JSON mode caps request bodies at 10 MiB: upload not profiled)")
                procs.stop(tun.ttf)
                procs.stop(tun.ttfd)
                continue
            transfer(tun, nbytes, upload_file, tmp)  # warm-up

            # 1. system calls during one transfer
            sums = syscall_summary(tun, nbytes, upload_file, tmp, names)
            for prog in ("ttfd", "ttf"):
                calls = sums[prog]["calls"]
                total = sum(calls.values())
                print("%s: %d system calls per %d MB (%.0f per MB): %s" % (
                    prog, total, mbytes, total / mbytes,
                    ", ".join("%s %d" % kv for kv in calls.most_common(8))))
                io = sorted(sums[prog]["io"].items(), key=lambda kv: -kv[1][1])[:4]
                for (kind, fd), (n, nb, sizes) in io:
                    print("   %-5s fd %-3s %6d calls moving %6.1f MB, %5.1f KiB per call; commonest sizes: %s" % (
                        kind, fd, n, nb / MIB, nb / 1024.0 / n,
                        ", ".join("%s x%d" % kv for kv in sizes.most_common(3))))

            # 2. on-CPU samples during REPEAT transfers
            data = os.path.join(tmp, "perf-%s.data" % mode)
            argv = ["perf", "record", "-q", "-F", str(freq), "-o", data, "-p", "%d,%d" % (tun.ttfd.pid, tun.ttf.pid)]
            if callgraph:
                argv[2:2] = ["--call-graph", callgraph]
            cpu0 = {p: bl.cpu_ns(p) for p in names}
            rec = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   preexec_fn=bl._die_with_parent)
            speeds = []
            try:
                time.sleep(0.5)
                for _ in range(repeat):
                    speeds.append(transfer(tun, nbytes, upload_file, tmp))
            finally:
                rec.send_signal(2)
                rec.wait(timeout=60)
            cpu1 = {p: bl.cpu_ns(p) for p in names}
            print("%s: %s MB/s while sampled" % (what, " ".join("%.0f" % s for s in speeds)))
            for pid, prog in names.items():
                ms = (cpu1[pid] - cpu0[pid]) / 1e6 / repeat
                print("%s: %.0f ms CPU per %d MB %s -> at most %.0f MB/s if %s were the only limit"
                      % (prog, ms, mbytes, what, mbytes / (ms / 1000.0) if ms else 0, prog))
            for prog in ("ttfd", "ttf"):
                r = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--comm", prog, "--percentage", "relative",
                                    "--sort", "dso,sym", "--percent-limit", "0.5", "-g", "none"]
                                   if not callgraph else
                                   ["perf", "report", "-i", data, "--stdio", "--no-children", "--comm", prog, "--percentage", "relative",
                                    "--sort", "dso,sym", "--percent-limit", "2", "-g", "caller,0.5,callee,function,percent"],
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
