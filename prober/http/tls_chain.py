"""What a TLS session showed: its version, its cipher and the chain of certificates the server sent, leaf first.

Python 3.11's SSLObject has no public call for the chain; its `_sslobj.get_unverified_chain()` (3.10+, public
as `SSLObject.get_unverified_chain` from 3.13) gives every certificate the server sent, in the order it sent
them, which is what blackbox_exporter's `probe_ssl_earliest_cert_expiry` looks across. The chain stays readable
after a handshake that failed verification, so a run can still say which certificate was bad and report the chain.

The checks over a chain (validity dates, `cert_min_days`) name the certificate they fault, by its place in the chain
and its subject: "intermediate CN=Test Intermediate expired 3.0 days ago".
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Any

from cryptography import x509

from prober.result import Certificate, TlsOutcome

_ENCODING_DER = 2  # _ssl.ENCODING_DER, not exported by ssl
_X509_V_ERR_CERT_NOT_YET_VALID = 9  # OpenSSL's verify codes (ssl.SSLCertVerificationError.verify_code)
_X509_V_ERR_CERT_HAS_EXPIRED = 10
_SUBJECT_MAX_CHARS = 80


def tls_outcome(tls_object: ssl.SSLObject, client_cert_not_after: float | None = None) -> TlsOutcome:
    """The session of a handshake; the chain is empty when the server sent none, and the version and cipher are
    empty for a handshake that did not complete (never raises)."""
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
    try:
        der = tls_object.getpeercert(binary_form=True)
    except ValueError:  # "handshake not done yet": it failed before the server's certificate came
        return []
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


def certificate_label(chain: Sequence[Certificate], index: int) -> str:
    """'leaf CN=x', 'intermediate CN=y' or 'root CN=z' (a self-signed certificate past the leaf)."""
    cert = chain[index]
    role = "leaf" if index == 0 else "root" if cert.subject == cert.issuer else "intermediate"
    subject = cert.subject if len(cert.subject) <= _SUBJECT_MAX_CHARS else cert.subject[: _SUBJECT_MAX_CHARS - 1] + "…"
    return f"{role} {subject or '(no subject)'}"


def validity_problem(chain: Sequence[Certificate], now: float) -> str | None:
    """The first certificate of `chain` (leaf first) outside its validity period at `now` (unix time), described
    ("intermediate CN=X expired 3.0 days ago", "leaf CN=Y not valid until 2.0 days from now"), or None."""
    for index, cert in enumerate(chain):
        if now > cert.not_after:
            return f"{certificate_label(chain, index)} expired {_days(now - cert.not_after)} days ago"
        if now < cert.not_before:
            return f"{certificate_label(chain, index)} not valid until {_days(cert.not_before - now)} days from now"
    return None


def verification_failure(exc: ssl.SSLCertVerificationError, chain: Sequence[Certificate], now: float) -> str:
    """The detail of a handshake that failed verification: the certificate of the chain the server sent that is
    out of its dates, when there is one, and OpenSSL's verdict (which names no certificate) when it is another."""
    dates = validity_problem(chain, now)
    message = exc.verify_message or exc.reason or str(exc)
    if exc.verify_code in (_X509_V_ERR_CERT_NOT_YET_VALID, _X509_V_ERR_CERT_HAS_EXPIRED):
        # OpenSSL's path may end in a CA of the trust store, which the server did not send
        return dates or f"certificate verify failed: {message} (a CA certificate of the trust store)"
    verdict = f"certificate verify failed: {message}"
    return f"{dates}; {verdict}" if dates else verdict


def soonest_expiry_problem(chain: Sequence[Certificate], client_not_after: float | None, min_days: float | None,
                           now: float) -> str | None:
    """Fault the certificate of `chain` (or the client certificate) that expires soonest when it has less than
    `min_days` left ("intermediate CN=X expires in 5.0 days (cert_min_days: 14)"), else None."""
    if min_days is None:
        return None
    expiries = [(cert.not_after, certificate_label(chain, index)) for index, cert in enumerate(chain)]
    if client_not_after is not None:
        expiries.append((client_not_after, "client certificate"))
    if not expiries:
        return None
    not_after, label = min(expiries, key=lambda expiry: expiry[0])
    days_left = (not_after - now) / 86400
    if days_left >= min_days:
        return None
    when = f"expires in {days_left:.1f} days" if days_left >= 0 else f"expired {_days(now - not_after)} days ago"
    return f"{label} {when} (cert_min_days: {min_days:g})"


def _days(seconds: float) -> str:
    return f"{seconds / 86400:.1f}"


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
