# SPDX-License-Identifier: MIT
"""Fixtures for the serverless end-to-end suite (stand-in + real bootstrap + real ttf).

The session-wide `stack` is one stand-in with the default configuration, one local app and one
agent; tests that need another configuration or kill the agent start their own (and stop them).
At the end, the stand-in's figures (latency added by the stack, SigV4 checks, Lambda counts) are
printed and written to $AWS_E2E_REPORT when set.
"""

import json
import os

import pytest

import awskit as ak

_REPORT = {}


@pytest.fixture(scope="session", autouse=True)
def _dependencies_present():
    """Fail (not skip) when what the suite runs is missing: a suite that skips cannot fail."""
    missing = [p for p in (ak.TTF_BIN, ak.BOOTSTRAP_BIN) if not os.access(p, os.X_OK)]
    if not os.access(ak.NODE, os.X_OK):
        missing.append("node (%s)" % ak.NODE)
    if not os.path.exists(os.path.join(ak.HERE, "node_modules", "dynalite")):
        missing.append("tests/aws/node_modules (run scripts/deps.sh)")
    if missing:
        pytest.fail("not built / not installed: %s" % ", ".join(missing), pytrace=False)


class Stack:
    def __init__(self, tmpdir, env=None, args=None, lambda_cmd=None, token=None):
        self.standin = ak.Standin(tmpdir, env=env, args=args, lambda_cmd=lambda_cmd)
        self.app = None
        self.agent = None
        try:
            self.app = ak.LocalApp()
            self.agent = ak.Agent(self.standin.ws_url, self.app.port, token=token)
            try:
                self.url = self.agent.wait_established(30)
            except AssertionError as e:
                raise AssertionError("%s\n--- Lambda output (tail):\n%s\n--- stand-in stderr (tail):\n%s" % (
                    e, self.standin.lambda_log_text()[-3000:], self.standin.stderr_text()[-1500:])) from None
            self.tid = ak.tunnel_id(self.url)
            self.tunnel = ak.Tunnel(self.standin, self.tid)
        except BaseException:
            self.close()
            raise

    def new_agent(self, token=None, extra=(), state_home=None):
        return ak.Agent(self.standin.ws_url, self.app.port, token=token, extra=extra,
                        state_home=state_home)

    def close(self):
        codes = {}
        if self.agent:
            codes["ttf"] = self.agent.stop()
        if self.app:
            self.app.close()
        codes["standin"] = self.standin.stop()
        return codes


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("stack"), args=["--cap", "96"])
    yield s
    codes = s.close()
    _REPORT["default_stack"] = {"exit_codes": codes, "stats": s.standin.final_stats}
    assert codes["standin"] == 0, s.standin.stderr_text()[-3000:]


def pytest_terminal_summary(terminalreporter):
    st = (_REPORT.get("default_stack") or {}).get("stats")
    if not st:
        return
    lat = st.get("latency", {})
    tr = terminalreporter
    tr.write_sep("-", "serverless stand-in figures")
    tr.write_line("latency added by API Gateway + Lambda + DynamoDB (HTTP API time - agent processing_time_ms): %s"
                  % json.dumps(lat.get("added_ms")))
    tr.write_line("HTTP API total time per request: %s (unmatched: %s)" % (json.dumps(lat.get("total_ms")),
                                                                          lat.get("unmatched")))
    tr.write_line("SigV4 (aws4 recomputation of every Lambda call): %s" % json.dumps(
        {k: st["sigv4"].get(k) for k in ("verified", "failed")}))
    lam = st.get("lambda", {})
    tr.write_line("Lambda: %s" % json.dumps({k: lam.get(k) for k in ("invocations", "errors", "cold_starts",
                                                                     "max_busy", "timeouts", "error_types")}))
    tr.write_line("DynamoDB: %s" % json.dumps(st.get("dynamodb", {}).get("ops")))
    path = os.environ.get("AWS_E2E_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump(_REPORT, f, indent=2)
