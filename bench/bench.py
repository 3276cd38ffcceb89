#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""make bench: the tunnel measured side by side with what a user would pick instead, in one run.

Against one local service (bench/echo_server.c, or with BENCH_ORIGIN=nginx nginx serving the
1 KiB body and the download from files, see below) on this machine, the paths below are measured in
interleaved rounds (each round visits every path, starting one further along each time, so load from
other processes biases no path) and the best figure of each kept:

  direct            wrk/curl straight to the local service
  nginx one-hop     nginx, one worker, keep-alive upstream, streaming (no buffering), 64 KiB reads
  HAProxy one-hop   HAProxy, one thread, keep-alive both sides
  ssh -R            OpenSSH: our own sshd on a loopback port (throw-away keys), `ssh -N -R`
  tunnel binary     ttfd + ttf --protocol binary
  tunnel JSON       ttfd + ttf --protocol json
and, with TLS on both legs:
  nginx TLS         nginx terminating TLS in front of the local service ("direct" over TLS)
  tunnel TLS        ttfd --tls-cert/--tls-key (public HTTPS, agent wss://), binary mode
  (ssh -R encrypts anyway: its figures are the reference of both tables)

Figures: requests/s for keep-alive GETs of a 1 KiB body (wrk, BENCH_CONNECTIONS connections),
p50/p99 latency, MB/s (MB = 2^20 bytes) of one BENCH_MB download and one upload (curl, HTTP/1.1,
no Expect; a download is written to /dev/null, as speed tests do, unless BENCH_DOWNLOAD_FILE=1),
and the peak RSS of ttfd and ttf during those transfers. Every answer is checked: wrk's
error and >= 400 counts must be 0 and its bytes read must match the response size seen before
(so short or error answers cannot pass for speed); a download must bring exactly BENCH_MB, an
upload must be answered 200 with the byte count the local service received.

BENCH_ORIGIN picks the local service every path leads to: "echo" (default), the small epoll server,
or "nginx", nginx with Debian's static-file defaults (sendfile, tcp_nopush) serving GET /bytes/1024
and the BENCH_MB download from files and passing the upload on to the echo server. The ratios to
direct depend on the origin's own cost per request: a heavier origin leaves a smaller share of the
2 cores' work to the proxies.

Prints one table per leg type (plain, TLS) and the targets of issue 14 with each verdict.
Exit status: 0 all targets met, 1 a target missed, 2 a measurement failed (an error, not a figure).
Environment: BENCH_ROUNDS (3), BENCH_DURATION (5 s per wrk run), BENCH_CONNECTIONS (32),
BENCH_THREADS (1), BENCH_MB (100), BENCH_DOWNLOAD_FILE (0; 1: curl writes each download to a
file in the run's temporary directory, as before 2026-11-30), BENCH_ORIGIN (echo), BENCH_TLS (1; 0
leaves out the TLS rows), BENCH_PATHS (comma list of path keys to measure: direct,nginx,haproxy,
ssh,binary,json,nginx-tls,tls; default all),
BUILD, TTFD_BIN, TTF_BIN. Needs root (sshd), wrk, curl, nginx, haproxy, openssh-server.
"""

import datetime
import os
import platform
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time

import benchlib as bl

MIB = 1 << 20
RSS_LIMIT_KB = 16 * 1024

WRK_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d bytes=%d us=%d connect=%d read=%d write=%d status=%d timeout=%d p50=%d p99=%d\n",
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""

ALL_PATHS = ["direct", "nginx", "haproxy", "ssh", "binary", "json", "nginx-tls", "tls"]
LABELS = {
    "direct": "direct",
    "nginx": "nginx one-hop",
    "haproxy": "HAProxy one-hop",
    "ssh": "`ssh -R`",
    "binary": "tunnel, binary mode",
    "json": "tunnel, JSON mode",
    "nginx-tls": "nginx over TLS (direct)",
    "tls": "tunnel over TLS, binary",
}


class Path:
    """One way from the client to the local service, and the best figures measured through it."""

    def __init__(self, key, base, host=None, ca=None, tunnel=None):
        self.key, self.base, self.host, self.ca, self.tunnel = key, base, host, ca, tunnel
        self.label = LABELS[key]
        self.resp_len = None  # bytes of one 1 KiB answer (head + body), from the preflight
        self.rounds = []  # per-round dicts, for the spread
        self.best = {}
        self.errors = []
        self.rss_since_start = False

    def keep(self, name, value, better):
        if value is None:
            return
        old = self.best.get(name)
        self.best[name] = value if old is None else better(old, value)


class Bench:
    def __init__(self):
        self.rounds = bl.env_int("BENCH_ROUNDS", 3)
        self.duration = bl.env_int("BENCH_DURATION", 5)
        self.conns = bl.env_int("BENCH_CONNECTIONS", 32)
        self.threads = bl.env_int("BENCH_THREADS", 1)
        self.mbytes = bl.env_int("BENCH_MB", 100)
        self.download_file = bl.env_int("BENCH_DOWNLOAD_FILE", 0)
        tls = bl.env_int("BENCH_TLS", 1)
        keys = os.environ.get("BENCH_PATHS", "")
        self.keys = [k for k in (keys.split(",") if keys else ALL_PATHS) if k]
        for k in self.keys:
            if k not in ALL_PATHS:
                raise bl.BenchError("BENCH_PATHS: unknown path %r (known: %s)" % (k, ",".join(ALL_PATHS)))
        if not tls:
            self.keys = [k for k in self.keys if k not in ("nginx-tls", "tls")]
        if self.rounds < 1 or self.duration < 1 or self.conns < 1 or self.mbytes < 1:
            raise bl.BenchError("BENCH_ROUNDS, BENCH_DURATION, BENCH_CONNECTIONS, BENCH_MB must be >= 1")
        self.tmp = tempfile.mkdtemp(prefix="ttf-bench.")
        self.procs = bl.Procs(self.tmp)
        self.paths = {}
        self.made_privsep = False
        self.nbytes = self.mbytes * MIB
        self.origin = os.environ.get("BENCH_ORIGIN", "echo") or "echo"
        if self.origin not in bl.ORIGINS:
            raise bl.BenchError("BENCH_ORIGIN: unknown origin %r (known: %s)" % (self.origin, ",".join(bl.ORIGINS)))
        self.started = time.monotonic()
        self.load_start = os.getloadavg()[0]

    # ------------------------------------------------------------------ set-up

    def close(self):
        self.procs.stop_all()
        if self.made_privsep:
            try:
                os.rmdir("/run/sshd")
            except OSError:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def need_tools(self):
        need = ["wrk", "curl"]
        if "nginx" in self.keys or "nginx-tls" in self.keys or self.origin == "nginx":
            need.append("nginx")
        if "haproxy" in self.keys:
            need.append("haproxy")
        if "ssh" in self.keys:
            need += ["sshd", "ssh", "ssh-keygen"]
        path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
        missing = [t for t in need if shutil.which(t, path=path) is None]
        if missing:
            raise bl.BenchError("missing %s: run ./scripts/deps.sh bench" % " ".join(missing))
        if "ssh" in self.keys and os.getuid() != 0:
            raise bl.BenchError("the ssh -R row runs its own sshd and needs root (or leave out "
                                "'ssh' with BENCH_PATHS)")

    def retry(self, what, fn):
        """Runs FN (which picks free ports) up to 3 times: another process may take a port first."""
        for attempt in range(3):
            try:
                return fn()
            except bl.BenchError as e:
                if attempt == 2:
                    raise bl.BenchError("%s: %s" % (what, e))
                time.sleep(0.2)

    def start_nginx(self, local_port, tls):
        def go():
            port, tls_port = bl.free_port(), bl.free_port()
            t = self.tmp
            # A proxy location as a user would write it for a keep-alive upstream, streaming both
            # ways (a buffering nginx writes big bodies to temp files and measures the disk), with
            # 64 KiB reads as ttfd and ttf do (nginx's defaults read 4 KiB / 16 KiB at a time).
            loc = ("location / { proxy_pass http://local; proxy_http_version 1.1;"
                   ' proxy_set_header Connection ""; proxy_buffering off; proxy_buffer_size 64k; proxy_buffers 4 64k;'
                   " proxy_request_buffering off; client_body_buffer_size 64k;"
                   " client_max_body_size 0; }")
            tls_server = ""
            if tls:
                _ca, cert, key = tls
                tls_server = ("server { listen 127.0.0.1:%d ssl; ssl_certificate %s;"
                              " ssl_certificate_key %s; %s }" % (tls_port, cert, key, loc))
            conf = os.path.join(t, "nginx.conf")
            with open(conf, "w") as f:
                # As root nginx's worker would run as another user and get 403 from a 0700 temp
                # dir (guide: "facts that bite"): keep it root. Statuses are checked anyway.
                f.write("""worker_processes 1;
daemon off;
pid {t}/nginx.pid;
{user}
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {t}/nginx-body;
    proxy_temp_path {t}/nginx-proxy;
    fastcgi_temp_path {t}/nginx-fastcgi;
    uwsgi_temp_path {t}/nginx-uwsgi;
    scgi_temp_path {t}/nginx-scgi;
    keepalive_requests 100000000;
    upstream local {{ server 127.0.0.1:{lp}; keepalive 64; keepalive_requests 100000000; }}
    server {{ listen 127.0.0.1:{port}; {loc} }}
    {tls_server}
}}
""".format(t=t, user="user root;" if os.getuid() == 0 else "", lp=local_port, port=port, loc=loc,
           tls_server=tls_server))
            p = self.procs.start("nginx", ["nginx", "-e", os.path.join(t, "nginx-error.log"),
                                           "-p", t, "-c", conf])
            try:
                bl.wait_port(p, port)
                if tls:
                    bl.wait_port(p, tls_port)
            except bl.BenchError:
                self.procs.stop(p)
                raise
            return port, tls_port
        return self.retry("nginx", go)

    def start_haproxy(self, local_port):
        def go():
            port = bl.free_port()
            conf = os.path.join(self.tmp, "haproxy.cfg")
            with open(conf, "w") as f:
                f.write("""global
    nbthread 1
    maxconn 4000
defaults
    mode http
    timeout connect 5s
    timeout client 120s
    timeout server 120s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server local 127.0.0.1:{lp}
""".format(port=port, lp=local_port))
            p = self.procs.start("haproxy", ["haproxy", "-db", "-f", conf])
            try:
                bl.wait_port(p, port)
            except bl.BenchError:
                self.procs.stop(p)
                raise
            return port
        return self.retry("haproxy", go)

    def start_ssh(self, local_port):
        t = self.tmp
        for name in ("ssh_host_key", "ssh_user_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ttf-bench",
                            "-f", os.path.join(t, name)], check=True)
        shutil.copy(os.path.join(t, "ssh_user_key.pub"), os.path.join(t, "authorized_keys"))
        if not os.path.isdir("/run/sshd"):  # sshd's privilege separation directory
            os.makedirs("/run/sshd", mode=0o755)
            self.made_privsep = True
        sshd_bin = shutil.which("sshd", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        user = pwd.getpwuid(os.getuid()).pw_name

        def go():
            sport, rport = bl.free_port(), bl.free_port()
            conf = os.path.join(t, "sshd_config")
            with open(conf, "w") as f:
                f.write("""ListenAddress 127.0.0.1:{sport}
HostKey {t}/ssh_host_key
PidFile {t}/sshd.pid
AuthorizedKeysFile {t}/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding remote
GatewayPorts no
X11Forwarding no
PermitTTY no
PrintMotd no
LogLevel ERROR
""".format(sport=sport, t=t))
            sshd = self.procs.start("sshd", [sshd_bin, "-D", "-e", "-f", conf])
            try:
                bl.wait_port(sshd, sport)
                # Default ciphers: what a user running `ssh -R` gets.
                ssh = self.procs.start("ssh", [
                    "ssh", "-F", "/dev/null", "-N", "-T", "-i", os.path.join(t, "ssh_user_key"),
                    "-p", str(sport), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                    "-o", "StrictHostKeyChecking=no",
                    "-o", "UserKnownHostsFile=" + os.path.join(t, "known_hosts"),
                    "-o", "ExitOnForwardFailure=yes", "-o", "LogLevel=ERROR",
                    "-R", "127.0.0.1:%d:127.0.0.1:%d" % (rport, local_port), user + "@127.0.0.1"])
                bl.wait_port(ssh, rport)
            except bl.BenchError:
                for name, p in list(self.procs.items):
                    if name in ("ssh", "sshd"):
                        self.procs.stop(p)
                raise
            return rport
        return self.retry("ssh -R", go)

    def setup(self):
        self.need_tools()
        self.echo, lport = bl.start_echo_server(self.procs)
        self.origin_proc = self.echo
        if self.origin == "nginx":
            self.origin_proc, lport = bl.start_nginx_origin(self.procs, self.tmp, lport, self.nbytes)
        keys = self.keys
        tls = None
        if "nginx-tls" in keys or "tls" in keys:
            tls = bl.make_tls_files(self.tmp)
        local = "http://127.0.0.1:%d" % lport
        if "direct" in keys:
            self.paths["direct"] = Path("direct", local)
        if "nginx" in keys or "nginx-tls" in keys:
            nport, ntport = self.start_nginx(lport, tls if "nginx-tls" in keys else None)
            if "nginx" in keys:
                self.paths["nginx"] = Path("nginx", "http://127.0.0.1:%d" % nport)
            if "nginx-tls" in keys:
                self.paths["nginx-tls"] = Path("nginx-tls", "https://127.0.0.1:%d" % ntport, ca=tls[0])
        if "haproxy" in keys:
            self.paths["haproxy"] = Path("haproxy", "http://127.0.0.1:%d" % self.start_haproxy(lport))
        if "ssh" in keys:
            self.paths["ssh"] = Path("ssh", "http://127.0.0.1:%d" % self.start_ssh(lport))
        for key, proto, with_tls in (("binary", "binary", None), ("json", "json", None), ("tls", "binary", tls)):
            if key in keys:
                t = bl.Tunnel(self.procs, key, lport, protocol=proto, tls=with_tls)
                self.paths[key] = Path(key, t.base_url(), host=t.host, ca=t.ca, tunnel=t)
        self.upload_file = os.path.join(self.tmp, "upload.bin")
        with open(self.upload_file, "wb") as f:
            f.truncate(self.nbytes)  # sparse: reading it costs no disk
        self.lua = os.path.join(self.tmp, "report.lua")
        with open(self.lua, "w") as f:
            f.write(WRK_LUA)

    # ------------------------------------------------------------------ measurements

    def curl(self, path, target, extra=(), timeout=120, discard=False):
        """Runs curl; returns (http_code, size_download, size_upload, speed_down, speed_up,
        size_header, body bytes, curl's stderr). discard: the body goes to /dev/null (unless
        BENCH_DOWNLOAD_FILE=1), as in a speed test: curl writes a file 4-12 KiB per write(2) (13,000
        writes per 100 MB), 80-100 ms of its CPU per 100 MB on this machine's ext4, more than ttfd
        and ttf together in binary mode, which capped every path's download at about 1 GB/s."""
        body = os.path.join(self.tmp, "curl.body")
        if discard and not self.download_file:
            body = os.devnull
        argv = ["curl", "-sS", "--http1.1", "--max-time", str(timeout), "-o", body, "-w",
                "%{http_code} %{size_download} %{size_upload} %{speed_download} %{speed_upload} %{size_header}"]
        if path.host:
            argv += ["-H", "Host: " + path.host]
        if path.ca:
            argv += ["--cacert", path.ca]
        argv += list(extra) + [path.base + target]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 30)
        f = r.stdout.split()
        if len(f) != 6:
            return (0, 0, 0, 0.0, 0.0, 0, b"", r.stderr.strip())
        data = b""
        if body != os.devnull and os.path.exists(body) and os.path.getsize(body) < 4096:
            with open(body, "rb") as fh:
                data = fh.read()
        return (int(f[0]), int(f[1]), int(f[2]), float(f[3]), float(f[4]), int(f[5]), data, r.stderr.strip())

    def preflight(self, path):
        code, size, _u, _sd, _su, head, _b, err = self.curl(path, "/bytes/1024", timeout=20)
        if code != 200 or size != 1024:
            raise bl.BenchError("%s: GET /bytes/1024 answered %s with %d body bytes %s" % (path.label, code, size, err))
        path.resp_len = head + 1024

    def wrk(self, path):
        argv = ["wrk", "-t%d" % self.threads, "-c%d" % self.conns, "-d%ds" % self.duration,
                "--timeout", "5s", "-s", self.lua]
        if path.host:
            argv += ["-H", "Host: " + path.host]
        argv.append(path.base + "/bytes/1024")
        cpu0 = self.tunnel_cpu(path)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=self.duration + 60)
        cpu1 = self.tunnel_cpu(path)
        m = re.search(r"^BENCH (.*)$", r.stdout, re.M)
        if not m:
            return self.error(path, "wrk failed: %s %s" % (r.stdout.strip()[-300:], r.stderr.strip()[-300:]))
        v = {k: int(x) for k, x in (kv.split("=") for kv in m.group(1).split())}
        n = v["requests"]
        bad = {k: v[k] for k in ("connect", "read", "write", "timeout", "status") if v[k]}
        if n == 0 or bad:
            return self.error(path, "wrk: %d responses, errors %s (status = answers >= 400)" % (n, bad or "none"))
        # Every answer must be the 200 with 1 KiB seen in the preflight: the bytes read are n whole
        # answers plus at most one partial answer per connection when the run stops.
        exp = path.resp_len
        lo, hi = n * exp * 0.999, (n + self.conns) * exp * 1.001
        if not lo <= v["bytes"] <= hi:
            return self.error(path, "wrk: %d bytes read for %d answers of %d bytes: some answers differ"
                              % (v["bytes"], n, exp))
        res = {"rps": n / (v["us"] / 1e6), "p50": v["p50"] / 1000.0, "p99": v["p99"] / 1000.0}
        if cpu0 is not None:
            res["cpu_req_ttfd"] = (cpu1[0] - cpu0[0]) / 1000.0 / n
            res["cpu_req_ttf"] = (cpu1[1] - cpu0[1]) / 1000.0 / n
        return res

    def tunnel_cpu(self, path):
        """(ttfd, ttf) CPU ns for a tunnel path; (local service, 0) for direct; else None."""
        if path.key == "direct":
            return (bl.cpu_ns_tree(self.origin_proc.pid), 0)
        if path.tunnel is None:
            return None
        return (bl.cpu_ns(path.tunnel.ttfd.pid), bl.cpu_ns(path.tunnel.ttf.pid))

    def transfers(self, path):
        res = {}
        t = path.tunnel
        if t is not None:
            for p in (t.ttfd, t.ttf):
                if not bl.reset_peak_rss(p.pid):
                    path.rss_since_start = True
        cpu0 = self.tunnel_cpu(path)
        code, size, _u, speed, _su, _h, _b, err = self.curl(path, "/bytes/%d" % self.nbytes, discard=True)
        cpu1 = self.tunnel_cpu(path)
        if code != 200 or size != self.nbytes:
            self.error(path, "download: HTTP %s, %d of %d bytes %s" % (code, size, self.nbytes, err))
        else:
            res["down"] = speed / MIB
        code, _s, usize, _sd, speed, _h, body, err = self.curl(
            path, "/upload", ["-T", self.upload_file, "-H", "Expect:", "-H", "Content-Type: application/octet-stream"])
        cpu2 = self.tunnel_cpu(path)
        if code != 200 or usize != self.nbytes or body != b"%d\n" % self.nbytes:
            self.error(path, "upload: HTTP %s, %d of %d bytes sent, answer %r %s" % (code, usize, self.nbytes, body[:60], err))
        else:
            res["up"] = speed / MIB
        if t is not None:
            res["rss_ttfd"] = bl.proc_status(t.ttfd.pid, "VmHWM")
            res["rss_ttf"] = bl.proc_status(t.ttf.pid, "VmHWM")
            res["cpu_down_ttfd"] = (cpu1[0] - cpu0[0]) / 1e6
            res["cpu_down_ttf"] = (cpu1[1] - cpu0[1]) / 1e6
            if "up" in res:
                res["cpu_up_ttfd"] = (cpu2[0] - cpu1[0]) / 1e6
                res["cpu_up_ttf"] = (cpu2[1] - cpu1[1]) / 1e6
            for p in (t.ttfd, t.ttf):
                if p.poll() is not None:
                    self.error(path, "%s exited (%s)" % (p.name, p.returncode))
        return res

    def error(self, path, msg):
        path.errors.append(msg)
        print("bench: ERROR %s: %s" % (path.label, msg), flush=True)
        return None

    def run(self):
        order = [self.paths[k] for k in ALL_PATHS if k in self.paths]
        for p in order:
            self.preflight(p)
        for rnd in range(self.rounds):
            rot = order[rnd % len(order):] + order[:rnd % len(order)]
            figures = {p.key: {} for p in order}
            for p in rot:
                r = self.wrk(p)
                if r:
                    figures[p.key].update(r)
            for p in rot:
                figures[p.key].update(self.transfers(p))
            line = []
            for p in order:
                f = figures[p.key]
                p.rounds.append(f)
                for k in ("rps", "down", "up", "rss_ttfd", "rss_ttf"):
                    p.keep(k, f.get(k), max)
                for k in ("p50", "p99") + tuple(k for k in f if k.startswith("cpu_")):
                    p.keep(k, f.get(k), min)
                line.append("%s %s req/s %s/%s MB/s" % (p.key, fmt_int(f.get("rps")), fmt_int(f.get("down")),
                                                        fmt_int(f.get("up"))))
            print("bench: round %d/%d: %s" % (rnd + 1, self.rounds, "; ".join(line)), flush=True)

    # ------------------------------------------------------------------ report

    def report(self):
        P = self.paths
        out = []
        load = os.getloadavg()
        cpu = "?"
        try:
            with open("/proc/cpuinfo") as f:
                cpu = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M).group(1)
        except (OSError, AttributeError):
            pass
        out.append("")
        out.append("http-tunnel benchmark, %s UTC, %s, %d cores (%s), Linux %s"
                   % (datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), platform.node(), os.cpu_count(),
                      cpu, platform.release()))
        out.append("wrk -t%d -c%d -d%ds GET of a 1 KiB body; %d MB download (to %s) and upload with curl; best of %d "
                   "interleaved rounds; MB = 2^20 bytes; local service: %s"
                   % (self.threads, self.conns, self.duration, self.mbytes,
                      "a file" if self.download_file else "/dev/null", self.rounds,
                      "bench/echo_server.c" if self.origin == "echo" else
                      "nginx static files (BENCH_ORIGIN=nginx; the upload passed on to bench/echo_server.c)"))
        busy = max(self.load_start, load[0])
        if busy > (os.cpu_count() or 1):
            out.append("NOTE: the machine was busy (load average %.1f at the start, %.1f at the end, on %d cores): "
                       "figures are lower and noisier than on an idle machine, and paths with more processes "
                       "(the tunnel has 4 with the client and the service) lose more; the CPU times below do not "
                       "depend on the load." % (self.load_start, load[0], os.cpu_count() or 1))
        ssh = P.get("ssh")
        groups = [("plain HTTP", ["direct", "nginx", "haproxy", "ssh", "binary", "json"], "direct"),
                  ("TLS on both legs (ssh -R encrypts anyway)", ["nginx-tls", "ssh", "tls"], "nginx-tls")]
        for title, keys, base_key in groups:
            rows = [P[k] for k in keys if k in P]
            if not any(r.key not in ("ssh",) for r in rows):
                continue
            if title.startswith("TLS") and not any(k in P for k in ("nginx-tls", "tls")):
                continue
            base = P.get(base_key)
            out.append("")
            out.append("%s:" % title)
            out.append("")
            bname = "direct" if base_key == "direct" else "nginx TLS"
            out.append("| path | 1 KiB req/s | ×%s | p50 ms | p99 ms | p99 ×%s | download MB/s | ×ssh -R "
                       "| upload MB/s | ×ssh -R | peak RSS ttfd / ttf |" % (bname, bname))
            out.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
            for r in rows:
                b = r.best
                err = bool(r.errors)
                cells = [r.label]
                cells.append("ERROR" if err and "rps" not in b else fmt_int(b.get("rps")))
                cells.append(ratio(b.get("rps"), base.best.get("rps") if base else None))
                cells.append(fmt_ms(b.get("p50")))
                cells.append(fmt_ms(b.get("p99")))
                cells.append(ratio(b.get("p99"), base.best.get("p99") if base else None))
                cells.append("ERROR" if err and "down" not in b else fmt_int(b.get("down")))
                cells.append(ratio(b.get("down"), ssh.best.get("down") if ssh else None))
                cells.append("ERROR" if err and "up" not in b else fmt_int(b.get("up")))
                cells.append(ratio(b.get("up"), ssh.best.get("up") if ssh else None))
                if r.tunnel is not None:
                    cells.append("%s / %s MB%s" % (fmt_mb(b.get("rss_ttfd")), fmt_mb(b.get("rss_ttf")),
                                                   " (since start)" if r.rss_since_start else ""))
                else:
                    cells.append("")
                out.append("| " + " | ".join(cells) + " |")
        tun = [P[k] for k in ("binary", "json", "tls") if k in P]
        if tun:
            out.append("")
            out.append("CPU time of ttfd / ttf (independent of other load; best round):")
            if "direct" in P and P["direct"].best.get("cpu_req_ttfd") is not None:
                out.append("  %-26s %s µs per 1 KiB request" % ("the local service, direct",
                                                                  fmt_f(P["direct"].best["cpu_req_ttfd"], 1)))
            for r in tun:
                b = r.best
                out.append("  %-26s %s / %s µs per 1 KiB request; %s / %s ms per %d MB download; %s / %s ms per upload"
                           % (r.label, fmt_f(b.get("cpu_req_ttfd"), 1), fmt_f(b.get("cpu_req_ttf"), 1),
                              fmt_int(b.get("cpu_down_ttfd")), fmt_int(b.get("cpu_down_ttf")), self.mbytes,
                              fmt_int(b.get("cpu_up_ttfd")), fmt_int(b.get("cpu_up_ttf"))))
        if any(len(p.rounds) > 1 for p in P.values()):
            out.append("")
            out.append("spread over the rounds (req/s; download/upload MB/s):")
            for p in (P[k] for k in ALL_PATHS if k in P):
                out.append("  %-26s %s; %s" % (p.label, " ".join(fmt_int(f.get("rps")) for f in p.rounds),
                                               " ".join("%s/%s" % (fmt_int(f.get("down")), fmt_int(f.get("up")))
                                                        for f in p.rounds)))
        print("\n".join(out))
        return self.targets()

    def targets(self):
        P = self.paths
        rows = []  # (text, measured, verdict)

        def get(key, fig):
            p = P.get(key)
            return None if p is None else p.best.get(fig)

        def check(text, value, ok_fn, shown):
            if value is None:
                rows.append((text, "not measured", "-"))
                return
            rows.append((text, shown, "OK" if ok_fn(value) else "MISSED"))

        def rat(a, b):
            return None if a is None or b is None or not b else a / b

        v = rat(get("binary", "rps"), get("direct", "rps"))
        check("binary 1 KiB req/s >= 0.6 x direct", v, lambda x: x >= 0.6, fmt_f(v, 2))
        for fig, name in (("down", "download"), ("up", "upload")):
            v = rat(get("binary", fig), get("ssh", fig))
            check("binary %d MB %s >= 2 x ssh -R" % (self.mbytes, name), v, lambda x: x >= 2.0, fmt_f(v, 2))
        for fig, name in (("down", "download"), ("up", "upload")):
            v = rat(get("tls", fig), get("ssh", fig))
            check("TLS tunnel %d MB %s >= ssh -R" % (self.mbytes, name), v, lambda x: x >= 1.0, fmt_f(v, 2))
        v = rat(get("json", "rps"), get("binary", "rps"))
        check("JSON 1 KiB req/s >= 0.5 x binary", v, lambda x: x >= 0.5, fmt_f(v, 2))
        check("JSON %d MB download >= 150 MB/s" % self.mbytes, get("json", "down"), lambda x: x >= 150,
              "%s MB/s" % fmt_int(get("json", "down")))
        check("JSON %d MB upload >= 150 MB/s" % self.mbytes, get("json", "up"), lambda x: x >= 150,
              "%s MB/s" % fmt_int(get("json", "up")))
        for key, base in (("binary", "direct"), ("json", "direct"), ("tls", "nginx-tls")):
            v = rat(get(key, "p99"), get(base, "p99"))
            check("%s p99 <= 3 x %s p99" % (key, base), v, lambda x: x <= 3.0,
                  "%s (%s vs %s ms)" % (fmt_f(v, 2), fmt_ms(get(key, "p99")), fmt_ms(get(base, "p99"))))
        for key in ("binary", "json", "tls"):
            for prog in ("ttfd", "ttf"):
                kb = get(key, "rss_" + prog)
                check("%s: %s peak RSS < 16 MB during transfers" % (key, prog), kb,
                      lambda x: x < RSS_LIMIT_KB, "%s MB" % fmt_mb(kb))
        errors = [(p.label, e) for p in P.values() for e in p.errors]
        out = ["", "targets (issue 14):"]
        for text, shown, verdict in rows:
            out.append("  %-46s %-34s %s" % (text, shown, verdict))
        missed = sum(1 for r in rows if r[2] == "MISSED")
        out.append("")
        out.append("%d targets met, %d missed; %d measurement errors; %.0f s"
                   % (sum(1 for r in rows if r[2] == "OK"), missed, len(errors), time.monotonic() - self.started))
        for label, e in errors:
            out.append("  ERROR %s: %s" % (label, e))
        print("\n".join(out), flush=True)
        if errors:
            return 2
        return 1 if missed else 0


def fmt_int(v):
    return "-" if v is None else "{:,.0f}".format(v)


def fmt_f(v, d):
    return "-" if v is None else "%.*f" % (d, v)


def fmt_ms(v):
    return "-" if v is None else "%.2f" % v


def fmt_mb(kb):
    return "-" if kb is None else "%.1f" % (kb / 1024.0)


def ratio(a, b):
    return "-" if a is None or b is None or not b else "%.2f" % (a / b)


def main():
    bl.install_signal_exit()
    try:
        b = Bench()
    except bl.BenchError as e:
        print("bench: %s" % e, file=sys.stderr)
        return 2
    try:
        b.setup()
        print("bench: measuring %s; %d rounds" % (", ".join(LABELS[k] for k in ALL_PATHS if k in b.paths), b.rounds),
              flush=True)
        b.run()
        return b.report()
    except bl.BenchError as e:
        print("bench: %s" % e, file=sys.stderr)
        return 2
    finally:
        b.close()


if __name__ == "__main__":
    sys.exit(main())
