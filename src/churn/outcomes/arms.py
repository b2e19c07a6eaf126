"""Who counts as contacted and who as control when a list's outcome is read.

A list's draw (``group`` in ``scores.parquet``: contact, control, not_selected) says who
was meant to be contacted. The contact log, when there is one, says who was: its rows in
the days after the list's date (``outcomes.contact_window_days``), with their own group
when the campaign tool held some customers out. Without a log, every customer on the list
is taken as contacted on the day after the list's date.

The arms (:data:`ARMS`) of each scored customer:

========================  ================================================================
``contact``               on the list and contacted (or, without a log, on the list)
``control``               held out of the list at random, and not contacted; or on the list
                          but held out by the campaign tool (its log says control)
``not_reached``           on the list, but the log has no contact for them
``control_contacted``     held out as control, yet the log says they were contacted
``contacted_outside``     not chosen for the list, yet the log says they were contacted
``not_selected``          not chosen, not contacted
========================  ================================================================

The campaign's effect compares ``contact`` with ``control``: both are the random split of
the same chosen customers. ``control_contacted`` customers are left out of both (counted),
rather than moved, so that neither arm gains customers the draw did not put there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ARMS = (
    "contact",
    "control",
    "not_reached",
    "control_contacted",
    "contacted_outside",
    "not_selected",
)
# The arms whose customers nobody contacted: realised churn is checked against the
# prediction on them, so that the campaign does not bias the check.
NOT_CONTACTED = ("control", "not_reached", "not_selected")


def assign_arms(group: pd.Series, log_group: pd.Series, log_given: bool) -> pd.Series:
    """The arm of each customer (see the module docstring).

    Parameters
    ----------
    group : Series of str
        The list's draw: ``contact``, ``control`` or ``not_selected``.
    log_group : Series of str or None
        The group of the customer's contact in the log (``contact`` or ``control``), or
        missing when the log has none for them; aligned with ``group``.
    log_given : bool
        Whether there is a contact log at all. Without one, a list's customers are taken
        as contacted.
    """
    logged = log_group.notna().to_numpy()
    by_log = log_group.fillna("").to_numpy()
    g = group.to_numpy()
    if not log_given:
        arm = np.where(np.isin(g, ["contact", "control"]), g, "not_selected")
        return pd.Series(arm, index=group.index, name="arm")
    contacted = logged & (by_log == "contact")
    held = logged & (by_log == "control")
    arm = np.select(
        [
            (g == "contact") & contacted,
            (g == "contact") & held,
            g == "contact",
            (g == "control") & contacted,
            g == "control",
            contacted,
        ],
        ["contact", "control", "not_reached", "control_contacted", "control", "contacted_outside"],
        default="not_selected",
    )
    return pd.Series(arm, index=group.index, name="arm")


def arm_counts(arm: pd.Series) -> dict[str, int]:
    """Customers per arm, every arm named (0 when empty), in :data:`ARMS` order."""
    counts = arm.value_counts()
    return {a: int(counts.get(a, 0)) for a in ARMS}
