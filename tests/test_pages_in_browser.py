"""The pages in a real browser: at a desktop width and at a phone's, the page does
not scroll sideways and no table's container is wider than the screen.

Headless Chromium is not given a window narrower than 500 px, so each page is shown in an
iframe of the width under test (a phone's 390 px); the iframe's ``srcdoc`` keeps it in the
wrapper's origin, whose script then measures it and writes the figures into the DOM that
``--dump-dom`` prints. Skipped when no Chromium or Chrome is installed.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from churn.reporting.evaluation_page import render_evaluation_report
from churn.reporting.outcomes_page import render_outcomes
from churn.reporting.retention_page import render_retention_report
from churn.reporting.summary_page import render_summary
from churn.reporting.uplift_page import render_uplift_report
from tests.outcomes_fixture import RETRAIN, outcomes
from tests.summary_fixture import summary
from tests.test_eval_report import MODEL_ROW, RECENCY_ROW
from tests.test_retention_page import AT_RISK, CAMPAIGNS, make_report
from tests.uplift_fixture import failed, hillstrom, uplift

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
PHONE, DESKTOP = 390, 1280


def browser() -> str | None:
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


pytestmark = pytest.mark.skipif(
    browser() is None, reason="no chromium or chrome on PATH to render the pages"
)

MEASURE = """<script>
window.addEventListener("load", function () {
  var frame = document.getElementById("page");
  var doc = frame.contentDocument, win = frame.contentWindow;
  var boxes = Array.prototype.map.call(doc.querySelectorAll(".table-scroll"), function (e) {
    var box = e.getBoundingClientRect();
    return {left: box.left, right: box.right, width: box.width};
  });
  var cards = Array.prototype.map.call(doc.querySelectorAll(".card .figure"), function (e) {
    return {scroll: e.scrollWidth, client: e.clientWidth};
  });
  document.documentElement.setAttribute("data-measure", JSON.stringify({
    scrollWidth: doc.documentElement.scrollWidth, innerWidth: win.innerWidth,
    tables: boxes, cards: cards}));
});
</script>"""


def wrapper(page: str, width: int, height: int) -> str:
    """An HTML page showing ``page`` in a ``width`` px iframe, with the measuring script."""
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        "<style>body{margin:0} iframe{border:0;display:block}</style></head><body>"
        f'<iframe id="page" width="{width}" height="{height}" '
        f'srcdoc="{html.escape(page, quote=True)}"></iframe>{MEASURE}</body></html>'
    )


def run_browser(url: Path, tmp_path: Path, window: tuple[int, int], *extra: str) -> str:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    command = [
        str(browser()),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={window[0]},{window[1]}",
        "--virtual-time-budget=2000",
        f"--user-data-dir={profile}",
        *extra,
        url.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    return done.stdout


def measure(page: str, width: int, tmp_path: Path) -> dict:
    path = tmp_path / f"measure-{width}.html"
    path.write_text(wrapper(page, width, 2000), encoding="utf-8")
    dom = run_browser(path, tmp_path, (max(width, 500), 2000), "--dump-dom")
    found = re.search(r'data-measure="([^"]*)"', dom)
    assert found, f"the browser printed no measurement: {dom[:300]!r}"
    return json.loads(html.unescape(found.group(1)))


def screenshot(page: str, width: int, path: Path, tmp_path: Path, height: int = 5200) -> Path:
    source = tmp_path / f"{path.stem}.html"
    source.write_text(wrapper(page, width, height), encoding="utf-8")
    run_browser(source, tmp_path, (max(width, 500), height), f"--screenshot={path}")
    return path


PAGES = {
    "summary-en": lambda: render_summary(summary("en")),
    "summary-it": lambda: render_summary(summary("it", currency="EUR")),
    "retention-en": lambda: render_retention_report(
        make_report("en", at_risk=AT_RISK, campaigns=CAMPAIGNS)
    ),
    "retention-it": lambda: render_retention_report(
        make_report("it", at_risk=AT_RISK, campaigns=CAMPAIGNS)
    ),
    "outcomes-en": lambda: render_outcomes(outcomes("en")),
    "outcomes-it": lambda: render_outcomes(outcomes("it", retrain=RETRAIN)),
    "uplift-en": lambda: render_uplift_report(uplift("en")),
    "uplift-it": lambda: render_uplift_report(failed("it", "forced")),
    "uplift-hillstrom-it": lambda: render_uplift_report(hillstrom("it")),
    "evaluation": lambda: render_evaluation_report(
        {
            "title": "Churn model evaluation",
            "model_name": "churn-online-retail",
            "run_id": "0123456789abcdef0123456789abcdef",
            "comparison": [MODEL_ROW, RECENCY_ROW],
            "segments": [{"segment": "vip", "customers": 1200, "churn_rate": 0.4, "roc_auc": 0.8}],
        },
        {},
    ),
}


@pytest.mark.parametrize("name", sorted(PAGES))
@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_page_does_not_scroll_sideways(name: str, width: int, tmp_path: Path):
    figures = measure(PAGES[name](), width, tmp_path)

    assert figures["innerWidth"] == width
    assert figures["scrollWidth"] <= figures["innerWidth"]


@pytest.mark.parametrize("name", sorted(PAGES))
def test_table_containers_fit_a_phone(name: str, tmp_path: Path):
    figures = measure(PAGES[name](), PHONE, tmp_path)

    assert figures["tables"], "the page has no table container"
    for box in figures["tables"]:
        assert box["left"] >= 0
        assert box["right"] <= figures["innerWidth"]


@pytest.mark.parametrize(
    "name",
    ["summary-en", "summary-it", "outcomes-en", "outcomes-it", "uplift-en", "uplift-it"],
)
def test_card_figures_fit_their_cards_on_a_phone(name: str, tmp_path: Path):
    made = PAGES[name]()

    for card in measure(made, PHONE, tmp_path)["cards"]:
        assert card["scroll"] <= card["client"]


def test_a_huge_amount_stays_inside_its_card_on_a_phone(tmp_path: Path):
    made = summary("it", currency="CHF")
    made["totals"] |= {"scored": 123_456_789, "value_at_risk": 98_765_432_109.9}

    for card in measure(render_summary(made), PHONE, tmp_path)["cards"]:
        assert card["scroll"] <= card["client"]


def test_screenshots_of_the_summary(tmp_path: Path):
    """Screenshots of the summary in both languages at both widths, for a person to look
    at; kept in ``CHURN_SCREENSHOTS`` when that folder is set."""
    folder = Path(os.environ.get("CHURN_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    for locale in ("en", "it"):
        for width in (DESKTOP, PHONE):
            page = PAGES[f"summary-{locale}"]()
            shot = screenshot(page, width, folder / f"summary-{locale}-{width}.png", tmp_path)
            assert shot.stat().st_size > 10_000


def test_screenshots_of_the_outcomes_page(tmp_path: Path):
    """Screenshots of the outcomes page in both languages at both widths, kept in
    ``CHURN_SCREENSHOTS`` when that folder is set."""
    folder = Path(os.environ.get("CHURN_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    for locale in ("en", "it"):
        for width in (DESKTOP, PHONE):
            page = PAGES[f"outcomes-{locale}"]()
            shot = screenshot(
                page, width, folder / f"outcomes-{locale}-{width}.png", tmp_path, height=12000
            )
            assert shot.stat().st_size > 10_000


def test_screenshots_of_the_retention_report(tmp_path: Path):
    """Screenshots of the retention report with campaigns in both languages at both widths,
    kept in ``CHURN_SCREENSHOTS`` when that folder is set."""
    folder = Path(os.environ.get("CHURN_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    for locale in ("en", "it"):
        for width in (DESKTOP, PHONE):
            page = PAGES[f"retention-{locale}"]()
            shot = screenshot(
                page, width, folder / f"retention-{locale}-{width}.png", tmp_path, height=7000
            )
            assert shot.stat().st_size > 10_000


def test_screenshots_of_the_uplift_report(tmp_path: Path):
    """Screenshots of the uplift report in both languages at both widths (the Italian one
    a model forced through its gate), and of Hillstrom's in Italian, kept in
    ``CHURN_SCREENSHOTS`` when that folder is set."""
    folder = Path(os.environ.get("CHURN_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("uplift-en", "uplift-it", "uplift-hillstrom-it"):
        for width in (DESKTOP, PHONE):
            page = PAGES[name]()
            shot = screenshot(page, width, folder / f"{name}-{width}.png", tmp_path, height=9000)
            assert shot.stat().st_size > 10_000
