# SPDX-License-Identifier: MIT
"""The deployment zip (build/lambda/bootstrap.zip) runs in an empty root, and an independent SigV4
check of requests the C code signed.

Packaging: unzip into an empty directory, chroot there (in a user namespace when not root) with LAMBDA_TASK_ROOT=/ and
nothing else (no libc, no DNS, no CA bundle), and serve real traffic against the stand-in.
SigV4: requests the Lambda sent (recorded by the stand-in with their Authorization and X-Amz-Date)
are recomputed by a separate Node process with the `aws4` npm package.
"""

import json
import os
import shutil
import stat
import struct
import subprocess
import zipfile

import awskit as ak
from conftest import Stack


def elf_interp(path):
    """The PT_INTERP of a 64-bit little-endian ELF file, or None (statically linked)."""
    with open(path, "rb") as f:
        head = f.read(64)
        assert head[:4] == b"\x7fELF" and head[4] == 2 and head[5] == 1, "not an ELF64 LE file"
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            p_type, _flags, p_offset, _va, _pa, p_filesz = struct.unpack("<IIQQQQ", f.read(40))
            if p_type == 3:
                f.seek(p_offset)
                return f.read(p_filesz).rstrip(b"\0").decode()
    return None


def unpack(zip_path, dest):
    with zipfile.ZipFile(zip_path) as z:
        for info in z.infolist():
            z.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o7777
            if mode:
                os.chmod(os.path.join(dest, info.filename), mode)
        return [i.filename for i in z.infolist()]


def require_zip():
    """The zip is built with every plain build (CMake deselects these tests where it cannot be
    built: sanitizer and fuzzing builds); missing here is a failure."""
    assert os.path.exists(ak.LAMBDA_ZIP), "no %s (make lambda builds it)" % ak.LAMBDA_ZIP


def test_zip_layout(tmp_path):
    require_zip()
    names = unpack(ak.LAMBDA_ZIP, tmp_path)
    assert "bootstrap" in names and "lib/ld-linux-x86-64.so.2" in names
    boot = tmp_path / "bootstrap"
    assert os.stat(boot).st_mode & stat.S_IXUSR, "bootstrap is not executable"
    # the program itself, run by the loader shipped beside it (Lambda unpacks the zip in /var/task)
    assert elf_interp(boot) == "/var/task/lib/ld-linux-x86-64.so.2"
    libs = sorted(n[4:] for n in names if n.startswith("lib/") and n != "lib/")
    # libcurl is linked in statically without its 26 dependencies (GnuTLS, Kerberos, LDAP, ...)
    assert not [l for l in libs if l.startswith(("libcurl", "libgnutls", "libkrb5", "libldap", "librtmp"))], libs
    assert len(libs) <= 12, libs
    size = os.path.getsize(ak.LAMBDA_ZIP)
    assert size < 4 * 1000 * 1000, size  # issue 15's target (Lambda's direct upload limit is 50 MB)
    print("bootstrap.zip: %d KiB, %d entries: %s" % (size // 1024, len(names), " ".join(libs)))


def test_zip_serves_in_an_empty_root(tmp_path):
    """The zip alone, unpacked in /var/task of an empty root (no libc, no DNS configuration, no CA
    bundle), serves real traffic."""
    require_zip()
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    # chroot needs CAP_SYS_CHROOT: as another user, take it in a user namespace of our own
    userns = [] if os.geteuid() == 0 else [shutil.which("unshare") or "/usr/bin/unshare", "--user",
                                           "--map-root-user"]
    root = tmp_path / "root"
    task = root / "var" / "task"
    task.mkdir(parents=True)
    unpack(ak.LAMBDA_ZIP, task)
    assert sorted(os.listdir(task)) == ["bootstrap", "lib"]
    s = Stack(tmp_path / "stack", lambda_cmd=userns + [chroot, str(root), "/var/task/bootstrap"],
              env={"LAMBDA_TASK_ROOT": "/var/task"})
    try:
        r = s.tunnel.sub("POST", "/upload", headers=[("Content-Type", "application/octet-stream")],
                         body=ak.pattern(50000))
        assert r.status == 200 and r.json()["sha256"] == ak.sha(ak.pattern(50000))
        port = s.standin.http_port
        assert ak.public(port, "GET", "/x", "zzzzzzzzzzzz.%s:%d" % (ak.DOMAIN, port)).status == 404
        st = s.standin.stats()
        assert st["lambda"]["cold_starts"] >= 1 and st["lambda"]["errors"] == 0, st["lambda"]
    finally:
        codes = s.close()
    assert codes == {"ttf": 0, "standin": 0}


def test_sigv4_recorded_requests_cross_checked_with_aws4(stack):
    """One DynamoDB call and one @connections call the C code signed, recomputed by aws4."""
    r = stack.tunnel.sub("GET", "/status/200")  # makes both kinds of call
    assert r.status == 200
    recent = stack.standin.sigv4_recent()
    creds = stack.standin.info["credentials"]
    picked = {}
    for req in recent:
        auth = req["headers"].get("authorization", "")
        svc = "dynamodb" if "/dynamodb/" in auth else ("execute-api" if "/execute-api/" in auth else None)
        if svc and svc not in picked:
            picked[svc] = req
    assert set(picked) == {"dynamodb", "execute-api"}, [q["path"] for q in recent]
    for svc, req in picked.items():
        assert "x-amz-date" in req["headers"] and req["headers"].get("x-amz-security-token") == creds["sessionToken"]
        out = subprocess.run([ak.NODE, os.path.join(ak.HERE, "standin", "sigv4_check.js")],
                             input=json.dumps({"request": req, "credentials": creds}).encode(),
                             capture_output=True, timeout=30, check=True)
        res = json.loads(out.stdout)
        assert res["service"] == svc
        assert res["ok"], "%s %s: %s (expected %s, got %s)" % (svc, req["path"], res["reason"], res["expected"],
                                                              res["got"])
