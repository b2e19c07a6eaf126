"""The outcomes of past at-risk lists: one self-contained HTML page in the page's language.

The page tells a marketer whether past lists came true and what the campaigns on them did.
It opens with a banner when the model should be retrained, says whether contacts were read
from a log or assumed, shows headline figures and explains the measures in plain words.
Then, for the newest list whose horizon has passed, it shows the realised churn against the
predicted one (overall, per risk level, customer group and tenth of customers, with 95%
intervals and a chart), how well the model ranked and estimated, and the campaign's effect
(contacted against control, per customer group and per action). It lists the lists still
waiting for their outcome with the day it will be known, the earlier matured lists in a
compact table, and the realised quality per model version.

Like :mod:`churn.reporting.summary_page` it is rendered from a template
(``templates/outcomes.html.j2``) with the pages' one stylesheet and the charts of
:mod:`churn.reporting.charts`; the words are in the ``pages`` catalogs, the names of tiers,
segments and actions in the ``lists`` catalogs, and numbers are written by
:class:`churn.text.formatting.Formatter`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from churn.reporting.figures import NO_VALUE, Figures
from churn.reporting.templating import Words, capitalise, check_page_locale, render, words
from churn.text.formatting import Formatter, is_missing

STATUSES = ("matured", "pending")
CONTACT_SOURCES = ("log", "assumed")
# The campaign's measures in the order the page shows them; a lower churn rate is better,
# a higher value of the others is.
METRICS = ("churn_rate", "response_rate", "conversion_rate", "revenue_per_customer")
LOWER_IS_BETTER = {"churn_rate"}
MONEY_METRICS = {"revenue_per_customer"}
RETRAIN_REASONS = ("roc_auc", "calibration_error")


@dataclass(frozen=True)
class Card:
    """A headline figure: its label, the figure and a note, and whether it calls for care."""

    label: str
    figure: str
    note: str
    alert: bool = False


@dataclass(frozen=True)
class RateRow:
    """One group's predicted and realised churn rate, as the page writes them."""

    name: str
    customers: str
    predicted: str
    realised: str
    interval: str


@dataclass(frozen=True)
class QualityRow(RateRow):
    """A population's churn rates and the model's realised quality on it."""

    roc_auc: str = NO_VALUE
    brier: str = NO_VALUE
    calibration_error: str = NO_VALUE


@dataclass(frozen=True)
class Chart:
    """The tenths' predicted and realised churn, for :func:`churn.reporting.charts.intervals`."""

    labels: list[str]
    expected: list[float | None]
    observed: list[float | None]
    lows: list[float | None]
    highs: list[float | None]
    tips: list[str]


@dataclass(frozen=True)
class MetricRow:
    """A campaign measure: contacted, control, their difference with its interval, and what
    the difference shows (``verdict``: ``better``, ``worse`` or ``unclear``)."""

    name: str
    contact: str
    control: str
    difference: str
    interval: str
    verdict: str


@dataclass(frozen=True)
class GroupEffectRow:
    """The churn rate of one customer group or action, contacted against control."""

    name: str
    contact: str
    control: str
    churn_contact: str
    churn_control: str
    difference: str
    interval: str
    verdict: str


@dataclass(frozen=True)
class Effect:
    """The campaign's effect on one list, written for the page."""

    contact: str
    control: str
    metrics: list[MetricRow]
    cards: list[Card]
    notes: list[Markup]
    by_segment: list[GroupEffectRow]
    by_action: list[GroupEffectRow]


@dataclass(frozen=True)
class MaturedRun:
    """The newest list whose horizon has passed, in full."""

    date: str
    model_version: str
    known_on: str
    customers: str
    headline: Markup | None
    # Whether the prediction lies in the realised rate's interval ("true"), or "more" or
    # "fewer" customers left than predicted; None when a figure is missing.
    verdict: str | None
    quality: list[Markup]
    overall: list[QualityRow]
    by_tier: list[RateRow]
    by_segment: list[RateRow]
    by_decile: list[RateRow]
    chart: Chart | None
    effect: Effect | None
    # Why there is no effect: "no_control" (no control group was held out) or "unknown".
    no_effect: str | None


@dataclass(frozen=True)
class PendingRun:
    """A list whose horizon has not passed: what is expected and when it will be known."""

    date: str
    model_version: str
    customers: str
    contact: str
    control: str
    expected: str
    known_on: str


@dataclass(frozen=True)
class OlderRun:
    """An earlier matured list, in one row."""

    date: str
    model_version: str
    customers: str
    predicted: str
    realised: str
    interval: str
    roc_auc: str
    churn_difference: str
    churn_interval: str
    kept: str


@dataclass(frozen=True)
class ModelRow:
    """The realised quality of one model version over its matured lists."""

    version: str
    runs: str
    customers: str
    predicted: str
    realised: str
    roc_auc: str
    calibration_error: str


@dataclass(frozen=True)
class Retrain:
    """The banner saying the model should be retrained: the run checked and the reasons."""

    intro: Markup
    reasons: list[Markup]


@dataclass(frozen=True)
class Page:
    """Everything the template shows, already written in the page's language."""

    retrain: Retrain | None
    contacts: Markup
    cards: list[Card]
    runs: int
    first_known_on: str | None
    newest: MaturedRun | None
    pending: list[PendingRun]
    older: list[OlderRun]
    by_model: list[ModelRow]
    response_days: str
    data_last_date: str
    folder: Markup
    plain: Any
    tick_percent: Any


def render_outcomes(view: Mapping[str, Any]) -> str:
    """Render the outcomes of past at-risk lists as one self-contained HTML page.

    Parameters
    ----------
    view : mapping
        The outcomes view model (the ``outcomes.json`` of the outcomes stage):

        - ``locale`` (a language with a catalog), ``currency`` (ISO code),
          ``data_last_date`` (ISO date: the last day of the transactions read),
          ``scores_dir`` (str, where the runs were read), ``response_days`` (int: a response
          is an order within this many days of the contact), ``cost_per_contact`` (money).
        - ``contacts``: ``{"source": "log", "file": str, "rows": int}`` when a contact log
          was read, or ``{"source": "assumed"}``: every list taken as contacted on the day
          after its date.
        - ``runs``: list, newest first, of the stored scoring runs: ``as_of`` (ISO date),
          ``model_name``, ``model_version`` (str), ``status`` (``"matured"`` or
          ``"pending"``), ``horizon_days`` (int), ``outcome_known_on`` (ISO date: the last
          day of the label window), ``customers``, ``contact``, ``control``,
          ``not_selected`` (int customers in each group), ``predicted_churn`` (0-1: the mean
          churn probability of all customers scored), and

          - ``performance``: None when pending, else ``not_contacted`` and ``all`` (each
            ``customers``, ``predicted``, ``realised``, ``low``, ``high``, ``roc_auc``,
            ``brier``, ``calibration_error``) and ``by_tier``, ``by_segment``,
            ``by_decile``: lists of ``group`` (a tier or segment key, or ``"1"`` to ``"10"``,
            1 being the tenth with the highest probability), ``customers``, ``predicted``,
            ``realised``, ``low``, ``high``, measured on the customers not contacted.
          - ``effect``: None when pending or without control group, else ``contact`` and
            ``control`` (int customers per arm), ``not_reached`` (on the list, not in the
            log), ``control_contacted`` (control customers the log says were contacted,
            left out), ``metrics`` (list of ``metric``: ``churn_rate``, ``response_rate``,
            ``conversion_rate`` or ``revenue_per_customer`` (money), with ``contact``,
            ``control``, ``difference`` (contacted minus control), ``low``, ``high``),
            ``incremental_customers`` and ``incremental_revenue`` (each ``value``, ``low``,
            ``high``), ``cost`` (money), ``return_on_spend`` (incremental revenue over cost),
            ``by_segment`` and ``by_action`` (lists of ``group``, ``contact``, ``control``,
            ``churn_contact``, ``churn_control``, ``difference``, ``low``, ``high``).
        - ``by_model``: list of ``model_version``, ``runs``, ``customers``, ``roc_auc``,
          ``calibration_error``, ``predicted``, ``realised``, over the matured runs.
        - ``retrain``: None, or the failed check of the newest model's newest matured run:
          ``model_version``, ``as_of``, ``roc_auc``, ``min_roc_auc``,
          ``calibration_error``, ``max_calibration_error`` and ``reasons`` (a list of
          ``roc_auc`` and ``calibration_error``).

        Rates are shares 0-1, ``low`` and ``high`` the bounds of a 95% interval; any number
        may be None when it cannot be computed, and the page shows a dash.

    Returns
    -------
    str
        The HTML page: inline CSS and SVG, no JavaScript, no external URLs.

    Raises
    ------
    ValueError
        If the language has no catalog, or a run's status, the contacts' source, a campaign
        measure or a reason to retrain is unknown.
    """
    locale = check_page_locale(view["locale"])
    fmt = Formatter(locale, view["currency"])
    page = _page(view, Figures(words(locale), fmt))
    return render("outcomes.html.j2", locale, view["currency"], v=page)


def write_outcomes_page(view: Mapping[str, Any], path: Path) -> Path:
    """Render the page (see :func:`render_outcomes`) and write it to ``path`` as UTF-8."""
    path.write_text(render_outcomes(view), encoding="utf-8")
    return path


def _page(view: Mapping[str, Any], out: Figures) -> Page:
    w, fmt = out.w, out.fmt
    runs = list(view["runs"])
    for run in runs:
        if run["status"] not in STATUSES:
            raise ValueError(f"run status must be one of {list(STATUSES)}, got {run['status']!r}")
    matured = [run for run in runs if run["status"] == "matured"]
    pending = [run for run in runs if run["status"] == "pending"]
    newest = _matured(matured[0], out, view) if matured else None
    known = sorted(str(run["outcome_known_on"]) for run in pending if run.get("outcome_known_on"))
    first_known_on = known[0] if known else None
    return Page(
        retrain=_retrain(view.get("retrain"), out),
        contacts=_contacts(view["contacts"], out),
        cards=_cards(runs, matured, pending, newest, first_known_on, out),
        runs=len(runs),
        first_known_on=out.date(first_known_on) if first_known_on else None,
        newest=newest,
        pending=[_pending(run, out) for run in pending],
        older=[_older(run, out) for run in matured[1:]],
        by_model=[
            ModelRow(
                version=str(row["model_version"]),
                runs=out.count(row["runs"]),
                customers=out.count(row["customers"]),
                predicted=out.rate(row.get("predicted")),
                realised=out.rate(row.get("realised")),
                roc_auc=out.score(row.get("roc_auc")),
                calibration_error=out.points(row.get("calibration_error")),
            )
            for row in view.get("by_model") or []
        ],
        response_days=fmt.integer(view["response_days"]),
        data_last_date=out.date(view.get("data_last_date")),
        folder=_filename(view.get("scores_dir")),
        plain=w.plain,
        tick_percent=fmt.percent,
    )


def _contacts(contacts: Mapping[str, Any], out: Figures) -> Markup:
    source = contacts.get("source")
    if source not in CONTACT_SOURCES:
        raise ValueError(f"contacts source must be one of {list(CONTACT_SOURCES)}, got {source!r}")
    if source == "assumed":
        return out.w.t("outcomes.contacts.assumed")
    return out.w.t(
        "outcomes.contacts.log",
        file=_filename(contacts.get("file")),
        rows=out.count(contacts.get("rows")),
    )


def _filename(name: object) -> Markup:
    return Markup('<span class="filename">{}</span>').format(name or NO_VALUE)


def _retrain(retrain: Mapping[str, Any] | None, out: Figures) -> Retrain | None:
    if not retrain:
        return None
    w = out.w
    reasons = []
    for reason in retrain.get("reasons") or []:
        if reason not in RETRAIN_REASONS:
            raise ValueError(
                f"a reason to retrain must be one of {list(RETRAIN_REASONS)}, got {reason!r}"
            )
        if reason == "roc_auc":
            reasons.append(
                w.t(
                    "outcomes.retrain.roc_auc",
                    value=w.b(out.score(retrain.get("roc_auc"))),
                    minimum=out.score(retrain.get("min_roc_auc")),
                )
            )
        else:
            reasons.append(
                w.t(
                    "outcomes.retrain.calibration_error",
                    value=w.b(out.points(retrain.get("calibration_error"))),
                    maximum=out.points(retrain.get("max_calibration_error")),
                )
            )
    intro = w.t(
        "outcomes.retrain.intro",
        version=w.b(retrain.get("model_version") or NO_VALUE),
        date=out.date(retrain.get("as_of")),
    )
    return Retrain(intro=intro, reasons=reasons)


def _cards(
    runs: Sequence[Mapping[str, Any]],
    matured: Sequence[Mapping[str, Any]],
    pending: Sequence[Mapping[str, Any]],
    newest: MaturedRun | None,
    first_known_on: str | None,
    out: Figures,
) -> list[Card]:
    """The headline figures: lists read, the newest matured list's realised churn (called
    out when it missed the prediction) and what its campaign kept, and the next outcome."""
    w = out.w
    if not runs:
        return []
    cards = [
        Card(
            w.plain("outcomes.card.lists"),
            out.count(len(runs)),
            w.plain(
                "outcomes.card.lists_note",
                matured=out.count(len(matured)),
                pending=out.count(len(pending)),
            ),
        )
    ]
    if newest is not None:
        not_contacted = (matured[0].get("performance") or {}).get("not_contacted") or {}
        cards.append(
            Card(
                w.plain("outcomes.card.realised"),
                out.rate(not_contacted.get("realised")),
                w.plain(
                    "outcomes.card.realised_note",
                    predicted=out.rate(not_contacted.get("predicted")),
                    date=newest.date,
                ),
                alert=newest.verdict in ("more", "fewer"),
            )
        )
        if newest.effect is not None:
            # Customers kept and extra revenue, as the campaign's section shows them.
            cards += newest.effect.cards[:2]
    if first_known_on:
        cards.append(
            Card(
                w.plain("outcomes.card.next"),
                out.fmt.date(first_known_on, "medium"),
                w.plain("outcomes.card.next_note", pending=out.count(len(pending))),
            )
        )
    return cards


def _group_name(kind: str, key: object, w: Words) -> str:
    if kind == "tier":
        return capitalise(w.plain("summary.tier_risk", tier=w.name("tier", key)))
    if kind in ("segment", "action"):
        return capitalise(w.name(kind, key))
    return str(key)


def _rate_rows(rows: Sequence[Mapping[str, Any]], kind: str, out: Figures) -> list[RateRow]:
    return [
        RateRow(
            name=_group_name(kind, row["group"], out.w),
            customers=out.count(row.get("customers")),
            predicted=out.rate(row.get("predicted")),
            realised=out.rate(row.get("realised")),
            interval=out.interval(row.get("low"), row.get("high")),
        )
        for row in rows
    ]


def _quality_row(name: str, row: Mapping[str, Any], out: Figures) -> QualityRow:
    return QualityRow(
        name=name,
        customers=out.count(row.get("customers")),
        predicted=out.rate(row.get("predicted")),
        realised=out.rate(row.get("realised")),
        interval=out.interval(row.get("low"), row.get("high")),
        roc_auc=out.score(row.get("roc_auc")),
        brier=out.score(row.get("brier")),
        calibration_error=out.points(row.get("calibration_error")),
    )


def _came_true(row: Mapping[str, Any]) -> str | None:
    """``true`` when the prediction is inside the realised rate's interval, else ``more`` or
    ``fewer`` customers left than predicted; None when a figure is missing."""
    predicted, low, high = row.get("predicted"), row.get("low"), row.get("high")
    if any(is_missing(value) for value in (predicted, low, high)):
        return None
    if low <= predicted <= high:
        return "true"
    return "more" if predicted < low else "fewer"


def _matured(run: Mapping[str, Any], out: Figures, view: Mapping[str, Any]) -> MaturedRun:
    w = out.w
    performance = run.get("performance") or {}
    not_contacted = performance.get("not_contacted") or {}
    everyone = performance.get("all") or {}
    date = out.date(run["as_of"])
    headline = None
    if not_contacted:
        headline = w.t(
            "outcomes.check.headline",
            customers=out.count(not_contacted.get("customers")),
            days=out.count(run.get("horizon_days")),
            predicted=w.b(out.rate(not_contacted.get("predicted"))),
            realised=w.b(out.rate(not_contacted.get("realised"))),
            interval=out.interval(not_contacted.get("low"), not_contacted.get("high")),
        )
    quality = [
        w.t("outcomes.check.roc_auc", value=w.b(out.score(not_contacted.get("roc_auc")))),
        w.t("outcomes.check.brier", value=w.b(out.score(not_contacted.get("brier")))),
        w.t(
            "outcomes.check.calibration",
            value=w.b(out.points(not_contacted.get("calibration_error"))),
        ),
    ]
    overall = []
    if not_contacted:
        overall.append(_quality_row(w.plain("outcomes.row.not_contacted"), not_contacted, out))
    if everyone:
        overall.append(_quality_row(w.plain("outcomes.row.all"), everyone, out))
    deciles = list(performance.get("by_decile") or [])
    effect = run.get("effect")
    no_effect = None
    if not effect:
        no_effect = "no_control" if not run.get("control") else "unknown"
    return MaturedRun(
        date=date,
        model_version=str(run.get("model_version") or NO_VALUE),
        known_on=out.date(run.get("outcome_known_on")),
        customers=out.count(run.get("customers")),
        headline=headline,
        verdict=_came_true(not_contacted),
        quality=quality,
        overall=overall,
        by_tier=_rate_rows(performance.get("by_tier") or [], "tier", out),
        by_segment=_rate_rows(performance.get("by_segment") or [], "segment", out),
        by_decile=_rate_rows(deciles, "decile", out),
        chart=_chart(deciles, out) if deciles else None,
        effect=_effect(effect, out, view) if effect else None,
        no_effect=no_effect,
    )


def _chart(deciles: Sequence[Mapping[str, Any]], out: Figures) -> Chart:
    def value(row: Mapping[str, Any], key: str) -> float | None:
        found = row.get(key)
        return None if is_missing(found) else float(found)

    return Chart(
        labels=[str(row["group"]) for row in deciles],
        expected=[value(row, "predicted") for row in deciles],
        observed=[value(row, "realised") for row in deciles],
        lows=[value(row, "low") for row in deciles],
        highs=[value(row, "high") for row in deciles],
        tips=[
            out.w.plain(
                "outcomes.chart.tip",
                group=str(row["group"]),
                customers=out.count(row.get("customers")),
                predicted=out.rate(row.get("predicted")),
                realised=out.rate(row.get("realised")),
                interval=out.interval(row.get("low"), row.get("high")),
            )
            for row in deciles
        ],
    )


def _verdict(low: float | None, high: float | None, lower_is_better: bool) -> str:
    """``better`` or ``worse`` when the interval of contacted minus control excludes 0,
    ``unclear`` when it includes it or is missing."""
    if is_missing(low) or is_missing(high) or low <= 0 <= high:
        return "unclear"
    below = high < 0
    return "better" if below == lower_is_better else "worse"


def _effect(effect: Mapping[str, Any], out: Figures, view: Mapping[str, Any]) -> Effect:
    w = out.w
    rows = list(effect.get("metrics") or [])
    for row in rows:
        if row["metric"] not in METRICS:
            raise ValueError(
                f"a campaign measure must be one of {list(METRICS)}, got {row['metric']!r}"
            )
    metrics = []
    for row in sorted(rows, key=lambda row: METRICS.index(row["metric"])):
        metric = row["metric"]
        money = metric in MONEY_METRICS
        metrics.append(
            MetricRow(
                name=w.plain(f"outcomes.metric.{metric}"),
                contact=out.money(row.get("contact")) if money else out.rate(row.get("contact")),
                control=out.money(row.get("control")) if money else out.rate(row.get("control")),
                difference=(
                    out.signed_money(row.get("difference"))
                    if money
                    else out.signed_points(row.get("difference"))
                ),
                interval=out.interval(
                    row.get("low"), row.get("high"), "money" if money else "points"
                ),
                verdict=_verdict(row.get("low"), row.get("high"), metric in LOWER_IS_BETTER),
            )
        )
    kept = effect.get("incremental_customers") or {}
    revenue = effect.get("incremental_revenue") or {}
    cost = effect.get("cost")
    ratio = effect.get("return_on_spend")
    ratio_low, ratio_high = effect.get("return_on_spend_low"), effect.get("return_on_spend_high")
    if not is_missing(ratio) and not (is_missing(ratio_low) or is_missing(ratio_high)):
        return_note = w.plain(
            "outcomes.effect.return_interval_note",
            unit=out.fmt.money(1, whole=True),
            interval=out.interval(ratio_low, ratio_high, "money"),
        )
    elif not is_missing(ratio):
        return_note = w.plain("outcomes.effect.return_note", unit=out.fmt.money(1, whole=True))
    elif not cost:
        return_note = w.plain("outcomes.effect.return_no_cost")
    else:
        return_note = w.plain("outcomes.effect.return_unknown")
    cards = [
        Card(
            w.plain("outcomes.card.kept"),
            out.signed_count(kept.get("value")),
            w.plain(
                "outcomes.card.interval_note",
                interval=out.interval(kept.get("low"), kept.get("high"), "count"),
            ),
        ),
        Card(
            w.plain("outcomes.card.revenue"),
            out.signed_money(revenue.get("value")),
            w.plain(
                "outcomes.card.interval_note",
                interval=out.interval(revenue.get("low"), revenue.get("high"), "money"),
            ),
        ),
        Card(
            w.plain("outcomes.effect.cost"),
            out.money(cost),
            w.plain(
                "outcomes.effect.cost_note",
                contacts=out.count(effect.get("contact")),
                cost=out.money(view.get("cost_per_contact")),
            ),
        ),
        Card(
            w.plain("outcomes.effect.return"),
            out.money(ratio),
            return_note,
        ),
    ]
    notes = []
    if effect.get("not_reached"):
        notes.append(w.t("outcomes.effect.not_reached", customers=out.count(effect["not_reached"])))
    if effect.get("control_contacted"):
        notes.append(
            w.t(
                "outcomes.effect.control_contacted",
                customers=out.count(effect["control_contacted"]),
            )
        )
    return Effect(
        contact=out.count(effect.get("contact")),
        control=out.count(effect.get("control")),
        metrics=metrics,
        cards=cards,
        notes=notes,
        by_segment=_group_effects(effect.get("by_segment") or [], "segment", out),
        by_action=_group_effects(effect.get("by_action") or [], "action", out),
    )


def _group_effects(
    rows: Sequence[Mapping[str, Any]], kind: str, out: Figures
) -> list[GroupEffectRow]:
    return [
        GroupEffectRow(
            name=_group_name(kind, row["group"], out.w),
            contact=out.count(row.get("contact")),
            control=out.count(row.get("control")),
            churn_contact=out.rate(row.get("churn_contact")),
            churn_control=out.rate(row.get("churn_control")),
            difference=out.signed_points(row.get("difference")),
            interval=out.interval(row.get("low"), row.get("high"), "points"),
            verdict=_verdict(row.get("low"), row.get("high"), lower_is_better=True),
        )
        for row in rows
    ]


def _pending(run: Mapping[str, Any], out: Figures) -> PendingRun:
    return PendingRun(
        date=out.date(run["as_of"]),
        model_version=str(run.get("model_version") or NO_VALUE),
        customers=out.count(run.get("customers")),
        contact=out.count(run.get("contact")),
        control=out.count(run.get("control")),
        expected=out.rate(run.get("predicted_churn")),
        known_on=out.date(run.get("outcome_known_on")),
    )


def _older(run: Mapping[str, Any], out: Figures) -> OlderRun:
    not_contacted = (run.get("performance") or {}).get("not_contacted") or {}
    effect = run.get("effect") or {}
    churn = next(
        (row for row in effect.get("metrics") or [] if row.get("metric") == "churn_rate"), {}
    )
    if effect:
        difference = out.signed_points(churn.get("difference"))
        interval = out.interval(churn.get("low"), churn.get("high"), "points")
        kept = out.signed_count((effect.get("incremental_customers") or {}).get("value"))
    else:
        no_control = out.w.plain("outcomes.older.no_control")
        difference, interval = (no_control if not run.get("control") else NO_VALUE), ""
        kept = NO_VALUE
    return OlderRun(
        date=out.date(run["as_of"]),
        model_version=str(run.get("model_version") or NO_VALUE),
        customers=out.count(run.get("customers")),
        predicted=out.rate(not_contacted.get("predicted")),
        realised=out.rate(not_contacted.get("realised")),
        interval=out.interval(not_contacted.get("low"), not_contacted.get("high")),
        roc_auc=out.score(not_contacted.get("roc_auc")),
        churn_difference=difference,
        churn_interval=interval,
        kept=kept,
    )
