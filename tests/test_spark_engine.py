"""engine=spark gives what engine=duckdb gives (issue 8): the same end-to-end run of the
ingest, features and score stages, and the same ingest of a dirty export.

Marked ``spark``: `make test-spark` (which `.ci/run` calls) installs the spark extra and
runs them. Skipped, saying why, without PySpark or Java 17+.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from churn.data.ingest import (
    CsvOptions,
    LeftOut,
    Plausibility,
    SourceSpec,
    ingest_customers,
    ingest_transactions,
    rows_accounted,
)
from churn.engines import duckdb_engine
from churn.errors import ConfigError, DataContractError
from churn.stages import features as features_stage
from churn.stages import ingest as ingest_stage
from churn.stages import score as score_stage
from churn.stages.inputs import open_transactions
from tests.conftest import compose_config, has_java_17

pytest.importorskip("pyspark", reason="the spark extra is not installed")
pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(not has_java_17(), reason="Spark 4 needs a Java 17+ runtime"),
]

AS_OF = "2024-10-31"
# Shops that count a line without a customer id as an error.
STRICT = LeftOut(without_customer="quarantine")
ENGINES = ["duckdb", "spark"]
# Small shuffles: the test data is small, Spark's default of 200 partitions is slow here.
SPARK = [
    "engine=spark",
    "engine.master='local[2]'",
    "engine.options={spark.sql.shuffle.partitions:4}",
]


def engine_overrides(engine: str) -> list[str]:
    return SPARK if engine == "spark" else []


@pytest.fixture(scope="module")
def spark():
    from churn.engines.spark_engine import get_session

    session = get_session("local[2]", {"spark.sql.shuffle.partitions": 4})
    yield session
    session.stop()


@pytest.fixture(scope="module")
def customers_file(small_shop_path, tmp_path_factory) -> Path:
    """Five customers of the small shop opted out of marketing."""
    ids = sorted(pd.read_parquet(small_shop_path)["customer_id"].unique())[:5]
    path = tmp_path_factory.mktemp("customers") / "customers.csv"
    pd.DataFrame({"customer_id": ids, "marketing_opt_out": ["yes"] * 5}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def runs(small_shop_path, customers_file, trained_store, spark, tmp_path_factory):
    """The ingest, features and score stages on each engine, from the same inputs."""
    out = {}
    for engine in ENGINES:
        root = tmp_path_factory.mktemp(engine)
        common = [f"data.transactions={small_shop_path}", *engine_overrides(engine)]
        ingest_stage.run(
            compose_config(
                "ingest", [*common, f"data.customers={customers_file}", f"output_dir={root}/i"]
            )
        )
        features_stage.run(
            compose_config(
                "features", [*common, f"as_of=[2024-07-31,{AS_OF}]", f"output_dir={root}/f"]
            )
        )
        manifest = score_stage.run(
            compose_config(
                "score",
                [
                    *common,
                    *trained_store,
                    f"data.customers={customers_file}",
                    f"as_of={AS_OF}",
                    f"score.output_dir={root}/s",
                    # By tiers, the list holds some of the opted-out five, who are left out.
                    "score.selection=tiers",
                ],
            )
        )
        out[engine] = {"root": root, "score": manifest}
    return out


@pytest.mark.parametrize("engine", ENGINES)
def test_each_engine_writes_every_output_of_the_three_stages(runs, engine):
    root = runs[engine]["root"]
    ingested = pd.read_parquet(root / "i" / "transactions.parquet")
    assert len(ingested) == json.loads((root / "i" / "manifest.json").read_text())["rows_kept"]
    assert (root / "i" / "customers.parquet").exists()
    features = pd.read_parquet(root / "f" / "features.parquet")
    assert features["as_of"].nunique() == 2 and len(features) > 0
    assert not features.duplicated(["customer_id", "as_of"]).any()
    folder = root / "s" / "en" / AS_OF
    assert sorted(p.name for p in folder.iterdir()) == [
        "at_risk_customers.csv",
        "by_action",
        "manifest.json",
        "scores.parquet",
        "summary.html",
    ]
    with open(folder / "at_risk_customers.csv", newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert len(rows) - 1 == runs[engine]["score"]["rows_at_risk"] > 0
    assert runs[engine]["score"]["rows_suppressed_opt_out"] > 0


def test_spark_ingest_writes_the_same_canonical_table_and_manifest(runs):
    duck, spark = (runs[e]["root"] / "i" for e in ENGINES)
    tables = [pd.read_parquet(folder / "transactions.parquet") for folder in (duck, spark)]
    tables = [t.sort_values(list(t.columns)).reset_index(drop=True) for t in tables]
    tables[1]["ts"] = tables[1]["ts"].astype(tables[0]["ts"].dtype)
    pd.testing.assert_frame_equal(tables[1], tables[0])
    manifests = [json.loads((folder / "manifest.json").read_text()) for folder in (duck, spark)]
    assert manifests[1] == manifests[0]


def test_spark_features_equal_duckdb_features(runs):
    duck, spark = (pd.read_parquet(runs[e]["root"] / "f" / "features.parquet") for e in ENGINES)
    pd.testing.assert_frame_equal(spark, duck, check_exact=False, rtol=0, atol=1e-9)


def test_spark_scores_equal_duckdb_scores_and_the_csv_is_byte_identical(runs):
    duck, spark = (runs[e]["root"] / "s" / "en" / AS_OF for e in ENGINES)
    assert (spark / "at_risk_customers.csv").read_bytes() == (
        duck / "at_risk_customers.csv"
    ).read_bytes()
    files = sorted(p.relative_to(duck) for p in duck.glob("by_action/*.csv"))
    assert files == sorted(p.relative_to(spark) for p in spark.glob("by_action/*.csv"))
    assert all((spark / f).read_bytes() == (duck / f).read_bytes() for f in files)
    one_file = pd.read_parquet(duck / "scores.parquet").sort_values("customer_id")
    partitioned = pd.read_parquet(spark / "scores.parquet").sort_values("customer_id")
    assert sorted(p.name for p in (spark / "scores.parquet").glob("risk_tier=*")) == [
        f"risk_tier={t}" for t in sorted(one_file["risk_tier"].unique())
    ]
    partitioned["risk_tier"] = partitioned["risk_tier"].astype(str)
    pd.testing.assert_frame_equal(
        partitioned[one_file.columns].reset_index(drop=True), one_file.reset_index(drop=True)
    )
    counts = ["rows_read", "rows_scored", "rows_at_risk", "rows_suppressed_opt_out"]
    assert {k: runs["spark"]["score"][k] for k in counts} == {
        k: runs["duckdb"]["score"][k] for k in counts
    }


# --- ingest of a dirty export -----------------------------------------------------------

DIRTY = (
    "Cliente;Data;Importo;Canale\n"
    "A;01/03/2024 10:00;1.234,50;web\n"
    "A;01/03/2024 10:00;1.234,50;web\n"  # exact duplicate: dropped and counted
    "B;02/03/2024 23:30;12,00;store\n"  # 23:30 in Rome is 22:30 UTC
    ";03/03/2024 09:00;5,00;web\n"  # customer missing (quarantined with STRICT)
    "C;2024-03-04;7,00;app\n"  # not the configured format
    "D;05/03/2024 08:15;abc;web\n"  # amount not a number
    "E;06/03/2024 12:00;-3,00;web\n"  # a return: kept
)


def dirty_spec(path: Path) -> SourceSpec:
    return SourceSpec(
        transactions=str(path),
        columns={"customer_id": "Cliente", "ts": "Data", "amount": "Importo", "channel": "Canale"},
        csv=CsvOptions(delimiter=";", decimal=",", thousands="."),
        date_format="%d/%m/%Y %H:%M",
        timezone="Europe/Rome",
    )


def test_spark_ingests_a_dirty_export_like_duckdb(tmp_path, spark):
    from churn.data.ingest import ingest_transactions as ingest_transactions_spark

    path = tmp_path / "export.csv"
    path.write_text(DIRTY)
    con = duckdb_engine.connect()
    duck = ingest_transactions(con, dirty_spec(path), max_bad_fraction=1.0, left_out=STRICT)
    on_spark = ingest_transactions_spark(
        spark, dirty_spec(path), max_bad_fraction=1.0, left_out=STRICT
    )

    assert on_spark.manifest == duck.manifest
    assert duck.manifest["quarantine_reasons"] == {
        "amount not a number": 1,
        "customer_id missing": 1,
        "ts unparseable": 1,
    }
    expected = con.execute("SELECT * FROM transactions ORDER BY customer_id").df()
    got = spark.table("transactions").toPandas().sort_values("customer_id").reset_index(drop=True)
    got["ts"] = got["ts"].astype(expected["ts"].dtype)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert str(got.loc[got["customer_id"] == "B", "ts"].iloc[0]) == "2024-03-02 22:30:00"
    quarantined = on_spark.quarantine.sort_values("Cliente", na_position="first")
    assert list(quarantined["reason"]) == [
        "customer_id missing",
        "ts unparseable",
        "amount not a number",
    ]


def test_spark_keeps_the_first_of_a_customer_listed_twice(tmp_path, spark):
    from churn.data.ingest import ingest_customers as ingest_customers_spark

    path = tmp_path / "customers.csv"
    path.write_text("customer_id,marketing_opt_out\nA,yes\nB,0\nA,no\nC,maybe\n")
    spec = SourceSpec(
        transactions=str(path),
        columns={"customer_id": "customer_id", "marketing_opt_out": "marketing_opt_out"},
    )
    duck = ingest_customers(duckdb_engine.connect(), spec, max_bad_fraction=1.0)
    on_spark = ingest_customers_spark(spark, spec, max_bad_fraction=1.0)
    assert on_spark.manifest == duck.manifest
    table = spark.table("customers").toPandas().sort_values("customer_id")
    assert table.to_dict("list") == {"customer_id": ["A", "B"], "marketing_opt_out": [True, False]}


def test_spark_stops_on_too_many_bad_rows_with_the_same_counts_and_reasons(tmp_path, spark):
    from churn.data.ingest import ingest_transactions as ingest_transactions_spark

    path = tmp_path / "export.csv"
    path.write_text(DIRTY)
    with pytest.raises(DataContractError) as duck:
        ingest_transactions(
            duckdb_engine.connect(), dirty_spec(path), max_bad_fraction=0.1, left_out=STRICT
        )
    with pytest.raises(DataContractError) as on_spark:
        ingest_transactions_spark(spark, dirty_spec(path), max_bad_fraction=0.1, left_out=STRICT)
    # The same counts, reasons and advice; the example rows are the first quarantined rows,
    # which need not be the same three (DuckDB does not keep source order through DISTINCT).
    before, after = (str(e.value).split("example rows:") for e in (duck, on_spark))
    assert after[0] == before[0]
    assert after[1].split("]. ")[1] == before[1].split("]. ")[1]


def test_a_query_source_on_spark_is_a_config_error(spark):
    from churn.data.ingest import ingest_transactions as ingest_transactions_spark

    with pytest.raises(ConfigError, match="engine=spark reads files"):
        ingest_transactions_spark(spark, SourceSpec(query="SELECT 1"))


def test_spark_reads_an_iso_format_with_a_literal_t_like_duckdb(tmp_path, spark):
    from churn.data.ingest import ingest_transactions as ingest_transactions_spark

    path = tmp_path / "orders.csv"
    path.write_text("customer_id,ts,amount\nA,2024-03-01T10:05:00,1\nB,01/03/2024,2\n")
    spec = SourceSpec(transactions=str(path), date_format="%Y-%m-%dT%H:%M:%S")
    duck = ingest_transactions(duckdb_engine.connect(), spec, max_bad_fraction=1.0)
    on_spark = ingest_transactions_spark(spark, spec, max_bad_fraction=1.0)
    assert on_spark.manifest == duck.manifest
    assert duck.manifest["rows_kept"] == 1
    assert str(spark.table("transactions").first()["ts"]) == "2024-03-01 10:05:00"


def test_a_new_spark_run_does_not_see_the_customers_of_the_last_one(
    small_shop_path, customers_file, spark, tmp_path
):
    from churn.stages.inputs import open_transactions

    with_customers = compose_config(
        "score",
        [f"data.transactions={small_shop_path}", f"data.customers={customers_file}", *SPARK],
    )
    assert open_transactions(with_customers).columns("customers") is not None
    without = compose_config("score", [f"data.transactions={small_shop_path}", *SPARK])
    assert open_transactions(without).columns("customers") is None


# --- issue 14: implausible values, bad ids, repeated headers, malformed lines -----------

IMPLAUSIBLE_EXPORT = (
    "customer_id,order_id,product_id,ts,amount\n"
    "A,1,p1,2024-01-01 10:00:00,10.5\n"
    "B,2,p2,2024-01-02 11:00:00,3\n"
    "C,3,p3,2024-01-03 10:00:00,1e308\n"
    "D,4,p4,2999-01-01 10:00:00,1\n"
    "E\x00F,5,p5,2024-01-03 10:00:00,1\n"
    "\u00a0\t,6,p6,2024-01-03 10:00:00,1\n"
    "G,7\x07,p7,2024-01-03 10:00:00,1\n"
    "\u2003H\t,8,p8,2024-01-03 10:00:00,1\n"
)
WINDOW = Plausibility(valid_from=dt.date(1990, 1, 1), valid_until=dt.date(2025, 1, 1))


def test_spark_quarantines_implausible_values_and_bad_ids_like_duckdb(tmp_path, spark):
    from churn.data.ingest import ingest_transactions as ingest_transactions_spark

    path = tmp_path / "export.csv"
    path.write_text(IMPLAUSIBLE_EXPORT)
    spec = SourceSpec(transactions=str(path))
    duck = ingest_transactions(
        duckdb_engine.connect(), spec, max_bad_fraction=1.0, plausibility=WINDOW, left_out=STRICT
    )
    on_spark = ingest_transactions_spark(
        spark, spec, max_bad_fraction=1.0, plausibility=WINDOW, left_out=STRICT
    )

    assert on_spark.manifest == duck.manifest
    assert duck.manifest["quarantine_reasons"] == {
        "amount implausible (|value| > ingest.max_abs_value)": 1,
        "ts outside the plausible window (ingest.valid_from..ingest.valid_until)": 1,
        "customer_id has a control character": 1,
        "customer_id missing": 1,
        "order_id has a control character": 1,
    }
    kept = sorted(r["customer_id"] for r in spark.table("transactions").collect())
    assert kept == ["A", "B", "H"]


def test_spark_stops_on_a_repeated_header_name_like_duckdb(tmp_path, spark):
    from churn.data.ingest import ingest_transactions as ingest_transactions_spark

    path = tmp_path / "export.csv"
    path.write_text("customer_id,ts,amount,Amount\nA,2024-01-01,1,2\n")
    spec = SourceSpec(transactions=str(path))
    with pytest.raises(DataContractError) as duck:
        ingest_transactions(duckdb_engine.connect(), spec)
    with pytest.raises(DataContractError) as on_spark:
        ingest_transactions_spark(spark, spec)
    assert str(on_spark.value) == str(duck.value)


def test_spark_quarantines_an_unterminated_quote_and_keeps_the_lines_before_it(tmp_path, spark):
    from churn.data.ingest import ingest_transactions as ingest_transactions_spark

    path = tmp_path / "export.csv"
    path.write_text(
        'customer_id,ts,amount\nA,2024-01-01,1\nB,2024-01-02,2\n"C,2024-01-03,3\nD,2024-01-04,4\n'
    )
    spec = SourceSpec(transactions=str(path))
    duck = ingest_transactions(duckdb_engine.connect(), spec, max_bad_fraction=1.0)
    on_spark = ingest_transactions_spark(spark, spec, max_bad_fraction=1.0)
    counts = ("rows_read", "rows_kept", "rows_quarantined")
    assert [on_spark.manifest[k] for k in counts] == [duck.manifest[k] for k in counts] == [3, 2, 1]
    # Spark does not say what was wrong with a malformed line.
    assert on_spark.manifest["quarantine_reasons"] == {"csv line malformed": 1}


# --- issue 15: guest orders, products that are not purchases, encodings, failed runs ----

GUESTS = (
    "customer_id,order_id,product_id,ts,amount\n"
    "A,1,P1,2024-01-01 10:00:00,10.5\n"
    "B,2,FEE,2024-01-02 11:00:00,-3\n"  # not a purchase
    ",3,P1,2024-01-03 10:00:00,4\n"  # a guest order
    "\t,4,FEE,2024-01-03 10:00:00,4\n"  # a guest order first
    "C,5,P2,never,1\n"  # bad
    "D,6,P2,2024-01-04 10:00:00,2\n"
)


@pytest.mark.parametrize(
    "left_out",
    [LeftOut(), LeftOut(products=("FEE",)), LeftOut(without_customer="quarantine")],
    ids=["guests dropped", "and a product excluded", "guests quarantined"],
)
def test_spark_leaves_out_and_counts_rows_like_duckdb(tmp_path, spark, left_out):
    from churn.data.ingest import ingest_transactions as ingest_transactions_spark

    path = tmp_path / "export.csv"
    path.write_text(GUESTS)
    spec = SourceSpec(transactions=str(path))
    duck = ingest_transactions(
        duckdb_engine.connect(), spec, max_bad_fraction=1.0, left_out=left_out
    )
    on_spark = ingest_transactions_spark(spark, spec, max_bad_fraction=1.0, left_out=left_out)
    assert on_spark.manifest == duck.manifest
    m = duck.manifest
    assert m["rows_read"] == rows_accounted(m)
    kept = sorted(r["customer_id"] for r in spark.table("transactions").collect())
    assert kept == (["A", "D"] if left_out.products else ["A", "B", "D"])


@pytest.mark.parametrize(
    "encoding", ["ISO-8859-1", "latin1", "latin-1", "iso8859-1", "l1", "cp1252", "windows-1252"]
)
def test_spark_reads_each_spelling_of_latin_1_like_duckdb(tmp_path, spark, encoding):
    from churn.data.ingest import ingest_transactions as ingest_transactions_spark

    path = tmp_path / "orders.csv"
    path.write_bytes("customer_id,ts,amount,product_id\nRené,2024-01-01,1,£5\n".encode("latin-1"))
    spec = SourceSpec(transactions=str(path), csv=CsvOptions(encoding=encoding))
    ingest_transactions_spark(spark, spec)
    row = spark.table("transactions").first()
    assert (row["customer_id"], row["product_id"]) == ("René", "£5")


def test_a_failed_spark_ingest_leaves_the_same_report_as_duckdb(tmp_path, spark):
    path = tmp_path / "export.csv"
    path.write_text(GUESTS)
    reports = []
    for engine in ENGINES:
        out = tmp_path / engine
        cfg = compose_config(
            "ingest", [f"data.transactions={path}", f"output_dir={out}", *engine_overrides(engine)]
        )
        with pytest.raises(DataContractError, match="quarantine.csv"):
            open_transactions(cfg, manifest_name="manifest.json")
        manifest = json.loads((out / "manifest.json").read_text())
        quarantine = pd.read_csv(out / "quarantine.csv")
        reports.append(({k: v for k, v in manifest.items() if k != "valid_until"}, quarantine))
    (duck, duck_rows), (on_spark, spark_rows) = reports
    assert on_spark == duck
    assert (duck["rows_quarantined"], duck["rows_without_customer"]) == (1, 2)
    pd.testing.assert_frame_equal(spark_rows, duck_rows)


def test_a_local_session_keeps_its_warehouse_in_the_temp_folder(spark):
    # Only temporary views are used: no spark-warehouse/ in the folder the command ran in.
    warehouse = spark.conf.get("spark.sql.warehouse.dir")
    assert warehouse.endswith(str(Path(tempfile.gettempdir()) / "churn-spark-warehouse"))
