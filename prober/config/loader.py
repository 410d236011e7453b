"""load_config(path): read agent.yaml, substitute ${VAR}, apply defaults and overrides, validate once.

The only place that reads the config file or the environment; what it returns is frozen and complete.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from prober.config.errors import ConfigError
from prober.config.models import AgentConfig, Defaults
from prober.config.units import parse_duration

_VAR_RE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_CHECK_KEYS_FROM_DEFAULTS = ("interval", "timeout", "attempts")
_CHECK_TYPES = ("http", "journey", "page", "tcp", "dns", "icmp", "tls", "grpc")
_SCALAR_MEMBERS = ("str", "int", "float", "bool")

Loc = tuple[str | int, ...]


class _AgentEnv(BaseModel):
    region: str | None = None
    listen: str | None = None
    shard: str | None = None
    probe_workers: str | None = None


class EnvOverrides(BaseSettings):
    """`PROBER_AGENT__REGION`, `__LISTEN`, `__SHARD` and `__PROBE_WORKERS` override the file."""

    model_config = SettingsConfigDict(env_prefix="PROBER_", env_nested_delimiter="__", extra="ignore")
    agent: _AgentEnv = _AgentEnv()


def load_config(path: Path, *, region: str | None = None, listen: str | None = None) -> AgentConfig:
    """Load and validate `path`; precedence is file < environment < the `region`/`listen` arguments.

    Raises ConfigError listing every problem found; never returns a partly valid config.
    """
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{name}: cannot read: {exc.__class__.__name__}: {exc}"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError([f"{name}: {where}not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([f"{name}: expected a mapping with agent, defaults and checks (got {type(raw).__name__})"])

    problems: list[str] = []
    secret_locs: set[Loc] = set()
    data = _substitute(raw, (), problems, secret_locs, name, raw)
    assert isinstance(data, dict)
    _apply_defaults(data)
    _mark_secret_params(data, secret_locs)
    _apply_overrides(data, region, listen)
    try:
        config = AgentConfig.model_validate(data, context={"base_dir": path.parent})
    except ValidationError as exc:
        scalar_unions: set[Loc] = set()
        for err in exc.errors():
            loc = err["loc"]
            if loc and loc[-1] in _SCALAR_MEMBERS:  # one problem for a value that matches no member of a union
                if loc[:-1] in scalar_unions:
                    continue
                scalar_unions.add(loc[:-1])
                loc, err = loc[:-1], {**err, "msg": "expected text, a number or true/false", "type": "scalar"}
            problems.append(_describe(name, raw, loc, err["msg"], err["type"], err.get("input"), secret_locs))
    problems += _cross_check(name, data)
    if problems:
        raise ConfigError(problems)
    return config


def _substitute(node: Any, loc: Loc, problems: list[str], secret_locs: set[Loc], name: str, raw: Any) -> Any:
    """Replace ${VAR} and ${VAR:-default} in every string; `$$` is a literal `$`."""
    if isinstance(node, dict):
        return {k: _substitute(v, (*loc, k), problems, secret_locs, name, raw) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, (*loc, i), problems, secret_locs, name, raw) for i, v in enumerate(node)]
    if not isinstance(node, str) or "$" not in node:
        return node

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        var, default = match.group(1), match.group(2)
        value = os.environ.get(var, default)
        if value is None:
            problems.append(_where(name, raw, loc) + f"environment variable {var} is not set (used as ${{{var}}})")
            return ""
        secret_locs.add(loc)
        return value

    return _VAR_RE.sub(replace, node)


def _apply_defaults(data: dict[str, Any]) -> None:
    """Checks and canaries inherit interval, timeout and attempts from `defaults:` unless they set their own."""
    defaults = data.get("defaults")
    agent = data.get("agent")
    canaries = agent.get("canaries") if isinstance(agent, dict) else None
    checks = [*_as_list(data.get("checks")), *_as_list(canaries)]
    base = Defaults().model_dump(mode="json")
    if isinstance(defaults, Mapping):
        base.update({k: v for k, v in defaults.items() if k in _CHECK_KEYS_FROM_DEFAULTS})
    for check in checks:
        if isinstance(check, dict):
            for key in _CHECK_KEYS_FROM_DEFAULTS:
                check.setdefault(key, base[key])


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _mark_secret_params(data: dict[str, Any], secret_locs: set[Loc]) -> None:
    """A journey param that came from `${VAR}` joins its check's `secret_params`, to be redacted everywhere."""
    checks = data.get("checks")
    for loc in secret_locs:
        if len(loc) == 4 and loc[0] == "checks" and loc[2] == "params" and isinstance(checks, list):
            check = checks[loc[1]] if isinstance(loc[1], int) else None
            if isinstance(check, dict):
                names = check.setdefault("secret_params", [])
                if isinstance(names, list) and loc[3] not in names:
                    names.append(loc[3])


def _apply_overrides(data: dict[str, Any], region: str | None, listen: str | None) -> None:
    agent = data.setdefault("agent", {})
    if not isinstance(agent, dict):
        return
    env = EnvOverrides().agent
    overrides = (("region", env.region), ("listen", env.listen), ("shard", env.shard),
                 ("probe_workers", env.probe_workers), ("region", region),
                 ("listen", listen))
    for key, value in overrides:
        if value is not None:
            agent[key] = value


def _check_label(raw: Any, index: int) -> str:
    checks = raw.get("checks") if isinstance(raw, dict) else None
    if isinstance(checks, list) and index < len(checks) and isinstance(checks[index], dict):
        check_name = checks[index].get("name")
        if isinstance(check_name, str):
            return f"checks[{index}] ({check_name})"
    return f"checks[{index}]"


def _where(name: str, raw: Any, loc: Loc) -> str:
    """`agent.yaml: checks[2] (shop_login): expect.status[0]: ` for a location in the document."""
    if len(loc) >= 2 and loc[0] == "checks" and isinstance(loc[1], int):
        head, rest = _check_label(raw, loc[1]), loc[2:]
    else:
        head, rest = "", loc
    field = ""
    for part in rest:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    parts = [p for p in (head, field) if p]
    return f"{name}: " + "".join(f"{p}: " for p in parts)


_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


def _describe(
    name: str, raw: Any, loc: Loc, msg: str, kind: str, value: object, secret_locs: set[Loc]
) -> str:
    loc = tuple(part for part in loc if not (isinstance(part, str) and part.startswith("function-after[")))
    if len(loc) >= 3 and loc[0] == "checks" and loc[2] in _CHECK_TYPES:
        loc = (*loc[:2], *loc[3:])  # pydantic puts the union's tag in the path: the check's type says it
    text = _MESSAGES.get(kind, msg.removeprefix("Value error, "))
    if kind not in _MESSAGES and "(got " not in text:
        shown = "<hidden: from ${VAR}>" if any(loc[: len(s)] == s for s in secret_locs) else repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        text += f" (got {shown})"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        got = f" (got {value.get('type')!r})" if isinstance(value, dict) and "type" in value else ""
        return _where(name, raw, (*loc, "type")) + f"expected one of {', '.join(_CHECK_TYPES)}{got}"
    if kind == "extra_forbidden" and loc:
        *parent, key = loc
        return _where(name, raw, tuple(parent)) + f"unknown key {key!r}"
    return _where(name, raw, loc) + text


def _cross_check(name: str, data: dict[str, Any]) -> list[str]:
    """Rules across fields and checks, on the raw data so they are reported with every other problem."""
    checks = data.get("checks")
    if not isinstance(checks, list):
        return _cross_check_references(name, data, [])
    problems: list[str] = []
    seen: dict[str, int] = {}
    for index, check in enumerate(checks):
        if not isinstance(check, dict):
            continue
        where = _where(name, data, ("checks", index))
        check_name = check.get("name")
        if isinstance(check_name, str):
            if check_name in seen:
                problems.append(where + f"name: duplicate check name (first used by checks[{seen[check_name]}])")
            seen.setdefault(check_name, index)
        problems += _label_clashes(where, check, data)
        try:
            timeout, interval = parse_duration(check.get("timeout")), parse_duration(check.get("interval"))
        except ValueError:
            continue  # reported by validation
        if timeout > interval:
            problems.append(where + f"timeout: must not be longer than the interval ({timeout:g}s > {interval:g}s)")
    return problems + _cross_check_references(name, data, checks)


def _label_clashes(where: str, check: dict[str, Any], data: dict[str, Any]) -> list[str]:
    """A check's `labels` do not take the name of an agent label: a series has one value per label."""
    agent = data.get("agent")
    agent_labels = agent.get("labels") if isinstance(agent, dict) else None
    labels = check.get("labels")
    if not isinstance(labels, dict) or not isinstance(agent_labels, dict):
        return []
    return [where + f"labels: {key!r} is also an agent label (agent.labels); a series has one value per label"
            for key in sorted(set(labels) & set(agent_labels))]


def _cross_check_references(name: str, data: dict[str, Any], checks: list[Any]) -> list[str]:
    """`slos:` and top-level `maintenance:` name checks that exist; an SLO group's latency needs its members'."""
    by_name = {c["name"]: c for c in checks if isinstance(c, dict) and isinstance(c.get("name"), str)}
    problems: list[str] = []
    for index, check in enumerate(checks):
        for w, window in enumerate(_as_list(check.get("maintenance") if isinstance(check, dict) else None)):
            if isinstance(window, dict) and window.get("checks"):
                problems.append(_where(name, data, ("checks", index, "maintenance", w, "checks")) +
                                "only a top-level maintenance window names checks; this one is the check's own")
    for section in ("slos", "maintenance", "sla"):
        for index, entry in enumerate(_as_list(data.get(section))):
            if not isinstance(entry, dict):
                continue
            label = f"{section}[{index}]" + (f" ({entry['name']})" if isinstance(entry.get("name"), str) else "")
            if section == "slos" and entry.get("name") in by_name:
                problems.append(f"{name}: {label}: name: also a check's name; an SLO group needs its own")
            for c, member in enumerate(_as_list(entry.get("checks"))):
                if isinstance(member, str) and member not in by_name:
                    problems.append(f"{name}: {label}: checks[{c}]: no check named {member!r}")
                    continue
                slo = by_name.get(member, {}).get("slo") if isinstance(member, str) else None
                if section == "slos" and entry.get("latency") and not (isinstance(slo, dict) and slo.get("latency")):
                    problems.append(f"{name}: {label}: latency: member check {member!r} has no slo.latency.threshold "
                                    "(the group counts each check's runs within its own threshold)")
    return problems + _site_references(name, data, by_name)


def _site_references(name: str, data: dict[str, Any], checks: dict[str, Any]) -> list[str]:
    """The site's services name `slos:` groups and checks that exist."""
    site = data.get("site")
    groups = {g.get("name") for g in _as_list(data.get("slos")) if isinstance(g, dict)}
    problems: list[str] = []
    for index, service in enumerate(_as_list(site.get("services") if isinstance(site, dict) else None)):
        if not isinstance(service, dict):
            continue
        where = _where(name, data, ("site", "services", index))
        if isinstance(service.get("slo"), str) and service["slo"] not in groups:
            problems.append(where + f"slo: no slos: group named {service['slo']!r}")
        for c, member in enumerate(_as_list(service.get("checks"))):
            if isinstance(member, str) and member not in checks:
                problems.append(where + f"checks[{c}]: no check named {member!r}")
    return problems
