"""The grpc prober against real grpcio servers on loopback (tests/grpc_server.py): serving statuses, unknown
services, a server without grpc.health.v1, one that never answers, a closed port, TLS and mTLS, metadata, a
fresh connection per attempt; on uvloop as the probe worker runs it, many probes on one loop, in the real probe
worker process, and built in a parent that then forks."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from prober.config.grpc_check import GrpcCheck
from prober.event_loop import run_loop
from prober.http.tls_contexts import TlsContexts
from prober.probers.grpc import GrpcProber
from prober.result import GrpcOutcome, Phase, Reason, Result
from tests.grpc_probe_worker import runs_in_probe_worker
from tests.grpc_server import GrpcServer, closed_port
from tests.processes import REPO
from tests.tls_certs import Certs

UNAVAILABLE, DEADLINE_EXCEEDED, NOT_FOUND, UNIMPLEMENTED, UNAUTHENTICATED = 14, 4, 5, 12, 16
SLACK_S = 1.5
"""How far past its timeout a run may end on a loaded machine (the scheduler's backstop is 1 s past it)."""


def grpc_check(target: str, **extra: Any) -> GrpcCheck:
    return GrpcCheck.model_validate({"name": "health", "type": "grpc", "target": target, "interval": "10s",
                                     "timeout": "2s", "attempts": 1, **extra})


async def probe(target: str, **extra: Any) -> Result:
    return await GrpcProber(grpc_check(target, **extra), TlsContexts()).probe()


def with_ca(certs: Certs, **tls_config: str) -> dict[str, Any]:
    return {"tls": True, "tls_config": {"ca_file": str(certs.ca_cert), **tls_config}}


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GrpcServer]:
    server = GrpcServer(tmp_path_factory.mktemp("grpc-plain"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Iterator[GrpcServer]:
    server = GrpcServer(tmp_path_factory.mktemp("grpc-tls"), "--tls-cert", str(certs.good[0]),
                        "--tls-key", str(certs.good[1]))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mtls(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Iterator[GrpcServer]:
    server = GrpcServer(tmp_path_factory.mktemp("grpc-mtls"), "--tls-cert", str(certs.good[0]),
                        "--tls-key", str(certs.good[1]), "--client-ca", str(certs.ca_cert))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GrpcServer]:
    server = GrpcServer(tmp_path_factory.mktemp("grpc-auth"), "--token", "s3cret-token")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def no_health(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GrpcServer]:
    server = GrpcServer(tmp_path_factory.mktemp("grpc-no-health"), "--no-health")
    yield server
    server.stop()


@pytest.fixture
def silent_listener() -> Iterator[str]:
    """A port whose kernel accepts TCP connections that nobody ever reads or answers (no HTTP/2 settings)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def assert_bounded(result: Result, timeout_s: float = 2.0) -> None:
    assert 0.0 < result.duration_s < timeout_s + SLACK_S
    assert set(result.phases) <= {Phase.QUERY}
    assert all(0.0 < seconds <= result.duration_s for seconds in result.phases.values())
    assert len(result.detail) <= 300 and "\n" not in result.detail


async def test_a_serving_server_passes_and_the_call_is_timed_apart_from_the_connection(plain: GrpcServer) -> None:
    before = time.time()
    result = await probe(plain.target)
    assert result.ok and result.reason is Reason.OK, result.detail
    assert result.protocol == GrpcOutcome(status_code=0, serving_status="SERVING")
    assert set(result.phases) == {Phase.QUERY}
    assert result.phases[Phase.QUERY] < result.duration_s  # the fresh channel's connect is in the run, not the call
    assert before <= result.started_at <= time.time()
    assert result.detail == "serving status SERVING"
    assert_bounded(result)


async def test_a_named_service_that_serves_passes(plain: GrpcServer) -> None:
    result = await probe(plain.target, service="shop")
    assert result.ok and result.protocol == GrpcOutcome(0, "SERVING")
    assert "shop" in result.detail


async def test_a_service_switched_to_not_serving_fails_the_next_run_as_assertion(plain: GrpcServer) -> None:
    assert (await probe(plain.target, service="toggle")).ok
    assert plain.toggle() == "NOT_SERVING"
    try:
        result = await probe(plain.target, service="toggle")
    finally:
        assert plain.toggle() == "SERVING"
    assert not result.ok and result.reason is Reason.ASSERTION
    assert result.protocol == GrpcOutcome(status_code=0, serving_status="NOT_SERVING")
    assert "serving status NOT_SERVING" in result.detail
    assert set(result.phases) == {Phase.QUERY}  # it answered
    assert (await probe(plain.target, service="toggle")).ok  # and serves again once switched back


async def test_an_unknown_service_is_an_assertion_naming_it(plain: GrpcServer) -> None:
    result = await probe(plain.target, service="no-such-service")
    assert result.reason is Reason.ASSERTION and not result.ok
    assert result.protocol == GrpcOutcome(status_code=NOT_FOUND, serving_status=None)
    assert "service 'no-such-service' unknown to the server" in result.detail
    assert_bounded(result)


async def test_a_serving_status_the_protocol_does_not_define_is_protocol(plain: GrpcServer) -> None:
    result = await probe(plain.target, service="weird")
    assert result.reason is Reason.PROTOCOL
    assert result.protocol == GrpcOutcome(status_code=0, serving_status=None)
    assert "serving status 7" in result.detail


async def test_a_server_without_the_health_service_is_protocol(no_health: GrpcServer) -> None:
    result = await probe(no_health.target)
    assert result.reason is Reason.PROTOCOL
    assert result.protocol == GrpcOutcome(status_code=UNIMPLEMENTED)
    assert "does not implement grpc.health.v1" in result.detail


async def test_a_server_that_never_answers_the_call_times_out_within_the_bound(plain: GrpcServer) -> None:
    result = await probe(plain.target, service="hang", timeout="1s")
    assert result.reason is Reason.TIMEOUT and not result.ok
    assert result.protocol == GrpcOutcome(status_code=DEADLINE_EXCEEDED)
    assert result.detail == "no answer within 1s"
    assert result.phases == {}  # the call got no answer
    assert 0.8 <= result.duration_s < 1.0 + SLACK_S  # it waited for the deadline, and no longer
    assert (await probe(plain.target)).ok  # the hanging call did not take the server down with it


async def test_a_listener_that_never_speaks_http2_times_out_while_connecting(silent_listener: str) -> None:
    result = await probe(silent_listener, timeout="1s")
    assert result.reason is Reason.TIMEOUT
    assert result.detail == "no answer within 1s (while connecting)"
    assert result.protocol is None and result.phases == {}  # no call was made
    assert 0.8 <= result.duration_s < 1.0 + SLACK_S


async def test_a_closed_port_is_connect_at_once(plain: GrpcServer) -> None:
    result = await probe(f"127.0.0.1:{closed_port()}")
    assert result.reason is Reason.CONNECT
    assert result.protocol == GrpcOutcome(status_code=UNAVAILABLE)
    assert result.detail.startswith("UNAVAILABLE: ") and "refused" in result.detail.lower()
    assert result.phases == {}
    assert result.duration_s < 1.5  # refused is an answer: no wait for the timeout


async def test_a_slow_answer_is_slow(plain: GrpcServer) -> None:
    result = await probe(plain.target, service="slow", expect={"max_duration": "100ms"})
    assert result.reason is Reason.SLOW and not result.ok
    assert result.protocol == GrpcOutcome(0, "SERVING")
    assert result.duration_s >= 0.3 and "max_duration: 0.1s" in result.detail
    assert (await probe(plain.target, service="slow", expect={"max_duration": "1500ms"})).ok


async def test_each_attempt_is_a_new_connection_even_two_at_once(plain: GrpcServer) -> None:
    before = len(plain.peers())
    prober = GrpcProber(grpc_check(plain.target), TlsContexts())
    assert (await prober.probe()).ok and (await prober.probe()).ok
    together = await asyncio.gather(prober.probe(), prober.probe())
    assert all(result.ok for result in together)
    peers = plain.peers()[before:]
    assert len(peers) == 4 and len(set(peers)) == 4  # four calls, four client ports: nothing pooled or shared


async def test_tls_with_the_ca_passes_by_ip_by_name_and_by_server_name(tls: GrpcServer, certs: Certs) -> None:
    by_ip = await probe(tls.target, **with_ca(certs))
    by_name = await probe(f"localhost:{tls.port}", **with_ca(certs))
    by_server_name = await probe(tls.target, **with_ca(certs, server_name="localhost"))
    for result in (by_ip, by_name, by_server_name):
        assert result.ok, result.detail
        assert result.protocol == GrpcOutcome(0, "SERVING") and set(result.phases) == {Phase.QUERY}


async def test_tls_without_trusting_the_ca_is_tls(tls: GrpcServer) -> None:
    result = await probe(tls.target, tls=True)  # the system's roots only
    assert result.reason is Reason.TLS
    assert result.protocol == GrpcOutcome(status_code=UNAVAILABLE)
    assert "handshake failed" in result.detail.lower() and "CERTIFICATE_VERIFY_FAILED" in result.detail
    assert result.phases == {}


async def test_tls_to_a_name_the_certificate_does_not_hold_is_tls(tls: GrpcServer, certs: Certs) -> None:
    result = await probe(tls.target, **with_ca(certs, server_name="wrong.example"))
    assert result.reason is Reason.TLS
    assert "hostname verification" in result.detail.lower()


async def test_tls_to_a_plain_server_is_tls(plain: GrpcServer, certs: Certs) -> None:
    result = await probe(plain.target, **with_ca(certs))
    assert result.reason is Reason.TLS and "WRONG_VERSION_NUMBER" in result.detail


async def test_plain_text_to_a_tls_server_is_connect(tls: GrpcServer) -> None:
    """The TLS server closes a connection that does not start a handshake: grpc says only "Socket closed"."""
    result = await probe(tls.target)
    assert result.reason is Reason.CONNECT and "socket closed" in result.detail.lower()


async def test_mtls_passes_with_the_client_certificate_and_fails_without(mtls: GrpcServer, certs: Certs) -> None:
    client = {"cert_file": str(certs.good[0]), "key_file": str(certs.good[1])}
    stranger = {"cert_file": str(certs.selfsigned[0]), "key_file": str(certs.selfsigned[1])}
    with_cert = await probe(mtls.target, **with_ca(certs, **client))
    without = await probe(mtls.target, **with_ca(certs))
    untrusted = await probe(mtls.target, **with_ca(certs, **stranger))
    assert with_cert.ok, with_cert.detail
    for result in (without, untrusted):  # TLS 1.3: the client's handshake is done; the server just hangs up
        assert not result.ok and result.reason is Reason.CONNECT
        assert result.protocol == GrpcOutcome(status_code=UNAVAILABLE)


async def test_metadata_the_server_requires_given_passes_missing_or_wrong_is_an_assertion(auth: GrpcServer) -> None:
    given = await probe(auth.target, metadata={"authorization": "Bearer s3cret-token"})
    missing = await probe(auth.target)
    wrong = await probe(auth.target, metadata={"authorization": "Bearer not-the-token"})
    assert given.ok, given.detail
    for result in (missing, wrong):
        assert result.reason is Reason.ASSERTION
        assert result.protocol == GrpcOutcome(status_code=UNAUTHENTICATED)
        assert result.detail.startswith("UNAUTHENTICATED")
        assert "token" in result.detail and "s3cret" not in result.detail and "not-the-token" not in result.detail


def test_on_uvloop_many_probes_share_one_loop_that_never_stalls(plain: GrpcServer, silent_listener: str) -> None:
    """As in a probe worker (prober.event_loop.run_loop: uvloop): 24 probes at once, of every outcome, while a
    ticker on the same loop measures how late it wakes; each probe ends as it should and the loop stays free."""

    async def scenario() -> tuple[list[Result], float, str]:
        loop_kind = type(asyncio.get_running_loop()).__module__
        worst_gap = 0.0
        running = True

        async def ticker() -> None:
            nonlocal worst_gap
            while running:
                before = time.perf_counter()
                await asyncio.sleep(0.01)
                worst_gap = max(worst_gap, time.perf_counter() - before - 0.01)

        tick = asyncio.create_task(ticker())
        cases = [{}, {"service": "no-such"}, {"service": "hang", "timeout": "1s"}] * 6
        targets = [plain.target] * len(cases) + [f"127.0.0.1:{closed_port()}"] * 3 + [silent_listener] * 3
        cases += [{}] * 3 + [{"timeout": "1s"}] * 3
        results = await asyncio.gather(*(probe(target, **case) for target, case in zip(targets, cases, strict=True)))
        running = False
        await tick
        return list(results), worst_gap, loop_kind

    results, worst_gap, loop_kind = run_loop(scenario())
    assert loop_kind.startswith("uvloop")
    reasons = [result.reason for result in results]
    assert reasons[:18] == [Reason.OK, Reason.ASSERTION, Reason.TIMEOUT] * 6
    assert reasons[18:] == [Reason.CONNECT] * 3 + [Reason.TIMEOUT] * 3
    assert all(result.duration_s < 2.0 + SLACK_S for result in results)
    assert worst_gap < 0.5  # grpc waits off the loop: a blocking wait would stall it for the whole second


def test_in_the_real_probe_worker_process(plain: GrpcServer, tls: GrpcServer, certs: Certs) -> None:
    """The probe worker (`python -m prober.probing`) builds the probers from Define frames and runs them on its
    uvloop loop, several grpc checks side by side, and sends back what the prober found."""
    common = {"type": "grpc", "interval": "500ms", "timeout": "400ms", "attempts": 1}
    checks = [
        GrpcCheck.model_validate({"name": "serving", "target": plain.target, **common}),
        GrpcCheck.model_validate({"name": "unknown", "target": plain.target, "service": "nope", **common}),
        GrpcCheck.model_validate({"name": "hang", "target": plain.target, "service": "hang", **common}),
        GrpcCheck.model_validate({"name": "refused", "target": f"127.0.0.1:{closed_port()}", **common}),
        GrpcCheck.model_validate({"name": "tls", "target": tls.target, **with_ca(certs), **common}),
    ]
    runs = runs_in_probe_worker(checks, runs_each=2, timeout_s=30)
    expected = {"serving": Reason.OK, "unknown": Reason.ASSERTION, "hang": Reason.TIMEOUT,
                "refused": Reason.CONNECT, "tls": Reason.OK}
    for name, reason in expected.items():
        assert len(runs[name]) >= 2, name
        assert {run.reason for run in runs[name]} == {reason}, (name, [run.detail for run in runs[name]])
    assert all(run.protocol == GrpcOutcome(0, "SERVING") for run in runs["serving"] + runs["tls"])


def test_built_in_a_parent_that_then_forks_the_child_probes(tls: GrpcServer, certs: Certs, tmp_path: Path) -> None:
    """The agent builds every prober in its main process (to validate a load) before and while it starts probe
    workers: building one starts nothing of grpc's core (no thread, no channel: a grpc channel made before a
    fork breaks the child), so a child forked after it probes fine on uvloop, and so does the parent."""
    script = tmp_path / "fork_after_build.py"
    script.write_text(
        "import os, sys\n"
        "from prober.config.grpc_check import GrpcCheck\n"
        "from prober.event_loop import run_loop\n"
        "from prober.http.tls_contexts import TlsContexts\n"
        "from prober.probers.grpc import GrpcProber\n"
        "def threads(): return len(os.listdir('/proc/self/task'))\n"
        "before = threads()\n"
        f"check = GrpcCheck.model_validate({{'name': 'fork', 'type': 'grpc', 'target': {tls.target!r}, "
        f"'interval': '10s', 'timeout': '5s', 'attempts': 1, **{with_ca(certs)!r}}})\n"
        "prober = GrpcProber(check, TlsContexts())\n"
        "print('threads', before, threads(), flush=True)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(0 if run_loop(prober.probe()).ok else 3)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print('child', os.waitstatus_to_exitcode(status), 'parent', run_loop(prober.probe()).reason, flush=True)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=REPO,
                          check=False)
    lines = done.stdout.split("\n")
    assert done.returncode == 0, done.stderr
    _, before, after = lines[0].split()
    assert before == after  # building started no thread (a grpc channel starts several)
    assert lines[1] == "child 0 parent ok"


def test_an_unreadable_ca_file_fails_the_build_not_each_run(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ValueError, match="PEM"):  # build_jobs reports it as "tls: cannot load: ..."
        GrpcProber(grpc_check("127.0.0.1:1", tls=True, tls_config={"ca_file": str(bad)}), TlsContexts())


@pytest.mark.parametrize(("extra", "message"), [
    ({"tls": True, "tls_config": {"insecure": True}}, "tls_config.insecure is not supported by type grpc"),
    ({"tls_config": {"server_name": "x"}}, "tls_config is set but tls is false"),
    ({"tls": True, "tls_config": {"cert_file": __file__}}, "needs both cert_file and key_file"),
    ({"metadata": {"Authorization": "Bearer x"}}, "key 'Authorization'"),
    ({"metadata": {"grpc-timeout": "1S"}}, "key 'grpc-timeout'"),
    ({"metadata": {"x-trace": "a\nb"}}, "printable ASCII"),
])
def test_what_grpc_cannot_do_is_rejected_at_load(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        grpc_check("127.0.0.1:50051", **extra)
