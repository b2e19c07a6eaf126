"""Model evaluation report: one self-contained HTML page from a metrics mapping and PNG files.

The page has inline CSS only, no JavaScript and no external URLs; images are embedded as
``data:`` URIs, so the single file can be attached to a run or mailed as it is. Every piece
of text taken from the report mapping is HTML-escaped.

It is for the ML engineers and in English only: its sections are built here, and
``templates/evaluation.html.j2`` lays them out with the marketers' pages' base layout and
stylesheet (see :mod:`churn.reporting.templating`).
"""

from __future__ import annotations

import base64
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from markupsafe import Markup

from churn.reporting.templating import environment

MISSING = "–"  # en dash
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

HOW_TO_READ = """
<section class="howto">
<h2>How to read this report</h2>
<ul>
<li><b>ROC AUC</b>: how well the score ranks churners above non-churners. 1.0 is a perfect
ranking, 0.5 is no better than chance.</li>
<li><b>PR AUC</b> (average precision): how precise the list stays as it grows to find more
churners. Compare it with the test churn rate, which is what a random list would score.</li>
<li><b>Brier score</b> and <b>log loss</b>: how close the predicted churn probabilities are
to what happened. Lower is better.</li>
<li><b>ECE</b> (expected calibration error): the average gap between the predicted churn
rate and the observed churn rate, across probability bins. Lower is better; 0.02 means
predictions are off by about 2 percentage points on average.</li>
<li><b>Lift at 10%</b>: how many times more churners the riskiest 10% of customers holds
than a random 10%. A lift of 3 means three times as many.</li>
<li><b>Capture at 10%</b>: the share of all churners found among the riskiest 10% of
customers (likewise at 20%).</li>
<li>The comparison, calibration, segment and curve figures are measured on the newest
test snapshot, which no model saw during training; the test origins table repeats the
evaluation at earlier cutoffs.</li>
</ul>
</section>
"""


def render_evaluation_report(report: Mapping[str, Any], images: Mapping[str, Path]) -> str:
    """Render the evaluation of one model as a self-contained HTML page.

    Parameters
    ----------
    report : mapping
        Any of these keys; a missing or ``None`` section is left out, and a missing or NaN
        number shows as an en dash.

        - ``title``, ``model_name``, ``model_version``, ``run_id``, ``generated_from``: str.
        - ``schedule``: ``train_cutoffs``, ``validation_cutoff``, ``test_cutoff`` (str).
        - ``rows``: ``train``, ``validation``, ``test`` (int customers) and
          ``test_churn_rate`` (float, 0-1); with ``sample`` (int customers trained and
          tested) and ``shop_customers`` (int) when training used a sample of the shop.
        - ``comparison``: list of dicts, the model first, then baselines scored on the same
          test rows: ``name`` and ``roc_auc``, ``pr_auc``, ``brier``, ``log_loss``, ``ece``,
          ``lift_at_10pct``, ``capture_at_10pct``, ``lift_at_20pct``, ``capture_at_20pct``
          (float or None; captures are shares 0-1). The best value of each metric column is
          bold when at least two rows have a value.
        - ``calibration``: ``method`` (str), ``brier_before``, ``brier_after``,
          ``ece_before``, ``ece_after`` (float).
        - ``segments``: list of dicts with ``segment`` (str), ``customers`` (int),
          ``churn_rate`` (float, 0-1), ``roc_auc`` (float or None).
        - ``gate``: ``verdict`` ("passed" or "failed"), ``alias`` (str), ``forced`` (bool),
          ``reasons`` (list of str).
        - ``origins``: list of dicts, oldest first, one per test origin: ``test_cutoff``
          (str), ``customers`` (int), ``churn_rate`` (float, 0-1), ``schedule`` (str, how
          its training cutoffs were placed) and ``models``: model label to ``roc_auc`` and
          ``brier`` (float or None); ``origins_mean``: the same ``models`` mapping,
          averaged over the origins.
        - ``differences``: list of dicts, model minus baseline: ``baseline`` (str),
          ``origin`` (str: a test cutoff, or "mean"), ``roc_auc`` and ``brier`` (None or a
          dict with ``estimate``, ``low``, ``high``: the 95% interval).
        - ``notes``: list of str, one paragraph each.
    images : mapping of str to Path
        Caption to PNG file, rendered in this order as embedded figures.

    Returns
    -------
    str
        The HTML page: inline CSS, no JavaScript, no external URLs.

    Raises
    ------
    ValueError
        If an image file is not a PNG.
    """
    title = report.get("title") or "Churn model evaluation"
    sections = [
        _meta(report),
        _gate(report.get("gate")),
        HOW_TO_READ,
        _data(report.get("schedule"), report.get("rows")),
        _origins(report.get("origins"), report.get("origins_mean")),
        _differences(report.get("differences")),
        _comparison(report.get("comparison")),
        _calibration(report.get("calibration")),
        _segments(report.get("segments")),
        _figures(images),
        _notes(report.get("notes")),
    ]
    # Every section is HTML built above from escaped values.
    return (
        environment()
        .get_template("evaluation.html.j2")
        .render(
            locale="en",
            title=str(title),
            sections=[Markup(section) for section in sections if section],
        )
    )


def write_evaluation_report(
    report: Mapping[str, Any], images: Mapping[str, Path], path: Path
) -> Path:
    """Render the report (see ``render_evaluation_report``) and write it to ``path`` as UTF-8."""
    path.write_text(render_evaluation_report(report, images), encoding="utf-8")
    return path


# --- number formats: each returns escaped HTML text, or the en dash -------------------------


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, numbers.Real) and math.isnan(value))


def _number(decimals: int) -> Callable[[Any], str]:
    def fmt(value: Any) -> str:
        if _is_missing(value):
            return MISSING
        if isinstance(value, numbers.Real):
            return f"{float(value):.{decimals}f}"
        return _text(value)

    return fmt


def _percent(value: Any) -> str:
    if _is_missing(value):
        return MISSING
    if isinstance(value, numbers.Real):
        return f"{100 * float(value):.1f}%"
    return _text(value)


def _count(value: Any) -> str:
    if _is_missing(value):
        return MISSING
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    return _text(value)


def _text(value: Any) -> str:
    return MISSING if value is None else escape(str(value))


# Comparison columns: key, header, format, True if higher is better.
COMPARISON_COLUMNS: tuple[tuple[str, str, Callable[[Any], str], bool], ...] = (
    ("roc_auc", "ROC AUC", _number(4), True),
    ("pr_auc", "PR AUC", _number(4), True),
    ("brier", "Brier", _number(4), False),
    ("log_loss", "Log loss", _number(4), False),
    ("ece", "ECE", _number(4), False),
    ("lift_at_10pct", "Lift @10%", _number(2), True),
    ("capture_at_10pct", "Capture @10%", _percent, True),
    ("lift_at_20pct", "Lift @20%", _number(2), True),
    ("capture_at_20pct", "Capture @20%", _percent, True),
)


# --- sections: each returns an HTML fragment, or "" when there is nothing to show ------------


def _meta(report: Mapping[str, Any]) -> str:
    fields = (
        ("Model", "model_name"),
        ("Version", "model_version"),
        ("MLflow run", "run_id"),
        ("Data", "generated_from"),
    )
    items = [
        f"<dt>{label}</dt><dd>{_text(report[key])}</dd>"
        for label, key in fields
        if report.get(key) is not None
    ]
    return f'<dl class="meta">{"".join(items)}</dl>' if items else ""


def _gate(gate: Mapping[str, Any] | None) -> str:
    if not gate:
        return ""
    verdict = gate.get("verdict")
    css = verdict if verdict in ("passed", "failed") else "unknown"
    lines = [
        f'<section class="gate {css}">',
        f'<div class="verdict">Promotion gate: {_text(verdict)}</div>',
    ]
    details = []
    if gate.get("alias") is not None:
        details.append(f"alias <code>{_text(gate['alias'])}</code>")
    if gate.get("forced"):
        details.append("<b>forced</b>: promoted regardless of the verdict")
    if details:
        lines.append(f"<p>{'; '.join(details)}</p>")
    reasons = gate.get("reasons") or []
    if reasons:
        lines.append("<ul>" + "".join(f"<li>{_text(r)}</li>" for r in reasons) + "</ul>")
    lines.append("</section>")
    return "\n".join(lines)


def _data(schedule: Mapping[str, Any] | None, rows: Mapping[str, Any] | None) -> str:
    if not schedule and not rows:
        return ""
    schedule, rows = schedule or {}, rows or {}
    table = _table(
        ["Snapshot", "Cutoff(s)", "Customers"],
        [
            ["Training", _text(schedule.get("train_cutoffs")), _count(rows.get("train"))],
            [
                "Validation",
                _text(schedule.get("validation_cutoff")),
                _count(rows.get("validation")),
            ],
            ["Test", _text(schedule.get("test_cutoff")), _count(rows.get("test"))],
        ],
        numeric=[False, False, True],
    )
    churn_rate = _percent(rows.get("test_churn_rate"))
    sample = ""
    if rows.get("sample") is not None:
        sample = (
            f"\n<p>A sample of {_count(rows['sample'])} of the shop's "
            f"{_count(rows.get('shop_customers'))} customers, each with every line of their "
            "history (<code>train.max_customers</code>): every figure on this page is of the "
            "sample; scoring scores every customer.</p>"
        )
    return (
        f"<section>\n<h2>Data</h2>\n{table}\n<p>Test churn rate: {churn_rate}</p>{sample}"
        "\n</section>"
    )


def _origins(origins: Sequence[Mapping[str, Any]] | None, mean: Mapping[str, Any] | None) -> str:
    if not origins:
        return ""
    names = list(origins[-1].get("models") or {})
    fmt = _number(4)

    def cells(models: Mapping[str, Any]) -> list[str]:
        out = []
        for name in names:
            values = models.get(name) or {}
            out += [fmt(values.get("roc_auc")), fmt(values.get("brier"))]
        return out

    rows = [
        [
            _text(o.get("test_cutoff")),
            _count(o.get("customers")),
            _percent(o.get("churn_rate")),
            _text(o.get("schedule")),
            *cells(o.get("models") or {}),
        ]
        for o in origins
    ]
    if mean:
        rows.append(["<b>mean</b>", "", "", "", *(f"<b>{c}</b>" for c in cells(mean))])
    headers = ["Test cutoff", "Customers", "Churn rate", "Training cutoffs"]
    headers += [f"{_text(n)} {m}" for n in names for m in ("ROC AUC", "Brier")]
    table = _table(headers, rows, numeric=[False, True, True, False] + [True] * 2 * len(names))
    return (
        "<section>\n<h2>Test origins</h2>\n"
        f"<p>The model and every baseline scored at each of the last {len(origins)} test "
        "cutoffs, each model trained only on what was known at its cutoff; the mean is "
        "what the promotion gate judges. Recency is a ranking: it has no Brier score.</p>\n"
        f"{table}\n</section>"
    )


def _difference(value: Mapping[str, Any] | None) -> list[str]:
    if not value:
        return [MISSING, MISSING]

    def signed(x: Any) -> str:
        return MISSING if _is_missing(x) else f"{float(x):+.4f}"

    return [
        signed(value.get("estimate")),
        f"[{signed(value.get('low'))}, {signed(value.get('high'))}]",
    ]


def _differences(differences: Sequence[Mapping[str, Any]] | None) -> str:
    if not differences:
        return ""
    rows = []
    for d in differences:
        origin = _text(d.get("origin"))
        if d.get("origin") == "mean":
            origin = "<b>mean</b>"
        rows.append(
            [
                _text(d.get("baseline")),
                origin,
                *_difference(d.get("roc_auc")),
                *_difference(d.get("brier")),
            ]
        )
    table = _table(
        ["Baseline", "Test cutoff", "ROC AUC", "95% interval", "Brier", "95% interval"],
        rows,
        numeric=[False, False, True, True, True, True],
    )
    return (
        "<section>\n<h2>Model minus baseline</h2>\n"
        "<p>The model's ROC AUC and Brier score minus each baseline's, with 95% intervals "
        "from a paired bootstrap over customers (the same resampled customers score both; "
        "for the mean, customers are resampled within each origin). ROC AUC above 0 and "
        "Brier below 0 favour the model; an interval that holds 0 is no clear difference."
        f"</p>\n{table}\n</section>"
    )


def _comparison(comparison: Sequence[Mapping[str, Any]] | None) -> str:
    if not comparison:
        return ""
    best = {key: _best(comparison, key, higher) for key, _, _, higher in COMPARISON_COLUMNS}
    body = []
    for i, row in enumerate(comparison):
        cells = [f"<td>{_text(row.get('name'))}</td>"]
        for key, _, fmt, _ in COMPARISON_COLUMNS:
            value = row.get(key)
            shown = fmt(value)
            if best[key] is not None and not _is_missing(value) and value == best[key]:
                shown = f"<b>{shown}</b>"
            cells.append(f'<td class="num">{shown}</td>')
        css = ' class="model"' if i == 0 else ""
        body.append(f"<tr{css}>{''.join(cells)}</tr>")
    header = "".join(f"<th>{h}</th>" for h in ["Model", *(c[1] for c in COMPARISON_COLUMNS)])
    return (
        "<section>\n<h2>Model against baselines</h2>\n"
        "<p>All rows are scored on the same test customers; the first row is the model. "
        "The best value of each column is in bold.</p>\n"
        '<div class="table-scroll">\n'
        f"<table>\n<thead><tr>{header}</tr></thead>\n<tbody>\n"
        + "\n".join(body)
        + "\n</tbody>\n</table>\n</div>\n</section>"
    )


def _best(rows: Sequence[Mapping[str, Any]], key: str, higher_is_better: bool) -> Any:
    """Best value of a column, or None when fewer than two rows have one (nothing to compare)."""
    values = [
        row.get(key)
        for row in rows
        if isinstance(row.get(key), numbers.Real) and not _is_missing(row.get(key))
    ]
    if len(values) < 2:
        return None
    return max(values) if higher_is_better else min(values)


def _calibration(calibration: Mapping[str, Any] | None) -> str:
    if not calibration:
        return ""
    fmt = _number(4)
    table = _table(
        ["Metric", "Before", "After"],
        [
            [
                "Brier",
                fmt(calibration.get("brier_before")),
                fmt(calibration.get("brier_after")),
            ],
            ["ECE", fmt(calibration.get("ece_before")), fmt(calibration.get("ece_after"))],
        ],
        numeric=[False, True, True],
    )
    method = _text(calibration.get("method"))
    return (
        "<section>\n<h2>Calibration</h2>\n"
        f"<p>Method: {method}. Measured on the test snapshot; lower is better.</p>\n"
        f"{table}\n</section>"
    )


def _segments(segments: Sequence[Mapping[str, Any]] | None) -> str:
    if not segments:
        return ""
    table = _table(
        ["Segment", "Customers", "Churn rate", "ROC AUC"],
        [
            [
                _text(s.get("segment")),
                _count(s.get("customers")),
                _percent(s.get("churn_rate")),
                _number(4)(s.get("roc_auc")),
            ]
            for s in segments
        ],
        numeric=[False, True, True, True],
    )
    return f"<section>\n<h2>Segments</h2>\n{table}\n</section>"


def _figures(images: Mapping[str, Path]) -> str:
    if not images:
        return ""
    figures = []
    for caption, path in images.items():
        data = Path(path).read_bytes()
        if not data.startswith(PNG_MAGIC):
            raise ValueError(f"{path} is not a PNG file")
        encoded = base64.b64encode(data).decode("ascii")
        figures.append(
            f'<figure><img src="data:image/png;base64,{encoded}" alt="{_text(caption)}">'
            f"<figcaption>{_text(caption)}</figcaption></figure>"
        )
    return "<section>\n<h2>Figures</h2>\n" + "\n".join(figures) + "\n</section>"


def _notes(notes: Sequence[str] | None) -> str:
    if not notes:
        return ""
    paragraphs = "\n".join(f"<p>{_text(note)}</p>" for note in notes)
    return f"<section>\n<h2>Notes</h2>\n{paragraphs}\n</section>"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool]) -> str:
    """An HTML table from already-escaped cell fragments."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "\n".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if is_num else f"<td>{cell}</td>"
            for cell, is_num in zip(row, numeric, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return (
        '<div class="table-scroll">\n'
        f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>\n</div>"
    )
