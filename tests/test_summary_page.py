"""The marketers' summary page: languages, number formats, escaping, charts, self-containment."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from churn.reporting.summary_page import render_summary, write_summary


def make_summary(locale: str = "en", **changes: Any) -> dict[str, Any]:
    """A tiny summary: 2 segments, 2 reasons, 10 histogram bins."""
    summary: dict[str, Any] = {
        "as_of": "2024-06-30",
        "locale": locale,
        "currency": "EUR",
        "model": {"name": "churn", "version": "3"},
        "totals": {
            "scored": 12345,
            "at_risk": 40,
            "suppressed_opt_out": 7,
            "value_at_risk": 1234.5,
        },
        "by_segment_tier": [
            {"segment": "VIP", "tier": "high", "customers": 10, "value_at_risk": 1000.0},
            {"segment": "VIP", "tier": "medium", "customers": 5, "value_at_risk": 200.0},
            {"segment": "new", "tier": "high", "customers": 25, "value_at_risk": 34.5},
        ],
        "top_reasons": [
            {
                "feature": "days_since_last_order",
                "example": "No order for 84 days",
                "customers": 30,
            },
            {"feature": "returns_365d", "example": "3 returns in the last year", "customers": 5},
        ],
        "probability_histogram": {
            "edges": [i / 10 for i in range(11)],
            "counts": [5000, 3000, 2000, 1000, 600, 400, 200, 100, 40, 5],
        },
        "tiers": {"high": 0.7, "medium": 0.4},
        "actions": [{"segment": "VIP", "action": "exclusive preview or event"}],
        "files": {"csv": "at_risk.csv"},
    }
    summary.update(changes)
    return summary


def svg(page: str, chart_id: str) -> str:
    """The one inline SVG with id ``chart_id``."""
    found = re.findall(rf'<svg id="{chart_id}".*?</svg>', page, flags=re.DOTALL)
    assert len(found) == 1
    return found[0]


def test_english_page_has_english_headings_and_language():
    page = render_summary(make_summary("en"))

    assert '<html lang="en">' in page
    assert "<h2>Why customers are at risk</h2>" in page


def test_italian_page_has_italian_headings_and_language():
    page = render_summary(make_summary("it"))

    assert '<html lang="it">' in page
    assert "<h2>Perché i clienti sono a rischio</h2>" in page


def test_english_money_puts_the_symbol_first_with_a_decimal_point():
    page = render_summary(make_summary("en"))

    assert "€1,234.50" in page


def test_italian_money_puts_the_symbol_last_with_a_decimal_comma():
    page = render_summary(make_summary("it"))

    assert "1.234,50 €" in page
    assert "€1,234.50" not in page


def test_headline_figures_use_each_language_thousands_separator():
    assert "12,345" in render_summary(make_summary("en"))
    assert "12.345" in render_summary(make_summary("it"))


def test_percentages_have_one_decimal_in_each_language():
    # 30 of 40 at-risk customers have the first reason.
    assert "75.0%" in render_summary(make_summary("en"))
    assert "75,0%" in render_summary(make_summary("it"))


def test_tier_names_are_localised():
    page = render_summary(make_summary("it"))

    assert "Rischio alto" in page
    assert "Rischio basso" in page


def test_totals_are_shown():
    page = render_summary(make_summary("en"))

    # Headline figures, then the table's grand total: 40 customers worth €1,234.50.
    for figure in ("12,345", ">40<", ">7<", "€1,234.50"):
        assert figure in page
    total_row = re.search(r'<tr class="total">.*?</tr>', page, flags=re.DOTALL).group(0)
    assert ">40<" in total_row
    assert "€1,234.50" in total_row


def test_input_strings_are_escaped():
    hostile = "<script>alert(1)</script>"
    summary = make_summary(
        "en",
        by_segment_tier=[
            {"segment": hostile, "tier": "high", "customers": 1, "value_at_risk": 1.0}
        ],
        top_reasons=[{"feature": hostile, "example": hostile, "customers": 1}],
        actions=[{"segment": hostile, "action": hostile}],
        files={"csv": hostile},
        model={"name": hostile, "version": hostile},
        as_of=hostile,
    )

    page = render_summary(summary)

    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_page_is_self_contained():
    page = render_summary(make_summary("en"))

    assert "http://" not in page
    assert "https://" not in page
    assert "<script" not in page


@pytest.mark.parametrize("chart_id", ["chart-segments", "chart-reasons", "chart-histogram"])
def test_each_chart_is_one_inline_svg(chart_id):
    page = render_summary(make_summary("en"))

    assert svg(page, chart_id).count('class="bar"') >= 1


def test_page_has_exactly_three_charts():
    assert render_summary(make_summary("en")).count("<svg") == 3


def test_histogram_has_ten_bars():
    page = render_summary(make_summary("en"))

    assert svg(page, "chart-histogram").count('class="bar"') == 10


def test_segment_chart_has_one_bar_per_segment():
    page = render_summary(make_summary("en"))

    assert svg(page, "chart-segments").count('class="bar"') == 2


def test_csv_file_is_named():
    page = render_summary(make_summary("en", files={"csv": "at_risk_2024-06-30.csv"}))

    assert "at_risk_2024-06-30.csv" in page


def test_unknown_locale_raises_value_error():
    with pytest.raises(ValueError, match="locale"):
        render_summary(make_summary("fr"))


def test_unknown_tier_raises_value_error():
    rows = [{"segment": "VIP", "tier": "extreme", "customers": 1, "value_at_risk": 1.0}]

    with pytest.raises(ValueError, match="tier"):
        render_summary(make_summary("en", by_segment_tier=rows))


def test_write_summary_writes_utf8(tmp_path: Path):
    path = write_summary(make_summary("it"), tmp_path / "summary.html")

    assert path == tmp_path / "summary.html"
    assert "1.234,50 €" in path.read_text(encoding="utf-8")
