"""The Hillstrom e-mail experiment (MineThatData, 2008) as a features table: a real
randomised campaign to train and measure uplift models on.

64,000 customers who had bought in the past year were split at random into three equal
groups: a men's e-mail, a women's e-mail, no e-mail; visits, conversions and spend were
recorded over the two weeks after. The export has one row per customer with the history
already aggregated, so it enters as a features table, not through the purchase-log
pipeline. The repository ships it as ``data/shops/hillstrom/hillstrom.csv.zip`` with its
README (source, attribution, checksum).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from churn.errors import DataContractError

NUMERIC = ("recency", "history", "mens", "womens", "newbie")
# The export's values and the names of their one-hot columns; the file spells suburban
# "Surburban".
ZIP_CODES = {"Urban": "zip_code_urban", "Surburban": "zip_code_suburban", "Rural": "zip_code_rural"}
CHANNELS = {"Phone": "channel_phone", "Web": "channel_web", "Multichannel": "channel_multichannel"}
FEATURES = (*NUMERIC, *ZIP_CODES.values(), *CHANNELS.values())
EMAILS = {"Mens E-Mail": "mens", "Womens E-Mail": "womens", "No E-Mail": "none"}
COLUMNS = (*NUMERIC, "zip_code", "channel", "segment", "visit", "conversion", "spend")


def features_from_export(raw: pd.DataFrame) -> pd.DataFrame:
    """One row per customer of the Hillstrom export, in the export's order.

    Parameters
    ----------
    raw : pandas.DataFrame
        The export's columns as in ``hillstrom.csv`` (``history_segment``, a bucket of
        ``history``, is not used).

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (the row's position in the export, 0-based, as a string);
        the features :data:`FEATURES` as floats: ``recency`` (months since the last
        purchase), ``history`` (dollars spent in the past year), ``mens``, ``womens``,
        ``newbie`` (0/1), and one-hot ``zip_code_*`` and ``channel_*``;
        ``treatment`` (1 = an e-mail, men's or women's; 0 = none), ``email`` (``mens``,
        ``womens`` or ``none``), ``outcome`` (1 = visited the site in the two weeks
        after), ``conversion`` (1 = bought), ``spend`` (dollars).

    Raises
    ------
    DataContractError
        When a column is missing, or a zip code, channel or segment is not one of the
        export's.
    """
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise DataContractError(f"Hillstrom export lacks columns {missing}")
    for column, known in (("zip_code", ZIP_CODES), ("channel", CHANNELS), ("segment", EMAILS)):
        unknown = sorted(set(raw[column].astype(str)) - set(known))
        if unknown:
            raise DataContractError(
                f"Hillstrom export: {column} holds {unknown[:5]}, expected one of {sorted(known)}"
            )
    out = pd.DataFrame({"customer_id": np.arange(len(raw)).astype(str)}, index=raw.index)
    for column in NUMERIC:
        out[column] = raw[column].astype("float64")
    for column, names in (("zip_code", ZIP_CODES), ("channel", CHANNELS)):
        for value, name in names.items():
            out[name] = (raw[column] == value).astype("float64")
    out["email"] = raw["segment"].map(EMAILS)
    out["treatment"] = (out["email"] != "none").astype("int64")
    out["outcome"] = raw["visit"].astype("int64")
    out["conversion"] = raw["conversion"].astype("int64")
    out["spend"] = raw["spend"].astype("float64")
    columns = ["customer_id", *FEATURES, "treatment", "email", "outcome", "conversion", "spend"]
    return out[columns].reset_index(drop=True)


def features_table(path: str | Path) -> pd.DataFrame:
    """Read the Hillstrom export (``hillstrom.csv`` or its zip) into the table of
    :func:`features_from_export`."""
    return features_from_export(pd.read_csv(path))
