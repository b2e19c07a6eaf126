"""Training on a sample of a large shop's customers (churn.modeling.sampling)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from churn.modeling.sampling import keep_sampled_customers, sampled_ids
from churn.modeling.schedule import holdout_customers


def _ids(n: int) -> pd.Series:
    return pd.Series([f"c{i}" for i in range(n)])


def test_the_sample_has_the_number_of_customers_asked_each_once():
    ids = pd.concat([_ids(100), _ids(100)])  # every id twice
    sample = sampled_ids(ids, 30)
    assert len(sample) == 30 and sample.is_unique and set(sample) <= set(ids)


def test_a_shop_with_fewer_customers_than_asked_keeps_them_all():
    assert sorted(sampled_ids(_ids(5), 10)) == sorted(_ids(5))


def test_the_sample_depends_on_the_ids_not_on_their_order():
    ids = _ids(1000)
    assert set(sampled_ids(ids, 100)) == set(sampled_ids(ids[::-1], 100))


def test_the_sample_is_not_the_validation_hold_out():
    # Both are drawn by a hash of the id: with the same hash a 10% sample would be all
    # held out. 10,000 ids, 20% held out: about 200 of the 1,000 sampled (sd 13).
    ids = _ids(10_000)
    held = set(ids[holdout_customers(ids, 0.2)])
    share = sum(c in held for c in sampled_ids(ids, 1000)) / 1000
    assert 0.14 < share < 0.26


def _shop() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        "CREATE TEMP TABLE transactions AS SELECT * FROM (VALUES "
        "('a', 1), ('a', 2), ('b', 3), ('c', 4), ('c', 5), ('c', 6), ('d', 7)"
        ") AS t(customer_id, amount)"
    )
    return con


def test_sampled_customers_keep_every_line_of_theirs_and_no_other():
    con = _shop()
    sample = keep_sampled_customers(con, 2)
    assert (sample.customers, sample.kept, sample.sampled) == (4, 2, True)
    rows = con.execute("SELECT customer_id, amount FROM transactions ORDER BY amount").fetchall()
    kept = set(sampled_ids(pd.Series(list("abcd")), 2))
    lines = {"a": [1, 2], "b": [3], "c": [4, 5, 6], "d": [7]}
    assert rows == [(c, a) for c in sorted(kept) for a in lines[c]]


@pytest.mark.parametrize("max_customers", [None, 4, 10])
def test_a_shop_within_the_limit_is_left_whole(max_customers):
    con = _shop()
    sample = keep_sampled_customers(con, max_customers)
    assert (sample.customers, sample.kept, sample.sampled) == (4, 4, False)
    assert con.execute("SELECT COUNT(*) FROM transactions").fetchone() == (7,)
