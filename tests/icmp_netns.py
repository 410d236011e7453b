"""Network namespaces for the icmp prober's tests: a namespace of this test run, a veth link into it, nftables rules
inside it, and a probe run by a child process inside it (where its own ping_group_range and capabilities apply).

`python -m tests.icmp_netns probe '{"check": {...}, "socket_kind": "dgram"}'` (run inside a namespace) probes once
on uvloop, as a probe worker does, and prints the Result as one JSON line. `python -m tests.icmp_netns respond
DELAY_S COPIES CORRUPT` answers every IPv4 echo request itself, DELAY_S late, COPIES times, with a wrong payload if
CORRUPT is 1 (run it where the kernel's own replies are off: net.ipv4.icmp_echo_ignore_all=1).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

from prober.probers.icmp_socket import internet_checksum

REPO = Path(__file__).resolve().parent.parent
COMMAND_TIMEOUT_S = 30
_names = itertools.count()


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=check)


class Netns:
    """A network namespace named for this test run (`prober-test-<pid>-<n>`) with its loopback up.

    Raises subprocess.CalledProcessError when `ip netns add` fails; `close` deletes it (and never raises).
    """

    def __init__(self) -> None:
        self.name = f"prober-test-{os.getpid()}-{next(_names)}"
        _ip("netns", "add", self.name)
        try:
            _ip("-n", self.name, "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise

    def run(self, *command: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `command` inside the namespace and wait for it (bounded in time)."""
        return subprocess.run(["ip", "netns", "exec", self.name, *command], input=stdin, capture_output=True,
                              text=True, timeout=COMMAND_TIMEOUT_S, check=check, cwd=REPO)

    def sysctl(self, key: str, value: str) -> None:
        self.run("sysctl", "-qw", f"{key}={value}")

    def set_input_rule(self, rule: str | None) -> None:
        """Replace the namespace's nftables rules with one rule in an input chain (None: no rule at all)."""
        self.run("nft", "flush", "ruleset")
        if rule is not None:
            self.run("nft", "-f", "-", stdin=f"table inet prober_test {{\n  chain input {{ type filter hook input "
                                              f"priority 0; {rule}; }}\n}}\n")

    def close(self) -> None:
        _ip("netns", "del", self.name, check=False)


class VethLink:
    """A veth pair from the root namespace into `netns`, a /30 of 10.213.0.0/16 on it: `.1` here, `.2` there.

    The /30 is one no interface of this host uses yet, picked from the pid so parallel runs differ.
    """

    def __init__(self, netns: Netns) -> None:
        tag = f"{os.getpid() % 100000}{next(_names)}"
        self.root_name, peer_name = f"pt{tag}a", f"pt{tag}b"  # at most 15 characters, as Linux wants
        subnet = _free_subnet()
        self.root_address, self.netns_address = f"10.213.{subnet}.1", f"10.213.{subnet}.2"
        _ip("link", "add", self.root_name, "type", "veth", "peer", "name", peer_name, "netns", netns.name)
        try:
            _ip("addr", "add", f"{self.root_address}/30", "dev", self.root_name)
            _ip("link", "set", self.root_name, "up")
            _ip("-n", netns.name, "addr", "add", f"{self.netns_address}/30", "dev", peer_name)
            _ip("-n", netns.name, "link", "set", peer_name, "up")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        _ip("link", "del", self.root_name, check=False)


def _free_subnet() -> int:
    used = _ip("-4", "-o", "addr", "show").stdout
    for offset in range(256):
        subnet = (os.getpid() + offset) % 256
        if f"10.213.{subnet}." not in used:
            return subnet
    raise RuntimeError("no free /30 in 10.213.0.0/16")


def probe_in(netns: Netns, check: dict[str, Any], socket_kind: str | None = None,
             without_net_raw: bool = False) -> dict[str, Any]:
    """Probe `check` once from a child process inside `netns` (without CAP_NET_RAW if asked); its Result as a dict,
    plus `socket_kind`, the kind of socket the prober chose."""
    request = json.dumps({"check": check, "socket_kind": socket_kind})
    command = [sys.executable, "-m", "tests.icmp_netns", "probe", request]
    if without_net_raw:  # root without CAP_NET_RAW in its bounding set gets none after exec
        command = ["setpriv", "--bounding-set", "-net_raw", *command]
    done = netns.run(*command)
    parsed: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return parsed


class Responder:
    """A user-space echo responder inside `netns` (the kernel's replies turned off meanwhile), run as a child
    process by its PID: replies `delay_s` late, `copies` times each, with a corrupted payload if asked."""

    def __init__(self, netns: Netns, delay_s: float, copies: int = 1, corrupt: bool = False) -> None:
        self._netns = netns
        netns.sysctl("net.ipv4.icmp_echo_ignore_all", "1")
        command = [sys.executable, "-m", "tests.icmp_netns", "respond", str(delay_s), str(copies), str(int(corrupt))]
        self._process = subprocess.Popen(["ip", "netns", "exec", netns.name, *command], cwd=REPO, text=True,
                                         stdout=subprocess.PIPE, start_new_session=True)
        assert self._process.stdout is not None
        if self._process.stdout.readline().strip() != "ready":  # it prints "ready" once its socket is open
            self.stop()
            raise RuntimeError("the echo responder did not start")

    def stop(self) -> None:
        self._process.kill()  # `ip netns exec` execs the command: this PID is the responder's own
        self._process.wait(timeout=COMMAND_TIMEOUT_S)
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._netns.sysctl("net.ipv4.icmp_echo_ignore_all", "0")


async def _respond(delay_s: float, copies: int, corrupt: bool) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()

    def reply(request: bytes, source: tuple[str, int]) -> None:
        icmp = request[(request[0] & 0x0F) * 4:]
        if len(icmp) < 8 or icmp[0] != 8:
            return  # not an echo request (our own replies come by too)
        payload = bytes(b ^ 0xFF for b in icmp[8:]) if corrupt else icmp[8:]
        answer = b"\0\0\0\0" + icmp[4:8] + payload
        answer = answer[:2] + struct.pack("!H", internet_checksum(answer)) + answer[4:]
        for _ in range(copies):
            loop.call_later(delay_s, sock.sendto, answer, (source[0], 0))

    def readable() -> None:
        while True:
            try:
                request, source = sock.recvfrom(4096)
            except BlockingIOError:
                return
            reply(request, source)

    loop.add_reader(sock.fileno(), readable)
    print("ready", flush=True)
    await asyncio.Event().wait()  # until killed


def _probe(argument: str) -> None:
    from prober.config.icmp_check import IcmpCheck
    from prober.event_loop import run_loop
    from prober.probers.icmp import IcmpProber
    from prober.probers.icmp_socket import SocketKind

    request = json.loads(argument)
    kind = SocketKind(request["socket_kind"]) if request["socket_kind"] else None
    prober = IcmpProber(IcmpCheck.model_validate(request["check"]), kind)
    result = run_loop(prober.probe())
    view = {field.name: getattr(result, field.name) for field in dataclasses.fields(result)}
    view["protocol"] = dataclasses.asdict(result.protocol) if result.protocol is not None else None
    view["phases"] = {str(phase): seconds for phase, seconds in result.phases.items()}
    view["socket_kind"] = prober.socket_kind
    print(json.dumps(view, default=str))


if __name__ == "__main__":
    if sys.argv[1] == "respond":
        asyncio.run(_respond(float(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"))
    else:
        _probe(sys.argv[2])
