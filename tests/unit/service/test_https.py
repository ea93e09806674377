"""HTTPS on the service's port (127.0.0.1): a self-signed certificate made here, plain HTTP refused, silent TLS
clients costing nobody else and closed at the timeout, a rotated certificate served without a restart, files that
do not load, and the config fields that turn it on."""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client import CollectorRegistry

from forecastscale.config import parse_config
from forecastscale.errors import ConfigError
from forecastscale.service.http import HttpServer
from forecastscale.service.tls import CHECK_EVERY_S
from tests.unit.service.test_http import CLOSE_BOUND_S, THREADS, TIMEOUT_S, closed_by_peer, get, http_threads


def write_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 with common name ``name``: (tls.crt, tls.key), each file replaced
    whole (a new inode, as when Kubernetes swaps a Secret's files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    files = {"tls.crt": cert.public_bytes(serialization.Encoding.PEM),
             "tls.key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())}
    for file, data in files.items():
        (directory / f".{file}.new").write_bytes(data)
        os.replace(directory / f".{file}.new", directory / file)
    return directory / "tls.crt", directory / "tls.key"


def served_soon(port: int, name: str, within_s: float = 10 * CHECK_EVERY_S) -> bool:
    """Whether the server presents the certificate named ``name`` within ``within_s``."""
    deadline = time.monotonic() + within_s
    while served_name(port) != name:
        if time.monotonic() > deadline:
            return False
        time.sleep(CHECK_EVERY_S / 4)
    return True


def served_name(port: int) -> str:
    """The common name of the certificate the server presents now."""
    pem = ssl.get_server_certificate(("127.0.0.1", port), timeout=10)
    cert = x509.load_pem_x509_certificate(pem.encode())
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[HttpServer]:
    cert, key = write_certificate(tmp_path, "first")
    srv = HttpServer("127.0.0.1", 0, CollectorRegistry(), lambda: {"ok": True}, threads=THREADS,
                     timeout_s=TIMEOUT_S, tls_cert_file=cert, tls_key_file=key).start()
    yield srv
    srv.stop()


def test_https_serves_healthz_and_plain_http_gets_nothing(tls_server: HttpServer, tmp_path: Path) -> None:
    trusted = ssl.create_default_context(cafile=tmp_path / "tls.crt")
    assert tls_server.scheme == "https"
    assert get(f"https://127.0.0.1:{tls_server.port}/healthz", trusted) == (200, b'{"status": "alive"}')
    with pytest.raises((OSError, http.client.HTTPException)):
        get(f"http://127.0.0.1:{tls_server.port}/healthz")


def test_silent_tls_clients_do_not_block_the_handshake_of_others(tls_server: HttpServer, tmp_path: Path) -> None:
    trusted = ssl.create_default_context(cafile=tmp_path / "tls.crt")
    silent = [socket.create_connection(("127.0.0.1", tls_server.port), timeout=5) for _ in range(50)]
    try:
        started = time.monotonic()
        assert get(f"https://127.0.0.1:{tls_server.port}/healthz", trusted)[0] == 200
        assert time.monotonic() - started < 5 * TIMEOUT_S  # not behind the silent ones' handshakes
        assert len(http_threads(tls_server.port)) <= THREADS + 1
        deadline = time.monotonic() + CLOSE_BOUND_S
        assert all(closed_by_peer(conn, deadline) for conn in silent)  # handshake not begun: closed at the timeout
    finally:
        for conn in silent:
            conn.close()


def test_a_rotated_certificate_is_served_and_a_broken_rotation_keeps_the_old_one(
        tls_server: HttpServer, tmp_path: Path) -> None:
    assert served_name(tls_server.port) == "first"
    write_certificate(tmp_path, "second")
    assert served_soon(tls_server.port, "second")  # the files are checked every CHECK_EVERY_S
    (tmp_path / "tls.key").write_bytes(b"not a key")  # a half-written rotation
    time.sleep(3 * CHECK_EVERY_S)  # checked, and not loaded
    assert served_name(tls_server.port) == "second"
    trusted = ssl.create_default_context(cafile=tmp_path / "tls.crt")  # and handshakes still complete with it
    assert get(f"https://127.0.0.1:{tls_server.port}/healthz", trusted)[0] == 200
    write_certificate(tmp_path, "third")
    assert served_soon(tls_server.port, "third")
    assert get(f"https://127.0.0.1:{tls_server.port}/healthz",
               ssl.create_default_context(cafile=tmp_path / "tls.crt"))[0] == 200


def test_tls_needs_both_files_that_load(tmp_path: Path) -> None:
    cert, key = write_certificate(tmp_path, "x")
    with pytest.raises(ConfigError, match="set both or neither"):
        HttpServer("127.0.0.1", 0, CollectorRegistry(), dict, tls_cert_file=cert)
    with pytest.raises(ConfigError, match=r"tls_cert_file, tls_key_file: cannot load certificate .*missing\.crt"):
        HttpServer("127.0.0.1", 0, CollectorRegistry(), dict, tls_cert_file=tmp_path / "missing.crt",
                   tls_key_file=key)


def test_the_config_resolves_the_tls_files_against_its_directory_and_wants_both(tmp_path: Path) -> None:
    base = {"targets": [{"name": "chat", "workload": {"capacity_per_replica": 1}, "scaling": {"max_replicas": 9}}],
            "node_pools": [{"name": "p", "gpus_per_node": 8, "max_nodes": 2}]}
    tls = {"tls_cert_file": "tls/tls.crt", "tls_key_file": "/etc/forecastscale/tls/tls.key"}
    service = parse_config({**base, "service": tls}, "c.yaml", tmp_path).service
    assert (service.tls_cert_file, service.tls_key_file) == (tmp_path / "tls/tls.crt",
                                                             Path("/etc/forecastscale/tls/tls.key"))
    assert (service.http_threads, service.http_timeout_s) == (8, 10)
    with pytest.raises(ConfigError, match="service: tls_cert_file and tls_key_file: set both or neither, got only "
                                          "tls_key_file"):
        parse_config({**base, "service": {"tls_key_file": "k"}})
    with pytest.raises(ConfigError, match=r"service.http_threads: must be >= 1, got 0"):
        parse_config({**base, "service": {"http_threads": 0}})
