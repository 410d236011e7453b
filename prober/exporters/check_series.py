"""What the exporter keeps per check, and that check's sample lines, rendered once and cached until it changes.

A scrape of an agent with 10,000 checks joins the cached lines of the checks that did not run since the last
scrape and renders only those that did, so its cost grows with what changed. Series per check are lean by
default (the README's table counts them): HTTP phases and journey steps are sums and counts; with
`agent.metrics.phase_histograms` they are histograms, for percentiles, at ~15 more series each.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from prober.config.icmp_check import IcmpCheck
from prober.config.models import Check, HttpCheck
from prober.config.page_check import PageCheck
from prober.exporters.exposition import (
    Family,
    escape_label_value,
    exemplar,
    histogram_lines,
    histogram_prefixes,
    label_pairs,
    number,
)
from prober.exporters.histogram import (
    CHECK_DURATION_BUCKETS_S,
    CLS_BUCKETS,
    PHASE_BUCKETS_S,
    RTT_BUCKETS_S,
    WEB_VITAL_BUCKETS_S,
    Histogram,
    buckets_with,
)
from prober.result import (
    Counted,
    DnsOutcome,
    GrpcOutcome,
    PageEvent,
    PageOutcome,
    Party,
    Phase,
    PingOutcome,
    Reason,
    ResourceOutcome,
    ResourceType,
    Result,
    StepStatus,
    TlsOutcome,
    Vital,
)

log = logging.getLogger("prober.exporter")

MAX_STEP_LABELS = 32
"""Distinct step names exported per check; a script that makes more (names built from data) shares one
`step="_other"` series for the rest, and a warning says so."""
OTHER_STEP = "_other"

SERVING_STATUSES = ("UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN")
"""grpc.health.v1's serving statuses: blackbox_exporter's `probe_grpc_healthcheck_response` has one series each."""

RUNS = Family("prober_check_runs", "counter",
              "Finished runs of the check that count toward its SLIs, each once after its attempts (inconclusive "
              "and maintenance runs are counted apart). Cumulative.")
SUCCESSES = Family("prober_check_successes", "counter",
                   "Finished runs counted toward the SLIs that succeeded. Cumulative; present from the start (0), "
                   "so rate() sees the first failure however soon it comes.")
FAILURES = Family("prober_check_failures", "counter",
                  "Finished runs counted toward the SLIs that failed, by reason of the final attempt. Cumulative.")
FIRST_FAILURES = Family("prober_check_first_attempt_failures", "counter",
                        "Runs counted toward the SLIs whose first attempt failed, by its reason, even if a retry "
                        "passed.")
ATTEMPTS = Family("prober_check_attempts", "counter", "Attempts made by the check, every retry counted.")
SKIPPED = Family("prober_check_skipped", "counter",
                 "Scheduled runs that did not happen: the previous run was still going or the agent fell behind. "
                 "Never caught up later.")
INCONCLUSIVE = Family("prober_check_inconclusive", "counter",
                      "Finished runs kept out of the SLIs because this agent's vantage point was unhealthy (every "
                      "canary failed), or because they failed on time while the agent itself ran late. Cumulative.")
MAINTENANCE_RUNS = Family("prober_check_maintenance_runs", "counter",
                          "Finished runs kept out of the SLIs because they fell in a maintenance window. Cumulative.")
IN_MAINTENANCE = Family("prober_check_in_maintenance", "gauge",
                        "Whether the check is inside one of its maintenance windows now (1) or not (0); only checks "
                        "that have maintenance windows.")
DURATION = Family("prober_check_duration_seconds", "histogram",
                  "Duration of finished runs counted toward the SLIs (the final attempt), in seconds; for icmp, "
                  "the mean round trip of the run's replies.")
_PHASE_HELP = ("Duration of each phase that happened in finished runs counted toward the SLIs (http: dns, connect, "
               "tls, ttfb, transfer, summed over redirects; tcp: dns, connect, tls, ttfb; tls: dns, connect, tls; "
               "dns: dns, connect, tls, query; grpc: query; icmp: dns), in seconds.")
PHASES = Family("prober_check_phase_duration_seconds", "summary", _PHASE_HELP)
PHASES_HISTOGRAM = Family("prober_check_phase_duration_seconds", "histogram", _PHASE_HELP)
SUCCESS = Family("probe_success", "gauge", "Whether the last finished run of the check succeeded (1) or not (0).")
PROBE_DURATION = Family("probe_duration_seconds", "gauge",
                        "Duration of the last finished run of the check, in seconds (icmp: its mean round trip).")
STATUS_CODE = Family("probe_http_status_code", "gauge",
                     "HTTP status code of the last run's final response (0: none); http checks, and page checks' "
                     "document.")
BB_HTTP_PHASES = Family("probe_http_duration_seconds", "gauge",
                        "Duration of each phase of the last run of an http check, in seconds (blackbox_exporter "
                        "names: resolve, connect, tls, processing, transfer).")
BB_DNS_PHASES = Family("probe_dns_duration_seconds", "gauge",
                       "Duration of each phase of the last run of a dns check, in seconds (blackbox_exporter names: "
                       "resolve, connect, request; tls for DNS-over-TLS).")
BB_GRPC_PHASES = Family("probe_grpc_duration_seconds", "gauge",
                        "Duration of the health call of the last run of a grpc check (phase check), in seconds "
                        "(blackbox_exporter names).")
BB_ICMP_PHASES = Family("probe_icmp_duration_seconds", "gauge",
                        "Phases of the last run of an icmp check, in seconds (blackbox_exporter names): resolve, "
                        "and rtt, the mean round trip of its replies.")
BLACKBOX_PHASES: dict[str, tuple[Family, dict[Phase, str]]] = {
    "http": (BB_HTTP_PHASES, {Phase.DNS: "resolve", Phase.CONNECT: "connect", Phase.TLS: "tls",
                              Phase.TTFB: "processing", Phase.TRANSFER: "transfer"}),
    "dns": (BB_DNS_PHASES, {Phase.DNS: "resolve", Phase.CONNECT: "connect", Phase.TLS: "tls",
                            Phase.QUERY: "request"}),
    "grpc": (BB_GRPC_PHASES, {Phase.QUERY: "check"}),
    "icmp": (BB_ICMP_PHASES, {Phase.DNS: "resolve"}),
}
"""Check type -> blackbox_exporter's family of last-run phase gauges and its names for our phases."""
CERT_EXPIRY = Family("probe_ssl_earliest_cert_expiry", "gauge",
                     "Earliest expiry across the certificate chain the server sent in the last TLS run (http, tcp "
                     "and tls checks), as a unix timestamp.")
TLS_VERSION = Family("probe_tls_version_info", "gauge",
                     "The TLS version of the last run of a tls check (always 1, the version is the label).")
TLS_CIPHER = Family("probe_tls_cipher_info", "gauge",
                    "The cipher suite of the last run of a tls check (always 1, the cipher is the label).")
CLIENT_CERT_EXPIRY = Family("prober_tls_client_cert_expiry_timestamp_seconds", "gauge",
                            "Expiry of the client certificate (mTLS) that the check presents, as a unix timestamp; "
                            "only checks with one, after their first TLS run.")
DNS_ANSWER_RRS = Family("probe_dns_answer_rrs", "gauge", "Records in the answer section of the last dns run.")
DNS_AUTHORITY_RRS = Family("probe_dns_authority_rrs", "gauge",
                           "Records in the authority section of the last dns run.")
DNS_ADDITIONAL_RRS = Family("probe_dns_additional_rrs", "gauge",
                            "Records in the additional section of the last dns run.")
ICMP_SENT = Family("prober_icmp_packets_sent", "counter",
                   "Echo requests sent by the runs of an icmp check counted toward the SLIs. Cumulative: loss over "
                   "any window is 1 - rate(received) / rate(sent).")
ICMP_RECEIVED = Family("prober_icmp_packets_received", "counter",
                       "Echo replies received in time by the runs of an icmp check counted toward the SLIs. "
                       "Cumulative.")
ICMP_RTT = Family("prober_icmp_rtt_seconds", "histogram",
                  "Round trip of each echo reply received by the runs of an icmp check counted toward the SLIs, in "
                  "seconds; buckets include expect.max_rtt.")
ICMP_HOP_LIMIT = Family("probe_icmp_reply_hop_limit", "gauge",
                        "The TTL (IPv4) or hop limit (IPv6) of the last echo reply of the last icmp run.")
GRPC_STATUS = Family("probe_grpc_status_code", "gauge",
                     "The gRPC status code of the last health call of a grpc check (0: OK; -1: no call made).")
GRPC_SERVING = Family("probe_grpc_healthcheck_response", "gauge",
                      "The serving status that the last health call of a grpc check answered: 1 on the series of "
                      "that status, 0 on the others.")
_STEP_HELP = "Duration of each journey step that ran (passed or failed), in seconds."
STEP_DURATION = Family("prober_step_duration_seconds", "summary", _STEP_HELP)
STEP_DURATION_HISTOGRAM = Family("prober_step_duration_seconds", "histogram", _STEP_HELP)
STEP_FAILURES = Family("prober_step_failures", "counter", "Journey steps that failed (soft failures included). "
                       "Cumulative.")
VITALS = Family("prober_browser_web_vital", "histogram",
                "Web vitals of each page load in browser journeys and page checks: ttfb, fcp, lcp and inp in seconds, "
                "cls unitless (its own buckets).")
PAGE_EVENTS = Family("prober_browser_page_events", "counter",
                     "Uncaught page exceptions, console errors and failed requests (no response) seen by browser "
                     "journeys and page checks. Cumulative.")
PAGE_RESOURCES = Family("prober_page_resources", "counter",
                        "Elements that the pages of a page check requested and that finished loading, by type, party "
                        "(first: the page's registrable domain or a first_party one) and outcome (failed: an error "
                        "or a 4xx/5xx answer), in runs counted toward the SLIs. Cumulative.")
PAGE_RESOURCE_BYTES = Family("prober_page_resource_transfer_bytes", "summary",
                             "Bytes received (headers and encoded body) for the finished elements of a page check's "
                             "runs counted toward the SLIs, by type.")
PAGE_RESOURCE_DURATION = Family("prober_page_resource_duration_seconds", "summary",
                                "Load time (request start to last byte, or to the error) of the finished elements of "
                                "a page check's runs counted toward the SLIs, by type, in seconds.")


def check_families(phase_histograms: bool) -> tuple[Family, ...]:
    """The per-check families in the order they are exported; `CheckSeries.lines` renders them in this order."""
    return (RUNS, SUCCESSES, FAILURES, FIRST_FAILURES, ATTEMPTS, SKIPPED, INCONCLUSIVE, MAINTENANCE_RUNS,
            IN_MAINTENANCE, DURATION, PHASES_HISTOGRAM if phase_histograms else PHASES, SUCCESS, PROBE_DURATION,
            STATUS_CODE, BB_HTTP_PHASES, BB_DNS_PHASES, BB_GRPC_PHASES, BB_ICMP_PHASES, CERT_EXPIRY, TLS_VERSION,
            TLS_CIPHER, CLIENT_CERT_EXPIRY, DNS_ANSWER_RRS, DNS_AUTHORITY_RRS, DNS_ADDITIONAL_RRS, ICMP_SENT,
            ICMP_RECEIVED, ICMP_RTT, ICMP_HOP_LIMIT, GRPC_STATUS, GRPC_SERVING,
            STEP_DURATION_HISTOGRAM if phase_histograms else STEP_DURATION, STEP_FAILURES, VITALS, PAGE_EVENTS,
            PAGE_RESOURCES, PAGE_RESOURCE_BYTES, PAGE_RESOURCE_DURATION)


def rtt_buckets(check: Check) -> tuple[float, ...]:
    """An icmp check's round-trip buckets: RTT_BUCKETS_S below its timeout, plus its expect.max_rtt."""
    max_rtt = check.expect.max_rtt if isinstance(check, IcmpCheck) else None
    return buckets_with((b for b in RTT_BUCKETS_S if b < check.timeout), (max_rtt,))


def duration_buckets(check: Check) -> tuple[float, ...]:
    """The duration buckets of a check: the defaults below its timeout (a run cannot take longer, so those
    buckets would always equal +Inf), plus its SLO latency threshold and max_duration."""
    threshold = check.slo.latency.threshold if check.slo and check.slo.latency else None
    return buckets_with((b for b in CHECK_DURATION_BUCKETS_S if b < check.timeout), (threshold, check.max_duration_s))


def vital_buckets(check: Check, vital: Vital) -> tuple[float, ...]:
    """A web vital's buckets: web.dev's bounds, plus a page check's own bound on that vital (`expect.max_lcp`)."""
    if vital is Vital.CLS:
        return buckets_with(CLS_BUCKETS, (check.expect.max_cls if isinstance(check, PageCheck) else None,))
    bound = None
    if isinstance(check, PageCheck):
        bound = {Vital.LCP: check.expect.max_lcp, Vital.TTFB: check.expect.max_ttfb}.get(vital)
    return buckets_with(WEB_VITAL_BUCKETS_S, (bound,))


@dataclass
class _Step:
    duration: Histogram
    failures: int = 0


class CheckSeries:
    """The cumulative state of one check's series and its cached sample lines (one string per family)."""

    def __init__(self, check: Check, labels: list[tuple[str, str]], phase_histograms: bool) -> None:
        self.check = check
        self.labels = label_pairs(labels)
        self.phase_histograms = phase_histograms
        self.in_maintenance: str = ""  # the gauge's line prefix, for checks with windows (set by the exporter)
        self.duration = Histogram(duration_buckets(check))
        self.runs = self.successes = self.attempts = self.skipped = self.inconclusive = self.maintenance_runs = 0
        self.failures: dict[Reason, int] = {}
        self.first_attempt_failures: dict[Reason, int] = {}
        self.failure_exemplars: dict[Reason, tuple[str, float]] = {}
        self.phases: dict[Phase, Histogram] = {}
        self.steps: dict[str, _Step] = {}
        self.vitals: dict[Vital, Histogram] = {}
        self.page_events: dict[PageEvent, int] = {}
        self.resources: dict[tuple[ResourceType, Party, ResourceOutcome], int] = {}
        self.resource_bytes: dict[ResourceType, Histogram] = {}
        self.resource_seconds: dict[ResourceType, Histogram] = {}
        self.packets_sent = self.packets_received = 0
        self.rtt = Histogram(rtt_buckets(check)) if isinstance(check, IcmpCheck) else None
        self.last: Result | None = None
        self._lines: list[str] | None = None
        self._prefixes: dict[tuple[str, str], list[str]] = {}

    def relabel(self, check: Check, labels: list[tuple[str, str]], phase_histograms: bool) -> None:
        """Adopt a reloaded check and the agent's labels; counters carry over, new buckets start empty."""
        self.check = check
        self.labels = label_pairs(labels)
        bounds = duration_buckets(check)
        if bounds != self.duration.bounds:
            self.duration = Histogram(bounds)  # new buckets cannot inherit old counts
        rtt_bounds = rtt_buckets(check) if isinstance(check, IcmpCheck) else None
        if rtt_bounds is None or self.rtt is None or rtt_bounds != self.rtt.bounds:
            self.rtt = Histogram(rtt_bounds) if rtt_bounds is not None else None
        for vital, histogram in list(self.vitals.items()):
            if histogram.bounds != vital_buckets(check, vital):
                del self.vitals[vital]  # new buckets cannot inherit old counts: it starts again at the next load
        if phase_histograms != self.phase_histograms:
            self.phase_histograms = phase_histograms
            self.phases.clear()
            for step in self.steps.values():
                step.duration = self._step_histogram()
        self._prefixes.clear()
        self._lines = None

    # what runs found -----------------------------------------------------------------------------------
    def finished(self, result: Result, first_attempt: Result) -> None:
        self._lines = None
        self.last = result
        if result.counted is Counted.INCONCLUSIVE:  # kept out of every SLI series
            self.inconclusive += 1
            return
        if result.counted is Counted.MAINTENANCE:
            self.maintenance_runs += 1
            return
        self.runs += 1
        self.attempts += result.attempts
        if result.ok:
            self.successes += 1
        else:
            self.failures[result.reason] = self.failures.get(result.reason, 0) + 1
            if result.journey is not None:  # a failure spike links to its artifacts by run id
                self.failure_exemplars[result.reason] = (result.journey.run_id, result.started_at)
        if not first_attempt.ok:
            reason = first_attempt.reason
            self.first_attempt_failures[reason] = self.first_attempt_failures.get(reason, 0) + 1
        self.duration.observe(result.duration_s)
        for phase, seconds in result.phases.items():
            histogram = self.phases.get(phase)
            if histogram is None:
                histogram = self.phases[phase] = Histogram(PHASE_BUCKETS_S if self.phase_histograms else ())
            histogram.observe(seconds)
        if result.journey is not None:
            self._journey_finished(result)
        if isinstance(result.protocol, PageOutcome):
            self._page_finished(result.protocol)
        if isinstance(result.protocol, PingOutcome):
            self.packets_sent += result.protocol.sent
            self.packets_received += result.protocol.received
            if self.rtt is not None:
                for rtt_s in result.protocol.rtts_s:
                    self.rtt.observe(rtt_s)

    def _step_histogram(self) -> Histogram:
        return Histogram(CHECK_DURATION_BUCKETS_S if self.phase_histograms else ())

    def _journey_finished(self, result: Result) -> None:
        assert result.journey is not None
        for step in result.journey.steps:
            if step.status is StepStatus.NOT_RUN:
                continue
            step_series = self._step(step.name)
            if step.duration_s is not None:
                step_series.duration.observe(step.duration_s)
            if step.status is not StepStatus.OK:
                step_series.failures += 1
        for load in result.journey.page_loads:
            for vital, value in load.items():
                histogram = self.vitals.get(vital)
                if histogram is None:
                    histogram = self.vitals[vital] = Histogram(vital_buckets(self.check, vital))
                histogram.observe(value)
        for event, count in result.journey.page_events.items():
            self.page_events[event] = self.page_events.get(event, 0) + count

    def _page_finished(self, page: PageOutcome) -> None:
        for total in page.totals:
            key = (total.type, total.party, total.outcome)
            self.resources[key] = self.resources.get(key, 0) + total.count
            self.resource_bytes.setdefault(total.type, Histogram(())).add(total.count, total.transfer_bytes)
            self.resource_seconds.setdefault(total.type, Histogram(())).add(total.count, total.duration_s)

    def _step(self, name: str) -> _Step:
        series = self.steps.get(name)
        if series is None:
            if len(self.steps) >= MAX_STEP_LABELS:
                if OTHER_STEP not in self.steps:
                    log.warning("too many step names: the rest are exported as step=\"_other\"",
                                extra={"check": self.check.name, "max_step_labels": MAX_STEP_LABELS})
                name = OTHER_STEP
            series = self.steps.get(name)
            if series is None:
                series = self.steps[name] = _Step(self._step_histogram())
        return series

    def skipped_slots(self, slots: int) -> None:
        self._lines = None
        self.skipped += slots

    # sample lines --------------------------------------------------------------------------------------
    def lines(self) -> list[str]:
        """The check's sample lines, one string per family of `check_families` (empty where it has none);
        rendered again only after the check changed."""
        if self._lines is None:
            self._lines = self._render()
        return self._lines

    def failures_openmetrics(self) -> str:
        """The failures family's lines with their OpenMetrics exemplars (run ids of failed journeys)."""
        if not self.failure_exemplars:
            return self.lines()[2]
        return "".join(
            f"{FAILURES.sample}{{{self.labels},reason=\"{reason.value}\"}} {count}"
            + (exemplar([("run_id", ex[0])], 1.0, ex[1]) if (ex := self.failure_exemplars.get(reason)) else "")
            + "\n"
            for reason, count in self.failures.items())

    def _render(self) -> list[str]:
        lbl = self.labels
        last = self.last

        def one(family: Family, value: float) -> str:
            return f"{family.sample}{{{lbl}}} {number(value)}\n"

        def by(family: Family, label: str, values: dict[str, float]) -> str:
            return "".join(f'{family.sample}{{{lbl},{label}="{key}"}} {number(value)}\n'
                           for key, value in values.items())

        phase_name = PHASES.name
        step_name = STEP_DURATION.name
        is_http = isinstance(self.check, HttpCheck | PageCheck)  # a page's document status
        steps = {escape_label_value(name): step for name, step in self.steps.items()}
        outcome = last.protocol if last is not None else None
        tls = outcome if isinstance(outcome, TlsOutcome) else None
        answer = outcome if isinstance(outcome, DnsOutcome) else None
        ping = outcome if isinstance(outcome, PingOutcome) else None
        grpc = outcome if isinstance(outcome, GrpcOutcome) else None
        is_tls_check = self.check.type == "tls"
        is_icmp = isinstance(self.check, IcmpCheck)
        return [
            one(RUNS, self.runs),
            one(SUCCESSES, self.successes),
            by(FAILURES, "reason", {r.value: n for r, n in self.failures.items()}),
            by(FIRST_FAILURES, "reason", {r.value: n for r, n in self.first_attempt_failures.items()}),
            one(ATTEMPTS, self.attempts),
            one(SKIPPED, self.skipped),
            one(INCONCLUSIVE, self.inconclusive),
            one(MAINTENANCE_RUNS, self.maintenance_runs),
            "",  # in_maintenance: a gauge of now, rendered by the exporter at each scrape
            self._histogram(DURATION.name, "", self.duration),
            "".join(self._histogram(phase_name, f',phase="{p.value}"', h) for p, h in self.phases.items()),
            "" if last is None else one(SUCCESS, 1 if last.ok else 0),
            "" if last is None else one(PROBE_DURATION, last.duration_s),
            "" if last is None or not is_http else one(STATUS_CODE, last.status_code or 0),
            *self._blackbox_phases(last),
            "" if last is None or last.cert_not_after is None else one(CERT_EXPIRY, last.cert_not_after),
            "" if tls is None or not is_tls_check else by(TLS_VERSION, "version", {escape_label_value(tls.version): 1}),
            "" if tls is None or not is_tls_check else by(TLS_CIPHER, "cipher", {escape_label_value(tls.cipher): 1}),
            "" if tls is None or tls.client_cert_not_after is None else one(CLIENT_CERT_EXPIRY,
                                                                           tls.client_cert_not_after),
            "" if answer is None else one(DNS_ANSWER_RRS, answer.answers),
            "" if answer is None else one(DNS_AUTHORITY_RRS, answer.authority),
            "" if answer is None else one(DNS_ADDITIONAL_RRS, answer.additional),
            one(ICMP_SENT, self.packets_sent) if is_icmp else "",
            one(ICMP_RECEIVED, self.packets_received) if is_icmp else "",
            self._histogram(ICMP_RTT.name, "", self.rtt) if self.rtt is not None else "",
            "" if ping is None or ping.hop_limit is None else one(ICMP_HOP_LIMIT, ping.hop_limit),
            "" if self.check.type != "grpc" or last is None else one(GRPC_STATUS,
                                                                     grpc.status_code if grpc else -1),
            "" if grpc is None or grpc.serving_status is None else by(
                GRPC_SERVING, "serving_status",
                {status: int(status == grpc.serving_status) for status in SERVING_STATUSES}),
            "".join(self._histogram(step_name, f',step="{n}"', s.duration) for n, s in steps.items()),
            by(STEP_FAILURES, "step", {n: s.failures for n, s in steps.items()}),
            "".join(self._histogram(VITALS.name, f',vital="{v.value}"', h) for v, h in self.vitals.items()),
            by(PAGE_EVENTS, "kind", {e.value: n for e, n in self.page_events.items()}),
            "".join(f'{PAGE_RESOURCES.sample}{{{lbl},type="{t.value}",party="{p.value}",outcome="{o.value}"}} {n}\n'
                    for (t, p, o), n in sorted(self.resources.items())),
            "".join(self._histogram(PAGE_RESOURCE_BYTES.name, f',type="{t.value}"', h)
                    for t, h in sorted(self.resource_bytes.items())),
            "".join(self._histogram(PAGE_RESOURCE_DURATION.name, f',type="{t.value}"', h)
                    for t, h in sorted(self.resource_seconds.items())),
        ]

    def _blackbox_phases(self, last: Result | None) -> list[str]:
        """The last run's phases in blackbox_exporter's family of the check's type (one entry per such family)."""
        out = ["", "", "", ""]
        kind = BLACKBOX_PHASES.get(self.check.type)
        if last is None or kind is None:
            return out
        family, names = kind
        values = {names[p]: s for p, s in last.phases.items() if p in names}
        if isinstance(last.protocol, PingOutcome) and last.protocol.rtts_s:
            values["rtt"] = last.duration_s  # an icmp run's duration is its mean round trip
        lbl = self.labels
        out[(BB_HTTP_PHASES, BB_DNS_PHASES, BB_GRPC_PHASES, BB_ICMP_PHASES).index(family)] = "".join(
            f'{family.sample}{{{lbl},phase="{key}"}} {number(value)}\n' for key, value in values.items())
        return out

    def _histogram(self, name: str, extra: str, histogram: Histogram) -> str:
        """A histogram's lines (buckets, count, sum), or a summary's (count, sum) when it has no bounds."""
        key = (name, extra)
        prefixes = self._prefixes.get(key)
        if prefixes is None:
            prefixes = self._prefixes[key] = histogram_prefixes(name, self.labels + extra, histogram.bounds)
        return histogram_lines(prefixes, histogram.counts, histogram.total)
