# SPDX-License-Identifier: MIT
"""Command lines of ttfd and ttf: --help, --version, bad options, TUNNEL_ENDPOINT, SIGINT."""

import json
import re
import signal
import subprocess

import pytest

import tunnelkit as tk


@pytest.mark.parametrize("binary", ["ttfd", "ttf"])
def test_help_and_version(binary):
    path = tk.TTFD_BIN if binary == "ttfd" else tk.TTF_BIN
    h = tk.run([path, "--help"])
    assert h.returncode == 0, h.stderr
    # asked-for help goes to stdout (GNU coding standards), listing the options
    assert h.stdout.startswith("Usage: %s " % binary), h.stdout
    assert "--help" in h.stdout and "--version" in h.stdout, h.stdout
    v = tk.run([path, "--version"])
    assert v.returncode == 0, v
    assert re.match(r"%s \d+\.\d+\.\d+" % binary, v.stdout), v.stdout


@pytest.mark.parametrize("binary,args", [("ttfd", ["--no-such-flag"]), ("ttfd", ["--listen", "nonsense"]),
                                         ("ttf", ["--no-such-flag"]), ("ttf", ["-p", "notaport"]),
                                         ("ttf", ["--protocol", "carrier-pigeon"])])
def test_bad_options_fail_fast(binary, args):
    path = tk.TTFD_BIN if binary == "ttfd" else tk.TTF_BIN
    p = tk.run([path] + args, stdin=subprocess.DEVNULL)
    assert p.returncode != 0, "%s %s exited 0" % (binary, args)
    assert p.stderr.strip(), "no message on stderr"


def test_endpoint_from_environment(stack):
    srv = stack.local()
    d = stack.ttfd()
    p = stack.add_proc(tk.Proc("ttf", [tk.TTF_BIN, "-p", str(srv.port)],
                               env={"TUNNEL_ENDPOINT": d.endpoint()}))
    m, _ = p.wait_line(r"^Tunnel established: http://([a-z0-9]{12})\.localhost:%d$" % d.port, 15)
    assert tk.http(d.port, "GET", "/env", tk.sub_host(d, m.group(1))).status == 200


def test_local_host_flag(stack):
    srv = stack.local()
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), srv.port, "--host", "localhost", "--host-header", "rewrite")
    r = tk.http(d.port, "GET", "/h", tk.sub_host(d, a.tunnel_id))
    assert r.status == 200, r.raw_head
    hosts = [v for n, v in json.loads(r.body)["headers"] if n.lower() == "host"]
    assert hosts == ["localhost:%d" % srv.port]


def test_sigint_is_graceful(stack):
    srv = stack.local()
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), srv.port)
    a.proc.p.send_signal(signal.SIGINT)
    assert a.proc.wait_exit(10) == 0, a.proc.describe()
    d.proc.p.send_signal(signal.SIGINT)
    assert d.proc.wait_exit(10) == 0, d.proc.describe()
