"""The demo's TLS identity: a self-signed certificate for localhost/127.0.0.1/::1, made at start-up, 90 days valid.

Nothing is kept on disk: `ssl` loads a key only from a path, so on Linux the key and certificate go to anonymous
in-memory files (memfd, read through /proc/self/fd: fine on a read-only root filesystem) closed once loaded;
elsewhere to a private temporary folder removed once loaded. Self-signed means not trusted:
a `type: tls` check of the demo sets `tls: {insecure: true}` and still reports the expiry and TLS version.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_VALID_DAYS = 90
CLOCK_SKEW_S = 300  # valid from a little before now: a client whose clock is a bit behind still accepts it
HOSTNAME = "localhost"
ADDRESSES = ("127.0.0.1", "::1")
_PROC_FDS = "/proc/self/fd"


def self_signed_certificate(
    key: ec.EllipticCurvePrivateKey, now: datetime.datetime | None = None
) -> x509.Certificate:
    """A certificate for HOSTNAME and ADDRESSES signed by its own `key`, valid CERT_VALID_DAYS from `now`."""
    now = now or datetime.datetime.now(datetime.UTC)
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, HOSTNAME),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "prober demo shop"),
    ])
    alt_names: list[x509.GeneralName] = [x509.DNSName(HOSTNAME)]
    alt_names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ADDRESSES]
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=CLOCK_SKEW_S))
        .not_valid_after(now + datetime.timedelta(days=CERT_VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def self_signed_context() -> ssl.SSLContext:
    """A server context (TLS 1.2 or newer) holding a fresh key and its self-signed certificate.

    Raises OSError only when neither an in-memory file nor a temporary folder can be made.
    """
    key = ec.generate_private_key(ec.SECP256R1())  # P-256: made in a millisecond, unlike an RSA key
    cert_pem = self_signed_certificate(key).public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if hasattr(os, "memfd_create") and Path(_PROC_FDS).is_dir():
        _load_from_memory(context, cert_pem, key_pem)
    else:
        _load_from_temporary_folder(context, cert_pem, key_pem)
    return context


def _load_from_memory(context: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    # Linux: anonymous in-memory files, readable by path under /proc; works on a read-only root filesystem
    cert_fd, key_fd = os.memfd_create("demo-cert.pem"), os.memfd_create("demo-key.pem")
    try:
        os.write(cert_fd, cert_pem)
        os.write(key_fd, key_pem)
        context.load_cert_chain(f"{_PROC_FDS}/{cert_fd}", f"{_PROC_FDS}/{key_fd}")
    finally:
        os.close(cert_fd)
        os.close(key_fd)


def _load_from_temporary_folder(context: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="prober-demo-tls-") as folder:  # mode 0700: the key stays private
        cert_path, key_path = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_path.write_bytes(cert_pem)
        key_path.write_bytes(key_pem)
        context.load_cert_chain(cert_path, key_path)
