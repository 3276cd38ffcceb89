#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Serverless benchmark (make bench-serverless): the real bootstrap and ttf on the AWS stand-in.

Prints, and compares with the targets of issue 15:
  - Lambda invocations for a 4 MiB download (target <= 48), counted by the stand-in;
  - the 4 MiB download, cold (a fresh stand-in: every environment starts) < 1.5 s, warm < 0.5 s;
  - the 4 MiB upload, warm < 0.5 s (the same target as the download: the brief of issue 15);
  - latency the stack adds to a small request (HTTP API time - agent processing time) p50 < 15 ms;
  - the zip's size (< 4 MB) and exec -> first /next of the unpacked zip (< 10 ms);
  - a cost table from the counted calls and AWS's published prices, beside upstream's estimate.
Rounds are repeated (BENCH_ROUNDS, 3) and medians quoted: other processes load the machine. The
load average of each round and the CPU time a warm download costs the whole stack (the stand-in
with its Lambda processes, ttf) are printed too: on a shared machine the times follow the load,
the CPU time much less.
Exits 1 when a target is missed. Loopback only; every process started is stopped.
"""

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "aws"))
import awskit as ak  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
N = 4 * ak.MB

# AWS's published prices, us-east-1, on-demand (USD): Lambda pricing page, API Gateway pricing
# page (HTTP APIs metered in 512 KB increments, WebSocket messages in 32 KB increments), DynamoDB
# on-demand pricing (after the November 2024 reduction), data transfer out to the internet.
PRICE = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_s_arm64": 0.0000133334,
    "http_api_request": 1.00 / 1e6,
    "ws_message": 1.00 / 1e6,
    "ddb_wru": 0.625 / 1e6,
    "ddb_rru": 0.125 / 1e6,
    "transfer_out_gb": 0.09,
}
MEMORY_GB = 256 / 1024  # infra/'s default lambdaMemorySize
LOADER = "ld-linux-x86-64.so.2"
HZ = os.sysconf("SC_CLK_TCK")


def tree_cpu(*roots):
    """CPU seconds (user + system, children that exited included) of the processes under roots,
    by program name: {"node": s, "bootstrap": s, "ttf": s}."""
    procs, kids = {}, {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(")") + 2:].split()
        procs[int(p)] = (s[s.find("(") + 1:s.rfind(")")], sum(map(int, rest[11:15])) / HZ)
        kids.setdefault(int(rest[1]), []).append(int(p))
    out, stack = {}, list(roots)
    while stack:
        q = stack.pop()
        if q in procs:
            out[procs[q][0]] = out.get(procs[q][0], 0) + procs[q][1]
        stack += kids.get(q, [])
    return out


CAP = 96  # each function's concurrency on the stand-in


def max_waiting(http_concurrency):
    """MAX_WAITING_REQUESTS as infra/ sets it (infra/src/lambda.ts maxWaitingRequests)."""
    return http_concurrency - max(1, -(-http_concurrency // 10))


def run_stack(tmp, args=()):
    # admission on, as deployed: every public request takes and releases a lease
    st = ak.Standin(tmp, env={"MAX_WAITING_REQUESTS": str(max_waiting(CAP))}, args=list(args) + ["--cap", str(CAP)])
    app = ak.LocalApp()
    agent = ak.Agent(st.ws_url, app.port)
    tid = ak.tunnel_id(agent.wait_established(30))
    return st, app, agent, ak.Tunnel(st, tid)


def stop_stack(st, app, agent):
    agent.stop()
    app.close()
    st.stop()


def counts(st):
    s = st.stats()
    lam = s["lambda"]
    dur = lam["timing"]["duration_ms"]
    ms = sum(v.get("mean", 0) * v.get("count", 0) for v in dur.values())
    ws = s["websocket"]
    return {"invocations": lam["invocations"], "lambda_ms": ms,
            "ws_in_units": ws["messages_in"], "ws_bytes_in": ws["bytes_in"],
            "ws_out_bytes": ws["mgmt"]["bytes_out"], "ws_posts": ws["mgmt"]["post"],
            "http": s["http"]["requests"], "wru": s["dynamodb"]["capacity_units"]["wru"],
            "rru": s["dynamodb"]["capacity_units"]["rru"]}


def delta(a, b):
    return {k: b[k] - a[k] for k in a}


def stack_cpu(st, agent):
    return tree_cpu(st.proc.pid, agent.proc.pid)


def download(t):
    t0 = time.monotonic()
    r = t.sub("GET", "/download?n=%d" % N, timeout=60)
    took = time.monotonic() - t0
    assert r.status == 200 and r.body == ak.pattern(N), (r.status, r.body[:100])
    return took


def upload(t):
    data = ak.pattern(N, seed=7)
    t0 = time.monotonic()
    r = t.sub("POST", "/upload", headers=[("Content-Type", "application/octet-stream")], body=data, timeout=60)
    took = time.monotonic() - t0
    assert r.status == 200 and r.json() == {"len": N, "sha256": ak.sha(data)}, (r.status, r.body[:100])
    return took


def cost(d, messages_in_32k, messages_out_32k, out_bytes):
    gb_s = d["lambda_ms"] / 1000 * MEMORY_GB
    return (d["invocations"] * PRICE["lambda_request"] + gb_s * PRICE["lambda_gb_s_arm64"] +
            d["http"] * PRICE["http_api_request"] +
            (messages_in_32k + messages_out_32k) * PRICE["ws_message"] +
            d["wru"] * PRICE["ddb_wru"] + d["rru"] * PRICE["ddb_rru"] +
            out_bytes / 1e9 * PRICE["transfer_out_gb"])


def exec_to_next(root, runs=20):
    out = []
    for _ in range(runs):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        env = {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:%d" % s.getsockname()[1], "LAMBDA_TASK_ROOT": root,
               "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "PATH": "/usr/bin:/bin"}
        t0 = time.perf_counter()
        # the zip's bootstrap names /var/task/lib/<loader> as its interpreter: run that loader from
        # where the zip was unpacked (the same work as the kernel starting it in /var/task)
        p = subprocess.Popen([os.path.join(root, "lib", LOADER), "--library-path", os.path.join(root, "lib"),
                              os.path.join(root, "bootstrap")], env=env,
                             stderr=subprocess.DEVNULL)
        s.settimeout(10)
        c, _ = s.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            data += c.recv(4096)
        out.append((time.perf_counter() - t0) * 1000)
        p.kill()
        p.wait()
        c.close()
        s.close()
    return statistics.median(out)


def main():
    tmp = tempfile.mkdtemp(prefix="bench-serverless-")
    results = {"cold_s": [], "warm_s": [], "up_warm_s": [], "invocations": [], "added_p50": [],
               "warm_cpu_s": []}
    loads = []
    cpu_parts = {}
    per_dl = per_small = None
    try:
        for rnd in range(ROUNDS):
            st, app, agent, t = run_stack(os.path.join(tmp, "r%d" % rnd))
            try:
                c0 = counts(st)
                results["cold_s"].append(download(t))
                c1 = counts(st)
                results["invocations"].append(c1["invocations"] - c0["invocations"])
                cpu0 = stack_cpu(st, agent)
                warm = [download(t) for _ in range(3)]
                cpu1 = stack_cpu(st, agent)
                results["warm_s"].append(statistics.median(warm))
                parts = {k: (cpu1.get(k, 0) - cpu0.get(k, 0)) / 3 for k in cpu1}
                results["warm_cpu_s"].append(sum(parts.values()))
                for k, v in parts.items():
                    cpu_parts.setdefault(k, []).append(v)
                per_dl = delta(c1, counts(st))
                per_dl = {k: v / 3 for k, v in per_dl.items()}
                upload(t)  # the first one warms what the uploads use
                results["up_warm_s"].append(statistics.median([upload(t) for _ in range(3)]))
                for _ in range(3):
                    t.sub("GET", "/status/200")
                st.reset_latency()
                c2 = counts(st)
                for i in range(50):
                    assert t.sub("GET", "/echo?i=%d" % i).status == 200
                per_small = {k: v / 50 for k, v in delta(c2, counts(st)).items()}
                results["added_p50"].append(st.stats()["latency"]["added_ms"]["p50"])
                loads.append(os.getloadavg()[0])
            finally:
                stop_stack(st, app, agent)
        root = os.path.join(tmp, "zip")
        with zipfile.ZipFile(ak.LAMBDA_ZIP) as z:
            for info in z.infolist():
                z.extract(info, root)
                mode = (info.external_attr >> 16) & 0o7777
                if mode:
                    os.chmod(os.path.join(root, info.filename), mode)
        zip_mb = os.path.getsize(ak.LAMBDA_ZIP) / 1e6
        first_next = exec_to_next(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in results.items()}
    # messages in 32 KB units: each agent message and each post counted by its size
    small_in = max(1, round(per_small["ws_bytes_in"] / per_small["ws_in_units"] / 32000 + 0.5)) * per_small["ws_in_units"]
    small_out = per_small["ws_posts"]
    c_small = cost(per_small, small_in, small_out, 1000) * 1e6
    gb_factor = 1e9 / N
    dl_in = per_dl["ws_bytes_in"] / 32000
    dl_out = per_dl["ws_posts"]
    c_gb = cost(per_dl, dl_in, dl_out, N) * gb_factor
    rows = [
        ("invocations per 4 MiB download", "%d" % med["invocations"], "<= 48", med["invocations"] <= 48),
        ("4 MiB download, cold (s)", "%.2f" % med["cold_s"], "< 1.5", med["cold_s"] < 1.5),
        ("4 MiB download, warm (s)", "%.2f" % med["warm_s"], "< 0.5", med["warm_s"] < 0.5),
        ("4 MiB upload, warm (s)", "%.2f" % med["up_warm_s"], "< 0.5", med["up_warm_s"] < 0.5),
        ("added latency, small request, p50 (ms)", "%d" % med["added_p50"], "< 15", med["added_p50"] < 15),
        ("bootstrap.zip (MB)", "%.2f" % zip_mb, "< 4", zip_mb < 4),
        ("exec -> first /next (ms)", "%.1f" % first_next, "< 10", first_next < 10),
    ]
    print("serverless benchmark: %d rounds, medians; load average (1 min) after each round: %s on %d cores"
          % (ROUNDS, " ".join("%.1f" % x for x in loads), os.cpu_count()))
    for name, val, target, ok in rows:
        print("  %-42s %10s  target %-6s %s" % (name, val, target, "ok" if ok else "MISSED"))
    print("CPU time of a warm 4 MiB download, the whole stack: %.2f s (%s)" % (
        med["warm_cpu_s"], ", ".join("%s %.2f" % (k, statistics.median(v)) for k, v in sorted(cpu_parts.items())
                                      if statistics.median(v) >= 0.005)))
    print("calls per small request: %s" % json.dumps({k: round(v, 2) for k, v in per_small.items()}))
    print("calls per 4 MiB download: %s" % json.dumps({k: round(v, 1) for k, v in per_dl.items()}))
    print("cost (us-east-1 list prices, arm64, 256 MB):")
    print("  per million small requests: $%.2f   (upstream's README: ~$5.50-7.50 for 1M requests)" % c_small)
    print("  per GB through the tunnel:  $%.2f   (of which data transfer out $%.2f; upstream gives none)"
          % (c_gb, PRICE["transfer_out_gb"]))
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
