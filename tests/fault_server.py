"""A misbehaving HTTP server for tests, run as its own process: one path per way a target can fail.

`python -m tests.fault_server --port-file F [--tls-cert C --tls-key K]` binds 127.0.0.1 on a free port, writes
the port to F and serves until SIGTERM. Raw asyncio streams, so it can send exactly the bytes a fault needs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import ssl
import struct
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

from tests.server_process import start_reporting_port, stop_by_pid

CHUNK = 64 * 1024
PAGES = {
    # the load event never fires: an image that never answers
    "never-loads": '<html><body><h1 id="t">loading</h1><img src="/hang"></body></html>',
    # an uncaught exception and a console error, and an image whose server refuses (a failed request)
    "throws": '<html><body><h1 id="t">throws</h1><img src="http://127.0.0.1:9/x.png">'
              '<script>console.error("console says no"); throw new Error("page exploded")</script></body></html>',
    # a block pushed down 100 ms after the first paint (a shift before it would not count): a layout shift
    # with no input; body[data-shifted] says it happened
    "shift": '<html><body style="margin:0"><div id="top"></div><p id="t" style="font-size:40px">shifting text '
             'that is large enough to count</p><script>new PerformanceObserver((list, observer) => { '
             'observer.disconnect(); setTimeout(() => { document.getElementById("top").style.height = "300px"; '
             'document.body.dataset.shifted = "1"; }, 100); }).observe({type: "paint", buffered: true});'
             '</script></body></html>',
}
RAW = {  # answers sent byte for byte, then the connection closes
    "chunked-ext": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n prober\r\n"
                   b"0\r\nX-Trailer: t\r\n\r\n",
    "early-hints": b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                   b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello prober",
    "bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 12\n\nhello prober",
    "until-close": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello prober",
    "truncated": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello",
    "truncated-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\nhello",
    "bad-chunk-size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\nhello\r\n0\r\n\r\n",
    "two-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "bad-header": b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 2\r\n\r\nok",
    "huge-head": b"HTTP/1.1 200 OK\r\n" + b"X-Filler: " + b"x" * 70000 + b"\r\n\r\n",
}
hits: Counter[str] = Counter()
periods: dict[str, int] = {}


async def respond(writer: asyncio.StreamWriter, status: int, body: bytes = b"", content_type: str = "text/plain",
                  headers: dict[str, str] | None = None) -> None:
    head = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}", f"Content-Length: {len(body)}",
            "Connection: close", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    await writer.drain()


async def stream(writer: asyncio.StreamWriter, total: int, chunked: bool, gzip: bool) -> None:
    head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n"
    head += "Transfer-Encoding: chunked\r\n" if chunked or gzip else f"Content-Length: {total}\r\n"
    head += "Content-Encoding: gzip\r\n" if gzip else ""
    writer.write((head + "\r\n").encode())
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31) if gzip else None
    zeros, sent = bytes(CHUNK if not gzip else 1 << 20), 0
    while sent < total:
        block = zeros[: min(len(zeros), total - sent)]
        sent += len(block)
        data = compressor.compress(block) if compressor else block
        if compressor and sent >= total:
            data += compressor.flush()
        if not data:
            continue
        writer.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked or gzip else data)
        await writer.drain()
    if chunked or gzip:
        writer.write(b"0\r\n\r\n")
        await writer.drain()


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > 65536:
            return
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, path, _version = request_line.split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
        headers[":method"] = method
        if method == "CONNECT":  # a tunnel for https through us as a proxy; any name leads to 127.0.0.1
            await tunnel(int(path.rsplit(":", 1)[1]), reader, writer)
            return
        if path.startswith("http://"):  # absolute form: we are being used as a forward proxy; serve it ourselves
            headers["x-via-proxy"] = path.split("/", 3)[2]
            path = "/" + path.split("/", 3)[3]
        if int(headers.get("content-length", "0") or 0):
            await reader.readexactly(int(headers["content-length"]))
        await route(path, headers, reader, writer)
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def tunnel(port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while data := await source.read(CHUNK):
            sink.write(data)
            await sink.drain()
        sink.close()

    await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer), return_exceptions=True)


async def route(path: str, headers: dict[str, str], reader: asyncio.StreamReader,
                writer: asyncio.StreamWriter) -> None:
    parts = path.split("?", 1)[0].strip("/").split("/")
    name, arg = parts[0], (parts[1] if len(parts) > 1 else "")
    hits[path] += 1
    if name == "ok":
        await respond(writer, 200, b"<html>hello prober</html>", "text/html; charset=utf-8")
    elif name == "status":
        await respond(writer, int(arg), b"status")
    elif name == "delay":
        await asyncio.sleep(int(arg) / 1000)
        await respond(writer, 200, b"ok")
    elif name == "hang":
        await reader.read()  # until the client goes away
    elif name == "trickle":
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n")
        for _ in range(1000):
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(1)
    elif name == "reset":
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\npartial")
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    elif name == "close-before-response":
        return
    elif name == "garbage":
        writer.write(b"\x00\xffNOT HTTP AT ALL\r\n\r\n" * 20)
        await writer.drain()
    elif name == "redirect-loop":
        await respond(writer, 302, headers={"Location": "/redirect-loop"})
    elif name == "redirect":
        target = f"/redirect/{int(arg) - 1}" if int(arg) > 0 else "/ok"
        await respond(writer, 302, headers={"Location": target})
    elif name in ("big", "chunked-big", "gzip-bomb"):
        await stream(writer, int(arg), chunked=name == "chunked-big", gzip=name == "gzip-bomb")
    elif name in RAW:
        writer.write(RAW[name])
        await writer.drain()
    elif name == "see-other":  # a 303 after a POST: the next hop is a GET without the body
        await respond(writer, 303, headers={"Location": "/echo-headers"})
    elif name == "cookie-redirect":  # sets a cookie on the way: the next hop must send it back
        await respond(writer, 302, headers={"Location": "/echo-headers", "Set-Cookie": "session=s1; Path=/"})
    elif name == "to-localhost":  # the same server under another name: another origin
        port = writer.get_extra_info("sockname")[1]
        await respond(writer, 302, headers={"Location": f"http://localhost:{port}/echo-headers"})
    elif name == "bad-gzip":
        await respond(writer, 200, b"\x1f\x8bthis is not gzip", headers={"Content-Encoding": "gzip"})
    elif name == "json":
        doc = {"status": "ok", "items": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}], "meta": {"count": 2}}
        await respond(writer, 200, json.dumps(doc).encode(), "application/json")
    elif name == "json-bad":
        await respond(writer, 200, b'{"status": "degraded"}', "application/json")
    elif name == "not-json":
        await respond(writer, 200, b"{not json", "application/json")
    elif name == "headers":
        await respond(writer, 200, b"ok", headers={"X-Test": "abc-123"})
    elif name == "echo-headers":
        await respond(writer, 200, json.dumps(headers).encode(), "application/json")
    elif name == "count":
        await respond(writer, 200, str(hits[path]).encode())
    elif name == "page":  # hostile pages for browser journeys
        await respond(writer, 200, PAGES[arg].encode(), "text/html; charset=utf-8")
    elif name == "set-period":  # /set-period/{key}/{n}: /fail-every/{key} then fails every n-th hit (0: never)
        periods[arg] = int(parts[2])
        await respond(writer, 200, b"set")
    elif name == "fail-every":
        period = periods.get(arg, 0)
        await respond(writer, 503 if period and hits[path] % period == 0 else 200, b"every")
    elif name == "flaky":
        key = "/flaky/" + "/".join(parts[1:])
        await respond(writer, 503 if hits[key] <= int(arg) else 200, b"flaky")
    else:
        await respond(writer, 404, b"not found")


async def serve(port_file: Path, tls: ssl.SSLContext | None) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls, limit=65536)
    port = server.sockets[0].getsockname()[1]
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(port))
    tmp.rename(port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


class FaultServer:
    """Starts tests/fault_server.py as a process and stops it by PID."""

    def __init__(self, directory: Path, tls: tuple[Path, Path] | None = None, client_ca: Path | None = None) -> None:
        """Over TLS with `tls` (cert, key); with `client_ca` too, only for clients with a certificate it signed."""
        self.tls = tls is not None
        port_file = directory / f"fault-{time.monotonic_ns()}.port"
        args = [sys.executable, "-m", "tests.fault_server", "--port-file", str(port_file)]
        if tls:
            args += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
        if client_ca:
            args += ["--client-ca", str(client_ca)]
        self.process, self.port = start_reporting_port(args, port_file, "fault server")

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    def stop(self) -> None:
        stop_by_pid(self.process, 5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--client-ca")
    args = parser.parse_args()
    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            tls.load_verify_locations(args.client_ca)
            tls.verify_mode = ssl.CERT_REQUIRED
    asyncio.run(serve(args.port_file, tls))


if __name__ == "__main__":
    main()
