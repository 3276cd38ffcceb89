# SPDX-License-Identifier: MIT
"""Resource limits on the Lambda path, against public clients that flood one tunnel.

- ttf's memory: the Lambda posts a whole request body (up to 4 MiB) at once, with no windows. A
  local service that reads none of many uploads used to make ttf hold each body whole (about
  +100 MB of RSS for 28 of them); ttf now holds about 24 MiB of request bodies over all of its
  exchanges and fails the stalest beyond (504 `timeout` to its client), without ever pausing the
  link: the tunnel's other requests are answered meanwhile (agent/hold.h HOLD_AGENT).
- Requests waiting per agent connection: at most MAX_WAITING_PER_AGENT (infra/: half of
  MAX_WAITING_REQUESTS), so that one tunnel's flood cannot take every place of the HTTP function
  from the other tunnels; past it the Lambda answers as ttfd does past --max-streams-per-agent
  (503, Retry-After: 1, "tunnel agent busy: try again"), at once, without posting the request."""

import concurrent.futures
import time

import pytest

import awskit as ak
from conftest import Stack

UPLOADS = 28
BODY = 4 * 1024 * 1024 - 4096  # under the Lambda's MAX_BODY_BYTES (4 MiB)


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for %d" % (field, pid))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("caps"), env={"REQUEST_TIMEOUT_SECS": "10"})
    yield s
    assert s.close()["standin"] == 0


def test_stalled_uploads_hold_a_bounded_share_of_ttf_memory(site):
    assert site.tunnel.sub("GET", "/status/200").status == 200
    pid = site.agent.proc.pid
    base = status_kb(pid, "VmRSS")
    body = ak.pattern(BODY, seed=3)
    pool = concurrent.futures.ThreadPoolExecutor(UPLOADS)
    try:
        t0 = time.monotonic()
        futs = [pool.submit(site.tunnel.sub, "POST", "/sink", body=body, timeout=60)
                for _ in range(UPLOADS)]
        # the first uploads are failed once ttf holds too much of them: the link never stopped
        ak.wait_for(lambda: any("failed (504)" in line for line in site.agent.err), 40,
                    "ttf to fail a stalled upload")
        r = site.tunnel.sub("GET", "/status/200")
        assert r.status == 200, (r.status, r.body[:200])
        statuses = [f.result().status for f in futs]
        took = time.monotonic() - t0
    finally:
        pool.shutdown(wait=True)
    assert statuses == [504] * UPLOADS, statuses  # failed by ttf, or the Lambda's own timeout
    grew_mb = (status_kb(pid, "VmHWM") - base) / 1024
    print("%d stalled 4 MiB uploads through the Lambda: ttf peak RSS +%.1f MB (%.1f s)"
          % (UPLOADS, grew_mb, took))
    # (AddressSanitizer keeps freed memory in quarantine, 256 MB: RSS says nothing there)
    assert ak.SANITIZED or grew_mb < 64, "ttf's RSS grew by %.1f MB" % grew_mb


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("capped"),
              env={"MAX_WAITING_PER_AGENT": "2", "MAX_WAITING_REQUESTS": "10",
                   "REQUEST_TIMEOUT_SECS": "20"})
    yield s
    assert s.close()["standin"] == 0


def test_past_max_waiting_per_agent_a_503_at_once_and_other_agents_go_on(capped):
    b = capped.new_agent()
    try:
        other = ak.Tunnel(capped.standin, ak.tunnel_id(b.wait_established(30)))
        pool = concurrent.futures.ThreadPoolExecutor(2)
        try:
            slow = [pool.submit(capped.tunnel.sub, "GET", "/slow?ms=%d" % (6000 * ak.SLOW))
                    for _ in range(2)]
            ak.wait_for(lambda: sum(r[1].startswith("/slow") for r in capped.app.requests) >= 2,
                        20, "two requests waiting for the agent")
            for _ in range(2):
                t0 = time.monotonic()
                r = capped.tunnel.sub("GET", "/status/200")
                took = time.monotonic() - t0
                assert r.status == 503, (r.status, r.body[:200])
                assert r.get("Retry-After") == "1"
                assert r.body == b"tunnel agent busy: try again\n"
                assert took < 3 * ak.SLOW, "the refusal took %.1f s" % took
            assert not any(r[1].startswith("/status") for r in capped.app.requests)
            # another agent's tunnel is not refused meanwhile
            r = other.sub("GET", "/status/200")
            assert r.status == 200, (r.status, r.body[:200])
            assert [f.result().status for f in slow] == [200, 200]
        finally:
            pool.shutdown(wait=True)
        # their places are given back with their answers
        r = capped.tunnel.sub("GET", "/status/200")
        assert r.status == 200, (r.status, r.body[:200])
    finally:
        b.stop()
