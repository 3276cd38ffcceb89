# SPDX-License-Identifier: MIT
"""TLS mistakes a new user makes get a reason that names the file and what to do: ttfd with a
missing file or a key given as the certificate; ttf with wss:// against a plain port (use ws://)
and against a self-signed server (--ca-file or --insecure). The reasons come from OpenSSL's
error codes (lib/tls.c, agent/ws_client.c), never from its message texts."""

import pytest

import pki
import tunnelkit as tk


@pytest.fixture(scope="module")
def selfsigned(tmp_path_factory):
    d = tmp_path_factory.mktemp("selfsigned")
    return [str(p) for p in pki.make_self_signed(d, "self", ["localhost"], ["127.0.0.1"])]


def ttfd_fails(*args):
    p = tk.run([tk.TTFD_BIN, "--listen", "127.0.0.1:0", "--state", ":memory:"] + list(args))
    assert p.returncode == 2, (p.returncode, p.stderr)
    return p.stderr


def test_ttfd_names_a_missing_file():
    err = ttfd_fails("--tls-cert", "/nonexist", "--tls-key", "/nonexist")
    assert "cannot open the certificate file /nonexist: No such file or directory" in err, err


def test_ttfd_names_a_key_given_as_certificate(selfsigned):
    cert, key = selfsigned
    err = ttfd_fails("--tls-cert", key, "--tls-key", key)
    assert "the certificate file %s is not a PEM certificate" % key in err, err
    err = ttfd_fails("--tls-cert", cert, "--tls-key", cert)
    assert "the private key file %s is not a PEM private key" % cert in err, err


def test_ttf_wss_to_a_plain_port_says_use_ws(stack):
    srv = stack.local()
    d = stack.ttfd()
    a = stack.ttf("wss://127.0.0.1:%d" % d.port, srv.port, wait=False, expect_rc=None)
    a.proc.wait_line(r"TLS handshake with 127\.0\.0\.1 failed: .*the server does not speak TLS on "
                     r"this port: use a ws:// endpoint", 15, stream="err", allow_exit=True)


def test_ttf_self_signed_server_mentions_ca_file_and_insecure(stack, selfsigned):
    srv = stack.local()
    d = stack.ttfd("--tls-cert", selfsigned[0], "--tls-key", selfsigned[1])
    a = stack.ttf("wss://127.0.0.1:%d" % d.port, srv.port, wait=False, expect_rc=1)
    m, _ = a.proc.wait_line(r"TLS certificate verification failed for 127\.0\.0\.1: .*", 15,
                            stream="err", allow_exit=True)
    assert "--ca-file" in m.group(0) and "--insecure" in m.group(0), m.group(0)
    assert a.proc.wait_exit(15) == 1, a.proc.describe()


def test_ttfd_names_a_directory_and_an_encrypted_key(tmp_path, selfsigned):
    cert, key = selfsigned
    err = ttfd_fails("--tls-cert", str(tmp_path), "--tls-key", key)
    assert "the certificate file %s is a directory" % tmp_path in err, err
    enc = tmp_path / "enc.pem"
    p = tk.run(["openssl", "pkey", "-in", key, "-aes256", "-passout", "pass:secret", "-out",
                str(enc)])
    assert p.returncode == 0, p.stderr
    err = ttfd_fails("--tls-cert", cert, "--tls-key", str(enc))
    assert ("the private key file %s is encrypted with a passphrase, which ttfd cannot ask for"
            % enc) in err, err
    assert "pass phrase" not in err, err  # no prompt (a service has no terminal to answer it)
