"""The marketers' retention report: one self-contained HTML page in the report's language.

The page opens with headline figures for the last period (customers, retention rate,
repeat purchase rate, revenue, and the latest scoring run's customers and value at risk when
given), explains the measures in plain words, then shows the retention and churn rates over
time, then the campaigns' response and conversion rates per month of contact (beside
their control group's when they held one out), the repeat purchase rate and the revenue
per period, a cohort table (share of each first-order month's customers buying again k
months later), the retention per customer group when given, and every figure per period
in a table.

Like :mod:`churn.reporting.summary_page` it is rendered from a template
(``templates/retention.html.j2``) with the pages' one stylesheet and the charts of
:mod:`churn.reporting.charts`; the words are in the ``pages`` catalogs and the numbers are
written by :class:`churn.text.formatting.Formatter`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from churn.reporting.templating import Words, check_page_locale, render, words
from churn.text.formatting import Formatter

PERIODS = ("month", "quarter")
RETENTION_COLOUR = "#2f6db5"
CHURN_COLOUR = "#c0392b"
REPEAT_COLOUR = "#16a085"
# One colour per customer group, in order; more groups than colours reuse them.
SEGMENT_COLOURS = (
    "#2f6db5",
    "#e67e22",
    "#27ae60",
    "#8e44ad",
    "#c0392b",
    "#16a085",
    "#7b8794",
    "#b7950b",
)
# The cohort cells' shade: this colour at an opacity growing with the rate.
HEATMAP_RGB = "47, 109, 181"
NO_VALUE = "–"


def render_retention_report(report: Mapping[str, Any]) -> str:
    """Render the retention report as one self-contained HTML page.

    Parameters
    ----------
    report : mapping
        Every key is required:

        - ``locale`` (a language with a catalog), ``currency`` (ISO code, for example
          ``"EUR"``), ``source`` (str, where the data comes from), ``period`` (``"month"`` or
          ``"quarter"``), ``first_date`` and ``last_date`` (ISO dates), ``partial_period``
          (optional: the last period, left out because the data ends before it does).
        - ``periods``: list, in time order, of ``period`` (``"2024-03"`` or ``"2024-Q1"``),
          ``active`` (int customers who bought in the period), ``retained`` (int customers of
          the previous period who bought again), ``retention_rate``, ``churn_rate`` and
          ``repeat_purchase_rate`` (float 0-1 or None), ``new_customers`` (int) and
          ``revenue`` (float money).
        - ``cohorts``: list of ``cohort`` (``"2024-03"``, month of the first order),
          ``months_since_first`` (int), ``customers`` (int cohort size), ``retained`` (int)
          and ``retention_rate`` (float 0-1).
        - ``segments``: list, maybe empty, of ``segment`` (str, display name) and ``periods``
          (list of ``period`` and ``retention_rate``, float 0-1 or None).
        - ``at_risk``: None, or the latest scoring run: ``as_of`` (ISO date),
          ``customers_scored`` and ``at_risk`` (int), ``value_at_risk`` (float money).
        - ``campaigns``: where the campaigns come from, ``source`` ``"log"`` (with ``file``,
          str, and ``contact_rows``, int) or ``"lists"`` (with ``lists``, int: the stored
          lists read, each a campaign contacted the day after its date);
          ``response_days`` and ``conversion_days`` (int); and ``rows``, maybe empty, as
          :func:`churn.reporting.campaigns.campaigns_by_month` writes them: ``campaign``
          (str), ``list_as_of`` (ISO date of a stored list, or None), ``month``
          (``"2024-03"``), ``contacted`` and ``control`` (int customers),
          ``response_rate``, ``conversion_rate``, ``control_response_rate`` and
          ``control_conversion_rate`` (float 0-1 or None), ``response_complete`` and
          ``conversion_complete`` (bool: whether every window of the month had ended when
          the data do).

    Returns
    -------
    str
        The HTML page: inline CSS and SVG, no JavaScript, no external URLs.

    Raises
    ------
    ValueError
        If the language has no catalog or ``period`` is not ``"month"`` or ``"quarter"``.
    """
    locale = check_page_locale(report["locale"])
    period = report["period"]
    if period not in PERIODS:
        raise ValueError(f"period must be one of {list(PERIODS)}, got {period!r}")
    fmt = Formatter(locale, report["currency"])
    view = _view(report, words(locale), fmt)
    return render("retention.html.j2", locale, report["currency"], r=report, v=view)


def write_retention_report(report: Mapping[str, Any], path: Path) -> Path:
    """Render the report (see :func:`render_retention_report`) and write it to ``path`` as
    UTF-8."""
    path.write_text(render_retention_report(report), encoding="utf-8")
    return path


_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-Q([1-4])")


def period_label(period: object, fmt: Formatter) -> str:
    """``"2024-03"`` as ``Mar 2024`` / ``mar 2024``, ``"2024-Q1"`` as ``Q1 2024`` /
    ``T1 2024``; anything else as given."""
    period = str(period)
    if (match := _MONTH.fullmatch(period)) and 1 <= int(match[2]) <= 12:
        return fmt.date(dt.date(int(match[1]), int(match[2]), 1), "MMM y")
    if match := _QUARTER.fullmatch(period):
        return fmt.date(dt.date(int(match[1]), 3 * int(match[2]) - 2, 1), "QQQ y")
    return period


def _view(report: Mapping[str, Any], w: Words, fmt: Formatter) -> dict[str, Any]:
    periods = list(report["periods"])
    period_word = w.plain(f"retention.period.{report['period']}")

    def label(period: object) -> str:
        return period_label(period, fmt)

    def percent(share: float | None) -> str:
        return NO_VALUE if share is None else fmt.percent(share, 1)

    labels = [label(row["period"]) for row in periods]
    return {
        "plain": w.plain,
        "period_word": period_word,
        "partial": report.get("partial_period"),
        "label": label,
        "percent": percent,
        "cards": _cards(periods, report["at_risk"], period_word, w, fmt, label, percent),
        "labels": labels,
        "trend_series": [
            (
                w.plain("retention.legend.retention"),
                RETENTION_COLOUR,
                [row["retention_rate"] for row in periods],
            ),
            (
                w.plain("retention.legend.churn"),
                CHURN_COLOUR,
                [row["churn_rate"] for row in periods],
            ),
        ],
        "repeat_series": [
            (
                w.plain("retention.legend.repeat"),
                REPEAT_COLOUR,
                [row["repeat_purchase_rate"] for row in periods],
            )
        ],
        "revenue": [float(row["revenue"]) for row in periods],
        "money_whole": lambda value: fmt.money(value, whole=True),
        "money": lambda value: fmt.money(value, whole=False),
        "tick_percent": lambda share: fmt.percent(share),
        "cohorts": _cohorts(report["cohorts"], w, fmt, label),
        "segments": _segments(report["segments"], periods, label),
        "campaigns": _campaigns(report["campaigns"], w, fmt, label, percent),
    }


def _last_with(periods: Sequence[Mapping[str, Any]], key: str) -> Mapping[str, Any] | None:
    """The last period whose ``key`` is not None: the last complete one for a rate."""
    return next((row for row in reversed(periods) if row[key] is not None), None)


def _cards(
    periods: Sequence[Mapping[str, Any]],
    at_risk: Mapping[str, Any] | None,
    period_word: str,
    w: Words,
    fmt: Formatter,
    label: Any,
    percent: Any,
) -> list[dict[str, Any]]:
    """The headline cards: label, figure and note (escaped Markup), and whether to alert."""
    cards = []
    if periods:
        last = periods[-1]
        cards.append(
            {
                "label": w.t("retention.card.active"),
                "figure": fmt.integer(last["active"]),
                "note": w.t(
                    "retention.card.active_note",
                    label=label(last["period"]),
                    new=fmt.integer(last["new_customers"]),
                ),
            }
        )
    for key, name in (("retention_rate", "retention"), ("repeat_purchase_rate", "repeat")):
        row = _last_with(periods, key)
        if row is not None:
            cards.append(
                {
                    "label": w.t(f"retention.card.{name}"),
                    "figure": percent(row[key]),
                    "note": w.t(
                        f"retention.card.{name}_note",
                        label=label(row["period"]),
                        period=period_word,
                    ),
                }
            )
    if periods:
        cards.append(
            {
                "label": w.t("retention.card.revenue"),
                "figure": fmt.money(periods[-1]["revenue"], whole=True),
                "note": w.t("retention.card.revenue_note", label=label(periods[-1]["period"])),
            }
        )
    if at_risk is not None:
        scored, count = at_risk["customers_scored"], at_risk["at_risk"]
        as_of = fmt.date(str(at_risk["as_of"]))
        share = percent(count / scored if scored else None)
        cards += [
            {
                "label": w.t("retention.card.at_risk"),
                "figure": fmt.integer(count),
                "note": w.t(
                    "retention.card.at_risk_note",
                    share=share,
                    scored=fmt.integer(scored),
                    date=as_of,
                ),
                "alert": True,
            },
            {
                "label": w.t("retention.card.value"),
                "figure": fmt.money(at_risk["value_at_risk"], whole=True),
                "note": w.t("retention.card.value_note", date=as_of),
                "alert": True,
            },
        ]
    return cards


def _cohorts(
    rows: Sequence[Mapping[str, Any]], w: Words, fmt: Formatter, label: Any
) -> dict[str, Any] | None:
    """The cohort table: months, and per cohort its label, size and cells."""
    if not rows:
        return None
    rates: dict[tuple[str, int], float] = {}
    sizes: dict[str, tuple[int, int]] = {}
    for row in rows:
        cohort, month = str(row["cohort"]), int(row["months_since_first"])
        rates[cohort, month] = float(row["retention_rate"])
        # The size is the customers of the cohort's earliest month, its month 0.
        if cohort not in sizes or month < sizes[cohort][0]:
            sizes[cohort] = (month, int(row["customers"]))
    months = list(range(max(month for _, month in rates) + 1))
    # Month 0 is 100% by construction; the shades are scaled to the later months so their
    # differences show.
    later = [rate for (_, month), rate in rates.items() if month > 0]
    scale = max(later, default=1.0) or 1.0

    def cell(cohort: str, month: int) -> dict[str, Any] | None:
        rate = rates.get((cohort, month))
        if rate is None:
            return None
        opacity = 0.06 + 0.84 * min(max(rate / scale, 0.0), 1.0)
        return {
            "text": fmt.number(100 * rate, 1),
            "title": w.plain(
                "retention.cohorts.cell_title",
                cohort=label(cohort),
                month=month,
                rate=fmt.percent(rate, 1),
                customers=fmt.integer(sizes[cohort][1]),
            ),
            "style": f"background:rgba({HEATMAP_RGB},{opacity:.2f})",
            "dark": opacity > 0.55,
        }

    return {
        "months": months,
        "rows": [
            {
                "label": label(cohort),
                "size": sizes[cohort][1],
                "cells": [cell(cohort, month) for month in months],
            }
            for cohort in sorted(sizes)
        ],
    }


def _segments(
    segments: Sequence[Mapping[str, Any]], periods: Sequence[Mapping[str, Any]], label: Any
) -> dict[str, Any] | None:
    """The labels and series of the retention chart per customer group."""
    if not segments:
        return None
    # The overall periods, plus any a group has on its own, in time order.
    keys = sorted(
        {str(row["period"]) for row in periods}
        | {str(point["period"]) for segment in segments for point in segment["periods"]}
    )
    series = []
    for i, segment in enumerate(segments):
        by_period = {str(point["period"]): point["retention_rate"] for point in segment["periods"]}
        series.append(
            (
                str(segment["segment"]),
                SEGMENT_COLOURS[i % len(SEGMENT_COLOURS)],
                [by_period.get(key) for key in keys],
            )
        )
    return {"labels": [label(key) for key in keys], "series": series}


def _campaigns(
    campaigns: Mapping[str, Any], w: Words, fmt: Formatter, label: Any, percent: Any
) -> dict[str, Any]:
    """The campaign table's rows in the page's language, whether it has control columns,
    whether a rate is not final, and where the campaigns come from."""
    if campaigns["source"] == "log":
        source = w.t(
            "retention.campaigns.from_log",
            file=campaigns["file"],
            rows=fmt.integer(campaigns["contact_rows"]),
        )
    else:
        source = w.t("retention.campaigns.from_lists")
    rows = []
    for row in campaigns["rows"]:
        held_out = bool(row["control"])
        rows.append(
            {
                "name": (
                    w.plain("retention.campaigns.list_name", date=fmt.date(row["list_as_of"]))
                    if row["list_as_of"]
                    else str(row["campaign"])
                ),
                "month": label(row["month"]),
                "held_out": held_out,
                "contacted": fmt.integer(row["contacted"]),
                "response": percent(row["response_rate"]),
                "response_final": bool(row["response_complete"]),
                "conversion": percent(row["conversion_rate"]),
                "conversion_final": bool(row["conversion_complete"]),
                "control": fmt.integer(row["control"]) if held_out else NO_VALUE,
                "control_response": percent(row["control_response_rate"] if held_out else None),
                "control_conversion": percent(row["control_conversion_rate"] if held_out else None),
            }
        )
    return {
        "source": source,
        "response_days": campaigns["response_days"],
        "conversion_days": campaigns["conversion_days"],
        "rows": rows,
        "control": any(row["control"] for row in campaigns["rows"]),
        "open": any(not (r["response_final"] and r["conversion_final"]) for r in rows),
    }
