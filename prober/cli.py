"""`prober run | check NAME | validate | rules | report | site | import blackbox`: parse arguments, call the agent
(or the rule, report and site writers, or an importer), turn outcomes into exit codes."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import signal
import sys
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from prober import __version__
from prober.agent import Agent, browser_check_problems, build_jobs, check_once
from prober.config import ConfigError, load_config
from prober.config.models import listen_address
from prober.config.units import parse_duration
from prober.event_loop import run_loop
from prober.exporters.log import configure_logging
from prober.exporters.status import protocol_view
from prober.importers import ImportFailedError, import_blackbox
from prober.journey.pool import WorkerPool
from prober.report.analysis import analyse
from prober.report.comparison import LabelSelector, NothingToCompareError, fetch_comparison
from prober.report.history import PrometheusClient, PrometheusError, fetch
from prober.report.html import as_html
from prober.report.text import as_json, as_markdown
from prober.result import Result, StepStatus
from prober.site.i18n import LANGS
from prober.site.publish import SiteSource, last_fresh_at, publish_once, run_site
from prober.site.snapshot import SiteOptions
from prober.slo.formats import FORMATS, Format, render
from prober.slo.objectives import objectives

REPORT_FORMATS = ("html", "markdown", "json")
SITE_STEPS_S = (60.0, 300.0, 900.0)


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
    rules = sub.add_parser("rules", parents=[common],
                           help="write Prometheus recording and alerting rules (or OpenSLO) for the SLOs")
    rules.add_argument("--format", choices=FORMATS, default="prometheus", help="default: %(default)s")
    rules.add_argument("--out", type=Path, help="write here instead of standard output")
    rules.add_argument("--interval", type=parse_duration, default=30.0,
                       help="rule evaluation interval, a duration (default: 30s)")
    report = sub.add_parser("report", parents=[common], help="SLO/SLA report over a period, read from Prometheus")
    report.add_argument("--prometheus", required=True, help="Prometheus base URL, e.g. http://prometheus:9090")
    report.add_argument("--from", dest="start", type=_utc_time, required=True,
                        help="start, UTC: 2026-10-01 or 2026-10-01T12:00")
    report.add_argument("--to", dest="end", type=_utc_time, required=True, help="end (exclusive), UTC")
    report.add_argument("--format", choices=REPORT_FORMATS, default="html", help="default: %(default)s")
    report.add_argument("--out", type=Path, help="write here instead of standard output")
    report.add_argument("--incident-regions", type=int,
                        help="regions that must fail together for an incident (default: rules.consensus.min_regions)")
    report.add_argument("--step", type=parse_duration, default=300.0, help="resolution, a duration (default: 5m)")
    report.add_argument("--title", default="Service level report")
    report.add_argument("--compare", type=_label_selector, metavar="LABEL=VALUE",
                        help="add a comparison of the checks with this label value, e.g. group=competitors")
    site = sub.add_parser("site", parents=[common], help="a status site of every service across regions, from "
                          "Prometheus: static files (--out) and/or served live (--listen)")
    site.add_argument("--prometheus", required=True, help="Prometheus base URL, e.g. http://prometheus:9090")
    site.add_argument("--out", type=Path, help="write the site into this folder (each file replaced atomically)")
    site.add_argument("--listen", type=_listen, help="serve the site live on host:port")
    site.add_argument("--every", type=parse_duration,
                      help="rebuild at this interval, a duration (default with --listen: 1m; without, build once)")
    site.add_argument("--lang", choices=LANGS, default="en", help="default: %(default)s")
    site.add_argument("--notes", type=Path, help="a folder of incident notes in Markdown (see the README)")
    site.add_argument("--internal", action="store_true", help="also show each SLO's error budget left")
    site.add_argument("--incident-regions", type=int,
                      help="regions that must fail together for an incident (default: rules.consensus.min_regions, "
                      "at most the regions that report)")
    site.add_argument("--step", type=_site_step, default=300.0, help="resolution: 1m, 5m or 15m (default: 5m)")
    site.add_argument("--timeout", type=parse_duration, default=30.0,
                      help="longest wait for one Prometheus query, a duration (default: 30s)")
    site.add_argument("--at", type=_utc_time, help="build the site as of this UTC time (a replay); implies once")
    importer = sub.add_parser("import", help="write an agent.yaml from another tool's configuration")
    importers = importer.add_subparsers(dest="importer", required=True)
    blackbox = importers.add_parser("blackbox", help="from blackbox_exporter modules and the Prometheus jobs "
                                    "that probe through it")
    blackbox.add_argument("--modules", type=Path, required=True, help="blackbox_exporter's blackbox.yml")
    blackbox.add_argument("--targets", type=Path, required=True, help="prometheus.yml with the probing jobs")
    blackbox.add_argument("--out", type=Path, help="write here instead of standard output")
    return parser


def _utc_time(text: str) -> float:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a UTC date or time such as 2026-10-01 (got {text!r})") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


def _listen(text: str) -> str:
    try:
        return listen_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _site_step(text: str) -> float:
    step_s = parse_duration(text)
    if step_s not in SITE_STEPS_S:
        raise argparse.ArgumentTypeError(f"expected 1m, 5m or 15m: days in any timezone begin on such a step "
                                         f"(got {text!r})")
    return step_s


def _label_selector(text: str) -> LabelSelector:
    try:
        return LabelSelector.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        configure_logging(args.log_level)
        return run_loop(Agent(args.config, region=args.region, listen=args.listen, log_level=args.log_level).run())
    if args.command == "validate":
        return _validate(args.config, args.region)
    if args.command == "rules":
        return _rules(args.config, args.format, args.out, args.interval)
    if args.command == "report":
        return _report(args)
    if args.command == "site":
        return _site(args)
    if args.command == "import":
        return _import_blackbox(args.modules, args.targets, args.out)
    return _check(args.config, args.name, args.region)


def _validate(path: Path, region: str | None) -> int:
    """Validate the file, import every journey script and look up every device (of every region) in children,
    build every prober."""
    try:
        config = load_config(path, region=region)
        problems = browser_check_problems(list(enumerate(config.checks)), path)
        if problems:
            raise ConfigError(problems)
        jobs, _canaries = build_jobs(config, path, WorkerPool(config.agent.journeys))
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        print(f"{path}: {len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{path}: ok: {len(config.checks)} check(s), {len(jobs)} run in region {config.agent.region}")
    return 0


def _rules(path: Path, fmt: Format, out: Path | None, interval_s: float) -> int:
    """Rules for every check of every region (one rule file serves all agents); no script is imported."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    text = render(config, fmt, path.name, interval_s)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        print(f"{out}: {fmt} rules for {len(objectives(config))} objective(s)", file=sys.stderr)
    return 0


def _report(args: argparse.Namespace) -> int:
    """Read the period's counters from Prometheus, write the report; 1 on a config or Prometheus problem."""
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    if args.end <= args.start:
        print("prober report: --to must be after --from", file=sys.stderr)
        return 1
    client = PrometheusClient(args.prometheus)
    try:
        # the comparison first: a label value that no check has fails before any long query
        comparison = None if args.compare is None else fetch_comparison(client, config, args.compare, args.start,
                                                                         args.end, args.step)
        history = fetch(client, config, args.start, args.end, args.step)
    except (PrometheusError, NothingToCompareError) as exc:
        print(f"prober report: {exc}", file=sys.stderr)
        return 1
    regions = args.incident_regions or config.rules.consensus.min_regions
    report = analyse(config, history, regions, comparison)
    text = {"html": lambda: as_html(report, args.title), "markdown": lambda: as_markdown(report),
            "json": lambda: as_json(report)}[args.format]()
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
        print(f"{args.out}: {args.format} report, {len(report.slos)} SLO(s), {len(report.incidents)} incident(s)",
              file=sys.stderr)
    return 0


def _site(args: argparse.Namespace) -> int:
    """Build the site once (--out, no --every), or keep rebuilding it (--every, --listen) until SIGTERM."""
    if args.out is None and args.listen is None:
        print("prober site: give --out FOLDER, --listen HOST:PORT or both", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config, region=args.region)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    configure_logging("info")
    source = SiteSource(config, PrometheusClient(args.prometheus, timeout_s=args.timeout),
                        SiteOptions(args.lang, args.internal or config.site.error_budget, args.incident_regions),
                        step_s=args.step, notes_dir=args.notes, at=args.at, fresh_at=last_fresh_at(args.out))
    every_s = args.every if args.every is not None else (60.0 if args.listen else None)
    if every_s is None or args.at is not None:
        if args.out is None:
            print("prober site: --at builds once: give --out", file=sys.stderr)
            return 2
        snap = publish_once(source, args.out)
        state = f"stale ({snap.freshness.stale_reason})" if snap.freshness.stale else "fresh"
        print(f"{args.out}: status site, {len(snap.services)} service(s), {len(snap.region_names)} region(s), "
              f"{len(snap.incidents)} incident(s), data {state}", file=sys.stderr)
        return 0
    return run_loop(_until_signalled(run_site(source, every_s, args.out, args.listen)))


async def _until_signalled(work: Coroutine[Any, Any, None]) -> int:
    """Run `work` until SIGTERM or SIGINT; 0 then."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return 0


def _import_blackbox(modules: Path, targets: Path, out: Path | None) -> int:
    """Write the agent.yaml; what could not be carried over is said on stderr (and in the file's comments)."""
    try:
        imported = import_blackbox(modules, targets, out_dir=out.resolve().parent if out else None)
    except ImportFailedError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    for line in [*imported.problems, *(f"commented out: {line}" for line in imported.disabled)]:
        print(line, file=sys.stderr)
    if out is None:
        sys.stdout.write(imported.text)
    else:
        try:
            out.write_text(imported.text, encoding="utf-8")
        except OSError as exc:
            print(f"{out}: cannot write: {exc}", file=sys.stderr)
            return 1
    print(f"{out or 'stdout'}: {imported.active} check(s), {len(imported.disabled)} commented out, "
          f"{imported.without_equivalent} option(s) with no prober equivalent (see the '# blackbox:' comments)",
          file=sys.stderr)
    return 0


def _check(path: Path, name: str, region: str | None) -> int:
    try:
        final, first, artifacts_dir = run_loop(check_once(path, name, region))
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 2
    except KeyError:
        print(f"{path}: no check named {name!r}", file=sys.stderr)
        return 2
    print(format_result(final, first, artifacts_dir))
    return 0 if final.ok else 1


_STEP_MARK = {StepStatus.OK: "ok", StepStatus.FAILED: "FAILED", StepStatus.SOFT_FAILED: "failed (soft)",
              StepStatus.NOT_RUN: "not run"}


def format_result(result: Result, first_attempt: Result, artifacts_dir: str = "") -> str:
    """A readable, multi-line summary of one run for the console: a journey's steps as a table."""
    verdict = "OK" if result.ok else "FAILED"
    lines = [f"{result.check}: {verdict}  reason={result.reason.value}  duration={result.duration_s * 1000:.1f}ms"
             f"  attempts={result.attempts}"]
    if result.status_code is not None:
        lines.append(f"  status     {result.status_code}")
    if result.phases:
        lines.append("  phases     " + "  ".join(f"{p.value} {s * 1000:.1f}ms" for p, s in result.phases.items()))
    if result.protocol is not None:
        lines += _protocol_lines(protocol_view(result.protocol))
    elif result.cert_not_after is not None:
        days = (result.cert_not_after - time.time()) / 86400
        when = time.strftime("%Y-%m-%d", time.gmtime(result.cert_not_after))
        lines.append(f"  cert       expires {when} ({days:.0f} days)")
    if result.attempts > 1 and not first_attempt.ok:
        lines.append(f"  attempt 1  {first_attempt.reason.value}: {first_attempt.detail}")
    if result.detail:
        lines.append(f"  detail     {result.detail}")
    if result.journey is not None:
        lines += _journey_lines(result, artifacts_dir)
    return "\n".join(lines)


def _protocol_lines(view: dict[str, Any]) -> list[str]:
    """What a protocol check measured (`protocol_view`), a line or a few."""
    def ms(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds * 1000:.3f}"

    kind = view["kind"]
    if kind == "tls":
        lines = [f"  tls        {view['version']} {view['cipher']}"]
        for cert in view["chain"]:
            when = time.strftime("%Y-%m-%d", time.gmtime(cert["not_after"]))
            lines.append(f"  cert       {cert['subject']}: expires {when} ({cert['days_left']:.0f} days)")
        return lines
    if kind == "icmp":
        loss = "-" if view["loss"] is None else f"{view['loss'] * 100:.0f}%"
        return [f"  ping       {view['received']}/{view['sent']} replies, {loss} loss, rtt min/avg/max/mdev "
                f"{ms(view['rtt_min_s'])}/{ms(view['rtt_avg_s'])}/{ms(view['rtt_max_s'])}/{ms(view['rtt_mdev_s'])} ms"]
    if kind == "dns":
        return [f"  answer     {view['rcode']}, {view['answers']} answer(s), {view['authority']} authority, "
                f"{view['additional']} additional"]
    if kind == "page":
        kinds = ", ".join(f"{count} {name}" for name, count in sorted(view["by_type"].items()))
        lines = [f"  elements   {view['elements']} ({kinds}); failed: {view['failed_first_party']} first party, "
                 f"{view['failed_third_party']} third party; {view['unfinished']} still loading"]
        lines += [f"  failed     {e['url']} ({e['type']}, {e['party']} party): {e['error']}" for e in view["failed"]]
        return lines
    return [f"  grpc       status {view['status_code']}, {view['serving_status'] or 'no serving status'}"]


def _journey_lines(result: Result, artifacts_dir: str) -> list[str]:
    assert result.journey is not None
    outcome = result.journey
    lines = []
    if outcome.steps:
        width = max(len(step.name) for step in outcome.steps)
        lines.append(f"  {'step':<{width}}  {'status':<13}  {'duration':>9}  error")
        for step in outcome.steps:
            took = f"{step.duration_s * 1000:.0f}ms" if step.duration_s is not None else "-"
            lines.append(f"  {step.name:<{width}}  {_STEP_MARK[step.status]:<13}  {took:>9}  {step.detail}".rstrip())
    for number, load in enumerate(outcome.page_loads, 1):
        vitals = "  ".join(f"{v.value} {x:.3f}" if v.value == "cls" else f"{v.value} {x * 1000:.0f}ms"
                           for v, x in load.items())
        lines.append(f"  page {number:<5} {vitals}")
    if outcome.page_events:
        lines.append("  page       " + "  ".join(f"{e.value} {n}" for e, n in outcome.page_events.items()))
    if outcome.requests:
        lines.append(f"  http       {outcome.requests} request(s) via j.http")
    for artifact in outcome.artifacts:
        lines.append(f"  artifact   {Path(artifacts_dir, artifact)}")
    return lines
