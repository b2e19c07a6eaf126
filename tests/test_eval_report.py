"""Evaluation report: one self-contained, escaped HTML page."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from churn.reporting.evaluation_page import render_evaluation_report, write_evaluation_report

PNG = b"\x89PNG\r\n\x1a\n" + b"not really pixels"

MODEL_ROW = {
    "name": "lightgbm",
    "roc_auc": 0.81234,
    "pr_auc": 0.61,
    "brier": 0.152,
    "log_loss": 0.47,
    "ece": 0.021,
    "lift_at_10pct": 2.456,
    "capture_at_10pct": 0.3456,
    "lift_at_20pct": 2.1,
    "capture_at_20pct": 0.52,
}
RECENCY_ROW = {
    "name": "recency",
    "roc_auc": 0.74,
    "pr_auc": 0.65,
    "brier": None,
    "log_loss": None,
    "ece": None,
    "lift_at_10pct": 1.9,
    "capture_at_10pct": 0.28,
    "lift_at_20pct": 1.7,
    "capture_at_20pct": 0.44,
}


def comparison_cells(page: str) -> list[list[str]]:
    """Cells of the comparison table body, one list per row."""
    table = page.split("Model against baselines", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>", 1)[1])
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows]


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "roc.png"
    path.write_bytes(PNG)
    return path


def test_each_image_is_embedded_as_base64_with_its_caption_in_order(tmp_path: Path):
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    first.write_bytes(PNG + b"1")
    second.write_bytes(PNG + b"2")
    page = render_evaluation_report({}, {"ROC curve": first, "Gains": second})
    for path in (first, second):
        assert f"data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}" in page
    assert page.index("ROC curve</figcaption>") < page.index("Gains</figcaption>")


def test_page_has_no_urls_and_no_script(image: Path):
    report = {"title": "Evaluation", "comparison": [MODEL_ROW], "notes": ["fine"]}
    page = render_evaluation_report(report, {"ROC": image}).lower()
    assert "http" not in page
    assert "<script" not in page
    assert "<link" not in page


def test_text_from_the_report_is_escaped():
    row = {**MODEL_ROW, "name": "<script>alert(1)</script>"}
    page = render_evaluation_report({"comparison": [row], "notes": ["a & b"]}, {})
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<p>a &amp; b</p>" in page


def test_metrics_are_formatted_by_kind():
    cells = comparison_cells(render_evaluation_report({"comparison": [MODEL_ROW]}, {}))
    # name, roc_auc, pr_auc, brier, log_loss, ece, lift@10, capture@10, lift@20, capture@20
    assert cells[0] == [
        "lightgbm", "0.8123", "0.6100", "0.1520", "0.4700", "0.0210",
        "2.46", "34.6%", "2.10", "52.0%",
    ]  # fmt: skip


def test_missing_metric_renders_as_en_dash():
    cells = comparison_cells(render_evaluation_report({"comparison": [MODEL_ROW, RECENCY_ROW]}, {}))
    assert cells[1][3:6] == ["–", "–", "–"]


def test_best_value_in_each_column_is_bold():
    cells = comparison_cells(render_evaluation_report({"comparison": [MODEL_ROW, RECENCY_ROW]}, {}))
    model, recency = cells
    assert model[1] == "<b>0.8123</b>" and recency[1] == "0.7400"  # ROC AUC: higher wins
    assert model[2] == "0.6100" and recency[2] == "<b>0.6500</b>"  # PR AUC: the baseline wins


def test_lower_is_better_columns_bold_the_smallest_value():
    other = {**RECENCY_ROW, "brier": 0.2, "ece": 0.01}
    model, baseline = comparison_cells(
        render_evaluation_report({"comparison": [MODEL_ROW, other]}, {})
    )
    assert model[3] == "<b>0.1520</b>" and baseline[3] == "0.2000"
    assert model[5] == "0.0210" and baseline[5] == "<b>0.0100</b>"


def test_a_single_row_has_nothing_to_compare_and_no_bold():
    page = render_evaluation_report({"comparison": [MODEL_ROW]}, {})
    assert "<b>" not in "".join(comparison_cells(page)[0])


def test_failed_gate_is_shown_in_red_with_its_reasons():
    gate = {
        "verdict": "failed",
        "alias": "champion",
        "forced": False,
        "reasons": ["ROC AUC 0.70 below the 0.75 floor", "worse than <recency>"],
    }
    page = render_evaluation_report({"gate": gate}, {})
    assert 'class="gate failed"' in page
    assert "Promotion gate: failed" in page
    assert "<li>ROC AUC 0.70 below the 0.75 floor</li>" in page
    assert "<li>worse than &lt;recency&gt;</li>" in page


def test_passed_gate_is_shown_in_green():
    page = render_evaluation_report({"gate": {"verdict": "passed", "reasons": []}}, {})
    assert 'class="gate passed"' in page


def test_missing_sections_are_left_out():
    page = render_evaluation_report({"title": "Only a title"}, {})
    assert "<h1>Only a title</h1>" in page
    for heading in ("Model against baselines", "Calibration", "Segments", "Figures", "Notes"):
        assert f"<h2>{heading}</h2>" not in page


def test_how_to_read_section_is_always_present():
    page = render_evaluation_report({}, {})
    assert "How to read this report" in page
    assert "0.5 is no better than chance" in page


def test_data_calibration_and_segments_render_their_numbers():
    report = {
        "schedule": {"train_cutoffs": "2025-01-01, 2025-02-01", "test_cutoff": "2025-10-01"},
        "rows": {"train": 12000, "test": 3000, "test_churn_rate": 0.234},
        "calibration": {"method": "isotonic", "brier_before": 0.18, "brier_after": 0.15},
        "segments": [{"segment": "new", "customers": 1200, "churn_rate": 0.4, "roc_auc": None}],
    }
    page = render_evaluation_report(report, {})
    assert "12,000" in page and "Test churn rate: 23.4%" in page
    assert "Method: isotonic" in page and "0.1800" in page and "0.1500" in page
    assert '<td>new</td><td class="num">1,200</td><td class="num">40.0%</td>' in page
    assert '<td class="num">–</td></tr>' in page


def test_a_non_png_image_is_rejected(tmp_path: Path):
    path = tmp_path / "plot.svg"
    path.write_text("<svg/>")
    with pytest.raises(ValueError, match="not a PNG"):
        render_evaluation_report({}, {"plot": path})


def test_write_evaluation_report_writes_utf8_and_returns_the_path(tmp_path: Path):
    path = write_evaluation_report({"title": "Churn – test"}, {}, tmp_path / "report.html")
    assert path == tmp_path / "report.html"
    assert "<h1>Churn – test</h1>" in path.read_text(encoding="utf-8")


def test_origins_and_differences_are_tables_with_the_mean_last():
    models = {"model": {"roc_auc": 0.8, "brier": 0.17}, "recency": {"roc_auc": 0.75, "brier": None}}
    report = {
        "origins": [
            {"test_cutoff": "2025-09-01", "customers": 1200, "churn_rate": 0.5, "models": models},
            {"test_cutoff": "2025-10-01", "customers": 1300, "churn_rate": 0.4, "models": models},
        ],
        "origins_mean": models,
        "differences": [
            {
                "baseline": "recency",
                "origin": "mean",
                "roc_auc": {"estimate": 0.05, "low": 0.04, "high": 0.061},
                "brier": None,
            }
        ],
    }
    page = render_evaluation_report(report, {})
    origins = page.split("<h2>Test origins</h2>", 1)[1].split("</table>", 1)[0]
    assert origins.index("2025-09-01") < origins.index("2025-10-01") < origins.index("<b>mean")
    assert "1,300" in origins and "0.7500" in origins
    differences = page.split("<h2>Model minus baseline</h2>", 1)[1].split("</table>", 1)[0]
    assert "+0.0500" in differences and "[+0.0400, +0.0610]" in differences
    assert "[–, –]" not in differences and differences.count("–") == 2  # no Brier: dashes


def test_a_sampled_training_says_of_how_many_customers():
    rows = {"train": 10, "validation": 5, "test": 5, "test_churn_rate": 0.2}
    page = render_evaluation_report(
        {"rows": {**rows, "sample": 250000, "shop_customers": 10**6}}, {}
    )
    assert "A sample of 250,000 of the shop's 1,000,000 customers" in page
    assert "A sample" not in render_evaluation_report({"rows": rows}, {})
