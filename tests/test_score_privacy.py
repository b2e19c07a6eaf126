"""Privacy and safety of the nightly list, through the command line: consent fails closed,
no cell runs as a formula, an empty list is a valid result, and opt-outs are refilled."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from tests.cli import run_churn
from tests.test_score_stage import AS_OF
from tests.test_score_stage import run_score as run_score_with_control

# These tests are about consent and the list's refill: without a control group, every
# customer chosen is on the list (the control group has tests of its own).
NO_CONTROL = "score.control_fraction=0"


def run_score(shop: Path, out: Path, store: list[str], *extra: str) -> dict:
    return run_score_with_control(shop, out, store, NO_CONTROL, *extra)


def score_cli(shop: Path, out: Path, store: list[str], *extra: str) -> subprocess.CompletedProcess:
    return run_churn(
        [
            "score",
            f"data.transactions={shop}",
            f"score.output_dir={out}",
            f"hydra.run.dir={out / 'logs'}",
            f"as_of={AS_OF}",
            NO_CONTROL,
            *store,
            *extra,
        ],
        cwd=out.parent,
        timeout=600,
    )


def listed_ids(out: Path) -> list[str]:
    with open(out / "en" / AS_OF / "at_risk_customers.csv", newline="", encoding="utf-8-sig") as f:
        return [row["customer_id"] for row in csv.DictReader(f)]


def manifest_of(out: Path) -> dict:
    return json.loads((out / "en" / AS_OF / "manifest.json").read_text())


@pytest.fixture(scope="module")
def baseline(small_shop_path, trained_store, tmp_path_factory) -> list[str]:
    """The at-risk list at the defaults, without a customers table, most value first."""
    out = tmp_path_factory.mktemp("baseline")
    run_score(small_shop_path, out, trained_store)
    return listed_ids(out)


def test_any_doubt_about_consent_keeps_a_customer_off_the_list(
    small_shop_path, trained_store, baseline, tmp_path
):
    a, b, c, d = baseline[:4]
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "customer_id,marketing_opt_out\n"
        f"{a},on\n"  # unreadable: quarantined, and in doubt
        f"{b},false\n{b},true\n"  # a conflicting repeat
        f"{c.lower()},yes\n"  # matches only after case-folding
        f"{d},opted out\n"
    )
    result = score_cli(
        small_shop_path,
        tmp_path / "s",
        trained_store,
        f"data.customers={customers}",
        "ingest.max_bad_fraction=1",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert not {a, b, c, d} & set(listed_ids(tmp_path / "s"))
    manifest = manifest_of(tmp_path / "s")
    assert manifest["suppressed_by_reason"] == {
        "id matches after trimming or case-folding": 1,
        "opt-out unreadable": 2,
        "opted out": 1,
    }
    assert manifest["rows_suppressed_opt_out"] == 4
    quarantined = pd.read_csv(tmp_path / "s" / "en" / AS_OF / "customers_quarantine.csv", dtype=str)
    assert sorted(quarantined["customer_id"]) == sorted([a, b, d])
    page = (tmp_path / "s" / "en" / AS_OF / "summary.html").read_text(encoding="utf-8")
    assert "opt-out unreadable: 2" in page


def test_top_k_is_refilled_after_opt_outs(small_shop_path, trained_store, tmp_path):
    first = tmp_path / "a"
    run_score(small_shop_path, first, trained_store, "score.selection=top_k", "score.top_k=10")
    top = listed_ids(first)
    customers = tmp_path / "customers.csv"
    pd.DataFrame({"customer_id": top[:8], "marketing_opt_out": True}).to_csv(customers, index=False)
    result = score_cli(
        small_shop_path,
        tmp_path / "b",
        trained_store,
        "score.selection=top_k",
        "score.top_k=10",
        f"data.customers={customers}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    refilled = listed_ids(tmp_path / "b")
    assert len(refilled) == 10 and refilled[:2] == top[8:]
    assert manifest_of(tmp_path / "b")["rows_suppressed_opt_out"] == 8


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        (["score.selection=top_k", "score.top_k=0"], "top_k_zero"),
        (
            ["score.selection=tiers", "score.tiers.high=0.99999", "score.tiers.medium=0.99998"],
            "no_one_in_tiers",
        ),
        (["score.selection=budget", "score.budget=0.5"], "budget_too_small"),
    ],
)
def test_an_empty_list_is_a_header_and_a_summary_that_says_why(
    small_shop_path, trained_store, tmp_path, overrides, code
):
    result = score_cli(small_shop_path, tmp_path / "s", trained_store, *overrides)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = (
        (tmp_path / "s" / "en" / AS_OF / "at_risk_customers.csv")
        .read_text(encoding="utf-8-sig")
        .splitlines()
    )
    assert len(lines) == 1 and lines[0].startswith("customer_id,churn_probability")
    assert manifest_of(tmp_path / "s")["empty_list_reason"]["code"] == code
    page = (tmp_path / "s" / "en" / AS_OF / "summary.html").read_text(encoding="utf-8")
    assert "The list is empty" in page


def test_a_list_whose_customers_all_opted_out_is_empty_not_a_crash(
    small_shop_path, trained_store, tmp_path
):
    # By tiers, the list is whoever reaches them: nobody refills it.
    run_score(small_shop_path, tmp_path / "all", trained_store, "score.selection=tiers")
    baseline = listed_ids(tmp_path / "all")
    customers = tmp_path / "customers.csv"
    pd.DataFrame({"customer_id": baseline, "marketing_opt_out": "y"}).to_csv(customers, index=False)
    result = score_cli(
        small_shop_path,
        tmp_path / "s",
        trained_store,
        "score.selection=tiers",
        f"data.customers={customers}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert listed_ids(tmp_path / "s") == []
    manifest = manifest_of(tmp_path / "s")
    assert manifest["empty_list_reason"] == {"code": "all_left_out", "customers": len(baseline)}
    assert manifest["rows_suppressed_opt_out"] == len(baseline)


def test_a_misspelled_tier_name_is_a_configuration_error(small_shop_path, trained_store, tmp_path):
    result = score_cli(
        small_shop_path, tmp_path / "s", trained_store, "score.at_risk_tiers=[hihg,medium]"
    )
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and "hihg" in last
    assert not (tmp_path / "s" / "en" / AS_OF).exists()


@pytest.mark.parametrize("dialect", [[], ["score.csv.sep=';'", "score.csv.decimal=','"]])
def test_a_carriage_return_in_an_id_cannot_split_a_row_or_run_a_formula(
    small_shop_path, trained_store, tmp_path, dialect
):
    shop = pd.read_parquet(small_shop_path)
    victims = shop["customer_id"].drop_duplicates().head(30).tolist()
    for n, victim in enumerate(victims):
        shop.loc[shop["customer_id"] == victim, "customer_id"] = f"\r=1+{n}"
    path = tmp_path / "shop.parquet"
    shop.to_parquet(path)
    result = score_cli(
        path,
        tmp_path / "s",
        trained_store,
        "score.selection=top_k",
        "score.top_k=100000",
        "ingest.max_bad_fraction=1",
        *dialect,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    sep = ";" if dialect else ","
    target = tmp_path / "s" / "en" / AS_OF / "at_risk_customers.csv"
    assert b"\r" not in target.read_bytes()
    with open(target, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f, delimiter=sep))
    assert len(rows) - 1 == manifest_of(tmp_path / "s")["rows_at_risk"]
    assert not any(cell.lstrip().startswith(("=", "+", "-", "@")) for row in rows for cell in row)
