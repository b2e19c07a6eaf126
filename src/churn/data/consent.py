"""Consent: who must not be contacted. Any doubt about a customer's consent suppresses them.

The customers table (``data.customers``) says who opted out of marketing
(``marketing_opt_out``). Ingest keeps the rows it can read and quarantines the others, so a
quarantined row may hide an objection. A customer is left out of every list when:

- ``opted out``: a readable row of theirs says so, the kept one or a repeat of the same id
  (a conflicting repeat, ``false`` then ``true``, counts: the ``true`` wins);
- ``opt-out unreadable``: a row of theirs was quarantined and its ``marketing_opt_out`` is
  not a boolean (``on``, ``X``, ``opted out``), or a malformed line of the customers file
  names their id in one of its fields;
- ``id matches after trimming or case-folding``: a row above names an id that equals the
  customer's only once spaces are trimmed and case is folded (``ab12`` and ``AB12 ``).
  Ids are otherwise compared exactly, as the shop's systems do.

Rows whose opt-out reads ``false`` (or is blank: no objection recorded) do not suppress.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from churn.data.contract import FALSE_WORDS, TRUE_WORDS

OPTED_OUT = "opted out"
UNREADABLE = "opt-out unreadable"
LOOSE_MATCH = "id matches after trimming or case-folding"
REASONS = (OPTED_OUT, UNREADABLE, LOOSE_MATCH)


def _key(customer_id: object) -> str:
    return str(customer_id).strip().casefold()


def quarantined_objections(
    quarantine: pd.DataFrame,
    id_column: str,
    opt_out_column: str | None,
    delimiter: str = ",",
) -> dict[str, str]:
    """Customer ids whose quarantined rows may carry an objection, with the reason.

    Parameters
    ----------
    quarantine : pandas.DataFrame
        The customers table's quarantine: the source's columns as text, ``reason``, and for
        malformed CSV lines ``raw_line``.
    id_column, opt_out_column : str
        The source's names of ``customer_id`` and ``marketing_opt_out`` (``None`` when the
        source has no opt-out column).
    delimiter : str
        The CSV delimiter, to split malformed lines into fields.

    Returns
    -------
    dict
        Id as written in the source (trimmed) -> ``opted out`` or ``opt-out unreadable``;
        ``opted out`` wins when an id has both.
    """
    found: dict[str, str] = {}

    def note(customer_id: object, reason: str) -> None:
        if customer_id is None or pd.isna(customer_id) or not str(customer_id).strip():
            return
        key = str(customer_id).strip()
        if found.get(key) != OPTED_OUT:
            found[key] = reason

    if quarantine.empty:
        return found
    if id_column in quarantine.columns:
        opt_outs = (
            quarantine[opt_out_column]
            if opt_out_column and opt_out_column in quarantine.columns
            else pd.Series(pd.NA, index=quarantine.index)
        )
        for customer_id, value in zip(quarantine[id_column], opt_outs, strict=True):
            if value is None or pd.isna(value) or not str(value).strip():
                continue
            word = str(value).strip().lower()
            if word in TRUE_WORDS:
                note(customer_id, OPTED_OUT)
            elif word not in FALSE_WORDS:
                note(customer_id, UNREADABLE)
    if "raw_line" in quarantine.columns:
        for line in quarantine["raw_line"].dropna():
            for field in str(line).split(delimiter):
                note(field.strip().strip('"').strip(), UNREADABLE)
    return found


def suppression_reasons(
    customer_ids: pd.Series,
    opted_out: Iterable[str],
    objections: Mapping[str, str],
) -> pd.Series:
    """Why each customer must not be contacted, or ``None`` when they may be.

    Parameters
    ----------
    customer_ids : pandas.Series
        The scored customers' ids.
    opted_out : iterable of str
        Ids whose kept customers row says ``marketing_opt_out`` is true.
    objections : mapping
        Further ids and reasons, from :func:`quarantined_objections`.

    Returns
    -------
    pandas.Series
        Same index as ``customer_ids``: one of :data:`REASONS`, or ``None``.
    """
    exact = {str(c): OPTED_OUT for c in opted_out}
    for customer_id, reason in objections.items():
        if exact.get(customer_id) != OPTED_OUT:
            exact[customer_id] = reason
    loose = {_key(c) for c in exact}
    reasons = []
    for customer_id in customer_ids.astype(str):
        if customer_id in exact:
            reasons.append(exact[customer_id])
        elif _key(customer_id) in loose:
            reasons.append(LOOSE_MATCH)
        else:
            reasons.append(None)
    return pd.Series(reasons, index=customer_ids.index, dtype=object, name="do_not_contact_reason")
