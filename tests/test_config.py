"""Config loading: every rejection has its own invalid file, and each error names file, check and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from prober.config import ConfigError, load_config
from prober.config.models import HttpCheck, JourneyCheck
from prober.config.page_check import PageCheck
from prober.config.units import format_duration, parse_duration, parse_size

CONFIG_DIR = Path(__file__).parent / "config"
INVALID = sorted(CONFIG_DIR.glob("invalid-*.yaml"))


def _expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <message>'"
    return first.removeprefix("# expect: ")


def test_there_is_an_invalid_file_per_rejection() -> None:
    assert len(INVALID) >= 20


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_config_names_file_check_and_field(path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = caught.value.problems
    assert any(p.startswith(f"{path}: ") and _expected(path) in p for p in problems), problems


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(
        "checks:\n"
        "  - {name: a, type: http, url: 'ftp://x/'}\n"
        "  - {name: a, type: http, url: 'http://x/', interval: 5q}\n"
        "  - {name: c, type: http, url: 'http://x/', timeout: 1m}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert "checks[0] (a): url: scheme must be http or https" in text
    assert "checks[1] (a): interval: expected a duration" in text
    assert "checks[1] (a): name: duplicate check name" in text
    assert "checks[2] (c): timeout: must not be longer than the interval (60s > 30s)" in text


def test_defaults_apply_and_checks_override_them(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(
        "defaults: {interval: 1m, timeout: 3s, attempts: 2}\n"
        "checks:\n"
        "  - {name: a, type: http, url: 'http://127.0.0.1/'}\n"
        "  - {name: b, type: http, url: 'http://127.0.0.1/', interval: 500ms, timeout: 250ms}\n"
    )
    a, b = load_config(path).checks
    assert (a.interval, a.timeout, a.attempts) == (60.0, 3.0, 2)
    assert (b.interval, b.timeout, b.attempts) == (0.5, 0.25, 2)


def test_env_substitution_and_secret_never_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBER_TEST_TOKEN", "s3cret-token")
    monkeypatch.setenv("PROBER_TEST_METHOD", "s3cret-method")
    path = tmp_path / "agent.yaml"
    path.write_text(
        "checks:\n"
        "  - {name: a, type: http, url: 'http://127.0.0.1/', headers: {Authorization: 'Bearer ${PROBER_TEST_TOKEN}'},"
        " body: '$${literal} ${PROBER_TEST_UNSET:-fallback}'}\n"
        "  - {name: b, type: http, url: 'http://127.0.0.1/', method: '${PROBER_TEST_METHOD}'}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "s3cret" not in str(caught.value)
    assert "checks[1] (b): method:" in str(caught.value)
    assert "<hidden: from ${VAR}>" in str(caught.value)
    path.write_text(path.read_text().replace("'${PROBER_TEST_METHOD}'", "POST"))
    a = load_config(path).checks[0]
    assert a.headers["Authorization"] == "Bearer s3cret-token"
    assert a.body == "${literal} fallback"


def test_region_precedence_file_env_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("agent: {region: from-file, listen: '127.0.0.1:1'}\n")
    assert load_config(path).agent.region == "from-file"
    monkeypatch.setenv("PROBER_AGENT__REGION", "from-env")
    assert load_config(path).agent.region == "from-env"
    config = load_config(path, region="from-cli", listen="127.0.0.1:2")
    assert (config.agent.region, config.agent.listen) == ("from-cli", "127.0.0.1:2")


def test_probe_workers_are_auto_or_a_number_from_file_or_env(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("agent: {probe_workers: 3}\n")
    assert load_config(path).agent.probe_workers == 3
    monkeypatch.setenv("PROBER_AGENT__PROBE_WORKERS", "2")  # environment values are strings
    assert load_config(path).agent.probe_workers == 2
    monkeypatch.setenv("PROBER_AGENT__PROBE_WORKERS", "auto")
    assert load_config(path).agent.probe_workers == "auto"


def test_regions_select_the_local_checks(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(
        "agent: {region: eu}\n"
        "checks:\n"
        "  - {name: everywhere, type: http, url: 'http://127.0.0.1/'}\n"
        "  - {name: eu_only, type: http, url: 'http://127.0.0.1/', regions: [eu, us]}\n"
        "  - {name: us_only, type: http, url: 'http://127.0.0.1/', regions: [us]}\n"
    )
    config = load_config(path)
    assert [c.name for c in config.checks if config.runs_here(c)] == ["everywhere", "eu_only"]


def test_relative_files_resolve_from_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("x")
    path = tmp_path / "agent.yaml"
    path.write_text("checks:\n  - {name: a, type: http, url: 'https://x/', tls: {ca_file: ca.pem}}\n")
    assert load_config(path).checks[0].tls.ca_file == str(tmp_path / "ca.pem")


def test_the_default_agent_yaml_is_valid() -> None:
    config = load_config(Path(__file__).parent.parent / "agent.yaml")
    assert all(c.url.startswith("http://") for c in config.checks if isinstance(c, HttpCheck))
    journeys = [c for c in config.checks if isinstance(c, JourneyCheck)]
    assert {c.name for c in journeys} == {"shop_checkout", "shop_api_order"}
    assert all(c.secret_params == ["password"] for c in journeys)  # from ${DEMO_SHOP_PASSWORD:-demo}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("30s", 30.0), ("1m", 60.0), ("1h30m", 5400.0), ("1d", 86400.0), ("1m500ms", 60.5)],
)
def test_durations_parse_as_prometheus_writes_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 s", "1.5s", "s", "-1s", "1m 2s"])
def test_bad_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(text)


def test_sizes() -> None:
    assert parse_size("1MiB") == 1 << 20
    assert parse_size("512KB") == 512_000
    assert parse_size(100) == 100
    with pytest.raises(ValueError, match="expected a size"):
        parse_size("1 lightyear")


def test_four_shards_run_every_check_exactly_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("checks:\n" + "".join(
        f"  - {{name: check_{i}, type: http, url: 'http://127.0.0.1:9/{i}'}}\n" for i in range(400)))
    runs: dict[str, int] = {}
    per_shard = []
    for index in range(4):
        monkeypatch.setenv("PROBER_AGENT__SHARD", f"{index}/4")  # as a StatefulSet's ordinal would set it
        config = load_config(path)
        assert config.agent.shard == f"{index}/4"
        mine = [c.name for c in config.checks if config.runs_here(c)]
        per_shard.append(len(mine))
        for name in mine:
            runs[name] = runs.get(name, 0) + 1
    assert runs == {f"check_{i}": 1 for i in range(400)}
    assert min(per_shard) >= 70, per_shard  # a hash spreads them, roughly evenly


def test_slo_groups_maintenance_and_canaries_load(tmp_path: Path) -> None:
    config = load_config(Path(__file__).parent / "slo" / "agent.yaml")
    assert [g.name for g in config.slos] == ["checkout_works"]
    nightly = next(c for c in config.checks if c.name == "nightly")
    assert [w.name for w in config.maintenance_of(nightly)] == ["nightly-deploys"]
    assert config.maintenance_of(config.checks[0]) == []
    path = tmp_path / "agent.yaml"
    path.write_text("defaults: {interval: 7s}\nagent:\n  canaries: [{name: dns, type: http, url: 'http://127.0.0.1:9/'}]\n")
    canary = load_config(path).agent.canaries[0]
    assert canary.interval == 7.0 and canary.timeout == 10.0  # canaries inherit defaults like checks


def test_a_page_check_with_a_device_a_network_and_labels(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("""
defaults: {interval: 1m, timeout: 20s}
checks:
  - name: home_page
    type: page
    url: http://127.0.0.1:8080/
    device: "iPhone 13"
    network: slow_4g
    locale: zh-CN
    timezone: Asia/Shanghai
    geolocation: {latitude: 31.23, longitude: 121.47}
    labels: {site: ours, group: competitors}
    expect: {status: [200], selector: "#buy", title_regex: "Shop", max_lcp: 2500ms, max_cls: 0.1}
  - name: checkout
    type: journey
    script: journey.py
    network: {latency: 400ms, download_kbps: 1000}
""")
    (tmp_path / "journey.py").write_text("")
    page, journey = load_config(path).checks
    assert isinstance(page, PageCheck) and isinstance(journey, JourneyCheck)
    assert page.labels == {"site": "ours", "group": "competitors"}
    assert page.emulation() == {
        "device": "iPhone 13", "locale": "zh-CN", "timezone": "Asia/Shanghai",
        "geolocation": {"latitude": 31.23, "longitude": 121.47, "accuracy": 10.0},
        "network": {"offline": False, "latency_ms": 150.0, "download_kbps": 1600.0, "upload_kbps": 750.0}}
    spec = page.page_spec()
    assert spec["status"] == ["200"] and spec["max_lcp_s"] == 2.5 and spec["max_failed_resources"] == 0
    assert spec["settle_s"] == 0.5 and spec["title_regex"] == "Shop" and spec["max_ttfb_s"] is None
    assert journey.emulation() == {"network": {"offline": False, "latency_ms": 400.0, "download_kbps": 1000.0,
                                               "upload_kbps": None}}
    assert journey.labels == {}
