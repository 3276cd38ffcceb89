# SPDX-License-Identifier: MIT
"""pytest set-up of the fault-injection suite: the end-to-end helpers (tests/e2e: tunnelkit,
rawagent, the `stack` fixture that stops every process a test starts) on the path, and the
fixtures of tests/e2e/conftest.py reused under their names."""

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.join(HERE, "..", "e2e")
sys.path.insert(0, E2E)
sys.path.insert(0, HERE)

# ASan keeps freed memory in a quarantine of 256 MiB by default: RSS would only grow, and the
# suite's return-to-baseline checks would see nothing. 16 MiB still catches use-after-free of
# recent blocks. (Set before the processes are started: they inherit it.)
if os.environ.get("TUNNEL_SANITIZE", "").upper() in ("1", "ON", "TRUE", "YES"):
    os.environ.setdefault("ASAN_OPTIONS", "quarantine_size_mb=16")

_spec = importlib.util.spec_from_file_location("e2e_conftest", os.path.join(E2E, "conftest.py"))
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)

# fixtures and hooks of the e2e suite, registered here by name
pytest_report_header = _e2e.pytest_report_header
_binaries_present = _e2e._binaries_present
stack = _e2e.stack
mstack = _e2e.mstack
Stack = _e2e.Stack
