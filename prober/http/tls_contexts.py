"""TLS client contexts for probers, built once per config load and shared by checks with the same `tls:`.

Loading the system's CA store costs tens of milliseconds (far more on a small VM); one context per distinct
`tls:` block keeps start-up and reload fast with thousands of checks, and a reload re-reads CA files.
"""

from __future__ import annotations

import ssl

from prober.config.check_base import ClientTls
from prober.http.timing import TimedSSLContext


def build_ssl_context(tls: ClientTls) -> ssl.SSLContext:
    """A verifying client context (unless `insecure`), trusting `ca_file` or the system store."""
    ctx = TimedSSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if tls.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif tls.ca_file:
        ctx.load_verify_locations(cafile=tls.ca_file)
    else:
        ctx.load_default_certs()
    if tls.cert_file:
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
    return ctx


class TlsContexts:
    """The contexts of one config load, keyed by the `tls:` block that made them."""

    def __init__(self) -> None:
        self._contexts: dict[ClientTls, ssl.SSLContext] = {}

    def get(self, tls: ClientTls) -> ssl.SSLContext:
        context = self._contexts.get(tls)
        if context is None:
            context = self._contexts[tls] = build_ssl_context(tls)
        return context
