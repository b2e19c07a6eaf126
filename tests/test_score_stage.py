"""The nightly scoring job: outputs, safety, repeatability and exit codes."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from churn.errors import DriftError, StorageError
from churn.stages import score
from churn.stages.score import CSV_COLUMNS
from churn.text import messages as catalogs
from tests.cli import run_churn
from tests.conftest import compose_config

AS_OF = "2024-10-31"


def run_score(shop: Path, out: Path, store: list[str], *extra: str) -> dict:
    cfg = compose_config(
        "score",
        [f"data.transactions={shop}", f"score.output_dir={out}", f"as_of={AS_OF}", *store, *extra],
    )
    return score.run(cfg)


def test_outputs_are_complete_and_the_csv_has_only_the_allowed_columns(
    small_shop_path, trained_store, tmp_path
):
    manifest = run_score(small_shop_path, tmp_path, trained_store)
    folder = tmp_path / "en" / AS_OF
    assert sorted(p.name for p in folder.iterdir()) == [
        "at_risk_customers.csv",
        "by_action",
        "manifest.json",
        "scores.parquet",
        "summary.html",
    ]
    with open(folder / "at_risk_customers.csv", newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert rows[0] == CSV_COLUMNS
    table = pd.read_csv(folder / "at_risk_customers.csv", keep_default_na=False)
    assert len(table) == manifest["rows_at_risk"] == len(rows) - 1 > 0
    assert table["expected_value_at_risk"].is_monotonic_decreasing
    assert pd.api.types.is_float_dtype(table["churn_probability"])
    written = json.loads((folder / "manifest.json").read_text())
    assert written["input"]["rows"] == written["rows_read"] > 0
    assert {"model", "drift", "config_sha256", "code_version", "timings_s"} <= set(written)


def test_a_failed_run_leaves_the_previous_outputs_untouched(
    small_shop_path, trained_store, tmp_path, monkeypatch
):
    run_score(small_shop_path, tmp_path, trained_store)
    folder = tmp_path / "en" / AS_OF
    before = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*.*")}

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(score, "write_summary", broken)
    with pytest.raises(StorageError, match="disk full"):
        run_score(small_shop_path, tmp_path, trained_store, "score.selection=top_k")
    after = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*.*")}
    assert after == before
    assert [p.name for p in folder.parent.iterdir() if p.name != f".{AS_OF}.lock"] == [AS_OF]


def test_opted_out_customers_are_left_out_and_counted(small_shop_path, trained_store, tmp_path):
    first = run_score(small_shop_path, tmp_path / "a", trained_store)
    listed = pd.read_csv(tmp_path / "a" / "en" / AS_OF / "at_risk_customers.csv")["customer_id"]
    out_ids = set(listed.head(5))
    customers = tmp_path / "customers.csv"
    pd.DataFrame(
        {"customer_id": sorted(out_ids), "marketing_opt_out": ["yes"] * len(out_ids)}
    ).to_csv(customers, index=False)
    second = run_score(
        small_shop_path, tmp_path / "b", trained_store, f"data.customers={customers}"
    )
    again = pd.read_csv(tmp_path / "b" / "en" / AS_OF / "at_risk_customers.csv")["customer_id"]
    assert not out_ids & set(again)
    assert second["rows_suppressed_opt_out"] == 5
    # The list keeps its size: refilled from the customers who may be contacted.
    assert second["rows_at_risk"] == first["rows_at_risk"]


def test_formula_like_customer_ids_are_neutralised(small_shop_path, trained_store, tmp_path):
    shop = pd.read_parquet(small_shop_path)
    first_id = shop["customer_id"].iloc[0]
    shop.loc[shop["customer_id"] == first_id, "customer_id"] = "=HYPERLINK(evil)"
    path = tmp_path / "shop.parquet"
    shop.to_parquet(path)
    run_score(path, tmp_path / "s", trained_store, "score.selection=top_k", "score.top_k=100000")
    with open(tmp_path / "s" / "en" / AS_OF / "at_risk_customers.csv", encoding="utf-8-sig") as f:
        ids = [row["customer_id"] for row in csv.DictReader(f)]
    assert "'=HYPERLINK(evil)" in ids
    assert not any(i.startswith(("=", "+", "-", "@")) for i in ids)


def test_excel_style_separator_and_decimal_comma(small_shop_path, trained_store, tmp_path):
    run_score(
        small_shop_path, tmp_path, trained_store, "score.csv.sep=';'", "score.csv.decimal=','"
    )
    table = pd.read_csv(tmp_path / "en" / AS_OF / "at_risk_customers.csv", sep=";", decimal=",")
    assert list(table.columns) == CSV_COLUMNS
    assert table["churn_probability"].between(0, 1).all()


def test_italian_locale_names_segments_and_reasons_in_italian(
    small_shop_path, trained_store, tmp_path
):
    run_score(small_shop_path, tmp_path, trained_store, "locale=it")
    table = pd.read_csv(
        tmp_path / "it" / AS_OF / "at_risk_customers.csv", sep=";", keep_default_na=False
    )
    assert set(table["segment"]) <= {"nuovo", "abituale", "dormiente", "VIP"}
    assert table["reason_1"].str.contains("giorn|ordin|resi|spes", regex=True).mean() > 0.5
    assert "Clienti" in (tmp_path / "it" / AS_OF / "summary.html").read_text(encoding="utf-8")


def test_drift_beyond_the_fail_threshold_stops_before_writing(
    small_shop_path, trained_store, tmp_path
):
    with pytest.raises(DriftError, match=r"PSI \d+\.\d+ >= score.drift.fail_psi=1e-06"):
        run_score(small_shop_path, tmp_path, trained_store, "score.drift.fail_psi=0.000001")
    assert not (tmp_path / "en" / AS_OF).exists()


def test_drift_warnings_are_recorded_in_the_manifest(small_shop_path, trained_store, tmp_path):
    manifest = run_score(
        small_shop_path,
        tmp_path,
        trained_store,
        "score.drift.warn_psi=0.000001",
        "score.drift.fail_psi=null",
    )
    statuses = [row["status"] for row in manifest["drift"]["features"]]
    assert manifest["drift"]["checked"] and "warn" in statuses and "fail" not in statuses


@pytest.mark.parametrize(
    ("override", "code", "message"),
    [
        ("as_of=2030-01-01", 2, "after the last date in the data"),
        ("score.drift.warn_psi=0 score.drift.fail_psi=0.000001", 4, "feature drift"),
        ("tracking.registered_model=nobody", 5, "no registered model 'nobody'"),
    ],
)
def test_exit_codes_with_one_line_on_stderr(
    small_shop_path, trained_store, tmp_path, override, code, message
):
    result = run_churn(
        [
            "score",
            f"data.transactions={small_shop_path}",
            f"score.output_dir={tmp_path / 's'}",
            f"hydra.run.dir={tmp_path / 'logs'}",
            *trained_store,
            *override.split(),
        ],
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == code, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]
    assert result.stderr.strip().splitlines()[-1] == errors[0]
    assert "Traceback" not in result.stderr


def test_contract_violation_exits_3(tmp_path, trained_store):
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,when\nC1,2024-01-01\n")
    result = run_churn(
        [
            "score",
            f"data.transactions={bad}",
            f"hydra.run.dir={tmp_path / 'logs'}",
            *trained_store,
        ],
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 3, result.stderr[-2000:]
    assert "bad.csv" in result.stderr


def test_the_csv_starts_with_a_byte_order_mark_for_excel(small_shop_path, trained_store, tmp_path):
    run_score(small_shop_path, tmp_path, trained_store)
    raw = (tmp_path / "en" / AS_OF / "at_risk_customers.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfcustomer_id,")


def test_an_italian_run_keeps_the_english_files_and_uses_semicolons(
    small_shop_path, trained_store, tmp_path
):
    run_score(small_shop_path, tmp_path, trained_store)
    english = (tmp_path / "en" / AS_OF / "at_risk_customers.csv").read_bytes()
    run_score(small_shop_path, tmp_path, trained_store, "locale=it")
    assert (tmp_path / "en" / AS_OF / "at_risk_customers.csv").read_bytes() == english
    italian = (tmp_path / "it" / AS_OF / "at_risk_customers.csv").read_text(encoding="utf-8-sig")
    header, first = italian.splitlines()[:2]
    assert header.startswith("customer_id;churn_probability;")
    # The probability with a decimal comma, as an Italian spreadsheet reads numbers.
    assert re.match(r"[^;]+;0,\d+;", first)


def test_each_action_has_its_own_csv_with_its_rows(small_shop_path, trained_store, tmp_path):
    manifest = run_score(small_shop_path, tmp_path, trained_store)
    folder = tmp_path / "en" / AS_OF
    table = pd.read_csv(folder / "at_risk_customers.csv", keep_default_na=False)
    files = sorted((folder / "by_action").glob("*.csv"))
    assert [f.stem for f in files] == sorted(table["action_id"].unique())
    for path in files:
        part = pd.read_csv(path, keep_default_na=False)
        assert list(part.columns) == list(table.columns)
        assert part["customer_id"].tolist() == (
            table.loc[table["action_id"] == path.stem, "customer_id"].tolist()
        )
    assert manifest["at_risk_by_action"] == table["action_id"].value_counts().sort_index().to_dict()


def test_every_action_comes_from_the_segment_by_theme_table(
    small_shop_path, trained_store, tmp_path
):
    run_score(small_shop_path, tmp_path, trained_store)
    table = pd.read_csv(tmp_path / "en" / AS_OF / "at_risk_customers.csv", keep_default_na=False)
    actions = compose_config("score", []).actions.table
    allowed = {a for row in actions.values() for a in row.values()}
    assert set(table["action_id"]) <= allowed
    assert (table["reason_1"] != "").all()


def test_the_first_name_and_email_come_from_the_customers_table(
    small_shop_path, trained_store, tmp_path
):
    run_score(small_shop_path, tmp_path / "a", trained_store)
    listed = pd.read_csv(tmp_path / "a" / "en" / AS_OF / "at_risk_customers.csv")
    assert "email" not in listed.columns
    first = listed["customer_id"].iloc[0]
    customers = tmp_path / "customers.csv"
    customers.write_text(f"customer_id,first_name,email\n{first},Ada,ada@example.com\n")
    run_score(small_shop_path, tmp_path / "b", trained_store, f"data.customers={customers}")
    again = pd.read_csv(tmp_path / "b" / "en" / AS_OF / "at_risk_customers.csv")
    assert list(again.columns[:3]) == ["customer_id", "first_name", "email"]
    row = again.set_index("customer_id").loc[first]
    assert (row["first_name"], row["email"]) == ("Ada", "ada@example.com")


def test_a_third_language_is_a_folder_of_catalogs_and_nothing_else(
    small_shop_path, trained_store, tmp_path, monkeypatch
):
    root = tmp_path / "catalogs"
    shutil.copytree(catalogs.CATALOG_DIR, root)
    header = (
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
        '"Language: fr\\n"\n"Plural-Forms: nplurals=2; plural=(n > 1);\\n"\n\n'
    )
    (root / "fr").mkdir()
    (root / "fr" / "lists.po").write_text(
        header + 'msgid "segment.vip"\nmsgstr "client VIP"\n\nmsgid "tier.high"\nmsgstr "élevé"\n',
        encoding="utf-8",
    )
    (root / "fr" / "pages.po").write_text(
        header + 'msgid "summary.title"\nmsgstr "Clients sur le point de partir"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(catalogs, "CATALOG_DIR", root)
    run_score(small_shop_path, tmp_path / "s", trained_store, "locale=fr")
    folder = tmp_path / "s" / "fr" / AS_OF
    table = pd.read_csv(folder / "at_risk_customers.csv", sep=";", decimal=",")
    assert "client VIP" in set(table["segment"])
    assert "élevé" in set(table["risk_tier"])
    assert table["churn_probability"].between(0, 1).all()
    assert "Clients sur le point de partir" in (folder / "summary.html").read_text("utf-8")
