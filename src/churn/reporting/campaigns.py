"""Campaigns in the retention report: response and conversion rates per campaign and month
of contact, contacted customers beside the control group.

A campaign's customers and their outcomes come from
:func:`churn.outcomes.windows.campaign_outcomes`, which reads the contact log (or the stored
lists, see :func:`list_contacts`) with the outcomes' own definitions. Per campaign and
calendar month of the customers' contact:

* **response rate** = contacted customers who ordered within ``response_days`` of their
  contact / contacted customers;
* **conversion rate** = contacted customers who ordered within ``conversion_days`` of
  their contact / contacted customers;
* the same for the campaign's control customers (held out, not contacted), when it has
  some;
* a window is **complete** once the data reach its end (the data's last day through its
  end): until then the month's rate counts only the orders so far and can still rise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from churn.outcomes.arms import assign_arms
from churn.outcomes.windows import assumed_contact_time

CAMPAIGN_MONTH_COLUMNS = [
    "campaign",
    "list_as_of",
    "month",
    "contacted",
    "responded",
    "response_rate",
    "converted",
    "conversion_rate",
    "control",
    "control_responded",
    "control_response_rate",
    "control_converted",
    "control_conversion_rate",
    "response_complete",
    "conversion_complete",
]


def list_name(as_of: dt.date) -> str:
    """The campaign name of a stored list without a contact log: ``list of <as_of>``."""
    return f"list of {as_of.isoformat()}"


def list_contacts(lists: Iterable[tuple[dt.date, pd.DataFrame]]) -> pd.DataFrame:
    """The contact rows of stored lists without a contact log: each list is one campaign
    (:func:`list_name`), its ``contact`` and ``control`` customers (the list's draw,
    ``group``) taken as contacted the day after its date.

    Parameters
    ----------
    lists : iterable of (date, DataFrame)
        Each list's ``as_of`` and its customers: ``customer_id`` and ``group`` (``contact``,
        ``control`` or ``not_selected``).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``contacted_at``, ``campaign``, ``contact_group`` and ``list_as_of``
        (ISO date), as :func:`churn.outcomes.windows.campaign_outcomes` reads them.
    """
    frames = []
    for as_of, scores in lists:
        arm = assign_arms(scores["group"], pd.Series(None, index=scores.index), log_given=False)
        chosen = arm.isin(["contact", "control"])
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": scores.loc[chosen, "customer_id"].astype(str),
                    "contacted_at": pd.Timestamp(assumed_contact_time(as_of)),
                    "campaign": list_name(as_of),
                    "contact_group": arm[chosen],
                    "list_as_of": as_of.isoformat(),
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            {
                "customer_id": pd.Series(dtype=str),
                "contacted_at": pd.Series(dtype="datetime64[ns]"),
                "campaign": pd.Series(dtype=str),
                "contact_group": pd.Series(dtype=str),
                "list_as_of": pd.Series(dtype=str),
            }
        )
    return pd.concat(frames, ignore_index=True)


def campaigns_by_month(
    outcomes: pd.DataFrame,
    last_date: dt.date,
    response_days: int,
    conversion_days: int,
    list_dates: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Response and conversion rates per campaign and month of contact (see the module
    docstring).

    Parameters
    ----------
    outcomes : DataFrame
        :func:`churn.outcomes.windows.campaign_outcomes`: one row per campaign and customer.
    last_date : datetime.date
        The data's last day: windows ending after it are not complete.
    response_days, conversion_days : int
        The windows ``outcomes`` was read with.
    list_dates : dict, optional
        Campaign name -> the ISO date of the stored list it is (``list_as_of``).

    Returns
    -------
    pandas.DataFrame
        :data:`CAMPAIGN_MONTH_COLUMNS`, one row per campaign and month (``YYYY-MM``) with a
        contacted or control customer, campaigns in the order of their first contact:
        customer counts as ints, rates as shares 0-1 (missing without customers), and
        ``response_complete`` / ``conversion_complete`` whether every window of the month
        (either group) had ended by the end of ``last_date``.
    """
    if outcomes.empty:
        return pd.DataFrame(columns=CAMPAIGN_MONTH_COLUMNS)
    frame = outcomes.copy()
    contacted_at = pd.to_datetime(frame["contacted_at"])
    frame["month"] = contacted_at.dt.strftime("%Y-%m")
    data_end = pd.Timestamp(last_date + dt.timedelta(days=1))
    frame["response_complete"] = contacted_at + pd.Timedelta(days=response_days) <= data_end
    frame["conversion_complete"] = contacted_at + pd.Timedelta(days=conversion_days) <= data_end
    frame["first_contact"] = frame.groupby("campaign")["contacted_at"].transform("min")
    keys = ["first_contact", "campaign", "month"]
    complete = frame.groupby(keys)[["response_complete", "conversion_complete"]].all()

    def arm(group: str) -> pd.DataFrame:
        return (
            frame[frame["contact_group"] == group]
            .groupby(keys)
            .agg(
                customers=("customer_id", "size"),
                responded=("responded", "sum"),
                converted=("converted", "sum"),
            )
        )

    contact = arm("contact").rename(columns={"customers": "contacted"})
    control = arm("control").rename(
        columns={
            "customers": "control",
            "responded": "control_responded",
            "converted": "control_converted",
        }
    )
    table = complete.join(contact).join(control).reset_index().sort_values(keys, kind="stable")
    counts = [
        "contacted",
        "responded",
        "converted",
        "control",
        "control_responded",
        "control_converted",
    ]
    table[counts] = table[counts].fillna(0).astype("int64")
    for prefix, size in (("", "contacted"), ("control_", "control")):
        denominator = table[size].where(table[size] > 0)
        table[f"{prefix}response_rate"] = table[f"{prefix}responded"] / denominator
        table[f"{prefix}conversion_rate"] = table[f"{prefix}converted"] / denominator
    table["list_as_of"] = table["campaign"].map(list_dates or {}).astype(object)
    table[["response_complete", "conversion_complete"]] = table[
        ["response_complete", "conversion_complete"]
    ].astype(bool)
    return table[CAMPAIGN_MONTH_COLUMNS].reset_index(drop=True)
