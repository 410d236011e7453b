"""The status site's words in English and Chinese, and its dates, times, durations and figures as a reader sees
them, in the site's timezone.

Every text a reader sees comes from `TEXTS` by key, so the two languages cannot drift apart: a test checks that
both have every key and the same placeholders. Figures are never rounded up: an availability reads 100% only
when every run succeeded, and a budget left is truncated down."""

# ruff: noqa: RUF001, RUF002 -- full-width punctuation is how Chinese is written; the en dash is a range's

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction
from zoneinfo import ZoneInfo

from prober.site.model import Impact, IncidentState, Status

LANGS = ("en", "zh")
HTML_LANGS = {"en": "en", "zh": "zh-CN"}
NONE = "—"  # a figure without data, in both languages

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "status.operational": "Operational",
        "status.degraded_performance": "Degraded performance",
        "status.partial_outage": "Partial outage",
        "status.major_outage": "Major outage",
        "status.under_maintenance": "Under maintenance",
        "status.unknown": "No current data",
        "state.investigating": "Investigating",
        "state.identified": "Identified",
        "state.monitoring": "Monitoring",
        "state.resolved": "Resolved",
        "state.postmortem": "Postmortem",
        "impact.none": "No impact",
        "impact.minor": "Minor impact",
        "impact.major": "Major impact",
        "impact.critical": "Critical impact",
        "banner.operational": "All systems operational",
        "banner.issues": "Some services are affected",
        "banner.maintenance": "Maintenance in progress",
        "banner.affected": "{service}: {status} in {regions}",
        "banner.stale": "The data shown is not current: {reason}.",
        "banner.stale_since": "Last current at {time}.",
        "banner.never_fresh": "No current data has been read yet.",
        "list.separator": ", ",
        "section.ongoing": "Ongoing incidents",
        "section.services": "Services by region",
        "section.maintenance": "Planned maintenance",
        "section.past": "Past incidents",
        "section.history": "Incident history",
        "section.updates": "Updates",
        "section.budgets": "Error budgets (internal view)",
        "incident.started": "Started {time}",
        "incident.so_far": "ongoing for {duration}",
        "incident.lasted": "lasted {duration}",
        "incident.affected": "Affected: {services}",
        "incident.regions": "Regions: {regions}",
        "incident.no_updates": "No update was posted: our monitoring detected this incident.",
        "reason.dns": "name resolution failed",
        "reason.connect": "connections refused or failed",
        "reason.tls": "secure connections failed",
        "reason.timeout": "no answer in time",
        "reason.http_status": "error responses",
        "reason.assertion": "wrong content",
        "reason.slow": "too slow",
        "reason.too_large": "answers too large",
        "reason.too_many_redirects": "too many redirects",
        "reason.protocol": "protocol errors",
        "reason.packet_loss": "packet loss",
        "reason.step_failed": "a user journey step failed",
        "reason.navigation": "pages did not load",
        "reason.script_error": "the check's script failed",
        "reason.browser_crash": "the browser crashed",
        "reason.internal": "a fault of the monitoring agent",
        "reason.unknown": "unknown",
        "incident.detected": "Our monitoring sees failures in {regions} (most often: {reason}).",
        "incident.recovered": "The service works again: our monitoring sees successful results.",
        "incident.detected_title": "{service} unavailable in {regions}",
        "incidents.none": "No incidents in the last {days} days.",
        "history.link": "Incident history",
        "history.intro": "Every incident of the last {days} days, newest first.",
        "history.month_none": "No incidents reported this month.",
        "nav.back": "Current status",
        "region.latency": "Latency {latency} (24 h average)",
        "region.availability": "{percent} availability",
        "bars.label": "Availability per day, last {days} days",
        "bars.start": "{days} days ago",
        "bars.end": "Today",
        "day.availability": "{percent} available",
        "day.runs": "{ok} of {runs} checks succeeded",
        "day.no_data": "No data",
        "day.no_incidents": "No incidents",
        "legend.hint": "Hover over or tap a day for its figures and incidents.",
        "budget.label": "{sli} objective {target} over {window}",
        "budget.left": "{percent} of the error budget left",
        "budget.overspent": "Error budget overspent: {percent}",
        "budget.no_data": "No runs in the window",
        "sli.availability": "Availability",
        "sli.latency": "Latency",
        "unit.days": "{count} days",
        "maintenance.in_progress": "In progress",
        "maintenance.scheduled": "Scheduled",
        "maintenance.until": "{name}, until {time}",
        "footer.generated": "Generated {time}",
        "footer.data_at": "data as of {time}",
        "footer.data_never": "no current data yet",
        "footer.timezone": "Times are in {timezone}.",
        "footer.feed": "Atom feed",
        "footer.api": "Status API (JSON)",
    },
    "zh": {
        "status.operational": "运行正常",
        "status.degraded_performance": "性能下降",
        "status.partial_outage": "部分中断",
        "status.major_outage": "严重中断",
        "status.under_maintenance": "维护中",
        "status.unknown": "暂无最新数据",
        "state.investigating": "调查中",
        "state.identified": "已确认原因",
        "state.monitoring": "监控中",
        "state.resolved": "已解决",
        "state.postmortem": "事后复盘",
        "impact.none": "无影响",
        "impact.minor": "轻微影响",
        "impact.major": "重大影响",
        "impact.critical": "严重影响",
        "banner.operational": "所有系统运行正常",
        "banner.issues": "部分服务受到影响",
        "banner.maintenance": "正在进行维护",
        "banner.affected": "{service}：{status}，影响区域：{regions}",
        "banner.stale": "当前显示的数据不是最新的：{reason}。",
        "banner.stale_since": "最后一次更新于 {time}。",
        "banner.never_fresh": "尚未读取到最新数据。",
        "list.separator": "、",
        "section.ongoing": "进行中的事件",
        "section.services": "各区域服务状态",
        "section.maintenance": "计划维护",
        "section.past": "过往事件",
        "section.history": "事件历史",
        "section.updates": "事件动态",
        "section.budgets": "错误预算（内部视图）",
        "incident.started": "开始于 {time}",
        "incident.so_far": "已持续 {duration}",
        "incident.lasted": "持续 {duration}",
        "incident.affected": "受影响服务：{services}",
        "incident.regions": "影响区域：{regions}",
        "incident.no_updates": "暂无人工更新：此事件由监测系统自动发现。",
        "reason.dns": "域名解析失败",
        "reason.connect": "连接失败",
        "reason.tls": "安全连接失败",
        "reason.timeout": "响应超时",
        "reason.http_status": "返回错误响应",
        "reason.assertion": "内容不正确",
        "reason.slow": "速度过慢",
        "reason.too_large": "响应过大",
        "reason.too_many_redirects": "重定向过多",
        "reason.protocol": "协议错误",
        "reason.packet_loss": "丢包",
        "reason.step_failed": "用户流程步骤失败",
        "reason.navigation": "页面无法加载",
        "reason.script_error": "检测脚本出错",
        "reason.browser_crash": "浏览器崩溃",
        "reason.internal": "监测代理自身故障",
        "reason.unknown": "未知",
        "incident.detected": "监测发现 {regions} 出现故障（主要原因：{reason}）。",
        "incident.recovered": "服务已恢复：监测结果恢复正常。",
        "incident.detected_title": "{service}在 {regions} 不可用",
        "incidents.none": "过去 {days} 天内没有事件。",
        "history.link": "事件历史",
        "history.intro": "过去 {days} 天内的全部事件，按时间倒序排列。",
        "history.month_none": "本月没有事件报告。",
        "nav.back": "当前状态",
        "region.latency": "延迟 {latency}（24 小时平均）",
        "region.availability": "可用率 {percent}",
        "bars.label": "过去 {days} 天的每日可用率",
        "bars.start": "{days} 天前",
        "bars.end": "今天",
        "day.availability": "可用率 {percent}",
        "day.runs": "{runs} 次检测中 {ok} 次成功",
        "day.no_data": "无数据",
        "day.no_incidents": "无事件",
        "legend.hint": "将鼠标悬停在某一天上或点按该天，即可查看当日数据和事件。",
        "budget.label": "{sli}目标 {target}（{window}）",
        "budget.left": "剩余错误预算 {percent}",
        "budget.overspent": "错误预算已超支：{percent}",
        "budget.no_data": "窗口内没有检测数据",
        "sli.availability": "可用率",
        "sli.latency": "延迟",
        "unit.days": "{count} 天",
        "maintenance.in_progress": "进行中",
        "maintenance.scheduled": "已计划",
        "maintenance.until": "{name}，预计 {time} 结束",
        "footer.generated": "页面生成于 {time}",
        "footer.data_at": "数据截至 {time}",
        "footer.data_never": "尚无最新数据",
        "footer.timezone": "所有时间均为 {timezone} 时区。",
        "footer.feed": "Atom 订阅源",
        "footer.api": "状态 API（JSON）",
    },
}


def text(lang: str, key: str, **values: str) -> str:
    """The text of `key` in `lang` with its placeholders filled; a KeyError for a key neither language has."""
    return TEXTS[lang][key].format(**values)


def status_text(lang: str, status: Status) -> str:
    return text(lang, f"status.{status.value}")


def state_text(lang: str, state: IncidentState) -> str:
    return text(lang, f"state.{state.value}")


def reason_text(lang: str, reason: str | None) -> str:
    """A failure reason (prober's closed set) in words a customer reads; one not known here reads unknown."""
    key = f"reason.{reason}"
    return text(lang, key if key in TEXTS[lang] else "reason.unknown")


def impact_text(lang: str, impact: Impact) -> str:
    return text(lang, f"impact.{impact.value}")


def join(lang: str, items: list[str]) -> str:
    """`a, b, c` / `a、b、c`."""
    return text(lang, "list.separator").join(items)


def local(unix_time: float, timezone: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(unix_time, tz=ZoneInfo(timezone))


def _day(moment: dt.datetime | dt.date, lang: str) -> str:
    if lang == "zh":
        return f"{moment.year}年{moment.month}月{moment.day}日"
    return f"{moment:%b} {moment.day}, {moment.year}"


def format_time(unix_time: float, timezone: str, lang: str) -> str:
    """`Oct 3, 2026 10:05 CEST` / `2026年10月3日 10:05 (CEST)`, in the site's timezone."""
    moment = local(unix_time, timezone)
    zone = moment.tzname() or timezone
    if lang == "zh":
        return f"{_day(moment, lang)} {moment:%H:%M} ({zone})"
    return f"{_day(moment, lang)} {moment:%H:%M} {zone}"


def format_span(start: float, end: float, timezone: str, lang: str) -> str:
    """`Dec 3, 2026 13:00 – 15:00 CET` within one local day and zone, else both times in full."""
    first, last = local(start, timezone), local(end, timezone)
    if first.date() != last.date() or first.tzname() != last.tzname():
        return f"{format_time(start, timezone, lang)} – {format_time(end, timezone, lang)}"
    zone = first.tzname() or timezone
    hours = f"{first:%H:%M} – {last:%H:%M}"
    return f"{_day(first, lang)} {hours} ({zone})" if lang == "zh" else f"{_day(first, lang)} {hours} {zone}"


def format_date(date: str, lang: str) -> str:
    """A YYYY-MM-DD day: `Oct 3, 2026` / `2026年10月3日`."""
    return _day(dt.date.fromisoformat(date), lang)


def format_month(year: int, month: int, lang: str) -> str:
    """`November 2026` / `2026年11月`."""
    return f"{year}年{month}月" if lang == "zh" else f"{dt.date(year, month, 1):%B} {year}"


def format_duration(seconds: float, lang: str) -> str:
    """`2 h 15 min`, `45 min`, `30 s` / `2小时15分钟`, `45分钟`, `30秒`."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if lang == "zh":
        if hours:
            return f"{hours}小时{minutes}分钟" if minutes else f"{hours}小时"
        return f"{minutes}分钟" if minutes else f"{secs}秒"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else f"{secs} s"


def format_latency(seconds: float | None) -> str:
    """`180 ms` below a second, `1.25 s` up to ten, `12.5 s` beyond; `—` without runs."""
    if seconds is None or not math.isfinite(seconds):
        return NONE
    if round(seconds * 1000) < 1000:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def _percent(thousandths: int) -> str:
    """An integer number of thousandths of a percent as `96.875%`, `99.93%`, `100%`."""
    whole, rest = divmod(abs(thousandths), 1000)
    sign = "-" if thousandths < 0 else ""
    return f"{sign}{whole}.{rest:03d}".rstrip("0").rstrip(".") + "%"


def format_availability(successes: float, runs: float) -> str:
    """successes / runs as a percentage, truncated to three decimals (never rounded up: `100%` only when every
    run succeeded, `99.999%` for one failure in a million); `—` without runs."""
    if not runs > 0 or not math.isfinite(runs) or not math.isfinite(successes):
        return NONE
    ratio = Fraction(min(max(successes, 0.0), runs)) / Fraction(runs)  # exact: no float error at the cut
    return _percent(math.floor(ratio * 100_000))


def format_budget(left: float) -> str:
    """An error budget left (1.0 untouched, below 0 overspent) as `80%`, `-50%`, `12.3%`, truncated down."""
    return _percent(math.floor(round(left * 1000, 6)) * 100)
