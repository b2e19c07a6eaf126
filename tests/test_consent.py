"""Consent fails closed: any doubt about a customer's opt-out keeps them off the lists."""

from __future__ import annotations

import pandas as pd

from churn.data.consent import (
    LOOSE_MATCH,
    OPTED_OUT,
    UNREADABLE,
    quarantined_objections,
    suppression_reasons,
)


def quarantine(rows: list[tuple[str | None, str | None, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "optout", "reason"], dtype="string")


def test_an_unreadable_opt_out_value_is_an_objection():
    found = quarantined_objections(
        quarantine(
            [
                ("A", "on", "marketing_opt_out not a boolean"),
                ("B", "X", "marketing_opt_out not a boolean"),
                ("C", "opted out", "marketing_opt_out not a boolean"),
            ]
        ),
        "id",
        "optout",
    )
    assert found == {"A": UNREADABLE, "B": UNREADABLE, "C": UNREADABLE}


def test_a_repeated_id_that_says_true_is_an_opt_out():
    found = quarantined_objections(
        quarantine([("A", "true", "customer_id duplicated")]), "id", "optout"
    )
    assert found == {"A": OPTED_OUT}


def test_a_repeat_that_agrees_false_or_blank_is_no_objection():
    found = quarantined_objections(
        quarantine(
            [("A", "false", "customer_id duplicated"), ("B", None, "signup_ts unparseable")]
        ),
        "id",
        "optout",
    )
    assert found == {}


def test_opted_out_wins_over_unreadable_for_the_same_id():
    found = quarantined_objections(
        quarantine([("A", "maybe", "r"), ("A", "yes", "r"), ("A", "??", "r")]), "id", "optout"
    )
    assert found == {"A": OPTED_OUT}


def test_every_field_of_a_malformed_line_counts_as_a_possible_id():
    rows = pd.DataFrame(
        {
            "raw_line": ['"A1",true,"oops', "B2;x"],
            "reason": ["csv line malformed: unquoted value", "csv line malformed"],
        },
        dtype="string",
    )
    found = quarantined_objections(rows, "id", "optout", delimiter=",")
    assert found == {"A1": UNREADABLE, "true": UNREADABLE, "oops": UNREADABLE, "B2;x": UNREADABLE}


def test_reasons_per_customer_exact_ids_first():
    ids = pd.Series(["A", "B", "C", "D"], index=[10, 11, 12, 13])
    reasons = suppression_reasons(ids, opted_out=["A"], objections={"B": UNREADABLE})
    assert reasons.to_dict() == {10: OPTED_OUT, 11: UNREADABLE, 12: None, 13: None}


def test_an_id_matching_only_after_trimming_or_case_folding_is_suppressed():
    ids = pd.Series(["ab12", "AB12", "Cd"])
    reasons = suppression_reasons(ids, opted_out=["AB12"], objections={" cd ": UNREADABLE})
    assert reasons.tolist() == [LOOSE_MATCH, OPTED_OUT, LOOSE_MATCH]


def test_an_opt_out_in_the_kept_table_beats_an_unreadable_repeat():
    reasons = suppression_reasons(pd.Series(["A"]), opted_out=["A"], objections={"A": UNREADABLE})
    assert reasons.tolist() == [OPTED_OUT]
