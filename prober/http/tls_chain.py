"""What a TLS session showed: its version, its cipher and the chain of certificates the server sent, leaf first.

Python 3.11's SSLObject has no public call for the chain; its `_sslobj.get_unverified_chain()` (3.10+, public
as `SSLObject.get_unverified_chain` from 3.13) gives every certificate the server sent, in the order it sent
them, which is what blackbox_exporter's `probe_ssl_earliest_cert_expiry` looks across.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Any

from cryptography import x509

from prober.result import Certificate, TlsOutcome

_ENCODING_DER = 2  # _ssl.ENCODING_DER, not exported by ssl


def tls_outcome(tls_object: ssl.SSLObject, client_cert_not_after: float | None = None) -> TlsOutcome:
    """The session of a completed handshake; the chain is empty when the server sent none (never raises)."""
    cipher = tls_object.cipher()
    return TlsOutcome(version=tls_object.version() or "", cipher=cipher[0] if cipher else "",
                      chain=tuple(describe(cert) for cert in sent_chain(tls_object)),
                      client_cert_not_after=client_cert_not_after)


def sent_chain(tls_object: ssl.SSLObject) -> list[x509.Certificate]:
    """Every certificate the server sent, leaf first, as cryptography objects."""
    inner: Any = getattr(tls_object, "get_unverified_chain", None) or getattr(
        getattr(tls_object, "_sslobj", None), "get_unverified_chain", None)
    raw: Sequence[Any] | None = inner() if inner is not None else None
    if raw:
        return [x509.load_der_x509_certificate(_der(cert)) for cert in raw]
    der = tls_object.getpeercert(binary_form=True)
    return [x509.load_der_x509_certificate(der)] if der else []


def describe(cert: x509.Certificate) -> Certificate:
    return Certificate(subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
                       not_before=cert.not_valid_before_utc.timestamp(),
                       not_after=cert.not_valid_after_utc.timestamp())


def _der(cert: Any) -> bytes:
    """DER bytes of an _ssl.Certificate (3.10+) or of bytes already."""
    if isinstance(cert, bytes):
        return cert
    data: bytes = cert.public_bytes(_ENCODING_DER)
    return data


def client_cert_not_after(cert_file: str | None) -> float | None:
    """The expiry of the client certificate in `cert_file` (the first one in it), or None without one."""
    if cert_file is None:
        return None
    with open(cert_file, "rb") as handle:
        data = handle.read()
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError:
        cert = x509.load_der_x509_certificate(data)
    return cert.not_valid_after_utc.timestamp()
