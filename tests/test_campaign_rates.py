"""Response and conversion rates per campaign and month of contact, on a tiny hand-made
history and contact log; the data end on 30 June 2024.

Campaign ``winter``, contacts on 5 Feb 2024 at 09:00 (its 14 days end on 19 Feb at 09:00,
its 90 days on 5 May at 09:00):
  A orders on 10 Feb (responds, converts), and is contacted again on 20 Feb;
  B orders on 20 Mar (converts only); C returns an item on 8 Feb (a refund is no order);
  D orders on 5 May at 10:00, an hour after the 90 days; H's order began on 4 Feb, the
  day before the contact, with a second line on 6 Feb (not a new order);
  E (``holdout``) orders on 12 Feb, F (control) not at all: the control group;
  G is contacted on 1 Mar and orders on 5 Mar (month of contact March).
Campaign ``summer``: I (blank group) contacted on 15 May, orders on 10 Jun (26 days
later); A contacted on 15 May, no order; J contacted on 25 Jun, orders on 28 Jun.

By hand: winter Feb: 5 contacted (A, B, C, D, H), response 1/5 = 20%, conversion
2/5 = 40%; control 2 (E, F), response and conversion 1/2 = 50%. Winter Mar: 1 contacted,
100% and 100%, no control. Summer May: 2 contacted, response 0/2 = 0% (final: 29 May),
conversion 1/2 = 50% not final (13 Aug is after 30 Jun). Summer Jun: 1 contacted, 100%
and 100%, neither final (the 14 days end on 9 Jul).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from churn.outcomes.windows import campaign_outcomes
from churn.reporting.campaigns import CAMPAIGN_MONTH_COLUMNS, campaigns_by_month, list_contacts
from tests.conftest import connect_to, ingest_contact_log, make_transactions

LAST_DATE = dt.date(2024, 6, 30)

HISTORY = [
    ("A", "a1", "2024-01-05 10:00", 20.0),
    ("A", "a2", "2024-02-10 10:00", 30.0),
    ("B", "b1", "2024-01-06 10:00", 20.0),
    ("B", "b2", "2024-03-20 10:00", 25.0),
    ("C", "c1", "2024-01-07 10:00", 20.0),
    ("C", "rc1", "2024-02-08 10:00", -20.0),
    ("D", "d1", "2024-01-08 10:00", 20.0),
    ("D", "d2", "2024-05-05 10:00", 20.0),
    ("H", "h1", "2024-02-04 10:00", 10.0),
    ("H", "h1", "2024-02-06 10:00", 5.0),
    ("E", "e1", "2024-02-12 10:00", 15.0),
    ("F", "f1", "2024-01-09 10:00", 10.0),
    ("G", "g1", "2024-03-05 10:00", 10.0),
    ("I", "i1", "2024-06-10 10:00", 10.0),
    ("J", "j1", "2024-06-28 10:00", 10.0),
    ("K", "k1", "2024-06-30 12:00", 10.0),
]
LOG = [
    ("A", "2024-02-05 09:00", "winter", "contact"),
    ("A", "2024-02-20 09:00", "winter", "contact"),
    ("B", "2024-02-05 09:00", "winter", "contact"),
    ("C", "2024-02-05 09:00", "winter", "contact"),
    ("D", "2024-02-05 09:00", "winter", "contact"),
    ("H", "2024-02-05 09:00", "winter", "contact"),
    ("E", "2024-02-05 09:00", "winter", "holdout"),
    ("F", "2024-02-05 09:00", "winter", "control"),
    ("G", "2024-03-01 09:00", "winter", "contact"),
    ("I", "2024-05-15 09:00", "summer", ""),
    ("A", "2024-05-15 09:00", "summer", "contact"),
    ("J", "2024-06-25 09:00", "summer", "contact"),
]


@pytest.fixture(scope="module")
def con():
    con = connect_to(make_transactions(HISTORY))
    ingest_contact_log(con, LOG)
    return con


@pytest.fixture(scope="module")
def customers(con) -> pd.DataFrame:
    return campaign_outcomes(con, conversion_days=90, response_days=14).set_index(
        ["campaign", "customer_id"]
    )


@pytest.fixture(scope="module")
def months(con) -> pd.DataFrame:
    outcomes = campaign_outcomes(con, conversion_days=90, response_days=14)
    table = campaigns_by_month(outcomes, LAST_DATE, response_days=14, conversion_days=90)
    return table.set_index(["campaign", "month"])


def test_a_campaign_month_has_its_contacted_customers(months):
    assert months["contacted"].to_dict() == {
        ("winter", "2024-02"): 5,
        ("winter", "2024-03"): 1,
        ("summer", "2024-05"): 2,
        ("summer", "2024-06"): 1,
    }


def test_campaigns_come_in_the_order_of_their_first_contact(months):
    assert list(months.index) == [
        ("winter", "2024-02"),
        ("winter", "2024-03"),
        ("summer", "2024-05"),
        ("summer", "2024-06"),
    ]


def test_the_response_rate_counts_orders_within_14_days_of_the_contact(months):
    assert months.loc[("winter", "2024-02"), "responded"] == 1
    assert months.loc[("winter", "2024-02"), "response_rate"] == pytest.approx(0.2)


def test_the_conversion_rate_counts_orders_within_90_days_of_the_contact(months):
    assert months.loc[("winter", "2024-02"), "converted"] == 2
    assert months.loc[("winter", "2024-02"), "conversion_rate"] == pytest.approx(0.4)


def test_an_order_an_hour_after_the_90_days_is_no_conversion(customers):
    assert customers.loc[("winter", "D"), "converted"] == 0


def test_a_refund_is_no_order(customers):
    assert customers.loc[("winter", "C"), ["responded", "converted"]].tolist() == [0, 0]


def test_an_order_begun_before_the_contact_is_no_response(customers):
    assert customers.loc[("winter", "H"), ["responded", "converted"]].tolist() == [0, 0]


def test_a_customer_counts_once_per_campaign_from_the_first_contact(customers):
    assert customers.loc[("winter", "A"), "contacted_at"] == pd.Timestamp("2024-02-05 09:00")
    assert customers.loc[("winter", "A"), "responded"] == 1


def test_a_customer_counts_in_each_campaign_that_contacted_them(customers):
    assert customers.loc[("summer", "A"), ["responded", "converted"]].tolist() == [0, 0]


def test_a_blank_group_is_a_contact(customers):
    assert customers.loc[("summer", "I"), "contact_group"] == "contact"


def test_the_control_group_has_its_own_rates(months):
    row = months.loc[("winter", "2024-02")]
    assert row["control"] == 2
    assert row["control_response_rate"] == pytest.approx(0.5)
    assert row["control_conversion_rate"] == pytest.approx(0.5)


def test_a_month_without_control_has_no_control_rates(months):
    row = months.loc[("winter", "2024-03")]
    assert row["control"] == 0
    assert pd.isna(row["control_response_rate"]) and pd.isna(row["control_conversion_rate"])


def test_windows_over_by_the_data_end_are_complete(months):
    for month in ("2024-02", "2024-03"):
        row = months.loc[("winter", month)]
        assert row["response_complete"] and row["conversion_complete"]


def test_a_conversion_window_past_the_data_end_is_not_complete(months):
    row = months.loc[("summer", "2024-05")]
    assert row["response_complete"] and not row["conversion_complete"]
    assert row["conversion_rate"] == pytest.approx(0.5)


def test_a_response_window_past_the_data_end_is_not_complete(months):
    row = months.loc[("summer", "2024-06")]
    assert not row["response_complete"] and not row["conversion_complete"]
    assert row["response_rate"] == 1.0


def test_log_campaigns_are_not_lists(months):
    assert months["list_as_of"].isna().all()


def test_no_contacts_give_an_empty_table_with_the_columns(con):
    outcomes = campaign_outcomes(con, 90, 14, contacts=list_contacts([]))
    table = campaigns_by_month(outcomes, LAST_DATE, 14, 90)
    assert table.empty and list(table.columns) == CAMPAIGN_MONTH_COLUMNS


# --- stored lists without a contact log ---------------------------------------------------

LIST_SCORES = pd.DataFrame(
    {
        "customer_id": ["A", "B", "E", "K"],
        "group": ["contact", "contact", "control", "not_selected"],
    }
)


def test_a_list_is_contacted_the_day_after_its_date_without_the_customers_not_chosen():
    contacts = list_contacts([(dt.date(2024, 2, 4), LIST_SCORES)])
    assert contacts["customer_id"].tolist() == ["A", "B", "E"]
    assert contacts["contact_group"].tolist() == ["contact", "contact", "control"]
    assert (contacts["contacted_at"] == pd.Timestamp("2024-02-05 00:00")).all()
    assert set(contacts["campaign"]) == {"list of 2024-02-04"}


def test_a_list_is_a_campaign_with_its_control_group(con):
    contacts = list_contacts([(dt.date(2024, 2, 4), LIST_SCORES)])
    outcomes = campaign_outcomes(con, 90, 14, contacts=contacts)
    row = campaigns_by_month(
        outcomes, LAST_DATE, 14, 90, {"list of 2024-02-04": "2024-02-04"}
    ).iloc[0]
    # A ordered on 10 Feb, B on 20 Mar, E (control) on 12 Feb.
    assert (row["campaign"], row["list_as_of"], row["month"]) == (
        "list of 2024-02-04",
        "2024-02-04",
        "2024-02",
    )
    assert (row["contacted"], row["response_rate"], row["conversion_rate"]) == (2, 0.5, 1.0)
    assert (row["control"], row["control_response_rate"]) == (1, 1.0)
