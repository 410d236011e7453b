"""`prober run | check NAME | validate`: parse arguments, call the agent, turn outcomes into exit codes."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from prober import __version__
from prober.agent import Agent, check_once, load
from prober.config import ConfigError
from prober.exporters.log import configure_logging
from prober.result import Result

T = TypeVar("T")


def _run_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop where it is installed (less CPU per probe), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.run(coro)
    return uvloop.run(coro)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prober", description="Synthetic probing agent exporting SLIs.")
    parser.add_argument("--version", action="version", version=f"prober {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=Path("agent.yaml"), help="agent.yaml (default: %(default)s)")
    common.add_argument("--region", help="override agent.region")
    run = sub.add_parser("run", parents=[common], help="run the agent: schedule checks, serve /metrics")
    run.add_argument("--listen", help="override agent.listen (host:port)")
    run.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    check = sub.add_parser("check", parents=[common], help="run one check once and print the result")
    check.add_argument("name", help="the check's name")
    sub.add_parser("validate", parents=[common], help="validate the config; print every problem")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        configure_logging(args.log_level)
        return _run_loop(Agent(args.config, region=args.region, listen=args.listen).run())
    if args.command == "validate":
        return _validate(args.config, args.region)
    return _check(args.config, args.name, args.region)


def _validate(path: Path, region: str | None) -> int:
    try:
        config, jobs = load(path, region, None)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        print(f"{path}: {len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{path}: ok: {len(config.checks)} check(s), {len(jobs)} run in region {config.agent.region}")
    return 0


def _check(path: Path, name: str, region: str | None) -> int:
    try:
        final, first = _run_loop(check_once(path, name, region))
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 2
    except KeyError:
        print(f"{path}: no check named {name!r}", file=sys.stderr)
        return 2
    print(format_result(final, first))
    return 0 if final.ok else 1


def format_result(result: Result, first_attempt: Result) -> str:
    """A readable, multi-line summary of one run for the console."""
    verdict = "OK" if result.ok else "FAILED"
    lines = [f"{result.check}: {verdict}  reason={result.reason.value}  duration={result.duration_s * 1000:.1f}ms"
             f"  attempts={result.attempts}"]
    if result.status_code is not None:
        lines.append(f"  status     {result.status_code}")
    if result.phases:
        lines.append("  phases     " + "  ".join(f"{p.value} {s * 1000:.1f}ms" for p, s in result.phases.items()))
    if result.cert_not_after is not None:
        days = (result.cert_not_after - time.time()) / 86400
        when = time.strftime("%Y-%m-%d", time.gmtime(result.cert_not_after))
        lines.append(f"  cert       expires {when} ({days:.0f} days)")
    if result.attempts > 1 and not first_attempt.ok:
        lines.append(f"  attempt 1  {first_attempt.reason.value}: {first_attempt.detail}")
    if result.detail:
        lines.append(f"  detail     {result.detail}")
    return "\n".join(lines)
