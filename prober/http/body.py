"""Read a response body chunk by chunk, decompressing it ourselves, and stop past `max_body_bytes`.

Decompression is ours, never the client library's: we inflate with an explicit output bound per call, so a 1 GB
body or a gzip bomb costs at most `max_body_bytes` plus one chunk of memory, whatever the compression ratio.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import aiohttp

CHUNK_BYTES = 64 * 1024


class BodyTooLargeError(Exception):
    """The decompressed body passed the check's `max_body_bytes`."""

    status: int | None = None  # the answer's status, when the client knows it

    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than max_body_bytes ({limit} bytes after decompression)")


class BodyDecodingError(Exception):
    """The body claimed an encoding that it does not hold."""

    status: int | None = None  # the answer's status, when the client knows it


def _decompressor(encoding: str) -> zlib._Decompress | None:
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj(wbits=zlib.MAX_WBITS)
    return None


class BodyReader:
    """Collects one body from the chunks fed to it; raises BodyTooLargeError past `max_bytes` (decompressed).

    Raises BodyDecodingError for a corrupt gzip/deflate stream.
    """

    __slots__ = ("_body", "_encoding", "_inflater", "_max_bytes")

    def __init__(self, headers: Mapping[str, str], max_bytes: int) -> None:
        self._encoding = headers.get("Content-Encoding", "").strip().lower()
        self._inflater = _decompressor(self._encoding)
        self._max_bytes = max_bytes
        self._body = bytearray()
        length = headers.get("Content-Length", "")
        if self._inflater is None and length.isdigit() and int(length) > max_bytes:
            raise BodyTooLargeError(max_bytes)

    def feed(self, chunk: bytes) -> None:
        body, inflater = self._body, self._inflater
        if inflater is None:
            body += chunk
            if len(body) > self._max_bytes:
                raise BodyTooLargeError(self._max_bytes)
            return
        pending = chunk
        while pending:
            try:
                out = inflater.decompress(pending, self._max_bytes - len(body) + 1)
            except zlib.error as exc:
                raise BodyDecodingError(f"corrupt {self._encoding} body: {exc}") from None
            body += out
            if len(body) > self._max_bytes:
                raise BodyTooLargeError(self._max_bytes)
            pending = inflater.unconsumed_tail
            if not out and pending:  # no progress possible: the stream is stuck
                raise BodyDecodingError(f"corrupt {self._encoding} body")

    def body(self) -> bytes:
        return bytes(self._body)


async def read_body(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The decompressed body of an aiohttp response (`j.http`), at most `max_bytes` long.

    Raises BodyTooLargeError, BodyDecodingError, and aiohttp's errors for a broken transfer.
    """
    reader = BodyReader(response.headers, max_bytes)
    async for chunk in response.content.iter_chunked(CHUNK_BYTES):
        reader.feed(chunk)
    return reader.body()
