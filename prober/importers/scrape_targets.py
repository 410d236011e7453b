"""Read a prometheus.yml the way Prometheus builds its scrape targets (static_configs, file_sd_configs, the job's
params, relabel_configs) and keep those that probe through blackbox_exporter: a `__param_target` and a module."""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

from prober.config.units import format_duration, parse_duration
from prober.importers.relabel import Labels, Rule, read_rules, relabel
from prober.importers.yaml_source import ImportFailedError, Node, Problems, WrongTypeError, load_document

DEFAULT_INTERVAL_S = 60.0  # Prometheus' global defaults
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MODULE = "http_2xx"  # what blackbox_exporter probes with when no module is asked for
_TARGET_SOURCES = ("static_configs", "file_sd_configs")


@dataclass(frozen=True)
class ProbeTarget:
    """One target of a job, after relabelling, as blackbox_exporter would receive it."""

    job: str
    target: str
    module: str
    interval_s: float
    timeout_s: float
    hostname: str | None
    """`__param_hostname`: blackbox's Host header (http) or TLS server name (tcp)."""
    labels: Labels
    """The target's own labels (none of Prometheus' `__` ones, not `job`)."""
    exporter: str
    where: str


@dataclass
class ScrapeReading:
    targets: list[ProbeTarget] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Jobs and targets left out, for the output's header."""


@dataclass(frozen=True)
class _Job:
    name: str
    node: Node
    interval_s: float
    timeout_s: float
    scrape_labels: Labels
    rules: list[Rule]


def read_scrape_targets(path: Path, label: str, problems: Problems) -> ScrapeReading:
    """Every blackbox target of every job of `path` (and of its `scrape_config_files`), in the file's order.

    Raises ImportFailedError when the file cannot be read; a job or file_sd file that cannot be read is a problem."""
    root = load_document(path, label)
    try:
        root.entries()
    except WrongTypeError as exc:
        raise ImportFailedError([f"{label}: {exc}"]) from None
    interval_s, timeout_s = _global_timing(root.at("global"), problems)
    reading = ScrapeReading()
    jobs = _job_nodes(root, path, label, problems)
    if not jobs:
        raise ImportFailedError([f"{label}: scrape_configs: no scrape job to read"])
    for job_node in jobs:
        job = _job(job_node, interval_s, timeout_s, problems)
        if job is not None:
            _read_job(job, path.parent, label, reading, problems)
    return reading


def _job_nodes(root: Node, path: Path, label: str, problems: Problems) -> list[Node]:
    """The scrape_configs of the file, then those of each file its scrape_config_files globs name."""
    nodes = _elements(root.at("scrape_configs"), problems)
    for pattern_node in _elements(root.at("scrape_config_files"), problems):
        for file in _glob(path.parent, pattern_node, problems):
            try:
                other = load_document(file, _shown_path(file, path.parent, label))
            except ImportFailedError as exc:
                problems.lines += exc.problems
                continue
            nodes += _elements(other.at("scrape_configs"), problems)
    return nodes


def _global_timing(node: Node, problems: Problems) -> tuple[float, float]:
    interval_s = _duration(node.at("scrape_interval"), DEFAULT_INTERVAL_S, problems)
    timeout_s = _duration(node.at("scrape_timeout"), min(DEFAULT_TIMEOUT_S, interval_s), problems)
    return interval_s, timeout_s


def _job(node: Node, global_interval_s: float, global_timeout_s: float, problems: Problems) -> _Job | None:
    try:
        name = node.at("job_name").text()
        node.entries()
    except WrongTypeError as exc:
        problems.add(node.at("job_name"), f"{exc}: job skipped")
        return None
    labelled = node.named(name)
    interval_s = _duration(labelled.at("scrape_interval"), global_interval_s, problems)
    timeout_s = _duration(labelled.at("scrape_timeout"), min(global_timeout_s, interval_s), problems)
    if timeout_s > interval_s:
        problems.add(labelled.at("scrape_timeout"), "longer than scrape_interval (Prometheus refuses it): "
                     "the interval is used")
        timeout_s = interval_s
    rules = read_rules(labelled.at("relabel_configs"), problems)
    if rules is None:
        problems.lines.append(f"{labelled.where}: job skipped: its relabel_configs are not understood")
        return None
    scrape_labels = {"job": name, "__scheme__": _text(labelled.at("scheme"), "http", problems),
                     "__metrics_path__": _text(labelled.at("metrics_path"), "/metrics", problems),
                     "__scrape_interval__": format_duration(interval_s),
                     "__scrape_timeout__": format_duration(timeout_s)}
    for param, values in _entries(labelled.at("params"), problems):
        try:
            first = values.texts()[:1]
        except WrongTypeError as exc:
            problems.add(values, str(exc))
            continue
        if first:
            scrape_labels[f"__param_{param}"] = first[0]  # Prometheus sends all; blackbox reads the first
    return _Job(name, labelled, interval_s, timeout_s, scrape_labels, rules)


def _read_job(job: _Job, base: Path, label: str, reading: ScrapeReading, problems: Problems) -> None:
    for key, _node in _entries(job.node, problems):
        if key.endswith("_sd_configs") and key not in _TARGET_SOURCES:
            reading.notes.append(f"job {job.name}: {key} not read (its targets are discovered at run time)")
    groups: list[tuple[Node, Labels]] = [(g, {}) for g in _elements(job.node.at("static_configs"), problems)]
    for sd in _elements(job.node.at("file_sd_configs"), problems):
        for pattern in _elements(sd.at("files"), problems):
            for file in _glob(base, pattern, problems):
                shown = _shown_path(file, base, label)
                try:
                    document = load_document(file, shown, json_too=True)
                except ImportFailedError as exc:
                    problems.lines += exc.problems
                    continue
                groups += [(g, {"__meta_filepath": str(file)}) for g in _elements(document, problems)]
    seen, kept = 0, 0
    for group, meta in groups:
        for target_node, labels in _group_targets(group, meta, problems):
            seen += 1
            probe = _probe_target(job, target_node, labels)
            if probe is not None:
                reading.targets.append(probe)
                kept += 1
    if seen and not kept:
        reading.notes.append(f"job {job.name}: {seen} target(s), none with a target parameter after relabelling "
                             "(not a blackbox_exporter job): skipped")


def _group_targets(group: Node, meta: Labels, problems: Problems) -> list[tuple[Node, Labels]]:
    """(target node, its labels before relabelling) for each target of a static or file_sd group."""
    try:
        group_labels = {name: value.text() for name, value in group.at("labels").entries()}
        targets = [(t, t.text()) for t in group.at("targets").elements()]
    except WrongTypeError as exc:
        problems.add(group, f"{exc}: group skipped")
        return []
    return [(node, {**group_labels, **meta, "__address__": address}) for node, address in targets]


def _probe_target(job: _Job, node: Node, labels: Labels) -> ProbeTarget | None:
    for name, value in job.scrape_labels.items():
        labels.setdefault(name, value)
    after = relabel(labels, job.rules)
    if after is None or not after.get("__param_target"):
        return None
    interval_s = _relabelled_duration(after.get("__scrape_interval__"), job.interval_s)
    timeout_s = min(_relabelled_duration(after.get("__scrape_timeout__"), job.timeout_s), interval_s)
    own = {k: v for k, v in sorted(after.items()) if not k.startswith("__") and k not in ("job", "instance")}
    return ProbeTarget(job=job.name, target=after["__param_target"],
                       module=after.get("__param_module") or DEFAULT_MODULE, interval_s=interval_s,
                       timeout_s=timeout_s, hostname=after.get("__param_hostname") or None, labels=own,
                       exporter=after.get("__address__", ""), where=node.where)


def _relabelled_duration(text: str | None, default: float) -> float:
    try:
        return parse_duration(text) if text else default
    except ValueError:
        return default


def _glob(base: Path, node: Node, problems: Problems) -> list[Path]:
    try:
        pattern = node.text()
    except WrongTypeError as exc:
        problems.add(node, str(exc))
        return []
    found = sorted(glob.glob(str(base / pattern)))  # relative to prometheus.yml's folder, as Prometheus reads it
    if not found:
        problems.add(node, f"no file matches {pattern!r} (looked in {base})")
    return [Path(f) for f in found]


def _shown_path(file: Path, base: Path, label: str) -> str:
    """A file_sd file named relative to where the prometheus.yml named `label` lives."""
    try:
        return str(Path(label).parent / file.relative_to(base))
    except ValueError:
        return str(file)


def _duration(node: Node, default: float, problems: Problems) -> float:
    if not node.present:
        return default
    try:
        return parse_duration(node.text())
    except ValueError as exc:
        problems.add(node, f"{exc}: {format_duration(default)} used")
        return default


def _text(node: Node, default: str, problems: Problems) -> str:
    try:
        return node.text() if node.present else default
    except WrongTypeError as exc:
        problems.add(node, str(exc))
        return default


def _elements(node: Node, problems: Problems) -> list[Node]:
    try:
        return node.elements()
    except WrongTypeError as exc:
        problems.add(node, str(exc))
        return []


def _entries(node: Node, problems: Problems) -> list[tuple[str, Node]]:
    try:
        return node.entries()
    except WrongTypeError as exc:
        problems.add(node, str(exc))
        return []
