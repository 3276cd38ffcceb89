# SPDX-License-Identifier: MIT
"""100 MB download and upload through the binary-mode tunnel with ttfd and ttf each under
64 MB peak RSS (VmHWM), plus a slow reader (flow control must hold the sender back).
Under valgrind the transfers are 16 MB (100 MB would take too long); RSS limits are not asserted
under ASan or valgrind (shadow memory, the tool's own heap)."""

import hashlib
import http.client
import json
import time

import pytest

import tunnelkit as tk
from conftest import make_tunnel

N = (16 if tk.VALGRIND else 100) * tk.MB
LIMIT_KB = 64 * 1024


@pytest.fixture(scope="module")
def big(mstack):
    # Fresh processes: VmHWM is a lifetime peak.
    return make_tunnel(mstack)


def check_rss(t, what):
    peaks = {"ttfd": t.ttfd.proc.vmhwm_kb(), "ttf": t.ttf.proc.vmhwm_kb()}
    print("%s: peak RSS ttfd %.1f MB, ttf %.1f MB" % (what, peaks["ttfd"] / 1024, peaks["ttf"] / 1024))
    if tk.SANITIZED or tk.VALGRIND:
        return
    for name, kb in peaks.items():
        assert kb < LIMIT_KB, "%s peak RSS %.1f MB >= 64 MB after %s" % (name, kb / 1024, what)


def test_100mb_download(big):
    expected = tk.pattern_sha256(N)
    c = http.client.HTTPConnection("127.0.0.1", big.port, timeout=60 * tk.SLOW)
    t0 = time.monotonic()
    try:
        c.request("GET", "/download?n=%d" % N, headers={"Host": big.host})
        r = c.getresponse()
        assert r.status == 200
        h, n = hashlib.sha256(), 0
        while True:
            piece = r.read(tk.MB)
            if not piece:
                break
            h.update(piece)
            n += len(piece)
    finally:
        c.close()
    dt = time.monotonic() - t0
    print("%d MB download: %.2f s (%.0f MB/s)" % (N // tk.MB, dt, N / tk.MB / dt))
    assert n == N and h.hexdigest() == expected
    check_rss(big, "100 MB download")


def test_100mb_upload(big):
    c = http.client.HTTPConnection("127.0.0.1", big.port, timeout=60 * tk.SLOW)
    t0 = time.monotonic()
    try:
        c.request("POST", "/upload", body=tk.pattern_chunks(N, 256 * 1024),
                  headers={"Host": big.host, "Content-Length": str(N),
                           "Content-Type": "application/octet-stream"})
        r = c.getresponse()
        data = r.read()
    finally:
        c.close()
    dt = time.monotonic() - t0
    print("%d MB upload: %.2f s (%.0f MB/s)" % (N // tk.MB, dt, N / tk.MB / dt))
    assert r.status == 200, data[:200]
    assert json.loads(data) == {"len": N, "sha256": tk.pattern_sha256(N)}
    check_rss(big, "100 MB upload")


def test_100mb_chunked_upload_in_path_mode(big):
    c = http.client.HTTPConnection("127.0.0.1", big.port, timeout=60 * tk.SLOW)
    try:
        c.request("POST", "/%s/upload" % big.id, body=tk.pattern_chunks(N, 256 * 1024),
                  headers={"Host": big.phost}, encode_chunked=True)
        r = c.getresponse()
        data = r.read()
    finally:
        c.close()
    assert r.status == 200, data[:200]
    assert json.loads(data) == {"len": N, "sha256": tk.pattern_sha256(N)}
    check_rss(big, "100 MB chunked upload")


def test_slow_local_consumer_is_flow_controlled(big):
    """The local service waits 3 s before reading a 100 MB upload: the public client must be
    held back by the windows instead of ttfd/ttf buffering the body."""
    c = http.client.HTTPConnection("127.0.0.1", big.port, timeout=60 * tk.SLOW)
    try:
        c.request("POST", "/upload?pause=3", body=tk.pattern_chunks(N, 256 * 1024),
                  headers={"Host": big.host, "Content-Length": str(N)})
        r = c.getresponse()
        data = r.read()
    finally:
        c.close()
    assert r.status == 200, data[:200]
    assert json.loads(data) == {"len": N, "sha256": tk.pattern_sha256(N)}
    check_rss(big, "100 MB upload to a slow consumer")


def test_slow_reader_is_flow_controlled(big):
    """The client stops reading a 100 MB download for a while: the local service must be held
    back by the windows instead of ttfd/ttf buffering the body."""
    c = tk.RawConn(big.port, timeout=60)
    try:
        c.send(tk.build_request("GET", "/download?n=%d&mode=chunked" % N, big.host))
        status, _, _, raw = c.read_head()
        assert status == 200, raw
        got = len(c.buf)
        while got < tk.MB:
            c._fill()
            got = len(c.buf)
        # Deliberate pause (the scenario, not a wait for a condition): the local server keeps
        # writing as fast as it can for 3 s while nobody reads.
        time.sleep(3)
        check_rss(big, "a stalled 100 MB download")
        h, n = hashlib.sha256(), 0
        while True:
            size = int(c.read_until(b"\r\n").split(b";")[0], 16)
            if size == 0:
                break
            piece = c.read_exact(size)
            h.update(piece)
            n += size
            c.read_exact(2)
        assert n == N and h.hexdigest() == tk.pattern_sha256(N)
    finally:
        c.close()
    check_rss(big, "slow reader")
