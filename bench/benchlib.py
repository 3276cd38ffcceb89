# SPDX-License-Identifier: MIT
"""Shared pieces of the benchmark scripts (bench.py, profile.py, soak.py): processes they start and
always stop, free loopback ports, readiness waits, /proc figures, and ttfd + ttf tunnels.

Owns: the processes started through a Procs (each one's output in TMP/NAME.log; stop_all() ends
them in reverse order, SIGTERM then SIGKILL after 5 s) and nothing else. Standard library only;
run by Debian's /usr/bin/python3 (tests/e2e/pki.py, for TLS certificates, needs
python3-cryptography).
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class BenchError(Exception):
    """A set-up step failed (a process exited, a deadline passed): the run cannot go on."""


def env_int(name, default):
    """Integer from the environment variable NAME (DEFAULT when unset or empty)."""
    v = os.environ.get(name, "")
    try:
        return int(v) if v else default
    except ValueError:
        raise BenchError("%s must be an integer, not %r" % (name, v))


def have_tools(script, tools, hint):
    """Whether every program of TOOLS is on the PATH; else says which is not (and HINT) on stderr."""
    import shutil
    for tool in tools:
        if shutil.which(tool) is None:
            print("%s: %s not found: %s" % (script, tool, hint), file=sys.stderr)
            return False
    return True


def run_in_tmp(script, work):
    """Calls work(procs, tmp) with a Procs in a new temporary directory; stops what it started and
    removes the directory whatever happens. Returns 0, or 1 after a BenchError (said on stderr)."""
    import shutil
    import tempfile
    tmp = tempfile.mkdtemp(prefix="ttf-%s." % script)
    procs = Procs(tmp)
    try:
        work(procs, tmp)
        return 0
    except BenchError as e:
        print("%s: %s" % (script, e), file=sys.stderr)
        return 1
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


def build_dir():
    return os.environ.get("BUILD") or os.path.join(ROOT, "build")


def binary(env, name):
    """Path of a program of the project (env var override, else BUILD/bin/NAME); must exist."""
    path = os.environ.get(env) or os.path.join(build_dir(), "bin", name)
    if not os.access(path, os.X_OK):
        raise BenchError("%s not found; run 'make build' first" % path)
    return path


def free_port():
    """A TCP port that is free on 127.0.0.1 now (for programs that cannot bind port 0 and tell)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    """In a child before exec: SIGTERM when the script dies, even by SIGKILL (PR_SET_PDEATHSIG)."""
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)


def install_signal_exit():
    """SIGTERM/SIGHUP end the script through SystemExit, so `finally` blocks stop what it started."""
    def handler(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


class Procs:
    """The processes a script starts; stop_all() ends every one of them (reverse start order)."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.items = []  # (name, Popen)

    def start(self, name, argv, env=None):
        log = os.path.join(self.tmp, name + ".log")
        # ttfd and ttf keep state (name owners, last id) in the XDG state directory: a private one
        # per process, so two ttfd of one run, or a bench next to a running ttfd, never share (or
        # are refused) a state file.
        env = dict(os.environ if env is None else env, XDG_STATE_HOME=os.path.join(self.tmp, "state-" + name))
        env.pop("STATE_DIRECTORY", None)
        with open(log, "wb") as out:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 env=env, start_new_session=True, preexec_fn=_die_with_parent)
        p.log = log
        p.name = name
        self.items.append((name, p))
        return p

    def stop(self, p):
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
        self.items = [(n, q) for n, q in self.items if q is not p]

    def stop_all(self):
        for _name, p in reversed(list(self.items)):
            self.stop(p)


def log_tail(p, n=20):
    try:
        with open(p.log, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError:
        return ""


def wait_line(p, regex, timeout=20):
    """The first match of REGEX in P's output (a re.Match); BenchError when P exits or at the deadline."""
    pat = re.compile(regex, re.M)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(p.log, "rb") as f:
            m = pat.search(f.read().decode(errors="replace"))
        if m:
            return m
        if p.poll() is not None:
            raise BenchError("%s exited (%s):\n%s" % (p.name, p.returncode, log_tail(p)))
        time.sleep(0.05)
    raise BenchError("%s: no /%s/ within %d s:\n%s" % (p.name, regex, timeout, log_tail(p)))


def wait_port(p, port, timeout=20):
    """Waits until 127.0.0.1:PORT accepts a connection (P must stay alive meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p is not None and p.poll() is not None:
            raise BenchError("%s exited (%s):\n%s" % (p.name, p.returncode, log_tail(p)))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise BenchError("port %d not accepting within %d s" % (port, timeout))


def build_echo_server():
    """Compiles bench/echo_server.c into BUILD/bench/echo_server (when older than the source)."""
    out_dir = os.path.join(build_dir(), "bench")
    os.makedirs(out_dir, exist_ok=True)
    src = os.path.join(HERE, "echo_server.c")
    exe = os.path.join(out_dir, "echo_server")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        subprocess.run(["cc", "-O2", "-std=c17", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
                        "-o", exe, src], check=True)
    return exe


def start_echo_server(procs, name="echo"):
    """Starts the benchmark's local service; returns (Popen, port)."""
    p = procs.start(name, [build_echo_server()])
    port = int(wait_line(p, r"^PORT (\d+)").group(1))
    return p, port


ORIGINS = ("echo", "nginx")


def start_nginx_origin(procs, tmp, echo_port, nbytes, name="origin"):
    """The other local service of BENCH_ORIGIN=nginx: nginx (one worker, Debian's defaults for
    static files: sendfile, tcp_nopush, keep-alive) serving GET /bytes/1024 and GET /bytes/NBYTES
    from files (the large one sparse: no disk), and passing everything else (the upload) to the echo
    server on ECHO_PORT, which answers with the byte count. Returns (Popen of the master, port).
    As root the worker runs as root: a 0700 temporary root would otherwise answer 403."""
    root = os.path.join(tmp, name + "-root")
    os.makedirs(os.path.join(root, "bytes"), exist_ok=True)
    with open(os.path.join(root, "bytes", "1024"), "wb") as f:
        f.write(b"x" * 1024)
    with open(os.path.join(root, "bytes", str(nbytes)), "wb") as f:
        f.truncate(nbytes)
    for attempt in range(3):
        port = free_port()
        conf = os.path.join(tmp, name + "-nginx.conf")
        with open(conf, "w") as f:
            f.write("""worker_processes 1;
daemon off;
pid {t}/{n}.pid;
{user}
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    types {{ }}
    default_type application/octet-stream;
    client_body_temp_path {t}/{n}-body;
    proxy_temp_path {t}/{n}-proxy;
    fastcgi_temp_path {t}/{n}-fastcgi;
    uwsgi_temp_path {t}/{n}-uwsgi;
    scgi_temp_path {t}/{n}-scgi;
    keepalive_requests 100000000;
    upstream echo {{ server 127.0.0.1:{ep}; keepalive 8; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /bytes/ {{ }}
        location / {{ proxy_pass http://echo; proxy_http_version 1.1; proxy_set_header Connection "";
                     proxy_request_buffering off; client_max_body_size 0; }}
    }}
}}
""".format(t=tmp, n=name, user="user root;" if os.getuid() == 0 else "", ep=echo_port, port=port, root=root))
        p = procs.start(name, ["nginx", "-e", os.path.join(tmp, name + "-error.log"), "-p", tmp, "-c", conf])
        try:
            wait_port(p, port)
            return p, port
        except BenchError:
            procs.stop(p)
            if attempt == 2:
                raise
    raise BenchError("nginx origin did not start")


def make_tls_files(tmp):
    """A throw-away CA and a server certificate for localhost, *.localhost and 127.0.0.1, made by
    tests/e2e/pki.py. Returns (ca_pem, cert, key) paths."""
    import pathlib
    sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
    import pki  # noqa: E402  (python3-cryptography)
    d = pathlib.Path(tmp)
    ca = pki.make_ca(d)
    cert, key = pki.make_server_cert(d, ca, "server", ["localhost", "*.localhost"], ips=["127.0.0.1"])
    return str(ca[2]), str(cert), str(key)


class Tunnel:
    """One ttfd and one ttf in front of a local port. Attributes: ttfd, ttf (Popen), port (ttfd's),
    host (the public Host header value), scheme (http or https), ca (PEM to verify it, or None)."""

    def __init__(self, procs, name, local_port, protocol="binary", tls=None, extra_ttfd=(), extra_ttf=(),
                 wrap=None):
        wrap = wrap or {}  # "ttfd" / "ttf": an argv the program runs under (valgrind ...)
        argv = list(wrap.get("ttfd", ())) + [binary("TTFD_BIN", "ttfd"), "--listen", "127.0.0.1:0"] + list(extra_ttfd)
        self.ca = None
        if tls is not None:
            ca, cert, key = tls
            argv += ["--tls-cert", cert, "--tls-key", key]
            self.ca = ca
        self.ttfd = procs.start(name + "-ttfd", argv)
        m = wait_line(self.ttfd, r"^Listening on (https?)://[^ ]*:(\d+) ")
        self.scheme, self.port = m.group(1), int(m.group(2))
        ws = "wss" if self.scheme == "https" else "ws"
        argv = list(wrap.get("ttf", ())) + [binary("TTF_BIN", "ttf"), "-e", "%s://127.0.0.1:%d/_tunnel" % (ws, self.port),
                "-p", str(local_port), "--protocol", protocol] + list(extra_ttf)
        if self.ca:
            argv += ["--ca-file", self.ca]
        self.ttf = procs.start(name + "-ttf", argv)
        url = wait_line(self.ttf, r"^Tunnel established: (\S+)").group(1)
        self.host = url.split("://", 1)[1].rstrip("/")
        self.protocol = protocol

    def base_url(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.port)


def proc_status(pid, field):
    """A /proc/PID/status field in kB (VmRSS, VmHWM), or None when the process is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss(pid):
    """Resets VmHWM to the current RSS (writing 5 to clear_refs, Linux >= 4.0). True when done."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def open_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def cpu_ns_tree(pid):
    """cpu_ns of PID and of its children (nginx's master and worker)."""
    total = cpu_ns(pid)
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        kids = []
    return total + sum(cpu_ns(k) for k in kids)


def sched_ns(pid):
    """(run, wait) of the process in ns, all threads (/proc/PID/schedstat: time on a CPU, time
    runnable on a run queue but not running); (0, 0) when it is gone."""
    try:
        run = wait = 0
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                fields = f.read().split()
            run += int(fields[0])
            wait += int(fields[1])
        return run, wait
    except (OSError, ValueError, IndexError):
        return 0, 0


def machine_idle_ms():
    """Idle time of all CPUs together since boot, in ms (/proc/stat idle + iowait, USER_HZ 100:
    10 ms steps)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return (int(fields[4]) + int(fields[5])) * 10


def cpu_ns(pid):
    """CPU time the process has used, in ns (/proc/PID/schedstat, all threads' run time)."""
    try:
        total = 0
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        return total
    except (OSError, ValueError):
        return 0
