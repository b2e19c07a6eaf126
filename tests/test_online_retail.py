"""Online Retail, a real shop's raw export shipped in data/shops/, reads as it is at the
defaults: `data=online_retail`, from the command line, then features.

The whole file takes about 5 seconds to ingest on two cores, so these tests read it all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from churn.data.ingest import rows_accounted
from churn.stages import features as features_stage
from tests.cli import run_churn
from tests.conftest import compose_config

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / "data" / "shops" / "online_retail" / "online_retail.csv.gz"


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run folder of `churn ingest data=online_retail`, run from the project."""
    run = tmp_path_factory.mktemp("online_retail") / "ingest"
    done = run_churn(["ingest", "data=online_retail", f"hydra.run.dir={run}"], cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return run


@pytest.fixture(scope="module")
def manifest(ingested: Path) -> dict:
    return json.loads((ingested / "manifest.json").read_text())


@pytest.fixture(scope="module")
def table(ingested: Path) -> pd.DataFrame:
    return pd.read_parquet(ingested / "transactions.parquet")


def test_the_export_is_shipped_with_its_source_and_licence():
    readme = (EXPORT.parent / "README.md").read_text()
    assert EXPORT.stat().st_size > 7_000_000
    assert "CC0" in readme and "doi:10.1057/dbm.2012.17" in readme


def test_every_line_of_the_export_is_read_and_accounted_for(manifest):
    m = manifest
    assert m["rows_read"] == 541_909
    assert m["rows_read"] == rows_accounted(m)


def test_guest_orders_are_counted_apart_and_nothing_much_is_quarantined(manifest):
    # About a quarter of the lines have no CustomerID; none of them is an error.
    assert 0.24 < manifest["rows_without_customer"] / manifest["rows_read"] < 0.26
    assert manifest["rows_quarantined"] <= 0.001 * manifest["rows_read"]


def test_all_the_shop_s_identified_customers_are_kept(manifest):
    # The data set's description counts 4,372 identified customers.
    assert manifest["customers"] == 4372


def test_dates_are_read_month_first_and_span_the_shop_s_year(manifest):
    assert manifest["ts_min"].startswith("2010-12-01")
    assert manifest["ts_max"].startswith("2011-12-09")


def test_shop_local_time_becomes_utc(table):
    # 7/4/2011 16:06 in London (summer time) is 15:06 UTC.
    line = table[(table["order_id"] == "558900") & (table["product_id"] == "23065")]
    assert line["ts"].astype(str).tolist() == ["2011-07-04 15:06:00"]


def test_amount_is_quantity_times_unit_price_and_cancellations_are_returns(table):
    first = table[(table["order_id"] == "536365") & (table["product_id"] == "85123A")]
    assert first["amount"].round(2).tolist() == [15.3]  # 6 x 2.55
    cancelled = table[table["order_id"].str.startswith("C")]
    assert len(cancelled) > 0 and (cancelled["amount"] <= 0).all()


def test_postage_is_kept_and_the_shop_s_own_charges_are_excluded(table, manifest):
    products = set(table["product_id"])
    assert {"POST", "DOT", "C2"} <= products
    assert products.isdisjoint({"BANK CHARGES", "AMAZONFEE", "CRUK", "B"})
    assert manifest["excluded_products"]["BANK CHARGES"] > 0


def test_the_shop_s_money_is_pounds_and_its_model_has_its_own_name():
    cfg = compose_config("train", ["data=online_retail"])
    assert cfg.data.currency == "GBP"
    assert cfg.tracking.registered_model == "churn_online_retail"


def test_features_at_the_defaults(tmp_path):
    out = tmp_path / "features"
    cfg = compose_config("features", ["data=online_retail", f"output_dir={out}"])
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)  # data.transactions is relative to the project, as make runs it
        features_stage.run(cfg)
    table = pd.read_parquet(out / "features.parquet")
    assert table["as_of"].astype(str).unique().tolist() == ["2011-12-09"]
    assert table["customer_id"].is_unique and len(table) > 4000
