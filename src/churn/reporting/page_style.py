"""The look the marketers' pages share (the scoring summary and the retention report):
type, headings, figure cards, tables and charts, readable on a phone and in print."""

from __future__ import annotations

BASE_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; color: #1f2933; background: #fff; max-width: 960px; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.5; }
h1 { margin: 0 0 0.2rem; font-size: 1.8rem; }
h2 { margin: 2.2rem 0 0.4rem; font-size: 1.3rem; border-bottom: 2px solid #e4e7eb;
     padding-bottom: 0.2rem; }
p { margin: 0.4rem 0; }
.subtitle, .intro, .note { color: #52606d; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr));
         gap: 0.8rem; margin: 1.4rem 0; }
.card { border: 1px solid #e4e7eb; border-radius: 8px; padding: 0.8rem 1rem;
        background: #f8fafc; }
.card .label { font-size: 0.9rem; color: #52606d; }
.card .figure { font-size: 1.7rem; font-weight: 600; font-variant-numeric: tabular-nums;
                white-space: nowrap; }
.card .note { font-size: 0.85rem; }
.card.alert { border-color: #f3c1bb; background: #fdf3f2; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.93rem; width: 100%; }
th, td { padding: 0.4rem 0.6rem; border-bottom: 1px solid #e4e7eb; text-align: left;
         vertical-align: top; }
thead th { background: #f1f4f8; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
svg { display: block; max-width: 100%; height: auto; margin: 0.6rem 0; }
svg text { font-family: inherit; font-size: 13px; fill: #1f2933; }
svg .muted { fill: #52606d; }
svg .title { font-size: 14px; font-weight: 600; }
@media print { body { margin: 0; } h2 { break-after: avoid; } svg, table { break-inside: avoid; } }
"""
