"""The agent's status page: server-rendered HTML over the run history (no JavaScript, no CDN, no build step).

`/` lists every check with its status, last run, a sparkline of the kept runs and their availability;
`/checks/{name}` shows one check: its recent runs, the HTTP phase waterfall of the last run, or for journeys the
steps, the failed step's error, the web vitals, the screenshot inline and links to the trace and console log; for
page checks their elements, the failed ones by URL and the waterfall of every element.
Every value is escaped; the views hold no URL or parameter of a check.
"""

from __future__ import annotations

import time
from html import escape
from typing import Any
from urllib.parse import quote

PHASES = ("dns", "connect", "tls", "ttfb", "transfer", "query")
NONE = "&ndash;"  # shown where there is no value yet
MIN_SPARK_SLOTS = 30
_CSS = """
:root { --ok: #1a7f37; --bad: #cf222e; --grey: #8c959f; --ink: #1f2328; --soft: #f6f8fa; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", sans-serif;
       color: var(--ink); margin: 0; background: #fff; }
header { background: var(--ink); color: #fff; padding: .8rem 1.2rem; display: flex; gap: 1rem;
         align-items: baseline; flex-wrap: wrap; }
header a { color: #fff; text-decoration: none; font-weight: 600; }
header .meta { opacity: .75; font-size: .9em; }
main { padding: 1rem 1.2rem; max-width: 1100px; margin: 0 auto; }
h1 { font-size: 1.35rem; margin: .2rem 0 1rem; } h2 { font-size: 1.1rem; margin: 1.6rem 0 .6rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .45rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; font-size: .85em; color: #57606a; text-transform: uppercase; letter-spacing: .03em; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; padding: .05rem .55rem; border-radius: 1rem; font-size: .85em; font-weight: 600;
         color: #fff; background: var(--grey); white-space: nowrap; }
.badge.ok { background: var(--ok); } .badge.failing, .badge.failed { background: var(--bad); }
.badge.soft_failed { background: #bc4c00; } .badge.not_run, .badge.pending { background: var(--grey); }
.detail { color: #57606a; font-size: .9em; word-break: break-word; }
.error { background: #ffebe9; border: 1px solid #ff818266; padding: .6rem .8rem; border-radius: 6px;
         word-break: break-word; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: .6rem; }
.card { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: .5rem .7rem; }
.card > b { display: block; font-size: 1.2em; } .card > span { color: #57606a; font-size: .85em; }
.bar { height: 14px; background: #0969da; border-radius: 2px; min-width: 2px; }
.waterfall td { border: 0; padding: .2rem .5rem; } .waterfall .track { width: 70%; }
img.shot { max-width: 100%; border: 1px solid var(--line); border-radius: 6px; }
a { color: #0969da; }
@media (max-width: 640px) { .wide { display: none; } main { padding: .8rem; } th, td { padding: .4rem .3rem; }
  td.num { white-space: normal; } }
"""


def _page(title: str, region: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} · prober</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{_CSS}</style></head><body><header><a href=\"/\">prober</a>"
            f'<span class="meta">region {escape(region)}</span>'
            '<span class="meta"><a href="/metrics">/metrics</a> · <a href="/api/checks">/api/checks</a></span>'
            f"</header><main>{body}</main></body></html>")


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    if seconds < 0.01:  # a loopback ping or a LAN connect: tenths of a millisecond matter
        return f"{seconds * 1000:.2f} ms"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _ago(unix_time: float, now: float) -> str:
    delta = max(0.0, now - unix_time)
    if delta < 120:
        return f"{delta:.0f} s ago"
    return f"{delta / 60:.0f} min ago" if delta < 7200 else f"{delta / 3600:.0f} h ago"


def _utc(unix_time: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(unix_time))


def _badge(status: str) -> str:
    return f'<span class="badge {escape(status)}">{escape(status.replace("_", " "))}</span>'


def sparkline(runs: list[dict[str, Any]], width: int = 180, height: int = 28) -> str:
    """An inline SVG: one bar per kept run, its height the run's duration, red when it failed, grey when it was
    kept out of the SLIs."""
    if not runs:
        return '<span class="detail">no runs yet</span>'
    slot = width / max(len(runs), MIN_SPARK_SLOTS)  # a few runs make thin bars on the right, not a wall
    start = width - slot * len(runs)
    longest = max(r["duration_s"] for r in runs) or 1.0
    bars = []
    for i, run in enumerate(runs):
        h = max(3.0, height * run["duration_s"] / longest)
        color = "#8c959f" if run["counted"] != "sli" else ("#1a7f37" if run["ok"] else "#cf222e")
        bars.append(f'<rect x="{start + i * slot:.1f}" y="{height - h:.1f}" width="{max(slot - 1, 1):.1f}" '
                    f'height="{h:.1f}" fill="{color}"/>')
    failed = sum(not r["ok"] for r in runs)
    return (f'<svg role="img" aria-label="{len(runs)} runs, {failed} failed" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" style="max-width:100%;height:auto">{"".join(bars)}</svg>')


def overview_html(checks: list[dict[str, Any]], region: str) -> str:
    """`/`: every check of this agent, the troubled ones first."""
    now = time.time()
    failing = sum(c["status"] == "failing" for c in checks)
    rows = []
    for c in checks:
        last = c["last"]
        availability = NONE if c["availability"] is None else f"{c['availability'] * 100:.1f}%"
        rows.append(
            f'<tr><td><a href="/checks/{quote(c["name"])}">{escape(c["name"])}</a>'
            f'<div class="detail">{escape(c["type"])} · every {escape(c["interval"])}</div></td>'
            f"<td>{_badge(c['status'])}</td>"
            f'<td class="num">{_ago(last["started_at"], now) if last else NONE}</td>'
            f'<td class="num wide">{_ms(last["duration_s"]) if last else NONE}</td>'
            f'<td class="wide">{escape(last["reason"]) if last else NONE}</td>'
            f'<td class="wide">{sparkline(c["sparkline"])}</td>'
            f'<td class="num">{availability}<div class="detail">{c["kept_runs"]} runs</div></td></tr>')
    summary = (f"{len(checks)} checks · {failing} failing" if checks else "no checks run in this region")
    body = (f"<h1>Checks</h1><p class=\"detail\">{escape(summary)}</p>"
            "<table><thead><tr><th>check</th><th>status</th><th>last run</th><th class=\"wide\">duration</th>"
            '<th class="wide">reason</th>'
            '<th class="wide">recent runs</th><th>availability</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")
    return _page("checks", region, body)


def _waterfall(phases: dict[str, float]) -> str:
    total = sum(phases.values()) or 1.0
    offset, rows = 0.0, []
    for phase in PHASES:
        if phase not in phases:
            continue
        seconds = phases[phase]
        rows.append(f'<tr><td>{phase}</td><td class="track"><div class="bar" style="margin-left:'
                    f'{offset / total * 100:.1f}%;width:{seconds / total * 100:.1f}%"></div></td>'
                    f'<td class="num">{_ms(seconds)}</td></tr>')
        offset += seconds
    return f'<h2>Phases of the last run</h2><table class="waterfall">{"".join(rows)}</table>' if rows else ""


def _protocol(protocol: dict[str, Any]) -> str:
    """What a protocol check's last run measured: the TLS chain, a ping's statistics, a DNS or grpc answer."""
    kind = protocol["kind"]
    if kind == "tls":
        rows = "".join(f'<tr><td>{escape(c["subject"])}<div class="detail">issued by {escape(c["issuer"])}</div></td>'
                       f'<td class="num">{_utc(c["not_after"])}</td><td class="num">{c["days_left"]:.1f}</td></tr>'
                       for c in protocol["chain"])
        head = f'<p>{escape(protocol["version"])} · {escape(protocol["cipher"])}</p>'
        return (f"<h2>TLS</h2>{head}<table><thead><tr><th>certificate the server sent</th><th>expires</th>"
                f"<th>days left</th></tr></thead><tbody>{rows}</tbody></table>")
    if kind == "icmp":
        loss = NONE if protocol["loss"] is None else f"{protocol['loss'] * 100:.1f}%"
        cards = [("replies", f"{protocol['received']}/{protocol['sent']}"), ("loss", loss),
                 ("rtt min", _ms(protocol["rtt_min_s"])), ("rtt avg", _ms(protocol["rtt_avg_s"])),
                 ("rtt max", _ms(protocol["rtt_max_s"])), ("rtt mdev", _ms(protocol["rtt_mdev_s"]))]
    elif kind == "dns":
        cards = [("rcode", escape(protocol["rcode"])), ("answers", str(protocol["answers"])),
                 ("authority", str(protocol["authority"])), ("additional", str(protocol["additional"]))]
    else:
        cards = [("grpc status", str(protocol["status_code"])),
                 ("serving status", escape(protocol["serving_status"] or NONE))]
    return ('<h2>Last answer</h2><div class="cards">'
            + "".join(f'<div class="card"><span>{k}</span><b>{v}</b></div>' for k, v in cards) + "</div>")


def _size(count: int | None) -> str:
    if count is None:
        return NONE
    return f"{count / 1024:.1f} KiB" if count >= 1024 else f"{count} B"


def _page_elements(protocol: dict[str, Any], waterfall: list[dict[str, Any]]) -> str:
    """A page run's elements: counts, the failed ones by URL, and the waterfall of every element it loaded."""
    failed = protocol["failed_first_party"] + protocol["failed_third_party"]
    cards = [("document", str(protocol["document_status"] or NONE)), ("elements", str(protocol["elements"])),
             ("failed (first / third party)", f"{protocol['failed_first_party']} / {protocol['failed_third_party']}"),
             ("transferred", _size(protocol["transfer_bytes"])), ("still loading at the end",
                                                                  str(protocol["unfinished"]))]
    parts = ['<h2>Elements</h2><div class="cards">'
             + "".join(f'<div class="card"><span>{k}</span><b>{v}</b></div>' for k, v in cards) + "</div>"]
    if failed:
        items = "".join(f'<li>{escape(e["url"])} <span class="detail">{escape(e["type"])} · {escape(e["party"])} '
                        f'party · {escape(e["error"])}</span></li>' for e in protocol["failed"])
        more = failed - len(protocol["failed"])
        parts.append(f'<div class="error">Failed elements:<ul>{items}</ul>{f"and {more} more" if more > 0 else ""}'
                     "</div>")
    end = max((e["start_s"] + (e["duration_s"] or 0.0) for e in waterfall), default=0.0) or 1.0
    rows = []
    for e in waterfall:
        phases = ", ".join(f"{name} {_ms(e[name + '_s'])}" for name in ("dns", "connect", "tls", "ttfb", "download")
                           if e[name + "_s"] is not None)
        colour = "background:var(--bad);" if e["outcome"] == "failed" else ""
        rows.append(f'<tr><td class="detail" title="{escape(e["url"])}">{escape(e["url"][-60:])}</td>'
                    f'<td>{escape(e["type"])}</td><td>{escape(e["party"])}</td>'
                    f'<td class="num">{escape(str(e["status"] or e["error"] or NONE))}</td>'
                    f'<td class="track wide"><div class="bar" title="{escape(phases)}" style="{colour}margin-left:'
                    f'{e["start_s"] / end * 100:.1f}%;width:{(e["duration_s"] or 0.0) / end * 100:.1f}%"></div></td>'
                    f'<td class="num">{_ms(e["duration_s"])}</td>'
                    f'<td class="num">{_size(e["transfer_bytes"])}</td></tr>')
    if rows:
        parts.append('<h2>Waterfall of the last run</h2><table class="waterfall"><thead><tr><th>element</th>'
                     '<th>type</th><th>party</th><th>status</th><th class="wide">timeline</th><th>duration</th>'
                     f'<th>size</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
    return "".join(parts)


def _journey(journey: dict[str, Any]) -> str:
    parts = []
    failed = next((s for s in journey["steps"] if s["status"] == "failed"), None)
    if failed is not None:
        parts.append(f'<h2>Failed step: {escape(failed["name"])}</h2>'
                     f'<div class="error">{escape(failed["detail"] or "failed")}</div>')
    rows = "".join(f'<tr><td>{escape(s["name"])}</td><td>{_badge(s["status"])}</td>'
                   f'<td class="num">{_ms(s["duration_s"])}</td><td class="detail">{escape(s["detail"])}</td></tr>'
                   for s in journey["steps"])
    if rows:  # a page check has no steps
        parts.append("<h2>Steps</h2><table><thead><tr><th>step</th><th>status</th><th>duration</th><th>error</th>"
                     f"</tr></thead><tbody>{rows}</tbody></table>")
    if journey["page_loads"]:
        cards = []
        for index, load in enumerate(journey["page_loads"], 1):
            for vital in ("ttfb", "fcp", "lcp", "inp", "cls"):
                if vital in load:
                    value = f"{load[vital]:.3f}" if vital == "cls" else _ms(load[vital])
                    cards.append(f'<div class="card"><span>page {index} · {vital.upper()}</span><b>{value}</b></div>')
        parts.append(f'<h2>Web vitals</h2><div class="cards">{"".join(cards)}</div>')
    if journey["page_events"]:
        events = ", ".join(f"{escape(k.replace('_', ' '))}: {v}" for k, v in journey["page_events"].items())
        parts.append(f'<p class="detail">Page events: {events}</p>')
    links = []
    for path in journey["artifacts"]:
        name = path.rsplit("/", 1)[-1]
        if name.endswith(".png"):
            parts.append(f'<h2>Screenshot</h2><a href="{escape(path)}"><img class="shot" src="{escape(path)}" '
                         f'alt="screenshot of run {escape(journey["run_id"])}"></a>')
        else:
            links.append(f'<a href="{escape(path)}">{escape(name)}</a>')
    if links:
        parts.append(f"<p>Artifacts of run {escape(journey['run_id'])}: {' · '.join(links)} "
                     '<span class="detail">(open a trace with <code>playwright show-trace</code> or '
                     "trace.playwright.dev)</span></p>")
    return "".join(parts)


def check_html(view: dict[str, Any]) -> str:
    """`/checks/{name}`: the check's last run in detail and its recent runs."""
    now = time.time()
    last = view["last"]
    slo = view["slo"] or {}
    availability = NONE if view["availability"] is None else f"{view['availability'] * 100:.2f}%"
    cards = [("status", _badge(view["status"])), ("availability (kept runs)", availability),
             ("interval / timeout", f"{escape(view['interval'])} / {escape(view['timeout'])}")]
    if slo.get("availability"):
        cards.append(("SLO availability", f"{slo['availability']}%"))
    if slo.get("latency"):
        cards.append(("SLO latency", f"{slo['latency']['target']}% ≤ {escape(str(slo['latency']['threshold']))}"))
    spark_width = 600
    body = [f"<h1>{escape(view['name'])} <span class=\"detail\">{escape(view['type'])}"
            f"{' · ' + escape(view['script']) if view['script'] else ''}</span></h1>",
            '<div class="cards">' + "".join(f'<div class="card"><span>{k}</span><b>{v}</b></div>' for k, v in cards)
            + "</div>", f"<h2>Recent runs</h2>{sparkline(view['sparkline'], width=spark_width, height=40)}"]
    if last is not None:
        body.append(f"<h2>Last run</h2><p>{_badge('ok' if last['ok'] else 'failing')} {escape(last['reason'])} · "
                    f"{_ms(last['duration_s'])} · {_utc(last['started_at'])} ({_ago(last['started_at'], now)})"
                    f"{' · ' + escape(last['counted']) if last['counted'] != 'sli' else ''}</p>")
        failed_step = "journey" in last and any(st["status"] == "failed" for st in last["journey"]["steps"])
        if last["detail"] and not failed_step:  # a failed step shows its own error below
            body.append(f'<div class="{"detail" if last["ok"] else "error"}">{escape(last["detail"])}</div>')
        if "journey" in last:
            body.append(_journey(last["journey"]))
        else:
            body.append(_waterfall(last["phases"]))
        if "protocol" in last and last["protocol"]["kind"] == "page":
            body.append(_page_elements(last["protocol"], last.get("waterfall", [])))
        elif "protocol" in last:
            body.append(_protocol(last["protocol"]))
    rows = []
    for run in view["runs"]:
        run_id = run["journey"]["run_id"] if "journey" in run else ""
        rows.append(f'<tr><td class="num">{_utc(run["started_at"])}</td>'
                    f'<td>{_badge("ok" if run["ok"] else "failing")}</td>'
                    f'<td>{escape(run["reason"])}</td><td class="num">{_ms(run["duration_s"])}</td>'
                    f'<td class="wide detail">{escape(run["detail"])}'
                    f'{" · " + escape(run_id) if run_id else ""}</td></tr>')
    body.append("<h2>Runs</h2><table><thead><tr><th>started</th><th>status</th><th>reason</th><th>duration</th>"
                f'<th class="wide">detail</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
    return _page(view["name"], view["region"], "".join(body))
