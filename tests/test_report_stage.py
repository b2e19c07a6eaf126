"""The retention report stage on the small generated shop, and its page in a browser."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess

import pandas as pd
import pytest

from churn.reporting.campaigns import CAMPAIGN_MONTH_COLUMNS
from churn.stages import report
from tests.cli import run_churn
from tests.conftest import compose_config, make_transactions
from tests.test_campaign_rates import HISTORY, LOG


@pytest.fixture(scope="module")
def written(small_shop_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    cfg = compose_config(
        "report",
        [f"data.transactions={small_shop_path}", f"output_dir={out}", "report.scores_dir=null"],
    )
    return out, report.run(cfg)


def test_tables_have_the_documented_columns(written):
    out, _ = written
    periods = pd.read_csv(out / "retention_by_period.csv")
    assert list(periods.columns) == [
        "period",
        "active",
        "retained",
        "retention_rate",
        "churn_rate",
        "repeat_purchase_rate",
        "new_customers",
        "revenue",
    ]
    cohorts = pd.read_csv(out / "cohort_retention.csv")
    assert list(cohorts.columns) == [
        "cohort",
        "months_since_first",
        "customers",
        "retained",
        "retention_rate",
    ]
    assert (cohorts.loc[cohorts["months_since_first"] == 0, "retention_rate"] == 1.0).all()


def test_the_small_shop_has_24_months_and_channel_segments(written):
    _, manifest = written
    assert manifest["periods"] == 24
    assert manifest["segments"] == ["app", "store", "web"]


def test_the_latest_scoring_run_of_the_same_data_is_picked_up(tmp_path):
    runs = (("2024-01-31", 5, "shop.parquet"), ("2024-02-29", 7, "shop.parquet"))
    for as_of, n, source in (*runs, ("2024-03-31", 9, "other.parquet")):
        (tmp_path / "en" / as_of).mkdir(parents=True)
        (tmp_path / "en" / as_of / "manifest.json").write_text(
            f'{{"as_of": "{as_of}", "rows_scored": 100, "rows_at_risk": {n},'
            f' "expected_value_at_risk": 12.5, "input": {{"source": "{source}"}}}}'
        )
    assert report.latest_scoring(str(tmp_path), "shop.parquet", "en") == {
        "as_of": "2024-02-29",
        "customers_scored": 100,
        "at_risk": 7,
        "value_at_risk": 12.5,
    }


def test_hidden_folders_of_an_unfinished_swap_are_not_scoring_runs(tmp_path):
    for folder in (".2024-09-30.old", ".2024-09-30.x1y2z3w4"):
        (tmp_path / "en" / folder).mkdir(parents=True)
        (tmp_path / "en" / folder / "manifest.json").write_text(
            '{"as_of": "2024-09-30", "rows_scored": 1, "rows_at_risk": 1,'
            ' "input": {"source": "shop.parquet"}}'
        )
    assert report.latest_scoring(str(tmp_path), "shop.parquet", "en") is None


def test_a_report_reads_the_scoring_runs_of_its_own_language(tmp_path):
    (tmp_path / "it" / "2024-09-30").mkdir(parents=True)
    (tmp_path / "it" / "2024-09-30" / "manifest.json").write_text(
        '{"as_of": "2024-09-30", "rows_scored": 1, "rows_at_risk": 1,'
        ' "input": {"source": "shop.parquet"}}'
    )
    assert report.latest_scoring(str(tmp_path), "shop.parquet", "en") is None
    assert report.latest_scoring(str(tmp_path), "shop.parquet", "it")["at_risk"] == 1


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium (.ci/run installs it)")
def test_the_page_renders_in_headless_chromium_without_console_errors(written, tmp_path):
    out, _ = written
    shot = tmp_path / "report.png"
    common = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    result = subprocess.run(
        [*common, "--enable-logging=stderr", "--v=0", "--dump-dom", (out / "report.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0
    assert "<table" in result.stdout
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
    subprocess.run(
        [
            *common,
            "--window-size=1100,3000",
            f"--screenshot={shot}",
            (out / "report.html").as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_command_line_writes_the_report(small_shop_path, tmp_path):
    result = run_churn(
        [
            "report",
            f"data.transactions={small_shop_path}",
            "report.period=quarter",
            "locale=it",
            f"hydra.run.dir={tmp_path}",
        ],
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert pd.read_csv(tmp_path / "retention_by_period.csv")["period"].iloc[0].endswith("-Q1")
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("last", "period", "partial"),
    [
        ("2024-01-31", "month", False),
        ("2024-01-30", "month", True),
        ("2024-02-29", "month", False),
        ("2024-12-31", "quarter", False),
        ("2024-11-30", "quarter", True),
        ("2018-01-01", "month", True),
    ],
)
def test_an_incomplete_last_period_is_detected(last, period, partial):
    assert report.partial_last_period(dt.date.fromisoformat(last), period) is partial


# --- campaigns ------------------------------------------------------------------------------


def test_without_campaigns_the_table_is_empty_and_the_page_says_how_to_get_them(written):
    out, manifest = written
    assert list(pd.read_csv(out / "campaigns_by_month.csv").columns) == CAMPAIGN_MONTH_COLUMNS
    assert pd.read_csv(out / "campaigns_by_month.csv").empty
    assert manifest["campaigns"] == {
        "source": "lists",
        "lists": 0,
        "campaigns": 0,
        "campaign_months": 0,
    }
    assert manifest["contacts_table"] is None
    assert "No campaigns to show yet." in (out / "report.html").read_text(encoding="utf-8")


@pytest.fixture
def tiny_shop(tmp_path):
    """The history of tests/test_campaign_rates.py, as the shop's Parquet file."""
    path = tmp_path / "shop.parquet"
    make_transactions(HISTORY).to_parquet(path)
    return path


def store_list(scores_dir, as_of: str, groups: dict[str, str], source: str) -> None:
    """A scoring run's folder as `churn score` leaves it, with the columns the report reads."""
    folder = scores_dir / "en" / as_of
    folder.mkdir(parents=True)
    pd.DataFrame(
        {
            "customer_id": list(groups),
            "churn_probability": 0.5,
            "risk_tier": "high",
            "segment": "regular",
            "group": list(groups.values()),
        }
    ).to_parquet(folder / "scores.parquet")
    manifest = {
        "as_of": as_of,
        "horizon_days": 90,
        "rows_scored": len(groups),
        "rows_at_risk": 2,
        "expected_value_at_risk": 50.0,
        "input": {"source": source},
        "control": {"fraction": 0.1, "contact": 2, "control": 1, "not_selected": 1},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))


def run_report(shop, out, *overrides):
    cfg = compose_config("report", [f"data.transactions={shop}", f"output_dir={out}", *overrides])
    return report.run(cfg)


def test_a_stored_list_is_a_campaign_contacted_the_day_after_its_date(tiny_shop, tmp_path):
    scores = tmp_path / "scores"
    groups = {"A": "contact", "B": "contact", "E": "control", "K": "not_selected"}
    store_list(scores, "2024-02-04", groups, str(tiny_shop))
    manifest = run_report(tiny_shop, tmp_path / "out", f"report.scores_dir={scores}")

    table = pd.read_csv(tmp_path / "out" / "campaigns_by_month.csv")
    # Contacted on 5 Feb: A ordered on 10 Feb, B on 20 Mar; E (control) on 12 Feb.
    assert table.to_dict("records") == [
        {
            "campaign": "list of 2024-02-04",
            "list_as_of": "2024-02-04",
            "month": "2024-02",
            "contacted": 2,
            "responded": 1,
            "response_rate": 0.5,
            "converted": 2,
            "conversion_rate": 1.0,
            "control": 1,
            "control_responded": 1,
            "control_response_rate": 1.0,
            "control_converted": 1,
            "control_conversion_rate": 1.0,
            "response_complete": True,
            "conversion_complete": True,
        }
    ]
    assert manifest["campaigns"]["source"] == "lists" and manifest["campaigns"]["lists"] == 1
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "<td>List of February 4, 2024</td>" in page
    assert "taken as contacted on the day after that date" in page


def test_a_contact_log_gives_the_campaigns_and_is_counted(tiny_shop, tmp_path):
    log = tmp_path / "contacts.csv"
    pd.DataFrame(LOG, columns=["customer_id", "contacted_at", "campaign", "group"]).to_csv(
        log, index=False
    )
    scores = tmp_path / "scores"
    store_list(scores, "2024-02-04", {"A": "contact"}, str(tiny_shop))
    manifest = run_report(
        tiny_shop, tmp_path / "out", f"data.contacts={log}", f"report.scores_dir={scores}"
    )

    table = pd.read_csv(tmp_path / "out" / "campaigns_by_month.csv")
    # The log's campaigns, not the stored list.
    assert table[["campaign", "month", "contacted"]].values.tolist() == [
        ["winter", "2024-02", 5],
        ["winter", "2024-03", 1],
        ["summer", "2024-05", 2],
        ["summer", "2024-06", 1],
    ]
    assert manifest["campaigns"] == {
        "source": "log",
        "file": str(log),
        "contact_rows": 12,
        "campaigns": 2,
        "campaign_months": 4,
    }
    assert manifest["contacts_table"]["rows_kept"] == 12
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "(12 rows)" in page and '<span class="mark">not final</span>' in page
