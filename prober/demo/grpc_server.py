"""The demo's gRPC server: the standard health service (grpc.health.v1.Health), so `type: grpc` runs offline.

Services "" (the whole server) and "shop" are SERVING; any other service is NOT_FOUND (grpc_health's own
servicer). It runs in the caller's asyncio loop (grpc.aio), in plain text, with at most `MAX_CONCURRENT_RPCS`
calls at once; `close()` marks every service NOT_SERVING and stops after at most `STOP_GRACE_S`.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import grpc.aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

SERVICES = ("", "shop")
MAX_CONCURRENT_RPCS = 64
STOP_GRACE_S = 1.0
# gRPC sets SO_REUSEPORT by default on Linux: a second server could then share a port already in use, silently
_OPTIONS = [("grpc.so_reuseport", 0)]


@dataclass
class GrpcServer:
    """A running health server on `host`/`port` (port 0 → the real one)."""

    host: str
    port: int
    _server: grpc.aio.Server
    _health: health.aio.HealthServicer

    async def close(self) -> None:
        await self._health.enter_graceful_shutdown()
        await self._server.stop(STOP_GRACE_S)  # a Watch stream would otherwise hold the shutdown forever


def _target(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def start_grpc(host: str, port: int) -> GrpcServer:
    """Serve the health service on host:port in the running loop; raises OSError when it cannot bind."""
    server = grpc.aio.server(maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS, options=_OPTIONS)
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    for service in SERVICES:
        await servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    try:
        bound_port = server.add_insecure_port(_target(host, port))
    except RuntimeError as exc:  # grpc says only "Failed to bind to address ..."; the caller expects an OSError
        await server.stop(None)
        raise OSError(f"gRPC could not bind {_target(host, port)} (in use, or not an address of this host)") from exc
    await server.start()
    return GrpcServer(host, int(bound_port), server, servicer)
