"""The marketers' retention report: one self-contained HTML page in English or Italian.

The page opens with headline figures for the last period (customers, retention rate,
repeat purchase rate, revenue, and the latest scoring run's customers and value at risk when
given), explains the measures in plain words, then shows the retention and churn rates over
time, the repeat purchase rate and the revenue per period, a cohort table (share of each
first-order month's customers buying again k months later), the retention per customer
group when given, and every figure per period in a table.

Like :mod:`churn.reporting.summary_page` it has inline CSS only, no JavaScript and no external URLs;
the charts are inline SVG drawn here, so the single file can be mailed as it is. Every string
taken from the report is HTML-escaped, and numbers follow each language's conventions with the
formatting helpers of :mod:`churn.scoring.reasons`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from churn.reporting.page_style import BASE_CSS
from churn.scoring.reasons import LOCALES, format_money, format_number

PERIODS = ("month", "quarter")
RETENTION_COLOUR = "#2f6db5"
CHURN_COLOUR = "#c0392b"
REPEAT_COLOUR = "#16a085"
BAR_COLOUR = "#2f6db5"
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

# Every fixed piece of text on the page, in each language. Placeholders are filled with
# already-escaped, already-formatted values.
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Customer retention",
        "subtitle": "Figures by {period} from {first} to {last}. Source: {source}.",
        "partial_note": "The last {period} ({label}) is left out of this page: the data ends on "
        "{last}, before that {period} does, so its figures would look like a collapse. The CSV "
        "files include it.",
        "month": "month",
        "quarter": "quarter",
        "month_names": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
        "month_label": "{month} {year}",
        "quarter_label": "Q{quarter} {year}",
        "card_active": "Customers",
        "card_active_note": "{label}: bought at least once, {new} of them for the first time",
        "card_retention": "Retention rate",
        "card_retention_note": "{label}: customers of the previous {period} who bought again",
        "card_repeat": "Repeat purchase rate",
        "card_repeat_note": "{label}: customers with more than one order",
        "card_revenue": "Revenue",
        "card_revenue_note": "{label}: all orders",
        "card_at_risk": "At risk of leaving",
        "card_at_risk_note": "{share} of the {scored} customers scored on {as_of}",
        "card_value": "Value at risk",
        "card_value_note": "spend we may lose in the next 12 months (scoring of {as_of})",
        "howto_heading": "How to read this page",
        "def_retention": (
            "<b>Retention rate</b>: of the customers who bought in the previous {period}, "
            "the share who bought again in this {period}."
        ),
        "def_churn": (
            "<b>Churn rate</b>: the share who did not buy again, that is 100% minus the "
            "retention rate."
        ),
        "def_repeat": (
            "<b>Repeat purchase rate</b>: of the customers who bought in a {period}, the "
            "share who placed more than one order in it."
        ),
        "def_cohort": (
            "<b>Cohort</b>: the customers whose first order was in the same month. In the "
            "cohort table, the cell in column k is the share of that cohort who bought in "
            "the k-th month after their first order; darker cells mean a larger share."
        ),
        "def_missing": "A dash (–) means there is no figure, for example no previous {period}.",
        "trend_heading": "Retention and churn over time",
        "trend_intro": (
            "Each {period}, the share of the previous {period}'s customers who came back "
            "(retention) and who did not (churn)."
        ),
        "chart_trend": "Retention and churn rate by {period}",
        "legend_retention": "Retention rate",
        "legend_churn": "Churn rate",
        "repeat_heading": "Repeat purchases",
        "repeat_intro": "The share of each {period}'s customers with more than one order.",
        "chart_repeat": "Repeat purchase rate by {period}",
        "legend_repeat": "Repeat purchase rate",
        "revenue_heading": "Revenue",
        "revenue_intro": (
            "Revenue by {period}. Point at a bar to see its amount; every figure is also in "
            "the table at the end of the page."
        ),
        "chart_revenue": "Revenue by {period}",
        "cohorts_heading": "Cohorts: who keeps buying after the first order",
        "cohorts_intro": (
            "One row per month of first order. Month 0 is the month of the first order itself, "
            "so it is always 100%."
        ),
        "col_cohort": "First order",
        "col_cohort_size": "Customers",
        "col_months_since": "Share buying again (%), by months since the first order",
        "cell_title": "{cohort}, month {month}: {rate} of {customers} customers",
        "segments_heading": "Retention by customer group",
        "segments_intro": "The retention rate by {period} for each customer group.",
        "chart_segments": "Retention rate by customer group",
        "table_heading": "Figures by {period}",
        "col_active": "Customers",
        "col_new": "New customers",
        "col_retained": "Returning customers",
        "col_retention": "Retention rate",
        "col_churn": "Churn rate",
        "col_repeat": "Repeat purchase rate",
        "col_revenue": "Revenue",
        "no_data": "No data.",
    },
    "it": {
        "title": "Fidelizzazione dei clienti",
        "subtitle": "Dati per {period} dal {first} al {last}. Fonte: {source}.",
        "partial_note": "L'ultimo periodo ({label}) non è in questa pagina: i dati finiscono il "
        "{last}, prima della sua fine, e i suoi numeri sembrerebbero un crollo. I file CSV lo "
        "includono.",
        "month": "mese",
        "quarter": "trimestre",
        "month_names": "gen feb mar apr mag giu lug ago set ott nov dic",
        "month_label": "{month} {year}",
        "quarter_label": "T{quarter} {year}",
        "card_active": "Clienti",
        "card_active_note": "{label}: hanno acquistato almeno una volta, {new} per la prima volta",
        "card_retention": "Tasso di fidelizzazione",
        "card_retention_note": (
            "{label}: clienti del {period} precedente che hanno acquistato di nuovo"
        ),
        "card_repeat": "Tasso di riacquisto",
        "card_repeat_note": "{label}: clienti con più di un ordine",
        "card_revenue": "Ricavi",
        "card_revenue_note": "{label}: tutti gli ordini",
        "card_at_risk": "A rischio di abbandono",
        "card_at_risk_note": "{share} dei {scored} clienti analizzati il {as_of}",
        "card_value": "Valore a rischio",
        "card_value_note": "spesa che potremmo perdere nei prossimi 12 mesi (analisi del {as_of})",
        "howto_heading": "Come leggere questa pagina",
        "def_retention": (
            "<b>Tasso di fidelizzazione</b>: dei clienti che hanno acquistato nel {period} "
            "precedente, la quota che ha acquistato di nuovo in questo {period}."
        ),
        "def_churn": (
            "<b>Tasso di abbandono</b>: la quota che non ha acquistato di nuovo, cioè 100% "
            "meno il tasso di fidelizzazione."
        ),
        "def_repeat": (
            "<b>Tasso di riacquisto</b>: dei clienti che hanno acquistato in un {period}, la "
            "quota che vi ha fatto più di un ordine."
        ),
        "def_cohort": (
            "<b>Coorte</b>: i clienti il cui primo ordine è dello stesso mese. Nella tabella "
            "delle coorti, la cella nella colonna k è la quota della coorte che ha acquistato "
            "nel k-esimo mese dopo il primo ordine; le celle più scure indicano una quota "
            "maggiore."
        ),
        "def_missing": (
            "Un trattino (–) indica che il dato manca, ad esempio perché non c'è un {period} "
            "precedente."
        ),
        "trend_heading": "Fidelizzazione e abbandono nel tempo",
        "trend_intro": (
            "Per ogni {period}, la quota dei clienti del {period} precedente che sono tornati "
            "(fidelizzazione) e che non sono tornati (abbandono)."
        ),
        "chart_trend": "Tasso di fidelizzazione e di abbandono per {period}",
        "legend_retention": "Tasso di fidelizzazione",
        "legend_churn": "Tasso di abbandono",
        "repeat_heading": "Riacquisti",
        "repeat_intro": "La quota dei clienti di ogni {period} con più di un ordine.",
        "chart_repeat": "Tasso di riacquisto per {period}",
        "legend_repeat": "Tasso di riacquisto",
        "revenue_heading": "Ricavi",
        "revenue_intro": (
            "Ricavi per {period}. Puntare una barra per vederne l'importo; tutti i dati sono "
            "anche nella tabella in fondo alla pagina."
        ),
        "chart_revenue": "Ricavi per {period}",
        "cohorts_heading": "Coorti: chi continua ad acquistare dopo il primo ordine",
        "cohorts_intro": (
            "Una riga per mese del primo ordine. Il mese 0 è il mese del primo ordine stesso, "
            "quindi vale sempre 100%."
        ),
        "col_cohort": "Primo ordine",
        "col_cohort_size": "Clienti",
        "col_months_since": "Quota che acquista di nuovo (%), per mesi dal primo ordine",
        "cell_title": "{cohort}, mese {month}: {rate} di {customers} clienti",
        "segments_heading": "Fidelizzazione per gruppo di clienti",
        "segments_intro": "Il tasso di fidelizzazione per {period} di ogni gruppo di clienti.",
        "chart_segments": "Tasso di fidelizzazione per gruppo di clienti",
        "table_heading": "Dati per {period}",
        "col_active": "Clienti",
        "col_new": "Nuovi clienti",
        "col_retained": "Clienti di ritorno",
        "col_retention": "Tasso di fidelizzazione",
        "col_churn": "Tasso di abbandono",
        "col_repeat": "Tasso di riacquisto",
        "col_revenue": "Ricavi",
        "no_data": "Nessun dato.",
    },
}

CSS = (
    BASE_CSS
    + """ul.definitions { padding-left: 1.2rem; margin: 0.4rem 0; }
ul.definitions li { margin: 0.25rem 0; }
.scroll { overflow-x: auto; }
table.cohorts { width: auto; font-size: 0.68rem; }
table.cohorts th, table.cohorts td { padding: 0.15rem 0.25rem; border-bottom: 1px solid #fff;
                                     white-space: nowrap; }
table.cohorts td.cell { text-align: center; font-variant-numeric: tabular-nums;
                        min-width: 1.6rem; padding: 0.15rem 0.12rem;
                        border-left: 1px solid #fff; }
table.cohorts td.dark { color: #fff; }
table.cohorts th.month { text-align: center; }
table.periods { font-size: 0.88rem; }
table.periods th { vertical-align: bottom; white-space: normal; }
table.periods td:first-child { white-space: nowrap; }
svg .axis { font-size: 11px; fill: #52606d; }
"""
)


def _partial_note(report: Mapping[str, Any], text: Mapping[str, str]) -> str:
    label = report.get("partial_period")
    if not label:
        return ""
    note = text["partial_note"].format(
        period=text[report["period"]],
        label=escape(str(label)),
        last=escape(str(report["last_date"])),
    )
    return f'<p class="note">{note}</p>'


def render_retention_report(report: Mapping[str, Any]) -> str:
    """Render the retention report as one self-contained HTML page.

    Parameters
    ----------
    report : mapping
        Every key is required:

        - ``locale`` (``"en"`` or ``"it"``), ``currency`` (ISO code, for example ``"EUR"``),
          ``source`` (str, where the data comes from), ``period`` (``"month"`` or
          ``"quarter"``), ``first_date`` and ``last_date`` (str).
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
        - ``at_risk``: None, or the latest scoring run: ``as_of`` (str), ``customers_scored``
          and ``at_risk`` (int), ``value_at_risk`` (float money).

    Returns
    -------
    str
        The HTML page: inline CSS and SVG, no JavaScript, no external URLs.

    Raises
    ------
    ValueError
        If ``locale`` is not ``"en"`` or ``"it"`` or ``period`` is not ``"month"`` or
        ``"quarter"``.
    """
    locale = report["locale"]
    if locale not in LOCALES:
        raise ValueError(f"locale must be one of {list(LOCALES)}, got {locale!r}")
    period = report["period"]
    if period not in PERIODS:
        raise ValueError(f"period must be one of {list(PERIODS)}, got {period!r}")
    text = TEXT[locale]
    currency = report["currency"]
    periods = list(report["periods"])
    subtitle = text["subtitle"].format(
        period=text[period],
        first=escape(str(report["first_date"])),
        last=escape(str(report["last_date"])),
        source=escape(str(report["source"])),
    )
    body = [
        f"<h1>{text['title']}</h1>",
        f'<p class="subtitle">{subtitle}</p>',
        _partial_note(report, text),
        _cards(periods, report["at_risk"], period, locale, currency),
        _how_to_read(period, locale),
        _trend(periods, period, locale),
        _repeat(periods, period, locale),
        _revenue(periods, period, locale, currency),
        _cohorts(report["cohorts"], locale),
        _segments(report["segments"], periods, period, locale),
        _period_table(periods, period, locale, currency),
    ]
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{locale}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{text['title']} – {escape(str(report['last_date']))}</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )


def write_retention_report(report: Mapping[str, Any], path: Path) -> Path:
    """Render the report (see :func:`render_retention_report`) and write it to ``path`` as
    UTF-8."""
    path.write_text(render_retention_report(report), encoding="utf-8")
    return path


# --- formats: each returns escaped HTML text ------------------------------------------------


def _integer(value: int, locale: str) -> str:
    return format_number(value, 0, locale)


def _percent(share: float | None, locale: str) -> str:
    """A share 0-1 as a percentage with one decimal (``12.5%`` / ``12,5%``), a dash if None."""
    if share is None:
        return NO_VALUE
    return f"{format_number(100 * share, 1, locale)}%"


def _money(value: float, locale: str, currency: str) -> str:
    # The currency code comes from the input; an unknown one is printed as given.
    return escape(format_money(value, locale, currency))


def _money_whole(value: float, locale: str, currency: str) -> str:
    """Money without the cents, for the round amounts of a chart's axis."""
    return re.sub(r"[.,]\d\d(?!\d)", "", _money(round(value), locale, currency), count=1)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-Q([1-4])")


def _period_label(period: str, locale: str) -> str:
    """``"2024-03"`` as ``Mar 2024`` / ``mar 2024``, ``"2024-Q1"`` as ``Q1 2024`` /
    ``T1 2024``; anything else as given, escaped."""
    text = TEXT[locale]
    period = str(period)
    if (match := _MONTH.fullmatch(period)) and 1 <= int(match[2]) <= 12:
        month = text["month_names"].split()[int(match[2]) - 1]
        return text["month_label"].format(month=month, year=match[1])
    if match := _QUARTER.fullmatch(period):
        return text["quarter_label"].format(quarter=match[2], year=match[1])
    return escape(period)


# --- sections ---------------------------------------------------------------------------------


def _card(label: str, figure: str, note: str, alert: bool = False) -> str:
    extra = " alert" if alert else ""
    return (
        f'<div class="card{extra}"><div class="label">{label}</div>'
        f'<div class="figure">{figure}</div><div class="note">{note}</div></div>'
    )


def _last_with(periods: Sequence[Mapping[str, Any]], key: str) -> Mapping[str, Any] | None:
    """The last period whose ``key`` is not None: the last complete one for a rate."""
    return next((row for row in reversed(periods) if row[key] is not None), None)


def _cards(
    periods: Sequence[Mapping[str, Any]],
    at_risk: Mapping[str, Any] | None,
    period: str,
    locale: str,
    currency: str,
) -> str:
    text = TEXT[locale]
    cards = []
    if periods:
        last = periods[-1]
        label = _period_label(last["period"], locale)
        cards.append(
            _card(
                text["card_active"],
                _integer(last["active"], locale),
                text["card_active_note"].format(
                    label=label, new=_integer(last["new_customers"], locale)
                ),
            )
        )
    for key, name, note in (
        ("retention_rate", "card_retention", "card_retention_note"),
        ("repeat_purchase_rate", "card_repeat", "card_repeat_note"),
    ):
        row = _last_with(periods, key)
        if row is not None:
            label = _period_label(row["period"], locale)
            cards.append(
                _card(
                    text[name],
                    _percent(row[key], locale),
                    text[note].format(label=label, period=text[period]),
                )
            )
    if periods:
        cards.append(
            _card(
                text["card_revenue"],
                _money(periods[-1]["revenue"], locale, currency),
                text["card_revenue_note"].format(
                    label=_period_label(periods[-1]["period"], locale)
                ),
            )
        )
    if at_risk is not None:
        scored, count = at_risk["customers_scored"], at_risk["at_risk"]
        as_of = escape(str(at_risk["as_of"]))
        share = _percent(count / scored if scored else None, locale)
        cards.append(
            _card(
                text["card_at_risk"],
                _integer(count, locale),
                text["card_at_risk_note"].format(
                    share=share, scored=_integer(scored, locale), as_of=as_of
                ),
                alert=True,
            )
        )
        cards.append(
            _card(
                text["card_value"],
                _money(at_risk["value_at_risk"], locale, currency),
                text["card_value_note"].format(as_of=as_of),
                alert=True,
            )
        )
    if not cards:
        return ""
    return '<section class="cards">\n' + "\n".join(cards) + "\n</section>"


def _how_to_read(period: str, locale: str) -> str:
    text = TEXT[locale]
    items = "\n".join(
        f"<li>{text[key].format(period=text[period])}</li>"
        for key in ("def_retention", "def_churn", "def_repeat", "def_cohort", "def_missing")
    )
    return (
        f"<section>\n<h2>{text['howto_heading']}</h2>\n"
        f'<ul class="definitions">\n{items}\n</ul>\n</section>'
    )


def _section(heading: str, intro: str, content: str) -> str:
    return f'<section>\n<h2>{heading}</h2>\n<p class="intro">{intro}</p>\n{content}\n</section>'


def _trend(periods: Sequence[Mapping[str, Any]], period: str, locale: str) -> str:
    text = TEXT[locale]
    chart = _line_svg(
        "chart-trend",
        text["chart_trend"].format(period=text[period]),
        [_period_label(row["period"], locale) for row in periods],
        [
            (
                text["legend_retention"],
                RETENTION_COLOUR,
                [row["retention_rate"] for row in periods],
            ),
            (text["legend_churn"], CHURN_COLOUR, [row["churn_rate"] for row in periods]),
        ],
        locale,
        y_max=1.0,
    )
    return _section(text["trend_heading"], text["trend_intro"].format(period=text[period]), chart)


def _repeat(periods: Sequence[Mapping[str, Any]], period: str, locale: str) -> str:
    text = TEXT[locale]
    chart = _line_svg(
        "chart-repeat",
        text["chart_repeat"].format(period=text[period]),
        [_period_label(row["period"], locale) for row in periods],
        [
            (
                text["legend_repeat"],
                REPEAT_COLOUR,
                [row["repeat_purchase_rate"] for row in periods],
            )
        ],
        locale,
    )
    return _section(text["repeat_heading"], text["repeat_intro"].format(period=text[period]), chart)


def _revenue(periods: Sequence[Mapping[str, Any]], period: str, locale: str, currency: str) -> str:
    text = TEXT[locale]
    chart = _bar_svg(
        "chart-revenue",
        text["chart_revenue"].format(period=text[period]),
        [_period_label(row["period"], locale) for row in periods],
        [float(row["revenue"]) for row in periods],
        lambda value: _money(value, locale, currency),
        lambda value: _money_whole(value, locale, currency),
        locale,
    )
    return _section(
        text["revenue_heading"], text["revenue_intro"].format(period=text[period]), chart
    )


def _cohorts(rows: Sequence[Mapping[str, Any]], locale: str) -> str:
    text = TEXT[locale]
    rates: dict[tuple[str, int], float] = {}
    sizes: dict[str, tuple[int, int]] = {}
    for row in rows:
        cohort, month = str(row["cohort"]), int(row["months_since_first"])
        rates[cohort, month] = float(row["retention_rate"])
        # The size is the customers of the cohort's earliest month, its month 0.
        if cohort not in sizes or month < sizes[cohort][0]:
            sizes[cohort] = (month, int(row["customers"]))
    if not rows:
        return _section(text["cohorts_heading"], text["cohorts_intro"], f"<p>{text['no_data']}</p>")
    cohorts = sorted(sizes)
    months = range(max(month for _, month in rates) + 1)
    # Month 0 is 100% by construction; the shades are scaled to the later months so their
    # differences show.
    later = [rate for (_, month), rate in rates.items() if month > 0]
    scale = max(later, default=1.0) or 1.0

    def cell(cohort: str, month: int) -> str:
        rate = rates.get((cohort, month))
        if rate is None:
            return '<td class="cell empty"></td>'
        intensity = min(max(rate / scale, 0.0), 1.0)
        opacity = 0.06 + 0.84 * intensity
        dark = " dark" if opacity > 0.55 else ""
        title = text["cell_title"].format(
            cohort=_period_label(cohort, locale),
            month=month,
            rate=_percent(rate, locale),
            customers=_integer(sizes[cohort][1], locale),
        )
        # The header says the cells are percentages: without the sign, 24 months fit the page.
        return (
            f'<td class="cell{dark}" title="{title}" '
            f'style="background:rgba({HEATMAP_RGB},{opacity:.2f})">'
            f"{format_number(100 * rate, 1, locale)}</td>"
        )

    head = (
        f'<tr><th rowspan="2">{text["col_cohort"]}</th>'
        f'<th class="num" rowspan="2">{text["col_cohort_size"]}</th>'
        f'<th colspan="{len(months)}">{text["col_months_since"]}</th></tr>\n<tr>'
        + "".join(f'<th class="month">{month}</th>' for month in months)
        + "</tr>"
    )
    body = "\n".join(
        f'<tr class="cohort"><th>{_period_label(cohort, locale)}</th>'
        f'<td class="num">{_integer(sizes[cohort][1], locale)}</td>'
        + "".join(cell(cohort, month) for month in months)
        + "</tr>"
        for cohort in cohorts
    )
    table = (
        f'<div class="scroll">\n<table class="cohorts">\n<thead>\n{head}\n</thead>\n'
        f"<tbody>\n{body}\n</tbody>\n</table>\n</div>"
    )
    return _section(text["cohorts_heading"], text["cohorts_intro"], table)


def _segments(
    segments: Sequence[Mapping[str, Any]],
    periods: Sequence[Mapping[str, Any]],
    period: str,
    locale: str,
) -> str:
    if not segments:
        return ""
    text = TEXT[locale]
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
                escape(str(segment["segment"])),
                SEGMENT_COLOURS[i % len(SEGMENT_COLOURS)],
                [by_period.get(key) for key in keys],
            )
        )
    chart = _line_svg(
        "chart-segments",
        text["chart_segments"],
        [_period_label(key, locale) for key in keys],
        series,
        locale,
        height=300,
        end_labels=False,
    )
    return _section(
        text["segments_heading"], text["segments_intro"].format(period=text[period]), chart
    )


def _period_table(
    periods: Sequence[Mapping[str, Any]], period: str, locale: str, currency: str
) -> str:
    text = TEXT[locale]
    columns = ("col_active", "col_new", "col_retained", "col_retention", "col_churn")
    head = (
        f"<tr><th>{_capitalise(text[period])}</th>"
        + "".join(f'<th class="num">{text[key]}</th>' for key in columns)
        + f'<th class="num">{text["col_repeat"]}</th>'
        + f'<th class="num">{text["col_revenue"]}</th></tr>'
    )
    body = "\n".join(
        f"<tr><td>{_period_label(row['period'], locale)}</td>"
        f'<td class="num">{_integer(row["active"], locale)}</td>'
        f'<td class="num">{_integer(row["new_customers"], locale)}</td>'
        f'<td class="num">{_integer(row["retained"], locale)}</td>'
        f'<td class="num">{_percent(row["retention_rate"], locale)}</td>'
        f'<td class="num">{_percent(row["churn_rate"], locale)}</td>'
        f'<td class="num">{_percent(row["repeat_purchase_rate"], locale)}</td>'
        f'<td class="num">{_money(row["revenue"], locale, currency)}</td></tr>'
        for row in periods
    )
    return (
        f"<section>\n<h2>{text['table_heading'].format(period=text[period])}</h2>\n"
        f'<table class="periods">\n<thead>\n{head}\n</thead>\n<tbody>\n{body}\n</tbody>\n'
        "</table>\n</section>"
    )


# --- charts: inline SVG -------------------------------------------------------------------------

WIDTH = 920
# An x-axis label takes about this many pixels; fewer labels are shown when they would crowd.
LABEL_SPACE = 74


def _nice_step(biggest: float, ticks: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving at most about ``ticks``
    gridlines up to ``biggest``."""
    raw = biggest / ticks if biggest > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))


def _label_every(count: int, plot_w: float) -> int:
    """Show every k-th x label so that about ``LABEL_SPACE`` pixels separate them."""
    return max(1, math.ceil(count / max(plot_w // LABEL_SPACE, 1)))


def _svg_open(chart_id: str, title: str, height: int) -> list[str]:
    return [
        f'<svg id="{chart_id}" role="img" aria-label="{title}" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}">',
        f"<title>{title}</title>",
        f'<text class="title" x="0" y="18">{title}</text>',
    ]


def _legend(items: Sequence[tuple[str, str]], y: int) -> tuple[list[str], int]:
    """Swatches with names, wrapped over rows; returns the parts and the y below them."""
    parts, x = [], 0
    for name, colour in items:
        # SVG text does not wrap: the width is guessed from the number of characters.
        item_w = 26 + 7.5 * len(name)
        if x and x + item_w > WIDTH:
            x, y = 0, y + 20
        parts.append(
            f'<rect x="{x}" y="{y}" width="14" height="4" rx="1" fill="{colour}" '
            f'transform="translate(0 4)"/><text x="{x + 20}" y="{y + 10}">{name}</text>'
        )
        x += item_w + 14
    return parts, y + 20


def _x_axis(
    labels: Sequence[str], x_of: Any, baseline: float, plot_w: float, left: float, right: float
) -> list[str]:
    every = _label_every(len(labels), plot_w)
    parts = [f'<line x1="{left}" x2="{right}" y1="{baseline}" y2="{baseline}" stroke="#52606d"/>']
    for i, label in enumerate(labels):
        x = x_of(i)
        shown = i % every == 0
        tick_end = baseline + (5 if shown else 3)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{baseline}" y2="{tick_end}" stroke="#9aa5b1"/>'
        )
        if shown:
            parts.append(
                f'<text class="axis" x="{x:.1f}" y="{baseline + 18}" text-anchor="middle">'
                f"{label}</text>"
            )
    return parts


def _line_svg(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    locale: str,
    y_max: float | None = None,
    height: int = 320,
    end_labels: bool = True,
) -> str:
    """Rates 0-1 as lines over the periods, one per ``(escaped name, colour, values)``.

    A None value leaves a gap. The y axis runs from 0 to ``y_max``, or to a round value above
    the largest rate when ``y_max`` is None.
    """
    parts = _svg_open(chart_id, title, height)
    legend, top = _legend([(name, colour) for name, colour, _ in series], 30)
    parts += legend
    top += 10
    left, right, bottom = 56, 64 if end_labels else 16, 34
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    count = len(labels)
    if not count:
        parts += [f'<text class="muted" x="0" y="{top + 18}">{TEXT[locale]["no_data"]}</text>']
        return "\n".join([*parts, "</svg>"])
    if y_max is None:
        biggest = max((v for _, _, values in series for v in values if v is not None), default=0)
        step = _nice_step(biggest or 1.0)
        y_max = step * max(1, math.ceil(biggest / step - 1e-9))
    else:
        step = _nice_step(y_max)

    def x_of(i: int) -> float:
        # Points sit in the middle of equal slots, as the bars of the revenue chart do.
        return left + plot_w * (i + 0.5) / count

    def y_of(rate: float) -> float:
        return top + plot_h * (1 - min(max(rate, 0.0), y_max) / y_max)

    for i in range(round(y_max / step) + 1):
        tick = i * step
        y = y_of(tick)
        parts.append(
            f'<line x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#e4e7eb"/>'
            f'<text class="axis" x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">'
            f"{format_number(100 * tick, 0, locale)}%</text>"
        )
    parts += _x_axis(labels, x_of, top + plot_h, plot_w, left, WIDTH - right)
    dots = count <= 48
    for name, colour, values in series:
        runs: list[list[str]] = [[]]
        for i, value in enumerate(values):
            if value is None:
                runs.append([])
            else:
                runs[-1].append(f"{x_of(i):.1f},{y_of(value):.1f}")
        parts += [
            f'<polyline class="line" points="{" ".join(run)}" fill="none" stroke="{colour}" '
            'stroke-width="2" stroke-linejoin="round"/>'
            for run in runs
            if len(run) > 1
        ]
        for i, value in enumerate(values):
            # A lone point between gaps has no line, so it always gets its dot.
            lone = (i == 0 or values[i - 1] is None) and (i + 1 == count or values[i + 1] is None)
            if value is not None and (dots or lone):
                parts.append(
                    f'<circle cx="{x_of(i):.1f}" cy="{y_of(value):.1f}" r="2.5" fill="{colour}">'
                    f"<title>{name}, {labels[i]}: {_percent(value, locale)}</title></circle>"
                )
        last = next((i for i in reversed(range(count)) if values[i] is not None), None)
        if end_labels and last is not None:
            parts.append(
                f'<text x="{x_of(last) + 7:.1f}" y="{y_of(values[last]) + 4:.1f}" '
                f'style="fill:{colour};font-weight:600">'
                f"{_percent(values[last], locale)}</text>"
            )
    parts.append("</svg>")
    return "\n".join(parts)


def _bar_svg(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    value_text: Any,
    tick_text: Any,
    locale: str,
    height: int = 300,
) -> str:
    """Vertical bars, one per period; ``value_text`` and ``tick_text`` format a value as
    escaped text for a bar's label and for the y axis."""
    parts = _svg_open(chart_id, title, height)
    left, right, top, bottom = 100, 16, 48, 34
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    count = len(labels)
    if not count:
        parts += [f'<text class="muted" x="0" y="{top + 18}">{TEXT[locale]["no_data"]}</text>']
        return "\n".join([*parts, "</svg>"])
    biggest = max(max(values), 0.0)
    step = _nice_step(biggest or 1.0)
    y_max = step * max(1, math.ceil(biggest / step - 1e-9))
    slot = plot_w / count

    def x_of(i: int) -> float:
        return left + slot * (i + 0.5)

    def y_of(value: float) -> float:
        return top + plot_h * (1 - max(value, 0.0) / y_max)

    for i in range(round(y_max / step) + 1):
        tick = i * step
        y = y_of(tick)
        parts.append(
            f'<line x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#e4e7eb"/>'
            f'<text class="axis" x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">'
            f"{tick_text(tick)}</text>"
        )
    # Each bar's amount above it when there is room; otherwise only the last one, the rest
    # are in the bars' tooltips and the table of figures.
    label_all = slot >= LABEL_SPACE + 6
    bar_w = max(min(slot * 0.7, 48), 1)
    for i, value in enumerate(values):
        y = y_of(value)
        parts.append(
            f'<rect class="bar" x="{x_of(i) - bar_w / 2:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
            f'height="{top + plot_h - y:.1f}" rx="2" fill="{BAR_COLOUR}">'
            f"<title>{labels[i]}: {value_text(value)}</title></rect>"
        )
        if label_all or i == count - 1:
            # A lone label on the last, narrow bar ends at its right edge to stay on the chart.
            anchor = "middle" if label_all else "end"
            x = x_of(i) + (0 if label_all else bar_w / 2)
            parts.append(
                f'<text class="muted" x="{x:.1f}" y="{y - 6:.1f}" text-anchor="{anchor}">'
                f"{value_text(value)}</text>"
            )
    parts += _x_axis(labels, x_of, top + plot_h, plot_w, left, WIDTH - right)
    parts.append("</svg>")
    return "\n".join(parts)
