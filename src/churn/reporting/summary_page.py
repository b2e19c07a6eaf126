"""The marketers' summary of a scoring run: one self-contained HTML page in the run's language.

The page says over which period the risk runs, then opens with four headline figures
(customers scored, on the list, value at risk, left out for consent), says how the list was
chosen and how to read the page, then shows where the risk is (customer group x risk level),
why customers are on the list (by theme, with the likely cause and a real example), what to
do (an action per group, each with its file to import), how long the list could be (expected
leavers reached against contacts to customers who would have stayed), and how the risk is
spread over all customers scored.

The words are in the ``pages`` catalogs, the names of segments, tiers, themes, causes and
actions in the ``lists`` catalogs (:mod:`churn.text.messages`); numbers, money, shares and
dates are written by :class:`churn.text.formatting.Formatter`. The page is rendered from
``templates/summary.html.j2`` (see :mod:`churn.reporting.templating`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from markupsafe import Markup

from churn.reporting.templating import Words, capitalise, check_page_locale, render, words
from churn.text.formatting import Formatter

TIERS = ("high", "medium", "low")
TIER_COLOURS = {"high": "#c0392b", "medium": "#e67e22", "low": "#9aa5b1"}
SELECTION_MODES = ("share", "tiers", "top_k", "budget", "uplift")
# The reasons the score stage gives for leaving a customer out, and their message ids.
LEFT_OUT = {
    "opted out": "summary.left_out.opted_out",
    "opt-out unreadable": "summary.left_out.unreadable",
    "id matches after trimming or case-folding": "summary.left_out.id_fuzzy",
}
EMPTY_CODES = (
    "top_k_zero",
    "budget_too_small",
    "no_one_in_tiers",
    "all_left_out",
    "all_in_control",
    "no_positive_uplift",
    "no_one_scored",
)


def render_summary(summary: Mapping[str, Any]) -> str:
    """Render the marketers' summary of a scoring run as one self-contained HTML page.

    Parameters
    ----------
    summary : mapping
        - ``as_of`` (ISO date), ``locale`` (a language with a catalog), ``currency`` (ISO
          code), ``model``: ``name`` and ``version``.
        - ``horizon_days`` (int) and ``horizon_end`` (ISO date): the period the chance of
          leaving covers.
        - ``selection``: ``mode`` (``share``, ``tiers``, ``top_k`` or ``budget``), ``share``
          (0-1 or None), ``top_k``, ``budget``, ``cost_per_contact``, ``listed`` (int),
          ``control_fraction`` (0-0.5; missing or 0: no control group).
        - ``totals``: ``scored``, ``listed``, ``suppressed_opt_out`` (int), ``value_at_risk``
          (money: over the list, chance of leaving times the expected spend of the next 12
          months), ``suppressed_by_reason`` (reason -> count, optional) and ``control``
          (the customers chosen but held out as the control group).
        - ``contacted_on`` (ISO date): when the list is taken as contacted (the day after
          ``as_of``), needed with a control group.
        - ``by_segment_tier``: ``segment`` and ``tier`` (keys of the ``lists`` catalog),
          ``customers``, ``value_at_risk``; for the customers on the list.
        - ``themes``: ``theme``, ``cause`` (keys), ``customers`` (int), ``example`` (a real
          reason sentence in the page's language).
        - ``actions``: ``action``, ``segment`` (keys), ``customers``, ``file`` (the CSV of
          the action's customers).
        - ``list_sizes``: ``share``, ``customers``, ``expected_leavers``, ``would_stay``,
          ``leavers_reached_share``, ``chosen`` (bool), from small to large lists.
        - ``probability_histogram``: ``edges`` (n + 1 floats) and ``counts`` (n ints) of the
          chances of leaving of all customers scored; ``tiers``: lower bounds ``high`` and
          ``medium``.
        - ``files``: ``csv``, the file of the whole list; ``empty_reason``: None or the
          ``code`` (and figures) of :func:`churn.scoring.selection.empty_list_reason`.

    Returns
    -------
    str
        The HTML page: inline CSS and SVG, no JavaScript, no external URLs.

    Raises
    ------
    ValueError
        If the language has no catalog, a tier or the selection mode is unknown, or the
        histogram does not have one more edge than counts.
    """
    locale = check_page_locale(summary["locale"])
    fmt = Formatter(locale, summary["currency"])
    view = _view(summary, words(locale), fmt)
    return render("summary.html.j2", locale, summary["currency"], s=summary, v=view)


def write_summary(summary: Mapping[str, Any], path: Path) -> Path:
    """Render the summary (see :func:`render_summary`) and write it to ``path`` as UTF-8."""
    path.write_text(render_summary(summary), encoding="utf-8")
    return path


def _view(summary: Mapping[str, Any], w: Words, fmt: Formatter) -> dict[str, Any]:
    """What the template shows that is not in ``summary`` as it is: pivots, shares, bars."""
    totals = summary["totals"]
    selection = summary["selection"]
    if selection["mode"] not in SELECTION_MODES:
        raise ValueError(
            f"selection mode must be one of {list(SELECTION_MODES)}, got {selection['mode']!r}"
        )
    histogram = summary["probability_histogram"]
    tiers = summary["tiers"]
    colours = [
        TIER_COLOURS[_tier_of((lo + hi) / 2, tiers)]
        for lo, hi in zip(histogram["edges"][:-1], histogram["edges"][1:], strict=False)
    ]
    segments, segment_bars = _segments(summary["by_segment_tier"], w, fmt)
    return {
        "plain": w.plain,
        "leavers_shown": leavers_shown,
        "listed_share": totals["listed"] / totals["scored"] if totals["scored"] else 0,
        "left_out_note": _left_out_note(totals.get("suppressed_by_reason") or {}, w, fmt),
        "empty": _empty(summary.get("empty_reason"), fmt),
        "control_note": _control_note(summary, w, fmt),
        "uplift_note": _uplift_note(summary["selection"].get("uplift"), w, fmt),
        "selection_values": _selection_values(selection, fmt),
        "tiers": [{"key": t, "colour": TIER_COLOURS[t]} for t in TIERS],
        "segments": segments,
        "segment_bars": segment_bars,
        "theme_bars": [
            (
                capitalise(w.name("theme", row["theme"])),
                float(row["customers"]),
                fmt.integer(row["customers"]),
            )
            for row in summary["themes"]
        ],
        "chosen_sentence": _chosen_sentence(summary["list_sizes"], totals["listed"], w, fmt)
        + _held_out_aside(int(totals.get("control") or 0), w, fmt),
        "histogram_colours": colours,
        "legend": [
            (capitalise(w.plain("summary.tier_risk", tier=w.name("tier", t))), TIER_COLOURS[t])
            for t in TIERS
        ],
    }


def _tier_of(probability: float, tiers: Mapping[str, float]) -> str:
    if probability >= tiers["high"]:
        return "high"
    return "medium" if probability >= tiers["medium"] else "low"


def _left_out_note(by_reason: Mapping[str, int], w: Words, fmt: Formatter) -> Markup:
    """The card's note, with the count of each reason when customers were left out."""
    parts = [
        Markup("{}: {}").format(
            w.t(LEFT_OUT[reason]) if reason in LEFT_OUT else reason, fmt.integer(n)
        )
        for reason, n in sorted(by_reason.items())
        if n
    ]
    note = w.t("summary.card.left_out_note")
    return note + Markup(" ({})").format(Markup("; ").join(parts)) if parts else note


def _empty(reason: Mapping[str, Any] | None, fmt: Formatter) -> dict[str, Any] | None:
    """Why the list is empty, as a message code and its formatted figures."""
    if not reason or reason.get("code") not in EMPTY_CODES:
        return None
    code = reason["code"]
    values: dict[str, str] = {}
    if code == "budget_too_small":
        values = {
            "budget": fmt.money(float(reason.get("budget") or 0)),
            "cost": fmt.money(float(reason.get("cost_per_contact") or 0)),
        }
    elif code == "no_one_in_tiers":
        values = {
            "bound": fmt.percent(float(reason.get("lowest_listed_bound") or 0)),
            "highest": fmt.percent(float(reason.get("highest_probability") or 0), 1),
        }
    elif code in ("all_left_out", "all_in_control"):
        values = {"customers": fmt.integer(int(reason.get("customers") or 0))}
    return {"code": code, "figures": values}


def _uplift_note(uplift: Mapping[str, Any] | None, w: Words, fmt: Formatter) -> Markup | None:
    """How an uplift list was chosen, or that it fell back to value at risk."""
    if not uplift:
        return None
    if uplift.get("fallback"):
        return w.t("summary.uplift.fallback")
    return w.t(
        "summary.uplift.left_alone",
        customers=w.b(fmt.integer(int(uplift.get("left_alone_negative_uplift") or 0))),
        negative=fmt.integer(int(uplift.get("negative_uplift") or 0)),
    )


def _control_note(summary: Mapping[str, Any], w: Words, fmt: Formatter) -> Markup | None:
    """Why some customers chosen are not on the list (the control group), or that none
    was held out; nothing when no one was chosen."""
    fraction = float(summary["selection"].get("control_fraction") or 0)
    control = int(summary["totals"].get("control") or 0)
    if fraction <= 0:
        return w.t("summary.control.none")
    if not control and not summary["totals"]["listed"]:
        return None
    return w.t(
        "summary.control.held_out",
        control=w.b(fmt.integer(control)),
        fraction=fmt.percent(fraction),
        date=fmt.date(summary["contacted_on"]),
    )


def _selection_values(selection: Mapping[str, Any], fmt: Formatter) -> dict[str, str]:
    cost = float(selection.get("cost_per_contact") or 0)
    budget = float(selection.get("budget") or 0)
    return {
        "listed": fmt.integer(selection["listed"]),
        "share": fmt.percent(float(selection.get("share") or 0)),
        "top_k": fmt.integer(int(selection.get("top_k") or 0)),
        "budget": fmt.money(budget),
        "cost": fmt.money(cost),
        "contacts": fmt.integer(int(budget // cost) if cost > 0 else 0),
    }


def _segments(
    rows: Sequence[Mapping[str, Any]], w: Words, fmt: Formatter
) -> tuple[list[dict[str, Any]], list[tuple[str, float, str]]]:
    """The segment x tier table's rows (the total last) and the chart's bars."""
    customers: dict[tuple[str, str], int] = {}
    value: dict[tuple[str, str], float] = {}
    keys: list[str] = []
    for row in rows:
        segment, tier = str(row["segment"]), row["tier"]
        if tier not in TIERS:
            raise ValueError(f"tier must be one of {list(TIERS)}, got {tier!r}")
        if segment not in keys:
            keys.append(segment)
        customers[segment, tier] = customers.get((segment, tier), 0) + int(row["customers"])
        value[segment, tier] = value.get((segment, tier), 0.0) + float(row["value_at_risk"])

    def cells(segments: Sequence[str]) -> list[dict[str, float]]:
        by_tier = [
            {
                "customers": sum(customers.get((s, t), 0) for s in segments),
                "value": sum(value.get((s, t), 0.0) for s in segments),
            }
            for t in TIERS
        ]
        total = {
            "customers": sum(c["customers"] for c in by_tier),
            "value": sum(c["value"] for c in by_tier),
        }
        return [*by_tier, total]

    # Most valuable groups first: that is where a campaign pays most.
    keys.sort(key=lambda s: -sum(value.get((s, t), 0.0) for t in TIERS))
    table = [
        {"name": capitalise(w.name("segment", s)), "cells": cells([s]), "is_total": False}
        for s in keys
    ]
    bars = [
        (row["name"], row["cells"][-1]["value"], fmt.money(row["cells"][-1]["value"], whole=True))
        for row in table
    ]
    table.append({"name": w.plain("summary.total"), "cells": cells(keys), "is_total": True})
    return table, bars


def leavers_shown(row: Mapping[str, Any]) -> int:
    """A list size's expected leavers as the page shows them (whole, halves up); the
    contacts who would have stayed are the rest, so that the two add up to the list."""
    return math.floor(float(row["expected_leavers"]) + 0.5)


def _held_out_aside(control: int, w: Words, fmt: Formatter) -> Markup:
    """Why the size chosen is larger than the list: the control group is counted in it."""
    if not control:
        return Markup("")
    return Markup(" ") + w.t("summary.sizes.control_aside", control=fmt.integer(control))


def _chosen_sentence(
    sizes: Sequence[Mapping[str, Any]], listed: int, w: Words, fmt: Formatter
) -> Markup:
    chosen = next((row for row in sizes if row.get("chosen")), None)
    if chosen is None:
        return w.t("summary.sizes.not_a_row", listed=fmt.integer(listed))
    if chosen.get("share") is None:
        return w.t(
            "summary.sizes.chosen_count_sentence",
            customers=w.b(fmt.integer(chosen["customers"])),
            leavers=fmt.integer(leavers_shown(chosen)),
            stayers=fmt.integer(chosen["customers"] - leavers_shown(chosen)),
        )
    return w.t(
        "summary.sizes.chosen_sentence",
        share=w.b(fmt.percent(chosen["share"])),
        customers=fmt.integer(chosen["customers"]),
        leavers=fmt.integer(leavers_shown(chosen)),
        stayers=fmt.integer(chosen["customers"] - leavers_shown(chosen)),
    )
