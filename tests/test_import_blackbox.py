"""`prober import blackbox`: Debian's blackbox.yml and the tests' own modules (tests/import/) become an agent.yaml
that `prober validate` accepts, that carries every option over or says why not, and that runs green against the
demo shop on loopback; the targets it finds are those Debian's Prometheus scrapes from the same scrape config."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import yaml

from prober.config import load_config
from prober.config.models import AgentConfig, DnsCheck, GrpcCheck, HttpCheck, IcmpCheck, TcpCheck
from prober.config.units import parse_duration
from prober.importers import ImportFailedError, import_blackbox
from prober.importers.check_names import check_name
from prober.importers.go_syntax import GoRegexError, expand, python_regex
from prober.importers.scrape_targets import read_scrape_targets
from prober.importers.yaml_source import Problems
from tests.processes import REPO, AgentProcess, DemoShop, PrometheusProcess, free_port

FIXTURES = REPO / "tests" / "import"
DEBIAN_MODULES = Path("/etc/prometheus/blackbox.yml")
needs_debian_modules = pytest.mark.skipif(not DEBIAN_MODULES.is_file(),
                                          reason="Debian's prometheus-blackbox-exporter is not installed")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prober", *args], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env=dict(os.environ))


def fixture_tree(folder: Path, ports: dict[str, int]) -> Path:
    """tests/import copied into `folder`, each port placeholder (HTTP_PORT, ...) replaced by its port."""
    for source in FIXTURES.rglob("*"):
        if source.is_file():
            text = source.read_text()
            for placeholder, port in ports.items():
                text = text.replace(placeholder, str(port))
            (folder / source.relative_to(FIXTURES)).parent.mkdir(parents=True, exist_ok=True)
            (folder / source.relative_to(FIXTURES)).write_text(text)
    return folder


def demo_ports(shop: DemoShop) -> dict[str, int]:
    return {"HTTP_PORT": shop.port, "DNS_PORT": shop.dns_port, "GRPC_PORT": shop.grpc_port,
            "CLOSED_PORT": free_port()}


def imported(folder: Path, modules: Path, targets: str) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = folder / "agent.yaml"
    done = run_cli("import", "blackbox", "--modules", str(modules), "--targets", str(folder / targets),
                   "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out, done


def by_name(config: AgentConfig) -> dict[str, Any]:
    return {check.name: check for check in config.checks}


def comments_of(text: str, name: str) -> str:
    """The comment lines of one check: those above its `- name:` line and those inside it."""
    blocks = re.split(r"\n(?=  # module )", text)
    return "\n".join(line for block in blocks if f"- name: {name}\n" in block
                     for line in block.splitlines() if line.lstrip().startswith("#"))


@needs_debian_modules
def test_debian_modules_import_to_an_agent_yaml_that_validates(tmp_path: Path) -> None:
    folder = fixture_tree(tmp_path, {"HTTP_PORT": 8080, "GRPC_PORT": 8081, "CLOSED_PORT": 9})
    out, done = imported(folder, DEBIAN_MODULES, "debian-prometheus.yml")
    assert "10 check(s), 0 commented out" in done.stderr
    validated = run_cli("validate", "--config", str(out))  # the real command: models, cross-checks, probers
    assert validated.returncode == 0, validated.stderr
    assert "ok: 10 check(s)" in validated.stdout
    checks = by_name(load_config(out))
    assert set(checks) == {
        "http_2xx.127.0.0.1_8080", "http_post_2xx.127.0.0.1_8080_api_health", "http_2xx.127.0.0.1_8080_login",
        "tcp_connect.127.0.0.1_8080", "icmp.127.0.0.1", "grpc_plain.127.0.0.1_8081", "grpc.127.0.0.1_9",
        "ssh_banner.127.0.0.1_9", "pop3s_banner.127.0.0.1_9", "irc_banner.127.0.0.1_9"}
    for check in checks.values():  # the global scrape_interval and scrape_timeout; blackbox probes once
        assert (check.interval, check.timeout, check.attempts) == (1.0, 0.8, 1)
    assert isinstance(post := checks["http_post_2xx.127.0.0.1_8080_api_health"], HttpCheck)
    assert (post.method, post.url) == ("POST", "http://127.0.0.1:8080/api/health")
    ssh = checks["ssh_banner.127.0.0.1_9"]
    assert isinstance(ssh, TcpCheck) and ssh.target == "127.0.0.1:9"
    assert [step.expect.pattern if step.expect else None for step in ssh.query_response] == ["^SSH-2.0-", None]
    assert ssh.query_response[1].send == "SSH-2.0-blackbox-ssh-check\n"  # blackbox's newline, written out
    pop3s = checks["pop3s_banner.127.0.0.1_9"]
    assert isinstance(pop3s, TcpCheck) and pop3s.tls and not pop3s.tls_config.insecure
    assert pop3s.query_response[0].expect is not None
    assert pop3s.query_response[0].expect.search("OK ready") and not pop3s.query_response[0].expect.search("+OK")
    irc = checks["irc_banner.127.0.0.1_9"]
    assert isinstance(irc, TcpCheck) and irc.query_response[2].send == "PONG ${1}\n"  # `$$` in the file
    plain, tls = checks["grpc_plain.127.0.0.1_8081"], checks["grpc.127.0.0.1_9"]
    assert isinstance(plain, GrpcCheck) and (plain.service, plain.tls) == ("service1", False)
    assert isinstance(tls, GrpcCheck) and tls.tls
    icmp = checks["icmp.127.0.0.1"]
    assert isinstance(icmp, IcmpCheck) and (icmp.target, icmp.packets) == ("127.0.0.1", 1)
    text = out.read_text()
    assert "(?:^)+OK" in comments_of(text, "pop3s_banner.127.0.0.1_9")  # Go's `^+OK` is `^OK`: said
    assert "blackbox filled ${1}" in comments_of(text, "irc_banner.127.0.0.1_9")
    assert "blackbox: preferred_ip_protocol / ip_protocol_fallback (no prober equivalent)" in comments_of(
        text, "grpc.127.0.0.1_9")
    assert "# module icmp_ttl5 (prober icmp): used by no scrape job: skipped" in text
    assert "job prometheus: 1 target(s), none with a target parameter" in text
    assert "packets: 1, as blackbox sends one echo request" in text


@needs_debian_modules
@pytest.mark.slow
def test_the_import_of_debian_modules_runs_against_loopback(tmp_path: Path, demo_shop: DemoShop) -> None:
    folder = fixture_tree(tmp_path, demo_ports(demo_shop))
    out, _done = imported(folder, DEBIAN_MODULES, "debian-prometheus.yml")
    config = load_config(out)
    assert all(check.type in ("http", "tcp", "icmp", "grpc") for check in config.checks)
    agent = AgentProcess(out)
    try:
        for check in config.checks:  # every check runs, again and again
            agent.wait_for_metric("prober_check_runs_total", lambda v: v >= 2, timeout_s=60, check=check.name)
        port = demo_shop.port
        for name in (f"http_2xx.127.0.0.1_{port}", f"http_2xx.127.0.0.1_{port}_login",
                     f"tcp_connect.127.0.0.1_{port}", "icmp.127.0.0.1"):
            assert agent.metric("probe_success", check=name) == 1, [
                line for line in agent.lines if line.get("check") == name][-1:]
        # blackbox fails these too: service1 is unknown to the demo, nothing listens on the closed port
        assert agent.metric("probe_success", check=f"grpc_plain.127.0.0.1_{demo_shop.grpc_port}") == 0
        assert agent.metric("probe_success", check=f"ssh_banner.127.0.0.1_{demo_ports(demo_shop)['CLOSED_PORT']}"
                            ) in (0, None)
    finally:
        assert agent.stop() == 0


@pytest.mark.slow
def test_the_tests_own_modules_run_green_against_the_demo(tmp_path: Path, demo_shop: DemoShop) -> None:
    folder = fixture_tree(tmp_path, demo_ports(demo_shop))
    out, done = imported(folder, folder / "blackbox.yml", "prometheus-run.yml")
    assert "5 check(s), 0 commented out" in done.stderr
    assert run_cli("validate", "--config", str(out)).returncode == 0
    config = load_config(out)
    assert {check.type for check in config.checks} == {"http", "dns", "grpc", "tcp", "icmp"}
    agent = AgentProcess(out)
    try:
        for check in config.checks:  # mapped right, each meets what its module asked of the demo
            agent.wait_for_metric("prober_check_runs_total", lambda v: v >= 2, timeout_s=60, check=check.name)
            assert agent.metric("probe_success", check=check.name) == 1, [
                line for line in agent.lines if line.get("check") == check.name][-1:]
    finally:
        assert agent.stop() == 0


def test_every_option_is_carried_over_or_commented(tmp_path: Path) -> None:
    folder = fixture_tree(tmp_path, {})
    result = import_blackbox(folder / "blackbox.yml", folder / "prometheus.yml", modules_label="blackbox.yml",
                             targets_label="prometheus.yml")
    out = tmp_path / "agent.yaml"
    out.write_text(result.text)
    checks = by_name(load_config(out))
    text = result.text
    sink = checks["kitchen_sink.127.0.0.1_8443"]
    assert isinstance(sink, HttpCheck)
    assert (sink.method, sink.body, sink.proxy, sink.follow_redirects) == ("POST", '{"q": 1}',
                                                                          "http://127.0.0.1:3128", False)
    assert sink.headers == {"Host": "shop.example", "X-Multi": "second", "X-Token": "s3cr3t",
                            "Authorization": "Token abc"}  # hostname parameter, http_headers' last value
    assert sink.expect.status == ["200", "301"]
    assert [p.pattern for p in sink.expect.body_regex] == [r"ok\Z"]
    assert (sink.tls.insecure, sink.tls.server_name, sink.interval, sink.timeout) == (True, "shop.example", 60, 8)
    said = comments_of(text, "kitchen_sink.127.0.0.1_8443")
    for comment in ("blackbox: oauth2 (no prober equivalent)", "blackbox: fail_if_body_json_matches_cel (no prober "
                    "equivalent)", "blackbox: tls_config.min_version (no prober equivalent)",
                    "blackbox: fail_if_not_ssl (no prober equivalent): the URL is https",
                    "valid_status_codes ['999'] left out", "/\\p{Greek}+/ not carried over",
                    "blackbox: brand_new_option (not an option this importer knows: ignored)",
                    "also probed by job blackbox_http (targets/web.yml: [0].targets[1])"):
        assert comment in said
    assert "fail_if_ssl" not in said  # false: it asks for nothing
    bearer = checks["bearer.127.0.0.1_8080"]
    assert isinstance(bearer, HttpCheck) and bearer.bearer_token == "t0ken$$x"  # blackbox has no ${VAR}: as is
    assert bearer.basic_auth is not None and bearer.basic_auth.password == "p@ss"
    smtp = checks["smtp_starttls.127.0.0.1_25"]
    assert isinstance(smtp, TcpCheck) and smtp.ip_family == "auto"
    assert [(s.expect.pattern if s.expect else None, s.send, s.starttls) for s in smtp.query_response] == [
        ("^220 ([^ ]+) ESMTP", "EHLO ${1}\r\n", False), (r"250\-", None, False), (None, "STARTTLS\r\n", False),
        ("^220", None, False), (None, None, True)]
    dot = checks["dot.127.0.0.1_853"]
    assert isinstance(dot, DnsCheck)
    assert (dot.query_type, dot.transport, dot.tls.server_name, dot.expect.rcode) == ("CAA", "tls", "dns.example",
                                                                                      ["NOERROR"])
    assert "blackbox: query_class (no prober equivalent): prober asks class IN" in comments_of(text,
                                                                                               "dot.127.0.0.1_853")
    wrong = checks["wrong_types.127.0.0.1_8080"]
    assert isinstance(wrong, HttpCheck) and wrong.method == "POST" and wrong.expect.status == ["2xx"]
    assert ("blackbox.yml: modules.wrong_types.http.valid_status_codes: expected a list (got '2xx'): ignored"
            in result.problems)
    assert "blackbox.yml: modules.wrong_types.timeout: expected a duration such as '5s'" in "\n".join(
        result.problems)
    assert "prometheus.yml: scrape_configs[1] (blackbox_http).file_sd_configs[0].files[2]: no file matches" in (
        "\n".join(result.problems))
    disabled = "\n".join(result.disabled)
    for reason in ("secret_files.127.0.0.1_8080: blackbox.yml: modules.secret_files.http.bearer_token_file: "
                   "prober reads no secret files", "missing_ca.127.0.0.1_8443: blackbox.yml: "
                   "modules.missing_ca.tcp.tls_config.ca_file: file", "smtp_starttls.127.0.0.1: prometheus.yml: "
                   "scrape_configs[2] (blackbox_by_label).static_configs[4].targets[1]: target '127.0.0.1' is not "
                   "host:port", "dnskey.127.0.0.1: blackbox.yml: modules.dnskey.dns.query_type: query type DNSKEY",
                   "grpc_tls.127.0.0.1: blackbox.yml: modules.grpc_tls.grpc.tls_config.insecure_skip_verify"):
        assert reason in disabled
    assert "  # - name: grpc_tls.127.0.0.1\n" in text and "  #   target: 127.0.0.1:443\n" in text
    assert "job blackbox_by_label: target /run/socket: module socket_file (prober unix): no prober equivalent" in text
    assert "module 'no_such_module' is not in blackbox.yml: skipped" in text
    assert "# module never_used (prober tcp): used by no scrape job: skipped" in text
    assert "socket_file (prober unix): used by no scrape job" not in text
    assert "skip-me" not in text  # dropped by the job's `action: drop`
    assert "owner_web=shop" in comments_of(text, "kitchen_sink.127.0.0.1_8080_api_health")  # labelmap
    for name in checks:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", name)
    long_names = [name for name in checks if "very_long_path" in name]
    assert len(long_names) == 2 and all(len(name) == 63 for name in long_names)


def test_answer_patterns_keep_blackbox_meaning_on_rdata(tmp_path: Path) -> None:
    """blackbox matched `shop.demo.<TAB>60<TAB>IN<TAB>A<TAB>127.0.0.1`; prober matches `127.0.0.1`: the moved
    patterns pass and fail the same answers blackbox's did."""
    folder = fixture_tree(tmp_path, {"HTTP_PORT": 8080, "DNS_PORT": 8053, "GRPC_PORT": 8081})
    result = import_blackbox(folder / "blackbox.yml", folder / "prometheus-run.yml")
    out = tmp_path / "agent.yaml"
    out.write_text(result.text)
    checks = by_name(load_config(out))
    dns = checks["shop_dns.127.0.0.1_8053"]
    assert isinstance(dns, DnsCheck) and (dns.transport, dns.recursion_desired) == ("tcp", False)

    def passes(answers: list[str]) -> bool:
        return (len(answers) >= dns.expect.min_answers
                and all(any(p.search(a) for a in answers) for p in dns.expect.answer_regex)
                and not any(p.search(a) for p in dns.expect.answer_not_regex for a in answers))

    assert passes(["127.0.0.1"])
    assert not passes([])  # fail_if_not_matches_regexp needs an answer
    assert not passes(["127.0.0.1", "127.0.0.2"])  # every answer must be 127.0.0.1
    assert not passes(["10.0.0.1"])  # fail_if_matches_regexp
    assert not passes(["192.0.2.1"])  # fail_if_all_match_regexp, and not 127.0.0.1
    page = checks["shop_page.127.0.0.1_8080"]
    assert isinstance(page, HttpCheck) and page.ip_family == "ip4" and page.max_body_bytes == 2 << 20
    assert page.headers == {"Accept": "text/html", "X-Cost": "$5 a month"}  # `$` doubled in the file, read back
    length = page.expect.headers["Content-Length"]  # fail_if_header_matches: the value must not match ^0$
    assert length.search("1234") and not length.search("0")
    assert "Content-Type" in page.expect.headers and "X-Powered-By" not in page.expect.headers  # allow_missing
    tcp = checks["shop_port.127.0.0.1_8080"]
    assert isinstance(tcp, TcpCheck) and tcp.query_response[0].send == "GET /api/health HTTP/1.0\r\n"
    ping = checks["loopback_ping.127.0.0.1"]
    assert isinstance(ping, IcmpCheck) and (ping.payload_bytes, ping.ip_family) == (32, "ip4")
    said = comments_of(result.text, "loopback_ping.127.0.0.1")
    assert "blackbox: ttl (no prober equivalent): prober sends with the system's TTL (was 16)" in said
    assert "blackbox: dont_fragment (no prober equivalent)" in said
    grpc = checks["shop_grpc.127.0.0.1_8081"]
    assert isinstance(grpc, GrpcCheck) and grpc.metadata == {"x-probe": "importer"}


@pytest.mark.slow
def test_the_importer_finds_the_targets_prometheus_scrapes(tmp_path: Path) -> None:
    """Debian's Prometheus reads the same scrape config; its scrape URLs name the module and target blackbox would
    probe. Its scrapes go to 127.0.0.1:9115, where nothing listens."""
    folder = fixture_tree(tmp_path / "config", {})
    prometheus = PrometheusProcess(folder / "prometheus.yml", tmp_path / "tsdb")
    try:
        reading = read_scrape_targets(folder / "prometheus.yml", "prometheus.yml", Problems())
        ours = sorted((t.job, t.module, t.target, t.interval_s, t.timeout_s) for t in reading.targets)
        deadline, theirs = time.monotonic() + 60, []
        while time.monotonic() < deadline:  # file_sd files are read a moment after start
            active = prometheus.api("targets", state="active")["data"]["activeTargets"]
            theirs = sorted(_probe_of(target) for target in active if target["scrapePool"] != "node")
            if len(theirs) >= len(ours):
                break
            time.sleep(0.5)
        assert theirs == ours
        sharded = [t for t in ours if t[0] == "blackbox_sharded"]
        assert 0 < len(sharded) < 6  # hashmod kept some of the gold ones (by Prometheus' own hash), no silver one
        assert len(ours) == 17 + len(sharded)  # the skip-me target is dropped by both
    finally:
        prometheus.stop()


def _probe_of(target: dict[str, Any]) -> tuple[str, str, str, float, float]:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(target["scrapeUrl"]).query)
    return (target["scrapePool"], query.get("module", ["http_2xx"])[0], query["target"][0],
            parse_duration(target["scrapeInterval"]), parse_duration(target["scrapeTimeout"]))


def test_nothing_to_import_exits_1_saying_why(tmp_path: Path) -> None:
    (tmp_path / "blackbox.yml").write_text("modules:\n  http_2xx: {prober: http}\n")
    (tmp_path / "prometheus.yml").write_text("scrape_configs:\n  - job_name: node\n    static_configs:\n"
                                             "      - targets: ['127.0.0.1:9100']\n")
    done = run_cli("import", "blackbox", "--modules", str(tmp_path / "blackbox.yml"), "--targets",
                   str(tmp_path / "prometheus.yml"), "--out", str(tmp_path / "agent.yaml"))
    assert done.returncode == 1
    assert "no target of any scrape job probes through blackbox_exporter" in done.stderr
    assert "job node: 1 target(s), none with a target parameter" in done.stderr
    assert not (tmp_path / "agent.yaml").exists()


@pytest.mark.parametrize(("modules", "expected"), [
    ("modules:\n  http_2xx: {prober: http\n", "blackbox.yml: line 3, column 1: not valid YAML"),
    ("modules: [http_2xx]\n", "blackbox.yml: modules: expected a mapping (got ['http_2xx'])"),
])
def test_a_broken_module_file_says_where(tmp_path: Path, modules: str, expected: str) -> None:
    (tmp_path / "blackbox.yml").write_text(modules)
    shutil.copy(FIXTURES / "prometheus.yml", tmp_path / "prometheus.yml")
    with pytest.raises(ImportFailedError) as caught:
        import_blackbox(tmp_path / "blackbox.yml", tmp_path / "prometheus.yml", modules_label="blackbox.yml")
    assert caught.value.problems[0].startswith(expected), caught.value.problems


def test_stdout_is_the_agent_yaml_when_no_out_is_given(tmp_path: Path) -> None:
    folder = fixture_tree(tmp_path, {"HTTP_PORT": 8080, "DNS_PORT": 8053, "GRPC_PORT": 8081})
    done = run_cli("import", "blackbox", "--modules", str(folder / "blackbox.yml"), "--targets",
                   str(folder / "prometheus-run.yml"))
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(done.stdout)["checks"][0]["name"] == "shop_page.127.0.0.1_8080"
    assert "stdout: 5 check(s)" in done.stderr


def test_check_names_are_bounded_unique_and_stable() -> None:
    taken: set[str] = set()
    first = check_name("http_2xx", "https://example.com/health", taken)
    assert first == "http_2xx.example.com_health"
    again = check_name("http_2xx", "http://example.com/health", taken)  # the same once cleaned: hashed
    assert again != first and again.startswith("http_2xx.example.com_health-") and len(again) <= 63
    long = check_name("m" * 80, "x" * 200, taken)
    assert len(long) == 63 and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", long)
    assert check_name("m" * 80, "x" * 200, set()) == long  # the same pair, the same name, run after run
    assert check_name("é/ü", "::1", set()) == "module.1"


@pytest.mark.parametrize(("go", "matches", "misses"), [
    ("^+OK", ["OK ready"], ["+OK ready"]),  # Go repeats the assertion: this is ^OK
    (r"(?i)ssh-\d", ["SSH-2"], ["ssh2"]),
    ("[[:digit:]]+x", ["12x"], ["ax"]),
    (r"\Qa.b\E$", ["xa.b"], ["axb"]),
    (r"ok\z", ["ok"], ["ok\n"]),
    (r"(?<port>\d+)", ["80"], ["x"]),
    ("[]a]", ["]"], ["b"]),
])
def test_go_regexps_mean_the_same_in_python(go: str, matches: list[str], misses: list[str]) -> None:
    pattern = re.compile(python_regex(go))
    assert all(pattern.search(text) for text in matches)
    assert not any(pattern.search(text) for text in misses)


@pytest.mark.parametrize("go", [r"\pL", "(?U)a+", r"a(?i)b", r"\1"])
def test_go_regexps_python_cannot_say_are_refused(go: str) -> None:
    with pytest.raises(GoRegexError):
        python_regex(go)


def test_replacements_expand_as_go_does() -> None:
    match = re.fullmatch(r"(?P<host>[^:]+):(\d+)", "shop:80")
    assert match is not None
    assert [expand(t, match) for t in ("$1", "${2}x", "$2x", "$host", "$$1", "${nope}", "a$")] == [
        "shop", "80x", "", "shop", "$1", "", "a$"]
