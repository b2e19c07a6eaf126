"""The engine interface: each engine holds named tables, runs DuckDB-dialect SQL, and
evaluates the row rules declared next to the contract to the same reasons.

The ``spark`` cases are marked (``-m spark``) and skipped without PySpark or Java 17+.
"""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

from churn.data.contract import (
    TRANSACTIONS,
    RowRule,
    TableContract,
    reason_counts,
    reason_sql,
    row_rules,
)
from churn.engines import as_engine
from churn.engines.base import EngineError
from churn.engines.duckdb_engine import DuckDBEngine, connect, find_duplicates
from churn.errors import ConfigError
from tests.conftest import has_java_17

spark_case = pytest.param(
    "spark",
    marks=[
        pytest.mark.spark,
        pytest.mark.skipif(
            importlib.util.find_spec("pyspark") is None or not has_java_17(),
            reason="needs the spark extra and a Java 17+ runtime",
        ),
    ],
)


@pytest.fixture(scope="module")
def spark_session():
    from churn.engines.spark_engine import get_session

    session = get_session("local[1]", {"spark.sql.shuffle.partitions": 2})
    yield session
    session.stop()


@pytest.fixture(params=["duckdb", spark_case])
def engine(request):
    if request.param == "duckdb":
        return DuckDBEngine(connect())
    from churn.engines.spark_engine import SparkEngine

    return SparkEngine(request.getfixturevalue("spark_session"))


def load(engine, table: str, frame: pd.DataFrame) -> None:
    engine.read_frame(frame, table)


# --- tables -------------------------------------------------------------------------------


def test_a_table_that_was_never_created_has_no_columns(engine):
    assert engine.columns("nowhere") is None


def test_a_created_table_has_the_columns_of_its_select(engine):
    load(engine, "numbers", pd.DataFrame({"n": [1, 2, 3]}))
    engine.create("doubled", "SELECT n, n * 2 AS twice FROM numbers")
    assert engine.columns("doubled") == ["n", "twice"]
    assert sorted(engine.rows("SELECT twice FROM doubled")) == [(2,), (4,), (6,)]


def test_a_dropped_table_is_gone(engine):
    load(engine, "numbers", pd.DataFrame({"n": [1]}))
    engine.drop("numbers")
    assert engine.columns("numbers") is None


def test_a_view_that_cannot_run_is_an_engine_error(engine):
    load(engine, "numbers", pd.DataFrame({"n": [1]}))
    with pytest.raises(EngineError):
        engine.create("broken", "SELECT no_such_column FROM numbers", materialize=False)


def test_deduplicating_keeps_the_first_of_identical_rows_by_source_position(engine):
    load(engine, "raw", pd.DataFrame({"id": ["A", "B", "A", "C", "B"]}))
    key = engine.deduplicate("raw", "staged", keep_first=True)
    rows = engine.rows(f"SELECT id FROM staged ORDER BY {key}")
    assert rows == [("A",), ("B",), ("C",)]


def test_duplicates_are_found_exactly_whatever_the_hash_says():
    # A hash that every row shares makes every row a candidate: only the rows equal to
    # an earlier one over every column (NULL equal to NULL) are duplicates.
    con = connect()
    con.register(
        "frame",
        pd.DataFrame(
            {
                "a": ["x", "x", "y", "x", None, None, "x"],
                "b": [1.0, 1.0, 1.0, 2.0, None, None, None],
            }
        ),
    )
    con.execute("CREATE TEMP TABLE raw AS SELECT * FROM frame")
    numbered = "SELECT rowid AS k, * FROM raw"
    found = find_duplicates(con, numbered, "k", ["a", "b"], "dups", row_hash="0")
    assert found == 2
    assert con.execute("SELECT k FROM dups ORDER BY k").fetchall() == [(1,), (5,)]
    # The real hash: no shared value among distinct rows, and no table to read.
    con.execute("CREATE TEMP TABLE distinct_raw AS SELECT DISTINCT * FROM raw")
    numbered = "SELECT rowid AS k, * FROM distinct_raw"
    assert find_duplicates(con, numbered, "k", ["a", "b"], "none") == 0
    assert con.execute("SELECT COUNT(*) FROM none").fetchall() == [(0,)]


def test_a_colliding_hash_drops_no_distinct_row_in_an_ingest(tmp_path, monkeypatch):
    from churn.data.contract import SourceSpec
    from churn.data.ingest import ingest_transactions
    from churn.engines import duckdb_engine

    real = duckdb_engine.find_duplicates
    monkeypatch.setattr(
        duckdb_engine,
        "find_duplicates",
        lambda *args, **kwargs: real(*args, **{**kwargs, "row_hash": "42"}),
    )
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id,ts,amount\nA,2024-01-01,1\nB,2024-01-01,1\nA,2024-01-01,1\n"
        "A,2024-01-02,1\nB,2024-01-01,1\n"
    )
    con = connect()
    result = ingest_transactions(con, SourceSpec(transactions=str(path)))
    assert result.manifest["duplicates_dropped"] == 2
    assert sorted(con.execute("SELECT customer_id, ts FROM transactions").fetchall()) == [
        ("A", pd.Timestamp("2024-01-01")),
        ("A", pd.Timestamp("2024-01-02")),
        ("B", pd.Timestamp("2024-01-01")),
    ]


def test_keeping_rows_keeps_the_columns_asked_for_of_the_rows_that_pass(engine):
    load(engine, "raw", pd.DataFrame({"n": [3, 1, 2, 4], "flag": [None, "x", None, None]}))
    engine.create("checked", "SELECT n, n * 10 AS tens, flag FROM raw")
    engine.keep_rows("checked", "kept", ["n", "tens"], "flag IS NULL AND n < 4")
    engine.drop("checked")
    assert engine.columns("kept") == ["n", "tens"]
    assert sorted(engine.rows("SELECT n, tens FROM kept")) == [(2, 20), (3, 30)]
    engine.create("checked", "SELECT n, n * 10 AS tens, flag FROM raw")
    engine.keep_rows("checked", "ordered", ["tens"], "flag IS NULL", order_by="n")
    engine.drop("checked")
    assert engine.frame("SELECT tens FROM ordered")["tens"].tolist() == [20, 30, 40]


# --- row rules ----------------------------------------------------------------------------

# The parse query's flags of five amounts (as text: a frame would carry NaN as NULL).
FLAGS = pd.DataFrame(
    {
        "_row": [1, 2, 3, 4, 5],
        "text": ["10", "NaN", "Infinity", "2e12", None],
        "amount__present": [True, True, True, True, False],
        "amount__parsed": [True, True, True, True, False],
    }
)
AMOUNT_ONLY = TableContract(table="t", kinds={"amount": "number"}, required=("amount",))


def reasons(engine, rules: list[RowRule]) -> list[str | None]:
    load(engine, "texts", FLAGS)
    engine.create("flags", "SELECT *, CAST(text AS DOUBLE) AS amount FROM texts")
    rows = engine.rows(f"SELECT _row, {reason_sql(rules)} FROM flags ORDER BY _row")
    return [reason for _, reason in rows]


def test_each_number_rule_names_the_one_it_breaks(engine):
    assert reasons(engine, row_rules(AMOUNT_ONLY, ["amount"], max_abs_value=1e12)) == [
        None,
        "amount not finite",
        "amount not finite",
        "amount implausible (|value| > ingest.max_abs_value)",
        "amount missing",
    ]


def test_a_row_that_breaks_several_rules_lists_them_alphabetically(engine):
    rules = [RowRule("zeta", "_row = 1"), RowRule("alpha", "_row IN (1, 2)")]
    assert reasons(engine, rules)[:3] == ["alpha; zeta", "alpha", None]


def test_rules_are_declared_for_the_columns_a_source_has():
    names = [r.reason for r in row_rules(TRANSACTIONS, ["customer_id", "ts"])]
    assert names == [
        "customer_id missing",
        "customer_id has a control character",
        "ts missing",
        "ts unparseable",
        "ts not finite",
        "ts outside the plausible window (ingest.valid_from..ingest.valid_until)",
    ]


def test_reason_counts_count_each_rule_of_a_combined_reason():
    assert reason_counts([("a; b", 2), ("b", 3)]) == {"a": 2, "b": 5}


# --- wrapping -----------------------------------------------------------------------------


def test_a_duckdb_connection_is_wrapped_in_its_engine_and_an_engine_passes_as_is():
    con = connect()
    wrapped = as_engine(con)
    assert wrapped.duckdb_connection() is con
    assert as_engine(wrapped) is wrapped


@pytest.mark.parametrize("which", [spark_case])
def test_a_spark_engine_has_no_duckdb_connection(which, spark_session):
    from churn.engines.spark_engine import SparkEngine

    with pytest.raises(ConfigError, match="DuckDB only"):
        SparkEngine(spark_session).duckdb_connection()
