"""TLS: server certificate, optional client-certificate verification, and the public-address rule."""
from __future__ import annotations

import shutil
import ssl
import subprocess

import pytest

from session_harness import DICTS, Client, Gateway

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


def _openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ca",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    for name in ("server", "client"):
        ext = ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"] if name == "server" else []
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", *ext, cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-copy_extensions", "copy",
                 "-out", f"{name}.pem", cwd=d)
    return d


def config(pki, host="127.0.0.1", require=False) -> str:
    return f"""
state_dir: state
application: echo
listen:
  host: {host}
  port: 0
  tls: {{cert_file: {pki / 'server.pem'}, key_file: {pki / 'server.key'},
         client_ca_file: {pki / 'ca.pem'}, require_client_cert: {str(require).lower()}}}
session_defaults: {{begin_string: FIX.4.4, sender_comp_id: FIXGW, dictionary: {DICTS}}}
sessions:
  - {{target_comp_id: T1, role: echo}}
"""


def client_context(pki, with_cert: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    if with_cert:
        ctx.load_cert_chain(str(pki / "client.pem"), str(pki / "client.key"))
    return ctx


def test_tls_logon_and_plaintext_refused(tmp_path, pki):
    gw = Gateway(tmp_path, config(pki)).start()
    try:
        c = Client(gw.port, "T1", "FIXGW", ssl_context=client_context(pki, with_cert=False))
        assert c.logon()[35] == "A"
        plain = Client(gw.port, "T1", "FIXGW")       # not TLS: the handshake never completes
        plain.send("A", [(98, "0"), (108, "30")])
        assert plain.closed_within(5)
        c.send("1", [(112, "tls")])
        assert c.recv()[112] == "tls"
    finally:
        gw.kill()


def test_required_client_certificate_allows_public_address(tmp_path, pki):
    gw = Gateway(tmp_path, config(pki, host="0.0.0.0", require=True)).start()
    try:
        try:   # TLS 1.3 reports the missing certificate after the handshake: no Logon reply
            c = Client(gw.port, "T1", "FIXGW", ssl_context=client_context(pki, with_cert=False))
            assert c.logon() is None
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            pass
        c = Client(gw.port, "T1", "FIXGW", ssl_context=client_context(pki, with_cert=True))
        assert c.logon()[35] == "A"
    finally:
        gw.kill()
