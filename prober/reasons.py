"""classify(exc) -> Reason: the one place where an exception raised by a probe becomes a bounded reason."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl

import aiohttp
from aiohttp import http_exceptions

from prober.http.client import ConnectFailedError, ProtocolError, TooManyRedirectsError
from prober.result import Reason


def classify(exc: BaseException) -> Reason:
    """Map an exception seen while probing to the reason it stands for; unknown ones are `internal`."""
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return Reason.TIMEOUT
    if isinstance(exc, aiohttp.TooManyRedirects | TooManyRedirectsError):
        return Reason.TOO_MANY_REDIRECTS
    if isinstance(exc, aiohttp.ClientConnectorDNSError | socket.gaierror):
        return Reason.DNS
    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, socket.gaierror):
        return Reason.DNS
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return Reason.TLS
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ClientProxyConnectionError | ConnectFailedError):
        return Reason.CONNECT
    if isinstance(
        exc,
        aiohttp.ServerDisconnectedError
        | aiohttp.ClientPayloadError
        | aiohttp.ClientResponseError
        | aiohttp.ClientOSError
        | http_exceptions.HttpProcessingError
        | aiohttp.InvalidURL
        | ProtocolError
        | ConnectionError
        | UnicodeError,
    ):
        return Reason.PROTOCOL
    return Reason.INTERNAL


_URL_RE = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"]+", re.IGNORECASE)


def strip_urls(text: str) -> str:
    """`text` with every URL replaced by `<url>` (a URL may carry a secret in its query)."""
    return _URL_RE.sub("<url>", text)


def describe(exc: BaseException) -> str:
    """A short description of `exc` for the run's detail (a log field, never a label).

    URLs are cut out: a query string may carry a secret from `${VAR}`.
    """
    if isinstance(exc, aiohttp.ClientResponseError):
        text = f"{exc.status} {exc.message}".strip()
    else:
        text = strip_urls(str(exc)).strip()
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__
