"""`python -m prober.demo --listen HOST:PORT`: serve the Demo Shop until SIGTERM or SIGINT.

Prints one line, `demo shop listening on http://HOST:PORT`, once the socket is bound (port 0 picks a free
port and the line shows the real one); exits 0 on SIGTERM/SIGINT, 2 on bad arguments or a port it cannot bind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from prober.demo.app import serve


def _listen_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT with PORT from 0 to 65535 (got {value!r})")
    return host, int(port)


def _announce(host: str, port: int) -> None:
    shown = f"[{host}]" if ":" in host else host
    print(f"demo shop listening on http://{shown}:{port}", flush=True)


async def _run(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows' event loop
            loop.add_signal_handler(sig, stop.set)
    server = asyncio.create_task(serve(host, port, ready=_announce))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({server, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not server.done():
        server.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await server  # re-raises a bind error, if that is why serve ended


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m prober.demo", description="Serve the Demo Shop.")
    parser.add_argument(
        "--listen", type=_listen_address, default=("127.0.0.1", 8080), metavar="HOST:PORT",
        help="address to listen on (default 127.0.0.1:8080; port 0 picks a free port)",
    )
    args = parser.parse_args(argv)
    host, port = args.listen
    try:
        asyncio.run(_run(host, port))
    except OSError as exc:
        print(f"demo shop: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
