"""Shared fixtures: real servers on loopback, each started and stopped by its PID."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fault_server import FaultServer
from tests.processes import DemoShop
from tests.tls_certs import Certs, make_certs


@pytest.fixture(scope="session")
def demo_shop() -> Iterator[DemoShop]:
    shop = DemoShop()
    yield shop
    shop.stop()


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def fault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultServer]:
    server = FaultServer(tmp_path_factory.mktemp("fault"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tls_servers(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Iterator[dict[str, FaultServer]]:
    directory: Path = tmp_path_factory.mktemp("fault-tls")
    servers = {name: FaultServer(directory, pair) for name, pair in (
        ("good", certs.good), ("expired", certs.expired), ("soon", certs.soon), ("selfsigned", certs.selfsigned))}
    yield servers
    for server in servers.values():
        server.stop()
