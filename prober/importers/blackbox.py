"""`prober import blackbox`: a blackbox_exporter module file and the Prometheus jobs that probe through it,
turned into an agent.yaml with one check per (target, module), every option with a prober equivalent carried
over and a comment on each that has none.

What is written is checked twice: each check against its model (one that does not hold is written commented out,
with why), then the whole text by `load_config`, so what this returns always loads.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from prober.config import ConfigError, load_config
from prober.config.models import Check
from prober.config.units import format_duration
from prober.importers.agent_yaml import WrittenCheck, render
from prober.importers.blackbox_dns import map_dns
from prober.importers.blackbox_http import map_http
from prober.importers.blackbox_socket import map_grpc, map_icmp, map_tcp
from prober.importers.check_draft import NO_EQUIVALENT, Draft, Mapping
from prober.importers.check_names import check_name
from prober.importers.go_syntax import go_duration
from prober.importers.scrape_targets import ProbeTarget, read_scrape_targets
from prober.importers.yaml_source import ImportFailedError, Node, Problems, WrongTypeError, load_document

_MAPPERS: dict[str, Callable[[Mapping], None]] = {
    "http": map_http, "tcp": map_tcp, "dns": map_dns, "icmp": map_icmp, "grpc": map_grpc,
}
_SECTIONS = frozenset({"http", "tcp", "dns", "icmp", "grpc", "unix", "websocket"})
_FIRST_KEYS = ("name", "type", "interval", "timeout", "attempts", "url", "target", "server", "query_name", "query_type")
_LAST_KEYS = ("expect", "tls", "tls_config")
_MIN_TIMEOUT_S = 0.001
_CHECKS = TypeAdapter(Check)


@dataclass(frozen=True)
class Imported:
    """The agent.yaml text and what a person should know about it."""

    text: str
    active: int
    disabled: list[str]
    problems: list[str]
    without_equivalent: int


@dataclass
class _Import:
    """The state of one import while targets are turned into checks."""

    modules: Node
    files_dir: Path
    problems: Problems = field(default_factory=Problems)
    drafts: dict[tuple[str, str], Draft] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    exporters: dict[str, set[str]] = field(default_factory=dict)
    referenced: set[str] = field(default_factory=set)


def import_blackbox(modules_path: Path, targets_path: Path, *, modules_label: str | None = None,
                    targets_label: str | None = None, out_dir: Path | None = None) -> Imported:
    """Read both files and write the agent.yaml text; relative file names in blackbox.yml are taken from its
    folder, those of the output resolve against `out_dir` (absolute ones are written).

    Raises ImportFailedError when a file cannot be read or no target of any job probes through blackbox_exporter."""
    modules_label = modules_label or str(modules_path)
    targets_label = targets_label or str(targets_path)
    document = load_document(modules_path, modules_label)
    modules = document.at("modules")
    try:
        modules.entries()
    except WrongTypeError as exc:
        raise ImportFailedError([f"{modules.where}: {exc}"]) from None
    state = _Import(modules, modules_path.resolve().parent)
    reading = read_scrape_targets(targets_path, targets_label, state.problems)
    state.notes += reading.notes
    for target in reading.targets:
        _add_target(state, target, modules_label)
    if not state.drafts:
        raise ImportFailedError([f"{targets_label}: no target of any scrape job probes through blackbox_exporter with "
                             f"a module of {modules_label}: nothing to import", *state.notes,
                             *state.problems.lines])
    checks = _finish(state, out_dir or Path.cwd())
    text = render(_header(state, modules_label, targets_label, checks), checks, _unused_modules(state))
    _verify(text)
    return Imported(text, sum(not c.disabled_because for c in checks),
                    [f"{c.data['name']}: {'; '.join(c.disabled_because)}" for c in checks if c.disabled_because],
                    list(dict.fromkeys(state.problems.lines)),  # a module's problem once, not once per target
                    sum(line.count(f"({NO_EQUIVALENT}") for c in checks for lines in c.comments.values()
                        for line in lines))


def _add_target(state: _Import, target: ProbeTarget, modules_label: str) -> None:
    key = (target.module, target.target)
    state.referenced.add(target.module)
    if key in state.drafts:
        state.drafts[key].comment(f"also probed by job {target.job} ({target.where}): one check")
        return
    module = state.modules.at(target.module)
    if not module.present:
        state.notes.append(f"job {target.job}: target {target.target}: module {target.module!r} is not in "
                           f"{modules_label}: skipped")
        return
    kind = module.at("prober").value
    if kind not in _MAPPERS:
        state.notes.append(f"job {target.job}: target {target.target}: module {target.module} (prober {kind}): "
                           f"{NO_EQUIVALENT}: skipped")
        return
    state.exporters.setdefault(target.exporter, set()).add(target.job)
    draft = Draft()
    state.drafts[key] = draft
    draft.comment(f"module {target.module}, job {target.job}, target {target.target} ({target.where})")
    if target.labels:
        shown = ", ".join(f"{k}={v}" for k, v in target.labels.items())
        draft.comment(f"Prometheus target labels {shown}: prober's checks have no labels of their own")
    draft.put("type", str(kind))
    draft.put("interval", format_duration(target.interval_s))
    draft.put("timeout", format_duration(max(_timeout(state, module, target), _MIN_TIMEOUT_S)))
    draft.put("attempts", 1)  # one probe per scrape: blackbox does not retry
    for section_key, _section in module.entries():
        if section_key in _SECTIONS and section_key != kind:
            draft.comment(f"blackbox: {section_key} section ignored (the module's prober is {kind}, as in blackbox)")
        elif section_key not in _SECTIONS and section_key not in ("prober", "timeout"):
            draft.comment(f"blackbox: {section_key} (not a module option this importer knows: ignored)")
    _MAPPERS[str(kind)](Mapping(draft, module.at(str(kind)), target, state.files_dir, state.problems))


def _timeout(state: _Import, module: Node, target: ProbeTarget) -> float:
    """The scrape timeout, capped by the module's timeout (blackbox takes the smaller of the two)."""
    node = module.at("timeout")
    if not node.present:
        return target.timeout_s
    try:
        module_timeout_s = go_duration(node.text())
    except (ValueError, WrongTypeError) as exc:
        state.problems.add(node, f"{exc}: the scrape timeout is used")
        return target.timeout_s
    return min(target.timeout_s, module_timeout_s) if module_timeout_s > 0 else target.timeout_s


def _finish(state: _Import, out_dir: Path) -> list[WrittenCheck]:
    """Name each draft, order its keys, and check it against its model: one that does not hold is disabled."""
    taken: set[str] = set()
    checks = []
    for (module, target), draft in state.drafts.items():
        draft.data["name"] = check_name(module, target, taken)
        data = _ordered(draft.data)
        if not draft.disabled:
            try:
                _CHECKS.validate_python(data, context={"base_dir": out_dir})
            except ValidationError as exc:
                draft.disabled += [_error_text(error) for error in exc.errors()]
        checks.append(WrittenCheck(data, draft.comments, draft.disabled))
    return checks


def _ordered(data: dict[str, object]) -> dict[str, object]:
    first = {key: data[key] for key in _FIRST_KEYS if key in data}
    last = {key: data[key] for key in _LAST_KEYS if key in data}
    middle = {key: value for key, value in data.items() if key not in first and key not in last}
    return {**first, **middle, **last}


def _error_text(error: object) -> str:
    assert isinstance(error, dict)
    location = ".".join(str(part) for part in error["loc"][1:])  # the first part is the union's tag
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


def _header(state: _Import, modules_label: str, targets_label: str, checks: list[WrittenCheck]) -> list[str]:
    kinds = {str(c.data["type"]) for c in checks}
    lines = [f"Written by `prober import blackbox` from {modules_label} and {targets_label}: one check per",
             "(target, module) of the Prometheus jobs that probe through blackbox_exporter.",
             "- interval: the job's scrape_interval; timeout: its scrape_timeout, capped by the module's timeout.",
             "- ip: blackbox's preferred_ip_protocol with ip_protocol_fallback (its default: ip6, else ip4) is",
             "  ip_family auto (either family, in the resolver's order); without fallback, the preferred family."]
    if "http" in kinds:
        lines.append("- http: blackbox reads a body whole unless body_size_limit; prober stops at max_body_bytes "
                     "(1MiB unless set).")
    if "tcp" in kinds:
        lines.append("- tcp: blackbox ends each send with a newline; prober sends as written, so \\n is added.")
    if "icmp" in kinds:
        lines.append("- icmp: packets: 1, as blackbox sends one echo request per probe (prober's default, 5, also")
        lines.append("  measures loss); no fallback between families: the preferred one, else ip4.")
    if "dns" in kinds:
        lines.append("- dns: blackbox matched whole answer lines (name ttl class type rdata, CNAMEs included);")
        lines.append("  prober matches the rdata of each answer of the queried type: see each pattern's comment.")
    lines.append(f"- 'blackbox: X ({NO_EQUIVALENT})' marks an option that could not be carried over: review them.")
    for exporter, jobs in sorted(state.exporters.items()):
        lines.append(f"- replaces blackbox_exporter at {exporter or '(no address)'} (job {', '.join(sorted(jobs))})")
    lines += [f"- {note}" for note in state.notes]
    return [*lines, ""]


def _unused_modules(state: _Import) -> list[str]:
    lines = []
    for name, module in state.modules.entries():
        if name not in state.referenced:
            lines.append(f"module {name} (prober {module.at('prober').value}): used by no scrape job: skipped")
    return ["", *lines] if lines else []


def _verify(text: str) -> None:
    """Load the text as `prober validate` would; a problem here is the importer's own bug, said as such."""
    with tempfile.TemporaryDirectory(prefix="prober-import-") as folder:
        path = Path(folder, "agent.yaml")
        path.write_text(text, encoding="utf-8")
        try:
            load_config(path)
        except ConfigError as exc:
            raise ImportFailedError(["the agent.yaml written does not load (a bug of the importer):",
                                 *exc.problems]) from None
