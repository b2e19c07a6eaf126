"""The control group: a stratified, repeatable random hold-out of the customers selected."""

from __future__ import annotations

import pandas as pd
import pytest

from churn.scoring.control import (
    ControlPolicy,
    control_size,
    draw_keys,
    groups,
    held_out,
    strata_counts,
)


def selected(n_per_stratum: dict[tuple[str, str], int]) -> pd.DataFrame:
    rows = [
        {"customer_id": f"{segment}-{tier}-{i}", "segment": segment, "risk_tier": tier}
        for (segment, tier), n in n_per_stratum.items()
        for i in range(n)
    ]
    return pd.DataFrame(rows)


def test_the_control_size_is_the_nearest_whole_number_halves_up():
    assert [control_size(n, 0.1) for n in (0, 4, 5, 14, 15, 100)] == [0, 0, 1, 1, 2, 10]


def test_no_fraction_holds_out_no_one():
    assert not held_out(selected({("new", "high"): 30}), 0.0, "s").any()


def test_each_stratum_holds_out_its_own_share():
    frame = selected({("new", "high"): 30, ("vip", "high"): 10, ("vip", "low"): 4})
    control = held_out(frame, 0.1, "s")
    per_stratum = control.groupby([frame["segment"], frame["risk_tier"]]).sum()
    assert per_stratum.to_dict() == {("new", "high"): 3, ("vip", "high"): 1, ("vip", "low"): 0}


def test_the_draw_is_the_same_on_every_run_and_in_any_row_order():
    frame = selected({("regular", "medium"): 50})
    first = held_out(frame, 0.2, "s")
    shuffled = frame.sample(frac=1.0, random_state=1)
    again = held_out(shuffled, 0.2, "s")
    assert set(frame.loc[first, "customer_id"]) == set(shuffled.loc[again, "customer_id"])


def test_a_customer_keeps_their_place_when_the_rest_of_the_list_changes():
    tonight = selected({("regular", "medium"): 50})
    tomorrow = pd.concat([tonight, selected({("regular", "high"): 20})], ignore_index=True)
    held_tonight = set(tonight.loc[held_out(tonight, 0.2, "s"), "customer_id"])
    held_tomorrow = set(tomorrow.loc[held_out(tomorrow, 0.2, "s"), "customer_id"])
    assert held_tonight <= held_tomorrow


def test_another_salt_draws_another_group():
    frame = selected({("regular", "medium"): 200})
    a = set(frame.loc[held_out(frame, 0.1, "a"), "customer_id"])
    b = set(frame.loc[held_out(frame, 0.1, "b"), "customer_id"])
    assert len(a) == len(b) == 20 and a != b


def test_keys_are_sha256_of_salt_and_id():
    # sha256(b"s\x1fC1")[:8], worked out once with hashlib: fixed across machines.
    import hashlib

    expected = int.from_bytes(hashlib.sha256(b"s\x1fC1").digest()[:8], "big")
    assert int(draw_keys(["C1"], "s")[0]) == expected


@pytest.mark.parametrize("n", [7, 23, 61])
def test_the_policy_holds_out_within_half_a_customer_of_the_fraction(n):
    frame = selected({("dormant", "high"): n})
    held = int(ControlPolicy(fraction=0.15, salt="x").held_out(frame).sum())
    assert abs(held - 0.15 * n) <= 0.5


def test_groups_name_contact_control_and_the_rest():
    scored = pd.Series(["a", "b", "c", "d"])
    out = groups(scored, pd.Index(["a", "b", "c"]), pd.Index(["b"]))
    assert out.tolist() == ["contact", "control", "contact", "not_selected"]


def test_strata_counts_count_the_selected_and_held_out_per_stratum():
    frame = pd.DataFrame(
        {
            "segment": ["new", "new", "new", "vip"],
            "risk_tier": ["high", "high", "high", "low"],
            "group": ["contact", "control", "not_selected", "contact"],
        }
    )
    assert strata_counts(frame) == [
        {"segment": "new", "risk_tier": "high", "selected": 2, "control": 1},
        {"segment": "vip", "risk_tier": "low", "selected": 1, "control": 0},
    ]
