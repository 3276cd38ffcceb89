# SPDX-License-Identifier: MIT
"""Crashes and restarts under load (issue 12, "Tests that stay"), in both wire modes.

Two tunnels (A and B, each a real ttf in front of its own markerapp.py) behind one ttfd, with
marked load on both (faultkit.Load: every answer must be the request's own, byte for byte):
  - ttf A is killed with SIGKILL: A's requests in flight fail cleanly (502, or the connection
    closed mid-body with only its own bytes), B does not notice; ttf A restarted with its state
    gets its URL back and A's traffic resumes;
  - A's local service is killed with SIGKILL and started again on its port: 502 with a short
    body meanwhile, then recovery; B does not notice;
  - ttfd is stopped (SIGTERM, and SIGKILL) and started again on its port and state: B's ttf
    reconnects by itself and gets its URL back (names in SQLite); A's ttf, killed meanwhile, is
    restarted and gets its URL back, and another agent asking for A's id first is given another
    one (ownership survives the restart); traffic resumes.
Afterwards ttfd's and the ttfs' open fds and RSS return to their baseline (taken after a warm-up
of the same load) within a deadline.
"""

import types

import pytest

import faultkit as fk
import rawagent as ra
import tunnelkit as tk

WORKERS = 4
# Statuses a client may see while a tunnel is down: 502 (the agent or the local service went
# away mid-request), 404 (no agent holds the name for a moment).
DOWN = (502, 404, "cut", "closed")


def tunnel(stack, d, tmp_path, name, mode):
    app = fk.MarkerApp(stack, name)
    home = tmp_path / ("agent-" + name)
    home.mkdir()
    env = {"XDG_STATE_HOME": str(home)}
    a = stack.ttf(d.endpoint(), app.port, *fk.mode_args(mode), *fk.TTF_ARGS, env=env)
    return types.SimpleNamespace(app=app, ttf=a, env=env, mode=mode,
                                 route=fk.Route.sub(d, a.tunnel_id))


def warm(*tunnels):
    loads = [fk.Load(t.route, workers=WORKERS, tag="warm%s" % i) for i, t in enumerate(tunnels)]
    for ld in loads:
        ld.start()
    try:
        for ld in loads:
            ld.wait_ok(40, 30)
    finally:
        for ld in loads:
            ld.stop()
    for ld in loads:
        ld.check(what="warm-up")


def first_failure_after(load, start, timeout):
    tk.wait_for(lambda: any(o.kind != "ok" for o in load.since(start)), timeout,
                "the fault to show in the load")


def recovered(load, what):
    """Traffic resumes: 20 exchanges ok, then 20 more in which nothing else happened."""
    load.wait_ok(20, 40, what=what + " (resuming)")
    clean = load.mark()
    load.wait_ok(20, 30, start=clean, what=what + " (after recovery)")
    return clean


@pytest.mark.parametrize("mode", fk.MODES)
def test_kill9_ttf_under_load(stack, tmp_path, mode):
    d = stack.ttfd("--state", str(tmp_path / "ttfd.db"))
    A, B = tunnel(stack, d, tmp_path, "a", mode), tunnel(stack, d, tmp_path, "b", mode)
    warm(A, B)
    fk.quiet(d.proc, A.ttf.proc, B.ttf.proc)
    base = fk.Baseline(ttfd=d.proc, ttf_b=B.ttf.proc)
    base_a = fk.Baseline(ttf_a=A.ttf.proc)
    url = A.ttf.url
    with fk.Load(A.route, WORKERS, tag="a") as la, fk.Load(B.route, WORKERS, tag="b") as lb:
        la.wait_ok(20, 30)
        kill_at = la.mark()
        A.ttf.proc.kill()
        stack.expect(A.ttf.proc, None)
        first_failure_after(la, kill_at, 15)
        a2 = stack.ttf(d.endpoint(), A.app.port, *fk.mode_args(mode), *fk.TTF_ARGS, env=A.env)
        # ttf remembers its id (and its key) across restarts: the same URL again
        assert a2.url == url, "ttf restarted with its state got another URL: %s -> %s" % (url,
                                                                                         a2.url)
        clean = recovered(la, "tunnel A after ttf's restart")
        lb.wait_ok(20, 30)
    faults = la.check(allow=DOWN, what="tunnel A")
    la.check(start=clean, what="tunnel A after recovery")
    lb.check(what="tunnel B (its neighbour's agent was killed)")
    assert sum(n for k, n in faults.items() if k != "ok") > 0, "the kill was never seen: %r" % faults
    fk.quiet(d.proc, a2.proc, B.ttf.proc)
    base.back(fd_slack=WORKERS, rss_slack_kb=fk.RSS_SLACK_CALM_KB, what="ttf A's kill -9 (%s)" % mode)
    # the new ttf A: the same fd count and RSS as the old one after the same load
    base_a.procs = {"ttf_a": a2.proc}
    base_a.back(fd_slack=WORKERS, rss_slack_kb=fk.RSS_SLACK_CALM_KB, what="ttf A's restart (%s)" % mode)


@pytest.mark.parametrize("mode", fk.MODES)
def test_kill9_local_service_under_load(stack, tmp_path, mode):
    d = stack.ttfd("--state", str(tmp_path / "ttfd.db"))
    A, B = tunnel(stack, d, tmp_path, "a", mode), tunnel(stack, d, tmp_path, "b", mode)
    warm(A, B)
    fk.quiet(d.proc, A.ttf.proc, B.ttf.proc)
    base = fk.Baseline(ttfd=d.proc, ttf_a=A.ttf.proc, ttf_b=B.ttf.proc)
    with fk.Load(A.route, WORKERS, tag="a") as la, fk.Load(B.route, WORKERS, tag="b") as lb:
        la.wait_ok(20, 30)
        kill_at = la.mark()
        A.app.kill()
        tk.wait_for(lambda: sum(1 for o in la.since(kill_at) if o.kind == "error") >= 10, 20,
                    "ten clean 502 answers while the local service is down")
        down = [o for o in la.since(kill_at) if o.kind == "error"]
        A.app.start()
        clean = recovered(la, "tunnel A after its local service came back")
        lb.wait_ok(20, 30)
    la.check(allow=(502, "cut", "closed"), what="tunnel A")
    la.check(start=clean, what="tunnel A after recovery")
    lb.check(what="tunnel B (its neighbour's local service was killed)")
    assert all(o.status == 502 and o.detail for o in down), down[:5]
    fk.quiet(d.proc, A.ttf.proc, B.ttf.proc)
    base.back(fd_slack=WORKERS, rss_slack_kb=fk.RSS_SLACK_CALM_KB, what="the local service's kill -9 (%s)" % mode)


@pytest.mark.parametrize("sig", ["TERM", "KILL"])
@pytest.mark.parametrize("mode", fk.MODES)
def test_ttfd_restart_under_load(stack, tmp_path, mode, sig):
    """ttfd stopped under load and started again on its port and --state. B's ttf reconnects by
    itself and keeps its URL. A's ttf is killed while ttfd is down: before it comes back, another
    agent asks ttfd for A's id and gets a new one (ttfd's state remembers who owns it: without
    it, the id would go to whoever asks first); A's ttf, restarted, gets its URL back."""
    state = tmp_path / "ttfd.db"
    d = stack.ttfd("--state", str(state))
    port = d.port
    A, B = tunnel(stack, d, tmp_path, "a", mode), tunnel(stack, d, tmp_path, "b", mode)
    urls = (A.ttf.url, B.ttf.url)
    warm(A, B)
    fk.quiet(d.proc, A.ttf.proc, B.ttf.proc)
    base = fk.Baseline(ttf_b=B.ttf.proc)
    base_d = fk.Baseline(ttfd=d.proc)
    with fk.Load(A.route, WORKERS, tag="a") as la, fk.Load(B.route, WORKERS, tag="b") as lb:
        la.wait_ok(20, 30)
        lb.wait_ok(20, 30)
        if sig == "TERM":
            rc = d.stop()
            assert rc == 0, "ttfd exited with %r after SIGTERM under load\n%s" % (
                rc, d.proc.describe())
        else:
            d.proc.kill()
            stack.expect(d.proc, None)
        A.ttf.proc.kill()
        stack.expect(A.ttf.proc, None)
        d2 = stack.ttfd("--state", str(state), listen="127.0.0.1:%d" % port)
        thief = ra.BinAgent(port) if mode == "binary" else ra.JsonAgent(port)
        try:
            est = thief.ready(tunnel_id=A.ttf.tunnel_id, agent_key="not-the-owner-" + mode)
            assert est["tunnel_id"] != A.ttf.tunnel_id, \
                "ttfd gave A's id to another agent after its restart: %r" % est
        finally:
            thief.close()
        a2 = stack.ttf(d2.endpoint(), A.app.port, *fk.mode_args(mode), *fk.TTF_ARGS, env=A.env)
        B.ttf.wait_established(30)
        assert (a2.url, B.ttf.url) == urls, "URLs changed across ttfd's restart"
        clean_a = recovered(la, "tunnel A after ttfd's restart")
        clean_b = recovered(lb, "tunnel B after ttfd's restart")
    for ld, clean, name in ((la, clean_a, "A"), (lb, clean_b, "B")):
        ld.check(allow=(502, 404, "cut", "closed"), what="tunnel " + name)
        ld.check(start=clean, what="tunnel %s after recovery" % name)
    fk.quiet(d2.proc, a2.proc, B.ttf.proc)
    base.back(fd_slack=WORKERS, rss_slack_kb=fk.RSS_SLACK_CALM_KB, what="ttfd's restart (SIG%s, %s)" % (sig, mode))
    base_d.procs = {"ttfd": d2.proc}
    base_d.back(fd_slack=2, rss_slack_kb=fk.RSS_SLACK_CALM_KB, what="ttfd's restart (SIG%s, %s)" % (sig, mode))
