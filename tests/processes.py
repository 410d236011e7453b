"""Real processes for end-to-end tests: the demo shop and the agent, each started and stopped by its PID."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prober.journey import processes
from tests.server_process import stop_by_pid

REPO = Path(__file__).resolve().parent.parent


def browser_pids() -> set[int]:
    """Every browser process on the machine now: a test's own browsers are those that appeared since it began."""
    return {pid for pid, proc in processes.snapshot().items() if processes.is_browser(proc)}


def probe_workers_of(agent_pid: int) -> list[int]:
    """The probe worker processes of the agent with this PID, alive now (sorted)."""
    found = []
    for pid, proc in processes.snapshot().items():
        if proc.ppid == agent_pid:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"prober.probing" in cmdline:
                found.append(pid)
    return sorted(found)


def _close(process: subprocess.Popen[str]) -> None:
    if process.stdout is not None:
        process.stdout.close()


class DemoShop:
    """`python -m prober.demo` on free loopback ports: the shop over HTTP (`port`) and HTTPS (`tls_port`), its DNS
    server for shop.demo. over UDP and TCP (`dns_port`), its gRPC health service (`grpc_port`) and the slower
    Rival Shop over HTTP (`rival_port`)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "prober.demo", "--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0",
             "--dns-listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0", "--rival-listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, text=True, cwd=REPO,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r":(\d+)$", line.strip())
        assert match, f"demo shop did not start: {line!r}"
        self.port = int(match.group(1))
        self.tls_port = self._next_port(r"demo shop listening on https://127\.0\.0\.1:(\d+)")
        self.dns_port = self._next_port(r"demo dns listening on udp\+tcp 127\.0\.0\.1:(\d+)")
        self.grpc_port = self._next_port(r"demo grpc listening on 127\.0\.0\.1:(\d+)")
        self.rival_port = self._next_port(r"demo rival shop listening on http://127\.0\.0\.1:(\d+)")

    def _next_port(self, ready_line: str) -> int:
        """The port on the next line the demo prints, which must match `ready_line` (the demo prints them in order)."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.fullmatch(ready_line, line.strip())
        assert match, f"demo shop did not start all its listeners: {line!r}"
        return int(match.group(1))

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def https_url(self, path: str = "/") -> str:
        return f"https://127.0.0.1:{self.tls_port}{path}"

    def rival_url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.rival_port}{path}"

    def stop(self) -> None:
        code = stop_by_pid(self.process)
        _close(self.process)
        assert code == 0


def poll(read: Callable[[], float | None], predicate: Callable[[float], bool], timeout_s: float, every_s: float,
         what: str) -> float:
    """Read until the value is there and satisfies `predicate`; fail the test naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        value = read()
        if value is not None and predicate(value):
            return value
        time.sleep(every_s)
    raise AssertionError(f"{what} = {value} did not reach the expected value")


class AgentProcess:
    """`python -m prober run` with its JSON log lines collected as they come."""

    def __init__(self, config: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.lines: list[dict[str, Any]] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "prober", "run", "--config", str(config), "--listen", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
            env={**os.environ, **(env or {})},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        # on a loaded VM the imports and the journey scripts' validation take many seconds
        started = self.wait_for_log(lambda line: line.get("msg") == "agent started", timeout_s=60)
        self.port = int(started["port"])

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            try:
                self.lines.append(json.loads(raw))
            except ValueError:
                self.lines.append({"msg": "<not json>", "raw": raw})

    def wait_for_log(self, predicate: Callable[[dict[str, Any]], bool], timeout_s: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if predicate(line):
                    return line
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no such log line; got {self.lines[-10:]}")

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def metric(self, name: str, **labels: str) -> float | None:
        """The value of one sample on /metrics, or None when absent."""
        _, text = self.get("/metrics")
        for line in text.splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return None

    def wait_for_metric(self, name: str, predicate: Callable[[float], bool], timeout_s: float = 15.0,
                        **labels: str) -> float:
        return poll(lambda: self.metric(name, **labels), predicate, timeout_s, 0.1, f"{name}{labels}")

    def signal(self, sig: signal.Signals) -> None:
        os.kill(self.process.pid, sig)

    def stop(self, timeout_s: float = 15.0) -> int:
        code = stop_by_pid(self.process, timeout_s)
        self._reader.join(5)
        _close(self.process)
        return code


def free_port() -> int:
    """A port free on 127.0.0.1 now (for servers that cannot report the port they bound, like Prometheus)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrometheusProcess:
    """Debian's Prometheus on loopback with a given config, its TSDB in a temporary folder."""

    def __init__(self, config: Path, data_dir: Path, *args: str) -> None:
        self.port = free_port()
        self.log = open(data_dir.parent / "prometheus.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [shutil.which("prometheus") or "/usr/bin/prometheus", f"--config.file={config}",
             f"--storage.tsdb.path={data_dir}", f"--web.listen-address=127.0.0.1:{self.port}",
             "--web.enable-lifecycle", "--log.level=warn", *args],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                assert self.process.poll() is None, (data_dir.parent / "prometheus.log").read_text()
            time.sleep(0.2)
        raise AssertionError("prometheus did not become ready")

    def api(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector of `expr` now; a query that does not parse fails the test."""
        answer = self.api("query", query=expr)
        assert answer["status"] == "success", (expr, answer)
        return list(answer["data"]["result"])

    def value(self, expr: str, **labels: str) -> float | None:
        for sample in self.query(expr):
            if all(sample["metric"].get(k) == v for k, v in labels.items()):
                return float(sample["value"][1])
        return None

    def wait_for(self, expr: str, predicate: Callable[[float], bool], timeout_s: float = 60.0,
                 **labels: str) -> float:
        return poll(lambda: self.value(expr, **labels), predicate, timeout_s, 0.5, f"{expr} {labels}")

    def alerts(self) -> list[dict[str, Any]]:
        return list(self.api("alerts")["data"]["alerts"])

    def stop(self) -> None:
        code = stop_by_pid(self.process)
        self.log.close()
        assert code == 0
