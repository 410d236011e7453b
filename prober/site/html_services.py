"""The status site's services: each one's status, then per region its status now, latency, availability and
daily bars (inline SVG, with a focusable cell per day whose CSS-only tooltip shows the day's figure and
incidents on hover, tap or keyboard focus), and its error budgets in the internal view."""

from __future__ import annotations

from html import escape

from prober.site import i18n
from prober.site.html_view import View
from prober.site.model import Budget, Day, RegionView, ServiceView

BAR_W = 10  # viewBox units per day; the SVG stretches to the row's width
BAR_GAP = 2
BAR_H = 34
NO_DATA = "#c8d1da"
# (lowest availability, colour, legend label): a day takes the first level it reaches
LEVELS = ((0.999, "#2da44e", "≥ 99.9%"), (0.99, "#d4a72c", "≥ 99%"), (0.95, "#e16f24", "≥ 95%"),
          (0.0, "#cf222e", "< 95%"))


def day_colour(availability: float | None) -> str:
    """A day's bar colour: grey without runs (never green), else by its availability."""
    if availability is None:
        return NO_DATA
    return next(colour for lowest, colour, _label in LEVELS if availability >= lowest)


def legend(view: View) -> str:
    items = [f'<li><i style="background:{colour}"></i>{escape(label)}</li>' for _low, colour, label in LEVELS]
    items.append(f'<li><i style="background:{NO_DATA}"></i>{view.text("day.no_data")}</li>')
    return f'<ul class="legend">{"".join(items)}</ul><p class="hint">{view.text("legend.hint")}</p>'


def service_card(view: View, service: ServiceView) -> str:
    description = f'<p class="desc">{escape(service.description)}</p>' if service.description else ""
    regions = "".join(_region(view, service, region) for region in service.regions)
    budgets = _budgets(view, service.budgets) if service.budgets else ""
    return (f'<article class="card service" data-service="{escape(service.id)}">'
            f'<div class="service-head"><h3>{escape(service.name)}</h3>{view.badge(service.status)}</div>'
            f"{description}{regions}{budgets}</article>")


def _region(view: View, service: ServiceView, region: RegionView) -> str:
    days = str(len(region.days))
    percent = i18n.format_availability(sum(d.successes for d in region.days), sum(d.runs for d in region.days))
    latency = view.text("region.latency", latency=i18n.format_latency(region.latency_s))
    return (f'<div class="region" data-service="{escape(service.id)}" data-region="{escape(region.region)}">'
            f'<div class="region-head"><span class="region-name">{escape(region.name)}</span>'
            f'{view.badge(region.status)}</div><div class="region-meta">{latency}</div>{bars(view, region.days)}'
            f'<div class="axis"><span>{view.text("bars.start", days=days)}</span><span class="uptime">'
            f'{view.text("region.availability", percent=percent)}</span><span>{view.text("bars.end")}</span></div>'
            "</div>")


def bars(view: View, days: tuple[Day, ...]) -> str:
    """One bar per day, oldest first, drawn in one SVG; over it a grid of focusable cells with their tooltips."""
    count = len(days)
    rects = "".join(f'<rect x="{i * BAR_W}" width="{BAR_W - BAR_GAP}" height="{BAR_H}" '
                    f'fill="{day_colour(d.availability)}" data-date="{escape(d.date)}"/>' for i, d in enumerate(days))
    titles = {i.id: i.title for i in view.snap.incidents}  # once per row, not once per day
    cells = "".join(_cell(view, day, (index + 0.5) / count * 100, titles) for index, day in enumerate(days))
    label = view.text("bars.label", days=str(count))
    return (f'<div class="bars" role="group" aria-label="{label}">'
            f'<svg viewBox="0 0 {count * BAR_W} {BAR_H}" preserveAspectRatio="none" aria-hidden="true" '
            f'focusable="false">{rects}</svg>'
            f'<div class="days" style="grid-template-columns:repeat({count},1fr)">{cells}</div></div>')


def _cell(view: View, day: Day, centre_percent: float, titles: dict[str, str]) -> str:
    """A day's focusable cell: its label says the day to a screen reader, its tooltip shows it on hover or tap."""
    date = i18n.format_date(day.date, view.lang)
    incidents = [(i, titles[i]) for i in day.incidents if i in titles]
    if day.availability is None:
        figure = i18n.text(view.lang, "day.no_data")
        figures = f'<span class="fig">{escape(figure)}</span>'
    else:
        figure = i18n.text(view.lang, "day.availability",
                           percent=i18n.format_availability(day.successes, day.runs))
        figures = (f'<span class="fig">{escape(figure)}</span><span class="runs">'
                   f'{view.text("day.runs", ok=f"{day.successes:.0f}", runs=f"{day.runs:.0f}")}</span>')
    if incidents:
        links = "".join(f'<li><a href="{view.incident_href(i)}">{escape(title)}</a></li>' for i, title in incidents)
        figures += f"<ul>{links}</ul>"
    elif day.availability is not None:
        figures += f'<span class="quiet">{view.text("day.no_incidents")}</span>'
    label = escape(" · ".join([date, figure, *(title for _i, title in incidents)]))
    return (f'<span class="day" tabindex="0" role="img" aria-label="{label}" style="--x:{centre_percent:.2f}%">'
            f'<span class="tip"><b>{escape(date)}</b>{figures}</span></span>')


def _budgets(view: View, budgets: tuple[Budget, ...]) -> str:
    return (f'<div class="budgets"><h4>{view.text("section.budgets")}</h4>'
            f'{"".join(_budget(view, b) for b in budgets)}</div>')


def _budget(view: View, budget: Budget) -> str:
    sli = i18n.text(view.lang, f"sli.{budget.sli}") if budget.sli in ("availability", "latency") else budget.sli
    days = budget.window_s / 86400
    window = (i18n.text(view.lang, "unit.days", count=f"{days:.0f}") if days.is_integer()
              else i18n.format_duration(budget.window_s, view.lang))
    label = view.text("budget.label", sli=sli, target=f"{budget.target * 100:g}%", window=window)
    left = budget.left
    if left is None:
        figure, width, colour = view.text("budget.no_data"), 0.0, NO_DATA
    elif left < 0:
        figure, width, colour = view.text("budget.overspent", percent=i18n.format_budget(left)), 0.0, LEVELS[3][1]
    else:
        level = LEVELS[0][1] if left >= 0.5 else LEVELS[1][1] if left >= 0.2 else LEVELS[2][1]
        figure, width, colour = view.text("budget.left", percent=i18n.format_budget(left)), min(left, 1.0), level
    return (f'<div class="budget"><div class="budget-head"><span>{label}</span><b>{figure}</b></div>'
            f'<svg class="budget-bar" viewBox="0 0 100 6" preserveAspectRatio="none" aria-hidden="true">'
            f'<rect width="100" height="6" fill="#eaeef2"/><rect width="{width * 100:.1f}" height="6" '
            f'fill="{colour}"/></svg></div>')
