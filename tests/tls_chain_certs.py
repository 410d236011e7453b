"""Test certificate chains made with `cryptography`: a root CA, intermediates and leaves, good and bad in each way.

Every chain file holds what a server sends, leaf first then its intermediate; the roots are what a client trusts.
The good chain's intermediate expires before its leaf, so "the earliest expiry of the chain" is not the leaf's.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DAY = dt.timedelta(days=1)
GOOD_LEAF_DAYS = 60
GOOD_INTERMEDIATE_DAYS = 30  # sooner than its leaf
EXPIRED_INTERMEDIATE_DAYS_AGO = 3
FUTURE_LEAF_DAYS_AHEAD = 2
CLIENT_DAYS = 20


@dataclass(frozen=True)
class Issuer:
    name: x509.Name
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


@dataclass(frozen=True)
class ChainCerts:
    root_ca: Path  # trusts every chain below but `untrusted`
    good: tuple[Path, Path]  # (chain file, key): leaf valid 60 days under an intermediate valid 30 days
    expired_intermediate: tuple[Path, Path]  # a valid leaf under an intermediate that expired 3 days ago
    future_leaf: tuple[Path, Path]  # a leaf valid only from 2 days from now, under the good intermediate
    untrusted: tuple[Path, Path]  # a valid chain under a root nobody here trusts
    client: tuple[Path, Path]  # (cert, key): a client certificate signed by the root, valid 20 days
    good_leaf_not_after: float
    good_intermediate_not_after: float
    expired_intermediate_not_after: float
    client_not_after: float


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _root(common_name: str, now: dt.datetime) -> Issuer:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - 400 * DAY)
        .not_valid_after(now + 3650 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issuer(name, key, cert)


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                         encipher_only=False, decipher_only=False)


def _signed(issuer: Issuer, subject: x509.Name, key: ec.EllipticCurvePrivateKey, not_before: dt.datetime,
            not_after: dt.datetime) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder().subject_name(subject).issuer_name(issuer.name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    )


def _intermediate(root: Issuer, not_before: dt.datetime, not_after: dt.datetime) -> Issuer:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("Test Intermediate")
    cert = (
        _signed(root, name, key, not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .sign(root.key, hashes.SHA256())
    )
    return Issuer(name, key, cert)


def _leaf(issuer: Issuer, not_before: dt.datetime, not_after: dt.datetime,
          key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
             x509.IPAddress(ipaddress.ip_address("::1"))]
    return (
        _signed(issuer, _name("localhost"), key, not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(issuer.key, hashes.SHA256())
    )


def _chain(directory: Path, stem: str, issuer: Issuer, not_before: dt.datetime,
           not_after: dt.datetime) -> tuple[Path, Path]:
    """A leaf for localhost signed by `issuer`, written with `issuer`'s certificate after it, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _leaf(issuer, not_before, not_after, key)
    chain_path, key_path = directory / f"{stem}-chain.pem", directory / f"{stem}.key"
    chain_path.write_bytes(_pem(leaf) + _pem(issuer.cert))
    _write_key(key, key_path)
    return chain_path, key_path


def _client(directory: Path, root: Issuer, not_before: dt.datetime, not_after: dt.datetime) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _signed(root, _name("prober test client"), key, not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(root.key, hashes.SHA256())
    )
    cert_path, key_path = directory / "client.pem", directory / "client.key"
    cert_path.write_bytes(_pem(cert))
    _write_key(key, key_path)
    return cert_path, key_path


def make_chain_certs(directory: Path) -> ChainCerts:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    root, stranger = _root("Test Root CA", now), _root("Untrusted Root CA", now)
    good_intermediate = _intermediate(root, now - 10 * DAY, now + GOOD_INTERMEDIATE_DAYS * DAY)
    expired_intermediate = _intermediate(root, now - 400 * DAY, now - EXPIRED_INTERMEDIATE_DAYS_AGO * DAY)
    stranger_intermediate = _intermediate(stranger, now - 10 * DAY, now + 300 * DAY)
    root_path = directory / "root-ca.pem"
    root_path.write_bytes(_pem(root.cert))
    leaf_not_after = now + GOOD_LEAF_DAYS * DAY
    return ChainCerts(
        root_ca=root_path,
        good=_chain(directory, "good", good_intermediate, now - DAY, leaf_not_after),
        expired_intermediate=_chain(directory, "expired-intermediate", expired_intermediate, now - DAY,
                                    leaf_not_after),
        future_leaf=_chain(directory, "future-leaf", good_intermediate, now + FUTURE_LEAF_DAYS_AHEAD * DAY,
                           leaf_not_after),
        untrusted=_chain(directory, "untrusted", stranger_intermediate, now - DAY, leaf_not_after),
        client=_client(directory, root, now - DAY, now + CLIENT_DAYS * DAY),
        good_leaf_not_after=leaf_not_after.timestamp(),
        good_intermediate_not_after=(now + GOOD_INTERMEDIATE_DAYS * DAY).timestamp(),
        expired_intermediate_not_after=(now - EXPIRED_INTERMEDIATE_DAYS_AGO * DAY).timestamp(),
        client_not_after=(now + CLIENT_DAYS * DAY).timestamp(),
    )
