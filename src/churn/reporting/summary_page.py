"""The marketers' summary of a scoring run: one self-contained HTML page in English or Italian.

The page opens with four headline figures (customers scored, at risk, value at risk, left out
because they opted out of marketing), then explains the risk levels and shows where the risk
is (customer group x risk level), why customers are at risk (the most common reasons), how
the risk is spread across all scored customers, and what to do.

It has inline CSS only, no JavaScript and no external URLs; the charts are inline SVG drawn
here, so the single file can be mailed or attached as it is. Every string taken from the
summary is HTML-escaped. Numbers follow each language's conventions (``€1,234.50``,
``12,345``, ``12.5%`` in English; ``1.234,50 €``, ``12.345``, ``12,5%`` in Italian) with the
formatting helpers of :mod:`churn.scoring.reasons`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

# format_number is reasons' per-language number format; reusing it keeps one convention for the
# reason sentences, the CSV and this page.
from churn.reporting.page_style import BASE_CSS
from churn.scoring.reasons import LOCALES, format_money, format_number

TIERS = ("high", "medium", "low")
TIER_NAMES = {
    "en": {"high": "high", "medium": "medium", "low": "low"},
    "it": {"high": "alto", "medium": "medio", "low": "basso"},
}
TIER_COLOURS = {"high": "#c0392b", "medium": "#e67e22", "low": "#9aa5b1"}
BAR_COLOUR = "#2f6db5"

# Every fixed piece of text on the page, in each language. Placeholders are filled with
# already-escaped, already-formatted values.
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Customers at risk of leaving",
        "subtitle": "Situation on {as_of}. Scores by the churn model {model} (version {version}).",
        "card_scored": "Customers scored",
        "card_scored_note": "customers checked by the model",
        "card_at_risk": "At risk",
        "card_at_risk_note": "{share} of the customers scored",
        "card_value": "Value at risk",
        "card_value_note": "spend we may lose in the next 12 months",
        "card_opt_out": "Left out",
        "card_opt_out_note": (
            "not on the list: they opted out of marketing, or their consent is unclear"
        ),
        "left_out": {
            "opted out": "opted out",
            "opt-out unreadable": "opt-out unreadable",
            "id matches after trimming or case-folding": "id matches only ignoring case or spaces",
        },
        "empty": {
            "top_k_zero": "The list is empty because score.top_k is 0.",
            "budget_too_small": (
                "The list is empty: a budget of {budget} at {cost} per contact buys no contact."
            ),
            "no_one_in_tiers": (
                "The list is empty: no customer's chance of leaving reaches {bound} "
                "(the highest is {highest})."
            ),
            "all_left_out": (
                "The list is empty: all {customers} customers chosen opted out of marketing "
                "or their consent is unclear."
            ),
            "no_one_scored": "The list is empty: no customer was scored.",
        },
        "howto_heading": "How to read this page",
        "tiers_sentence": (
            "Each customer gets a chance of leaving between 0% and 100%: "
            "<b>high risk</b> means {high} or more, <b>medium risk</b> from {medium} "
            "up to {high}, <b>low risk</b> below {medium}."
        ),
        "value_sentence": (
            "<b>Value at risk</b> adds up, over the customers on the list, what each is "
            "expected to spend in the next 12 months multiplied by their chance of leaving."
        ),
        "file_sentence": (
            "The full list, one row per customer with their reasons, is in the file {file}."
        ),
        "segments_heading": "Where the risk is",
        "segments_intro": "At-risk customers by customer group and risk level.",
        "segments_cells": (
            "In the table, each cell shows the number of customers and, below it, "
            "their value at risk."
        ),
        "col_segment": "Customer group",
        "col_customers": "Customers",
        "col_value": "Value at risk",
        "tier_header": "{tier} risk",
        "total": "Total",
        "chart_segments": "Value at risk by customer group",
        "reasons_heading": "Why customers are at risk",
        "reasons_intro": (
            "The most common reasons: how many at-risk customers have each reason among "
            "their top 3, with one real example."
        ),
        "col_rank": "#",
        "col_reason": "Reason (example)",
        "col_share": "Share of at-risk customers",
        "technical_name": "technical name",
        "chart_reasons": "At-risk customers per reason",
        "histogram_heading": "How risk is spread across all customers",
        "histogram_intro": (
            "How many of the customers scored have each chance of leaving. "
            "The bars on the right are the customers most likely to leave."
        ),
        "chart_histogram": "Customers scored by chance of leaving",
        "axis_probability": "Chance of leaving",
        "axis_customers": "Customers",
        "legend_tier": "{tier} risk",
        "actions_heading": "What to do",
        "col_action": "Suggested action",
        "none": "No customers at risk.",
    },
    "it": {
        "title": "Clienti a rischio di abbandono",
        "subtitle": (
            "Situazione al {as_of}. Punteggi del modello di abbandono {model} (versione {version})."
        ),
        "card_scored": "Clienti analizzati",
        "card_scored_note": "clienti valutati dal modello",
        "card_at_risk": "A rischio",
        "card_at_risk_note": "{share} dei clienti analizzati",
        "card_value": "Valore a rischio",
        "card_value_note": "spesa che potremmo perdere nei prossimi 12 mesi",
        "card_opt_out": "Esclusi",
        "card_opt_out_note": (
            "non nella lista: hanno rifiutato il marketing, o il loro consenso non è chiaro"
        ),
        "left_out": {
            "opted out": "hanno rifiutato il marketing",
            "opt-out unreadable": "consenso illeggibile",
            "id matches after trimming or case-folding": (
                "codice uguale solo ignorando maiuscole o spazi"
            ),
        },
        "empty": {
            "top_k_zero": "La lista è vuota perché score.top_k è 0.",
            "budget_too_small": (
                "La lista è vuota: un budget di {budget} a {cost} per contatto non copre "
                "alcun contatto."
            ),
            "no_one_in_tiers": (
                "La lista è vuota: nessun cliente ha una probabilità di abbandono di almeno "
                "{bound} (la più alta è {highest})."
            ),
            "all_left_out": (
                "La lista è vuota: tutti i {customers} clienti scelti hanno rifiutato il "
                "marketing o il loro consenso non è chiaro."
            ),
            "no_one_scored": "La lista è vuota: nessun cliente è stato valutato.",
        },
        "howto_heading": "Come leggere questa pagina",
        "tiers_sentence": (
            "Ogni cliente riceve una probabilità di abbandono tra 0% e 100%: "
            "<b>rischio alto</b> significa {high} o più, <b>rischio medio</b> da {medium} "
            "fino a {high}, <b>rischio basso</b> sotto {medium}."
        ),
        "value_sentence": (
            "Il <b>valore a rischio</b> somma, sui clienti della lista, la spesa prevista di "
            "ciascuno nei prossimi 12 mesi moltiplicata per la sua probabilità di abbandono."
        ),
        "file_sentence": (
            "La lista completa, una riga per cliente con i suoi motivi, è nel file {file}."
        ),
        "segments_heading": "Dove si trova il rischio",
        "segments_intro": "Clienti a rischio per gruppo di clienti e livello di rischio.",
        "segments_cells": (
            "Nella tabella, ogni cella mostra il numero di clienti e, sotto, "
            "il loro valore a rischio."
        ),
        "col_segment": "Gruppo di clienti",
        "col_customers": "Clienti",
        "col_value": "Valore a rischio",
        "tier_header": "rischio {tier}",
        "total": "Totale",
        "chart_segments": "Valore a rischio per gruppo di clienti",
        "reasons_heading": "Perché i clienti sono a rischio",
        "reasons_intro": (
            "I motivi più frequenti: quanti clienti a rischio hanno ciascun motivo tra i loro "
            "3 principali, con un esempio reale."
        ),
        "col_rank": "#",
        "col_reason": "Motivo (esempio)",
        "col_share": "Quota dei clienti a rischio",
        "technical_name": "nome tecnico",
        "chart_reasons": "Clienti a rischio per motivo",
        "histogram_heading": "Come si distribuisce il rischio su tutti i clienti",
        "histogram_intro": (
            "Quanti clienti analizzati hanno ciascuna probabilità di abbandono. "
            "Le barre a destra sono i clienti più propensi ad andarsene."
        ),
        "chart_histogram": "Clienti analizzati per probabilità di abbandono",
        "axis_probability": "Probabilità di abbandono",
        "axis_customers": "Clienti",
        "legend_tier": "rischio {tier}",
        "actions_heading": "Cosa fare",
        "col_action": "Azione suggerita",
        "none": "Nessun cliente a rischio.",
    },
}

CSS = (
    BASE_CSS
    + """tr.total td, td.total { font-weight: 600; background: #f8fafc; }
td .money { display: block; font-size: 0.85rem; font-weight: 400; color: #52606d; }
td.empty { color: #9aa5b1; }
.tech { display: block; color: #7b8794; font-size: 0.8rem; }
.tier { display: inline-block; width: 0.7rem; height: 0.7rem; border-radius: 2px;
        margin-right: 0.35rem; vertical-align: baseline; }
.file { margin-top: 2rem; padding: 0.8rem 1rem; border-left: 4px solid #2f6db5;
        background: #f1f6fc; }
"""
)


def render_summary(summary: Mapping[str, Any]) -> str:
    """Render the marketers' summary of a scoring run as one self-contained HTML page.

    Parameters
    ----------
    summary : mapping
        Every key is required:

        - ``as_of`` (str date), ``locale`` (``"en"`` or ``"it"``), ``currency`` (ISO code,
          for example ``"EUR"``), ``model``: ``name`` and ``version`` (str).
        - ``totals``: ``scored``, ``at_risk``, ``suppressed_opt_out`` (int customers, with
          ``suppressed_by_reason``: reason -> count, optional) and
          ``value_at_risk`` (float money: over the at-risk list, churn probability times
          expected spend in the next year).
        - ``by_segment_tier``: list of ``segment`` (str, display name in ``locale``),
          ``tier`` (``"high"``, ``"medium"`` or ``"low"``), ``customers`` (int) and
          ``value_at_risk`` (float), for the at-risk list.
        - ``top_reasons``: list of ``feature`` (str), ``example`` (str, a sentence in
          ``locale``) and ``customers`` (int at-risk customers with the feature among
          their top 3 reasons), most common first.
        - ``probability_histogram``: ``edges`` (11 floats from 0 to 1) and ``counts``
          (10 ints) of the churn probabilities of all scored customers.
        - ``tiers``: lower thresholds ``high`` and ``medium`` (churn probability, 0-1).
        - ``actions``: list of ``segment`` and ``action`` (str, in ``locale``).
        - ``files``: ``csv`` (str), the file name of the full at-risk list.
        - ``empty_reason`` (optional): why the list is empty, from
          :func:`churn.scoring.selection.empty_list_reason`; the page says it in a sentence.

    Returns
    -------
    str
        The HTML page: inline CSS and SVG, no JavaScript, no external URLs.

    Raises
    ------
    ValueError
        If ``locale`` is not ``"en"`` or ``"it"``, a tier is unknown, or the histogram
        does not have one more edge than counts.
    """
    locale = summary["locale"]
    if locale not in LOCALES:
        raise ValueError(f"locale must be one of {list(LOCALES)}, got {locale!r}")
    text = TEXT[locale]
    currency = summary["currency"]
    model = summary["model"]
    subtitle = text["subtitle"].format(
        as_of=escape(str(summary["as_of"])),
        model=escape(str(model["name"])),
        version=escape(str(model["version"])),
    )
    body = [
        f"<h1>{text['title']}</h1>",
        f'<p class="subtitle">{subtitle}</p>',
        _cards(summary["totals"], locale, currency),
        _empty_notice(summary.get("empty_reason"), locale, currency),
        _how_to_read(summary["tiers"], summary["files"]["csv"], locale),
        _segments(summary["by_segment_tier"], locale, currency),
        _reasons(summary["top_reasons"], summary["totals"]["at_risk"], locale),
        _histogram(summary["probability_histogram"], summary["tiers"], locale),
        _actions(summary["actions"], locale),
    ]
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{locale}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{text['title']} – {escape(str(summary['as_of']))}</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def write_summary(summary: Mapping[str, Any], path: Path) -> Path:
    """Render the summary (see :func:`render_summary`) and write it to ``path`` as UTF-8."""
    path.write_text(render_summary(summary), encoding="utf-8")
    return path


# --- formats: each returns escaped HTML text ------------------------------------------------


def _integer(value: int, locale: str) -> str:
    return format_number(value, 0, locale)


def _percent(share: float, locale: str) -> str:
    """A share 0-1 as a percentage with one decimal: ``12.5%`` / ``12,5%``."""
    return f"{format_number(100 * share, 1, locale)}%"


def _money(value: float, locale: str, currency: str) -> str:
    # The currency code comes from the input; an unknown one is printed as given.
    return escape(format_money(value, locale, currency))


def _tier_name(tier: str, locale: str) -> str:
    if tier not in TIER_NAMES[locale]:
        raise ValueError(f"tier must be one of {list(TIERS)}, got {tier!r}")
    return TIER_NAMES[locale][tier]


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


# --- sections ---------------------------------------------------------------------------------


def _cards(totals: Mapping[str, Any], locale: str, currency: str) -> str:
    text = TEXT[locale]
    scored, at_risk = totals["scored"], totals["at_risk"]
    share = _percent(at_risk / scored, locale) if scored else _percent(0, locale)
    cards = [
        ("", text["card_scored"], _integer(scored, locale), text["card_scored_note"]),
        (
            " alert",
            text["card_at_risk"],
            _integer(at_risk, locale),
            text["card_at_risk_note"].format(share=share),
        ),
        (
            " alert",
            text["card_value"],
            _money(totals["value_at_risk"], locale, currency),
            text["card_value_note"],
        ),
        (
            "",
            text["card_opt_out"],
            _integer(totals["suppressed_opt_out"], locale),
            _left_out_note(totals.get("suppressed_by_reason") or {}, locale),
        ),
    ]
    items = "\n".join(
        f'<div class="card{extra}"><div class="label">{label}</div>'
        f'<div class="figure">{figure}</div><div class="note">{note}</div></div>'
        for extra, label, figure, note in cards
    )
    return f'<section class="cards">\n{items}\n</section>'


def _left_out_note(by_reason: Mapping[str, int], locale: str) -> str:
    """The card's note, with the count of each reason when customers were left out."""
    text = TEXT[locale]
    parts = [
        f"{escape(text['left_out'].get(reason, reason))}: {_integer(n, locale)}"
        for reason, n in sorted(by_reason.items())
        if n
    ]
    return text["card_opt_out_note"] + (f" ({'; '.join(parts)})" if parts else "")


def _empty_notice(reason: Mapping[str, Any] | None, locale: str, currency: str) -> str:
    """Why the at-risk list is empty (see :func:`churn.scoring.selection.empty_list_reason`)."""
    if not reason:
        return ""
    template = TEXT[locale]["empty"].get(str(reason.get("code")))
    if template is None:
        return ""
    bound, highest = reason.get("lowest_listed_bound"), reason.get("highest_probability")
    sentence = template.format(
        budget=_money(float(reason.get("budget") or 0), locale, currency),
        cost=_money(float(reason.get("cost_per_contact") or 0), locale, currency),
        bound=_percent(float(bound), locale) if bound is not None else "",
        highest=_percent(float(highest), locale) if highest is not None else "",
        customers=_integer(int(reason.get("customers") or 0), locale),
    )
    return f'<p class="file notice">{sentence}</p>'


def _how_to_read(tiers: Mapping[str, float], csv_name: str, locale: str) -> str:
    text = TEXT[locale]
    tiers_sentence = text["tiers_sentence"].format(
        high=_percent(tiers["high"], locale), medium=_percent(tiers["medium"], locale)
    )
    file_sentence = text["file_sentence"].format(file=f"<b>{escape(str(csv_name))}</b>")
    return (
        f"<section>\n<h2>{text['howto_heading']}</h2>\n<p>{tiers_sentence}</p>\n"
        f"<p>{text['value_sentence']}</p>\n"
        f'<p class="file">{file_sentence}</p>\n</section>'
    )


def _segments(rows: Sequence[Mapping[str, Any]], locale: str, currency: str) -> str:
    text = TEXT[locale]
    customers: dict[tuple[str, str], int] = {}
    value: dict[tuple[str, str], float] = {}
    segments: list[str] = []
    for row in rows:
        segment, tier = str(row["segment"]), row["tier"]
        _tier_name(tier, locale)
        if segment not in segments:
            segments.append(segment)
        key = (segment, tier)
        customers[key] = customers.get(key, 0) + int(row["customers"])
        value[key] = value.get(key, 0.0) + float(row["value_at_risk"])

    def seg_total(mapping: Mapping[tuple[str, str], float], segment: str) -> float:
        return sum(mapping.get((segment, t), 0) for t in TIERS)

    def tier_total(mapping: Mapping[tuple[str, str], float], tier: str) -> float:
        return sum(mapping.get((s, tier), 0) for s in segments)

    # Most valuable groups first: that is where a campaign pays most.
    segments.sort(key=lambda s: -seg_total(value, s))

    def tier_th(tier: str) -> str:
        name = _capitalise(text["tier_header"].format(tier=_tier_name(tier, locale)))
        swatch = f'<span class="tier" style="background:{TIER_COLOURS[tier]}"></span>'
        return f'<th class="num">{swatch}{name}</th>'

    head = (
        f"<tr><th>{text['col_segment']}</th>"
        + "".join(tier_th(t) for t in TIERS)
        + f'<th class="num">{text["total"]}</th></tr>'
    )

    def cell(n: float, v: float, extra: str = "") -> str:
        # Customers above their value at risk keeps the table within the page width.
        if not n:
            return f'<td class="num empty{extra}">–</td>'
        return (
            f'<td class="num{extra}">{_integer(int(n), locale)}'
            f'<span class="money">{_money(v, locale, currency)}</span></td>'
        )

    body_rows = [
        f"<tr><td>{escape(s)}</td>"
        + "".join(cell(customers.get((s, t), 0), value.get((s, t), 0.0)) for t in TIERS)
        + cell(seg_total(customers, s), seg_total(value, s), " total")
        + "</tr>"
        for s in segments
    ]
    body_rows.append(
        f'<tr class="total"><td>{text["total"]}</td>'
        + "".join(cell(tier_total(customers, t), tier_total(value, t)) for t in TIERS)
        + cell(sum(customers.values()), sum(value.values()))
        + "</tr>"
    )
    table = (
        f'<table class="segments">\n<thead>\n{head}\n</thead>\n<tbody>\n'
        + "\n".join(body_rows)
        + "\n</tbody>\n</table>"
    )
    chart = _hbar_svg(
        "chart-segments",
        text["chart_segments"],
        [
            (escape(s), seg_total(value, s), _money(seg_total(value, s), locale, currency))
            for s in segments
        ],
        empty=text["none"],
    )
    return (
        f"<section>\n<h2>{text['segments_heading']}</h2>\n"
        f'<p class="intro">{text["segments_intro"]}</p>\n{chart}\n'
        f'<p class="intro">{text["segments_cells"]}</p>\n{table}\n</section>'
    )


def _reasons(rows: Sequence[Mapping[str, Any]], at_risk: int, locale: str) -> str:
    text = TEXT[locale]
    bars = [
        (
            f"{rank}. " + escape(_shorten(str(row["example"]), 42)),
            float(row["customers"]),
            _integer(int(row["customers"]), locale),
        )
        for rank, row in enumerate(rows, start=1)
    ]
    chart = _hbar_svg("chart-reasons", text["chart_reasons"], bars, empty=text["none"])
    head = (
        f'<tr><th class="num">{text["col_rank"]}</th><th>{text["col_reason"]}</th>'
        f'<th class="num">{text["col_customers"]}</th>'
        f'<th class="num">{text["col_share"]}</th></tr>'
    )
    body = "\n".join(
        f'<tr><td class="num">{rank}</td><td>{escape(str(row["example"]))}'
        f'<span class="tech">{text["technical_name"]}: {escape(str(row["feature"]))}</span></td>'
        f'<td class="num">{_integer(int(row["customers"]), locale)}</td>'
        f'<td class="num">{_percent(row["customers"] / at_risk if at_risk else 0, locale)}</td>'
        "</tr>"
        for rank, row in enumerate(rows, start=1)
    )
    table = f'<table class="reasons">\n<thead>{head}</thead>\n<tbody>\n{body}\n</tbody>\n</table>'
    return (
        f"<section>\n<h2>{text['reasons_heading']}</h2>\n"
        f'<p class="intro">{text["reasons_intro"]}</p>\n{chart}\n{table}\n</section>'
    )


def _histogram(
    histogram: Mapping[str, Sequence[float]], tiers: Mapping[str, float], locale: str
) -> str:
    text = TEXT[locale]
    chart = _histogram_svg(histogram["edges"], histogram["counts"], tiers, locale)
    return (
        f"<section>\n<h2>{text['histogram_heading']}</h2>\n"
        f'<p class="intro">{text["histogram_intro"]}</p>\n{chart}\n</section>'
    )


def _actions(rows: Sequence[Mapping[str, Any]], locale: str) -> str:
    text = TEXT[locale]
    body = "\n".join(
        f"<tr><td>{escape(str(row['segment']))}</td><td>{escape(str(row['action']))}</td></tr>"
        for row in rows
    )
    return (
        f"<section>\n<h2>{text['actions_heading']}</h2>\n"
        f'<table class="actions">\n<thead><tr><th>{text["col_segment"]}</th>'
        f"<th>{text['col_action']}</th></tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>\n"
        "</section>"
    )


# --- charts: inline SVG -------------------------------------------------------------------------


def _shorten(label: str, limit: int) -> str:
    """``label`` cut to ``limit`` characters with an ellipsis; SVG text does not wrap."""
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def _hbar_svg(chart_id: str, title: str, bars: Sequence[tuple[str, float, str]], empty: str) -> str:
    """Horizontal bars from ``(escaped label, value, escaped value text)``, in the given order."""
    width, label_w, value_w, row_h, top = 920, 330, 110, 30, 34
    bar_w = width - label_w - value_w
    height = top + max(len(bars), 1) * row_h + 8
    biggest = max((v for _, v, _ in bars), default=0) or 1
    parts = [
        f'<svg id="{chart_id}" role="img" aria-label="{title}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{title}</title>",
        f'<text class="title" x="0" y="18">{title}</text>',
    ]
    if not bars:
        parts.append(f'<text class="muted" x="0" y="{top + 18}">{empty}</text>')
    for i, (label, value, value_text) in enumerate(bars):
        y = top + i * row_h
        length = max(bar_w * value / biggest, 0)
        parts.append(
            f'<text x="{label_w - 10}" y="{y + 19}" text-anchor="end">{label}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 5}" width="{length:.1f}" '
            f'height="{row_h - 10}" rx="3" fill="{BAR_COLOUR}"/>'
            f'<text x="{label_w + length + 8:.1f}" y="{y + 19}">{value_text}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _nice_step(biggest: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about ``ticks`` gridlines."""
    raw = max(biggest / ticks, 1)
    power = 10 ** (len(str(int(raw))) - 1)
    for multiple in (1, 2, 5, 10):
        if multiple * power >= raw:
            return multiple * power
    return 10 * power


def _tier_of(probability: float, tiers: Mapping[str, float]) -> str:
    if probability >= tiers["high"]:
        return "high"
    return "medium" if probability >= tiers["medium"] else "low"


def _histogram_svg(
    edges: Sequence[float], counts: Sequence[int], tiers: Mapping[str, float], locale: str
) -> str:
    """Vertical bars of customers per churn-probability bin, coloured by risk level."""
    if len(edges) != len(counts) + 1:
        raise ValueError(
            f"the histogram needs one more edge than counts, got {len(edges)} and {len(counts)}"
        )
    text = TEXT[locale]
    width, height = 920, 330
    left, right, top, bottom = 70, 20, 60, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    step = _nice_step(max(counts, default=0))
    y_max = step * max(1, -(-max(counts, default=0) // step))

    def x_of(p: float) -> float:
        return left + plot_w * p

    def y_of(n: float) -> float:
        return top + plot_h * (1 - n / y_max)

    title = text["chart_histogram"]
    parts = [
        f'<svg id="chart-histogram" role="img" aria-label="{title}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{title}</title>",
        f'<text class="title" x="0" y="18">{title}</text>',
    ]
    legend_x = 0
    for tier in TIERS:
        name = _capitalise(text["legend_tier"].format(tier=TIER_NAMES[locale][tier]))
        parts.append(
            f'<rect x="{legend_x}" y="30" width="12" height="12" rx="2" '
            f'fill="{TIER_COLOURS[tier]}"/><text x="{legend_x + 18}" y="41">{name}</text>'
        )
        legend_x += 30 + 8 * len(name)
    tick = 0
    while tick <= y_max:
        y = y_of(tick)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e4e7eb"/>'
            f'<text class="muted" x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_integer(int(tick), locale)}</text>"
        )
        tick += step
    for lo, hi, n in zip(edges[:-1], edges[1:], counts, strict=True):
        colour = TIER_COLOURS[_tier_of((lo + hi) / 2, tiers)]
        x0, x1 = x_of(lo), x_of(hi)
        y = y_of(n)
        parts.append(
            f'<rect class="bar" x="{x0 + 2:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 4, 1):.1f}" '
            f'height="{top + plot_h - y:.1f}" fill="{colour}"/>'
            f'<text class="muted" x="{(x0 + x1) / 2:.1f}" y="{y - 5:.1f}" '
            f'text-anchor="middle">{_integer(int(n), locale)}</text>'
        )
    for decile in range(11):
        p = decile / 10
        parts.append(
            f'<text class="muted" x="{x_of(p):.1f}" y="{top + plot_h + 18}" '
            f'text-anchor="middle">{decile * 10}%</text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
        'stroke="#52606d"/>'
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle">'
        f"{text['axis_probability']}</text>"
        f'<text x="16" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 16 {top + plot_h / 2:.1f})">{text["axis_customers"]}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)
