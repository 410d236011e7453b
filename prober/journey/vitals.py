"""Web vitals of each page load, read from Chromium's Performance APIs.

An init script, added to every context, observes paint, largest-contentful-paint, layout-shift and event
timing entries from the start of each page load. The runner reads them (`READ_JS`) at the end of every step
and at the end of the run, keyed by the load's `performance.timeOrigin`, so the last reading of each load wins
(a reading of a page not painted yet waits up to three frames for its first paint; a reading after a click or
a key waits two frames, since an interaction's entry exists only once the frame that answers it is painted; and
entries not yet delivered to the observers are taken at once):

- TTFB: navigation start to the first byte of the document (`responseStart`).
- FCP: the first contentful paint.
- LCP: the largest contentful paint seen so far; the browser stops updating it after the first input, so the
  reading after a click is the LCP of the load up to that click.
- CLS: the largest session window of layout shifts (gaps under 1 s, windows under 5 s), excluding shifts
  within 500 ms of input (`hadRecentInput`), as web-vitals.js defines it. Unitless.
- INP: the longest interaction (event timing, 16 ms threshold) of the load; absent when there was none.
  With fewer than 50 interactions per load this is what web-vitals.js reports.

A page that is left within a step (a click that navigates) reports its last reading from its `beforeunload`
event, through a binding; a page closed with its context at the end of the run is read just before.
"""

from __future__ import annotations

from typing import Any

from prober.result import Vital

INIT_JS = """
(() => {
  if (window.__proberVitals) return;
  const v = {fcp: null, lcp: null, cls: 0, inp: null, inputs: 0, readInputs: 0};
  Object.defineProperty(window, '__proberVitals', {value: v, enumerable: false});
  const flushes = [];
  const watch = (type, onEntry, extra) => {
    try {
      const observer = new PerformanceObserver(list => list.getEntries().forEach(onEntry));
      observer.observe(Object.assign({type: type, buffered: true}, extra || {}));
      flushes.push(() => observer.takeRecords().forEach(onEntry));
    } catch (e) { /* entry type not supported: that vital stays absent */ }
  };
  // entries not yet handed to the observers: the reader takes them at once
  Object.defineProperty(window, '__proberFlush', {value: () => flushes.forEach(f => f()), enumerable: false});
  // inputs since the last reading: their event timing entries come only after the next paint
  for (const type of ['pointerdown', 'keydown']) {
    addEventListener(type, () => { v.inputs++; }, {capture: true, passive: true});
  }
  watch('paint', e => { if (e.name === 'first-contentful-paint') v.fcp = e.startTime; });
  watch('largest-contentful-paint', e => { v.lcp = e.startTime; });
  let session = 0, first = 0, last = 0;
  watch('layout-shift', e => {
    if (e.hadRecentInput) return;
    if (session && e.startTime - last < 1000 && e.startTime - first < 5000) { session += e.value; }
    else { session = e.value; first = e.startTime; }
    last = e.startTime;
    v.cls = Math.max(v.cls, session);
  });
  watch('event', e => { if (e.interactionId) v.inp = Math.max(v.inp || 0, e.duration); }, {durationThreshold: 16});
  const reading = () => {
    const nav = performance.getEntriesByType('navigation')[0];
    if (!nav || location.protocol === 'about:') return null;
    return {origin: performance.timeOrigin, ttfb: nav.responseStart > 0 ? nav.responseStart : null,
            fcp: v.fcp, lcp: v.lcp, cls: v.cls, inp: v.inp};
  };
  Object.defineProperty(window, '__proberReading', {value: reading, enumerable: false});
  // the last word of a page that is left mid-step (a click that navigates): its final CLS and INP
  // (beforeunload: Chromium drops messages sent from pagehide)
  addEventListener('beforeunload', () => {
    flushes.forEach(f => f());
    const r = reading();
    if (r && window.__proberReport) window.__proberReport(r);
  });
})();
"""

READ_JS = """
async () => {
  const v = window.__proberVitals;
  if (!v) return null;
  const frame = () => new Promise(done => requestAnimationFrame(() => setTimeout(done, 0)));
  // read right after a navigation: let the first frames paint (the caller bounds this)
  for (let i = 0; i < 3 && v.fcp === null; i++) await frame();
  // read right after a click or a key: let the frame that answers it paint, so its entry exists
  if (v.inputs !== v.readInputs) {
    await frame();
    await frame();
    v.readInputs = v.inputs;
  }
  window.__proberFlush();
  return window.__proberReading();
}
"""
REPORT_BINDING = "__proberReport"


def parse_reading(raw: Any) -> tuple[float, dict[Vital, float]] | None:
    """(timeOrigin, vitals in seconds — CLS unitless) from what READ_JS returned, or None."""
    if not isinstance(raw, dict) or not isinstance(raw.get("origin"), int | float):
        return None
    vitals: dict[Vital, float] = {}
    for vital in Vital:
        value = raw.get(vital.value)
        if isinstance(value, int | float) and value >= 0:
            vitals[vital] = float(value) if vital is Vital.CLS else float(value) / 1000.0
    return float(raw["origin"]), vitals
