"""Test TLS material made with `cryptography`: a CA, and good, expired, expiring and self-signed leaves."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Certs:
    ca_cert: Path
    good: tuple[Path, Path]  # (cert, key), signed by the CA, valid 90 days
    expired: tuple[Path, Path]  # signed by the CA, expired 2 days ago
    soon: tuple[Path, Path]  # signed by the CA, expires in 3 days
    selfsigned: tuple[Path, Path]  # valid, but signed by nobody we trust


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _leaf(directory: Path, stem: str, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
          not_before: dt.datetime, not_after: dt.datetime) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_name, issuer_key = issuer or (_name("localhost"), key)
    cert = (
        x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(issuer_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .sign(issuer_key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, key_path)
    return cert_path, key_path


def make_certs(directory: Path) -> Certs:
    now = dt.datetime.now(dt.UTC)
    day = dt.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("prober test CA")
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - day).not_valid_after(now + 365 * day)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    issuer = (ca_name, ca_key)
    return Certs(
        ca_cert=ca_path,
        good=_leaf(directory, "good", issuer, now - day, now + 90 * day),
        expired=_leaf(directory, "expired", issuer, now - 30 * day, now - 2 * day),
        soon=_leaf(directory, "soon", issuer, now - day, now + 3 * day),
        selfsigned=_leaf(directory, "selfsigned", None, now - day, now + 90 * day),
    )
