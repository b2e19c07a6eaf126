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


@pytest.fixture(scope="module")
def control_run(small_shop_path, trained_store, tmp_path_factory) -> tuple[Path, dict]:
    """A run with a large list and control group, so that every stratum holds some."""
    out = tmp_path_factory.mktemp("control")
    manifest = run_score(
        small_shop_path, out, trained_store, "score.share=0.5", "score.control_fraction=0.2"
    )
    return out / "en" / AS_OF, manifest


def test_every_scored_customer_is_in_one_group_and_only_contacts_are_in_the_csv(control_run):
    folder, manifest = control_run
    scores = pd.read_parquet(folder / "scores.parquet")
    table = pd.read_csv(folder / "at_risk_customers.csv", encoding="utf-8-sig", dtype=str)
    assert set(scores["group"]) == {"contact", "control", "not_selected"}
    contact = set(scores.loc[scores["group"] == "contact", "customer_id"])
    assert set(table["customer_id"]) == contact
    assert (scores["listed"] == (scores["group"] == "contact")).all()
    by_action = pd.concat(
        pd.read_csv(p, encoding="utf-8-sig", dtype=str) for p in (folder / "by_action").iterdir()
    )
    assert not set(by_action["customer_id"]) & set(
        scores.loc[scores["group"] == "control", "customer_id"]
    )


def test_the_manifest_counts_the_groups_and_the_draw(control_run):
    folder, manifest = control_run
    scores = pd.read_parquet(folder / "scores.parquet")
    control = manifest["control"]
    assert control["fraction"] == 0.2 and control["salt"] == "churn-control-1"
    assert control["contact"] + control["control"] + control["not_selected"] == len(scores)
    assert control["control"] == (scores["group"] == "control").sum() > 0
    assert control["contact"] == manifest["rows_at_risk"]


def test_each_stratum_holds_out_its_share_within_one_customer(control_run):
    _, manifest = control_run
    strata = manifest["control"]["by_stratum"]
    assert len(strata) > 1
    for stratum in strata:
        assert abs(stratum["control"] - 0.2 * stratum["selected"]) <= 1, stratum


def test_control_customers_keep_the_action_they_stand_for(control_run):
    folder, _ = control_run
    scores = pd.read_parquet(folder / "scores.parquet")
    selected = scores[scores["group"] != "not_selected"]
    assert selected["action"].notna().all() and selected["theme"].notna().all()
    assert scores.loc[scores["group"] == "not_selected", "action"].isna().all()


def test_a_rerun_draws_the_same_control_group(
    small_shop_path, trained_store, control_run, tmp_path
):
    folder, _ = control_run
    run_score(
        small_shop_path, tmp_path, trained_store, "score.share=0.5", "score.control_fraction=0.2"
    )
    again = tmp_path / "en" / AS_OF
    first = pd.read_parquet(folder / "scores.parquet")
    second = pd.read_parquet(again / "scores.parquet")
    assert first["group"].tolist() == second["group"].tolist()
    assert (folder / "at_risk_customers.csv").read_bytes() == (
        again / "at_risk_customers.csv"
    ).read_bytes()


def test_no_control_fraction_holds_out_no_one_and_says_so(small_shop_path, trained_store, tmp_path):
    manifest = run_score(small_shop_path, tmp_path, trained_store, "score.control_fraction=0")
    assert manifest["control"]["fraction"] == 0 and manifest["control"]["control"] == 0
    html = (tmp_path / "en" / AS_OF / "summary.html").read_text()
    assert "No control group was held out" in html


def test_a_control_fraction_above_a_half_is_a_config_error(
    small_shop_path, trained_store, tmp_path
):
    result = run_churn(
        [
            "score",
            f"data.transactions={small_shop_path}",
            f"score.output_dir={tmp_path}",
            "score.control_fraction=0.6",
            *trained_store,
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "score.control_fraction" in result.stderr


def test_a_night_from_the_stored_one_writes_the_same_list(small_shop_path, trained_store, tmp_path):
    state = f"engine.feature_state={tmp_path / 'state'}"
    run_score(small_shop_path, tmp_path / "a", trained_store, state, "as_of=2024-10-30")
    night = run_score(small_shop_path, tmp_path / "a", trained_store, state)
    whole = run_score(small_shop_path, tmp_path / "b", trained_store)
    assert night["features_night"]["mode"] == "incremental"
    assert night["features_night"]["previous"] == "2024-10-30"
    assert whole["features_night"] is None
    csv_name = "at_risk_customers.csv"
    night_csv = (tmp_path / "a" / "en" / AS_OF / csv_name).read_bytes()
    assert night_csv == (tmp_path / "b" / "en" / AS_OF / csv_name).read_bytes()
