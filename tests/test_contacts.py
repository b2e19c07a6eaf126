"""The contact log: read like the transactions, its bad rows quarantined with a reason and
counted, its group spelled as a campaign tool spells it, and every row accounted for."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlglot

from churn.data.contract import (
    CONTACTS,
    CsvOptions,
    Plausibility,
    SourceSpec,
    TooManyBadRows,
    reason_sql,
    row_rules,
)
from churn.data.ingest import IngestResult, ingest_contacts, rows_accounted
from churn.data.parsing import parse_sql
from churn.engines import duckdb_engine
from churn.errors import ConfigError, DataContractError
from churn.settings import validate_settings
from churn.stages.inputs import combined_manifest, open_contacts, open_transactions, source_spec
from tests.conftest import compose_config

# The mapping data.contact_columns ships with.
COLUMNS = {
    "customer_id": "customer_id",
    "contacted_at": "contacted_at",
    "campaign": "campaign",
    "contact_group": "group",
}
ORDERS = "customer_id,order_id,ts,amount\nA,1,2024-01-01 10:00:00,10.5\nB,2,2024-01-02 11:00:00,3\n"


def log(*rows: tuple[str | None, ...], group: bool = True) -> pd.DataFrame:
    """A contact log from ``(customer_id, contacted_at, campaign[, group])`` rows."""
    columns = ["customer_id", "contacted_at", "campaign"] + (["group"] if group else [])
    return pd.DataFrame(list(rows), columns=columns)


def ingest(frame: pd.DataFrame, **kw) -> tuple[duckdb.DuckDBPyConnection, IngestResult]:
    con = duckdb_engine.connect()
    kw.setdefault("max_bad_fraction", 1.0)
    return con, ingest_contacts(con, SourceSpec(columns=COLUMNS), frame=frame, **kw)


def contacts(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "SELECT customer_id, CAST(contacted_at AS VARCHAR), campaign, contact_group "
        "FROM contacts ORDER BY customer_id, contacted_at"
    ).fetchall()


# --- a clean log -------------------------------------------------------------------------


def test_a_clean_log_ingests_with_its_counts_dates_and_campaigns():
    con, result = ingest(
        log(
            ("A", "2024-03-01 09:00:00", "winback", "contact"),
            ("B", "2024-03-01 09:05:00", "winback", "control"),
            ("A", "2024-04-02", "loyalty", "contact"),
        )
    )
    assert contacts(con) == [
        ("A", "2024-03-01 09:00:00", "winback", "contact"),
        ("A", "2024-04-02 00:00:00", "loyalty", "contact"),
        ("B", "2024-03-01 09:05:00", "winback", "control"),
    ]
    m = result.manifest
    assert (m["rows_read"], m["rows_kept"], m["rows_quarantined"]) == (3, 3, 0)
    assert m["duplicates_dropped"] == 0
    assert (m["contacted_from"], m["contacted_until"]) == (
        "2024-03-01 09:00:00",
        "2024-04-02 00:00:00",
    )
    assert (m["campaigns"], m["customers"]) == (2, 2)
    assert m["contact_groups"] == {"contact": 2, "control": 1}
    assert rows_accounted(m) == m["rows_read"]


# --- contract violations -----------------------------------------------------------------


def test_a_missing_required_column_names_the_file_the_column_and_the_setting(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("customer_id,sent,campaign\nA,2024-03-01,winback\n")
    with pytest.raises(DataContractError) as err:
        ingest_contacts(duckdb_engine.connect(), SourceSpec(str(path), columns=COLUMNS))
    message = str(err.value)
    assert str(path) in message
    assert "column contacted_at: source column 'contacted_at' not found" in message
    assert "required by the contract" in message
    assert "data.contact_columns.contacted_at=contacted_at" in message
    assert "columns found: customer_id, sent, campaign" in message


def test_a_column_not_in_the_contact_contract_is_a_setting_error():
    with pytest.raises(ConfigError, match="not columns of the contacts contract"):
        ingest_contacts(
            duckdb_engine.connect(),
            SourceSpec(columns={**COLUMNS, "amount": "campaign"}),
            frame=log(("A", "2024-03-01", "winback", "contact")),
        )


# --- row rules: quarantined with a reason, and counted ----------------------------------


def test_an_unparseable_contact_time_is_quarantined_and_counted():
    con, result = ingest(
        log(("A", "2024-03-01", "winback", "contact"), ("B", "next tuesday", "winback", "contact"))
    )
    assert result.quarantine["reason"].tolist() == ["contacted_at unparseable"]
    assert result.quarantine["contacted_at"].tolist() == ["next tuesday"]
    assert result.manifest["quarantine_reasons"] == {"contacted_at unparseable": 1}
    assert [r[0] for r in contacts(con)] == ["A"]


def test_a_contact_without_a_customer_is_quarantined_not_left_out():
    _, result = ingest(
        log(("A", "2024-03-01", "winback", None), (" ", "2024-03-01", "winback", None))
    )
    assert result.quarantine["reason"].tolist() == ["customer_id missing"]
    m = result.manifest
    assert (m["rows_quarantined"], m["rows_without_customer"], m["rows_kept"]) == (1, 0, 1)


def test_a_group_neither_contact_nor_control_is_quarantined_and_counted():
    _, result = ingest(
        log(("A", "2024-03-01", "winback", "contact"), ("B", "2024-03-01", "winback", "maybe"))
    )
    assert result.quarantine["reason"].tolist() == ["contact_group not contact or control"]
    assert result.quarantine["group"].tolist() == ["maybe"]
    assert result.manifest["quarantine_reasons"] == {"contact_group not contact or control": 1}
    assert result.manifest["contact_groups"] == {"contact": 1, "control": 0}


def test_a_contact_time_outside_the_plausible_window_is_quarantined():
    window = Plausibility(valid_from=dt.date(2020, 1, 1), valid_until=dt.date(2024, 12, 31))
    _, result = ingest(
        log(("A", "2024-03-01", "winback", ""), ("B", "2031-01-01", "winback", "")),
        plausibility=window,
    )
    assert result.quarantine["reason"].tolist() == [
        "contacted_at outside the plausible window (ingest.valid_from..ingest.valid_until)"
    ]


# --- the group, as campaign tools spell it ----------------------------------------------


def test_group_spellings_are_normalised_in_any_case_once_trimmed():
    spellings = ["contact", " Treatment", "TREATED\t", "Control", " holdout ", "", None]
    con, result = ingest(
        log(*((f"C{i}", "2024-03-01", "winback", g) for i, g in enumerate(spellings)))
    )
    assert [r[3] for r in contacts(con)] == [
        *("contact", "contact", "contact", "control", "control", "contact", "contact")
    ]
    assert result.manifest["rows_quarantined"] == 0


def test_a_log_without_a_group_column_is_all_contacted():
    con, result = ingest(
        log(("A", "2024-03-01", "winback"), ("B", "2024-03-02", "winback"), group=False)
    )
    assert [r[3] for r in contacts(con)] == ["contact", "contact"]
    assert result.manifest["contact_groups"] == {"contact": 2, "control": 0}
    assert "contact_group" not in result.manifest["columns_mapped"]


# --- duplicates and the limit on bad rows ------------------------------------------------


def test_exact_duplicate_contacts_are_dropped_and_counted():
    con, result = ingest(
        log(
            ("A", "2024-03-01", "winback", "contact"),
            ("A", "2024-03-01", "winback", "contact"),
            ("A", "2024-03-08", "winback", "contact"),
        )
    )
    m = result.manifest
    assert (m["rows_read"], m["rows_kept"], m["duplicates_dropped"]) == (3, 2, 1)
    assert rows_accounted(m) == 3
    assert len(contacts(con)) == 2


def test_too_many_bad_contacts_stop_the_ingest_with_the_counts():
    with pytest.raises(TooManyBadRows) as err:
        ingest(
            log(("A", "2024-03-01", "winback", "contact"), ("B", "soon", "winback", "contact")),
            max_bad_fraction=0.1,
        )
    assert err.value.table == "contacts"
    assert "data.contact_columns.*" in str(err.value)
    failed = err.value.result.manifest
    assert (failed["rows_read"], failed["rows_kept"], failed["rows_quarantined"]) == (2, 1, 1)


# --- through the stages' inputs ----------------------------------------------------------


def stage_config(tmp_path: Path, log_text: str, *extra: str, orders_text: str = ORDERS):
    orders = tmp_path / "orders.csv"
    orders.write_text(orders_text)
    path = tmp_path / "contacts.csv"
    path.write_text(log_text)
    return compose_config(
        "ingest",
        [
            f"data.transactions={orders}",
            f"data.contacts={path}",
            f"output_dir={tmp_path / 'out'}",
            *extra,
        ],
    )


def test_too_many_bad_contacts_leave_their_quarantine_and_exit_3(tmp_path):
    cfg = stage_config(
        tmp_path, "customer_id,contacted_at,campaign,group\nA,2024-03-01,w,contact\nB,x,w,y\n"
    )
    opened = open_transactions(cfg)
    with pytest.raises(DataContractError) as err:
        open_contacts(cfg, opened)
    out = tmp_path / "out"
    assert err.value.exit_code == 3
    assert str(out / "contacts_quarantine.csv") in str(err.value)
    assert str(out / "ingest_manifest.json") in str(err.value)
    quarantine = pd.read_csv(out / "contacts_quarantine.csv")
    assert quarantine["reason"].tolist() == [
        "contact_group not contact or control; contacted_at unparseable"
    ]
    manifest = json.loads((out / "ingest_manifest.json").read_text())
    assert manifest["rows_kept"] == 2  # the transactions, kept alongside
    assert manifest["contacts_table"]["rows_quarantined"] == 1
    assert "ingest.max_bad_fraction" in manifest["contacts_table"]["error"]


def test_a_contact_log_csv_on_disk_reads_with_its_own_dialect(tmp_path):
    # A campaign tool's export: data.contact_csv.*, data.contact_date_format.
    cfg = stage_config(
        tmp_path,
        "customer_id;sent;campaign;group\nA;01/03/2024 09:30;winback;Holdout\n",
        "data.contact_csv.delimiter=';'",
        "data.contact_date_format='%d/%m/%Y %H:%M'",
        "data.contact_columns.contacted_at=sent",
    )
    opened = open_transactions(cfg)
    result = open_contacts(cfg, opened)
    assert opened.contacts is result
    assert opened.rows(
        "SELECT customer_id, CAST(contacted_at AS VARCHAR), campaign, contact_group FROM contacts"
    ) == [("A", "2024-03-01 09:30:00", "winback", "control")]
    assert combined_manifest(opened)["contacts_table"]["rows_kept"] == 1


def test_without_a_contact_log_nothing_is_read(tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS)
    cfg = compose_config("ingest", [f"data.transactions={orders}", f"output_dir={tmp_path}"])
    opened = open_transactions(cfg)
    assert open_contacts(cfg, opened) is None
    assert opened.contacts is None and opened.columns("contacts") is None
    assert "contacts_table" not in combined_manifest(opened)


# --- configuration -----------------------------------------------------------------------


def test_the_contact_log_settings_compose_and_validate():
    cfg = compose_config(
        "ingest",
        ["data.contacts=log.csv", "data.contact_columns.contact_group=segment"],
    )
    validate_settings(cfg)
    spec = source_spec(cfg.data, "contacts")
    assert spec.transactions == "log.csv" and spec.query is None
    assert dict(spec.columns) == {**COLUMNS, "contact_group": "segment"}
    assert spec.csv == CsvOptions()


@pytest.mark.parametrize("data", ["online_retail", "complete_journey", "demo"])
def test_every_shipped_data_config_has_no_contact_log_and_the_default_columns(data):
    cfg = compose_config("ingest", [f"data={data}"])
    validate_settings(cfg)
    assert cfg.data.contacts is None
    assert dict(cfg.data.contact_columns) == COLUMNS


def test_a_null_required_contact_column_is_refused():
    with pytest.raises(ConfigError) as refused:
        validate_settings(compose_config("ingest", ["data.contact_columns.campaign=null"]))
    assert "data.contact_columns.campaign=null: must name the contact log's column" in str(
        refused.value
    )


def test_a_null_group_column_is_allowed():
    validate_settings(compose_config("ingest", ["data.contact_columns.contact_group=null"]))


# --- one query for both engines ----------------------------------------------------------


def test_the_contact_log_parse_query_and_rules_transpile_to_spark_sql():
    types = {source: "VARCHAR" for source in COLUMNS.values()}
    sql, parsed = parse_sql(CONTACTS, COLUMNS, types, SourceSpec(), "_row", dialect="spark")
    checks = f"SELECT {reason_sql(row_rules(CONTACTS, parsed))} AS reason FROM ({sql})"
    spark = sqlglot.transpile(
        checks, read="duckdb", write="spark", unsupported_level=sqlglot.ErrorLevel.RAISE
    )[0]
    assert "'contact_group not contact or control'" in spark
    assert "WHEN 'holdout' THEN 'control'" in spark


def test_an_iso_contact_log_reads_beside_a_shops_own_date_format(tmp_path):
    # The shop exports month-first dates in Latin-1; the campaign tool ISO 8601 in UTF-8.
    cfg = stage_config(
        tmp_path,
        "customer_id,contacted_at,campaign\nA,2024-03-01 09:30,winback\n",
        "data.date_format='%m/%d/%Y %H:%M'",
        "data.csv.encoding=latin-1",
        orders_text="customer_id,order_id,ts,amount\nA,1,1/2/2024 10:00,10\n",
    )
    opened = open_transactions(cfg)
    open_contacts(cfg, opened)
    assert opened.rows("SELECT CAST(contacted_at AS VARCHAR) FROM contacts") == [
        ("2024-03-01 09:30:00",)
    ]
