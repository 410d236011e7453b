"""`python -m prober.demo`: serve the Demo Shop over HTTP, HTTPS, DNS and gRPC health, and the slower Rival Shop
beside it, until SIGTERM or SIGINT.

Each listener prints one line once its socket is bound (port 0 picks a free port and the line shows the real one),
always in this order and the first line always first:

    demo shop listening on http://HOST:PORT         --listen       (default 127.0.0.1:8080)
    demo shop listening on https://HOST:PORT        --tls-listen   (default 127.0.0.1:8443; self-signed)
    demo dns listening on udp+tcp HOST:PORT         --dns-listen   (default 127.0.0.1:8053; zone shop.demo.)
    demo grpc listening on HOST:PORT                --grpc-listen  (default 127.0.0.1:8081; grpc.health.v1)
    demo rival shop listening on http://HOST:PORT   --rival-listen (default 127.0.0.1:8082; see brand.py)

`off` disables one of the last four. Exits 0 on SIGTERM/SIGINT, 2 on bad arguments or an address it cannot bind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from prober.demo.app import build_app, start_site
from prober.demo.brand import RIVAL_SHOP
from prober.demo.dns_server import start_dns
from prober.demo.grpc_server import start_grpc
from prober.demo.tls_cert import self_signed_context

Address = tuple[str, int]
T = TypeVar("T")


@dataclass(frozen=True)
class Listeners:
    """Where each part of the demo listens; None is off (the shop's HTTP port is always on)."""

    http: Address
    tls: Address | None
    dns: Address | None
    grpc: Address | None
    rival: Address | None


class ListenError(Exception):
    """A listener could not bind its address; the message says which one and why."""


def _listen_address(value: str) -> Address:
    host, sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT with PORT from 0 to 65535 (got {value!r})")
    return host, int(port)


def _listen_address_or_off(value: str) -> Address | None:
    return None if value == "off" else _listen_address(value)


def _shown(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _announce(line: str) -> None:
    print(line, flush=True)  # flushed at once: tests and scripts wait for this line before they connect


async def _bound(what: str, address: Address, starting: Awaitable[T]) -> T:
    try:
        return await starting
    except OSError as exc:
        raise ListenError(f"cannot listen on {_shown(*address)}{what}: {exc}") from exc


def _stop_event() -> asyncio.Event:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows' event loop
            loop.add_signal_handler(sig, stop.set)
    return stop


async def _start_shop(listeners: Listeners, stack: contextlib.AsyncExitStack) -> int:
    """Start the shop's HTTP site and, if on, its HTTPS site (one app: one set of sessions); returns the HTTP port."""
    runner = web.AppRunner(build_app(), access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    host, port = await _bound("", listeners.http, start_site(runner, *listeners.http))
    _announce(f"demo shop listening on http://{_shown(host, port)}")
    if listeners.tls is not None:
        tls_host, tls_port = await _bound(" (tls)", listeners.tls, _start_tls_site(runner, *listeners.tls))
        _announce(f"demo shop listening on https://{_shown(tls_host, tls_port)}")
    return port


async def _start_tls_site(runner: web.AppRunner, host: str, port: int) -> Address:
    return await start_site(runner, host, port, ssl_context=self_signed_context())


async def _start_services(listeners: Listeners, http_port: int, stack: contextlib.AsyncExitStack) -> None:
    if listeners.dns is not None:
        dns = await _bound(" (dns)", listeners.dns, start_dns(*listeners.dns, http_port=http_port))
        stack.push_async_callback(dns.close)
        _announce(f"demo dns listening on udp+tcp {_shown(dns.host, dns.port)}")
    if listeners.grpc is not None:
        grpc = await _bound(" (grpc)", listeners.grpc, start_grpc(*listeners.grpc))
        stack.push_async_callback(grpc.close)
        _announce(f"demo grpc listening on {_shown(grpc.host, grpc.port)}")
    if listeners.rival is not None:
        await _start_rival(listeners.rival, stack)


async def _start_rival(address: Address, stack: contextlib.AsyncExitStack) -> None:
    """The Rival Shop: its own app (its own sessions and image switch), same pages, slower."""
    runner = web.AppRunner(build_app(brand=RIVAL_SHOP), access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    host, port = await _bound(" (rival)", address, start_site(runner, *address))
    _announce(f"demo rival shop listening on http://{_shown(host, port)}")


async def _run(listeners: Listeners) -> None:
    stop = _stop_event()  # first: a SIGTERM during start-up ends the demo as soon as it has started
    async with contextlib.AsyncExitStack() as stack:  # stops what started, in reverse, on the way out
        http_port = await _start_shop(listeners, stack)
        await _start_services(listeners, http_port, stack)
        await stop.wait()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m prober.demo", description="Serve the Demo Shop.")
    parser.add_argument(
        "--listen", type=_listen_address, default=("127.0.0.1", 8080), metavar="HOST:PORT",
        help="the shop over HTTP (default 127.0.0.1:8080; port 0 picks a free port)",
    )
    parser.add_argument(
        "--tls-listen", type=_listen_address_or_off, default=("127.0.0.1", 8443), metavar="HOST:PORT|off",
        help="the shop over HTTPS, self-signed for localhost (default 127.0.0.1:8443)",
    )
    parser.add_argument(
        "--dns-listen", type=_listen_address_or_off, default=("127.0.0.1", 8053), metavar="HOST:PORT|off",
        help="DNS over UDP and TCP, authoritative for shop.demo. (default 127.0.0.1:8053)",
    )
    parser.add_argument(
        "--grpc-listen", type=_listen_address_or_off, default=("127.0.0.1", 8081), metavar="HOST:PORT|off",
        help="gRPC health service, plain text (default 127.0.0.1:8081)",
    )
    parser.add_argument(
        "--rival-listen", type=_listen_address_or_off, default=("127.0.0.1", 8082), metavar="HOST:PORT|off",
        help="the Rival Shop over HTTP: the same pages, slower, to compare with (default 127.0.0.1:8082)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    listeners = Listeners(http=args.listen, tls=args.tls_listen, dns=args.dns_listen, grpc=args.grpc_listen,
                          rival=args.rival_listen)
    try:
        asyncio.run(_run(listeners))
    except ListenError as exc:
        print(f"demo shop: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
