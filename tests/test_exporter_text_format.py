"""Our text exposition writer says exactly what prometheus_client's generic writer says."""

from __future__ import annotations

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from prober.exporters.text_format import render_text
from tests.test_exporter_prometheus import check, fed_exporter, result


def parsed(text: str) -> list[tuple[str, str, str, list[tuple[str, tuple[tuple[str, str], ...], float]]]]:
    return [
        (f.name, f.type, f.documentation, sorted((s.name, tuple(sorted(s.labels.items())), s.value) for s in f.samples))
        for f in text_string_to_metric_families(text)
    ]


def test_same_families_samples_and_values_as_prometheus_client() -> None:
    exporter = fed_exporter()
    ours = render_text(exporter.collect()).decode()
    theirs = generate_latest(exporter._registry).decode()
    assert parsed(ours) == parsed(theirs)
    assert len(ours.splitlines()) == len(theirs.splitlines())


def test_label_values_are_escaped() -> None:
    exporter = fed_exporter()
    exporter.configure("eu", {"team": 'a "quoted" \\ back\nslash'}, [check("shop_home")])
    exporter.run_started("shop_home", 0.0)
    exporter.run_finished(result("shop_home"), result("shop_home"))
    ours = render_text(exporter.collect()).decode()
    values = {s.labels.get("team") for f in text_string_to_metric_families(ours) for s in f.samples}
    assert values == {'a "quoted" \\ back\nslash'}
    assert parsed(ours) == parsed(generate_latest(exporter._registry).decode())
