"""Read a response body in chunks, decompressing it ourselves, and stop past `max_body_bytes`.

aiohttp's own decompression is off: we inflate with an explicit output bound per call, so a 1 GB body or a
gzip bomb costs at most `max_body_bytes` plus one chunk of memory, whatever the compression ratio.
"""

from __future__ import annotations

import zlib

import aiohttp

CHUNK_BYTES = 64 * 1024


class BodyTooLargeError(Exception):
    """The decompressed body passed the check's `max_body_bytes`."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than max_body_bytes ({limit} bytes after decompression)")


class BodyDecodingError(Exception):
    """The body claimed an encoding that it does not hold."""


def _decompressor(encoding: str) -> zlib._Decompress | None:
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj(wbits=zlib.MAX_WBITS)
    return None


async def read_body(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The decompressed body, at most `max_bytes` long; raise BodyTooLargeError past it.

    Raises BodyDecodingError for a corrupt gzip/deflate stream, and aiohttp's errors for a broken transfer.
    """
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    inflater = _decompressor(encoding)
    if inflater is None and response.content_length is not None and response.content_length > max_bytes:
        raise BodyTooLargeError(max_bytes)
    body = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK_BYTES):
        if inflater is None:
            body += chunk
            if len(body) > max_bytes:
                raise BodyTooLargeError(max_bytes)
            continue
        pending = chunk
        while pending:
            try:
                out = inflater.decompress(pending, max_bytes - len(body) + 1)
            except zlib.error as exc:
                raise BodyDecodingError(f"corrupt {encoding} body: {exc}") from None
            body += out
            if len(body) > max_bytes:
                raise BodyTooLargeError(max_bytes)
            pending = inflater.unconsumed_tail
            if not out and pending:  # no progress possible: the stream is stuck
                raise BodyDecodingError(f"corrupt {encoding} body")
    return bytes(body)
