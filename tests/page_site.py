"""A small web site for page-check tests, run as its own process: one page per thing a page check must see.

`python -m tests.page_site --port-file F` serves on 127.0.0.1 (and on ::1 at the same port when it can, so that
`localhost`, the site's second name, reaches it either way) and writes the port to F. Pages on 127.0.0.1 load
"third-party" elements from `localhost`: the other registrable domain on loopback. `PageSite` starts and stops it.

- `/`: a stylesheet with a font, a script with a fetch and an xhr, images (one redirected, one slow, one with a
  query string), a frame, a third-party image and a third-party image from a closed port (refused).
- `/broken`: `/` with two first-party images that answer 404.
- `/many?n=300`: n images; `/pending`: a fetch that never ends (after the load event);
  `/never-loads`: an image that never ends (no load event); `/slow-paint`: a late render-blocking stylesheet;
  `/missing`: a 404 document.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import struct
import sys
import time
from pathlib import Path

from aiohttp import web

from tests.server_process import start_reporting_port, stop_by_pid

HANG_S = 60.0
"""How long `/hang` holds an answer back (a client that goes away ends it sooner)."""


def svg(width: int, height: int, colour: str = "#c33") -> bytes:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
            f'<rect width="100%" height="100%" fill="{colour}"/></svg>').encode()


def _checksum(data: bytes) -> int:
    data += b"\0" * (-len(data) % 4)
    return sum(struct.unpack(f">{len(data) // 4}I", data)) & 0xFFFFFFFF


def tiny_font() -> bytes:
    """A valid TrueType font (680 bytes: .notdef and a box for 'A') that Chromium's font sanitizer accepts."""
    glyph = struct.pack(">hhhhhHH4B4h4h", 1, 0, 0, 400, 700, 3, 0, 1, 1, 1, 1, 0, 0, 400, 0, 0, 700, 0, -700)
    glyph += b"\0" * (-len(glyph) % 4)
    names = [(1, "ProberTest"), (2, "Regular"), (3, "ProberTest"), (4, "ProberTest"), (6, "ProberTest")]
    records, strings = b"", b""
    for name_id, text in names:
        encoded = text.encode("utf-16-be")
        records += struct.pack(">6H", 3, 1, 0x409, name_id, len(encoded), len(strings))
        strings += encoded
    tables = {
        b"OS/2": struct.pack(">HhHHH11h10s4I4sHHHhhhHHIIhhHHH", 4, 500, 400, 5, 0, *([0] * 11), b"\0" * 10,
                             1, 0, 0, 0, b"PRBR", 0x40, 0x41, 0x41, 800, -200, 0, 800, 200, 1, 0, 500, 700, 0, 32, 1),
        b"cmap": struct.pack(">HHHHI", 0, 1, 3, 1, 12)  # one format 4 subtable: 'A' -> glyph 1
                 + struct.pack(">16H", 4, 32, 0, 4, 4, 1, 0, 0x41, 0xFFFF, 0, 0x41, 0xFFFF, 0xFFC0, 1, 0, 0),
        b"glyf": glyph,
        b"head": struct.pack(">IIIIHHqqhhhhHHhhh", 0x10000, 0x10000, 0, 0x5F0F3CF5, 0x000B, 1000, 0, 0,
                             0, 0, 400, 700, 0, 8, 2, 0, 0),
        b"hhea": struct.pack(">I3hH11hH", 0x10000, 800, -200, 0, 500, 0, 0, 400, 1, 0, 0, 0, 0, 0, 0, 0, 2),
        b"hmtx": struct.pack(">HhHh", 500, 0, 500, 0),
        b"loca": struct.pack(">3H", 0, 0, len(glyph) // 2),
        b"maxp": struct.pack(">I14H", 0x10000, 2, 4, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0),
        b"name": struct.pack(">3H", 0, len(names), 6 + 12 * len(names)) + records + strings,
        b"post": struct.pack(">IIhhIIIII", 0x30000, 0, -100, 50, 0, 0, 0, 0, 0),
    }
    offset = 12 + 16 * len(tables)
    directory, body, head_at = b"", b"", 0
    for tag in sorted(tables):
        data = tables[tag]
        if tag == b"head":
            head_at = offset + len(body)
        directory += struct.pack(">4sIII", tag, _checksum(data), offset + len(body), len(data))
        body += data + b"\0" * (-len(data) % 4)
    font = struct.pack(">IHHHH", 0x10000, len(tables), 128, 3, 32) + directory + body
    adjustment = (0xB1B0AFBA - _checksum(font)) & 0xFFFFFFFF
    return font[: head_at + 8] + struct.pack(">I", adjustment) + font[head_at + 12:]


FONT = tiny_font()
CSS = b"@font-face { font-family: ProberTest; src: url(/static/font.ttf); }\nh1 { font-family: ProberTest; }\n"
JS = b"""
fetch('/api/data?token=fetch-secret').then(r => r.json())
  .then(d => { document.getElementById('data').textContent = d.message; });
const xhr = new XMLHttpRequest(); xhr.open('GET', '/api/xhr?token=xhr-secret'); xhr.send();
"""


def home_html(port: int, closed_port: int, extra: str = "") -> str:
    return f"""<!doctype html><html><head><title>Page Site Home</title>
<link rel="stylesheet" href="/static/app.css"><script src="/static/app.js" defer></script></head>
<body><h1>AAAA</h1><button id="buy">Buy</button><div id="hidden" style="display:none">hidden</div><p id="data"></p>
<img src="/static/img/logo.svg?v=query-secret#frag"><img src="/r/badge.svg"><img src="/slow/photo.svg?delay=0.6">
<img src="http://localhost:{port}/static/img/partner.svg"><img src="http://localhost:{closed_port}/ad.png">
<iframe src="/frame" width="100" height="50"></iframe>{extra}</body></html>"""


def routes(closed_port: int) -> web.RouteTableDef:
    table = web.RouteTableDef()

    def html(text: str, status: int = 200) -> web.Response:
        return web.Response(text=text, status=status, content_type="text/html")

    def port_of(request: web.Request) -> int:
        return request.url.port or 80

    @table.get("/")
    async def home(request: web.Request) -> web.Response:
        return html(home_html(port_of(request), closed_port))

    @table.get("/broken")
    async def broken(request: web.Request) -> web.Response:
        return html(home_html(port_of(request), closed_port,
                              '<img src="/static/img/hero.svg"><img src="/static/img/gone.png?x=1">'))

    @table.get("/missing")
    async def missing(_request: web.Request) -> web.Response:
        return html("<html><head><title>Not here</title></head><body>no such page</body></html>", 404)

    @table.get("/frame")
    async def frame(_request: web.Request) -> web.Response:
        return html("<html><body>a frame</body></html>")

    @table.get("/many")
    async def many(request: web.Request) -> web.Response:
        count = min(int(request.query.get("n", "300")), 2000)
        images = "".join(f'<img src="/static/img/many/{i}.svg?i={i}" width="4" height="4">' for i in range(count))
        return html(f"<html><head><title>Many</title></head><body>{images}</body></html>")

    @table.get("/pending")
    async def pending(_request: web.Request) -> web.Response:
        return html("<html><head><title>Pending</title></head><body><p>waiting</p>"
                    "<script>addEventListener('load', () => fetch('/hang'));</script></body></html>")

    @table.get("/never-loads")
    async def never_loads(_request: web.Request) -> web.Response:
        return html('<html><head><title>Never</title></head><body><h1>loading</h1><img src="/hang"></body></html>')

    @table.get("/slow-paint")
    async def slow_paint(_request: web.Request) -> web.Response:
        # a render-blocking stylesheet that arrives late: nothing paints before it (FCP and LCP wait for it)
        return html('<html><head><title>Slow paint</title><link rel="stylesheet" href="/slow/style.css?delay=1.2">'
                    '</head><body><h1>painted late</h1></body></html>')

    @table.get("/r/{name}")
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"/static/img/{request.match_info['name']}")

    @table.get("/slow/{name}")
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(min(float(request.query.get("delay", "0.5")), 10.0))
        if request.match_info["name"].endswith(".css"):
            return web.Response(body=b"h1 { color: #36c; }", content_type="text/css")
        return web.Response(body=svg(90, 70, "#36c"), content_type="image/svg+xml")

    @table.get("/hang")
    async def hang(_request: web.Request) -> web.Response:
        await asyncio.sleep(HANG_S)  # cancelled when the browser goes away
        return web.Response(text="late")

    @table.get("/static/img/{name:.*}")
    async def image(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name in ("hero.svg", "gone.png"):
            raise web.HTTPNotFound()
        return web.Response(body=svg(40, 20), content_type="image/svg+xml")

    @table.get("/static/app.css")
    async def css(_request: web.Request) -> web.Response:
        return web.Response(body=CSS, content_type="text/css")

    @table.get("/static/app.js")
    async def js(_request: web.Request) -> web.Response:
        return web.Response(body=JS, content_type="text/javascript")

    @table.get("/static/font.ttf")
    async def font(_request: web.Request) -> web.Response:
        return web.Response(body=FONT, content_type="font/ttf")

    @table.get("/api/data")
    async def data(_request: web.Request) -> web.Response:
        return web.json_response({"message": "fresh data"})

    @table.get("/api/xhr")
    async def xhr(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    return table


def closed_loopback_port() -> int:
    """A port nobody listens on (bound, then released): connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def serve(port_file: Path) -> None:
    app = web.Application()
    app.add_routes(routes(closed_loopback_port()))
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    with contextlib.suppress(OSError):  # no IPv6 loopback here: `localhost` is 127.0.0.1 alone
        await web.TCPSite(runner, "::1", port).start()
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(port))
    tmp.rename(port_file)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


class PageSite:
    """Starts tests/page_site.py as a process and stops it by PID."""

    def __init__(self, directory: Path) -> None:
        port_file = directory / f"page-site-{time.monotonic_ns()}.port"
        self.process, self.port = start_reporting_port(
            [sys.executable, "-m", "tests.page_site", "--port-file", str(port_file)], port_file, "page site")

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def stop(self) -> None:
        stop_by_pid(self.process, 5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", type=Path, required=True)
    asyncio.run(serve(parser.parse_args().port_file))


if __name__ == "__main__":
    main()
