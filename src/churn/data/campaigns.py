"""Retention campaigns on past lists, with planted effects and their ground truth.

The demo shop (:mod:`churn.data.synth`) knows nothing of campaigns. This module runs one
on a stored list, after the fact: it changes the orders of the contacted customers the
way a campaign with a known effect would have, and writes what a campaign tool with a
holdout exports (the contact log) together with what no tool can know (each customer's
outcome with and without the contact). The outcomes stage can then be checked against
the truth, and an uplift model against the customers it should have picked.

Potential outcomes
------------------
A list is a scoring run's customers with their ``group`` (``contact``, ``control``,
``not_selected``, as in ``scores.parquet``). Every contact and control customer has two
outcomes, by the churn label of :mod:`churn.modeling.labels` (churned = no order, dated by
its first positive line, in ``[as_of + 1 day, as_of + 1 day + horizon)``):

* ``churned_if_control``: in the transactions as they are (no campaign);
* ``churned_if_contacted``: in the transactions after the contact's effect.

Which of the two the data shows depends on the group: only ``contact`` customers are
changed. A customer's *kind* names their pair, as in the uplift literature:

==============  ==================  ====================  ======================
kind            churned_if_control  churned_if_contacted  contact
==============  ==================  ====================  ======================
persuadable     1                   0                     keeps them
sure_thing      0                   0                     changes nothing
lost_cause      1                   1                     changes nothing
sleeping_dog    0                   1                     puts them off
==============  ==================  ====================  ======================

The planted effect (what a contact does)
----------------------------------------
Each customer draws one number ``u`` in ``[0, 1)`` from a hash of the seed and their id, so
the draw is the same whatever the list, its order or its size, and in every campaign (a
trait of the customer). It is read against the no-campaign outcome, so a kind always
matches its pair of outcomes:

* A customer who would churn is **persuaded** when ``u < p_persuadable``: contacted, they
  order again within the response window, a copy of their last order before ``as_of``
  (same lines and amounts, order id ``K<as_of>-<n>``) placed ``U(1, response_days)`` days
  after the contact. The others are lost causes.
* A customer who would stay is **put off** when ``u < p_sleeping_dog``: contacted, they
  stop buying; every line they have from the contact on is removed. The others are sure
  things (so is anyone who already ordered in the window before the contact went out).

The chances depend on what a model can see at ``as_of`` (the heterogeneity an uplift
model is to learn), ``p`` being the customer's churn probability and ``segment`` their
marketing segment:

* ``p_persuadable = persuadable * persuadable_by_segment[segment] * 4 p (1 - p)``: highest at
  medium risk, and among dormant and regular customers; at the highest probabilities
  most would-be leavers are lost causes.
* ``p_sleeping_dog = sleeping_dog * sleeping_dog_by_segment[segment] * (1 - p)``: highest
  among low-risk VIPs and regulars, who did not ask to be chased.

(Both clipped to ``[0, 1]``; an unknown segment counts 1.) ``p`` and ``segment`` are the
list's ``churn_probability`` and ``segment`` when it has them (``scores.parquet`` does);
otherwise the shop's BG/NBD probability of no order in the horizon and the default
segment rules (new under 90 days of tenure, VIP from the 90th percentile of the list's
``spend_365d``, dormant after 90 days without an order), from the transactions up to
``as_of``. Customers with no order before ``as_of`` are never changed.

The default :class:`CampaignEffects` lowers the churn rate of a list of all the active
customers of a generated shop by about 20 points (see the tests), and that of a list of
the 10 % with most value at risk by about 12: enough to be measured with a few thousand
customers per arm. ``CampaignEffects.none()`` changes nothing.

Contacts go out on the day after ``as_of`` at 09:00 (what the outcomes stage assumes
without a log) unless another time is given. A list whose label window does not end
within the data cannot have its outcome known: :func:`simulate_campaigns` leaves it out
(and says so in :attr:`CampaignRun.pending`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from churn.errors import ChurnError, ConfigError, DataContractError
from churn.features.query import btyd_features
from churn.modeling.labels import last_labelled_cutoff
from churn.scoring.control import draw_keys
from churn.scoring.selection import assign_segments

KINDS = ("persuadable", "sure_thing", "lost_cause", "sleeping_dog")
GROUPS = ("contact", "control", "not_selected")
ARMS = ("contact", "control")
CONTACT_HOUR = 9
HORIZON_DAYS = 90
RESPONSE_DAYS = 14
# The segment rules of conf/score/default.yaml, for lists that carry no segment.
NEW_MAX_TENURE_DAYS = 90
DORMANT_MIN_DAYS = 90
VIP_SPEND_QUANTILE = 0.9
TRANSACTION_COLUMNS = ("customer_id", "order_id", "ts", "amount")
SORT_KEYS = ["ts", "customer_id", "order_id"]


def _frozen(mapping: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class CampaignEffects:
    """How strongly a contact keeps or puts off customers (see the module docstring).

    Attributes
    ----------
    persuadable : float
        Share of would-be leavers kept by a contact, at churn probability 0.5 in a segment
        of multiplier 1.
    sleeping_dog : float
        Share of would-be stayers put off by a contact, at churn probability 0 in a segment
        of multiplier 1.
    persuadable_by_segment, sleeping_dog_by_segment : mapping of str to float
        Multipliers per marketing segment.
    """

    persuadable: float = 0.6
    sleeping_dog: float = 0.1
    persuadable_by_segment: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"new": 0.7, "regular": 1.0, "dormant": 1.4, "vip": 0.5})
    )
    sleeping_dog_by_segment: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"new": 0.5, "regular": 1.5, "dormant": 0.3, "vip": 2.5})
    )

    @classmethod
    def none(cls) -> CampaignEffects:
        """A campaign that changes nothing: no customer is kept or put off."""
        return cls(persuadable=0.0, sleeping_dog=0.0)

    def p_persuadable(self, churn_probability: np.ndarray, segment: np.ndarray) -> np.ndarray:
        """Chance that a would-be leaver is kept by a contact, per customer."""
        p = np.asarray(churn_probability, dtype="float64")
        scale = _multiplier(self.persuadable_by_segment, segment)
        return np.clip(self.persuadable * scale * 4.0 * p * (1.0 - p), 0.0, 1.0)

    def p_sleeping_dog(self, churn_probability: np.ndarray, segment: np.ndarray) -> np.ndarray:
        """Chance that a would-be stayer is put off by a contact, per customer."""
        p = np.asarray(churn_probability, dtype="float64")
        scale = _multiplier(self.sleeping_dog_by_segment, segment)
        return np.clip(self.sleeping_dog * scale * (1.0 - p), 0.0, 1.0)


def _multiplier(by_segment: Mapping[str, float], segment: np.ndarray) -> np.ndarray:
    return pd.Series(segment).map(dict(by_segment)).fillna(1.0).to_numpy(dtype="float64")


@dataclass(frozen=True)
class CampaignRun:
    """What a simulated campaign (or several) leaves behind.

    Attributes
    ----------
    transactions : pandas.DataFrame
        The shop's transactions after the campaigns, columns and sort order of the input.
    contacts : pandas.DataFrame
        The contact log: ``customer_id, contacted_at, campaign, group`` (``contact`` or
        ``control``), one row per contact and control customer.
    truth : pandas.DataFrame
        One row per contact and control customer: ``customer_id, group, kind``, the
        outcomes with and without the contact, the realised ones, and the rules' inputs
        (see :func:`simulate_campaign`).
    pending : tuple of datetime.date
        ``as_of`` of lists left out because their label window ends after the data.
    """

    transactions: pd.DataFrame
    contacts: pd.DataFrame
    truth: pd.DataFrame
    pending: tuple[dt.date, ...] = ()


def campaign_name(as_of: dt.date) -> str:
    """The campaign of a list, as the contact log names it: ``retention-<as_of>``."""
    return f"retention-{as_of.isoformat()}"


def default_contact_time(as_of: dt.date) -> pd.Timestamp:
    """When a list's contacts go out unless told otherwise: the next day at 09:00."""
    return pd.Timestamp(as_of) + pd.Timedelta(days=1, hours=CONTACT_HOUR)


def _uniform(customer_ids: Sequence[object], salt: str) -> np.ndarray:
    """A number in [0, 1) per customer from SHA-256 of ``salt`` and the id: the same on
    every machine, whatever else is in the list."""
    return draw_keys(customer_ids, salt).astype("float64") / 2.0**64


def _order_starts(transactions: pd.DataFrame) -> pd.DataFrame:
    """Orders as the churn label counts them: ``customer_id, order_id, ts`` of each order's
    first positive line."""
    positive = transactions.loc[transactions["amount"] > 0, ["customer_id", "order_id", "ts"]]
    return positive.groupby(["customer_id", "order_id"], as_index=False, sort=False)["ts"].min()


def _ordered_between(
    starts: pd.DataFrame, customer_ids: pd.Index, begin: pd.Timestamp, end: pd.Timestamp
) -> np.ndarray:
    """Whether each customer has an order starting in ``[begin, end)``."""
    inside = starts.loc[(starts["ts"] >= begin) & (starts["ts"] < end), "customer_id"]
    return np.asarray(customer_ids.isin(inside))


def customer_facts(
    transactions: pd.DataFrame,
    customer_ids: Sequence[str],
    as_of: dt.date,
    horizon_days: int = HORIZON_DAYS,
) -> pd.DataFrame:
    """What the planted rules use when a list carries no ``segment`` or ``churn_probability``.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Canonical transactions; only rows up to the end of ``as_of`` are read.
    customer_ids : sequence of str
        The list's customers (the VIP threshold is their ``spend_365d`` quantile).
    as_of : datetime.date
        The list's date.
    horizon_days : int
        Horizon of the churn probability.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` in the given order: ``segment`` (as
        :func:`churn.scoring.selection.assign_segments` with the default rules) and
        ``churn_probability`` (BG/NBD probability of no order within ``horizon_days``,
        fitted on every customer with an order up to ``as_of``); missing for customers
        without one.
    """
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    past = transactions[transactions["ts"] < end]
    starts = _order_starts(past)
    order_day = starts["ts"].dt.floor("D")
    by_customer = order_day.groupby(starts["customer_id"])
    first, last = by_customer.min(), by_customer.max()
    as_of_ts = pd.Timestamp(as_of)
    year_ago = end - pd.Timedelta(days=365)
    spend = past.loc[past["ts"] >= year_ago].groupby("customer_id")["amount"].sum()

    ids = pd.Index([str(c) for c in customer_ids], name="customer_id")
    facts = pd.DataFrame(
        {
            "tenure_days": (as_of_ts - first).dt.days,
            "days_since_last_order": (as_of_ts - last).dt.days,
        }
    ).reindex(ids)
    facts["spend_365d"] = spend.reindex(ids).fillna(0.0)
    known = facts["tenure_days"].notna()
    segments = assign_segments(
        facts[known],
        new_max_tenure_days=NEW_MAX_TENURE_DAYS,
        dormant_min_days=DORMANT_MIN_DAYS,
        vip_min_spend_365d=float(facts.loc[known, "spend_365d"].quantile(VIP_SPEND_QUANTILE)),
    )
    facts["segment"] = segments.reindex(ids).astype(object)

    # The BG/NBD summary of churn.features.query.BTYD_SUMMARY_SQL: days with a positive line.
    positive = past[past["amount"] > 0]
    days = pd.DataFrame(
        {"customer_id": positive["customer_id"], "day": positive["ts"].dt.floor("D")}
    )
    days = days.drop_duplicates()
    grouped = days.groupby("customer_id")["day"]
    summary = pd.DataFrame(
        {
            "x": grouped.size() - 1,
            "t_x": (grouped.max() - grouped.min()).dt.days,
            "age": (as_of_ts - grouped.min()).dt.days,
        }
    ).reset_index()
    summary["as_of"] = as_of_ts
    if len(summary):
        btyd = btyd_features(summary, horizon_days).set_index("customer_id")
        facts["churn_probability"] = btyd["bgnbd_p_no_order"].reindex(ids)
    else:
        facts["churn_probability"] = np.nan
    return facts[["segment", "churn_probability"]]


def _check_inputs(transactions: pd.DataFrame, customers: pd.DataFrame) -> None:
    missing = [c for c in TRANSACTION_COLUMNS if c not in transactions.columns]
    if missing:
        raise DataContractError(f"transactions lack the column(s) {', '.join(missing)}")
    for column in ("customer_id", "group"):
        if column not in customers.columns:
            raise DataContractError(f"the list lacks the column {column!r}")
    bad = sorted(set(customers["group"].astype(str)) - set(GROUPS))
    if bad:
        raise DataContractError(
            f"the list's group must be one of {', '.join(GROUPS)}; found {', '.join(bad)}"
        )
    duplicated = customers["customer_id"].astype(str).duplicated()
    if duplicated.any():
        example = customers.loc[duplicated, "customer_id"].iloc[0]
        raise DataContractError(f"the list names customer {example!r} more than once")


def simulate_campaign(
    transactions: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: dt.date,
    effects: CampaignEffects | None = None,
    seed: int = 0,
    horizon_days: int = HORIZON_DAYS,
    response_days: int = RESPONSE_DAYS,
    contacted_at: pd.Timestamp | None = None,
    last_date: dt.date | None = None,
) -> CampaignRun:
    """Run one retention campaign on a past list.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Canonical transactions (``customer_id, order_id, ts, amount`` and any others, as
        :func:`churn.data.synth.generate_transactions` gives them). Not modified.
    customers : pandas.DataFrame
        The list: ``customer_id``, ``group`` (``contact``/``control``/``not_selected``) and
        optionally ``churn_probability``, ``segment``, ``risk_tier``.
    as_of : datetime.date
        The list's date.
    effects : CampaignEffects, optional
        The planted effect; default ``CampaignEffects()``.
    seed : int
        Seed of the customers' draws (the same seed, the same kinds).
    horizon_days : int
        Label window of the churn outcome, in days.
    response_days : int
        Response window after the contact, in days.
    contacted_at : pandas.Timestamp, optional
        When the contacts go out; default the day after ``as_of`` at 09:00.
    last_date : datetime.date, optional
        Last date the data covers; default the date of the last ``ts``.

    Returns
    -------
    CampaignRun
        ``transactions`` with the contacted customers' orders changed, the contact log, and
        ``truth`` with one row per contact and control customer: ``customer_id, group,
        kind, churned_if_control, churned_if_contacted, churned, responded_if_control,
        responded_if_contacted, responded`` (0/1 int8; responded = an order starting in
        ``[contacted_at, contacted_at + response_days)``), ``segment``,
        ``churn_probability``, ``p_persuadable``, ``p_sleeping_dog`` (the rules' inputs and
        chances) and ``risk_tier`` when the list has it.

    Raises
    ------
    ConfigError
        If the list's label window ends after the data, or the response window (of at
        least 2 days) does not fit inside the label window.
    DataContractError
        If a required column is missing, a group is unknown or a customer is listed twice.
    """
    effects = effects if effects is not None else CampaignEffects()
    _check_inputs(transactions, customers)
    contact_ts = default_contact_time(as_of) if contacted_at is None else pd.Timestamp(contacted_at)
    if response_days < 2:
        # A kept customer orders 1 to response_days days after the contact.
        raise ConfigError(f"response_days must be at least 2, got {response_days}")
    window_start = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    window_end = window_start + pd.Timedelta(days=int(horizon_days))
    response_end = contact_ts + pd.Timedelta(days=int(response_days))
    if not window_start <= contact_ts < response_end <= window_end:
        raise ConfigError(
            f"the response window ({contact_ts} + {response_days} days) must lie inside the "
            f"label window [{window_start:%Y-%m-%d}, {window_end:%Y-%m-%d})"
        )
    last_date = last_date if last_date is not None else transactions["ts"].max().date()
    if as_of > last_labelled_cutoff(last_date, horizon_days):
        raise ConfigError(
            f"the list of {as_of} cannot be simulated: its {horizon_days}-day window ends after "
            f"the data's last date {last_date}"
        )

    arms = customers[customers["group"].isin(ARMS)].copy()
    arms["customer_id"] = arms["customer_id"].astype(str)
    arms = arms.sort_values("customer_id", kind="stable").reset_index(drop=True)
    ids = pd.Index(arms["customer_id"], name="customer_id")
    contacted = (arms["group"] == "contact").to_numpy()

    facts = pd.DataFrame(index=ids)
    given = [c for c in ("segment", "churn_probability") if c in arms.columns]
    for column in given:
        facts[column] = arms[column].to_numpy()
    if len(given) < 2 or facts[given].isna().any().any():
        fallback = customer_facts(transactions, customers["customer_id"], as_of, horizon_days)
        for column in ("segment", "churn_probability"):
            own = facts[column] if column in facts else pd.Series(np.nan, index=ids, dtype=object)
            facts[column] = own.where(own.notna(), fallback[column].reindex(ids))
    facts["churn_probability"] = facts["churn_probability"].astype("float64")

    # The outcomes without the campaign.
    starts = _order_starts(transactions)
    arm_starts = starts[starts["customer_id"].isin(ids)]
    churned_if_control = ~_ordered_between(arm_starts, ids, window_start, window_end)
    responded_if_control = _ordered_between(arm_starts, ids, contact_ts, response_end)

    # Who a contact would keep or put off.
    draw = _uniform(ids, f"campaign-kind\x1f{seed}")
    segment = facts["segment"].to_numpy()
    p = facts["churn_probability"].to_numpy()
    p_persuadable = effects.p_persuadable(p, segment)
    p_sleeping_dog = effects.p_sleeping_dog(p, segment)
    before = arm_starts[arm_starts["ts"] < window_start]
    last_order = before.sort_values(["ts", "order_id"]).groupby("customer_id")["order_id"].last()
    has_order = ids.isin(last_order.index)
    kept = churned_if_control & has_order & (draw < p_persuadable)
    # A customer whose window already holds an order placed before the contact stays
    # whatever the contact does: a sure thing.
    ordered_before_contact = _ordered_between(arm_starts, ids, window_start, contact_ts)
    put_off = ~churned_if_control & ~ordered_before_contact & has_order & (draw < p_sleeping_dog)
    offset = _uniform(ids, f"campaign-order\x1f{seed}\x1f{as_of.isoformat()}")
    seconds = np.floor((1.0 + offset * (response_days - 1)) * 86400).astype("int64")
    new_order_ts = contact_ts + pd.to_timedelta(seconds, unit="s")

    # The outcomes if contacted: the same orders, changed for the kept and the put off.
    if_contacted = pd.concat(
        [
            arm_starts[
                ~(arm_starts["customer_id"].isin(ids[put_off]) & (arm_starts["ts"] >= contact_ts))
            ],
            pd.DataFrame({"customer_id": ids[kept], "order_id": "new", "ts": new_order_ts[kept]}),
        ],
        ignore_index=True,
    )
    churned_if_contacted = ~_ordered_between(if_contacted, ids, window_start, window_end)
    responded_if_contacted = _ordered_between(if_contacted, ids, contact_ts, response_end)

    changed = _apply(
        transactions,
        as_of,
        contact_ts,
        keep=last_order.reindex(ids[kept & contacted]),
        keep_ts=new_order_ts[kept & contacted],
        put_off=ids[put_off & contacted],
    )
    truth = _truth(
        arms,
        facts,
        churned_if_control,
        churned_if_contacted,
        responded_if_control,
        responded_if_contacted,
        contacted,
        p_persuadable,
        p_sleeping_dog,
    )
    contacts = pd.DataFrame(
        {
            "customer_id": ids.to_numpy(dtype=object),
            "contacted_at": pd.Series(contact_ts, index=range(len(ids))).astype("datetime64[us]"),
            "campaign": campaign_name(as_of),
            "group": arms["group"].to_numpy(dtype=object),
        }
    )
    return CampaignRun(transactions=changed, contacts=contacts, truth=truth)


def _apply(
    transactions: pd.DataFrame,
    as_of: dt.date,
    contact_ts: pd.Timestamp,
    keep: pd.Series,
    keep_ts: pd.DatetimeIndex,
    put_off: pd.Index,
) -> pd.DataFrame:
    """The transactions after the campaign: a copy of their last order for the kept
    customers (``keep``: customer id to that order's id), nothing from the contact on for
    the put-off ones."""
    window_start = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    removed = transactions["customer_id"].isin(put_off) & (transactions["ts"] >= contact_ts)
    key = pd.MultiIndex.from_arrays([keep.index, keep.to_numpy()])
    lines = transactions[
        pd.MultiIndex.from_frame(transactions[["customer_id", "order_id"]]).isin(key)
        & (transactions["ts"] < window_start)
    ].copy()
    numbers = pd.Series(np.arange(1, len(keep) + 1), index=keep.index)
    when = pd.Series(keep_ts, index=keep.index)
    lines["order_id"] = [f"K{as_of.isoformat()}-{n}" for n in numbers[lines["customer_id"]]]
    lines["ts"] = when[lines["customer_id"]].to_numpy().astype(transactions["ts"].dtype)
    out = pd.concat([transactions[~removed], lines], ignore_index=True)
    for column in lines.columns:
        out[column] = out[column].astype(transactions[column].dtype)
    return out.sort_values(SORT_KEYS, kind="stable").reset_index(drop=True)


def _truth(
    arms: pd.DataFrame,
    facts: pd.DataFrame,
    churned_if_control: np.ndarray,
    churned_if_contacted: np.ndarray,
    responded_if_control: np.ndarray,
    responded_if_contacted: np.ndarray,
    contacted: np.ndarray,
    p_persuadable: np.ndarray,
    p_sleeping_dog: np.ndarray,
) -> pd.DataFrame:
    kind = np.select(
        [
            churned_if_control & ~churned_if_contacted,
            ~churned_if_control & ~churned_if_contacted,
            churned_if_control & churned_if_contacted,
        ],
        ["persuadable", "sure_thing", "lost_cause"],
        default="sleeping_dog",
    )
    truth = pd.DataFrame(
        {
            "customer_id": arms["customer_id"].to_numpy(dtype=object),
            "group": arms["group"].to_numpy(dtype=object),
            "kind": kind.astype(object),
            "churned_if_control": churned_if_control.astype("int8"),
            "churned_if_contacted": churned_if_contacted.astype("int8"),
            "churned": np.where(contacted, churned_if_contacted, churned_if_control).astype("int8"),
            "responded_if_control": responded_if_control.astype("int8"),
            "responded_if_contacted": responded_if_contacted.astype("int8"),
            "responded": np.where(contacted, responded_if_contacted, responded_if_control).astype(
                "int8"
            ),
            "segment": facts["segment"].to_numpy(dtype=object),
            "churn_probability": facts["churn_probability"].to_numpy(dtype="float64"),
            "p_persuadable": p_persuadable,
            "p_sleeping_dog": p_sleeping_dog,
        }
    )
    if "risk_tier" in arms.columns:
        truth["risk_tier"] = arms["risk_tier"].to_numpy(dtype=object)
    return truth


def simulate_campaigns(
    transactions: pd.DataFrame,
    lists: Sequence[tuple[dt.date, pd.DataFrame]],
    effects: CampaignEffects | None = None,
    seed: int = 0,
    horizon_days: int = HORIZON_DAYS,
    response_days: int = RESPONSE_DAYS,
) -> CampaignRun:
    """Run the campaigns of several lists, in date order, each on the previous one's result.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Canonical transactions before any campaign. Not modified.
    lists : sequence of (datetime.date, pandas.DataFrame)
        Each list's ``as_of`` and customers (as in :func:`simulate_campaign`).
    effects, seed, horizon_days, response_days
        As in :func:`simulate_campaign`, the same for every list.

    Returns
    -------
    CampaignRun
        The transactions after every campaign; ``contacts`` and ``truth`` of all of them,
        with an ``as_of`` column first in ``truth``; ``pending``, the lists left out because
        their label window ends after the data.

    Notes
    -----
    A later campaign can change orders inside an earlier list's label window (a customer
    put off in March stops buying inside February's window too). ``churned`` and
    ``responded`` are what the final transactions show, so they always agree with what the
    outcomes stage reads; the ``*_if_control`` and ``*_if_contacted`` columns (and ``kind``)
    are each campaign's own effect, on the shop as the earlier campaigns left it.
    """
    dates = [as_of for as_of, _ in lists]
    if len(set(dates)) < len(dates):
        raise ConfigError("two lists share an as_of date: one campaign per list date")
    last_date = transactions["ts"].max().date()
    latest = last_labelled_cutoff(last_date, horizon_days)
    current = transactions
    contacts, truths, pending = [], [], []
    for as_of, customers in sorted(lists, key=lambda item: item[0]):
        if as_of > latest:
            pending.append(as_of)
            continue
        run = simulate_campaign(
            current,
            customers,
            as_of,
            effects=effects,
            seed=seed,
            horizon_days=horizon_days,
            response_days=response_days,
            last_date=last_date,
        )
        current = run.transactions
        contacts.append(run.contacts)
        truths.append(run.truth.assign(as_of=as_of))

    if not truths:
        return CampaignRun(current, _empty_contacts(), pd.DataFrame(), tuple(pending))
    starts = _order_starts(current)
    for (as_of, _), truth, log in zip(
        sorted((item for item in lists if item[0] <= latest), key=lambda item: item[0]),
        truths,
        contacts,
        strict=True,
    ):
        ids = pd.Index(truth["customer_id"])
        window_start = pd.Timestamp(as_of) + pd.Timedelta(days=1)
        window_end = window_start + pd.Timedelta(days=int(horizon_days))
        contact_ts = log["contacted_at"].iloc[0]
        response_end = contact_ts + pd.Timedelta(days=int(response_days))
        truth["churned"] = (~_ordered_between(starts, ids, window_start, window_end)).astype("int8")
        truth["responded"] = _ordered_between(starts, ids, contact_ts, response_end).astype("int8")
    truth = pd.concat(truths, ignore_index=True)
    truth = truth[["as_of", *[c for c in truth.columns if c != "as_of"]]]
    return CampaignRun(current, pd.concat(contacts, ignore_index=True), truth, tuple(pending))


def _empty_contacts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(dtype=object),
            "contacted_at": pd.Series(dtype="datetime64[us]"),
            "campaign": pd.Series(dtype=object),
            "group": pd.Series(dtype=object),
        }
    )


def true_effect(truth: pd.DataFrame, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """The planted effect of contacting, over a truth table's contact and control customers.

    Parameters
    ----------
    truth : pandas.DataFrame
        A :attr:`CampaignRun.truth`.
    by : str or sequence of str, optional
        Columns to break it down by (``kind``, ``segment``, ``risk_tier``, ``as_of``).

    Returns
    -------
    pandas.DataFrame
        One row per group (one row without ``by``): ``customers``, ``churn_if_control``,
        ``churn_if_contacted``, ``churn_effect`` (their difference: negative when contacting
        keeps customers), and the same three for the response rate.
    """
    keys = [by] if isinstance(by, str) else list(by or [])
    frame = truth.assign(_all=0) if not keys else truth
    grouped = frame.groupby(keys or ["_all"], sort=True, observed=True)
    out = grouped.agg(
        customers=("customer_id", "size"),
        churn_if_control=("churned_if_control", "mean"),
        churn_if_contacted=("churned_if_contacted", "mean"),
        response_if_control=("responded_if_control", "mean"),
        response_if_contacted=("responded_if_contacted", "mean"),
    )
    out["churn_effect"] = out["churn_if_contacted"] - out["churn_if_control"]
    out["response_effect"] = out["response_if_contacted"] - out["response_if_control"]
    columns = [
        "customers",
        "churn_if_control",
        "churn_if_contacted",
        "churn_effect",
        "response_if_control",
        "response_if_contacted",
        "response_effect",
    ]
    out = out[columns]
    return out.reset_index() if keys else out.reset_index(drop=True)


def read_lists(scores: Path) -> tuple[list[tuple[dt.date, pd.DataFrame]], int]:
    """The lists of stored scoring runs and their common horizon.

    Parameters
    ----------
    scores : pathlib.Path
        A scoring run's folder (``scores.parquet`` and ``manifest.json``) or a folder of
        them (``outputs/scores/en``).

    Returns
    -------
    (list of (datetime.date, pandas.DataFrame), int)
        Each run's ``as_of`` (from its manifest) and customers (``customer_id, group`` and
        the ``churn_probability, segment, risk_tier`` the run has), and ``horizon_days``.
    """
    if (scores / "scores.parquet").is_file():
        runs = [scores]
    elif scores.is_dir():
        runs = sorted(p for p in scores.iterdir() if (p / "scores.parquet").is_file())
    else:
        runs = []
    if not runs:
        raise ConfigError(
            f"{scores}: no scores.parquet there or in its subfolders; pass a scoring run's "
            "folder (outputs/scores/en/<as_of>) or the folder of runs (outputs/scores/en)"
        )
    lists, horizons = [], set()
    for run in runs:
        try:
            manifest = json.loads((run / "manifest.json").read_text())
            as_of = dt.date.fromisoformat(str(manifest["as_of"]))
            horizons.add(int(manifest["horizon_days"]))
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(
                f"{run / 'manifest.json'}: cannot read the run's as_of and horizon_days ({exc})"
            ) from exc
        scored = pd.read_parquet(run / "scores.parquet")
        if "group" not in scored.columns:
            if "listed" not in scored.columns:
                raise DataContractError(f"{run / 'scores.parquet'} has neither group nor listed")
            # A run from before control groups: its list was contacted, nobody held out.
            print(
                f"note: {run / 'scores.parquet'} has no group column: listed customers are "
                "taken as contacted, with no control group",
                file=sys.stderr,
            )
            scored["group"] = np.where(scored["listed"].astype(bool), "contact", "not_selected")
        kept = ["customer_id", "group", "churn_probability", "segment", "risk_tier"]
        lists.append((as_of, scored[[c for c in kept if c in scored.columns]]))
    if len(horizons) > 1:
        raise ConfigError(
            f"{scores}: the runs have different horizons ({sorted(horizons)} days); "
            "simulate each horizon's runs apart"
        )
    return lists, horizons.pop()


def _write(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".csv":
        frame.to_csv(tmp, index=False)
    else:
        frame.to_parquet(tmp, index=False)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    """Command line: run campaigns with planted effects on the stored lists."""
    parser = argparse.ArgumentParser(
        prog="churn demo-campaign",
        description=(
            "Run retention campaigns with planted effects on stored scoring runs of the demo "
            "shop: the contacted customers' orders change (persuadable ones order again, "
            "put-off ones stop), control customers do not. Writes the changed transactions, "
            "the campaign tool's contact log (contact and control rows) and the ground truth "
            "(each customer's kind and churn with and without the contact), to check the "
            "outcomes stage against. Lists whose horizon has not passed are left out."
        ),
    )
    parser.add_argument(
        "--scores",
        type=Path,
        default=Path("outputs/scores/en"),
        help="a scoring run's folder (scores.parquet, manifest.json) or a folder of them "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--transactions",
        type=Path,
        default=Path("data/demo/transactions.parquet"),
        help="the shop the runs scored, canonical Parquet (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("data/demo/campaign"),
        help="writes transactions.parquet, contacts.csv, truth.parquet (default: %(default)s)",
    )
    parser.add_argument(
        "--effect",
        choices=("default", "none"),
        default="default",
        help="default: persuadable and put-off customers as planted; none: a campaign that "
        "changes nothing (default: %(default)s)",
    )
    parser.add_argument(
        "--persuadable",
        type=float,
        default=None,
        help="share of would-be leavers kept by a contact, at medium risk "
        f"(default {CampaignEffects.persuadable})",
    )
    parser.add_argument(
        "--sleeping-dog",
        type=float,
        default=None,
        help="share of would-be stayers put off by a contact, at low risk "
        f"(default {CampaignEffects.sleeping_dog})",
    )
    parser.add_argument("--response-days", type=int, default=RESPONSE_DAYS)
    parser.add_argument("--seed", type=int, default=0, help="seed of the customers' kinds")
    args = parser.parse_args(argv)

    effects = CampaignEffects.none() if args.effect == "none" else CampaignEffects()
    if args.persuadable is not None:
        effects = replace(effects, persuadable=args.persuadable)
    if args.sleeping_dog is not None:
        effects = replace(effects, sleeping_dog=args.sleeping_dog)
    try:
        lists, horizon = read_lists(args.scores)
        if not args.transactions.is_file():
            raise ConfigError(f"{args.transactions}: no such file (make demo-data writes it)")
        transactions = pd.read_parquet(args.transactions)
        run = simulate_campaigns(
            transactions,
            lists,
            effects=effects,
            seed=args.seed,
            horizon_days=horizon,
            response_days=args.response_days,
        )
        if run.truth.empty:
            raise ConfigError(
                f"{args.scores}: no list can be simulated, the {horizon}-day window of every "
                f"run ({', '.join(str(d) for d in run.pending)}) ends after the data"
            )
    except ChurnError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(exc.exit_code)

    args.out.mkdir(parents=True, exist_ok=True)
    _write(run.transactions, args.out / "transactions.parquet")
    _write(run.contacts, args.out / "contacts.csv")
    _write(run.truth, args.out / "truth.parquet")
    effect = true_effect(run.truth).iloc[0]
    groups = run.truth["group"].value_counts()
    dates = sorted(run.truth["as_of"].unique())
    pending = f"; pending, left out: {', '.join(map(str, run.pending))}" if run.pending else ""
    print(
        f"wrote {args.out}: {len(dates)} campaign(s) {dates[0]} to {dates[-1]}, "
        f"{groups.get('contact', 0):,} contacted, {groups.get('control', 0):,} held out; "
        f"planted effect on churn {100 * effect['churn_effect']:+.1f} points "
        f"({100 * effect['churn_if_contacted']:.1f}% if contacted vs "
        f"{100 * effect['churn_if_control']:.1f}% if not){pending}"
    )
