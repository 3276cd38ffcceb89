# SPDX-License-Identifier: MIT
"""ttf's inspector page in headless Chromium (Debian's chromium, driven by playwright-core from
tests/ui/): a request through the tunnel appears in the list, its detail shows headers and bodies,
Replay adds a second entry with the new answer, an edited replay is sent as edited, captured
markup stays text. The browser steps are in tests/ui/inspector_ui.js."""

import json
import os
import subprocess

import pytest

import tunnelkit as tk

UI_DIR = os.path.join(tk.REPO, "tests", "ui")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def run_ui(cfg, timeout=240):
    if not os.path.isdir(os.path.join(UI_DIR, "node_modules", "playwright-core")):
        pytest.fail("tests/ui/node_modules is missing: run scripts/deps.sh (npm ci in tests/ui)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("%s is missing: run scripts/deps.sh (Debian's chromium)" % CHROMIUM)
    env = dict(os.environ, TUNNEL_TEST_SLOW=str(tk.SLOW), CHROMIUM=CHROMIUM)
    p = subprocess.run(["node", os.path.join(UI_DIR, "inspector_ui.js"), json.dumps(cfg)],
                       capture_output=True, text=True, timeout=timeout * tk.SLOW, env=env,
                       stdin=subprocess.DEVNULL)
    return p


def test_inspector_page_in_chromium(stack):
    srv = stack.local()
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), srv.port)
    cfg = {"inspector": a.inspector(), "tunnel_port": d.port,
           "tunnel_host": tk.sub_host(d, a.tunnel_id)}
    p = run_ui(cfg)
    assert p.returncode == 0 and "UI OK" in p.stdout, "stdout:\n%s\nstderr:\n%s" % (p.stdout, p.stderr)
    # The service saw the original and both replays, nothing more.
    assert srv.state.counter == 3
