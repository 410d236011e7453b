"""Shared fixtures: real servers on loopback, each started and stopped by its PID."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.processes import DemoShop


@pytest.fixture(scope="session")
def demo_shop() -> Iterator[DemoShop]:
    shop = DemoShop()
    yield shop
    shop.stop()
