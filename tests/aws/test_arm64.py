# SPDX-License-Identifier: MIT
"""The arm64 Lambda (make lambda ARCH=arm64 -> build/lambda/bootstrap-arm64.zip), run under
qemu-user-static against the stand-in for a whole request: $connect, ready, one public request
answered. The zip is unpacked in <root>/var/task and qemu's -L <root> makes the program's absolute
interpreter and RPATH (/var/task/lib) resolve there, as Lambda's /var/task does.
"""

import os
import shutil
import struct

import awskit as ak
from conftest import Stack
from test_packaging import unpack

ZIP = os.environ.get("LAMBDA_ZIP_ARM64", os.path.join(ak.REPO, "build-arm64", "lambda", "bootstrap-arm64.zip"))
EM_AARCH64 = 183


def test_arm64_bootstrap_serves_a_request_under_qemu(tmp_path):
    assert os.path.exists(ZIP), "%s missing: make lambda ARCH=arm64 builds it" % ZIP
    qemu = shutil.which("qemu-aarch64-static")
    assert qemu, "qemu-aarch64-static missing: scripts/deps.sh arm64 installs qemu-user-static"
    root = tmp_path / "root"
    task = root / "var" / "task"
    task.mkdir(parents=True)
    names = unpack(ZIP, task)
    assert "bootstrap" in names and "lib/ld-linux-aarch64.so.1" in names, names
    with open(task / "bootstrap", "rb") as f:
        head = f.read(20)
    assert head[:4] == b"\x7fELF" and struct.unpack_from("<H", head, 18)[0] == EM_AARCH64, "not an arm64 program"
    assert os.path.getsize(ZIP) < 4 * 1000 * 1000, os.path.getsize(ZIP)
    s = Stack(tmp_path / "stack", lambda_cmd=[qemu, "-L", str(root), str(task / "bootstrap")],
              env={"LAMBDA_TASK_ROOT": "/var/task"}, args=["--function-timeout-ms", "60000"])
    try:
        r = s.tunnel.sub("POST", "/upload", headers=[("Content-Type", "application/octet-stream")],
                         body=ak.pattern(20000))
        assert r.status == 200 and r.json()["sha256"] == ak.sha(ak.pattern(20000)), r.body[:200]
        st = s.standin.stats()
        assert st["lambda"]["cold_starts"] >= 1 and st["lambda"]["errors"] == 0, st["lambda"]
        assert st["sigv4"]["failed"] == 0 and st["sigv4"]["verified"] > 0
    finally:
        codes = s.close()
    assert codes == {"ttf": 0, "standin": 0}
