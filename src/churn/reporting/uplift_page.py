"""The uplift model's report: one self-contained HTML page in the page's language.

The page tells a marketer and a data scientist whether the uplift model is used for the lists
and why. It opens with the verdict of the model's gate in words, headline figures, and what
the model was checked on (a later campaign, or a random part of the customers, with the
campaign's average effect). It explains uplift and the other terms in plain words, then shows
the Qini curve and the uplift curve of three rankings of the customers checked (by the
model's uplift, by churn risk, at random), the Qini coefficients with the bootstrap
intervals of the model's lead, the uplift among the first 10%, 20% and 30%, a table of the
customers kept and the revenue gained for lists of several sizes, and the share of customers
with a negative uplift, whom selection by uplift leaves alone.

For a features table rather than the shop's lists (the MineThatData e-mail experiment: the
outcome is a visit), the ranking to beat is a response model, and the page says so.

Like :mod:`churn.reporting.outcomes_page` it is rendered from a template
(``templates/uplift.html.j2``) with the pages' one stylesheet and the charts of
:mod:`churn.reporting.charts`; the words are in the ``pages`` catalogs and numbers are
written by :class:`churn.reporting.figures.Figures`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from churn.reporting.charts import BAR_COLOUR, Curve
from churn.reporting.figures import NO_VALUE, Figures
from churn.reporting.outcomes_page import Card
from churn.reporting.templating import capitalise, check_page_locale, render, words
from churn.text.formatting import Formatter, is_missing

SOURCES = ("lists", "table")
OUTCOMES = ("kept", "visit")
SPLITS = ("later_campaign", "random")
VERDICTS = ("passed", "failed", "forced")
CHECKS = ("beats_random", "beats_risk", "later_campaign")
LEARNERS = ("s", "t")
# The three rankings of the customers checked, in the order the page shows them.
RANKINGS = ("model", "risk", "random")
COLOURS = {"model": BAR_COLOUR, "risk": "#e67e22", "random": "#7b8794"}
CURVES = ("qini", "uplift")
# The share of customers whose list gives the headline card, when the budget table has it.
CARD_SHARE = 0.1


@dataclass(frozen=True)
class Check:
    """One check of the gate: whether the model passed it, and what it says."""

    ok: bool
    text: Markup


@dataclass(frozen=True)
class Gate:
    """The gate's verdict in words: ``verdict`` (``passed``, ``failed`` or ``forced``, also
    the box's style), the verdict sentence, what it means for the lists, and the checks."""

    verdict: str
    headline: Markup
    detail: Markup
    rule: Markup
    checks: list[Check]
    registry: Markup


@dataclass(frozen=True)
class QiniRow:
    """A ranking's Qini coefficient and, for the other rankings, the model's lead over it
    with its bootstrap interval and what the lead shows (``better``, ``worse``,
    ``unclear``; empty on the model's own row)."""

    name: str
    coefficient: str
    lead: str = ""
    interval: str = ""
    verdict: str = ""


@dataclass(frozen=True)
class UpliftAtRow:
    """The uplift among the first customers of a list, by the model and by risk."""

    name: str
    model: str
    risk: str


@dataclass(frozen=True)
class BudgetRow:
    """For a list of one size, the gain (customers kept, or extra visits) and the revenue by
    each ranking; ``best_kept`` and ``best_revenue`` name the rankings with the most."""

    name: str
    kept: dict[str, str]
    revenue: dict[str, str]
    best_kept: frozenset[str]
    best_revenue: frozenset[str]


@dataclass(frozen=True)
class Page:
    """Everything the template shows, already written in the page's language."""

    source: str
    outcome: str
    subtitle: Markup
    gate: Gate
    cards: list[Card]
    table_notes: list[Markup]
    holdout: list[Markup]
    effect_unclear: bool
    learner: Markup
    names: dict[str, str]
    by: dict[str, str]
    risk_list: str
    qini_curves: list[Curve]
    uplift_curves: list[Curve]
    qini_rows: list[QiniRow]
    uplift_at: list[UpliftAtRow]
    average_effect: str
    budget: list[BudgetRow]
    negative: Markup
    horizon_days: str
    footer: Markup
    plain: Any
    tick_share: Any
    tick_count: Any


def render_uplift_report(view: Mapping[str, Any]) -> str:
    """Render the uplift model's report as one self-contained HTML page.

    Parameters
    ----------
    view : mapping
        The uplift stage's view model (its ``metrics.json``):

        - ``locale`` (a language with a catalog), ``currency`` (ISO code).
        - ``source``: ``"lists"`` (the shop's lists with their control groups) or
          ``"table"`` (a features table of a past randomised campaign, such as
          Hillstrom's), and ``table``: the table's path (None for lists).
        - ``outcome``: what a positive uplift raises, ``"kept"`` (the customer stays: an
          order within the horizon) or ``"visit"``; ``horizon_days`` (int, None for a
          table).
        - ``train``: ``campaigns`` (ISO dates of the lists learned from; None or empty for
          a table), ``customers``, ``treated``, ``control`` (int).
        - ``holdout``: ``split`` (``"later_campaign"`` or ``"random"``), ``campaign`` (ISO
          date of the later list, None for a random split), ``customers``, ``treated``,
          ``control`` (int) and ``average_effect`` (``value``, ``low``, ``high``: the
          outcome's rate among the treated minus among the control customers, 0-1).
        - ``qini``: the Qini coefficients on the holdout (scikit-uplift's normalisation) of
          the rankings ``model``, ``risk`` and ``random`` (float), and ``model_minus_risk``
          and ``model_minus_random`` (each ``mean``, ``low``, ``high``: bootstrap 95%).
        - ``risk_name``: what the ``risk`` ranking is. Not shown as it is: the page names
          it in its own language from ``source`` (churn risk for lists, a response model,
          the outcome's probability without the treatment, for a table).
        - ``uplift_at``: list of ``share`` (0-1) with the uplift among the first customers
          of that share by ``model`` and by ``risk`` (rates 0-1).
        - ``curves``: ``qini`` and ``uplift``, each with ``model``, ``risk`` and ``random``:
          lists of ``[x, y]`` points, ``x`` the customers targeted (0 to the holdout's
          customers), ``y`` the gain (customers kept or extra visits; None leaves a gap).
        - ``budget``: list, from small to large lists, of ``share`` (0-1), ``customers``
          and, by ranking, ``kept_model``, ``kept_risk``, ``kept_random`` (customers kept,
          or extra visits) and ``revenue_model``, ``revenue_risk``, ``revenue_random``
          (money).
        - ``negative_share`` (0-1): the holdout customers whose predicted uplift is below 0.
        - ``gate``: ``verdict`` (``"passed"``, ``"failed"`` or ``"forced"``: used although
          it failed), ``alias`` (the registry alias, ``"champion"`` or ``"challenger"``) and
          ``checks``: list of ``check`` (``beats_random``, ``beats_risk`` or
          ``later_campaign``) with ``ok`` (bool) and, for the first two, ``model`` and
          ``other`` (Qini coefficients) and ``low`` and ``high`` (the bootstrap 95%
          interval of the model's lead: ``beats_random`` needs it above 0, ``beats_risk``
          is on the Qini coefficients themselves).
        - ``model``: ``name``, ``version`` (str) and ``learner`` (``"s"``: one model with
          the treatment as a feature, or ``"t"``: one model per arm).

        Any number may be None when it cannot be computed; the page shows a dash.

    Returns
    -------
    str
        The HTML page: inline CSS and SVG, no JavaScript, no external URLs.

    Raises
    ------
    ValueError
        If the language has no catalog, or the source, outcome, split, gate verdict, a
        check or the learner is unknown.
    """
    locale = check_page_locale(view["locale"])
    fmt = Formatter(locale, view["currency"])
    page = _page(view, Figures(words(locale), fmt))
    return render("uplift.html.j2", locale, view["currency"], v=page)


def write_uplift_report(view: Mapping[str, Any], path: Path) -> Path:
    """Render the page (see :func:`render_uplift_report`) and write it to ``path`` as UTF-8."""
    path.write_text(render_uplift_report(view), encoding="utf-8")
    return path


def _choice(value: object, known: Sequence[str], what: str) -> str:
    if value not in known:
        raise ValueError(f"{what} must be one of {list(known)}, got {value!r}")
    return str(value)


def _coefficient(value: float | None, out: Figures) -> str:
    """A Qini coefficient: three decimals, as Hillstrom's are a few hundredths."""
    return out.number(value, 3)


def _date(day: object, out: Figures) -> str:
    """An ISO date in words; anything else (a campaign's own name) as it is."""
    if not day:
        return NO_VALUE
    try:
        return out.fmt.date(str(day))
    except ValueError:
        return str(day)


def _join(items: Sequence[str | Markup], out: Figures) -> Markup:
    """``a``, ``a and b``, ``a, b and c`` in the page's language."""
    items = [Markup.escape(item) for item in items]
    if len(items) <= 1:
        return items[0] if items else Markup(NO_VALUE)
    return out.w.t("uplift.and", first=Markup(", ").join(items[:-1]), last=items[-1])


def _verdict(low: float | None, high: float | None) -> str:
    """``better`` or ``worse`` when the model's lead's interval excludes 0, else
    ``unclear``."""
    if is_missing(low) or is_missing(high) or low <= 0 <= high:
        return "unclear"
    return "better" if low > 0 else "worse"


def _page(view: Mapping[str, Any], out: Figures) -> Page:
    w = out.w
    source = _choice(view["source"], SOURCES, "source")
    outcome = _choice(view["outcome"], OUTCOMES, "outcome")
    model = view.get("model") or {}
    learner = _choice(model.get("learner"), LEARNERS, "learner")
    holdout = view["holdout"]
    split = _choice(holdout.get("split"), SPLITS, "holdout split")
    by = {
        "model": w.plain("uplift.by.model"),
        "risk": w.plain(f"uplift.risk.{source}"),
        "random": w.plain("uplift.by.random"),
    }
    names = {
        "model": w.plain("uplift.series.model"),
        "risk": capitalise(by["risk"]),
        "random": capitalise(by["random"]),
    }
    risk_list = w.plain("uplift.a_list", by=by["risk"])
    effect = holdout.get("average_effect") or {}
    qini = view.get("qini") or {}
    name, version = model.get("name") or NO_VALUE, model.get("version") or NO_VALUE
    if split == "later_campaign":
        subtitle = w.t(
            "uplift.subtitle.later_campaign",
            name=name,
            version=version,
            date=_date(holdout.get("campaign"), out),
        )
    else:
        subtitle = w.t("uplift.subtitle.random", name=name, version=version)
    table_notes = []
    if source == "table":
        table_notes = [
            w.t("uplift.table.source", table=_filename(view.get("table"))),
            w.t("uplift.table.risk", event=w.plain(f"uplift.outcome.{outcome}.event")),
        ]
    return Page(
        source=source,
        outcome=outcome,
        subtitle=subtitle,
        gate=_gate(view["gate"], model, risk_list, out),
        cards=_cards(view, outcome, names, out),
        table_notes=table_notes,
        holdout=_holdout(view, source, split, outcome, out),
        effect_unclear=_verdict(effect.get("low"), effect.get("high")) == "unclear",
        learner=w.t("uplift.holdout.learner", learner=w.plain(f"uplift.learner.{learner}")),
        names=names,
        by=by,
        risk_list=risk_list,
        qini_curves=_curves((view.get("curves") or {}).get("qini") or {}, names),
        uplift_curves=_curves((view.get("curves") or {}).get("uplift") or {}, names),
        qini_rows=_qini_rows(qini, names, out),
        uplift_at=[
            UpliftAtRow(
                name=w.plain("uplift.at.row", share=_share(row.get("share"), out)),
                model=out.signed_points(row.get("model")),
                risk=out.signed_points(row.get("risk")),
            )
            for row in view.get("uplift_at") or []
        ],
        average_effect=out.signed_points(effect.get("value")),
        budget=[_budget_row(row, out) for row in view.get("budget") or []],
        negative=w.t(
            f"uplift.negative.{outcome}",
            share=w.b(out.rate(view.get("negative_share"))),
        ),
        horizon_days=out.count(view.get("horizon_days")),
        footer=w.t("uplift.footer", name=name, version=version),
        plain=w.plain,
        tick_share=out.fmt.percent,
        tick_count=out.fmt.integer,
    )


def _filename(name: object) -> Markup:
    return Markup('<span class="filename">{}</span>').format(name or NO_VALUE)


def _share(share: float | None, out: Figures) -> str:
    return NO_VALUE if is_missing(share) else out.fmt.percent(share)


def _gate(gate: Mapping[str, Any], model: Mapping[str, Any], risk_list: str, out: Figures) -> Gate:
    w = out.w
    verdict = _choice(gate.get("verdict"), VERDICTS, "gate verdict")
    checks, reasons = [], []
    for row in gate.get("checks") or []:
        check = _choice(row.get("check"), CHECKS, "gate check")
        ok = bool(row.get("ok"))
        figures = {
            "model": _coefficient(row.get("model"), out),
            "other": _coefficient(row.get("other"), out),
            # The bootstrap 95% interval of the model's lead, which beats_random needs above 0.
            "interval": out.interval(row.get("low"), row.get("high"), "number", 3),
            "risk_list": risk_list,
        }
        checks.append(
            Check(ok=ok, text=w.t(f"uplift.check.{check}.{'ok' if ok else 'no'}", **figures))
        )
        if not ok:
            reasons.append(w.t(f"uplift.reason.{check}", **figures))
    because = _join(reasons, out) if reasons else w.t("uplift.reason.unknown")
    setting = Markup("<code>score.selection=uplift</code>")
    if verdict == "passed":
        headline = w.t("uplift.gate.passed.headline")
        detail = w.t("uplift.gate.passed.detail", setting=setting)
    elif verdict == "failed":
        headline = w.t("uplift.gate.failed.headline", reasons=because)
        detail = w.t("uplift.gate.failed.detail", setting=setting)
    else:
        headline = w.t("uplift.gate.forced.headline")
        detail = w.t("uplift.gate.forced.detail", reasons=because)
    alias = gate.get("alias")
    return Gate(
        verdict=verdict,
        headline=headline,
        detail=detail,
        rule=w.t("uplift.gate.rule", risk_list=risk_list),
        checks=checks,
        registry=w.t(
            "uplift.gate.registry",
            name=model.get("name") or NO_VALUE,
            version=model.get("version") or NO_VALUE,
            alias=Markup("<code>{}</code>").format(alias or NO_VALUE),
        ),
    )


def _cards(
    view: Mapping[str, Any], outcome: str, names: Mapping[str, str], out: Figures
) -> list[Card]:
    """The headline figures: the model's Qini coefficient against the other two (called out
    when it is not above both), the campaign's average effect, the gain of a list of a
    tenth of the customers by each ranking, and the share left alone."""
    w = out.w
    qini = view.get("qini") or {}
    effect = (view.get("holdout") or {}).get("average_effect") or {}
    others = [qini.get(key) for key in ("risk", "random") if not is_missing(qini.get(key))]
    model = qini.get("model")
    cards = [
        Card(
            w.plain("uplift.card.qini"),
            _coefficient(model, out),
            w.plain(
                "uplift.card.against",
                risk_name=names["risk"],
                risk=_coefficient(qini.get("risk"), out),
                random=_coefficient(qini.get("random"), out),
            ),
            # Called out when the model ranks no better than one of the others.
            alert=not is_missing(model) and any(model <= other for other in others),
        ),
        Card(
            w.plain("uplift.card.effect"),
            out.signed_points(effect.get("value")),
            w.plain(
                "uplift.card.effect_note",
                rate=w.plain(f"uplift.outcome.{outcome}.rate"),
                interval=out.interval(effect.get("low"), effect.get("high"), "points"),
            ),
        ),
    ]
    budget = list(view.get("budget") or [])
    row = next((r for r in budget if r.get("share") == CARD_SHARE), budget[0] if budget else None)
    if row is not None:
        cards.append(
            Card(
                w.plain(
                    "uplift.card.budget",
                    gain=w.plain(f"uplift.outcome.{outcome}.gain"),
                    share=_share(row.get("share"), out),
                ),
                out.signed_count(row.get("kept_model")),
                w.plain(
                    "uplift.card.against",
                    risk_name=names["risk"],
                    risk=out.signed_count(row.get("kept_risk")),
                    random=out.signed_count(row.get("kept_random")),
                ),
            )
        )
    cards.append(
        Card(
            w.plain("uplift.card.negative"),
            out.rate(view.get("negative_share")),
            w.plain(f"uplift.card.negative_note.{outcome}"),
        )
    )
    return cards


def _holdout(
    view: Mapping[str, Any], source: str, split: str, outcome: str, out: Figures
) -> list[Markup]:
    """What the model learned from and what it was checked on, and the campaign's
    average effect on the customers checked."""
    w = out.w
    train, holdout = view.get("train") or {}, view["holdout"]

    def arms(part: Mapping[str, Any]) -> dict[str, str]:
        return {
            "customers": w.b(out.count(part.get("customers"))),
            "treated": out.count(part.get("treated")),
            "control": out.count(part.get("control")),
        }

    if source == "lists":
        dates = [_date(day, out) for day in train.get("campaigns") or []]
        learned = w.t("uplift.holdout.train.lists", dates=_join(dates, out), **arms(train))
    else:
        learned = w.t("uplift.holdout.train.table", **arms(train))
    if split == "later_campaign":
        checked = w.t(
            "uplift.holdout.later_campaign",
            date=w.b(_date(holdout.get("campaign"), out)),
            **arms(holdout),
        )
    else:
        checked = w.t("uplift.holdout.random", **arms(holdout))
    effect = holdout.get("average_effect") or {}
    return [
        learned,
        checked,
        w.t(
            "uplift.holdout.effect",
            rate=w.plain(f"uplift.outcome.{outcome}.rate"),
            value=w.b(out.signed_points(effect.get("value"))),
            interval=out.interval(effect.get("low"), effect.get("high"), "points"),
        ),
    ]


def _curves(curves: Mapping[str, Any], names: Mapping[str, str]) -> list[Curve]:
    """The three rankings' curves with ``x`` as a share of the customers checked (the
    largest ``x``: every curve ends with the whole holdout targeted)."""
    found = {key: list(curves.get(key) or []) for key in RANKINGS}
    every = max((float(x) for points in found.values() for x, _ in points), default=0.0)
    if every <= 0:
        return []
    return [
        Curve(
            name=names[key],
            colour=COLOURS[key],
            points=[(float(x) / every, None if is_missing(y) else float(y)) for x, y in found[key]],
            dashed=key == "random",
        )
        for key in RANKINGS
        if found[key]
    ]


def _qini_rows(qini: Mapping[str, Any], names: Mapping[str, str], out: Figures) -> list[QiniRow]:
    rows = [QiniRow(name=names["model"], coefficient=_coefficient(qini.get("model"), out))]
    for key in ("risk", "random"):
        lead = qini.get(f"model_minus_{key}") or {}
        rows.append(
            QiniRow(
                name=names[key],
                coefficient=_coefficient(qini.get(key), out),
                lead=out.signed_number(lead.get("mean"), 3),
                # A missing lead's dash needs no second dash for its interval.
                interval=(
                    ""
                    if is_missing(lead.get("mean"))
                    else out.interval(lead.get("low"), lead.get("high"), "number", 3)
                ),
                verdict=_verdict(lead.get("low"), lead.get("high")),
            )
        )
    return rows


def _best(values: Mapping[str, float | None]) -> frozenset[str]:
    """The rankings with the largest value (all of them on a tie), none when all are
    missing."""
    known = {key: value for key, value in values.items() if not is_missing(value)}
    if not known:
        return frozenset()
    top = max(known.values())
    return frozenset(key for key, value in known.items() if value == top)


def _budget_row(row: Mapping[str, Any], out: Figures) -> BudgetRow:
    kept = {key: row.get(f"kept_{key}") for key in RANKINGS}
    revenue = {key: row.get(f"revenue_{key}") for key in RANKINGS}
    return BudgetRow(
        name=out.w.plain(
            "uplift.budget.row",
            share=_share(row.get("share"), out),
            customers=out.count(row.get("customers")),
        ),
        # Gains, estimated: signed as every difference on the pages (a loss has a minus).
        kept={key: out.signed_count(value) for key, value in kept.items()},
        revenue={key: out.signed_money(value) for key, value in revenue.items()},
        best_kept=_best(kept),
        best_revenue=_best(revenue),
    )
