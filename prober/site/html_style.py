"""The status site's one stylesheet, inlined in every page: system fonts (Latin and CJK), no external file; a
single column that fits a 390 px phone; tooltips shown on hover and on focus (a tap) and never printed; colours
that print."""

CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #eaeef2; --bg: #f6f8fa; --card: #fff;
  --ok: #1a7f37; --degraded: #9a6700; --partial: #bc4c00; --major: #cf222e; --maint: #0969da; --unknown: #59636e; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--fg); overflow-wrap: anywhere;
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "PingFang SC",
  "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Zen Hei", sans-serif; }
a { color: #0550ae; text-decoration: none; } a:hover, a:focus { text-decoration: underline; }
.page { max-width: 880px; margin: 0 auto; padding: 0 16px; }
header.top { padding: 28px 0 4px; }
header.top .site { font-size: 1.55rem; font-weight: 700; margin: 0; line-height: 1.25; color: var(--fg); }
header.top a.site { display: inline-block; font-size: 1.1rem; margin-bottom: 14px; }
.lede { color: var(--muted); margin: 4px 0 0; }
h1 { font-size: 1.45rem; line-height: 1.3; margin: 0 0 6px; }
h2 { font-size: 1.1rem; margin: 0 0 12px; }
h3 { font-size: 1.05rem; margin: 0; }
h4 { font-size: .9rem; margin: 0 0 8px; color: var(--muted); font-weight: 600; }
section { margin: 28px 0; }
.banner { border-radius: 10px; padding: 16px 20px; margin: 20px 0 12px; color: #fff; background: var(--ok); }
.banner .headline { font-size: 1.2rem; font-weight: 700; margin: 0; }
.banner ul { margin: 8px 0 0; padding-left: 1.2em; } .banner p { margin: 6px 0 0; }
.banner.b-degraded_performance { background: var(--degraded); } .banner.b-partial_outage { background: var(--partial); }
.banner.b-major_outage { background: var(--major); } .banner.b-under_maintenance { background: var(--maint); }
.banner.b-unknown { background: #fff8c5; color: #3b2300; border: 1px solid #d4a72c; }
.notice { border-radius: 10px; padding: 12px 18px; margin: 0 0 12px; background: #ddf4ff; color: #0a3069;
  border: 1px solid #54aeff; }
.notice ul { margin: 4px 0 0; padding-left: 1.2em; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 20px;
  margin: 0 0 14px; }
.status { display: inline-flex; align-items: center; gap: 6px; font-weight: 600; white-space: nowrap;
  font-size: .9rem; }
.status::before { content: ""; width: 10px; height: 10px; border-radius: 50%; background: currentColor;
  flex: none; }
.s-operational { color: var(--ok); } .s-degraded_performance { color: var(--degraded); }
.s-partial_outage { color: var(--partial); } .s-major_outage { color: var(--major); }
.s-under_maintenance { color: var(--maint); } .s-unknown { color: var(--unknown); }
.service-head, .region-head, .incident-head, .budget-head { display: flex; justify-content: space-between;
  align-items: baseline; gap: 4px 12px; flex-wrap: wrap; }
.desc { color: var(--muted); margin: 2px 0 0; font-size: .9rem; }
.region { border-top: 1px solid var(--soft); margin-top: 14px; padding-top: 12px; }
.region-name { font-weight: 600; }
.region-meta { color: var(--muted); font-size: .85rem; }
.bars { position: relative; height: 34px; margin-top: 8px; }
.bars svg { display: block; width: 100%; height: 100%; }
.days { position: absolute; inset: 0; display: grid; }
.day { cursor: pointer; border-radius: 2px; outline: none; -webkit-tap-highlight-color: transparent; }
.day:hover, .day:focus { box-shadow: inset 0 0 0 40px rgba(31, 35, 40, .28); }
.day:focus-visible { outline: 2px solid var(--fg); outline-offset: 1px; }
.tip { display: none; position: absolute; top: calc(100% + 6px); z-index: 5; width: 15rem; max-width: 100%;
  left: clamp(0px, calc(var(--x) - 7.5rem), calc(100% - 15rem)); background: #fff; color: var(--fg);
  border: 1px solid var(--line); border-radius: 8px; box-shadow: 0 8px 24px rgba(66, 74, 83, .18);
  padding: 10px 12px; font-size: .85rem; line-height: 1.45; cursor: auto; }
.day:hover .tip, .day:focus-within .tip { display: block; }
.days:hover .day:not(:hover) .tip { display: none; }
.tip b, .tip .fig, .tip .runs, .tip .quiet { display: block; }
.tip .fig { font-weight: 600; } .tip .runs, .tip .quiet { color: var(--muted); }
.tip ul { margin: 6px 0 0; padding-left: 1.1em; }
.axis { display: flex; justify-content: space-between; gap: 8px; color: var(--muted); font-size: .75rem;
  margin-top: 4px; }
.axis .uptime { color: var(--fg); font-weight: 600; }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 16px; padding: 0; margin: 0 0 4px;
  font-size: .8rem; color: var(--muted); }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
.hint { color: var(--muted); font-size: .8rem; margin: 0 0 12px; }
.budgets { border-top: 1px solid var(--soft); margin-top: 14px; padding-top: 12px; }
.budget { margin: 0 0 10px; font-size: .85rem; } .budget b { font-weight: 600; }
.budget-bar { display: block; width: 100%; height: 6px; margin-top: 4px; border-radius: 3px; }
.incident { border-left: 5px solid var(--major); }
.incident.impact-minor { border-left-color: var(--degraded); } .incident.impact-none { border-left-color: var(--line); }
.incident.impact-critical { border-left-color: #82071e; }
.incident h2 { margin: 18px 0 0; }
.incident h3 a, .past > a { color: var(--fg); font-weight: 600; }
.tags { display: flex; flex-wrap: wrap; gap: 6px; margin: 4px 0; }
.tag { font-size: .75rem; font-weight: 600; padding: 1px 8px; border-radius: 999px; background: var(--soft);
  color: var(--fg); white-space: nowrap; }
.tag.state-resolved, .tag.state-postmortem { background: #dafbe1; color: #116329; }
.tag.state-investigating, .tag.state-identified { background: #ffebe9; color: #a40e26; }
.tag.state-monitoring { background: #ddf4ff; color: #0a3069; }
.meta { color: var(--muted); font-size: .85rem; margin: 2px 0; }
.meta:empty { display: none; }
.updates { list-style: none; margin: 10px 0 0; padding: 0; }
.update { display: grid; grid-template-columns: 13rem 1fr; gap: 4px 16px; padding: 10px 0;
  border-top: 1px solid var(--soft); }
.update-when b { display: block; } .update-when time { color: var(--muted); font-size: .8rem; }
.update-body > :first-child { margin-top: 0; } .update-body > :last-child { margin-bottom: 0; }
.update-body pre { white-space: pre-wrap; }
.past-list { list-style: none; margin: 0; padding: 0; }
.past { background: var(--card); border: 1px solid var(--line); border-left: 5px solid var(--major);
  border-radius: 10px; padding: 12px 16px; margin: 0 0 10px; }
.past.impact-minor { border-left-color: var(--degraded); } .past.impact-none { border-left-color: var(--line); }
.past-list > .quiet { padding: 4px 0 12px; }
.quiet { color: var(--muted); }
time, .nw { white-space: nowrap; } time.range { white-space: normal; }
.more { margin: 4px 0 0; }
.maintenance .tags { margin: 0; }
footer.bottom { border-top: 1px solid var(--line); margin-top: 36px; padding: 16px 0 40px; color: var(--muted);
  font-size: .8rem; }
footer.bottom p { margin: 2px 0; }
footer.bottom nav { display: flex; flex-wrap: wrap; gap: 4px 16px; margin-top: 6px; }
@media (max-width: 600px) {
  body { font-size: 14px; }
  .page { padding: 0 12px; }
  .card { padding: 14px; }
  .banner { padding: 14px 16px; }
  .update { grid-template-columns: 1fr; }
  .bars { height: 30px; }
}
@media print {
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { background: #fff; font-size: 10.5pt; }
  .page { max-width: none; padding: 0; }
  .tip, .hint { display: none !important; }
  .day:hover, .day:focus { box-shadow: none; }
  .card, .region, .past, .budget { break-inside: avoid; }
  h2 { break-after: avoid; }
  a { color: inherit; }
}
"""
