"""Reading transactions: contract errors name the file, the rule and the columns found."""

from __future__ import annotations

import pandas as pd
import pytest

from churn import data
from churn.errors import DataContractError


def test_missing_required_column_names_file_column_and_columns_found(tmp_path):
    path = tmp_path / "orders.csv"
    pd.DataFrame({"CustomerID": ["A"], "ts": ["2024-01-01"], "amount": [1.0]}).to_csv(
        path, index=False
    )
    with pytest.raises(DataContractError) as err:
        data.register_transactions(data.connect(), str(path))
    message = str(err.value)
    assert str(path) in message
    assert "customer_id" in message
    assert "columns found: CustomerID, ts, amount" in message


def test_missing_file_is_a_contract_error(tmp_path):
    with pytest.raises(DataContractError, match="no such file"):
        data.register_transactions(data.connect(), str(tmp_path / "nope.parquet"))


def test_empty_file_is_a_contract_error(tmp_path):
    path = tmp_path / "empty.parquet"
    pd.DataFrame(
        {
            "customer_id": pd.Series([], dtype=str),
            "ts": pd.Series([], dtype="datetime64[us]"),
            "amount": pd.Series([], dtype=float),
        }
    ).to_parquet(path)
    with pytest.raises(DataContractError, match="no rows"):
        data.register_transactions(data.connect(), str(path))


def test_csv_and_parquet_give_the_same_canonical_view(tmp_path):
    frame = pd.DataFrame(
        {
            "customer_id": ["A", "B"],
            "order_id": ["1", "2"],
            "ts": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 11:30"]),
            "amount": [10.5, -2.0],
        }
    )
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    views = []
    for name in ("t.csv", "t.parquet"):
        con = data.connect()
        data.register_transactions(con, str(tmp_path / name))
        views.append(con.execute("SELECT * FROM transactions ORDER BY customer_id").df())
    pd.testing.assert_frame_equal(views[0], views[1])


def test_date_range_is_first_and_last_calendar_day(tmp_path):
    frame = pd.DataFrame(
        {
            "customer_id": ["A", "B"],
            "ts": pd.to_datetime(["2024-01-01 00:00", "2024-02-03 23:59"]),
            "amount": [1.0, 2.0],
        }
    )
    con = data.connect()
    data.register_transactions(con, frame)
    first, last = data.date_range(con)
    assert (first.isoformat(), last.isoformat()) == ("2024-01-01", "2024-02-03")
