# SPDX-License-Identifier: MIT
"""pytest fixtures: local servers, ttfd and ttf processes, cleanup with exit-code checks.

Every process a test starts is registered with a Stack and stopped by its finalizer
(SIGTERM, bounded wait, then SIGKILL); a program that does not exit 0 after SIGTERM fails the
test (under valgrind exit code 99 means memory errors or memory still allocated at exit).
"""

import os
import sys
import types

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import localsrv  # noqa: E402
import tunnelkit as tk  # noqa: E402


def pytest_report_header(config):
    return "ttfd=%s ttf=%s valgrind=%s sanitized=%s slow=x%g" % (
        tk.TTFD_BIN, tk.TTF_BIN, tk.VALGRIND, tk.SANITIZED, tk.SLOW)


@pytest.fixture(scope="session", autouse=True)
def _binaries_present():
    missing = [b for b in (tk.TTFD_BIN, tk.TTF_BIN) if not os.access(b, os.X_OK)]
    if missing:
        # Fail (not skip): the suite must be able to fail.
        pytest.fail("binary missing: %s (build ttfd and ttf, or set TTFD_BIN/TTF_BIN)" % missing)


class Stack:
    """Processes and servers started by one test (or module); torn down in reverse order."""

    def __init__(self):
        self.items = []  # (kind, obj, expect_rc)

    def local(self):
        srv = localsrv.LocalServer()
        self.items.append(("server", srv, None))
        return srv

    def ttfd(self, *args, **kw):
        d = tk.Ttfd(*args, **kw)
        self.items.append(("proc", d.proc, 0))
        return d

    def ttf(self, endpoint, local_port, *args, expect_rc=0, **kw):
        a = tk.Ttf(endpoint, local_port, *args, **kw)
        self.items.append(("proc", a.proc, expect_rc))
        return a

    def closing(self, obj):
        """obj.close() at teardown (a helper server or relay the test started)."""
        self.items.append(("server", obj, None))
        return obj

    def add_proc(self, proc, expect_rc=0):
        self.items.append(("proc", proc, expect_rc))
        return proc

    def expect(self, proc, rc):
        """Change the exit code expected from proc at teardown (None: do not check)."""
        self.items = [(k, o, rc if o is proc else e) for (k, o, e) in self.items]

    def close(self):
        problems = []
        for kind, obj, expect_rc in reversed(self.items):
            if kind == "proc":
                rc = obj.stop()
                if expect_rc is not None and rc != expect_rc:
                    when = ("on its own, before the test ended" if obj.exited_early
                            else "after SIGTERM" if rc is not None else "never (SIGKILLed)")
                    problems.append("%s exited with %r %s (expected %r)\n%s"
                                    % (obj.name, rc, when, expect_rc, obj.describe()))
            else:
                obj.close()
        self.items = []
        if problems:
            pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def stack():
    """Per-test process/server stack."""
    s = Stack()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def mstack():
    """Per-module process/server stack."""
    s = Stack()
    try:
        yield s
    finally:
        s.close()


def make_tunnel(st, ttfd_args=(), ttf_args=(), local=None):
    """local server + ttfd + ttf, all on ephemeral ports; returns a namespace."""
    srv = local or st.local()
    d = st.ttfd(*ttfd_args)
    a = st.ttf(d.endpoint(), srv.port, *ttf_args)
    return types.SimpleNamespace(
        local=srv, ttfd=d, ttf=a, port=d.port, id=a.tunnel_id,
        host=tk.sub_host(d, a.tunnel_id), phost=tk.path_host(d))


@pytest.fixture(scope="module")
def tunnel(mstack):
    """One shared binary-mode tunnel for the read-only tests of a module."""
    return make_tunnel(mstack)
