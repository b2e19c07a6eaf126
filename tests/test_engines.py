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
from churn.engines.duckdb_engine import DuckDBEngine, connect
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
