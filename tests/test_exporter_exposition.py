"""Both wire formats of /metrics: parsed by prometheus_client's text and strict OpenMetrics parsers and linted
by promtool; the same samples in both; negotiation, escaping, and lines cached until their check runs again."""

from __future__ import annotations

import shutil
import subprocess

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families as text_families

from prober.exporters.exposition import wants_openmetrics
from tests.test_exporter_prometheus import check, fed_exporter, result

PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
                     "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

Samples = set[tuple[str, tuple[tuple[str, str], ...], float]]


def samples(families: object) -> Samples:
    return {(s.name, tuple(sorted(s.labels.items())), float(s.value))
            for f in families for s in f.samples}  # type: ignore[attr-defined]


def test_text_and_openmetrics_carry_the_same_samples_and_parse_strictly() -> None:
    exporter = fed_exporter()
    text = exporter.render("text/plain")[0].decode()
    om, content_type = exporter.render(PROMETHEUS_ACCEPT)
    assert content_type == "application/openmetrics-text; version=1.0.0; charset=utf-8"
    om_samples = samples(openmetrics_families(om.decode()))  # raises on anything OpenMetrics forbids
    assert samples(text_families(text)) == om_samples
    assert len(om_samples) > 100
    assert om.decode().endswith("# EOF\n") and "# EOF" not in text
    assert "# TYPE prober_check_runs counter" in om.decode() and "# TYPE prober_check_runs_total counter" in text


def test_promtool_accepts_the_text_format() -> None:
    text = fed_exporter().render(None)[0]
    linted = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, timeout=30, check=False)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert not linted.stdout.strip() and not linted.stderr.strip()  # no lint finding either


def test_negotiation() -> None:
    assert wants_openmetrics(PROMETHEUS_ACCEPT)
    assert wants_openmetrics("application/openmetrics-text; version=1.0.0")
    assert not wants_openmetrics("text/plain;version=0.0.4")
    assert not wants_openmetrics("application/openmetrics-text;q=0, text/plain")
    assert not wants_openmetrics(None)


def test_label_values_are_escaped_in_both_formats() -> None:
    exporter = fed_exporter()
    tricky = 'a "quoted" \\ back\nslash'
    exporter.configure("eu", {"team": tricky}, [check("shop_home")])
    exporter.run_started("shop_home", 0.0)
    exporter.run_finished(result("shop_home"), result("shop_home"))
    for families in (text_families(exporter.render(None)[0].decode()),
                     openmetrics_families(exporter.render(PROMETHEUS_ACCEPT)[0].decode())):
        assert {s.labels.get("team") for f in families for s in f.samples} == {tricky}


def test_a_checks_lines_are_rendered_again_only_after_it_changed() -> None:
    exporter = fed_exporter()
    exporter.configure("eu", {}, [check("a"), check("b")])
    exporter.render(None)
    series = exporter._series
    a_lines, b_lines = series["a"].lines(), series["b"].lines()
    exporter.run_started("a", 0.0)
    exporter.run_finished(result("a"), result("a"))
    exporter.run_skipped("b", 0)
    text = exporter.render(None)[0].decode()
    assert series["a"].lines() is not a_lines
    assert series["b"].lines() is not b_lines  # a skipped slot is a change too
    b_again = series["b"].lines()
    exporter.render(None)
    assert series["b"].lines() is b_again
    assert 'prober_check_runs_total{check="a",region="eu"} 1' in text
