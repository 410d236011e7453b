"""Prometheus rules from agent.yaml: SLI recording rules, multi-window burn-rate alerts, agent alerts.

Everything stands on the agent's cumulative counters, never on last-run gauges, so a missed scrape or an
agent restart changes no SLI (rate() spans both). Failures are runs minus successes: both counters exist from
the agent's start, where a per-reason failure series appears only with its first failure (and rate() would
miss the failures before its first scrape). Missing data is never good data: a ratio whose
denominator is zero or absent yields no sample (`> 0` filters it), and the agent-absent alert says why.

Recorded series (labels `check, region` unless said):
  prober_check_region:runs:rate<W>, :failures:rate<W>, :slow:rate<W> (runs over the latency threshold)
  prober_check_region:availability_error:ratio_rate<W>, prober_check:availability_error:ratio_rate<W> ({check})
  prober_check_region:latency_error:ratio_rate<W>,      prober_check:latency_error:ratio_rate<W>
  prober_slo:error:ratio_rate<W> {slo, sli}, prober_slo:objective:ratio, prober_slo:error_budget_remaining:ratio
Windows up to 1d are rates of the counters; 3d and the SLO windows average the 5m rates over the window
(the mean rate while data was there: exact for ratios, and cheap).

Comparisons: the per-region series also keep the agent labels of `rules.group_by` (an `isp` splits them per
ISP) and every series per check keeps the label names the checks' `labels:` use (`site`, `group`: they depend
on the check, so they add no series). When the config has either, a `prober-comparisons` group records what a
side-by-side view needs and should not compute raw, by (check, region, group_by, check labels), over 1h and 1d:
  prober_check_region:duration_seconds:p90_rate<W>          every check
  prober_check_region:web_vital_lcp_seconds:p75_rate<W>     browser checks (journey, page)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from prober.config.models import AgentConfig
from prober.config.units import format_duration
from prober.exporters.exposition import format_le
from prober.slo.objectives import Sli, objectives

RATE_WINDOWS_S = (300.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0)
"""Windows computed as rate() of the counters: 5m, 30m, 1h, 2h, 6h, 1d."""
LONG_WINDOW_S = 3 * 86400.0
COMPARISON_WINDOWS_S = (3600.0, 86400.0)
"""Windows of the comparison quantiles: long enough for a percentile of runs every minute or few (a 5m p90 of
five runs is their maximum), and 2 series per check and vantage point each."""
SEVERITY_PAGE, SEVERITY_TICKET = "page", "ticket"
BROWSER_TYPES = frozenset({"journey", "page"})
"""Check types whose runs load pages in the browser and export web vitals."""


@dataclass(frozen=True)
class BurnRateAlert:
    """Fire when the error ratio over both windows exceeds `factor` times the error budget (SRE workbook)."""

    severity: str
    factor: float
    long_s: float
    short_s: float


BURN_RATE_ALERTS = (
    BurnRateAlert(SEVERITY_PAGE, 14.4, 3600.0, 300.0),
    BurnRateAlert(SEVERITY_PAGE, 6.0, 21600.0, 1800.0),
    BurnRateAlert(SEVERITY_TICKET, 3.0, 86400.0, 7200.0),
    BurnRateAlert(SEVERITY_TICKET, 1.0, 3 * 86400.0, 21600.0),
)


def _w(seconds: float) -> str:
    return format_duration(seconds)


def regex_literal(text: str) -> str:
    """`text` matched literally by a PromQL regex inside a double-quoted string: names hold only [A-Za-z0-9_.-],
    of which only the dot is special; it is escaped for the regex and that backslash again for the string."""
    return text.replace(".", "\\\\.")


def le_matcher(threshold_s: float) -> str:
    """The `le` of a threshold as the agent writes it (`0.25`, `8.0`) or as Prometheus 3 normalises it (`8`)."""
    spellings = {format_le(threshold_s), f"{threshold_s:g}"}
    return "|".join(regex_literal(s) for s in sorted(spellings))


def check_matcher(checks: Iterable[str]) -> str:
    """A label matcher for these checks: `check="a"` or `check=~"a|b"`."""
    names = sorted(set(checks))
    return f'check="{names[0]}"' if len(names) == 1 else f'check=~"{"|".join(regex_literal(n) for n in names)}"'


class RuleBuilder:
    """Builds the rule groups for one config; `groups()` is the whole rule file's content."""

    def __init__(self, config: AgentConfig, interval_s: float = 30.0) -> None:
        self.config = config
        self.rules = config.rules
        self.interval = _w(interval_s)
        self.objectives = objectives(config)
        self.sel = f'job="{self.rules.job}"'
        self.thresholds = {c.name: c.slo.latency.threshold for c in config.checks if c.slo and c.slo.latency}
        slo_windows = {o.window_s for o in self.objectives}
        self.long_windows = sorted({LONG_WINDOW_S, *slo_windows} - set(RATE_WINDOWS_S))
        check_labels = sorted({name for c in config.checks for name in c.labels})
        self.comparing = bool(check_labels or self.rules.group_by)
        # the labels each level keeps: without comparisons exactly (check, region) and (check), as ever
        self.by_region = ", ".join(dict.fromkeys(["check", "region", *self.rules.group_by, *check_labels]))
        self.by_check = ", ".join(["check", *check_labels])

    def groups(self) -> list[dict[str, Any]]:
        groups = [
            {"name": "prober-sli", "interval": self.interval,
             "rules": [*self._rates(), *self._ratios(), *self._packet_loss()]},
            {"name": "prober-slo", "interval": self.interval, "rules": self._slo_records()},
            {"name": "prober-slo-alerts", "interval": self.interval, "rules": self._burn_rate_alerts()},
            {"name": "prober-agent-alerts", "interval": self.interval, "rules": self._agent_alerts()},
        ]
        if self.comparing:
            groups.insert(1, {"name": "prober-comparisons", "interval": self.interval, "rules": self._comparisons()})
        return groups

    # recording rules ----------------------------------------------------------------------------------
    def _rates(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = []
        by = self.by_region
        for seconds in RATE_WINDOWS_S:
            w = _w(seconds)
            rules.append(_record(f"prober_check_region:runs:rate{w}",
                                 f"sum by ({by}) (rate(prober_check_runs_total{{{self.sel}}}[{w}]))"))
            rules.append(_record(f"prober_check_region:failures:rate{w}",  # runs that did not succeed
                                 f"prober_check_region:runs:rate{w}\n- on ({by}) sum by ({by}) "
                                 f"(rate(prober_check_successes_total{{{self.sel}}}[{w}]))"))
            if self.thresholds:
                fast = "\n  or ".join(
                    f"sum by ({by}) (rate(prober_check_duration_seconds_bucket"
                    f'{{{self.sel}, check="{check}", le=~"{le_matcher(threshold)}"}}[{w}]))'
                    for check, threshold in sorted(self.thresholds.items()))
                rules.append(_record(f"prober_check_region:slow:rate{w}",
                                     f"prober_check_region:runs:rate{w}\n- on ({by}) (\n  {fast}\n)"))
        for seconds in self.long_windows:
            w = _w(seconds)
            for kind in ("runs", "failures", "slow") if self.thresholds else ("runs", "failures"):
                rules.append(_record(f"prober_check_region:{kind}:rate{w}",
                                     f"avg_over_time(prober_check_region:{kind}:rate5m[{w}])"))
        return rules

    def _ratios(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = []
        slis = ((Sli.AVAILABILITY, "failures"), (Sli.LATENCY, "slow")) if self.thresholds else (
            (Sli.AVAILABILITY, "failures"),)
        for seconds in (*RATE_WINDOWS_S, *self.long_windows):
            w = _w(seconds)
            for sli, bad in slis:
                rules.append(_record(f"prober_check_region:{sli}_error:ratio_rate{w}",
                                     f"prober_check_region:{bad}:rate{w}\n"
                                     f"/ on ({self.by_region}) (prober_check_region:runs:rate{w} > 0)"))
                rules.append(_record(f"prober_check:{sli}_error:ratio_rate{w}",
                                     f"sum by ({self.by_check}) (prober_check_region:{bad}:rate{w})\n"
                                     f"/ (sum by ({self.by_check}) (prober_check_region:runs:rate{w}) > 0)"))
        return rules

    def _packet_loss(self) -> list[dict[str, Any]]:
        """icmp checks' loss as a ratio of packet rates (never an average of per-run gauges): 1 - received / sent."""
        if not any(check.type == "icmp" for check in self.config.checks):
            return []
        by = self.by_region
        return [_record(f"prober_check_region:icmp_packet_loss:ratio_rate{_w(seconds)}",
                        f"1 - sum by ({by}) (rate(prober_icmp_packets_received_total{{{self.sel}}}"
                        f"[{_w(seconds)}]))\n/ (sum by ({by}) (rate(prober_icmp_packets_sent_total"
                        f"{{{self.sel}}}[{_w(seconds)}])) > 0)")
                for seconds in RATE_WINDOWS_S]

    def _comparisons(self) -> list[dict[str, Any]]:
        """Percentiles per check and vantage point for side-by-side views; `>= 0` drops the NaN of a window
        without runs (no sample, never a made-up one)."""
        by = f"{self.by_region}, le"
        rules = []
        for seconds in COMPARISON_WINDOWS_S:
            w = _w(seconds)
            rules.append(_record(f"prober_check_region:duration_seconds:p90_rate{w}",
                                 f"histogram_quantile(0.9, sum by ({by}) "
                                 f"(rate(prober_check_duration_seconds_bucket{{{self.sel}}}[{w}]))) >= 0"))
        if any(check.type in BROWSER_TYPES for check in self.config.checks):
            for seconds in COMPARISON_WINDOWS_S:
                w = _w(seconds)
                rules.append(_record(f"prober_check_region:web_vital_lcp_seconds:p75_rate{w}",
                                     f"histogram_quantile(0.75, sum by ({by}) (rate(prober_browser_web_vital_bucket"
                                     f'{{{self.sel}, vital="lcp"}}[{w}]))) >= 0'))
        return rules

    def _slo_records(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = []
        for o in self.objectives:
            labels = {"slo": o.slo, "sli": o.sli.value}
            checks = check_matcher(m.check for m in o.members)
            bad = "failures" if o.sli is Sli.AVAILABILITY else "slow"
            for seconds in sorted({*RATE_WINDOWS_S, LONG_WINDOW_S, o.window_s}):
                w = _w(seconds)
                rules.append(_record(f"prober_slo:error:ratio_rate{w}",
                                     f"sum(prober_check_region:{bad}:rate{w}{{{checks}}})\n"
                                     f"/ (sum(prober_check_region:runs:rate{w}{{{checks}}}) > 0)", labels))
            rules.append(_record("prober_slo:objective:ratio", f"vector({o.target:g})", labels))
            rules.append(_record("prober_slo:error_budget_remaining:ratio",
                                 f'1 - prober_slo:error:ratio_rate{_w(o.window_s)}{{slo="{o.slo}", sli="{o.sli}"}}'
                                 f" / {o.error_budget:.6g}", labels))
        return rules

    # alerts -------------------------------------------------------------------------------------------
    def _burn_rate_alerts(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = []
        for o in self.objectives:
            quiet = (f"unless on () (max(prober_check_in_maintenance{{{self.sel}, "
                     f"{check_matcher(m.check for m in o.members)}}}) > 0)")
            name = "".join(part.capitalize() for part in re.split(r"[_.-]", o.slo))
            for severity in (SEVERITY_PAGE, SEVERITY_TICKET):
                pairs = [a for a in BURN_RATE_ALERTS if a.severity == severity]
                series = f'{{slo="{o.slo}", sli="{o.sli}"}}'
                clauses = [
                    f"(prober_slo:error:ratio_rate{_w(a.long_s)}{series} > {a.factor:g} * {o.error_budget:.6g}\n"
                    f" and prober_slo:error:ratio_rate{_w(a.short_s)}{series} > {a.factor:g} * {o.error_budget:.6g})"
                    for a in pairs
                ]
                windows = " or ".join(f"{a.factor:g}x over {_w(a.long_s)} and {_w(a.short_s)}" for a in pairs)
                rules.append(self._alert(
                    f"ProberSlo{name}{o.sli.value.capitalize()}BurnRate{severity.capitalize()}",
                    "(" + "\nor ".join(clauses) + ")\n" + quiet,
                    None,
                    {"severity": severity, "slo": o.slo, "sli": o.sli.value},
                    f"SLO {o.slo} ({o.sli.value}, {o.target * 100:g}% over {_w(o.window_s)}) burns its error budget "
                    f"too fast",
                    f"The {o.sli.value} error ratio of {o.slo} burns the error budget at {windows} the sustainable "
                    f"rate. {o.description}".strip(),
                ))
        return rules

    def _agent_alerts(self) -> list[dict[str, Any]]:
        sel, consensus = self.sel, self.rules.consensus
        # a vantage point is a region and its group_by labels: an unhealthy agent of one ISP hides no other's runs
        vantage = ", ".join(dict.fromkeys(["region", *self.rules.group_by]))
        failing = (f"(probe_success{{{sel}}} == 0)\n"
                   f"    unless on ({vantage}) (prober_agent_vantage_healthy{{{sel}}} == 0)\n"
                   f"    unless on (check, region) (prober_check_in_maintenance{{{sel}}} > 0)")
        rules = [
            self._alert("ProberCheckFailingFromRegions",
                        f"count by (check) (count by (check, region) (\n    {failing}\n)) >= {consensus.min_regions}",
                        consensus.for_, {"severity": SEVERITY_PAGE},
                        "{{ $labels.check }} fails from several regions",
                        f"The last runs of {{{{ $labels.check }}}} failed from {consensus.min_regions} or more regions "
                        f"(healthy vantage points, outside maintenance) for {_w(consensus.for_)}."),
            self._alert("ProberAgentDown", f"up{{{sel}}} == 0", self.rules.absent_for, {"severity": SEVERITY_TICKET},
                        "prober agent {{ $labels.instance }} cannot be scraped",
                        "Prometheus cannot scrape the agent: its region's SLIs have no data (never read as good)."),
        ]
        absent_for = _w(self.rules.absent_for)
        for region in self._regions():
            rules.append(self._alert(
                "ProberRegionAbsent", f'absent_over_time(prober_build_info{{{sel}, region="{region}"}}[{absent_for}])',
                None, {"severity": SEVERITY_TICKET, "region": region},
                f"no prober agent reports from region {region}",
                f"No agent of region {region} has been scraped for {absent_for}: its SLIs have no data."))
        rules += [
            self._alert("ProberVantageUnhealthy", f"prober_agent_vantage_healthy{{{sel}}} == 0", 300.0,
                        {"severity": SEVERITY_TICKET}, "the vantage point of region {{ $labels.region }} is unhealthy",
                        "Every canary of the agent fails: its runs end inconclusive and stay out of the SLIs."),
            self._alert("ProberRunsSkipped",
                        f"sum by (region, instance) (increase(prober_check_skipped_total{{{sel}}}[10m])) > 0", 600.0,
                        {"severity": SEVERITY_TICKET}, "the agent in {{ $labels.region }} skips scheduled runs",
                        "Runs are skipped because earlier runs overran or the agent fell behind: add agents (shard) "
                        "or lower max_concurrent_runs pressure."),
            self._alert("ProberScheduleLagging",
                        "histogram_quantile(0.9, sum by (region, instance, le) "
                        f"(rate(prober_schedule_lag_seconds_bucket{{{sel}}}[10m]))) > 1", 600.0,
                        {"severity": SEVERITY_TICKET}, "the agent in {{ $labels.region }} starts runs late",
                        "The 90th percentile of schedule lag is above 1s for 10m: the agent is overloaded."),
            self._alert("ProberConfigReloadFailed", f"prober_config_last_reload_successful{{{sel}}} == 0", 300.0,
                        {"severity": SEVERITY_TICKET}, "the agent in {{ $labels.region }} rejected its new config",
                        "The last config reload failed; the agent keeps running its last good config. See its log."),
            self._alert("ProberCertificateExpiringSoon",
                        f"(probe_ssl_earliest_cert_expiry{{{sel}}} - time()) < {self.rules.cert_expiry_days:g} * 86400",
                        600.0, {"severity": SEVERITY_TICKET},
                        "the certificate of {{ $labels.check }} expires soon",
                        f"The TLS certificate seen by {{{{ $labels.check }}}} from {{{{ $labels.region }}}} expires in "
                        f"less than {self.rules.cert_expiry_days:g} days (the earliest of the chain the server "
                        f"sent)."),
            self._alert("ProberClientCertificateExpiringSoon",
                        f"(prober_tls_client_cert_expiry_timestamp_seconds{{{sel}}} - time()) < "
                        f"{self.rules.cert_expiry_days:g} * 86400",
                        600.0, {"severity": SEVERITY_TICKET},
                        "the client certificate of {{ $labels.check }} expires soon",
                        f"The client certificate (mTLS) that {{{{ $labels.check }}}} presents in "
                        f"{{{{ $labels.region }}}} expires in less than {self.rules.cert_expiry_days:g} days."),
        ]
        return rules

    def _regions(self) -> list[str]:
        named = {r for c in self.config.checks for r in (c.regions or ())}
        return sorted({*self.rules.regions, *named})

    def _alert(self, name: str, expr: str, for_s: float | None, labels: dict[str, str], summary: str,
               description: str) -> dict[str, Any]:
        rule: dict[str, Any] = {"alert": name, "expr": expr}
        if for_s is not None:
            rule["for"] = _w(for_s)
        rule["labels"] = {**self.rules.labels, **labels}
        annotations = {"summary": summary, "description": description}
        if self.rules.runbook_url:
            annotations["runbook_url"] = self.rules.runbook_url
        rule["annotations"] = annotations
        return rule


def _record(name: str, expr: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"record": name, "expr": expr}
    if labels:
        rule["labels"] = dict(labels)
    return rule
