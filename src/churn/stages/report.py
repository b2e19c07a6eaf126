"""Report stage: retention analytics for marketers (CSV tables and one HTML page)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig

from churn.outcomes.windows import campaign_outcomes
from churn.reporting.campaigns import campaigns_by_month, list_contacts
from churn.reporting.retention import cohort_retention, retention_by_period, retention_by_segment
from churn.reporting.retention_page import write_retention_report
from churn.stages.inputs import OpenedData, open_contacts, open_transactions, require_duckdb
from churn.stages.outputs import write_json
from churn.stages.run_context import log, step
from churn.stages.stored_runs import of_source, read_scores, stored_runs
from churn.text.messages import check_locale

SEGMENT_COLUMN = "channel"


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with missing values as ``None`` (JSON and the page)."""
    return [
        {k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in row.items()}
        for row in table.astype(object).to_dict("records")
    ]


def latest_scoring(scores_dir: str | None, source: str, locale: str) -> dict[str, Any] | None:
    """At-risk figures of the latest scoring run of the same data ``source`` in ``locale``
    under ``scores_dir`` (``<locale>/<as_of>/manifest.json``, as scoring writes them), or
    ``None`` when there is none."""
    if not scores_dir or not (Path(scores_dir) / locale).is_dir():
        return None
    for path in sorted((Path(scores_dir) / locale).glob("*/manifest.json"), reverse=True):
        if path.parent.name.startswith("."):
            continue  # a run's temp folder, or the previous outputs kept during a swap
        manifest = json.loads(path.read_text())
        if manifest.get("input", {}).get("source") != source:
            continue
        return {
            "as_of": manifest["as_of"],
            "customers_scored": manifest["rows_scored"],
            "at_risk": manifest["rows_at_risk"],
            "value_at_risk": manifest.get("expected_value_at_risk"),
        }
    return None


def partial_last_period(last_date: dt.date, period: str) -> bool:
    """Whether the data ends before the last period (month or quarter) does."""
    months = 1 if period == "month" else 3
    start_month = (last_date.month - 1) // months * months + 1
    end = dt.date(
        last_date.year + (start_month + months - 1) // 12, (start_month + months - 1) % 12 + 1, 1
    )
    return last_date < end - dt.timedelta(days=1)


def campaign_table(
    opened: OpenedData,
    scores_dir: str | None,
    locale: str,
    response_days: int,
    conversion_days: int,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The campaigns by month (:func:`campaigns_by_month`) and where they come from: the
    contact log when one was ingested, else the lists stored under ``scores_dir`` in
    ``locale``, each a campaign contacted the day after its date."""
    if opened.contacts is not None:
        contacts = None
        manifest = opened.contacts.manifest
        source = {
            "source": "log",
            "file": manifest["source"],
            "contact_rows": manifest["rows_kept"],
        }
        list_dates: dict[str, str] = {}
    else:
        runs = stored_runs(Path(scores_dir), locale) if scores_dir else []
        runs = of_source(runs, opened.ingest.manifest["source"])
        contacts = list_contacts((run.as_of, read_scores(run)) for run in runs)
        source = {"source": "lists", "lists": len(runs)}
        named = contacts[["campaign", "list_as_of"]].drop_duplicates()
        list_dates = dict(zip(named["campaign"], named["list_as_of"], strict=True))
    outcomes = campaign_outcomes(opened.con, conversion_days, response_days, contacts)
    table = campaigns_by_month(
        outcomes, opened.last_date, response_days, conversion_days, list_dates
    )
    return table, source


def run(cfg: DictConfig) -> dict[str, Any]:
    """Write ``cohort_retention.csv``, ``retention_by_period.csv``,
    ``campaigns_by_month.csv`` and ``report.html`` to ``cfg.output_dir``; return a small
    manifest (also written as ``report_manifest.json``)."""
    require_duckdb(cfg, "report", "the retention tables are small aggregates")
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    locale = check_locale(str(cfg.locale))
    period = str(cfg.report.period)
    response_days = int(cfg.report.response_days)
    conversion_days = int(cfg.report.conversion_days)
    timings: dict[str, float] = {}
    with step("ingest", timings):
        opened = open_transactions(cfg)
        open_contacts(cfg, opened)
    con = opened.con
    with step("retention tables", timings):
        periods = retention_by_period(con, period)
        cohorts = cohort_retention(con)
        columns = {r[0] for r in con.execute("DESCRIBE transactions").fetchall()}
        segments = (
            retention_by_segment(con, SEGMENT_COLUMN, period) if SEGMENT_COLUMN in columns else {}
        )
    with step("campaign tables", timings):
        campaigns, campaign_source = campaign_table(
            opened, cfg.report.scores_dir, locale, response_days, conversion_days
        )
    periods.to_csv(out / "retention_by_period.csv", index=False)
    cohorts.to_csv(out / "cohort_retention.csv", index=False)
    campaigns.to_csv(out / "campaigns_by_month.csv", index=False)
    at_risk = latest_scoring(cfg.report.scores_dir, opened.ingest.manifest["source"], locale)
    # The page leaves out an incomplete last period (it would look like a collapse); the
    # CSVs keep every period.
    partial = periods["period"].iloc[-1] if partial_last_period(opened.last_date, period) else None
    shown = periods[periods["period"] != partial]
    last_month = opened.last_date.strftime("%Y-%m")
    cohort_month = pd.PeriodIndex(cohorts["cohort"], freq="M") + cohorts["months_since_first"]
    month_partial = partial_last_period(opened.last_date, "month")
    shown_cohorts = cohorts[~(month_partial & (cohort_month.astype(str) == last_month))]
    with step("report page", timings):
        write_retention_report(
            {
                "locale": locale,
                "currency": str(cfg.data.currency),
                "source": opened.ingest.manifest["source"],
                "period": period,
                "first_date": opened.first_date.isoformat(),
                "last_date": opened.last_date.isoformat(),
                "periods": _records(shown),
                "cohorts": _records(shown_cohorts),
                "partial_period": partial,
                "segments": [
                    {
                        "segment": name,
                        "periods": _records(
                            table.loc[table["period"] != partial, ["period", "retention_rate"]]
                        ),
                    }
                    for name, table in segments.items()
                ],
                "at_risk": at_risk,
                "campaigns": {
                    **campaign_source,
                    "response_days": response_days,
                    "conversion_days": conversion_days,
                    "rows": _records(campaigns),
                },
            },
            out / "report.html",
        )
    manifest = {
        "source": opened.ingest.manifest["source"],
        "period": period,
        "periods": len(periods),
        "cohorts": int(cohorts["cohort"].nunique()),
        "segments": sorted(segments),
        "at_risk_from": at_risk["as_of"] if at_risk else None,
        "campaigns": {
            **campaign_source,
            "campaigns": int(campaigns["campaign"].nunique()),
            "campaign_months": len(campaigns),
        },
        "contacts_table": None if opened.contacts is None else opened.contacts.manifest,
        "timings_s": timings,
    }
    write_json(out / "report_manifest.json", manifest)
    log.info("wrote retention report to %s", out)
    print(f"retention report: {out / 'report.html'}", flush=True)
    return manifest


if __name__ == "__main__":
    # `python -m churn.stages.report` runs the stage as `churn report` does.
    import sys

    from churn.cli import run_stage

    run_stage("report", sys.argv[1:])
