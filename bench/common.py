"""What the benchmarks share: loopback targets that answer after a delay (one of them recording what each answer
really took), percentiles, the machine's idle-timer lateness, and the /proc readings and process handling that
measure the other processes of a run."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from prober.http import receive_stamps, send_stamps

CLK_TCK = os.sysconf("SC_CLK_TCK")


async def serve_target(port_file: Path, delay_s: float) -> None:
    """Answer every HTTP request `delay_s` after its headers arrived, then close (a new connection per probe)."""
    loop = asyncio.get_running_loop()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            arrived = loop.time()
            await asyncio.sleep(arrived + delay_s - loop.time())
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    port_file.write_text(str(server.sockets[0].getsockname()[1]))  # noqa: ASYNC240 - once, before serving
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


def serve_timed_target(port_file: Path, delay_s: float, record: Path) -> None:
    """Answer every HTTP request `delay_s` after it arrived, a thread per connection, and append to `record` what
    it really took: a JSON line with the path, the request's arrival (the kernel's receive stamp, unix time), the
    seconds from then to the answer's departure (the kernel's send stamp) and whether both stamps were there
    (without one, the clock at the read or before the write stands in, late by however long the thread waited).

    The listening socket asks for the stamps, so every accepted connection has them from its first byte: a
    connection that asks only once accepted gets no stamp for a request that came before (on this kernel, a
    third of them). The process runs at real-time priority where it may (SCHED_FIFO, inherited by its threads):
    at 8 answers a second it takes no CPU worth the name, and a sleeping thread wakes on time instead of up to a
    few ms late behind the probers on a busy 2-core machine, so the target answers in 50 ms, not 50 to 53."""
    lock = threading.Lock()
    out = record.open("a", buffering=1)

    def handle(conn: socket.socket) -> None:
        with conn:
            head, arrived_ns = b"", None
            while b"\r\n\r\n" not in head:
                data, ancillary, _, _ = conn.recvmsg(65536, send_stamps.RECEIVE_CMSG_SPACE)
                if not data:
                    return
                head += data
                arrived_ns = receive_stamps.stamp_wall_ns(ancillary) or arrived_ns
            arrived = arrived_ns / 1e9 if arrived_ns is not None else time.time()
            time.sleep(max(0.0, arrived + delay_s - time.time()))
            sent = time.time()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            left_ns = send_stamps.read_latest(conn) if stamped else None  # when the answer really left
            sent = left_ns / 1e9 if left_ns is not None else sent
            path = head.split(b" ", 2)[1].decode("latin-1") if head.count(b" ") >= 2 else ""
            entry = {"path": path, "arrived": arrived, "held_s": sent - arrived,
                     "stamped": arrived_ns is not None and left_ns is not None}
            with lock:
                out.write(json.dumps(entry) + "\n")

    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    receive_stamps.enable(listener)  # accepted sockets inherit the options
    stamped = send_stamps.enable(listener)
    with contextlib.suppress(OSError):  # not permitted: the target's lateness stays in the error against 50 ms
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    port_file.write_text(str(listener.getsockname()[1]))
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def real_time(pid: int) -> bool:
    """Whether process `pid` runs at real-time priority (serve_timed_target's truth target, where it may)."""
    try:
        return os.sched_getscheduler(pid) == os.SCHED_FIFO
    except OSError:
        return False


def target_record(record: Path) -> dict[str, list[tuple[float, float, bool]]]:
    """What serve_timed_target wrote: (arrival, seconds held, both kernel stamps there) by path, in arrival order."""
    by_path: dict[str, list[tuple[float, float, bool]]] = {}
    if record.exists():
        for line in record.read_text().splitlines():
            entry = json.loads(line)
            by_path.setdefault(entry["path"], []).append((entry["arrived"], entry["held_s"], entry["stamped"]))
    for entries in by_path.values():
        entries.sort()
    return by_path


def held_after(entries: list[tuple[float, float, bool]], since: float,
               within_s: float) -> tuple[float, bool] | None:
    """How long the target held the first request of `entries` that arrived in [since, since + within_s], and
    whether the kernel stamped both ends of it."""
    index = bisect.bisect_left(entries, (since, -1.0, False))
    if index < len(entries) and entries[index][0] <= since + within_s:
        return entries[index][1], entries[index][2]
    return None


def start_target(port_file: Path, delay_s: float, record: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start serve_target (or, with `record`, serve_timed_target) in a process of its own (its answers never
    wait for the prober's work); return the process and its URL."""
    target = subprocess.Popen([sys.executable, __file__, str(port_file), str(delay_s),
                               *([str(record)] if record is not None else [])])
    deadline = time.monotonic() + 10
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline or target.poll() is not None:
            stop(target)
            raise RuntimeError("target did not start")
        time.sleep(0.05)
    return target, f"http://127.0.0.1:{port_file.read_text()}/"


def start_blackbox(tmp: Path, timeout_s: float) -> tuple[subprocess.Popen[bytes], int] | None:
    """Debian's blackbox_exporter with an `http_2xx` module of `timeout_s`, listening on a free loopback port
    once this returns; None where it is not installed."""
    binary = shutil.which("prometheus-blackbox-exporter")
    if binary is None:
        return None
    config = tmp / "blackbox.yml"
    config.write_text(f"modules:\n  http_2xx:\n    prober: http\n    timeout: {timeout_s:g}s\n"
                      "    http: {preferred_ip_protocol: ip4}\n")
    port = free_port()
    process = subprocess.Popen([binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
                                "--log.level=error"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
    except RuntimeError:
        stop(process)
        raise
    return process, port


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, nearest rank; NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timer_lateness_ms() -> tuple[float, float]:
    """How late this machine wakes idle timers (p50, p99 in ms): the floor under every lag and timing figure."""
    loop = asyncio.get_running_loop()
    late: list[float] = []

    async def one(delay: float) -> None:
        start = loop.time()
        await asyncio.sleep(delay)
        late.append(loop.time() - start - delay)

    await asyncio.gather(*(one(i / 200) for i in range(200)))
    return pct(late, 0.5) * 1000, pct(late, 0.99) * 1000


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def steal_s() -> float:
    """CPU seconds the hypervisor has given to others while this VM's vCPUs wanted to run, all cores, so far
    (/proc/stat's steal): a window with steal measured the machine's neighbours, not the agent."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return 0.0
    return int(fields[8]) / CLK_TCK if len(fields) > 8 else 0.0


def proc_status_kib(pid: int, field: str) -> int:
    """A kB figure of /proc/pid/status (VmRSS, VmHWM); 0 once the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def children_of(pid: int) -> list[int]:
    """The live child processes of `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def stop(process: subprocess.Popen[bytes], timeout_s: float = 5.0) -> None:
    """SIGTERM `process` by its pid, SIGKILL it if it is still there after `timeout_s`."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(5)


if __name__ == "__main__":  # python bench/common.py PORT_FILE DELAY_S [RECORD]: the target of start_target
    if len(sys.argv) > 3:
        serve_timed_target(Path(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3]))
    else:
        import uvloop

        uvloop.run(serve_target(Path(sys.argv[1]), float(sys.argv[2])))
