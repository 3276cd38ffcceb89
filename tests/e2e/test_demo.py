# SPDX-License-Identifier: MIT
"""The README's first command: scripts/demo.sh --check starts ttfd, the TodoMVC app and ttf,
curls through the tunnel in both routing modes, and stops everything."""

import importlib.util
import os
import subprocess
import tempfile

import pytest

import tunnelkit as tk


def test_demo_check():
    for mod in ("fastapi", "uvicorn"):
        if importlib.util.find_spec(mod) is None:
            pytest.fail("python3-%s missing (scripts/deps.sh installs it)" % mod)
    # A private state directory: ttfd's name owners and ttf's last id stay out of $HOME, and a
    # demo running next to this test does not hold the same ttfd state file.
    state = tempfile.TemporaryDirectory(prefix="tunnel-demo-state-")
    env = dict(os.environ, TTFD_BIN=tk.TTFD_BIN, TTF_BIN=tk.TTF_BIN, TTFD_LISTEN="127.0.0.1:0",
               APP_PORT=str(tk.free_port()), DEMO_TIMEOUT=str(int(20 * tk.SLOW)),
               XDG_STATE_HOME=state.name)
    env.pop("STATE_DIRECTORY", None)
    with state:
        p = subprocess.run([os.path.join(tk.REPO, "scripts", "demo.sh"), "--check"], env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=120 * tk.SLOW)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "Tunnel established: http://" in p.stdout, out
    assert "demo check: OK" in p.stdout, out
    assert '"message":"TodoMVC API"' in p.stdout, out
    assert "curl http://" in p.stdout
